"""The reference solver (docs/model.md §8): a learner's best payoff against fixed opponents.

The learner's tables (intended tables, errors applied through
``recigrad.game.observable`` like everyone else's) vary; every other agent's
tables stay fixed.  The solver

1. enumerates every deterministic learner policy: ``order = 3`` leaves all 12
   entries free (16 action x 256 signal tables = 4096), ``order = 2`` only the
   entries that ignore the learner's own reputation (action) and the donor's
   reputation (signal): 4 x 16 = 64;
2. refines by multi-start gradient ascent (Adam on the entries' logits) over
   stochastic tables, started from the best deterministic tables and from
   seeded random tables, and keeps the best tables found (never below the best
   deterministic ones);
3. flags each entry as *strict* when flipping it alone (``p -> 1 - p``) costs
   more than ``STRICT`` per round.

Payoffs come from the exact chain or the mean-field model (``model = "auto"``:
exact when ``N <= 12``, ``recigrad.evaluation.models.resolve_model``), through
the batched candidate evaluator ``recigrad.evaluation.candidates`` (the exact
chain lumped over equal opponents, ``recigrad.evaluation.lumped``); the
learner's tables are vectors of free entries (``recigrad.evaluation.parameters``).
``best_response_gap`` gives the society metric NashConv (docs/model.md §8), with every
learner's best response solved in one batch (``best_responses``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.evaluation import screening
from recigrad.evaluation.candidates import Evaluator, evaluate_candidates, evaluators, payoff_of
from recigrad.evaluation.models import resolve_model
from recigrad.evaluation.parameters import OneHead, adam_ascent, deterministic, expand, free_entries
from recigrad.game import DTYPE, ConfigError, Game
from recigrad.game.contexts import CONTEXTS, split_tables
from recigrad.util.threads import one_thread

STRICT = 1e-3  # a flip costing more than this per round makes an entry strict
ROUND = 1e-6  # reported entries this close to 0 or 1 are rounded
TIE = 1e-12  # payoffs this close count as equal (the first deterministic table wins; snapping)
IMPROVE = 1e-9  # a stochastic table is reported only when it beats the deterministic best by more
PATIENCE, STALL = 20, 1e-10  # the ascent stops when no start gained more than STALL in PATIENCE steps
BETAS, DECAY = (0.5, 0.5), 0.01  # Adam's moment decays; final / initial learning rate


@dataclass
class Reference:
    """Best response of one learner, per population (leading dimension ``B``)."""

    payoff: torch.Tensor  # (B,) best per-round payoff of the learner
    act: torch.Tensor  # (B, 2, 2) arg-max tables (probabilities; deterministic when the optimum is)
    sig: torch.Tensor  # (B, 2, 2, 2)
    strict_act: torch.Tensor  # (B, 2, 2) bool: flipping that entry alone costs more than STRICT per round
    strict_sig: torch.Tensor  # (B, 2, 2, 2) bool
    model: str  # "exact" or "meanfield"

    def row(self, i: int = 0) -> dict:
        """Population ``i`` as plain JSON-ready values (the fields of ``recigrad reference --json``)."""
        return {
            "payoff": float(self.payoff[i]),
            "act": self.act[i].tolist(),
            "sig": self.sig[i].tolist(),
            "strict_act": self.strict_act[i].tolist(),
            "strict_sig": self.strict_sig[i].tolist(),
            "model": self.model,
        }


# ---------------------------------------------------------------------------
# the solver, for one class of populations


def _ascend(evaluator, act, sig, learner, logits, game, order, steps, lr) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam ascent on the learner's payoff from start logits ``(B, K, P)``; returns the
    best entries seen per start ``(B, K, P)`` and their payoffs ``(B, K)``.

    Adam is written out: short moment memories (``BETAS``) and no epsilon keep each
    step near the rate in logit space while gradients shrink as entries saturate
    (and rare contexts have tiny gradients); the rate decays geometrically from
    ``lr`` to ``lr * DECAY`` to settle on interior optima.
    """
    batch, k, p = logits.shape
    population = torch.arange(batch).repeat_interleave(k)
    flat = logits.reshape(batch * k, p)
    size = evaluator.chunk(act.shape[1], game)
    size = size // k * k if size >= k else size  # whole populations per chunk where they fit: each stops on its own
    best_entries, best_payoffs = [], []
    for i in range(0, batch * k, size):
        theta = flat[i : i + size].clone()
        rows = population[i : i + size]
        evaluate = evaluator.prepared(act[rows], sig[rows], learner, game)
        every = torch.arange(len(rows))
        first, second = torch.zeros_like(theta), torch.zeros_like(theta)
        best = torch.full((theta.shape[0],), -torch.inf, dtype=DTYPE)
        keep = torch.sigmoid(theta)
        history = []
        # each population stops on its own (when none of its starts gained STALL in PATIENCE steps),
        # so its answer does not depend on the other populations of the batch
        active = torch.ones(theta.shape[0], dtype=torch.bool)
        for step in range(steps + 1):
            theta.requires_grad_(True)
            entries = torch.sigmoid(theta)
            payoff = evaluate(every, *expand(entries, order))
            (grad,) = torch.autograd.grad(payoff.sum(), theta)
            theta, entries, payoff = theta.detach(), entries.detach(), payoff.detach()
            better = (payoff > best) & active
            best = torch.where(better, payoff, best)
            keep = torch.where(better.unsqueeze(1), entries, keep)
            history.append(best)
            if step >= PATIENCE:
                gain = torch.full((batch,), -torch.inf, dtype=DTYPE).scatter_reduce(
                    0, rows, best - history[step - PATIENCE], "amax")
                active = active & (gain[rows] >= STALL)
            if step == steps or not active.any():
                break
            theta, first, second = adam_ascent(theta, grad, first, second, step, lr * DECAY ** (step / max(steps, 1)),
                                               BETAS, active)
        best_entries.append(keep)
        best_payoffs.append(best)
    return torch.cat(best_entries).reshape(batch, k, p), torch.cat(best_payoffs).reshape(batch, k)


@torch.no_grad()
def _snap(evaluator, act, sig, learner, entries, game, order) -> tuple[torch.Tensor, torch.Tensor]:
    """Round entries within ``ROUND`` of 0 or 1, then set each remaining stochastic
    entry to 0 or 1 when that costs no more than ``TIE``: entries ``(B, P)``, payoffs ``(B,)``."""
    entries = torch.where(entries < ROUND, 0.0, torch.where(entries > 1 - ROUND, 1.0, entries))
    payoff = evaluate_candidates(evaluator, act, sig, learner, *expand(entries.unsqueeze(1), order), game)[:, 0]
    for i in range(entries.shape[1]):
        open_entry = (entries[:, i] > 0) & (entries[:, i] < 1)
        if not open_entry.any():
            continue
        trial = entries.unsqueeze(1).repeat(1, 2, 1)
        trial[:, 0, i], trial[:, 1, i] = 0.0, 1.0
        value, choice = evaluate_candidates(evaluator, act, sig, learner, *expand(trial, order), game).max(dim=1)
        accept = open_entry & (value >= payoff - TIE)
        entries = torch.where(accept.unsqueeze(1), trial[torch.arange(len(choice)), choice], entries)
        payoff = torch.where(accept, value, payoff)
    return entries, payoff


@torch.no_grad()
def _strictness(evaluator, act, sig, learner, entries, payoff, game) -> torch.Tensor:
    """Flip each of the 12 table entries ``(B, 12)`` alone; strict when the payoff
    drops by more than ``STRICT``: ``(B, 12)`` booleans."""
    flipped = entries.unsqueeze(1).repeat(1, CONTEXTS, 1)
    diagonal = torch.arange(CONTEXTS)
    flipped[:, diagonal, diagonal] = 1.0 - flipped[:, diagonal, diagonal]
    values = evaluate_candidates(evaluator, act, sig, learner, *expand(flipped, 3), game)
    return payoff.unsqueeze(1) - values > STRICT


def _solve_class(evaluator, act, sig, learner, random_logits, game, order, steps, lr, top):
    """Reference payoff ``(B,)``, tables as 12 entries ``(B, 12)`` and strict flags ``(B, 12)``."""
    batch = act.shape[0]
    rows = torch.arange(batch)
    candidates = deterministic(order)
    with torch.no_grad():
        values = evaluate_candidates(evaluator, act, sig, learner, *expand(candidates.expand(batch, -1, -1), order), game)
    best_value = values.max(dim=1, keepdim=True).values
    first = (values >= best_value - TIE).to(torch.int64).argmax(dim=1)  # the first of the tied best
    det_entries, det_payoff = candidates[first], values[rows, first]

    ranked = values.argsort(dim=1, descending=True)[:, : max(1, min(top, values.shape[1]))]
    ranked[:, 0] = first
    logits = torch.cat([8.0 * candidates[ranked] - 4.0, random_logits], dim=1)
    found, found_payoff = _ascend(evaluator, act, sig, learner, logits, game, order, steps, lr)
    winner = found_payoff.argmax(dim=1)
    stochastic, stochastic_payoff = _snap(evaluator, act, sig, learner, found[rows, winner], game, order)

    use = stochastic_payoff > det_payoff + IMPROVE
    entries = torch.where(use.unsqueeze(1), stochastic, det_entries)
    payoff = torch.where(use, stochastic_payoff, det_payoff)
    own_act, own_sig = expand(entries, order)
    entries = torch.cat([own_act.reshape(batch, 4), own_sig.reshape(batch, 8)], dim=1)
    strict = _strictness(evaluator, act, sig, learner, entries, payoff, game)
    if isinstance(order, OneHead):  # a frozen entry is never the learner's to get right
        strict = strict & ~order.frozen()
    return payoff, entries, strict


@one_thread()
def best_response(
    act: torch.Tensor,
    sig: torch.Tensor,
    learner: int,
    game: Game,
    model: str = "auto",
    order: int | OneHead = 3,
    starts: int = 16,
    seed: int = 0,
    steps: int = 200,
    lr: float = 0.5,
    top: int = 4,
) -> Reference:
    """Reference of agent ``learner`` against the others' fixed tables (docs/model.md §8).

    ``act (B, N, 2, 2)`` and ``sig (B, N, 2, 2, 2)`` are intended tables; the
    learner's own are ignored (``order = OneHead(...)`` keeps one of its heads
    fixed instead).  All deterministic policies of the given ``order``
    are evaluated; then an ascent starts from the ``top`` best of them (logits
    +-4) and from ``starts`` random tables (logits ``2 * N(0, 1)`` from a
    generator seeded with ``seed``, so the answer is reproducible), runs up to
    ``steps`` Adam steps of initial rate ``lr`` (fewer when every start has
    stalled) and a stochastic policy is reported only when it beats the best
    deterministic one by more than ``IMPROVE``.

    Args:
        act: intended action tables ``(B, N, 2, 2)`` (the learner's row is ignored).
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        learner: index of the responding agent, in ``[0, N)``.
        game: the game.
        model: ``auto`` (exact chain when ``N <= 12``, lumped over equal opponents;
            mean field above), ``exact`` or ``meanfield``.
        order: 3 (all 12 entries free), 2 (second-order tables, 6 entries) or a
            ``OneHead`` (one head free, the other fixed).
        starts: random starts of the ascent.
        seed: seed of the random starts.
        steps: most Adam steps per start.
        lr: initial rate of the ascent, in logit space.
        top: best deterministic tables the ascent also starts from.

    Returns:
        A ``Reference``: ``payoff (B,)``, arg-max tables ``act (B, 2, 2)``,
        ``sig (B, 2, 2, 2)``, strict flags of the same shapes, and the model used.

    Raises:
        ConfigError: a bad learner index, model or order, or a chain too large
            for the exact model.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    batch, n = act.shape[:2]
    if not 0 <= learner < n:
        raise ConfigError(f"learner must be an agent index in [0, {n}), got {learner}")
    model = resolve_model(model, n)
    random_logits = _random_logits(batch, starts, order, seed)
    payoff, entries, strict = _solve(act, sig, learner, random_logits, game, model, order, steps, lr, top)
    (ref_act, ref_sig), (strict_act, strict_sig) = split_tables(entries), split_tables(strict)
    return Reference(payoff=payoff, act=ref_act, sig=ref_sig, strict_act=strict_act, strict_sig=strict_sig, model=model)


def _random_logits(batch: int, starts: int, order, seed: int) -> torch.Tensor:
    """The ascent's random starts ``(B, starts, P)``: logits ``2 * N(0, 1)`` from a generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return 2.0 * torch.randn(batch, starts, free_entries(order), generator=generator, dtype=DTYPE)


def _solve(act, sig, learner, random_logits, game, model, order, steps, lr, top):
    """Reference payoff ``(B,)``, tables as 12 entries ``(B, 12)`` and strict flags ``(B, 12)``
    of agent ``learner``, each class of populations (``candidates.evaluators``) solved in one batch."""
    batch = act.shape[0]
    payoff = torch.empty(batch, dtype=DTYPE)
    entries = torch.empty(batch, 12, dtype=DTYPE)
    strict = torch.empty(batch, CONTEXTS, dtype=torch.bool)
    for evaluator, rows in evaluators(act, sig, learner, model).items():
        payoff[rows], entries[rows], strict[rows] = _solve_class(
            evaluator, act[rows], sig[rows], learner, random_logits[rows], game, order, steps, lr, top
        )
    return payoff, entries, strict


def best_response_gap(
    act: torch.Tensor, sig: torch.Tensor, game: Game, learners: list[int], model: str = "auto", screen: bool = True,
    **options
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best-response gaps for society metrics (docs/model.md §8).

    For each listed learner ``j``: ``best[:, j]`` is its reference payoff against
    the others' current tables (at least its current payoff: its current tables
    are a candidate), ``current[:, j]`` its payoff now.  Returns
    ``(nashconv (B,), best (B, L), current (B, L))`` with
    ``nashconv = sum_j (best - current)``.  ``options`` go to ``best_responses`` (every
    learner's best response in one batch; the same as ``best_response`` per learner), or, in
    the mean field of the plain game with ``screen`` (the default), to
    ``recigrad.evaluation.screening.screened_best`` (the same best payoffs, tested to ``1e-9``;
    ``O(1)`` per candidate after ``O(N)`` per population; docs/model.md §8, "NashConv screened").

    Args:
        act: intended action tables ``(B, N, 2, 2)``, everyone's current ones.
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        game: the game.
        learners: the ``L`` agents whose gaps are summed.
        model: ``auto``, ``exact`` or ``meanfield``, for both payoffs.
        screen: answer the mean field of the plain game by ``screening.screened_best`` (``False``:
            ``best_responses`` always).
        **options: ``order``, ``starts``, ``seed``, ``steps``, ``lr``, ``top`` of ``best_response``.

    Returns:
        ``(nashconv (B,), best (B, L), current (B, L))``, all detached.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    model = resolve_model(model, act.shape[1])
    _check_learners(learners, act.shape[1])
    stacked_act, stacked_sig, population, source = _problems(act, sig, learners)
    current = payoff_of(stacked_act, stacked_sig, 0, stacked_act[:, :1], stacked_sig[:, :1], game, model)[:, 0]
    current = current.detach()
    if screen and screening.applies(game, model, options.get("order", 3)):
        best = _screened(act, sig, learners, (stacked_act, stacked_sig, population, source), game, **options)
    else:
        best = best_responses(act, sig, learners, game, model, **options).payoff
    current = current[source]
    best = torch.maximum(best, current)
    return (best - current).sum(dim=1), best, current


@one_thread()
def _screened(act, sig, learners, problems, game, order=3, starts=16, seed=0, steps=200, lr=0.5, top=4) -> torch.Tensor:
    """``best_responses(...).payoff`` by ``recigrad.evaluation.screening.screened_best``: ``(B, L)``;
    ``problems``: what ``_problems`` gives."""
    stacked_act, stacked_sig, population, source = problems
    learner = _learner_of(learners, population, source)
    random_logits = _random_logits(act.shape[0], starts, order, seed)[population]

    def full(rows):
        return _solve(stacked_act[rows], stacked_sig[rows], 0, random_logits[rows], game, "meanfield", order, steps, lr, top)[0]

    def outward(rows, entries):
        payoff = Evaluator("meanfield", None).prepared(stacked_act[rows], stacked_sig[rows], 0, game)
        entries = entries.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(payoff(torch.arange(len(rows)), *expand(entries, order)).sum(), entries)
        return (gradient * (2.0 * entries.detach() - 1.0) > 0).all(1)

    payoff, _ = screening.screened_best(act, sig, population, learner, random_logits, game, order, steps, lr, top,
                                        (PATIENCE, STALL, BETAS, DECAY, ROUND, IMPROVE), full, outward)
    return payoff[source]


def _learner_of(learners, population, source) -> torch.Tensor:
    """The agent each problem answers for (the first learner of its population that it answers)."""
    learner = torch.empty(len(population), dtype=torch.int64)
    for i in reversed(range(len(learners))):
        learner[source[:, i]] = learners[i]
    return learner


# ---------------------------------------------------------------------------
# every learner's best response at once (NashConv)


def _check_learners(learners: list[int], n: int) -> None:
    if not learners or any(not 0 <= j < n for j in learners):
        raise ConfigError(f"learners must be a non-empty list of agent indices in [0, {n}), got {list(learners)}")


def _problems(act: torch.Tensor, sig: torch.Tensor, learners: list[int]):
    """The distinct best-response problems of ``learners`` in every population, each with its
    learner moved to index 0 (the others keep their order).

    Two learners of a population with equal tables face the same opponents (everyone else's
    tables, as a multiset), so one problem answers both.  Returns ``(act (P, N, 2, 2),
    sig (P, N, 2, 2, 2), population (P,), source (B, L))``: ``source[b, i]`` is the problem
    that answers learner ``learners[i]`` of population ``b``.
    """
    batch, n = act.shape[:2]
    order, population = [], []
    source = torch.empty(batch, len(learners), dtype=torch.int64)
    for b in range(batch):
        seen: dict[tuple[bytes, bytes], int] = {}
        for i, j in enumerate(learners):
            key = (act[b, j].detach().numpy().tobytes(), sig[b, j].detach().numpy().tobytes())
            if key not in seen:
                seen[key] = len(order)
                order.append([j] + [k for k in range(n) if k != j])
                population.append(b)
            source[b, i] = seen[key]
    population_index = torch.tensor(population, dtype=torch.int64)
    agents = torch.tensor(order, dtype=torch.int64)
    return act[population_index[:, None], agents], sig[population_index[:, None], agents], population_index, source


@one_thread()
def best_responses(
    act: torch.Tensor,
    sig: torch.Tensor,
    learners: list[int],
    game: Game,
    model: str = "auto",
    order: int | OneHead = 3,
    starts: int = 16,
    seed: int = 0,
    steps: int = 200,
    lr: float = 0.5,
    top: int = 4,
) -> Reference:
    """The references of several learners of each population, all solved in one batch.

    The same answers as ``best_response(act, sig, j, ...)`` for each ``j`` in ``learners``
    (same options, same random starts: learner ``j`` of population ``b`` starts from
    population ``b``'s), up to rounding: every (population, learner) problem is one row
    of a single batched solve, with the learner moved to index 0, and learners of a
    population with equal tables share one problem (their opponents are the same).
    NashConv (``best_response_gap``) rests on it.

    Args:
        act: intended action tables ``(B, N, 2, 2)``.
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        learners: the ``L`` responding agents (indices in ``[0, N)``).
        game, model, order, starts, seed, steps, lr, top: as for ``best_response``.

    Returns:
        A ``Reference`` whose tensors lead with ``(B, L)``: ``payoff (B, L)``,
        ``act (B, L, 2, 2)``, ``sig (B, L, 2, 2, 2)`` and the strict flags
        (``Reference.row`` does not apply).

    Raises:
        ConfigError: bad learner indices, model or order, or a chain too large for the exact model.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    batch, n = act.shape[:2]
    _check_learners(learners, n)
    model = resolve_model(model, n)
    stacked_act, stacked_sig, population, source = _problems(act, sig, learners)
    random_logits = _random_logits(batch, starts, order, seed)[population]
    payoff, entries, strict = _solve(stacked_act, stacked_sig, 0, random_logits, game, model, order, steps, lr, top)
    (ref_act, ref_sig), (strict_act, strict_sig) = split_tables(entries[source]), split_tables(strict[source])
    return Reference(payoff=payoff[source], act=ref_act, sig=ref_sig, strict_act=strict_act, strict_sig=strict_sig,
                     model=model)

"""The reference solver (SPEC section 8): a learner's best payoff against fixed opponents.

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
exact when ``N <= 12``), batched over populations and candidates, in chunks of
about ``MEMORY`` bytes.

The exact chain is *lumped* when other agents share tables: agents with equal
tables are interchangeable, so the chain on ``2^N`` reputation vectors reduces
exactly to a chain on (learner's reputation, number of good agents in each group
of equal others).  Seven equal opponents need 16 states instead of 256; when no
two others are equal, ``recigrad.dynamics.exact.solve`` answers on the full chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import wraps

import torch

from recigrad.dynamics import exact, meanfield
from recigrad.game import DTYPE, ConfigError, Game, good_signal_probability, observable

STRICT = 1e-3  # a flip costing more than this per round makes an entry strict
ROUND = 1e-6  # reported entries this close to 0 or 1 are rounded
TIE = 1e-12  # payoffs this close count as equal (the first deterministic table wins; snapping)
IMPROVE = 1e-9  # a stochastic table is reported only when it beats the deterministic best by more
MEMORY = 2**30  # bytes per evaluation chunk, roughly
PATIENCE, STALL = 20, 1e-10  # the ascent stops when no start gained more than STALL in PATIENCE steps
BETAS, DECAY = (0.5, 0.5), 0.01  # Adam's moment decays; final / initial learning rate
MODELS = ("auto", "exact", "meanfield")


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
# threads


def _one_thread(function):
    """Run on one thread: the solver's tensors are small, and several threads
    are slower (much slower on a busy machine) and trip batched LU solves in
    torch's CPU build (see ``recigrad.dynamics.exact``)."""

    @wraps(function)
    def wrapper(*args, **kwargs):
        with exact.one_thread():
            return function(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------
# the lumped exact chain


Groups = tuple[tuple[int, ...], ...]


def equal_groups(act: torch.Tensor, sig: torch.Tensor, learner: int) -> Groups:
    """The agents other than ``learner`` of one population (``act (N, 2, 2)``,
    ``sig (N, 2, 2, 2)``), grouped by equal tables, in order of first appearance."""
    groups: list[list[int]] = []
    for j in range(act.shape[0]):
        if j == learner:
            continue
        for group in groups:
            if torch.equal(act[group[0]], act[j]) and torch.equal(sig[group[0]], sig[j]):
                group.append(j)
                break
        else:
            groups.append([j])
    return tuple(tuple(group) for group in groups)


def lumped_states(groups: Groups) -> int:
    """States of the lumped chain: learner's reputation times good counts per group."""
    return 2 * math.prod(len(group) + 1 for group in groups)


def _count_states(sizes: list[int]) -> torch.Tensor:
    """``counts[s, k]``: good agents of block ``k`` in state ``s`` (last block fastest)."""
    grids = torch.meshgrid(*[torch.arange(size + 1) for size in sizes], indexing="ij")
    return torch.stack([grid.reshape(-1) for grid in grids], dim=1)


@_one_thread
def lumped_payoff(act: torch.Tensor, sig: torch.Tensor, learner: int, groups: Groups, game: Game) -> torch.Tensor:
    """Learner's exact per-round payoff ``(M,)`` for populations ``act (M, N, 2, 2)``,
    ``sig (M, N, 2, 2, 2)`` whose other agents have equal tables within each of
    ``groups`` (the same grouping for every row).

    A donor ``d`` turns good with probability ``q_d = (1 - m) s_d[x_d, 0] + m s_d[x_d, 1]``
    (``m``: fraction of good agents among the others), the same for every member of
    a group, so the numbers of good agents per block (the learner is a block of
    one) form a Markov chain; its stationary law gives the pair probabilities the
    payoff needs.  Equal to ``recigrad.dynamics.exact.solve`` on the full chain.
    """
    n = act.shape[1]
    pc, so = observable(act, sig, game)
    s = good_signal_probability(pc, so)[:, [learner] + [group[0] for group in groups]]  # (M, K, x_d, x_r)
    sizes = [1] + [len(group) for group in groups]
    size = torch.tensor(sizes, dtype=DTYPE)
    counts = _count_states(sizes)  # (S, K)
    states = counts.shape[0]
    stride = torch.tensor([math.prod(z + 1 for z in sizes[k + 1 :]) for k in range(len(sizes))])
    good = counts.to(DTYPE)
    m_bad = good.sum(1, keepdim=True) / (n - 1)  # good fraction among the others of a bad donor
    m_good = (good.sum(1, keepdim=True) - 1) / (n - 1)  # ... of a good donor
    turn_good = (1 - m_bad) * s[:, None, :, 0, 0] + m_bad * s[:, None, :, 0, 1]  # (M, S, K)
    stay_good = (1 - m_good) * s[:, None, :, 1, 0] + m_good * s[:, None, :, 1, 1]
    up = (size - good) / n * turn_good  # rate of one more good agent in block k
    down = good / n * (1 - stay_good)
    state = torch.arange(states).unsqueeze(1)
    target_up = torch.where(counts < torch.tensor(sizes), state + stride, state).reshape(-1)
    target_down = torch.where(counts > 0, state - stride, state).reshape(-1)
    rows = state.expand(states, len(sizes)).reshape(-1)
    flat = torch.cat([rows * states + target_up, rows * states + target_down, rows * states + rows])
    batch = act.shape[0]
    values = torch.cat([up.reshape(batch, -1), down.reshape(batch, -1), -(up + down).reshape(batch, -1)], dim=1)
    generator = torch.zeros(batch, states * states, dtype=DTYPE).index_add(1, flat, values)
    pi = _stationary(generator.reshape(batch, states, states))

    # pairs[m, k, x_other, x_learner]: expected number of block-k agents with that reputation
    learner_good = good[:, :1]
    others_good, others_bad = good[:, 1:], size[1:] - good[:, 1:]
    weights = torch.stack(
        [torch.stack([others_bad * (1 - learner_good), others_bad * learner_good], -1),
         torch.stack([others_good * (1 - learner_good), others_good * learner_good], -1)], -2
    )  # (S, K - 1, x_other, x_learner)
    pairs = torch.einsum("ms,skab->mkab", pi, weights)
    to_learner = pc[:, [group[0] for group in groups]]  # [m, k, x_donor, x_learner]
    from_learner = pc[:, learner].transpose(-1, -2).unsqueeze(1)  # [m, 1, x_rec, x_learner]
    received = (pairs * to_learner).sum((1, 2, 3)) / (n - 1)
    given = (pairs * from_learner).sum((1, 2, 3)) / (n - 1)
    return game.b * received - game.c * given


def _stationary(generator: torch.Tensor) -> torch.Tensor:
    """Stationary law ``pi (M, S)`` of generators ``(M, S, S)`` (rows: current state)."""
    a = generator.transpose(1, 2).clone()
    a[:, -1, :] = 1.0  # one balance equation replaced by sum(pi) = 1
    rhs = torch.zeros(a.shape[0], a.shape[1], 1, dtype=DTYPE)
    rhs[:, -1] = 1.0
    pi = exact._Solve.apply(a, rhs).squeeze(-1)  # one-thread LU, also in backward (see recigrad.dynamics.exact)
    if not torch.isfinite(pi).all():
        raise ConfigError("the exact chain has no unique stationary distribution (with zero errors a state can be absorbing)")
    return pi


# ---------------------------------------------------------------------------
# evaluating candidate tables


def resolve_model(model: str, n: int) -> str:
    """``auto`` is the exact chain when ``N <= 12`` and the mean-field model otherwise."""
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; allowed: {', '.join(MODELS)}")
    if model == "auto":
        return "exact" if n <= exact.MAX_N else "meanfield"
    return model


@dataclass(frozen=True)
class _Evaluator:
    """How one class of populations is evaluated: the model, and for the exact
    chain the grouping of equal others (``None``: the full ``2^N`` chain)."""

    model: str
    groups: Groups | None

    def states(self, n: int) -> int:
        if self.model == "meanfield":
            return 0
        return 2**n if self.groups is None else lumped_states(self.groups)

    def chunk(self, n: int) -> int:
        """Candidates per evaluation so that a chunk stays near ``MEMORY`` bytes
        (the exact chain holds a few dense ``S x S`` matrices per candidate)."""
        per_candidate = 8 * 8 * self.states(n) ** 2 if self.model == "exact" else 8 * 12 * 32 * n
        return max(1, MEMORY // per_candidate)

    def __call__(self, act, sig, learner, own_act, own_sig, game) -> torch.Tensor:
        """Learner payoff ``(M,)`` for aligned rows: population tables ``(M, N, ...)``
        with the learner's replaced by ``own_act (M, 2, 2)``, ``own_sig (M, 2, 2, 2)``."""
        act, sig = _insert(act, learner, own_act), _insert(sig, learner, own_sig)
        if self.model == "exact" and self.groups is not None:
            return lumped_payoff(act, sig, learner, self.groups, game)
        solve = exact.solve if self.model == "exact" else meanfield.solve
        return solve(*observable(act, sig, game), game.b, game.c).payoff[:, learner]


def _insert(tables: torch.Tensor, learner: int, own: torch.Tensor) -> torch.Tensor:
    """Population tables ``(M, N, ...)`` with agent ``learner``'s replaced by ``own (M, ...)``."""
    return torch.cat([tables[:, :learner], own.unsqueeze(1), tables[:, learner + 1 :]], dim=1)


def _classes(act, sig, learner, model) -> dict[_Evaluator, list[int]]:
    """Populations split by how they are evaluated (lumping needs equal groupings)."""
    n = act.shape[1]
    if model == "meanfield":
        return {_Evaluator("meanfield", None): list(range(act.shape[0]))}
    classes: dict[_Evaluator, list[int]] = {}
    for b in range(act.shape[0]):
        groups = equal_groups(act[b], sig[b], learner)
        states = lumped_states(groups)
        if states >= 2**n:
            groups = None
            if n > exact.MAX_N:
                raise ConfigError(f"the exact chain needs N <= {exact.MAX_N} (2^N states), got N = {n} "
                                  "with no two equal opponents; use the mean-field model")
        elif states > 2**exact.MAX_N:
            raise ConfigError(f"the exact chain for N = {n} needs {states} lumped states "
                              f"(at most {2**exact.MAX_N}); use the mean-field model")
        classes.setdefault(_Evaluator("exact", groups), []).append(b)
    return classes


def _evaluate(evaluator, act, sig, learner, cand_act, cand_sig, game) -> torch.Tensor:
    """``(B, K)`` payoffs of candidates ``(B, K, ...)`` for one class, chunked."""
    batch, n = act.shape[:2]
    k = cand_act.shape[1]
    population = torch.arange(batch).repeat_interleave(k)
    flat_act, flat_sig = cand_act.reshape(batch * k, 2, 2), cand_sig.reshape(batch * k, 2, 2, 2)
    size = evaluator.chunk(n)
    parts = [
        evaluator(act[population[i : i + size]], sig[population[i : i + size]], learner,
                  flat_act[i : i + size], flat_sig[i : i + size], game)
        for i in range(0, batch * k, size)
    ]
    return torch.cat(parts).reshape(batch, k)


@_one_thread
def payoff_of(act, sig, learner: int, cand_act, cand_sig, game: Game, model: str = "auto") -> torch.Tensor:
    """Learner ``learner``'s per-round payoff when its tables are replaced by each
    candidate, the others' tables fixed.

    ``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``; candidates ``cand_act (B, K, 2, 2)``,
    ``cand_sig (B, K, 2, 2, 2)`` (intended tables).  Returns ``(B, K)``,
    differentiable in the candidates.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    cand_act, cand_sig = cand_act.to(DTYPE), cand_sig.to(DTYPE)
    batch, n = act.shape[:2]
    if not 0 <= learner < n:
        raise ConfigError(f"learner must be an agent index in [0, {n}), got {learner}")
    order, parts = [], []
    for evaluator, rows in _classes(act, sig, learner, resolve_model(model, n)).items():
        parts.append(_evaluate(evaluator, act[rows], sig[rows], learner, cand_act[rows], cand_sig[rows], game))
        order += rows
    return torch.cat(parts)[torch.tensor(order).argsort()]


# ---------------------------------------------------------------------------
# parameterisation: a vector of free entries per order


@dataclass(frozen=True)
class OneHead:
    """Only one head of the learner is free (training with ``components`` action or
    signal); the other stays at the given tables ``act (2, 2)`` / ``sig (2, 2, 2)``.
    Used in place of an ``order``: third-order entries of the free head."""

    head: str  # "action" or "signal"
    act: torch.Tensor
    sig: torch.Tensor

    def __hash__(self) -> int:
        return hash((self.head, tuple(self.act.flatten().tolist()), tuple(self.sig.flatten().tolist())))

    @property
    def free(self) -> int:
        return 4 if self.head == "action" else 8

    def expand(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lead = p.shape[:-1]
        if self.head == "action":
            return p.reshape(*lead, 2, 2), self.sig.to(p.dtype).expand(*lead, 2, 2, 2)
        return self.act.to(p.dtype).expand(*lead, 2, 2), p.reshape(*lead, 2, 2, 2)

    def frozen(self) -> torch.Tensor:
        """``(12,)`` True for the entries that cannot change."""
        mask = torch.ones(12, dtype=torch.bool)
        mask[slice(0, 4) if self.head == "action" else slice(4, 12)] = False
        return mask


def free_entries(order) -> int:
    """Free entries of a learner policy: 12 (third order), 6 (second order), or one head's."""
    if isinstance(order, OneHead):
        return order.free
    if order not in (2, 3):
        raise ConfigError(f"order must be 2 or 3, got {order}")
    return 12 if order == 3 else 6


def expand(p: torch.Tensor, order) -> tuple[torch.Tensor, torch.Tensor]:
    """Tables ``act (..., 2, 2)``, ``sig (..., 2, 2, 2)`` from free entries ``p (..., P)``.

    Third order: ``p = act.flatten() ++ sig.flatten()``.  Second order:
    ``p = act[x_rec] ++ sig[a, x_rec].flatten()``, copied over ``x_own`` / ``x_donor``.
    One head (``OneHead``): that head's entries; the other head is fixed.
    """
    if isinstance(order, OneHead):
        return order.expand(p)
    lead = p.shape[:-1]
    if order == 3:
        return p[..., :4].reshape(*lead, 2, 2), p[..., 4:].reshape(*lead, 2, 2, 2)
    act = p[..., :2].unsqueeze(-2).expand(*lead, 2, 2)
    sig = p[..., 2:].reshape(*lead, 2, 2).unsqueeze(-2).expand(*lead, 2, 2, 2)
    return act, sig


def deterministic(order: int) -> torch.Tensor:
    """Every deterministic policy as free entries, ``(2^P, P)``; candidate ``k``'s
    entry ``i`` is bit ``i`` of ``k`` (candidate 0 defects and says "bad" everywhere)."""
    p = free_entries(order)
    k = torch.arange(2**p).unsqueeze(1)
    return ((k >> torch.arange(p)) & 1).to(DTYPE)


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
    size = evaluator.chunk(act.shape[1])
    beta1, beta2 = BETAS
    best_entries, best_payoffs = [], []
    for i in range(0, batch * k, size):
        theta = flat[i : i + size].clone()
        a, s = act[population[i : i + size]], sig[population[i : i + size]]
        first, second = torch.zeros_like(theta), torch.zeros_like(theta)
        best = torch.full((theta.shape[0],), -torch.inf, dtype=DTYPE)
        keep = torch.sigmoid(theta)
        history = []
        for step in range(steps + 1):
            theta.requires_grad_(True)
            entries = torch.sigmoid(theta)
            payoff = evaluator(a, s, learner, *expand(entries, order), game)
            (grad,) = torch.autograd.grad(payoff.sum(), theta)
            theta, entries, payoff = theta.detach(), entries.detach(), payoff.detach()
            better = payoff > best
            best = torch.where(better, payoff, best)
            keep = torch.where(better.unsqueeze(1), entries, keep)
            history.append(best)
            if step == steps or (step >= PATIENCE and (best - history[step - PATIENCE]).max() < STALL):
                break
            first = beta1 * first + (1 - beta1) * grad
            second = beta2 * second + (1 - beta2) * grad**2
            direction = first / (1 - beta1 ** (step + 1))
            scale = (second / (1 - beta2 ** (step + 1))).sqrt()
            rate = lr * DECAY ** (step / max(steps, 1))
            theta = theta + rate * torch.where(scale > 0, direction / scale, 0.0)
        best_entries.append(keep)
        best_payoffs.append(best)
    return torch.cat(best_entries).reshape(batch, k, p), torch.cat(best_payoffs).reshape(batch, k)


@torch.no_grad()
def _snap(evaluator, act, sig, learner, entries, game, order) -> tuple[torch.Tensor, torch.Tensor]:
    """Round entries within ``ROUND`` of 0 or 1, then set each remaining stochastic
    entry to 0 or 1 when that costs no more than ``TIE``: entries ``(B, P)``, payoffs ``(B,)``."""
    entries = torch.where(entries < ROUND, 0.0, torch.where(entries > 1 - ROUND, 1.0, entries))
    payoff = _evaluate(evaluator, act, sig, learner, *expand(entries.unsqueeze(1), order), game)[:, 0]
    for i in range(entries.shape[1]):
        open_entry = (entries[:, i] > 0) & (entries[:, i] < 1)
        if not open_entry.any():
            continue
        trial = entries.unsqueeze(1).repeat(1, 2, 1)
        trial[:, 0, i], trial[:, 1, i] = 0.0, 1.0
        value, choice = _evaluate(evaluator, act, sig, learner, *expand(trial, order), game).max(dim=1)
        accept = open_entry & (value >= payoff - TIE)
        entries = torch.where(accept.unsqueeze(1), trial[torch.arange(len(choice)), choice], entries)
        payoff = torch.where(accept, value, payoff)
    return entries, payoff


@torch.no_grad()
def _strictness(evaluator, act, sig, learner, entries, payoff, game) -> torch.Tensor:
    """Flip each of the 12 table entries ``(B, 12)`` alone; strict when the payoff
    drops by more than ``STRICT``: ``(B, 12)`` booleans."""
    flipped = entries.unsqueeze(1).repeat(1, 12, 1)
    diagonal = torch.arange(12)
    flipped[:, diagonal, diagonal] = 1.0 - flipped[:, diagonal, diagonal]
    values = _evaluate(evaluator, act, sig, learner, *expand(flipped, 3), game)
    return payoff.unsqueeze(1) - values > STRICT


def _solve_class(evaluator, act, sig, learner, random_logits, game, order, steps, lr, top):
    """Reference payoff ``(B,)``, tables as 12 entries ``(B, 12)`` and strict flags ``(B, 12)``."""
    batch = act.shape[0]
    rows = torch.arange(batch)
    candidates = deterministic(order)
    with torch.no_grad():
        values = _evaluate(evaluator, act, sig, learner, *expand(candidates.expand(batch, -1, -1), order), game)
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


@_one_thread
def reference(
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
    """Reference of agent ``learner`` against the others' fixed tables (SPEC section 8).

    ``act (B, N, 2, 2)`` and ``sig (B, N, 2, 2, 2)`` are intended tables; the
    learner's own are ignored (``order = OneHead(...)`` keeps one of its heads
    fixed instead).  All deterministic policies of the given ``order``
    are evaluated; then an ascent starts from the ``top`` best of them (logits
    +-4) and from ``starts`` random tables (logits ``2 * N(0, 1)`` from a
    generator seeded with ``seed``, so the answer is reproducible), runs up to
    ``steps`` Adam steps of initial rate ``lr`` (fewer when every start has
    stalled) and a stochastic policy is reported only when it beats the best
    deterministic one by more than ``IMPROVE``.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    batch, n = act.shape[:2]
    if not 0 <= learner < n:
        raise ConfigError(f"learner must be an agent index in [0, {n}), got {learner}")
    model = resolve_model(model, n)
    generator = torch.Generator().manual_seed(seed)
    random_logits = 2.0 * torch.randn(batch, starts, free_entries(order), generator=generator, dtype=DTYPE)

    payoff = torch.empty(batch, dtype=DTYPE)
    entries = torch.empty(batch, 12, dtype=DTYPE)
    strict = torch.empty(batch, 12, dtype=torch.bool)
    for evaluator, rows in _classes(act, sig, learner, model).items():
        payoff[rows], entries[rows], strict[rows] = _solve_class(
            evaluator, act[rows], sig[rows], learner, random_logits[rows], game, order, steps, lr, top
        )
    return Reference(
        payoff=payoff,
        act=entries[:, :4].reshape(batch, 2, 2),
        sig=entries[:, 4:].reshape(batch, 2, 2, 2),
        strict_act=strict[:, :4].reshape(batch, 2, 2),
        strict_sig=strict[:, 4:].reshape(batch, 2, 2, 2),
        model=model,
    )


def best_response_gap(
    act: torch.Tensor, sig: torch.Tensor, game: Game, learners: list[int], model: str = "auto", **options
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best-response gaps for society metrics (SPEC section 8).

    For each listed learner ``j``: ``best[:, j]`` is its reference payoff against
    the others' current tables (at least its current payoff: its current tables
    are a candidate), ``current[:, j]`` its payoff now.  Returns
    ``(nashconv (B,), best (B, L), current (B, L))`` with
    ``nashconv = sum_j (best - current)``.  ``options`` go to ``reference``.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    model = resolve_model(model, act.shape[1])
    current = torch.stack(
        [payoff_of(act, sig, j, act[:, j, None], sig[:, j, None], game, model)[:, 0] for j in learners], dim=1
    ).detach()
    best = torch.stack([reference(act, sig, j, game, model, **options).payoff for j in learners], dim=1)
    best = torch.maximum(best, current)
    return (best - current).sum(dim=1), best, current

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
   random tables, and keeps the best tables found (never below the best
   deterministic ones);
3. flags each entry as *strict* when flipping it alone (``p -> 1 - p``) costs
   more than ``STRICT`` per round.

Payoffs come from the exact chain (``N <= 12``) or the mean-field model, both
batched over the leading population dimension; candidates are evaluated in
chunks so that memory stays near ``MEMORY`` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad import exact
from recigrad import model as meanfield
from recigrad.game import DTYPE, ConfigError, Game, observable

STRICT = 1e-3  # a flip costing more than this per round makes an entry strict
ROUND = 1e-6  # reported entries this close to 0 or 1 are rounded
TIE = 1e-12  # payoffs this close count as equal (first deterministic table wins; snapping)
IMPROVE = 1e-9  # a stochastic table is reported only when it beats the deterministic best by more
MEMORY = 2**30  # bytes per evaluation chunk, roughly
PATIENCE, STALL = 20, 1e-10  # the ascent stops when no start gained more than STALL in PATIENCE steps
BETAS, DECAY = (0.5, 0.5), 0.01  # Adam's moment decays; final learning rate / initial
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
# evaluating candidate tables


def resolve_model(model: str, n: int) -> str:
    """``auto`` is the exact chain when ``N <= 12`` and the mean-field model otherwise."""
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; allowed: {', '.join(MODELS)}")
    if model == "auto":
        return "exact" if n <= exact.MAX_N else "meanfield"
    return model


def _chunk_size(model: str, n: int) -> int:
    """Candidates per evaluation so that one chunk stays near ``MEMORY`` bytes
    (the exact chain holds a few dense ``2^N x 2^N`` matrices per candidate)."""
    per_candidate = 8 * 8 * 4**n if model == "exact" else 8 * 12 * 32 * n
    return max(1, MEMORY // per_candidate)


def _insert(tables: torch.Tensor, learner: int, own: torch.Tensor) -> torch.Tensor:
    """Population tables ``(M, N, ...)`` with agent ``learner``'s replaced by ``own (M, ...)``."""
    return torch.cat([tables[:, :learner], own.unsqueeze(1), tables[:, learner + 1 :]], dim=1)


def _payoff_flat(act, sig, learner, cand_act, cand_sig, game, model) -> torch.Tensor:
    """Learner payoff for ``M`` (population, candidate) pairs, already aligned: ``(M,)``."""
    solve = exact.solve if model == "exact" else meanfield.solve
    pc, so = observable(_insert(act, learner, cand_act), _insert(sig, learner, cand_sig), game)
    return solve(pc, so, game.b, game.c).payoff[:, learner]


def payoff_of(act, sig, learner: int, cand_act, cand_sig, game: Game, model: str = "auto") -> torch.Tensor:
    """Learner ``learner``'s per-round payoff when its tables are replaced by each
    candidate, the others' tables fixed.

    ``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``; candidates ``cand_act (B, K, 2, 2)``,
    ``cand_sig (B, K, 2, 2, 2)`` (intended tables).  Returns ``(B, K)``,
    differentiable in the candidates.
    """
    batch, n = act.shape[:2]
    if not 0 <= learner < n:
        raise ConfigError(f"learner must be an agent index in [0, {n}), got {learner}")
    model = resolve_model(model, n)
    k = cand_act.shape[1]
    population = torch.arange(batch).repeat_interleave(k)
    flat_act, flat_sig = cand_act.reshape(batch * k, 2, 2), cand_sig.reshape(batch * k, 2, 2, 2)
    size = _chunk_size(model, n)
    parts = [
        _payoff_flat(act[population[i : i + size]], sig[population[i : i + size]], learner,
                     flat_act[i : i + size], flat_sig[i : i + size], game, model)
        for i in range(0, batch * k, size)
    ]
    return torch.cat(parts).reshape(batch, k)


# ---------------------------------------------------------------------------
# parameterisation: a vector of free entries per order


def free_entries(order: int) -> int:
    """Free entries of a learner policy: 12 (third order) or 6 (second order)."""
    if order not in (2, 3):
        raise ConfigError(f"order must be 2 or 3, got {order}")
    return 12 if order == 3 else 6


def expand(p: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tables ``act (..., 2, 2)``, ``sig (..., 2, 2, 2)`` from free entries ``p (..., P)``.

    Third order: ``p = act.flatten() ++ sig.flatten()``.  Second order:
    ``p = act[x_rec] ++ sig[a, x_rec].flatten()``, copied over ``x_own`` / ``x_donor``.
    """
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
# the solver


def _ascend(act, sig, learner, logits, game, model, order, steps, lr) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam ascent on the learner's payoff from start logits ``(B, K, P)``; returns the
    best entries seen per start ``(B, K, P)`` and their payoffs ``(B, K)``."""
    batch, k, p = logits.shape
    population = torch.arange(batch).repeat_interleave(k)
    flat = logits.reshape(batch * k, p)
    size = _chunk_size(model, act.shape[1])
    best_entries, best_payoffs = [], []
    for i in range(0, batch * k, size):
        theta = flat[i : i + size].clone().requires_grad_(True)
        a, s = act[population[i : i + size]], sig[population[i : i + size]]
        # Short moment memories and no epsilon keep steps near ``lr`` in logit space while
        # gradients shrink as entries saturate (rare contexts have tiny gradients too);
        # the rate decays geometrically to ``lr * DECAY`` to settle on interior optima.
        optimiser = torch.optim.Adam([theta], lr=lr, betas=BETAS, eps=1e-30)
        schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=DECAY ** (1 / max(steps, 1)))
        best = torch.full((theta.shape[0],), -torch.inf, dtype=DTYPE)
        keep = torch.sigmoid(theta.detach())
        history = []
        for step in range(steps + 1):
            entries = torch.sigmoid(theta)
            payoff = _payoff_flat(a, s, learner, *expand(entries, order), game, model)
            better = payoff.detach() > best
            best = torch.where(better, payoff.detach(), best)
            keep = torch.where(better.unsqueeze(1), entries.detach(), keep)
            history.append(best)
            if step >= PATIENCE and (best - history[step - PATIENCE]).max() < STALL:
                break
            optimiser.zero_grad()
            (-payoff.sum()).backward()
            optimiser.step()
            schedule.step()
        best_entries.append(keep)
        best_payoffs.append(best)
    return torch.cat(best_entries).reshape(batch, k, p), torch.cat(best_payoffs).reshape(batch, k)


@torch.no_grad()
def _snap(act, sig, learner, entries, payoff, game, model, order) -> tuple[torch.Tensor, torch.Tensor]:
    """Round entries within ``ROUND`` of 0 or 1, then set each remaining stochastic
    entry to 0 or 1 when that costs no more than ``TIE``: entries ``(B, P)``."""
    entries = torch.where(entries < ROUND, 0.0, torch.where(entries > 1 - ROUND, 1.0, entries))
    payoff = payoff_of(act, sig, learner, *expand(entries.unsqueeze(1), order), game, model)[:, 0]
    for i in range(entries.shape[1]):
        if not ((entries[:, i] > 0) & (entries[:, i] < 1)).any():
            continue
        trial = entries.unsqueeze(1).repeat(1, 2, 1)
        trial[:, 0, i], trial[:, 1, i] = 0.0, 1.0
        values = payoff_of(act, sig, learner, *expand(trial, order), game, model)
        value, choice = values.max(dim=1)
        accept = (value >= payoff - TIE) & (entries[:, i] > 0) & (entries[:, i] < 1)
        entries = torch.where(accept.unsqueeze(1), trial[torch.arange(len(choice)), choice], entries)
        payoff = torch.where(accept, value, payoff)
    return entries, payoff


@torch.no_grad()
def _strictness(act, sig, learner, ref_act, ref_sig, payoff, game, model) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each of the 12 entries alone; strict when the payoff drops by more than ``STRICT``."""
    batch = ref_act.shape[0]
    entries = torch.cat([ref_act.reshape(batch, 4), ref_sig.reshape(batch, 8)], dim=1)
    flipped = entries.unsqueeze(1).repeat(1, 12, 1)
    diagonal = torch.arange(12)
    flipped[:, diagonal, diagonal] = 1.0 - flipped[:, diagonal, diagonal]
    values = payoff_of(act, sig, learner, *expand(flipped, 3), game, model)
    strict = payoff.unsqueeze(1) - values > STRICT
    return strict[:, :4].reshape(batch, 2, 2), strict[:, 4:].reshape(batch, 2, 2, 2)


@torch.no_grad()
def _best_deterministic(act, sig, learner, game, model, order) -> tuple[torch.Tensor, torch.Tensor]:
    """Payoff of every deterministic policy ``(B, 2^P)`` and the candidates ``(2^P, P)``."""
    candidates = deterministic(order)
    batch = act.shape[0]
    cand_act, cand_sig = expand(candidates.expand(batch, -1, -1), order)
    return payoff_of(act, sig, learner, cand_act, cand_sig, game, model), candidates


def reference(
    act: torch.Tensor,
    sig: torch.Tensor,
    learner: int,
    game: Game,
    model: str = "auto",
    order: int = 3,
    starts: int = 16,
    seed: int = 0,
    steps: int = 200,
    lr: float = 0.5,
    top: int = 4,
) -> Reference:
    """Reference of agent ``learner`` against the others' fixed tables (SPEC section 8).

    ``act (B, N, 2, 2)`` and ``sig (B, N, 2, 2, 2)`` are intended tables; the
    learner's own are ignored.  The ascent starts from the ``top`` best
    deterministic policies (logits +-4) and from ``starts`` random ones (a seeded
    generator, so the answer is reproducible), runs up to ``steps`` Adam steps of
    rate ``lr`` (fewer when every start has stalled) and reports a stochastic policy only when it beats the best
    deterministic one by more than ``IMPROVE``.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    batch, n = act.shape[:2]
    model = resolve_model(model, n)
    p = free_entries(order)

    values, candidates = _best_deterministic(act, sig, learner, game, model, order)
    best_value = values.max(dim=1, keepdim=True).values
    first = (values >= best_value - TIE).to(torch.int64).argmax(dim=1)  # first of the tied best
    det_entries, det_payoff = candidates[first], values[torch.arange(batch), first]

    ranked = values.argsort(dim=1, descending=True)[:, : min(top, values.shape[1])]
    ranked[:, 0] = first
    start_logits = [8.0 * candidates[ranked] - 4.0]
    if starts > 0:
        generator = torch.Generator().manual_seed(seed)
        start_logits.append(2.0 * torch.randn(batch, starts, p, generator=generator, dtype=DTYPE))
    found, found_payoff = _ascend(act, sig, learner, torch.cat(start_logits, dim=1), game, model, order, steps, lr)
    winner = found_payoff.argmax(dim=1)
    stochastic, stochastic_payoff = _snap(
        act, sig, learner, found[torch.arange(batch), winner], found_payoff[torch.arange(batch), winner],
        game, model, order,
    )

    use = stochastic_payoff > det_payoff + IMPROVE
    entries = torch.where(use.unsqueeze(1), stochastic, det_entries)
    payoff = torch.where(use, stochastic_payoff, det_payoff)
    ref_act, ref_sig = (t.contiguous() for t in expand(entries, order))
    strict_act, strict_sig = _strictness(act, sig, learner, ref_act, ref_sig, payoff, game, model)
    return Reference(payoff.detach(), ref_act.detach(), ref_sig.detach(), strict_act, strict_sig, model)


def best_response_gap(
    act: torch.Tensor, sig: torch.Tensor, game: Game, learners: list[int], model: str = "auto", **options
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best-response gaps for society metrics (SPEC section 8).

    For each listed learner ``j``: ``best[:, j]`` is its reference payoff against
    the others' current tables (at least its current payoff, since its current
    tables are a candidate), ``current[:, j]`` its payoff now.  Returns
    ``(nashconv (B,), best (B, L), current (B, L))`` with
    ``nashconv = sum_j (best - current)``.  ``options`` go to ``reference``.
    """
    act, sig = act.to(DTYPE), sig.to(DTYPE)
    model = resolve_model(model, act.shape[1])
    with torch.no_grad():
        solve = exact.solve if model == "exact" else meanfield.solve
        payoff = solve(*observable(act, sig, game), game.b, game.c).payoff
    current = payoff[:, learners]
    best = torch.stack([reference(act, sig, j, game, model, **options).payoff for j in learners], dim=1)
    best = torch.maximum(best, current)
    return (best - current).sum(dim=1), best, current

"""Change detection for the estimators (docs/model.md §5): the G test, its split
points and the restart of a context's long memory after a change.

``_detect`` runs inside ``recigrad.learning.estimators.update`` on the flat
``(B, W)`` statistics of one table (``W = N * contexts``); the design and the
defaults (``change_threshold``, ``window``, ``fast_horizon``) are explained in
that module's docstring.  ``g_statistic`` is also the test of pooling (which
agents behave alike).  Every function is batched on a leading population
dimension and gives a population the same numbers, bit for bit, alone or in
any batch (on the CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from recigrad.game import DTYPE
from recigrad.util.numerics import per_population

if TYPE_CHECKING:
    from recigrad.learning.estimators import EstimatorConfig


def _powers(base: float, size: int, device=None) -> torch.Tensor:
    """``base ** t`` for ``t < size`` by a running product, so that every entry is
    the same number whatever ``size`` (a vectorised ``pow`` may differ in the last
    bit between its vector and scalar paths, i.e. with the batch)."""
    steps = torch.full((max(size, 1),), base, dtype=DTYPE, device=device)
    steps[0] = 1.0
    return steps.cumprod(0)


def _xlogx(x: torch.Tensor) -> torch.Tensor:
    """``x log x`` (0 at 0) for a tensor with a leading population dimension,
    computed so that population ``k``'s values do not depend on the batch."""
    return per_population(lambda t: torch.xlogy(t, t), x.clamp_min(0.0))


def _loglik(trials: torch.Tensor, ones: torch.Tensor) -> torch.Tensor:
    """Maximised Bernoulli log-likelihood of ``ones`` successes in ``trials``:
    ``f(ones) + f(trials - ones) - f(trials)``, ``f(x) = x log x``."""
    return _xlogx(ones) + _xlogx(trials - ones) - _xlogx(trials)


def _split_points(window: int, device=None) -> torch.Tensor:
    """Split points of the windowed change test: every ``tau`` up to 8, then
    steps of 2, 4 and 6, and the whole window (a change is then located at every
    split, only in the contexts where one was detected)."""
    points = [*range(1, 9), 10, 12, 14, 16, 20, 24, 28, 32, 38, 44, 50, 56, window]
    return torch.tensor(sorted({p for p in points if p <= window}), dtype=torch.int64, device=device)


def _split_statistic(
    n: torch.Tensor, k: torch.Tensor, cumulative: torch.Tensor, points: torch.Tensor, filled: torch.Tensor
) -> torch.Tensor:
    """G statistics ``(B, W, P)`` of the splits "last ``tau`` records against all
    earlier records of the long memory" for ``tau`` in ``points`` (0 where
    ``tau > filled``): ``G = 2 [LL(last tau) + LL(earlier) - LL(all)]``.
    ``n, k, filled``: ``(B, W)``; ``cumulative[..., t]``: outcomes 1 among the last
    ``t + 1`` records."""
    ones = cumulative.index_select(-1, points - 1)
    tau = points.to(DTYPE).expand_as(ones)
    n_, k_ = n.unsqueeze(-1), k.unsqueeze(-1)
    split = 2.0 * (_loglik(tau, ones) + _loglik(n_ - tau, k_ - ones) - _loglik(n_, k_))
    return torch.where(points <= filled.unsqueeze(-1), split, torch.zeros((), dtype=DTYPE, device=n.device))


def g_statistic(n1, k1, sq1, n2, k2, sq2) -> torch.Tensor:
    """Two-sample likelihood-ratio (G) statistic between two weighted Bernoulli
    samples, each given as (sum of weights, weighted successes, sum of squared
    weights) and counted with its effective size ``n**2 / sq``; inputs have a
    leading population dimension.  An empty sample gives 0.  For two unweighted
    samples with the same probability it is about chi-square with one degree of
    freedom."""
    tiny = 1e-12
    zero = torch.zeros((), dtype=DTYPE, device=n1.device)
    e1 = torch.where((sq1 > tiny) & (n1 > tiny), n1.square() / sq1.clamp_min(tiny), zero)
    e2 = torch.where((sq2 > tiny) & (n2 > tiny), n2.square() / sq2.clamp_min(tiny), zero)
    a1 = e1 * (k1 / n1.clamp_min(tiny)).clamp(0.0, 1.0)
    a2 = e2 * (k2 / n2.clamp_min(tiny)).clamp(0.0, 1.0)
    g = 2.0 * (_loglik(e1, a1) + _loglik(e2, a2) - _loglik(e1 + e2, a1 + a2))
    return g.clamp_min(0.0)


def _detect(new: dict[str, torch.Tensor], touched: torch.Tensor, config: EstimatorConfig) -> dict[str, torch.Tensor]:
    """Change detection in the contexts that got records (long memory
    unweighted, ``v = 1``; tensors ``(B, W)``): a split of the window (the last
    ``tau`` records against all earlier ones in the long memory: a windowed GLR
    test) or the fast window against the older records; on a change, the long
    memory restarts from the window's last ``tau`` records (the shortest
    significant split, or the whole window when only the fast window saw the
    change).

    Only the touched contexts are tested (``_detect_flat`` on a ``(1, M)`` gather of them, every
    population's in one row): the cost is that of the records, not of ``W``, and each context's
    numbers are those of the whole table, element for element (``per_population`` pads to whole
    vector blocks)."""
    where = touched.reshape(-1).nonzero().squeeze(-1)
    if where.numel() == 0:
        return new
    stats = ("n", "k", "sq", "fast_n", "fast_k", "fast_sq", "bits", "filled", "resets")
    part = {stat: new[stat].reshape(-1).index_select(0, where).unsqueeze(0) for stat in stats}
    changed, restart = _detect_flat(part, config)
    if changed is None:
        return new
    for stat, value in restart.items():
        shape = new[stat].shape
        kept = torch.where(changed, value, part[stat]).squeeze(0)
        new[stat] = new[stat].reshape(-1).index_copy(0, where, kept).view(shape)
    return new


def _detect_flat(new: dict[str, torch.Tensor], config: EstimatorConfig):
    """``_detect`` on the statistics ``(1, M)`` of ``M`` touched contexts: ``(changed, restart)``,
    the contexts with a change and their restarted statistics, or ``(None, None)`` if none changed."""
    window = config.window
    device = new["n"].device
    n, k, filled = new["n"], new["k"], new["filled"]
    steps = torch.arange(window, device=device)
    outcome = ((new["bits"].unsqueeze(-1) >> steps) & 1).to(DTYPE)  # (1, M, window), t-th most recent
    cumulative = outcome.cumsum(-1)
    # the windowed GLR test at the split points of _split_points
    points = _split_points(window, device)
    split_max, best = _split_statistic(n, k, cumulative, points, filled).max(-1)
    # the fast exponential window against the older records (weights 1 - w)
    old_n = (n - new["fast_n"]).clamp_min(0.0)
    old_k = (k - new["fast_k"]).clamp(min=0.0).minimum(old_n)
    old_sq = (n - 2.0 * new["fast_n"] + new["fast_sq"]).clamp_min(0.0)
    fast = g_statistic(new["fast_n"], new["fast_k"], new["fast_sq"], old_n, old_k, old_sq)
    by_split = split_max > config.change_threshold
    changed = (by_split | (fast > config.change_threshold)) & (filled > 0)
    if not bool(changed.any()):
        return None, None
    keep = torch.where(by_split, points.gather(0, best.view(-1)).view(best.shape), filled)  # records kept
    located = (changed & by_split).squeeze(0).nonzero().squeeze(-1)
    if located.numel():
        # locate the change at every split, in the contexts where one was seen: the shortest split that
        # is itself evidence of a change (records at the boundary that fit both regimes are left out
        # rather than risk restarting from records of the old one)
        part = [value.index_select(1, located) for value in (n, k, cumulative, filled)]
        significant = _split_statistic(*part[:3], steps + 1, part[3]) > config.change_threshold
        shortest = significant.to(torch.int64).argmax(-1) + 1
        keep = keep.index_copy(1, located, shortest)
    keep = keep.clamp(min=1)
    position = (keep - 1).unsqueeze(-1)
    decay = _powers(config.fast_decay, window, device)
    restart = {
        "n": keep.to(DTYPE),
        "k": cumulative.gather(-1, position).squeeze(-1),
        "sq": keep.to(DTYPE),
        "fast_n": decay.cumsum(0).take(keep - 1),
        "fast_k": (outcome * decay).cumsum(-1).gather(-1, position).squeeze(-1),
        "fast_sq": decay.square().cumsum(0).take(keep - 1),
        "filled": keep,
        "resets": new["resets"] + 1,
    }
    return changed, restart

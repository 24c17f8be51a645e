"""How a donor's new reputation forms (docs/model.md §1): observers, aggregation, observation.

After donor ``d`` acts toward recipient ``r`` (realised action ``a``, reputations
``x_d``, ``x_r`` before the interaction):

1. with probability ``1 - q`` (``Game.observation``) nobody observes, and ``x_d`` stays;
2. otherwise ``k`` observers (``Game.observers``) are drawn without replacement,
   uniformly from the *pool*: everyone but ``d``, and also but ``r`` unless
   ``Game.recipient_observes``;
3. observer ``o`` reports "good" with probability ``so[o, a, x_d, x_r]``, the
   observable table (``recigrad.game.observable``: its perception error and the
   assessment error folded in, independently for every observer);
4. the aggregation maps the number ``G`` of good signals to ``x_d``:
   ``single`` (``k = 1``): good iff ``G = 1``; ``majority``: good iff
   ``G > k/2``, bad iff ``G < k/2``, and a tie keeps ``x_d``; ``quorum``: good
   iff ``G >= Q``.

Given ``a``, the observers' signals are independent, but the observers differ,
so ``G`` follows a Poisson-binomial law averaged over the ``C(M, k)`` subsets of
a pool of ``M``.  Its generating function is a coefficient of a product,

    sum_{|S| = k} prod_{o in S} ((1 - p_o) + p_o z)  =  [y^k] prod_{o in pool} (1 + y ((1 - p_o) + p_o z)),

which ``count_distribution`` expands once over all agents (a product of ``N``
factors, degree ``<= k`` in ``y`` and ``z``) and then divides by the factors
of the donor (and the recipient) to leave them out of the pool.  Every
coefficient is a sum of products of probabilities, so the expansion is exact
and differentiable; the division is a recursion in the degree of ``y``.

``good_probability`` gives ``s[d, x_d, x_r] = P(x_d becomes good | x_d, x_r)``
when the pool does not depend on the recipient (the recipient may observe);
``pair_good_probability`` gives ``s[d, r, x_d, x_r]`` for any pool.  Both sum
over the realised action with the donor's ``pc``.  With the defaults (one
observer, the recipient in the pool, ``q = 1``, no perception error) they are
``recigrad.game.good_signal_probability``.
"""

from __future__ import annotations

import math

import torch

from recigrad.game.rules import ConfigError, Game, good_signal_probability


def aggregation_weights(game: Game, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(good, tie)``, each ``(k + 1,)``: for ``G = 0..k`` good signals, whether the new reputation is
    good (1/0), and whether it is a tie that keeps the old one (``majority`` with ``G = k/2``)."""
    k = game.observers
    count = torch.arange(k + 1, dtype=dtype, device=device)
    if game.aggregation == "quorum":
        return (count >= game.quorum).to(dtype), torch.zeros(k + 1, dtype=dtype, device=device)
    return (2 * count > k).to(dtype), (2 * count == k).to(dtype)


def _times(poly: torch.Tensor, p: torch.Tensor, scale: float) -> torch.Tensor:
    """``poly * (1 + scale y ((1 - p) + p z))``, truncated to the degrees of ``poly``
    ``(..., K, K)`` (rows: degree in ``y``, columns: in ``z``); ``p (...)``."""
    lower = poly[..., :-1, :]  # the terms that gain one y
    p = p[..., None, None]
    shifted = torch.nn.functional.pad(lower[..., :-1], (1, 0))  # ... and one z
    grown = scale * ((1.0 - p) * lower + p * shifted)
    return poly + torch.nn.functional.pad(grown, (0, 0, 1, 0))


def _divide(poly: torch.Tensor, p: torch.Tensor, scale: float) -> torch.Tensor:
    """``poly / (1 + scale y ((1 - p) + p z))``, the inverse of ``_times``: row ``j`` of the
    quotient is ``poly[j] - scale ((1 - p) + p z) quotient[j - 1]``."""
    p = p[..., None]
    batch = torch.broadcast_shapes(poly.shape[:-2], p.shape[:-1])
    rows = [poly[..., 0, :].expand(*batch, poly.shape[-1])]
    for j in range(1, poly.shape[-2]):
        previous = rows[-1]
        shifted = torch.nn.functional.pad(previous[..., :-1], (1, 0))
        rows.append(poly[..., j, :] - scale * ((1.0 - p) * previous + p * shifted))
    return torch.stack(rows, dim=-2)


def count_distribution(p: torch.Tensor, k: int, leave_out_recipient: bool, pairs=None) -> torch.Tensor:
    """Law of the number of good signals among ``k`` observers drawn without replacement.

    Args:
        p: ``(..., N)`` each agent's probability of a good signal (one context).
        k: observers per interaction.
        leave_out_recipient: the pool is everyone but ``d`` and ``r`` (else but ``d``).
        pairs: with ``leave_out_recipient``, optional ``(donors, recipients)``, two ``(P,)``
            index tensors: only these pairs (``d != r``) are computed.

    Returns:
        ``(..., N, K)`` for the pool without donor ``d`` (``K = k + 1``, entry ``[d, G]``),
        or ``(..., N, N, K)`` (``[d, r, G]``; entries with ``d == r`` are meaningless)
        when ``leave_out_recipient``, or ``(..., P, K)`` for the given ``pairs``.
    """
    n = p.shape[-1]
    pool = n - 2 if leave_out_recipient else n - 1
    if pool < k:
        raise ConfigError(f"observers = {k} needs at least {k} possible observers; N = {n} gives {pool}")
    scale = 1.0 / n  # keeps the coefficients of y^j near 1/j! rather than C(N, j)
    size = k + 1
    poly = torch.zeros(*p.shape[:-1], size, size, dtype=p.dtype, device=p.device)
    poly[..., 0, 0] = 1.0
    for o in range(n):
        poly = _times(poly, p[..., o], scale)
    without_donor = _divide(poly.unsqueeze(-3), p, scale)  # (..., N, K, K)
    if leave_out_recipient and pairs is not None:
        donors, recipients = pairs
        without = _divide(without_donor[..., donors, :, :], p[..., recipients], scale)  # (..., P, K, K)
    elif leave_out_recipient:
        without = _divide(without_donor.unsqueeze(-3), p.unsqueeze(-2), scale)  # (..., N, N, K, K)
    else:
        without = without_donor
    return without[..., k, :] / (math.comb(pool, k) * scale**k)


def _donor_first(u: torch.Tensor, pairs: bool) -> torch.Tensor:
    """``u (B, a, x_d, x_r, N[, N])`` to ``(B, N[, N], a, x_d, x_r)``."""
    return u.permute(0, 4, 5, 1, 2, 3) if pairs else u.permute(0, 4, 1, 2, 3)


def _update_by_action(pc: torch.Tensor, so: torch.Tensor, game: Game, pairs: bool, chosen=None) -> torch.Tensor:
    """``u[B, d(, r), a, x_d, x_r]``: probability that an *observed* interaction makes ``x_d`` good
    (``u[B, P, a, x_d, x_r]`` for the ``chosen`` pairs ``(donors, recipients)``)."""
    p = so.permute(0, 2, 3, 4, 1)  # (B, a, x_d, x_r, N): observer o's good signal in each context
    distribution = count_distribution(p, game.observers, not game.recipient_observes, chosen)
    good, tie = aggregation_weights(game, so.dtype, so.device)
    x_d = torch.tensor([0.0, 1.0], dtype=so.dtype, device=so.device).reshape(2, 1, *([1] * (2 if pairs and chosen is None else 1)))
    u = (distribution * good).sum(-1) + (distribution * tie).sum(-1) * x_d
    return _donor_first(u, pairs and chosen is None)


def _observed(s: torch.Tensor, game: Game) -> torch.Tensor:
    """Mix in the unobserved interactions (probability ``1 - q``), which keep ``x_d``."""
    q = game.observation
    if q == 1.0:
        return s
    x_d = torch.tensor([0.0, 1.0], dtype=s.dtype, device=s.device).unsqueeze(-1)
    return q * s + (1.0 - q) * x_d


def good_probability(pc: torch.Tensor, so: torch.Tensor, game: Game) -> torch.Tensor:
    """``s[B, d, x_d, x_r]``: probability that donor ``d``'s reputation is good after an
    interaction, given its and the recipient's reputations; the pool of observers is
    everyone but ``d`` (``game.recipient_observes``).

    Args:
        pc: observable action tables ``(B, N, 2, 2)``.
        so: observable signal tables ``(B, N, 2, 2, 2)`` (``recigrad.game.observable``).
        game: how reputations form (observers, aggregation, quorum, observation).

    Returns:
        ``(B, N, 2, 2)``, differentiable in ``pc`` and ``so``.
    """
    if not game.recipient_observes:
        raise ValueError("good_probability needs a pool that does not depend on the recipient; use pair_good_probability")
    if game.observers == 1:
        s = good_signal_probability(pc, so)
    else:
        u = _update_by_action(pc, so, game, pairs=False)  # (B, N, a, x_d, x_r)
        s = pc * u[:, :, 1] + (1.0 - pc) * u[:, :, 0]
    return _observed(s, game)


def pair_good_probability(pc: torch.Tensor, so: torch.Tensor, game: Game, pairs=None) -> torch.Tensor:
    """``s[B, d, r, x_d, x_r]``: as ``good_probability``, for donor ``d`` and recipient ``r``
    (entries with ``d == r`` are meaningless); any pool.

    Args:
        pc: observable action tables ``(B, N, 2, 2)``.
        so: observable signal tables ``(B, N, 2, 2, 2)``.
        game: how reputations form.
        pairs: optional ``(donors, recipients)``, two ``(P,)`` index tensors with ``d != r``:
            only these pairs (the lumped chain needs one per pair of blocks).

    Returns:
        ``(B, N, N, 2, 2)``, or ``(B, P, 2, 2)`` for the given ``pairs``; differentiable in
        ``pc`` and ``so``.
    """
    if pairs is not None:
        donors, recipients = pairs
        if game.recipient_observes:
            return good_probability(pc, so, game)[:, donors]
        pc_d = pc[:, donors]
        if game.observers == 1:
            total = so.sum(dim=1)
            mean = (total.unsqueeze(1) - so[:, donors] - so[:, recipients]) / (pc.shape[1] - 2)  # (B, P, a, x_d, x_r)
            s = pc_d * mean[:, :, 1] + (1.0 - pc_d) * mean[:, :, 0]
        else:
            u = _update_by_action(pc, so, game, pairs=True, chosen=pairs)  # (B, P, a, x_d, x_r)
            s = pc_d * u[:, :, 1] + (1.0 - pc_d) * u[:, :, 0]
        return _observed(s, game)
    n = pc.shape[1]
    if game.recipient_observes:
        return good_probability(pc, so, game).unsqueeze(2).expand(-1, -1, n, -1, -1)
    if game.observers == 1:
        if n < 3:
            raise ConfigError(f"observers = 1 outside donor and recipient needs N >= 3, got N = {n}")
        total = so.sum(dim=1, keepdim=True)
        mean = (total.unsqueeze(2) - so.unsqueeze(2) - so.unsqueeze(1)) / (n - 2)  # (B, d, r, a, x_d, x_r)
        pc_d = pc.unsqueeze(2)
        s = pc_d * mean[:, :, :, 1] + (1.0 - pc_d) * mean[:, :, :, 0]
    else:
        u = _update_by_action(pc, so, game, pairs=True)  # (B, d, r, a, x_d, x_r)
        pc_d = pc.unsqueeze(2)
        s = pc_d * u[:, :, :, 1] + (1.0 - pc_d) * u[:, :, :, 0]
    return _observed(s, game)

"""Each learner's view of its population (docs/model.md §6): the estimates of
the other agents (constants) with the learner's own live tables in its own row."""

from __future__ import annotations

import torch


def substitute(
    pc_hat: torch.Tensor,
    so_hat: torch.Tensor,
    learners: list[int],
    pc_own: torch.Tensor,
    so_own: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each learner's view of its population: the estimates of the others with its
    own live tables in its own row.

    ``pc_hat (B, N, 2, 2)``, ``so_hat (B, N, 2, 2, 2)``: estimates;
    ``pc_own (B, L, 2, 2)``, ``so_own (B, L, 2, 2, 2)``: the live observable
    tables of the ``L`` learners ``learners``.  Returns ``(B, L, N, ...)``
    tables; view ``l`` is differentiable in learner ``l``'s row only (fold
    ``L`` into the batch to solve the model for every learner at once).

    Args:
        pc_hat: ``(B, N, 2, 2)`` estimated observable action tables (detached here).
        so_hat: ``(B, N, 2, 2, 2)`` estimated observable signal tables (detached here).
        learners: the ``L`` learners' agent indices.
        pc_own: ``(B, L, 2, 2)`` the learners' live observable action tables.
        so_own: ``(B, L, 2, 2, 2)`` the learners' live observable signal tables.

    Returns:
        ``(pc_view, so_view)``: ``(B, L, N, 2, 2)`` and ``(B, L, N, 2, 2, 2)``.
    """
    n = pc_hat.shape[1]
    mask = torch.zeros(len(learners), n, dtype=pc_hat.dtype, device=pc_hat.device)
    mask[torch.arange(len(learners), device=mask.device), torch.tensor(learners, dtype=torch.int64, device=mask.device)] = 1.0

    def mix(hat: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        m = mask.reshape(1, len(learners), n, *(1,) * (hat.dim() - 2))
        return hat.detach().unsqueeze(1) * (1.0 - m) + own.unsqueeze(2) * m

    return mix(pc_hat, pc_own), mix(so_hat, so_own)


def shares_observers(game) -> bool:
    """Whether ``good_probabilities`` applies: one observer drawn from everyone but the donor
    (``recigrad.game.good_signal_probability``, any observation probability), public reputations."""
    return game.observers == 1 and game.recipient_observes and not game.private



def observer_sums(
    pc_hat: torch.Tensor,
    so_hat: torch.Tensor,
    learners: list[int],
    pc_own: torch.Tensor,
    so_own: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """What every learner's view changes in ``recigrad.game.formation.good_probability`` with one
    observer drawn from everyone but the donor (docs/model.md §6, "Societies at scale"), ``O(L + N)``.

    ``s[d] = pc[d] sbar_d[C] + (1 - pc[d]) sbar_d[D]`` with ``sbar_d = (T - so[d]) / (N - 1)`` and ``T``
    the sum of every agent's signal table.  View ``l`` (learner ``i``) changes only row ``i``, so its
    ``T_l = T_hat - so_hat[i] + so_own[l]`` and, for ``d != i``,
    ``s[l, d] = (pc_hat[d] slope_l + base_l - own_d) / (N - 1)`` with ``slope_l = T_l[C] - T_l[D]``,
    ``base_l = T_l[D]`` and ``own_d = pc_hat[d] so_hat[d, C] + (1 - pc_hat[d]) so_hat[d, D]``; row ``i``
    is ``s[l, i] = (pc_own[l] (T_hat - so_hat[i])[C] + (1 - pc_own[l]) (T_hat - so_hat[i])[D]) / (N - 1)``.

    Args:
        pc_hat: ``(B, N, 2, 2)`` estimated observable action tables (detached here).
        so_hat: ``(B, N, 2, 2, 2)`` estimated observable signal tables (detached here).
        learners: the ``L`` learners' agent indices.
        pc_own: ``(B, L, 2, 2)`` the learners' live observable action tables.
        so_own: ``(B, L, 2, 2, 2)`` the learners' live observable signal tables.

    Returns:
        ``(slope, base, own, own_term)``: ``(B, L, 2, 2)`` three times (differentiable in ``pc_own`` and
        ``so_own``; ``own`` is row ``i`` of view ``l``) and ``own_term (B, N, 2, 2)`` (constant).
    """
    pc_hat, so_hat = pc_hat.detach(), so_hat.detach()
    n = pc_hat.shape[1]
    index = torch.tensor(learners, dtype=torch.int64, device=pc_hat.device)
    others = so_hat.sum(dim=1).unsqueeze(1) - so_hat[:, index]  # (B, L, a, x_d, x_r): T_hat - so_hat[i]
    views = others + so_own  # T_l
    own = (pc_own * others[:, :, 1] + (1.0 - pc_own) * others[:, :, 0]) / (n - 1)
    own_term = pc_hat * so_hat[:, :, 1] + (1.0 - pc_hat) * so_hat[:, :, 0]
    return views[:, :, 1] - views[:, :, 0], views[:, :, 0], own, own_term


def good_probabilities(
    pc_hat: torch.Tensor,
    so_hat: torch.Tensor,
    learners: list[int],
    pc_own: torch.Tensor,
    so_own: torch.Tensor,
    game,
) -> torch.Tensor:
    """``s (B, L, N, 2, 2)``: ``recigrad.game.formation.good_probability`` of every learner's view
    (``substitute``), built from ``observer_sums`` (``recigrad.dynamics.meanfield.view_good_probability``)
    without the views' signal tables; the same numbers up to rounding (the sum over observers is taken
    once instead of once per view).  ``game`` must satisfy ``shares_observers``.

    Args:
        pc_hat, so_hat, learners, pc_own, so_own: as for ``observer_sums``.
        game: the game (its observation probability ``q``).

    Returns:
        ``(B, L, N, 2, 2)``: ``s[b, l, d, x_d, x_r]``, the probability that ``d``'s reputation is good after
        an interaction in learner ``l``'s view.
    """
    from recigrad.dynamics.meanfield import view_good_probability

    return view_good_probability(*observer_sums(pc_hat, so_hat, learners, pc_own, so_own), pc_hat.detach(), learners, game)

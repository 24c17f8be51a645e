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

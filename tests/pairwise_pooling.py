"""The pairwise pooling of the estimators before docs/model.md §5's leader groups (21a), kept as the
reference the tests compare ``recigrad.learning.pooling`` with: every pair of agents is compared,
``O(N^2 C)`` time and memory (equation (21) with "alike" decided pair by pair)."""

import torch

from recigrad.learning.change_detection import g_statistic
from recigrad.learning.estimators import EstimatorConfig, EstimatorState


def alike(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, threshold: float) -> torch.Tensor:
    """``(B, N, N)`` bool: agents ``j`` and ``l != j`` whose long memories
    ``(B, N, C)`` differ in no context by a G statistic above ``threshold``."""
    g = g_statistic(n.unsqueeze(2), k.unsqueeze(2), sq.unsqueeze(2), n.unsqueeze(1), k.unsqueeze(1), sq.unsqueeze(1))
    eye = torch.eye(n.shape[1], dtype=torch.bool, device=n.device)
    return (g.amax(-1) <= threshold) & ~eye


def _posterior_mean(n: torch.Tensor, k: torch.Tensor, sq: torch.Tensor, config: EstimatorConfig) -> torch.Tensor:
    """Posterior means ``(B, N, C)`` from long-memory counts ``(B, N, C)``."""
    base_mean, base_strength = config.prior_mean, config.prior_strength
    if not config.pool:
        return (k + base_strength * base_mean) / (n + base_strength)
    weight = alike(n, k, sq, config.pool_threshold).to(n.dtype)
    pooled_n = torch.einsum("bjl,blc->bjc", weight, n)
    pooled_k = torch.einsum("bjl,blc->bjc", weight, k)
    prior = (pooled_k + base_strength * base_mean) / (pooled_n + base_strength)
    # where no alike agent has a record of the context, the base prior keeps its own strength
    strength = torch.where(pooled_n > 0, config.pool_strength, base_strength).to(n.dtype)
    return (k + strength * prior) / (n + strength)


def pairwise_estimate(state: EstimatorState, config: EstimatorConfig | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``estimate(state, config)`` with the pairwise pooling: ``(pc_hat, so_hat)``, float64."""
    config = config or EstimatorConfig()
    result = []
    for table in ("act", "sig"):
        shape = getattr(state, f"{table}_n").shape
        counts = [getattr(state, f"{table}_{stat}").reshape(state.batch, state.n, -1) for stat in ("n", "k", "sq")]
        result.append(_posterior_mean(*counts, config).reshape(shape))
    return result[0], result[1]

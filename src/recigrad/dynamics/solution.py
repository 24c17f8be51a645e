"""What the exact chain and the reputation-chain model answer for a population."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Solution:
    """Long-run quantities per population and agent, each ``(B, N)``.

    ``payoff``: expected payoff per round (``N`` interactions);
    ``good``: stationary probability of a good reputation;
    ``given``: probability of a realised C when the agent is donor
    (recipient uniform over the others); ``received``: probability of a
    realised C towards the agent when it is recipient (donor uniform over the others).
    """

    payoff: torch.Tensor
    good: torch.Tensor
    given: torch.Tensor
    received: torch.Tensor

    @property
    def cooperation(self) -> torch.Tensor:
        """Population cooperation rate ``(B,)``: realised C per interaction."""
        return self.given.mean(dim=1)

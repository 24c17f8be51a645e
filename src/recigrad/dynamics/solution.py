"""What the exact chain and the mean-field chain answer for a population (docs/model.md §3, §4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Solution:
    """Long-run quantities per population and agent, each ``(B, N)``.

    Returned by `recigrad.dynamics.exact.solve` and `recigrad.dynamics.meanfield.solve`
    for ``B`` populations of ``N`` agents; differentiable in the tables they were given.

    Attributes:
        payoff: expected payoff per round (``N`` interactions), ``b`` per C received
            minus ``c`` per C given.
        good: stationary probability of a good reputation.
        given: probability of a realised C when the agent is donor (recipient
            uniform over the others).
        received: probability of a realised C towards the agent when it is
            recipient (donor uniform over the others).
    """

    payoff: torch.Tensor
    good: torch.Tensor
    given: torch.Tensor
    received: torch.Tensor

    @property
    def cooperation(self) -> torch.Tensor:
        """Population cooperation rate ``(B,)``: realised C per interaction."""
        return self.given.mean(dim=1)

"""Figures of a private-assessment run (docs/model.md §1, "Private assessment: one interaction", the measures),
time averages over the counted interactions of a ``recigrad.dynamics.private.PrivateTally``
(the burn-in is whatever the caller played before counting).

Each function returns one value per population ``(B,)`` float64:

- ``cooperation``: the share of donations realised as C;
- ``good_views``: the share of good views among the ``N (N - 1)`` views of *other* agents
  (self-views do not count);
- ``agreement``: the probability that two random distinct agents ``i != l`` hold the same
  view of a random third ``j`` (NaN when ``N < 3``); 1 under public reputations;
- ``class_cooperation``: per class of agents (e.g. each norm of a mixed population), the
  share of that class's donations realised as C (NaN for a class that never donated).
"""

from __future__ import annotations

import math

import torch

from recigrad.dynamics.private import PrivateTally


def cooperation(tally: PrivateTally) -> torch.Tensor:
    """Realised C per donation, ``(B,)``."""
    return tally.given.sum(1) / tally.donated.sum(1).clamp(min=1)


def good_views(tally: PrivateTally) -> torch.Tensor:
    """The time-averaged share of good views of others, ``(B,)``."""
    n = tally.good.shape[1]
    return tally.good.sum(1) / (max(tally.interactions, 1) * n * (n - 1))


def standing(tally: PrivateTally) -> torch.Tensor:
    """Per agent, the time-averaged share of the others that view it good, ``(B, N)``."""
    n = tally.good.shape[1]
    return tally.good / (max(tally.interactions, 1) * (n - 1))


def agreement(tally: PrivateTally) -> torch.Tensor:
    """The time-averaged probability that two distinct agents agree on a third, ``(B,)``."""
    n = tally.good.shape[1]
    if n < 3:
        return torch.full_like(tally.agree, math.nan)
    return tally.agree / (max(tally.interactions, 1) * n * (n - 1) * (n - 2))


def class_cooperation(tally: PrivateTally, labels: list[str]) -> dict[str, torch.Tensor]:
    """Realised C per donation by the donors of each class, ``{label: (B,)}`` in first-seen order.

    Args:
        tally: the counts, ``(B, N)`` per agent.
        labels: agent ``j``'s class (``N`` of them), e.g. ``"norm:L1"``.
    """
    if len(labels) != tally.given.shape[1]:
        raise ValueError(f"{len(labels)} labels for {tally.given.shape[1]} agents")
    out = {}
    for label in dict.fromkeys(labels):
        members = [j for j, other in enumerate(labels) if other == label]
        donated = tally.donated[:, members].sum(1)
        out[label] = torch.where(donated > 0, tally.given[:, members].sum(1) / donated.clamp(min=1),
                                 torch.full_like(donated, math.nan))
    return out

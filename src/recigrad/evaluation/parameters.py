"""The parameterisation of a learner's tables by a vector of free entries (docs/model.md §2, §8).

The free-entry encoding (which entries of ``act (2, 2)`` and ``sig (2, 2, 2)``
a vector ``p (..., P)`` fills) is written here, for the best-response solver:
third order (12 entries), second order (6: the tables ignore ``x_own`` /
``x_donor``), or one head only (``OneHead``: the other head is fixed).
It is the solver's own encoding; a shared module of contexts, once the game
has one, is where its index order should come from.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game import DTYPE, ConfigError


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

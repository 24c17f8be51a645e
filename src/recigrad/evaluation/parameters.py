"""The parameterisation of a learner's tables by a vector of free entries (docs/model.md §2, §8).

Which entries of ``act (2, 2)`` and ``sig (2, 2, 2)`` a vector ``p (..., P)``
fills, for the best-response solver: third order (12 entries, in the order of the
decision contexts of ``recigrad.game.contexts``), second order (6: the tables ignore
``x_own`` / ``x_donor``), or one head only (``OneHead``: the other head is fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game import DTYPE, ConfigError
from recigrad.game.contexts import ACTION_CONTEXTS, CONTEXTS, SIGNAL_CONTEXTS, split_tables


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
        return ACTION_CONTEXTS if self.head == "action" else SIGNAL_CONTEXTS

    def expand(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lead = p.shape[:-1]
        if self.head == "action":
            return p.reshape(*lead, 2, 2), self.sig.to(p.dtype).expand(*lead, 2, 2, 2)
        return self.act.to(p.dtype).expand(*lead, 2, 2), p.reshape(*lead, 2, 2, 2)

    def frozen(self) -> torch.Tensor:
        """``(12,)`` True for the decision contexts whose entries cannot change."""
        mask = torch.ones(CONTEXTS, dtype=torch.bool)
        mask[slice(0, ACTION_CONTEXTS) if self.head == "action" else slice(ACTION_CONTEXTS, CONTEXTS)] = False
        return mask


def free_entries(order) -> int:
    """Free entries of a learner policy: 12 (third order), 6 (second order), or one head's."""
    if isinstance(order, OneHead):
        return order.free
    if order not in (2, 3):
        raise ConfigError(f"order must be 2 or 3, got {order}")
    return CONTEXTS if order == 3 else CONTEXTS // 2


def expand(p: torch.Tensor, order) -> tuple[torch.Tensor, torch.Tensor]:
    """Tables ``act (..., 2, 2)``, ``sig (..., 2, 2, 2)`` from free entries ``p (..., P)``.

    Third order: ``p`` holds the 12 decision contexts (``recigrad.game.contexts.split_tables``).  Second order:
    ``p = act[x_rec] ++ sig[a, x_rec].flatten()``, copied over ``x_own`` / ``x_donor``.
    One head (``OneHead``): that head's entries; the other head is fixed.
    """
    if isinstance(order, OneHead):
        return order.expand(p)
    lead = p.shape[:-1]
    if order == 3:
        return split_tables(p)
    act = p[..., :2].unsqueeze(-2).expand(*lead, 2, 2)
    sig = p[..., 2:].reshape(*lead, 2, 2).unsqueeze(-2).expand(*lead, 2, 2, 2)
    return act, sig


def deterministic(order: int) -> torch.Tensor:
    """Every deterministic policy as free entries, ``(2^P, P)``; candidate ``k``'s
    entry ``i`` is bit ``i`` of ``k`` (candidate 0 defects and says "bad" everywhere)."""
    p = free_entries(order)
    k = torch.arange(2**p).unsqueeze(1)
    return ((k >> torch.arange(p)) & 1).to(DTYPE)


def adam_ascent(theta: torch.Tensor, grad: torch.Tensor, first: torch.Tensor, second: torch.Tensor, step: int,
                rate: float, betas: tuple[float, float], active: torch.Tensor):
    """One step of Adam written out, ascending, for the rows of ``theta`` that are ``active`` (the others
    stay): no epsilon, so each step is near ``rate`` in logit space whatever the gradient's size.
    Returns ``(theta, first, second)``."""
    beta1, beta2 = betas
    first = beta1 * first + (1 - beta1) * grad
    second = beta2 * second + (1 - beta2) * grad**2
    direction = first / (1 - beta1 ** (step + 1))
    scale = (second / (1 - beta2 ** (step + 1))).sqrt()
    theta = torch.where(active.unsqueeze(1), theta + rate * torch.where(scale > 0, direction / scale, 0.0), theta)
    return theta, first, second

"""The donation game's parameters and the conventions every module shares.

Tables (docs/model.md §2), indexed by 0 = bad / defect and 1 = good / cooperate:

- an action table ``act[x_own, x_rec]``: probability of *intending* to cooperate;
- a signal table ``sig[a, x_donor, x_rec]``: probability of emitting "good".

Population tables carry a leading ``(batch, agent)`` shape: ``act`` is
``(B, N, 2, 2)`` and ``sig`` is ``(B, N, 2, 2, 2)``.

The *observable* tables fold the errors in: an intended C is realised with
probability ``1 - e`` (D stays D), and an emitted signal is flipped with
probability ``mu``.  The world, the exact chain and the reputation-chain model
all work on observable tables, so a learner's estimates of others (which are
observable already) and true tables go through the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from recigrad.errors import ConfigError

DTYPE = torch.float64
# benefit and cost at most this: payoffs per round (b, c times rates, summed over agents) stay finite
# and printable as standard JSON (docs/model.md §1, §10)
MAX_PAYOFF = 1e12


def finite_number(key: str, value, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a float if it is a real number (not a bool) in ``[low, high]``; else one line."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {short_repr(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number) or not low <= number <= high:
        raise ConfigError(f"{key} must be a finite number in [{low:g}, {high:g}], got {short_repr(value)}")
    return number


def short_repr(value) -> str:
    """A one-line, bounded ``repr`` of a user's value (huge integers and nested data included)."""
    try:
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else f"an integer of {value.bit_length()} bits"
    except (RecursionError, ValueError):
        text = f"a deeply nested {type(value).__name__}"
    text = text.replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Game:
    """Donation-game parameters: benefit ``b``, cost ``c``, execution error ``e``,
    assessment error ``mu`` (docs/model.md §1)."""

    b: float = 5.0
    c: float = 1.0
    e: float = 0.01
    mu: float = 0.01

    def __post_init__(self) -> None:
        for name in ("b", "c", "e", "mu"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{_LONG[name]} must be a finite number, got {short_repr(value)}")
            finite_number(_LONG[name], value, -MAX_PAYOFF, MAX_PAYOFF)
        if not self.c > 0:
            raise ConfigError(f"cost must be > 0, got {self.c}")
        if not self.b > self.c:
            raise ConfigError(f"benefit must be greater than cost (b > c > 0), got b={self.b}, c={self.c}")
        for name in ("e", "mu"):
            value = getattr(self, name)
            if not 0.0 <= value < 0.5:
                raise ConfigError(f"{_LONG[name]} must be in [0, 0.5), got {value}")


_LONG = {"b": "benefit", "c": "cost", "e": "execution_error", "mu": "assessment_error"}


def observable_action(act: torch.Tensor, e: float) -> torch.Tensor:
    """Probability of a *realised* C: ``act * (1 - e)``."""
    return act * (1.0 - e)


def observable_signal(sig: torch.Tensor, mu: float) -> torch.Tensor:
    """Probability of an *observed* "good": ``(1 - mu) sig + mu (1 - sig)``."""
    return (1.0 - mu) * sig + mu * (1.0 - sig)


def observable(act: torch.Tensor, sig: torch.Tensor, game: Game) -> tuple[torch.Tensor, torch.Tensor]:
    """Both observable tables ``(pc, so)`` from intended tables."""
    return observable_action(act, game.e), observable_signal(sig, game.mu)


def good_signal_probability(pc: torch.Tensor, so: torch.Tensor) -> torch.Tensor:
    """``s[B, d, x_d, x_r]``: probability that donor ``d``'s next public signal is
    good, given the donor's and the recipient's reputations.

    The observer is uniform over the agents other than ``d``, so its table is
    averaged over them (``sbar_d``), and the realised action mixes C and D:
    ``s_d = pc_d sbar_d[C] + (1 - pc_d) sbar_d[D]``.
    """
    n = so.shape[1]
    sbar = (so.sum(dim=1, keepdim=True) - so) / (n - 1)
    return pc * sbar[:, :, 1] + (1.0 - pc) * sbar[:, :, 0]

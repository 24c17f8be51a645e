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


AGGREGATIONS = ("single", "majority", "quorum")


@dataclass(frozen=True)
class Game:
    """Donation-game parameters (docs/model.md §1): benefit ``b``, cost ``c``,
    execution error ``e``, assessment error ``mu``, and how a donor's new
    reputation forms (``recigrad.game.formation``):

    - ``observers``: k observers per observed interaction, drawn without
      replacement from everyone but the donor (and but the recipient unless
      ``recipient_observes``);
    - ``aggregation``: ``single`` (k must be 1), ``majority`` (more good than bad
      signals; a tie keeps the old reputation) or ``quorum`` (good iff at least
      ``quorum`` of the k signals are good; ``quorum = k`` is unanimity);
    - ``observation``: q, the probability that an interaction is observed at
      all (otherwise the donor's reputation is unchanged);
    - ``perception_error``: each observer perceives the realised action flipped
      with this probability, independently, before it assesses.

    Private assessment (docs/model.md §1, "Private assessment and gossip"):

    - ``assessment``: ``public`` (one public reputation per agent, the game above)
      or ``private`` (every agent ``i`` keeps its own view ``M[i, j]`` of every
      agent ``j``; the donor acts on its own views, every other agent observes
      with probability ``observation``, donor and recipient always do, and each
      observer assesses by its own norm with its own views);
    - ``initial_good``: under private assessment, the probability that each
      initial view is good (default 1: everyone starts good in everyone's eyes);
    - ``schedule``: ``uniform`` (a random donor and recipient per interaction) or
      ``permutation`` (each round every agent donates once, to a recipient drawn by
      a random permutation with no agent its own recipient); private only;
    - ``gossip``: the expected number of gossip events per interaction (a random
      speaker tells a random listener its view of a random third agent); private only;
    - ``gossip_trust``: the probability that the listener adopts what it is told.

    The defaults (one observer, the recipient may observe, always observed, no
    perception error) are the game of docs/model.md §1 without these extensions.
    """

    b: float = 5.0
    c: float = 1.0
    e: float = 0.01
    mu: float = 0.01
    observers: int = 1
    recipient_observes: bool = True
    aggregation: str = "single"
    quorum: int | None = None
    observation: float = 1.0
    perception_error: float = 0.0
    assessment: str = "public"
    initial_good: float = 1.0
    schedule: str = "uniform"
    gossip: float = 0.0
    gossip_trust: float = 1.0

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
        self._check_formation()
        self._check_private()

    def _check_private(self) -> None:
        if self.assessment not in ASSESSMENTS:
            raise ConfigError(f"assessment = {short_repr(self.assessment)} is not allowed; allowed: {', '.join(ASSESSMENTS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule = {short_repr(self.schedule)} is not allowed; allowed: {', '.join(SCHEDULES)}")
        finite_number("initial_good", self.initial_good, 0.0, 1.0)
        finite_number("gossip", self.gossip, 0.0, MAX_GOSSIP)
        finite_number("gossip_trust", self.gossip_trust, 0.0, 1.0)
        if self.assessment == "public":
            for name, default in _PRIVATE_ONLY.items():
                if getattr(self, name) != default:
                    raise ConfigError(f"{name} is used only with assessment = private, got {name} = "
                                      f"{short_repr(getattr(self, name))} with assessment = public")
        else:
            for name, default in _PUBLIC_ONLY.items():
                if getattr(self, name) != default:
                    raise ConfigError(f"{name} is used only with assessment = public (under private assessment every "
                                      f"agent but donor and recipient observes with probability observation), got "
                                      f"{name} = {short_repr(getattr(self, name))}")

    @property
    def private(self) -> bool:
        """Whether every agent keeps its own view (``assessment = "private"``)."""
        return self.assessment == "private"

    def require_public(self, what: str) -> None:
        """Refuse private assessment in code written for public reputations."""
        if self.private:
            raise ConfigError(f"{what} needs public reputations (assessment = public); got assessment = private")

    def _check_formation(self) -> None:
        k = self.observers
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_OBSERVERS:
            raise ConfigError(f"observers must be an integer in [1, {MAX_OBSERVERS}], got {short_repr(k)}")
        if not isinstance(self.recipient_observes, bool):
            raise ConfigError(f"recipient_observes must be true or false, got {short_repr(self.recipient_observes)}")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"aggregation = {short_repr(self.aggregation)} is not allowed; allowed: {', '.join(AGGREGATIONS)}")
        if self.aggregation == "single" and k != 1:
            raise ConfigError(f"aggregation = single needs observers = 1, got observers = {k}; use majority or quorum")
        if self.aggregation == "quorum":
            quorum = self.quorum
            if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= k:
                raise ConfigError(f"aggregation = quorum needs quorum, an integer in [1, observers = {k}], got {short_repr(quorum)}")
        elif self.quorum is not None:
            raise ConfigError(f"quorum is used only with aggregation = quorum, got aggregation = {self.aggregation}")
        q = finite_number("observation", self.observation, 0.0, 1.0)
        if not q > 0:
            raise ConfigError(f"observation must be in (0, 1] (with 0 no reputation ever changes), got {self.observation}")
        epsilon = finite_number("perception_error", self.perception_error, 0.0, 1.0)
        if not epsilon < 0.5:
            raise ConfigError(f"perception_error must be in [0, 0.5), got {self.perception_error}")

    @property
    def plain_formation(self) -> bool:
        """One observer, the recipient may observe, every interaction observed, no perception error:
        the game of docs/model.md §1 without the extensions (every solver's original path)."""
        return self.observers == 1 and self.recipient_observes and self.observation == 1.0 and self.perception_error == 0.0

    def check_population(self, n: int) -> None:
        """Refuse ``observers`` larger than the pool of possible observers among ``n`` agents."""
        pool = n - 1 if self.recipient_observes else n - 2
        if self.observers > pool:
            who = "everyone but the donor" if self.recipient_observes else "everyone but the donor and the recipient"
            raise ConfigError(f"observers = {self.observers} needs at least {self.observers} possible observers ({who}); "
                              f"N = {n} gives {pool}")


MAX_OBSERVERS = 64
MAX_GOSSIP = 1000.0
ASSESSMENTS = ("public", "private")
SCHEDULES = ("uniform", "permutation")
_PRIVATE_ONLY = {"initial_good": 1.0, "schedule": "uniform", "gossip": 0.0, "gossip_trust": 1.0}
_PUBLIC_ONLY = {"observers": 1, "recipient_observes": True, "aggregation": "single", "quorum": None}
_LONG = {"b": "benefit", "c": "cost", "e": "execution_error", "mu": "assessment_error"}


def observable_action(act: torch.Tensor, e: float) -> torch.Tensor:
    """Probability of a *realised* C: ``act * (1 - e)``."""
    return act * (1.0 - e)


def observable_signal(sig: torch.Tensor, mu: float, perception_error: float = 0.0) -> torch.Tensor:
    """Probability of an *observed* "good" given the *realised* action ``a`` (dim ``-3``).

    The observer perceives ``a`` flipped with probability ``perception_error``,
    emits ``sig`` at the perceived action, and the signal is flipped with
    probability ``mu``: ``(1 - mu) s + mu (1 - s)`` with
    ``s[a] = (1 - eps) sig[a] + eps sig[1 - a]`` (no mixing when ``eps = 0``).
    """
    if perception_error:
        sig = (1.0 - perception_error) * sig + perception_error * sig.flip(-3)
    return (1.0 - mu) * sig + mu * (1.0 - sig)


def observable(act: torch.Tensor, sig: torch.Tensor, game: Game) -> tuple[torch.Tensor, torch.Tensor]:
    """Both observable tables ``(pc, so)`` from intended tables: ``so`` is the probability of an
    observed "good" given the realised action, perception and assessment errors folded in."""
    return observable_action(act, game.e), observable_signal(sig, game.mu, game.perception_error)


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

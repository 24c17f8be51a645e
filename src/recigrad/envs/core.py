"""The game of docs/model.md §1 for one population, one decision at a time.

``Core`` is a small state machine in plain Python.  An interaction has two
decisions, the donor's *action* and the observer's *signal*; a decision by a
fixed agent is drawn from its intended table, a decision by an *external*
agent (a learner driven by an environment) stops the machine until the caller
supplies it.  The rules, and the order of the random draws, are those of
``recigrad.dynamics.plain``:

1. donor ``d`` uniform over all agents, recipient ``r`` uniform over the others;
2. the donor intends C with probability ``act[d][x_d][x_r]`` (or the external
   choice); an intended C becomes D with probability ``e``; ``a`` is realised;
3. if ``a = C`` the donor gets ``-c`` and the recipient ``+b``;
4. observer ``o`` uniform over all agents but the donor (the recipient
   included) emits "good" with probability ``sig[o][a][x_d][x_r]`` (or the
   external choice); the emitted signal is flipped with probability ``mu``;
5. the signal becomes ``x_d``; the public record ``(d, r, x_d, x_r, a, o,
   signal)`` holds the reputations before the interaction.

An external decision replaces the uniform that a fixed agent's decision would
draw; every other draw happens as in ``recigrad.dynamics.plain``, so a ``Core`` without
external agents and fed ``random.Random(seed)`` replays ``play_plain`` exactly.

Observations of an agent are five integers ``(role, x_own, x_d, x_r, a)``:
``role`` 0 (not deciding), 1 (donor: choose the action, 0 defect / 1 cooperate)
or 2 (observer: choose the signal, 0 bad / 1 good); ``x_own`` the agent's own
reputation; ``x_d`` and ``x_r`` the donor's and the recipient's reputations
(0 when not deciding); ``a`` the realised action seen by an observer, 2 when
there is none (donor, or not deciding); ``observation_box()`` is their space.

A decision is ``0`` or ``1``, a Python int or a numpy integer (scalar or 0-d
array); ``decision`` refuses anything else (floats, strings, bools, other
integers) with a ``ConfigError`` (a ``ValueError``).  Using an environment
before ``reset`` raises a ``RuntimeError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recigrad.dynamics.records import Record
from recigrad.game import ConfigError, Game
from recigrad.game.regime import Regime, load_config, load_regime

ROLE_NONE, ROLE_DONOR, ROLE_OBSERVER = 0, 1, 2
NO_ACTION = 2
OBS_HIGH = (2, 1, 1, 1, 2)  # role, x_own, x_d, x_r, a (all from 0)
RENDER_MODES = ("human", "ansi")


def observation_box():
    """The observation space of every environment: ``(role, x_own, x_d, x_r, a)``,
    integers from 0 to ``OBS_HIGH`` (a ``gymnasium.spaces.Box``; PettingZoo's
    checker prefers Box to MultiDiscrete)."""
    from gymnasium import spaces

    return spaces.Box(low=0, high=np.array(OBS_HIGH), shape=(len(OBS_HIGH),), dtype=np.int64)


def check_options(max_interactions, render_mode) -> int:
    """Validate the options every environment takes; returns ``max_interactions`` as an int.

    Args:
        max_interactions: interactions per episode, a positive integer.
        render_mode: None or one of ``RENDER_MODES``.

    Returns:
        ``int(max_interactions)``.
    """
    if isinstance(max_interactions, bool) or not isinstance(max_interactions, (int, np.integer)) or max_interactions < 1:
        raise ConfigError(f"max_interactions must be a positive integer, got {max_interactions!r}")
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ConfigError(f"render_mode {render_mode!r} is not allowed; allowed: None, {', '.join(RENDER_MODES)}")
    return int(max_interactions)


def decision(choice) -> int:
    """A decision as an int: ``choice`` must be 0 or 1, a Python int or a numpy
    integer (scalar or 0-d array); anything else raises a one-line ``ConfigError``."""
    value = choice
    if isinstance(value, np.ndarray) and value.shape == () and np.issubdtype(value.dtype, np.integer):
        value = value.item()
    elif isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1):
        raise ConfigError(f"a decision is 0 or 1 (an int or a numpy integer), got {choice!r}")
    return value


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision the caller owes: ``agent`` decides in ``role``; ``a`` is the
    realised action an observer sees (``NO_ACTION`` for a donor)."""

    agent: int
    role: int
    x_own: int
    x_d: int
    x_r: int
    a: int

    def observation(self) -> np.ndarray:
        return np.array((self.role, self.x_own, self.x_d, self.x_r, self.a), dtype=np.int64)


def idle_observation(x_own: int) -> np.ndarray:
    """Observation of an agent that is not deciding."""
    return np.array((ROLE_NONE, x_own, 0, 0, NO_ACTION), dtype=np.int64)


class Uniforms:
    """Uniforms on [0, 1) from a numpy ``Generator``, drawn in blocks (one numpy
    call per ``block`` draws), with ``random()`` and ``randrange(k)`` like
    ``random.Random``."""

    def __init__(self, generator: np.random.Generator, block: int = 1024) -> None:
        self._generator = generator
        self._block = block
        self._buffer: list[float] = []
        self._next = 0

    def random(self) -> float:
        if self._next >= len(self._buffer):
            self._buffer = self._generator.random(self._block).tolist()
            self._next = 0
        u = self._buffer[self._next]
        self._next += 1
        return u

    def randrange(self, k: int) -> int:
        return int(self.random() * k)


def resolve_regime(regime: str | os.PathLike | Regime) -> Regime:
    """A ``Regime``: given, a shipped name, or a TOML file (a path, or a name
    ending in ``.toml``)."""
    if isinstance(regime, Regime):
        return regime
    if isinstance(regime, os.PathLike) or (isinstance(regime, str) and (regime.endswith(".toml") or os.sep in regime)):
        return load_config(Path(regime))
    if isinstance(regime, str):
        return load_regime(regime)
    raise ConfigError(f"regime must be a shipped regime name, a TOML file or a Regime, got {regime!r}")


class Core:
    """One population's game state, advanced until an external agent decides.

    ``act[j][x_own][x_rec]`` and ``sig[j][a][x_donor][x_rec]`` are intended
    tables (nested sequences or arrays; the rows of external agents are not
    used); ``external`` are the agents whose decisions the caller supplies.
    """

    def __init__(self, game: Game, act, sig, external: Iterable[int] = ()) -> None:
        self.game = game
        self.act = np.asarray(act, dtype=float).tolist()
        self.sig = np.asarray(sig, dtype=float).tolist()
        self.n = len(self.act)
        if self.n < 3 or len(self.sig) != self.n:
            raise ConfigError(f"tables for N >= 3 agents needed, got {len(self.act)} action and {len(self.sig)} signal tables")
        self.external = frozenset(int(j) for j in external)
        if not self.external <= set(range(self.n)):
            raise ConfigError(f"external agents {sorted(self.external)} outside 0..{self.n - 1}")
        self.x = [1] * self.n
        self.interactions = 0
        self.pending: Decision | None = None
        self.last: Record | None = None
        self._rng = None
        self._partial = (0, 0, 0, 0, 0, 0)  # d, r, x_d, x_r, a, o

    @classmethod
    def from_regime(cls, regime: Regime, external: Iterable[int] | None = None) -> Core:
        """The regime's population; ``external`` defaults to its learners."""
        act, sig = regime.population.tables()
        if external is None:
            external = regime.population.learners
        return cls(regime.game, act.tolist(), sig.tolist(), external)

    @property
    def started(self) -> bool:
        """Whether ``reset`` has been called."""
        return self._rng is not None

    def reset(self, rng) -> None:
        """Everyone good, no interaction played; ``rng`` has ``random()`` and
        ``randrange(k)`` (``random.Random`` or ``Uniforms``)."""
        self._rng = rng
        self.x = [1] * self.n
        self.interactions = 0
        self.pending = None
        self.last = None

    def describe(self, limit: int | None = None) -> str:
        """A few lines of text: progress, reputations, the last record, the pending decision."""
        of = "" if limit is None else f"/{limit}"
        lines = [f"interactions {self.interactions}{of}  reputations {''.join(map(str, self.x))}"]
        if self.last is not None:
            r = self.last
            lines.append(f"last record: d={r.donor} r={r.recipient} x_d={r.donor_rep} x_r={r.recipient_rep} "
                         f"a={'DC'[r.action]} o={r.observers[0]} signal={'BG'[r.signals[0]]}")
        if self.pending is not None:
            p = self.pending
            what = "donor, to act" if p.role == ROLE_DONOR else f"observer, to signal on a={'DC'[p.a]}"
            lines.append(f"deciding: agent {p.agent} ({what}; x_own={p.x_own} x_d={p.x_d} x_r={p.x_r})")
        return "\n".join(lines)

    def observation(self, agent: int) -> np.ndarray:
        if self.pending is not None and self.pending.agent == agent:
            return self.pending.observation()
        return idle_observation(self.x[agent])

    def advance(self, choice: int | None = None, limit: int | None = None) -> tuple[list[Record], list[float]]:
        """Apply ``choice`` to the pending decision (required when one is
        pending, refused otherwise), then play on until the next external
        decision or until ``limit`` interactions are complete (an interaction
        once begun is always completed or left pending).

        Returns the records of the interactions completed and each agent's
        payoff accrued meanwhile.
        """
        if not self.started:
            raise RuntimeError("call reset() before advance()")
        records: list[Record] = []
        payoff = [0.0] * self.n
        pending = self.pending
        if pending is not None:
            if choice is None:
                raise ValueError(f"agent {pending.agent} owes a decision: pass choice 0 or 1")
            choice = decision(choice)
            self.pending = None
            if pending.role == ROLE_DONOR:
                self._act(choice, payoff, records)
            else:
                self._finish(choice, records)
        elif choice is not None:
            raise ValueError("no decision is pending: call advance() without a choice")
        while self.pending is None and (limit is None or self.interactions < limit):
            self._begin(payoff, records)
        return records, payoff

    # The interaction, step by step (draw order as in recigrad.dynamics.plain).

    def _begin(self, payoff: list[float], records: list[Record]) -> None:
        rng, x = self._rng, self.x
        d = rng.randrange(self.n)
        r = rng.randrange(self.n - 1)
        r += r >= d
        x_d, x_r = x[d], x[r]
        self._partial = (d, r, x_d, x_r, 0, 0)
        if d in self.external:
            self.pending = Decision(d, ROLE_DONOR, x_d, x_d, x_r, NO_ACTION)
            return
        intended = 1 if rng.random() < self.act[d][x_d][x_r] else 0
        self._act(intended, payoff, records)

    def _act(self, intended: int, payoff: list[float], records: list[Record]) -> None:
        rng = self._rng
        d, r, x_d, x_r, _, _ = self._partial
        a = intended
        if a == 1 and rng.random() < self.game.e:
            a = 0
        if a == 1:
            payoff[d] -= self.game.c
            payoff[r] += self.game.b
        o = rng.randrange(self.n - 1)
        o += o >= d
        self._partial = (d, r, x_d, x_r, a, o)
        if o in self.external:
            self.pending = Decision(o, ROLE_OBSERVER, self.x[o], x_d, x_r, a)
            return
        emitted = 1 if rng.random() < self.sig[o][a][x_d][x_r] else 0
        self._finish(emitted, records)

    def _finish(self, emitted: int, records: list[Record]) -> None:
        d, r, x_d, x_r, a, o = self._partial
        signal = emitted
        if self._rng.random() < self.game.mu:
            signal = 1 - signal
        self.x[d] = signal
        self.interactions += 1
        self.last = Record(donor=d, recipient=r, observers=(o,), donor_rep=x_d, recipient_rep=x_r, action=a, signals=(signal,),
                           perceived=(a,), reputation=signal)
        records.append(self.last)


def render(core: Core, mode: str | None, max_interactions: int) -> str | None:
    """The environments' ``render``: ``ansi`` returns the text, ``human`` prints it."""
    if mode is None:
        return None
    text = core.describe(max_interactions)
    if mode == "ansi":
        return text
    print(text)
    return None

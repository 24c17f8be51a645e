"""The game of docs/model.md §1 for one population, one decision at a time.

``Core`` is a small state machine in plain Python.  An interaction has
decisions of two kinds, the donor's *action* and each observer's *signal*; a
decision by a fixed agent is drawn from its intended table, a decision by an
*external* agent (a learner driven by an environment) stops the machine until
the caller supplies it.  The rules (``recigrad.game.Game``; docs/model.md §1),
and the order of the random draws:

1. donor ``d`` uniform over all agents, recipient ``r`` uniform over the others;
2. the donor intends C with probability ``act[d][x_d][x_r]`` (or the external
   choice); an intended C becomes D with probability ``e``; ``a`` is realised;
3. if ``a = C`` the donor gets ``-c`` and the recipient ``+b``;
4. the interaction is observed with probability ``q`` (``Game.observation``; one
   uniform, drawn only when ``q < 1``); if not, the record has no observers and
   ``x_d`` stays;
5. ``k`` observers (``Game.observers``) are drawn without replacement from the
   pool, everyone but the donor (and but the recipient unless
   ``Game.recipient_observes``), as the world draws them
   (``recigrad.dynamics.kernel``): the ``i``-th is the ``randrange(M - i)``-th,
   in increasing order, of the ``M - i`` members of the pool not drawn yet;
6. each observer, in draw order, perceives ``a`` flipped with probability
   ``perception_error`` (a uniform drawn only when the error is positive),
   emits "good" with probability ``sig[o][perceived][x_d][x_r]`` (a uniform;
   none for an external observer, whose choice, given the perceived action,
   replaces it), and its signal is flipped with probability ``mu`` (a
   uniform); all these uniforms are drawn, in this order, as soon as the
   observers are, so the observations of a whole phase are known at once;
7. the aggregation (``Game.aggregation``) maps the ``G`` good signals to the
   donor's new reputation: ``single``, good iff ``G = 1``; ``majority``, good iff
   ``G > k/2``, bad iff ``G < k/2``, a tie keeps ``x_d``; ``quorum``, good iff
   ``G >= Q``;
8. the public record (``recigrad.dynamics.records.Record``) holds the
   reputations before the interaction, the observers, their signals and
   perceived actions (private: each observer's own), and the new reputation.

These are the draws of ``recigrad.dynamics.plain.play_plain``, in its order;
with the default game (one observer, the recipient in the pool, ``q = 1``, no
perception error) step 4 draws nothing and step 5 is one ``randrange(N - 1)``,
as before the formation rules.  An external decision replaces the uniform
that a fixed agent's decision would draw; every other draw happens as for
fixed agents, so a ``Core`` without external agents and fed
``random.Random(seed)`` replays ``play_plain`` exactly, under every rule.

Observations of an agent are four integers ``(role, x_d, x_r, a)``, exactly
the context of the table entry the decision uses (docs/model.md §2):
``role`` 0 (not deciding), 1 (donor: choose the action, 0 defect / 1 cooperate)
or 2 (observer: choose the signal, 0 bad / 1 good); ``x_d`` and ``x_r`` the
donor's and the recipient's reputations (0 when not deciding); ``a`` the
action the observer *perceived* (the realised one, flipped with probability
``perception_error``), 2 when there is none (donor, or not deciding);
``observation_box()`` is their space.  A donor's own reputation is
``x_d``, so its observation is the action context ``(x_own, x_rec)`` of
``act[x_own, x_rec]``; an observer's is the signal context ``(a, x_donor, x_rec)``
of ``sig[a, x_donor, x_rec]``.  An observer's own reputation is not part of the
observation: no table can depend on it, so a policy over observations is
always a pair of tables, read off by querying ``table_observations()``.

With ``identities=True`` the observation has two more integers,
``(role, x_d, x_r, a, donor, recipient)``: the agent indices of the donor and
the recipient of the interaction (a donor's own index as ``donor``), both
``N`` (no agent) when not deciding; ``observation_box(True, N)`` is their
space.  A policy may then keep opinions per partner; ``table_observations(donor,
recipient)`` gives the contexts for one pair.

The agents that decide now (``Core.deciding``) form one *phase*: the donor,
or every external observer of the interaction still to signal (each signals
in its turn, ``Core.pending`` is the first; all their observations are known
at once, so the parallel environment asks them in one step).

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
OBS_HIGH = (2, 1, 1, 2)  # role, x_d, x_r, a (all from 0)
RENDER_MODES = ("human", "ansi")


def observation_high(identities: bool = False, n: int | None = None) -> tuple[int, ...]:
    """The largest value of each observation entry: ``OBS_HIGH``, and with
    ``identities`` also ``(N, N)`` for the donor and the recipient (``N`` = none)."""
    if not identities:
        return OBS_HIGH
    if n is None:
        raise ValueError("observation_high(identities=True) needs the population size n")
    return (*OBS_HIGH, n, n)


def observation_box(identities: bool = False, n: int | None = None):
    """The observation space of every environment: ``(role, x_d, x_r, a)``
    (with ``identities``: ``(role, x_d, x_r, a, donor, recipient)`` for ``n``
    agents), integers from 0 to ``observation_high(identities, n)`` (a
    ``gymnasium.spaces.Box``; PettingZoo's checker prefers Box to MultiDiscrete)."""
    from gymnasium import spaces

    high = observation_high(identities, n)
    return spaces.Box(low=0, high=np.array(high), shape=(len(high),), dtype=np.int64)


def table_observations(donor: int | None = None, recipient: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The observation of every table context, to read tables off a policy.

    Args:
        donor, recipient: with ``identities=True``, the pair whose contexts to
            give (agent indices, appended to every observation); both or neither.

    Returns:
        ``(act_obs, sig_obs)``: ``act_obs (2, 2, D)`` with ``act_obs[x_own, x_rec]`` the
        donor's observation in the action context of ``act[x_own, x_rec]``, and
        ``sig_obs (2, 2, 2, D)`` with ``sig_obs[a, x_donor, x_rec]`` the observer's
        observation in the signal context of ``sig[a, x_donor, x_rec]``; int64,
        ``D = 4`` (6 with the pair).  A policy's probability of choosing 1 on
        these is its ``act`` and ``sig`` (towards that pair).
    """
    if (donor is None) != (recipient is None):
        raise ValueError("table_observations takes both donor and recipient, or neither")
    pair = () if donor is None else (int(donor), int(recipient))
    act_obs = np.array([[(ROLE_DONOR, x_d, x_r, NO_ACTION, *pair) for x_r in (0, 1)] for x_d in (0, 1)], dtype=np.int64)
    sig_obs = np.array([[[(ROLE_OBSERVER, x_d, x_r, a, *pair) for x_r in (0, 1)] for x_d in (0, 1)] for a in (0, 1)],
                       dtype=np.int64)
    return act_obs, sig_obs


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
    action an observer perceived (``NO_ACTION`` for a donor); ``donor`` and
    ``recipient`` are the interaction's agents."""

    agent: int
    role: int
    x_d: int
    x_r: int
    a: int
    donor: int = -1
    recipient: int = -1

    def observation(self, identities: bool = False) -> np.ndarray:
        """``(role, x_d, x_r, a)``, with ``identities`` followed by ``(donor, recipient)``."""
        pair = (self.donor, self.recipient) if identities else ()
        return np.array((self.role, self.x_d, self.x_r, self.a, *pair), dtype=np.int64)


def idle_observation(identities: bool = False, n: int | None = None) -> np.ndarray:
    """Observation of an agent that is not deciding (with ``identities``: donor and recipient ``n``, none)."""
    nobody = () if not identities else (n, n)
    return np.array((ROLE_NONE, 0, 0, NO_ACTION, *nobody), dtype=np.int64)


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


class _Interaction:
    """The interaction in progress: who, the reputations before it, what was
    done, and the observers' perceptions and signals so far."""

    __slots__ = ("donor", "recipient", "x_d", "x_r", "action", "observers", "perceived", "signals", "uniforms")

    def __init__(self, donor: int, recipient: int, x_d: int, x_r: int) -> None:
        self.donor, self.recipient, self.x_d, self.x_r = donor, recipient, x_d, x_r
        self.action = 0
        self.observers: list[int] = []
        self.perceived: list[int] = []
        self.signals: list[int] = []
        self.uniforms: list[tuple[float | None, float]] = []  # per observer: emission (None: external), assessment error

    def decision(self, i: int) -> Decision:
        """Observer ``i``'s (in draw order) signal decision."""
        return Decision(self.observers[i], ROLE_OBSERVER, self.x_d, self.x_r, self.perceived[i], self.donor, self.recipient)


def new_reputation(game: Game, signals: list[int], old: int) -> int:
    """The aggregation: the donor's reputation after ``signals`` (``old`` on a majority tie)."""
    good, k = sum(signals), len(signals)
    if game.aggregation == "quorum":
        return int(good >= game.quorum)
    if 2 * good == k:
        return old
    return int(2 * good > k)


class Core:
    """One population's game state, advanced until an external agent decides.

    ``act[j][x_own][x_rec]`` and ``sig[j][a][x_donor][x_rec]`` are intended
    tables (nested sequences or arrays; the rows of external agents are not
    used); ``external`` are the agents whose decisions the caller supplies;
    ``identities`` adds the donor's and the recipient's indices to observations.
    """

    def __init__(self, game: Game, act, sig, external: Iterable[int] = (), identities: bool = False) -> None:
        self.game = game
        self.act = np.asarray(act, dtype=float).tolist()
        self.sig = np.asarray(sig, dtype=float).tolist()
        self.n = len(self.act)
        if self.n < 3 or len(self.sig) != self.n:
            raise ConfigError(f"tables for N >= 3 agents needed, got {len(self.act)} action and {len(self.sig)} signal tables")
        game.check_population(self.n)
        self.external = frozenset(int(j) for j in external)
        if not self.external <= set(range(self.n)):
            raise ConfigError(f"external agents {sorted(self.external)} outside 0..{self.n - 1}")
        if not isinstance(identities, bool):
            raise ConfigError(f"identities must be True or False, got {identities!r}")
        self.identities = identities
        self.x = [1] * self.n
        self.interactions = 0
        self.pending: Decision | None = None
        self.last: Record | None = None
        self._rng = None
        self._now = _Interaction(0, 0, 0, 0)

    @classmethod
    def from_regime(cls, regime: Regime, external: Iterable[int] | None = None, identities: bool = False) -> Core:
        """The regime's population; ``external`` defaults to its learners."""
        act, sig = regime.population.tables()
        if external is None:
            external = regime.population.learners
        return cls(regime.game, act.tolist(), sig.tolist(), external, identities)

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
            seen = (f"observers {list(r.observers)} signals {''.join('BG'[s] for s in r.signals)}" if r.observers
                    else "not observed")
            lines.append(f"last record: d={r.donor} r={r.recipient} x_d={r.donor_rep} x_r={r.recipient_rep} "
                         f"a={'DC'[r.action]} {seen} -> x_d={r.reputation}")
        for p in self.deciding:
            what = "donor, to act" if p.role == ROLE_DONOR else f"observer, to signal on a={'DC'[p.a]}"
            lines.append(f"deciding: agent {p.agent} ({what}; x_d={p.x_d} x_r={p.x_r})")
        return "\n".join(lines)

    @property
    def deciding(self) -> list[Decision]:
        """The decisions of the current phase: the pending donor's, or those of
        the pending observer and every later external observer of the same
        interaction, in turn (empty when nothing is pending)."""
        pending = self.pending
        if pending is None or pending.role == ROLE_DONOR:
            return [] if pending is None else [pending]
        now = self._now
        first = len(now.signals)
        return [now.decision(i) for i in range(first, len(now.observers)) if now.observers[i] in self.external]

    def observation(self, agent: int) -> np.ndarray:
        """``agent``'s observation: its decision's context if it decides in the
        current phase, else the idle observation."""
        for p in self.deciding:
            if p.agent == agent:
                return p.observation(self.identities)
        return idle_observation(self.identities, self.n)

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
                self._signal(choice, records)
        elif choice is not None:
            raise ValueError("no decision is pending: call advance() without a choice")
        while self.pending is None and (limit is None or self.interactions < limit):
            self._begin(payoff, records)
        return records, payoff

    # The interaction, step by step (the draws in the order of the module docstring).

    def _begin(self, payoff: list[float], records: list[Record]) -> None:
        rng, x = self._rng, self.x
        d = rng.randrange(self.n)
        r = rng.randrange(self.n - 1)
        r += r >= d
        self._now = _Interaction(d, r, x[d], x[r])
        if d in self.external:
            self.pending = Decision(d, ROLE_DONOR, x[d], x[r], NO_ACTION, d, r)
            return
        intended = 1 if rng.random() < self.act[d][x[d]][x[r]] else 0
        self._act(intended, payoff, records)

    def _act(self, intended: int, payoff: list[float], records: list[Record]) -> None:
        rng, game, now = self._rng, self.game, self._now
        a = intended
        if a == 1 and rng.random() < game.e:
            a = 0
        now.action = a
        if a == 1:
            payoff[now.donor] -= game.c
            payoff[now.recipient] += game.b
        if game.observation < 1.0 and not rng.random() < game.observation:
            self._finish(records)  # not observed: no observers, x_d stays
            return
        pool = [j for j in range(self.n) if j != now.donor and (game.recipient_observes or j != now.recipient)]
        now.observers = [pool.pop(rng.randrange(len(pool))) for _ in range(game.observers)]  # without replacement
        eps = game.perception_error
        for o in now.observers:  # every observer's draws now, in play_plain's order, so a phase's observations are known
            now.perceived.append(1 - a if eps > 0.0 and rng.random() < eps else a)
            emission = None if o in self.external else rng.random()
            now.uniforms.append((emission, rng.random()))
        self._observe(records)

    def _observe(self, records: list[Record]) -> None:
        """Observers signal in turn from the next one; stop at an external observer."""
        now = self._now
        while len(now.signals) < len(now.observers):
            i = len(now.signals)
            o, seen, emission = now.observers[i], now.perceived[i], now.uniforms[i][0]
            if emission is None:  # an external observer
                self.pending = now.decision(i)
                return
            self._emit(1 if emission < self.sig[o][seen][now.x_d][now.x_r] else 0)
        self._finish(records)

    def _signal(self, emitted: int, records: list[Record]) -> None:
        """The pending observer's emitted signal, then the next observers."""
        self._emit(emitted)
        self._observe(records)

    def _emit(self, emitted: int) -> None:
        """The next observer's signal: the emitted one, flipped with the assessment error."""
        now = self._now
        signal = emitted
        if now.uniforms[len(now.signals)][1] < self.game.mu:
            signal = 1 - signal
        now.signals.append(signal)

    def _finish(self, records: list[Record]) -> None:
        now = self._now
        new = new_reputation(self.game, now.signals, now.x_d) if now.observers else now.x_d
        self.x[now.donor] = new
        self.interactions += 1
        self.last = Record(donor=now.donor, recipient=now.recipient, observers=tuple(now.observers), donor_rep=now.x_d,
                           recipient_rep=now.x_r, action=now.action, signals=tuple(now.signals),
                           perceived=tuple(now.perceived), reputation=new)
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

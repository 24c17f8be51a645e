"""Populations: who plays, with which action rule and which norm.

A population is an ordered tuple of agents; agent ``j`` has an action rule
(``kind``) and a norm for its signals: a shipped name, a rule number or a
``recigrad.game.norms.Norm`` (tables of one's own).  ``learner`` agents start
from their norm's tables (or random tables when ``warmup`` is false) and are
trained; ``learner:random`` starts from random logits and has no norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game.norms import KINDS, RANDOM, Norm, action_table, canonical_norm, resolve_norm, signal_table
from recigrad.game.rules import DTYPE, ConfigError

MAX_AGENTS = 10_000  # N at most (docs/model.md §10); the regime loader uses the same bound


@dataclass(frozen=True)
class Agent:
    """An agent: its action rule ``kind`` and its ``norm`` (a name of ``norms.NORMS``
    or ``norms.RULES``, a ``norms.Norm``, or ``"random"`` for a learner that starts
    from random logits, which needs ``warmup = False``)."""

    kind: str
    norm: str | Norm
    warmup: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown agent kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.norm == RANDOM:
            if self.kind != "learner" or self.warmup:
                raise ConfigError("norm 'random' is a learner's random start: kind 'learner' with warmup = false only")
        elif not isinstance(self.norm, Norm):
            canonical_norm(self.norm)


@dataclass(frozen=True)
class Population:
    agents: tuple[Agent, ...]

    def __post_init__(self) -> None:
        if len(self.agents) < 3:
            raise ConfigError(f"a population needs at least 3 agents (N >= 3), got N = {len(self.agents)}")

    @property
    def n(self) -> int:
        return len(self.agents)

    @property
    def learners(self) -> list[int]:
        return [j for j, agent in enumerate(self.agents) if agent.kind == "learner"]

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Intended tables ``act (N, 2, 2)`` and ``sig (N, 2, 2, 2)``; a learner
        has its warm-up norm's tables, and a ``learner:random`` the random start of
        seed 0 (``recigrad.learning.tables.initial_logits`` with seeds ``[0]``)."""
        random = _random_start(self.agents) if any(a.norm == RANDOM for a in self.agents) else {}
        distinct: dict = {}  # each (kind, norm)'s tables built once, then indexed (N up to 10000)
        rows = []
        for j, a in enumerate(self.agents):
            key = ("random", j) if j in random else (a.kind, a.norm)
            if key not in distinct:
                distinct[key] = (len(distinct), random[j] if j in random else (action_table(a.kind, a.norm), signal_table(a.norm)))
            rows.append(distinct[key][0])
        index = torch.tensor(rows, dtype=torch.int64)
        act = torch.stack([tables[0] for _, tables in distinct.values()])[index]
        sig = torch.stack([tables[1] for _, tables in distinct.values()])[index]
        return act.to(DTYPE), sig.to(DTYPE)

    def batched_tables(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        act, sig = self.tables()
        return act.expand(batch, -1, -1, -1).clone(), sig.expand(batch, -1, -1, -1, -1).clone()

    def describe(self) -> str:
        """Compact ``kind:norm:count`` groups, in order."""
        groups: list[list] = []
        for a in self.agents:
            if groups and groups[-1][0] == (a.kind, a.norm):
                groups[-1][1] += 1
            else:
                groups.append([(a.kind, a.norm), 1])
        return " ".join(f"{k}:{n}:{c}" for (k, n), c in groups)


def _random_start(agents) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """The tables of the random starts of seed 0: 12 standard normals per learner
    without warm-up, in order, from the ``learner-init`` stream, through a sigmoid."""
    from recigrad.dynamics.streams import Streams  # the world's streams; imported here, not at load
    from recigrad.game.contexts import CONTEXTS, split_tables
    from recigrad.util import numerics

    init = Streams([0], "learner-init")
    tables = {}
    for j, agent in enumerate(agents):
        if agent.kind == "learner" and not agent.warmup:
            act, sig = split_tables(numerics.sigmoid(init.normal(CONTEXTS))[0])
            if agent.norm == RANDOM:
                tables[j] = (act, sig)
    return tables


def parse_pop(specs: list[str], norms: dict | None = None) -> Population:
    """Population from ``--pop KIND:NORM:COUNT`` flags, agents numbered in order.

    NORM is a shipped name, ``rule-N``, a bit string ``ASSESSMENT[/ACTION]``
    (``disc:10111010/1011:7``), a name of ``norms`` (``--norms FILE``'s tables), or
    for a learner ``random`` (random logits instead of a warm-up)."""
    agents: list[Agent] = []
    for spec in specs:
        if len(spec) > 100:
            raise ConfigError(f"--pop {spec[:40]!r}...: expected KIND:NORM:COUNT, e.g. disc:stern-judging:7")
        parts = spec.split(":")
        if len(parts) != 3:
            raise ConfigError(f"--pop {spec!r}: expected KIND:NORM:COUNT, e.g. disc:stern-judging:7")
        kind, norm, count = parts
        if kind not in KINDS:
            raise ConfigError(f"--pop {spec!r}: unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
        try:
            resolved = resolve_norm(norm, norms, "")
        except ConfigError as err:
            raise ConfigError(f"--pop {spec!r}: {err}") from None
        if resolved == RANDOM and kind != "learner":
            raise ConfigError(f"--pop {spec!r}: 'random' is a learner's random start; use learner:random:COUNT")
        if not (count.isascii() and count.isdigit()) or int(count) < 1:  # isdigit alone accepts superscripts
            raise ConfigError(f"--pop {spec!r}: COUNT must be a positive integer, got {count!r}")
        if len(agents) + int(count) > MAX_AGENTS:
            raise ConfigError(f"--pop {spec!r}: at most {MAX_AGENTS} agents in all (N <= {MAX_AGENTS})")
        agents.extend(Agent(kind, resolved, resolved != RANDOM) for _ in range(int(count)))
    if not agents:
        raise ConfigError("no population: give --regime NAME, --config FILE or at least one --pop KIND:NORM:COUNT")
    return Population(tuple(agents))

"""Populations: who plays, with which action rule and which norm.

A population is an ordered tuple of agents; agent ``j`` has an action rule
(``kind``) and a norm for its signals.  ``learner`` agents start from their
norm's tables (or random tables when ``warmup`` is false) and are trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game.norms import KINDS, NORMS, action_table, canonical_norm, signal_table
from recigrad.game.rules import DTYPE, ConfigError

MAX_AGENTS = 10_000  # N at most (docs/model.md §10); the regime loader uses the same bound


@dataclass(frozen=True)
class Agent:
    kind: str
    norm: str
    warmup: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown agent kind {self.kind!r}; allowed: {', '.join(KINDS)}")
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
        has its warm-up norm's tables."""
        act = torch.stack([action_table(a.kind, a.norm) for a in self.agents])
        sig = torch.stack([signal_table(a.norm) for a in self.agents])
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


def parse_pop(specs: list[str]) -> Population:
    """Population from ``--pop KIND:NORM:COUNT`` flags, agents numbered in order."""
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
        if norm not in NORMS:
            raise ConfigError(f"--pop {spec!r}: unknown norm {norm!r}; allowed: {', '.join(NORMS)}")
        if not (count.isascii() and count.isdigit()) or int(count) < 1:  # isdigit alone accepts superscripts
            raise ConfigError(f"--pop {spec!r}: COUNT must be a positive integer, got {count!r}")
        if len(agents) + int(count) > MAX_AGENTS:
            raise ConfigError(f"--pop {spec!r}: at most {MAX_AGENTS} agents in all (N <= {MAX_AGENTS})")
        agents.extend(Agent(kind, norm) for _ in range(int(count)))
    if not agents:
        raise ConfigError("no population: give --regime NAME, --config FILE or at least one --pop KIND:NORM:COUNT")
    return Population(tuple(agents))

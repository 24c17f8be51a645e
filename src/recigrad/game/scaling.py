"""Populations of any size built from a shipped regime (docs/model.md §9, "The scaling study").

``scaled_regime(base, n)`` keeps the base regime's game, norms and training settings (but the budget) and
changes the number of agents to ``n``:

- one learner among fixed agents: still one learner, the ``n - 1`` others split among the
  base regime's groups of fixed agents in proportion to their sizes (largest remainder);
- several learners (a society): every group scaled in proportion to ``n``;
- the budget is stated per *learner decision*: a learner acts as donor in ``1/N`` of the
  interactions and signals as observer in ``1/N`` (docs/model.md §1; one observer per
  interaction, as in every shipped regime), so ``2/N`` of the
  interactions are its decisions; ``train.interactions = DECISIONS * n / 2`` per iteration
  gives every ``n`` the same ``DECISIONS`` learner decisions per iteration (400 interactions
  at ``N = 8``) and the same ``ITERATIONS`` at the rate ``LR``.

The scaled regime is named ``BASE-N<n>``; ``scaled_origin`` reads that name back, so that
the baselines take the base regime's tuned settings with their update batch (interactions
per update) scaled by ``n / N_base`` (``recigrad.learning.baselines.common.settings_for``):
the same learner decisions per update at every ``n``.
"""

from __future__ import annotations

import re
from dataclasses import replace

from recigrad.game.population import MAX_AGENTS, Population
from recigrad.game.regime import Regime, load_regime, regime_names
from recigrad.game.rules import ConfigError

DECISIONS = 100  # learner decisions per iteration, in expectation: 400 interactions at N = 8
# the study's iterations and Adam rate, as its figures were measured (docs/model.md §9), whatever the
# base's [train] says (the single-learner defaults are 1,200 iterations of 100 at lr 0.15, §6)
ITERATIONS = 300
LR = 0.2
MIN_N = 3
_NAME = re.compile(r"^(?P<base>.+)-N(?P<n>[0-9]+)$")


def interactions_per_iteration(n: int) -> int:
    """Interactions per iteration that give a learner ``DECISIONS`` decisions in expectation
    (``2/N`` of the interactions are its own: donor ``1/N``, observer ``1/N``)."""
    return max(1, round(DECISIONS * n / 2))


def decisions(interactions: int, n: int) -> float:
    """Expected decisions of one learner in ``interactions`` interactions of ``n`` agents."""
    return 2.0 * interactions / n


def _groups(population: Population) -> list[list]:
    """Consecutive runs of equal agents, ``[agent, count]``."""
    groups: list[list] = []
    for agent in population.agents:
        if groups and groups[-1][0] == agent:
            groups[-1][1] += 1
        else:
            groups.append([agent, 1])
    return groups


def _apportion(sizes: list[int], total: int) -> list[int]:
    """``total`` split in proportion to ``sizes`` by largest remainder (ties: the earlier group)."""
    whole = sum(sizes)
    exact = [size * total / whole for size in sizes]
    counts = [int(x) for x in exact]
    order = sorted(range(len(sizes)), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


def scaled_population(population: Population, n: int) -> Population:
    """The population with ``n`` agents: a single learner stays one learner (first, as in
    the base) and the fixed groups share ``n - 1``; otherwise every group scales with ``n``.
    Groups that get no agent are left out."""
    if not MIN_N <= n <= MAX_AGENTS:
        raise ConfigError(f"N must be an integer in [{MIN_N}, {MAX_AGENTS}], got {n}")
    groups = _groups(population)
    learners = population.learners
    if len(learners) == 1:
        fixed = [g for g in groups if g[0].kind != "learner"]
        counts = _apportion([count for _, count in fixed], n - 1)
        agents, shares = [], iter(counts)
        for agent, _ in groups:
            agents += [agent] * (1 if agent.kind == "learner" else next(shares))
    else:
        counts = _apportion([count for _, count in groups], n)
        agents = [agent for (agent, _), count in zip(groups, counts) for _ in range(count)]
    return Population(tuple(agents))


def scaled_regime(base: Regime, n: int) -> Regime:
    """``base`` with ``n`` agents (``scaled_population``), named ``BASE-N<n>``, with
    ``interactions_per_iteration(n)`` interactions per iteration, ``ITERATIONS`` iterations and
    the rate ``LR`` (the base's other ``[train]`` settings)."""
    train = replace(base.train, interactions=interactions_per_iteration(n), iterations=ITERATIONS, lr=LR)
    return Regime(f"{base.name}-N{n}", f"{base.description} (scaled to N = {n})", base.game,
                  scaled_population(base.population, n), train)


def scaled_origin(regime: Regime) -> tuple[Regime, float] | None:
    """``(base regime, n / N_base)`` for a regime named ``BASE-N<n>`` with ``n`` agents, where
    ``BASE`` is a shipped regime; ``None`` otherwise."""
    match = _NAME.match(regime.name)
    if match is None or match["base"] not in regime_names() or int(match["n"]) != regime.population.n:
        return None
    base = load_regime(match["base"])
    return base, regime.population.n / base.population.n

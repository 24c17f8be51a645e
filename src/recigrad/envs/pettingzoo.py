"""PettingZoo environments of the game: the regime's learners are the agents.

``env(regime, max_interactions, render_mode)`` is the AEC form (wrapped in
PettingZoo's ``AssertOutOfBoundsWrapper`` and ``OrderEnforcingWrapper``;
``raw_env`` is the bare one); ``parallel_env(...)`` is the parallel form.
``regime`` is a shipped regime name, a TOML file or a ``recigrad.game.regime.Regime``.

Agents are named ``agent_<j>``, ``j`` the learner's index in the population (the
index the public records use).  Agents that are not learners are played by the
environment from their true tables (``Regime.population.tables()``).

Decisions and skipped phases.  An interaction has two phases: the donor's
action (``Discrete(2)``: 0 defect, 1 cooperate, the intention, which the
execution error may turn into D) and the observer's signal (``Discrete(2)``:
0 bad, 1 good, the emitted signal, which the assessment error may flip).
After each learner decision the environment plays on, phases of fixed agents
included, and stops at the next phase whose decider is a learner; so every AEC
turn and every parallel step is exactly one learner decision, and a phase
where no learner decides never reaches the caller.  (At ``reset`` it plays up
to the first learner decision.)
Exactly one agent decides in a phase, so in the parallel form the actions of
the others are ignored; their observation has role 0.

Observations: ``Box(0, [2, 1, 1, 1, 2], int64)`` (integers; PettingZoo's checker
prefers Box to MultiDiscrete), ``(role, x_own, x_d, x_r, a)`` as in
``recigrad.envs.core``: role 0 not deciding, 1 donor, 2 observer; the
agent's own reputation; the donor's and the recipient's reputations; the
realised action an observer sees (2 when none).

Rewards: each agent's own payoff (``-c`` as a cooperating donor, ``+b`` as a
recipient of a realised C) of the interactions played during the step, given
to the agent at the step where the action is realised (payoffs of the
interactions played during ``reset`` are not rewards; they follow from the
records).  ``infos[agent]["records"]``: the public records ``{d, r, x_d, x_r,
a, o, signals, x_new}`` of the interactions completed since the agent's previous
decision (AEC) or during the step (parallel), oldest first;
``infos[agent]["interactions"]``: interactions completed so far.

Episodes are truncated (never terminated) once ``max_interactions``
interactions are complete.  If no learner decides before that (only possible
with a tiny ``max_interactions``), the episode is truncated at ``reset``.
Misuse: an action other than 0 or 1 (a Python int or a numpy integer) raises
``ConfigError`` (a ``ValueError``) in the raw AEC and the parallel forms (the
wrapped AEC form's ``AssertOutOfBoundsWrapper`` refuses it first);
``step`` before ``reset`` raises ``RuntimeError``.
Seeding: ``reset(seed=...)``; ``reset()`` without a seed continues the current
generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers

from recigrad.envs.core import RENDER_MODES, Core, Uniforms, check_options, decision, observation_box, render, resolve_regime
from recigrad.game import ConfigError
from recigrad.game.regime import Regime

NAME = "recigrad_reciprocity_v0"


class _Game:
    """What the AEC and parallel forms share: regime, core, agents, spaces, seeding."""

    metadata = {"name": NAME, "render_modes": list(RENDER_MODES), "is_parallelizable": False, "render_fps": 4}

    def _setup(self, regime: str | Regime, max_interactions: int, render_mode: str | None) -> None:
        self.regime = resolve_regime(regime)
        learners = self.regime.population.learners
        if not learners:
            raise ConfigError(f"regime {self.regime.name!r} has no learner; the PettingZoo environment needs at least one")
        self.max_interactions = check_options(max_interactions, render_mode)
        self.render_mode = render_mode
        self.core = Core.from_regime(self.regime)
        self.possible_agents = [f"agent_{j}" for j in learners]
        self.agent_index = {name: j for name, j in zip(self.possible_agents, learners)}
        self.agent_name = {j: name for name, j in self.agent_index.items()}
        self.observation_spaces = {name: observation_box() for name in self.possible_agents}
        self.action_spaces = {name: spaces.Discrete(2) for name in self.possible_agents}
        self.state_space = spaces.MultiDiscrete([2] * self.core.n)
        self.np_random, self.np_random_seed = None, None
        self.agents: list[str] = []

    def observation_space(self, agent: str) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.action_spaces[agent]

    def _start(self, seed: int | None) -> list[dict]:
        """Reseed if asked (or never seeded), reset the core, play to the first decision."""
        if seed is not None or self.np_random is None:
            self.np_random, self.np_random_seed = seeding.np_random(seed)
        self.core.reset(Uniforms(self.np_random))
        self.agents = list(self.possible_agents)
        records, _ = self.core.advance(limit=self.max_interactions)
        return [r.as_dict() for r in records]

    @property
    def deciding(self) -> str | None:
        """The agent whose decision is pending (None once the episode is over)."""
        pending = self.core.pending
        return None if pending is None else self.agent_name[pending.agent]

    def observe(self, agent: str) -> np.ndarray:
        return self.core.observation(self.agent_index[agent])

    def state(self) -> np.ndarray:
        """Everyone's public reputation."""
        return np.array(self.core.x, dtype=np.int64)

    def render(self) -> str | None:
        return render(self.core, self.render_mode, self.max_interactions)

    def _check_started(self) -> None:
        if not self.core.started:
            raise RuntimeError("call reset() before step()")


class ReciprocityAEC(_Game, AECEnv):
    """AEC form: one turn per learner decision (see the module docstring)."""

    def __init__(self, regime: str | Regime = "discriminative-sj", max_interactions: int = 800, render_mode: str | None = None):
        """The bare AEC environment (``env`` wraps it).

        Args:
            regime: a shipped regime name, a TOML file or a ``Regime``, with at least one learner.
            max_interactions: interactions per episode (a positive integer).
            render_mode: None, ``"human"`` (print) or ``"ansi"`` (return the text).
        """
        AECEnv.__init__(self)
        self._setup(regime, max_interactions, render_mode)
        self._skip_agent_selection = None

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        records = self._start(seed)
        self._skip_agent_selection = None
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        over = self.core.pending is None
        self.truncations = dict.fromkeys(self.agents, over)
        self._records = {agent: list(records) for agent in self.agents}
        self.infos = {agent: self._info(agent) for agent in self.agents}
        self.agent_selection = self.deciding or self.agents[0]

    def _info(self, agent: str) -> dict:
        return {"records": self._records[agent], "interactions": self.core.interactions}

    def step(self, action) -> None:
        self._check_started()
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        records, payoff = self.core.advance(action, self.max_interactions)
        new = [r.as_dict() for r in records]
        for other in self.agents:
            self.rewards[other] = float(payoff[self.agent_index[other]])
            self._records[other] = list(new) if other == agent else self._records[other] + new
        if self.core.pending is None:
            self.truncations = dict.fromkeys(self.agents, True)
        self.infos = {other: self._info(other) for other in self.agents}
        self.agent_selection = self.deciding or self.agents[0]
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()


class ReciprocityParallel(_Game, ParallelEnv):
    """Parallel form: one step per learner decision; only the deciding agent's
    action is used (see the module docstring)."""

    def __init__(self, regime: str | Regime = "discriminative-sj", max_interactions: int = 800, render_mode: str | None = None):
        """The parallel environment.

        Args:
            regime: a shipped regime name, a TOML file or a ``Regime``, with at least one learner.
            max_interactions: interactions per episode (a positive integer).
            render_mode: None, ``"human"`` (print) or ``"ansi"`` (return the text).
        """
        self._setup(regime, max_interactions, render_mode)

    def _infos(self, new: list[dict]) -> dict[str, dict]:
        return {agent: {"records": list(new), "interactions": self.core.interactions} for agent in self.agents}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        new = self._start(seed)
        observations = {agent: self.observe(agent) for agent in self.agents}
        return observations, self._infos(new)

    def step(self, actions: dict[str, Any]):
        self._check_started()
        for action in actions.values():  # every action given must be valid, even those not used
            if action is not None:
                decision(action)
        deciding = self.deciding
        if deciding is None:  # over at reset: nobody decided within max_interactions
            records, payoff = [], [0.0] * self.core.n
        else:
            if actions.get(deciding) is None:
                raise ValueError(f"{deciding} decides in this phase: actions must hold its action (0 or 1)")
            records, payoff = self.core.advance(actions[deciding], self.max_interactions)
        new = [r.as_dict() for r in records]
        over = self.core.pending is None
        observations = {agent: self.observe(agent) for agent in self.agents}
        rewards = {agent: float(payoff[self.agent_index[agent]]) for agent in self.agents}
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, over)
        infos = self._infos(new)
        if over:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos


raw_env = ReciprocityAEC


def env(regime: str | Regime = "discriminative-sj", max_interactions: int = 800, render_mode: str | None = None) -> AECEnv:
    """The AEC environment, in PettingZoo's usual wrappers.

    Args:
        regime: a shipped regime name, a TOML file or a ``Regime``, with at least one learner.
        max_interactions: interactions per episode (a positive integer).
        render_mode: None, ``"human"`` (print) or ``"ansi"`` (return the text).

    Returns:
        ``ReciprocityAEC`` inside ``AssertOutOfBoundsWrapper`` and ``OrderEnforcingWrapper``.
    """
    aec = ReciprocityAEC(regime, max_interactions, render_mode)
    return wrappers.OrderEnforcingWrapper(wrappers.AssertOutOfBoundsWrapper(aec))


def parallel_env(
    regime: str | Regime = "discriminative-sj", max_interactions: int = 800, render_mode: str | None = None
) -> ParallelEnv:
    """The parallel environment.

    Args:
        regime: a shipped regime name, a TOML file or a ``Regime``, with at least one learner.
        max_interactions: interactions per episode (a positive integer).
        render_mode: None, ``"human"`` (print) or ``"ansi"`` (return the text).

    Returns:
        A ``ReciprocityParallel``.
    """
    return ReciprocityParallel(regime, max_interactions, render_mode)

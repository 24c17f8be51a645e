"""A single-learner Gymnasium environment of the game.

Importing this module registers ``recigrad/Reciprocity-v0``::

    import gymnasium
    import recigrad.envs.gymnasium  # noqa: F401  (registers the id)

    env = gymnasium.make("recigrad/Reciprocity-v0", regime="discriminative-sj", max_interactions=800)

``regime`` is a shipped regime name, a TOML file or a ``recigrad.game.regime.Regime``
with exactly one learner; every other agent plays its true tables.

Each step is one decision of the learner: as donor its action (0 defect,
1 cooperate: the intention, which the execution error may turn into D), as
observer its signal (0 bad, 1 good: the emitted signal, which the assessment
error may flip).  Between two decisions the environment plays every other
phase itself (``reset`` plays up to the first decision).

Observation: ``Box(0, [2, 1, 1, 1, 2], int64)``, ``(role, x_own, x_d, x_r, a)``
as in ``recigrad.envs.core``: role 1 donor, 2 observer (0 only in the final
observation); the learner's own reputation; the donor's and the recipient's
reputations; the realised action the observer sees (2 for a donor).

Reward: the learner's payoffs (``-c`` per realised C given, ``+b`` per realised
C received) accrued from the decision to the next one.  ``info["records"]``:
the public records ``{d, r, x_d, x_r, a, o, signals, x_new}`` completed meanwhile
(at ``reset``: those played before the first decision, whose payoffs are not
rewards); ``info["interactions"]``: interactions completed so far.

Episodes end by truncation once ``max_interactions`` interactions are complete
(never by termination).  If the learner decides nothing before that (only with
a tiny ``max_interactions``), ``reset`` returns a role-0 observation and the
first ``step`` ignores its action and truncates.

Misuse: an action other than 0 or 1 (a Python int or a numpy integer) raises
``ConfigError`` (a ``ValueError``); ``step`` before ``reset`` raises ``RuntimeError``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
from gymnasium import spaces

from recigrad.envs.core import RENDER_MODES, Core, Uniforms, check_options, decision, observation_box, render, resolve_regime
from recigrad.game import ConfigError
from recigrad.game.regime import Regime

ENV_ID = "recigrad/Reciprocity-v0"


class ReciprocityEnv(gymnasium.Env):
    """One learner among fixed agents; one step per learner decision."""

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(self, regime: str | Regime = "discriminative-sj", max_interactions: int = 800, render_mode: str | None = None):
        """The environment of the regime's one learner.

        Args:
            regime: a shipped regime name, a TOML file or a ``Regime``, with exactly one learner.
            max_interactions: interactions per episode (a positive integer).
            render_mode: None, ``"human"`` (print) or ``"ansi"`` (return the text).
        """
        self.regime = resolve_regime(regime)
        learners = self.regime.population.learners
        if len(learners) != 1:
            raise ConfigError(
                f"regime {self.regime.name!r} has {len(learners)} learners; the Gymnasium environment needs exactly one "
                "(use recigrad.envs.pettingzoo for several)"
            )
        self.max_interactions = check_options(max_interactions, render_mode)
        self.learner = learners[0]
        self.render_mode = render_mode
        self.core = Core.from_regime(self.regime)
        self.observation_space = observation_box()
        self.action_space = spaces.Discrete(2)

    def _info(self, records) -> dict:
        return {"records": [r.as_dict() for r in records], "interactions": self.core.interactions}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.core.reset(Uniforms(self.np_random))
        records, _ = self.core.advance(limit=self.max_interactions)
        if self.render_mode == "human":
            self.render()
        return self.core.observation(self.learner), self._info(records)

    def step(self, action):
        if not self.core.started:
            raise RuntimeError("call reset() before step()")
        if self.core.pending is None:  # over already (nothing to decide within max_interactions)
            decision(action)
            records, payoff = [], [0.0] * self.core.n
        else:
            records, payoff = self.core.advance(action, self.max_interactions)
        truncated = self.core.pending is None
        if self.render_mode == "human":
            self.render()
        return self.core.observation(self.learner), float(payoff[self.learner]), False, truncated, self._info(records)

    def render(self) -> str | None:
        return render(self.core, self.render_mode, self.max_interactions)


if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point=f"{__name__}:ReciprocityEnv")

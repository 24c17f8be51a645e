"""REINFORCE with an MLP policy (docs/model.md §7, "Neural-policy baselines").

The algorithm of ``recigrad.learning.baselines.reinforce`` (reward-to-go on the
learner's own timeline, the per-context value table as baseline, one Adam step per
update), with the tables replaced by the network of ``recigrad.learning.baselines.mlp``
and an entropy bonus.  Per update, for every learner of every population:

- ``G_k`` and the baseline ``V(context_k)`` exactly as ``reinforce`` computes them;
- the loss ``-mean_k log pi(outcome_k | context_k) (G_k - V_k) - ent_coef mean_k H(context_k)``
  per learner, ``H`` the entropy of the intended choice at the event's context,
  summed over learners and populations; one Adam step on the trunk and the heads that
  learn, then the value table is fitted to ``G`` and the tables are read off the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game.regime import Regime
from recigrad.learning.baselines import common, mlp, reinforce

METHOD = "reinforce-mlp"


@dataclass(frozen=True)
class ReinforceMLPConfig:
    """REINFORCE-MLP settings (defaults: ``overall`` in ``tuned.json``; overridden per tuned regime)."""

    lr: float = 0.03  # Adam learning rate on the network's weights
    gamma: float = 0.5  # discount per decision of the learner's own timeline
    interactions: int | None = 400  # interactions per update (None: the regime's train.interactions)
    value_rate: float = 0.3  # step of the running per-context mean of the baseline
    ent_coef: float = 0.01  # weight of the entropy bonus
    hidden: int = 32  # units per hidden layer
    layers: int = 2  # hidden tanh layers


def update(state: mlp.MLPState, records) -> None:
    events = common.decision_events(records, state.learners, state.game)
    returns, baseline = reinforce.returns_and_baseline(state, events)
    logits = state.logits()
    loss = reinforce.policy_loss(logits, events, baseline, returns, state.game)
    loss = loss - state.config.ent_coef * mlp.entropy_bonus(logits, events, events.valid).sum()
    state.optimizer.zero_grad()
    loss.backward()
    state.optimizer.step()
    state.values.fit(returns, events, state.config.value_rate)
    state.refresh()


def start(regime: Regime, seeds: list[int], config: ReinforceMLPConfig | None = None) -> mlp.MLPState:
    """The initial state (``docs/model.md §7``, ``§11``).

    Args:
        regime: the game, the population and the training settings (``regime.train``).
        seeds: one seed per population; ``B = len(seeds)``.
        config: the settings; default: tuned for ``regime`` in ``tuned.json``, else ``ReinforceMLPConfig()``.

    Returns:
        An ``MLPState``: the actor network per learner (no critic), its tables at the start
        tables of every method, an empty value table ``(B, L, 12)``.
    """
    settings = common.settings_for(ReinforceMLPConfig(), METHOD, regime, config)
    return mlp.start_state(regime, seeds, settings, METHOD, critic=False)


def step(state: mlp.MLPState) -> torch.Tensor:
    """One iteration in place: play ``regime.train.interactions`` interactions, updating every
    ``config.interactions`` records.

    Args:
        state: the ``MLPState`` of ``B`` populations.

    Returns:
        Each learner's mean payoff per round over the interactions played, ``(B, L)``.
    """
    return common.play_and_update(state, update)

"""Advantage actor-critic (A2C) with MLP actor and critic (docs/model.md §7, "Neural-policy baselines").

Synchronous A2C (Mnih et al. 2016), one update per batch of ``config.interactions``
interactions, for every learner of every population, on its decision events
(``recigrad.learning.baselines.common``):

- values ``V_k = V(context_k)`` from the critic network (``recigrad.learning.baselines.mlp``);
- advantages and value targets by GAE on the learner's own timeline
  (``recigrad.learning.baselines.ppo.gae``: after the batch's last event the next value
  is the mean value of the batch's events); with ``lam = 1`` (the default) the
  advantage is the discounted return to the end of the batch, bootstrapped, minus
  ``V_k``: A2C's n-step advantage;
- the loss, per learner, ``-mean_k log pi(outcome_k | context_k) A_k
  + vf_coef mean_k (V_k - target_k)^2 - ent_coef mean_k H(context_k)``, summed over
  learners and populations, and one Adam step on the trunk, the heads that learn and
  the critic; then the tables are read off the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game.regime import Regime
from recigrad.learning.baselines import common, mlp, ppo

METHOD = "a2c-mlp"


@dataclass(frozen=True)
class A2CMLPConfig:
    """A2C-MLP settings (defaults: ``overall`` in ``tuned.json``; overridden per tuned regime)."""

    lr: float = 0.01  # Adam learning rate on the networks' weights
    gamma: float = 0.5  # discount per decision of the learner's own timeline
    lam: float = 1.0  # GAE lambda (1: n-step returns to the end of the batch)
    interactions: int | None = 1600  # interactions per update (None: the regime's train.interactions)
    vf_coef: float = 0.5  # weight of the critic's squared error
    ent_coef: float = 0.0  # weight of the entropy bonus
    normalize: bool = False  # normalise advantages per learner
    hidden: int = 32  # units per hidden layer
    layers: int = 2  # hidden tanh layers


def loss(state: mlp.MLPState, events: common.Events) -> torch.Tensor:
    """The A2C loss of one batch of events, summed over learners and populations."""
    config, valid = state.config, events.valid
    logits = state.logits()
    values = state.values_of_contexts().gather(-1, events.context) * valid
    with torch.no_grad():
        advantage, targets = ppo.gae(values.detach(), events, config.gamma, config.lam)
        if config.normalize:
            advantage = ppo.normalized(advantage, valid)
    policy = -common.per_learner_mean(common.log_prob(logits, events, state.game) * advantage, valid)
    value = common.per_learner_mean((values - targets) ** 2, valid)
    bonus = mlp.entropy_bonus(logits, events, valid)
    return (policy + config.vf_coef * value - config.ent_coef * bonus).sum()


def update(state: mlp.MLPState, records) -> None:
    events = common.decision_events(records, state.learners, state.game)
    state.optimizer.zero_grad()
    loss(state, events).backward()
    state.optimizer.step()
    state.refresh()


def start(regime: Regime, seeds: list[int], config: A2CMLPConfig | None = None) -> mlp.MLPState:
    """The initial state (``docs/model.md §7``, ``§11``).

    Args:
        regime: the game, the population and the training settings (``regime.train``).
        seeds: one seed per population; ``B = len(seeds)``.
        config: the settings; default: tuned for ``regime`` in ``tuned.json``, else ``A2CMLPConfig()``.

    Returns:
        An ``MLPState``: actor and critic networks per learner, the actor's tables at the
        start tables of every method, the critic at 0.
    """
    settings = common.settings_for(A2CMLPConfig(), METHOD, regime, config)
    return mlp.start_state(regime, seeds, settings, METHOD, critic=True)


def step(state: mlp.MLPState) -> torch.Tensor:
    """One iteration in place: play ``regime.train.interactions`` interactions, updating every
    ``config.interactions`` records.

    Args:
        state: the ``MLPState`` of ``B`` populations.

    Returns:
        Each learner's mean payoff per round over the interactions played, ``(B, L)``.
    """
    return common.play_and_update(state, update)

"""PPO with MLP actor and critic (docs/model.md §7, "Neural-policy baselines").

The algorithm of ``recigrad.learning.baselines.ppo`` (GAE, advantages normalised per
learner, ``epochs`` passes of ``minibatches`` random minibatches per learner from the
stream ``"ppo-mlp-sampling"``, the clipped surrogate summed exactly by (context,
outcome) pair), with the tables replaced by the actor network of
``recigrad.learning.baselines.mlp``, the value table by its critic network, and an
entropy bonus.  Per update, for every learner of every population:

- values ``V_k`` from the critic before the update; GAE advantages and targets
  ``A_k + V_k`` (``ppo.gae``); advantages normalised;
- per minibatch, one Adam step on the trunk, the heads that learn and the critic on
  ``clipped surrogate + vf_coef mean_k (V_k - target_k)^2 - ent_coef mean_k H(context_k)``
  (means over the learner's events in the minibatch), summed over learners and
  populations; then the tables are read off the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game.regime import Regime
from recigrad.learning.baselines import common, mlp, ppo

METHOD = "ppo-mlp"


@dataclass(frozen=True)
class PPOMLPConfig:
    """PPO-MLP settings (defaults: ``overall`` in ``tuned.json``; overridden per tuned regime)."""

    lr: float = 0.01  # Adam learning rate on the networks' weights
    gamma: float = 0.5  # discount per decision of the learner's own timeline
    lam: float = 0.95  # GAE lambda
    clip: float = 0.2  # clip range of the probability ratio
    epochs: int = 4  # passes over each batch
    minibatches: int = 4  # per learner and epoch
    interactions: int | None = 400  # interactions per update (None: the regime's train.interactions)
    vf_coef: float = 0.5  # weight of the critic's squared error
    ent_coef: float = 0.0  # weight of the entropy bonus
    normalize: bool = True  # normalise advantages per learner
    hidden: int = 32  # units per hidden layer
    layers: int = 2  # hidden tanh layers


def minibatch_loss(state: mlp.MLPState, events: common.Events, old_table: torch.Tensor, advantage: torch.Tensor,
                   targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The loss of one minibatch (the events in ``mask``), summed over learners and populations."""
    config = state.config
    logits = state.logits()
    policy = ppo.clipped_loss(logits, old_table, ppo.advantage_sums(events, advantage, mask), config.clip, state.game)
    values = state.values_of_contexts().gather(-1, events.context)
    value = common.per_learner_mean((values - targets) ** 2, mask).sum()
    bonus = mlp.entropy_bonus(logits, events, mask).sum()
    return policy + config.vf_coef * value - config.ent_coef * bonus


def update(state: mlp.MLPState, records) -> None:
    config, game = state.config, state.game
    events = common.decision_events(records, state.learners, game)
    with torch.no_grad():
        values = state.values_of_contexts().gather(-1, events.context) * events.valid
        advantage, targets = ppo.gae(values, events, config.gamma, config.lam)
        if config.normalize:
            advantage = ppo.normalized(advantage, events.valid)
        old_table = common.outcome_log_probs(state.logits(), game).flatten(-2)
    for _ in range(config.epochs):
        ids = ppo.minibatch_ids(state, events)
        for m in range(config.minibatches):
            state.optimizer.zero_grad()
            minibatch_loss(state, events, old_table, advantage, targets, ids == m).backward()
            state.optimizer.step()
    state.refresh()


def start(regime: Regime, seeds: list[int], config: PPOMLPConfig | None = None) -> mlp.MLPState:
    """The initial state (``docs/model.md §7``, ``§11``).

    Args:
        regime: the game, the population and the training settings (``regime.train``).
        seeds: one seed per population; ``B = len(seeds)``.
        config: the settings; default: tuned for ``regime`` in ``tuned.json``, else ``PPOMLPConfig()``.

    Returns:
        An ``MLPState``: actor and critic networks per learner, the actor's tables at the
        start tables of every method, the critic at 0.
    """
    settings = common.settings_for(PPOMLPConfig(), METHOD, regime, config)
    return mlp.start_state(regime, seeds, settings, METHOD, critic=True, steps_per_update=settings.epochs * settings.minibatches)


def step(state: mlp.MLPState) -> torch.Tensor:
    """One iteration in place: play ``regime.train.interactions`` interactions, updating every
    ``config.interactions`` records.

    Args:
        state: the ``MLPState`` of ``B`` populations.

    Returns:
        Each learner's mean payoff per round over the interactions played, ``(B, L)``.
    """
    return common.play_and_update(state, update)

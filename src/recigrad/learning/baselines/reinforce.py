"""REINFORCE with discounted reward-to-go and a learned baseline (docs/model.md §7).

Per update, for every learner of every population, on the decision events of
the last ``config.interactions`` interactions (``recigrad.learning.baselines.common``):

- the Monte-Carlo reward-to-go ``G_k = sum_{j >= k} gamma^(j-k) r_j`` over the
  learner's own timeline (its decisions; truncated at the end of the batch);
- the baseline: a **value table** over the learner's 12 decision contexts
  (role and context), fitted to ``G`` by a running per-context mean (rate
  ``value_rate``; contexts seen for the first time start at their batch mean);
  the baseline of an update is the table *before* it is fitted to that batch;
- the loss ``-mean_k log pi(outcome_k | context_k) (G_k - V(context_k))`` per
  learner (the mean over its own events), summed over learners and populations,
  and one Adam step on the heads that learn (``regime.train.components``).

No shaping, no intrinsic reward, no entropy bonus.  Adam is element-wise and
every learner's loss depends on its own logits only, so a seed gives the same
run alone or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game import Game
from recigrad.game.regime import Regime
from recigrad.learning.baselines import common

METHOD = "reinforce"


@dataclass(frozen=True)
class ReinforceConfig:
    """REINFORCE settings.

    The defaults are the grid setting with the best mean score over the tuned regimes
    (``overall`` in ``tuned.json``); ``tuned.json`` overrides them per tuned regime."""

    lr: float = 0.3  # Adam learning rate on the logits
    gamma: float = 0.5  # discount per decision of the learner's own timeline
    interactions: int | None = 1600  # interactions per update (None: the regime's train.interactions)
    value_rate: float = 0.3  # step of the running per-context mean of the baseline


CONFIG = ReinforceConfig  # the settings a tuning result sets (recigrad.learning.baselines.settings)


def policy_loss(
    logits: torch.Tensor, events: common.Events, baseline: torch.Tensor, returns: torch.Tensor, game: Game
) -> torch.Tensor:
    """The REINFORCE surrogate, ``sum_{b,i} -mean_k log pi_k (G_k - V_k)``: its gradient
    in ``logits (B, L, 12)`` is the estimator of minus each learner's policy gradient."""
    logp = common.log_prob(logits, events, game)
    advantage = (returns - baseline) * events.valid
    return -common.per_learner_mean(logp * advantage, events.valid).sum()


def returns_and_baseline(state: common.BaselineState, events: common.Events) -> tuple[torch.Tensor, torch.Tensor]:
    """Reward-to-go ``G`` and the baseline ``V(context)`` of each event, ``(B, L, T)``."""
    returns = common.discounted_sum(events.reward, state.config.gamma, events.longest())
    state.values.prime(returns, events)
    return returns, state.values.at(events)


def update(state: common.BaselineState, records) -> None:
    events = common.decision_events(records, state.learners, state.game)
    returns, baseline = returns_and_baseline(state, events)
    state.optimizer.zero_grad()
    policy_loss(state.logits(), events, baseline, returns, state.game).backward()
    state.optimizer.step()
    state.values.fit(returns, events, state.config.value_rate)


def start(regime: Regime, seeds: list[int], config: ReinforceConfig | None = None) -> common.BaselineState:
    """The initial state (``docs/model.md §7``, ``§11``).

    Args:
        regime: the game, the population and the training settings (``regime.train``).
        seeds: one seed per population; ``B = len(seeds)``.
        config: the settings; default: tuned for ``regime`` in ``tuned.json``, else ``ReinforceConfig()``.

    Returns:
        A ``BaselineState``: learners' logits ``(B, L, 2, 2)``, ``(B, L, 2, 2, 2)`` as every
        method starts them, Adam over the heads that learn, an empty value table ``(B, L, 12)``.
    """
    settings = common.settings_for(ReinforceConfig(), METHOD, regime, config)
    return common.start_state(regime, seeds, settings, f"{METHOD}-sampling")


def step(state: common.BaselineState) -> torch.Tensor:
    """One iteration in place: play ``regime.train.interactions`` interactions, updating every
    ``config.interactions`` records.

    Args:
        state: the ``BaselineState`` of ``B`` populations.

    Returns:
        Each learner's mean payoff per round over the interactions played, ``(B, L)``.
    """
    return common.play_and_update(state, update)

"""PPO with GAE and a clipped surrogate (docs/model.md §7).

Per update, for every learner of every population, on the decision events of
the last ``config.interactions`` interactions (``recigrad.learning.baselines.common``):

- values ``V(context)`` from the learner's **value table** over its 12 decision
  contexts (role and context; contexts seen for the first time start at their
  batch mean Monte-Carlo return);
- GAE over its own timeline: ``delta_k = r_k + gamma V_{k+1} - V_k`` and
  ``A_k = delta_k + gamma lambda A_{k+1}``; after the batch's last event the next
  value is unknown (the learner's next context comes in the next batch) and is
  bootstrapped with the mean value of the batch's events; value targets
  ``A_k + V_k``;
- advantages normalised per learner (mean 0, standard deviation 1 over its events);
- ``epochs`` passes over the events, each split into ``minibatches`` random
  minibatches *per learner* (permutations from the population's own stream
  ``"ppo-sampling"``), one Adam step per minibatch on the clipped surrogate
  ``-mean_k min(rho_k A_k, clip(rho_k, 1 - eps, 1 + eps) A_k)``, ``rho`` the
  probability ratio of the realised outcome under the new and the old tables;
- then the value table moves toward the targets (running per-context mean,
  rate ``value_rate``).

No shaping, no intrinsic reward, no entropy bonus.  Each learner's loss depends
on its own logits and its own minibatches only, so a seed gives the same run
alone or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recigrad.game import Game
from recigrad.game.regime import Regime
from recigrad.learning.baselines import common
from recigrad.util import numerics

METHOD = "ppo"


@dataclass(frozen=True)
class PPOConfig:
    """PPO settings.

    The defaults are the grid setting with the best mean score over the tuned regimes
    (``overall`` in ``tuned.json``); ``tuned.json`` overrides them per tuned regime."""

    lr: float = 0.1  # Adam learning rate on the logits
    gamma: float = 0.5  # discount per decision of the learner's own timeline
    lam: float = 0.95  # GAE lambda
    clip: float = 0.2  # clip range of the probability ratio
    epochs: int = 4  # passes over each batch
    minibatches: int = 4  # per learner and epoch
    interactions: int | None = 1600  # interactions per update (None: the regime's train.interactions)
    value_rate: float = 0.3  # step of the running per-context mean of the value table
    normalize: bool = True  # normalise advantages per learner


CONFIG = PPOConfig  # the settings a tuning result sets (recigrad.learning.baselines.settings)


def gae(values: torch.Tensor, events: common.Events, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and value targets ``(B, L, T)`` from the events' values ``V_k`` (0 on padding)."""
    valid = events.valid
    bootstrap = common.per_learner_mean(values, valid).unsqueeze(-1)  # (B, L, 1)
    following = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], -1)
    next_valid = torch.cat([valid[..., 1:], torch.zeros_like(valid[..., :1])], -1)
    next_value = torch.where(next_valid, following, bootstrap)
    delta = (events.reward + gamma * next_value - values) * valid
    advantage = common.discounted_sum(delta, gamma * lam, events.longest())
    return advantage, (advantage + values) * valid


def normalized(advantage: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    mean = common.per_learner_mean(advantage, valid).unsqueeze(-1)
    centred = (advantage - mean) * valid
    n = valid.sum(-1, keepdim=True).to(advantage.dtype)
    std = ((centred**2).sum(-1, keepdim=True) / (n - 1).clamp_min(1.0)).sqrt()
    return centred / (std + 1e-8)


def clipped_loss_events(
    logits: torch.Tensor, events: common.Events, old_logp: torch.Tensor, advantage: torch.Tensor,
    mask: torch.Tensor, clip: float, game: Game,
) -> torch.Tensor:
    """``sum_{b,i} -mean_{k in mask} min(rho_k A_k, clip(rho_k) A_k)``, event by event."""
    ratio = torch.exp(common.log_prob(logits, events, game) - old_logp)
    surrogate = torch.minimum(ratio * advantage, ratio.clamp(1.0 - clip, 1.0 + clip) * advantage)
    return -common.per_learner_mean(surrogate, mask).sum()


def advantage_sums(events: common.Events, advantage: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per learner and (context, outcome) pair ``(B, L, 24)``: the sums of the positive and of
    the negative advantages of the events in ``mask``, and the events in ``mask`` ``(B, L)``."""
    shape = (*events.count.shape, 2 * common.CONTEXTS)
    weight = mask.to(advantage.dtype)
    zeros = lambda: torch.zeros(shape, dtype=advantage.dtype, device=advantage.device)  # noqa: E731
    positive = zeros().scatter_add_(-1, events.pair, advantage.clamp_min(0) * weight)
    negative = zeros().scatter_add_(-1, events.pair, advantage.clamp_max(0) * weight)
    return positive, negative, weight.sum(-1)


def clipped_loss(
    logits: torch.Tensor, old_table: torch.Tensor, sums: tuple[torch.Tensor, ...], clip: float, game: Game
) -> torch.Tensor:
    """The clipped surrogate of ``clipped_loss_events``, summed by (context, outcome) pair.

    The ratio of an event depends on its pair only, and ``min(rho A, clip(rho) A)``
    is ``A min(rho, clip(rho))`` for ``A > 0`` and ``A max(rho, clip(rho))`` for
    ``A < 0``, so the sum over events is exact with the pair's sums of positive and
    negative advantages (``advantage_sums``); ``old_table (B, L, 24)`` holds the old
    log-probabilities of the pairs."""
    positive, negative, count = sums
    ratio = numerics.per_population(torch.exp, common.outcome_log_probs(logits, game).flatten(-2) - old_table)
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip)
    surrogate = positive * torch.minimum(ratio, clipped) + negative * torch.maximum(ratio, clipped)
    return -(surrogate.sum(-1) / count.clamp_min(1.0)).sum()


def minibatch_ids(state: common.BaselineState, events: common.Events) -> torch.Tensor:
    """``(B, L, T)``: each event's minibatch (0..minibatches-1) for one epoch, from a random
    permutation of the learner's own events (``-1`` on padding)."""
    batch, learners, slots = events.context.shape
    uniforms = state.sampler.uniform(learners, slots).to(events.context.device)  # drawn on the CPU: the same on any device
    key = torch.where(events.valid, uniforms, torch.full_like(uniforms, 2.0))
    rank = key.argsort(dim=-1, stable=True).argsort(dim=-1, stable=True)
    ids = rank * state.config.minibatches // events.count.clamp_min(1).unsqueeze(-1)
    return torch.where(events.valid, ids, -1)


def update(state: common.BaselineState, records) -> None:
    config, game = state.config, state.game
    events = common.decision_events(records, state.learners, game)
    with torch.no_grad():
        state.values.prime(common.discounted_sum(events.reward, config.gamma, events.longest()), events)
        advantage, targets = gae(state.values.at(events), events, config.gamma, config.lam)
        if config.normalize:
            advantage = normalized(advantage, events.valid)
        old_table = common.outcome_log_probs(state.logits(), game).flatten(-2)
    for _ in range(config.epochs):
        ids = minibatch_ids(state, events)
        for m in range(config.minibatches):
            sums = advantage_sums(events, advantage, ids == m)
            state.optimizer.zero_grad()
            clipped_loss(state.logits(), old_table, sums, config.clip, game).backward()
            state.optimizer.step()
    state.values.fit(targets, events, config.value_rate)


def start(regime: Regime, seeds: list[int], config: PPOConfig | None = None) -> common.BaselineState:
    """The initial state (``docs/model.md §7``, ``§11``).

    Args:
        regime: the game, the population and the training settings (``regime.train``).
        seeds: one seed per population; ``B = len(seeds)``.
        config: the settings; default: tuned for ``regime`` in ``tuned.json``, else ``PPOConfig()``.

    Returns:
        A ``BaselineState``: learners' logits ``(B, L, 2, 2)``, ``(B, L, 2, 2, 2)`` as every
        method starts them, Adam over the heads that learn, an empty value table ``(B, L, 12)``.
    """
    settings = common.settings_for(PPOConfig(), METHOD, regime, config)
    return common.start_state(regime, seeds, settings, f"{METHOD}-sampling", settings.epochs * settings.minibatches)


def step(state: common.BaselineState) -> torch.Tensor:
    """One iteration in place: play ``regime.train.interactions`` interactions, updating every
    ``config.interactions`` records.

    Args:
        state: the ``BaselineState`` of ``B`` populations.

    Returns:
        Each learner's mean payoff per round over the interactions played, ``(B, L)``.
    """
    return common.play_and_update(state, update)

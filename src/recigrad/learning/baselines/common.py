"""What REINFORCE and PPO share: decision events from public records, the
policy tables as logits, log-probabilities, discounted sums and the value table.

**The learner's timeline.**  A learner decides when it is the donor (its
realised action, context ``(x_own, x_rec)``) or one of the ``k`` observers (its
observed signal, context ``(a, x_donor, x_rec)`` with ``a`` the action *it*
perceived: its own entry of the records' private ``perceived``, the realised
action unless its perception erred; unobserved interactions have no observer).  These *decision events*, in the order
they happen, are the steps of its own timeline; the discount ``gamma`` applies
per step.  Its payoffs (``-c`` when it gives C, ``+b`` when it receives C; no
shaping) are credited to its latest decision at or before the interaction that
pays them (a donor's cost to that donation itself; what it receives as recipient
to the decision that preceded it).  Payoffs before a learner's first decision
of an update batch are dropped (their decision belonged to the previous batch).

**Contexts.**  The 12 decision contexts of ``recigrad.game.contexts`` (docs/model.md
§2), numbered like the 12 logits: the action contexts first, then the signal
contexts.  The value table has one entry per learner and context (role and
context together).

**Log-probabilities.**  The world folds the execution and assessment errors into
observable tables, so an event's log-probability is that of its realised outcome
under the learner's observable table, ``pc = sigmoid(z) (1 - e)`` and
``so = (1 - mu) sigmoid(z) + mu (1 - sigmoid(z))`` (the signal given the action
the learner perceived, so the perception error, which comes before the decision,
is part of its context): the errors are part of the environment and the
score-function gradient stays unbiased.  How the ``k`` signals aggregate into the
donor's reputation is part of the environment too.

Events are laid out ``(B, L, T)`` (population, learner, slot) with ``T`` the
interactions of the update batch, an upper bound on any learner's events, so
shapes and reductions do not depend on the other populations of a batch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from importlib import resources

import torch
import torch.nn.functional as F

from recigrad.dynamics.records import AGENT_FIELDS, PER_OBSERVER, RECORD_DTYPES
from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import Records
from recigrad.game import DTYPE, Game
from recigrad.game.contexts import ACTION_CONTEXTS, CONTEXTS, action_context, flat_tables, signal_decision
from recigrad.game.regime import Regime
from recigrad.game.scaling import scaled_origin
from recigrad.learning import contract
from recigrad.learning.tables import LearnerTables, start_fields
from recigrad.util import numerics
from recigrad.util.threads import one_thread

TUNED_FILE = "tuned.json"


# ---------------------------------------------------------------------------
# policy tables as logits


def flat_logits(logits_act: torch.Tensor, logits_sig: torch.Tensor) -> torch.Tensor:
    """``(B, L, 12)``: action logits then signal logits, indexed by decision context."""
    return flat_tables(logits_act, logits_sig)


# ---------------------------------------------------------------------------
# decision events


@dataclass
class Events:
    """Each learner's decision events of an update batch, compacted to the front
    of the slot axis: every field ``(B, L, T)`` except ``count (B, L)``."""

    context: torch.Tensor  # long, 0..11 (0 where not valid)
    outcome: torch.Tensor  # float 0/1: the realised action (donor) or the observed signal (observer)
    reward: torch.Tensor  # float: payoffs credited to the event (see the module docstring)
    valid: torch.Tensor  # bool: slot < count
    count: torch.Tensor  # long (B, L): events per learner

    @property
    def pair(self) -> torch.Tensor:
        """``(B, L, T)``: ``2 context + outcome``, the index of the event's (context, outcome) pair (0..23)."""
        return 2 * self.context + (self.outcome > 0.5).to(torch.long)

    @property
    def slots(self) -> int:
        return self.context.shape[-1]

    def longest(self) -> int:
        """The most events any learner has (loops stop there; the rest are padding)."""
        return int(self.count.max()) if self.count.numel() else 0


def decision_events(records: Records, learners: list[int], game: Game) -> Events:
    """Turn the public records ``(B, T)`` into each learner's decision events and credited rewards."""
    batch, slots = records.donor.shape
    device = records.donor.device  # the learners' device (recigrad.util.device)
    who = torch.tensor(learners, dtype=torch.long, device=device).view(1, -1, 1)
    field_ = lambda name: getattr(records, name).to(torch.long).unsqueeze(1)  # noqa: E731  (B, 1, T[, K])
    donor, recipient = field_("donor"), field_("recipient")
    x_d, x_r, action = field_("donor_rep"), field_("recipient_rep"), field_("action")
    # the learner's own seat among the k observers (at most one: they are drawn without replacement)
    seat = field_("observers") == who.unsqueeze(-1)  # (B, L, T, K)
    is_donor, is_observer, is_recipient = donor == who, seat.any(-1), recipient == who  # (B, L, T)
    signal = (field_("signals") * seat).sum(-1)  # its observed signal
    perceived = (field_("perceived") * seat).sum(-1)  # the action it perceived: its own, private, signal context
    decision = is_donor | is_observer  # a donor never observes its own interaction
    context_t = torch.where(is_donor, action_context(x_d, x_r), signal_decision(perceived, x_d, x_r))
    outcome_t = torch.where(is_donor, action, signal).to(DTYPE)
    reward_t = (game.b * is_recipient.to(DTYPE) - game.c * is_donor.to(DTYPE)) * action.to(DTYPE)
    order = decision.to(torch.long).cumsum(-1) - 1  # index of the latest decision at or before t
    dump = slots  # an extra slot that collects what belongs to no event of this batch
    slot = torch.where(decision, order, dump)
    shape = (batch, len(learners), slots + 1)
    context = torch.zeros(shape, dtype=torch.long, device=device).scatter_(-1, slot, context_t)[..., :slots]
    outcome = torch.zeros(shape, dtype=DTYPE, device=device).scatter_(-1, slot, outcome_t)[..., :slots]
    owner = torch.where(order >= 0, order, dump)
    reward = torch.zeros(shape, dtype=DTYPE, device=device).scatter_add_(-1, owner, reward_t)[..., :slots]
    count = decision.sum(-1)
    valid = torch.arange(slots, device=device).view(1, 1, -1) < count.unsqueeze(-1)
    zero = torch.zeros((), dtype=torch.long, device=device)
    return Events(torch.where(valid, context, zero), outcome * valid, reward * valid, valid, count)


# ---------------------------------------------------------------------------
# log-probabilities


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def outcome_log_probs(logits: torch.Tensor, game: Game) -> torch.Tensor:
    """``(B, L, 12, 2)``: log-probability of each outcome (0, 1) in each context under
    the learner's observable table, from ``logits (B, L, 12)``.

    An outcome's probability is ``lo (1 - q) + hi q`` with ``q = sigmoid(z)``:
    ``(lo, hi) = (0, 1 - e)`` for a realised C (and ``(1, e)`` for D), ``(mu, 1 - mu)``
    for an observed "good" (and ``(1 - mu, mu)`` for "bad"); computed in log space
    (log-sigmoid, log-add-exp) for stability.
    """
    log_q = numerics.per_population(F.logsigmoid, logits).unsqueeze(-1)
    log_not_q = numerics.per_population(lambda z: F.logsigmoid(-z), logits).unsqueeze(-1)
    e, mu = game.e, game.mu
    donor = torch.arange(CONTEXTS).view(-1, 1) < ACTION_CONTEXTS  # (12, 1)
    lo = torch.where(donor, torch.tensor([[_log(1.0), _log(0.0)]]), torch.tensor([[_log(1.0 - mu), _log(mu)]]))
    hi = torch.where(donor, torch.tensor([[_log(e), _log(1.0 - e)]]), torch.tensor([[_log(mu), _log(1.0 - mu)]]))
    lo, hi = lo.to(logits.device, logits.dtype), hi.to(logits.device, logits.dtype)  # built on the CPU, used on the logits' device
    return numerics.per_population(torch.logaddexp, lo + log_not_q, hi + log_q)


def log_prob(logits: torch.Tensor, events: Events, game: Game) -> torch.Tensor:
    """``(B, L, T)``: log-probability of each event's realised outcome under the
    learner's observable table (0 on padding).  ``logits (B, L, 12)``."""
    return outcome_log_probs(logits, game).flatten(-2).gather(-1, events.pair) * events.valid


# ---------------------------------------------------------------------------
# discounted sums and the value table


def discounted_sum(x: torch.Tensor, discount: float, longest: int) -> torch.Tensor:
    """Reverse discounted cumulative sum along the slot axis, ``out_k = x_k + discount out_{k+1}``,
    over the first ``longest`` slots (padding after a learner's events holds zeros,
    so its sums restart from exactly 0)."""
    out = torch.zeros_like(x)
    acc = torch.zeros_like(x[..., 0])
    for k in range(longest - 1, -1, -1):
        acc = x[..., k] + discount * acc
        out[..., k] = acc
    return out


def context_means(values: torch.Tensor, events: Events) -> tuple[torch.Tensor, torch.Tensor]:
    """Per learner and context: the mean of ``values (B, L, T)`` over the events, and the counts ``(B, L, 12)``."""
    shape = (*events.count.shape, CONTEXTS)
    weight = events.valid.to(DTYPE)
    sums = torch.zeros(shape, dtype=DTYPE, device=values.device).scatter_add_(-1, events.context, values * weight)
    counts = torch.zeros(shape, dtype=DTYPE, device=values.device).scatter_add_(-1, events.context, weight)
    return sums / counts.clamp_min(1.0), counts


@dataclass
class ValueTable:
    """A tabular value function over (learner, context), one per population:
    ``value (B, L, 12)`` and which entries have been fitted (``seen``).

    Fitting is the tabular least-squares step: each context seen in a batch
    moves its value toward the batch's mean target by ``rate`` (the first time,
    all the way).  Contexts never seen are first set to the batch's mean
    Monte-Carlo return of that context (``prime``)."""

    value: torch.Tensor
    seen: torch.Tensor

    @staticmethod
    def zeros(batch: int, learners: int, device=None) -> ValueTable:
        return ValueTable(torch.zeros(batch, learners, CONTEXTS, dtype=DTYPE, device=device),
                          torch.zeros(batch, learners, CONTEXTS, dtype=torch.bool, device=device))

    def fit(self, targets: torch.Tensor, events: Events, rate: float) -> None:
        mean, counts = context_means(targets, events)
        hit = counts > 0
        moved = torch.where(self.seen, self.value + rate * (mean - self.value), mean)
        self.value = torch.where(hit, moved, self.value)
        self.seen = self.seen | hit

    def prime(self, returns: torch.Tensor, events: Events) -> None:
        """Give contexts that occur for the first time their batch mean return."""
        mean, counts = context_means(returns, events)
        fresh = (counts > 0) & ~self.seen
        self.value = torch.where(fresh, mean, self.value)
        self.seen = self.seen | fresh

    def at(self, events: Events) -> torch.Tensor:
        """``(B, L, T)``: the value of each event's context (0 on padding)."""
        return self.value.gather(-1, events.context) * events.valid


def per_learner_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, L)``: mean of ``x (B, L, T)`` over ``mask`` (0 where the mask is empty)."""
    m = mask.to(DTYPE)
    return (x * m).sum(-1) / m.sum(-1).clamp_min(1.0)


# ---------------------------------------------------------------------------
# settings: defaults, tuned per regime


def tuned_table() -> dict:
    """The tuned settings ``{method: {regime: {field: value}}}`` (empty when none are shipped)."""
    path = resources.files("recigrad.learning.baselines") / TUNED_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("best", {})


def settings_for(defaults, method: str, regime: Regime, config=None):
    """``config`` if given; otherwise the method's defaults updated with the tuned
    settings of ``regime`` (by name), the defaults alone for regimes not tuned.  A regime
    of the scaling study (``recigrad.game.scaling``, named ``BASE-N<n>``) takes ``BASE``'s
    settings with ``interactions`` (per update) scaled by ``n / N_base``."""
    if config is not None:
        return config
    origin = scaled_origin(regime)  # the scaling study's BASE-N<n>: BASE's settings, update batch scaled with N
    if origin is not None:
        settings = settings_for(defaults, method, origin[0])
        if getattr(settings, "interactions", None):
            settings = replace(settings, interactions=max(1, round(settings.interactions * origin[1])))
        return settings
    tuned = tuned_table().get(method, {}).get(regime.name, {})
    names = {f.name for f in fields(defaults)}
    return replace(defaults, **{k: v for k, v in tuned.items() if k in names})


# ---------------------------------------------------------------------------
# the training state and the play loop both methods share


@dataclass
class BaselineState(LearnerTables):
    """A batch of populations training with a sample-based method."""

    regime: Regime
    seeds: list[int]
    config: object  # the method's settings dataclass
    fixed_act: torch.Tensor  # (B, N, 2, 2) true tables; learners' rows are overwritten by their live tables
    fixed_sig: torch.Tensor
    logits_act: torch.Tensor  # (B, L, 2, 2)
    logits_sig: torch.Tensor  # (B, L, 2, 2, 2)
    optimizer: torch.optim.Optimizer
    values: ValueTable
    reputation: torch.Tensor
    streams: Streams  # the world
    sampler: Streams  # the method's own random numbers (minibatches)
    interactions: int = 0
    updates: int = 0
    buffer: list[Records] = field(default_factory=list)
    buffered: int = 0
    steps_per_update: int = 1  # optimiser steps per update

    @property
    def batch_interactions(self) -> int:
        return self.config.interactions or self.regime.train.interactions

    def logits(self) -> torch.Tensor:
        return flat_logits(self.logits_act, self.logits_sig)

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``(meta, tensors)``: the shared fields (``LearnerTables.shared_state_dict``), the value
        table, the sampling streams, the update count and the records waiting for the next update."""
        meta, tensors = self.shared_state_dict()
        tensors["values.value"], tensors["values.seen"] = self.values.value, self.values.seen
        meta.update(sampler=self.sampler.state(), updates=self.updates, buffered=self.buffered, buffer=bool(self.buffer))
        if self.buffer:
            pending = Records.cat(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
            tensors.update({f"buffer.{f}": getattr(pending, f) for f in Records.FIELDS})
        return meta, tensors

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Check ``(meta, tensors)`` against this fresh state and load it (``docs/model.md §11``): the
        shared fields; ``updates`` and ``buffered`` as ``interactions`` implies (one update per
        ``config.interactions`` records); the value table (finite); the buffered records
        ``(B, buffered)`` (agents in ``[0, N)``, donor != recipient != observer, reputations,
        actions and signals 0/1)."""
        interactions = contract.check_int(meta, "interactions", 0, None)
        size = self.batch_interactions
        updates = contract.check_int(meta, "updates", interactions // size, interactions // size)
        buffered = contract.check_int(meta, "buffered", interactions % size, interactions % size)
        if meta.get("buffer") is not (buffered > 0):
            raise contract.StateError(f"state.buffer is {contract.shown(meta.get('buffer'))}; "
                                      f"allowed: {str(buffered > 0).lower()} (buffered is {buffered})")
        self.load_shared_state(meta, tensors, steps=updates * self.steps_per_update)
        value = contract.check_tensor(tensors, "values.value", self.values.value, finite=True)
        seen = contract.check_tensor(tensors, "values.seen", self.values.seen)
        contract.check_streams(meta, "sampler", self.sampler)
        buffer = []
        if buffered:
            batch, n = len(self.seeds), self.regime.population.n
            fields_ = {}
            for name in Records.FIELDS:
                shape = (batch, buffered, self.regime.game.observers) if name in PER_OBSERVER else (batch, buffered)
                like = torch.zeros(shape, dtype=RECORD_DTYPES[name])
                agents = tuple(range(-1 if name == "observers" else 0, n)) if name in AGENT_FIELDS else (0, 1)
                fields_[name] = contract.check_tensor(tensors, f"buffer.{name}", like, values=agents)
            observes = (fields_["donor"].unsqueeze(-1) == fields_["observers"]).any(-1)
            if bool(((fields_["donor"] == fields_["recipient"]) | observes).any()):
                raise contract.StateError("tensor buffer.donor equals the recipient or the observer of a record; "
                                          "allowed: a donor distinct from both")
            buffer = [Records(*(fields_[f].to(self.device) for f in Records.FIELDS))]
        self.values = ValueTable(value.to(self.device), seen.to(self.device))
        self.sampler.set_state(meta["sampler"])
        self.updates, self.buffered, self.buffer = updates, buffered, buffer


def start_state(regime: Regime, seeds: list[int], config, purpose: str, steps_per_update: int = 1) -> BaselineState:
    """Initial tables (``recigrad.learning.tables.initial_logits``, as every method), an Adam over the
    heads that learn (``recigrad.learning.tables.trainable``), an empty value table."""
    if not regime.population.learners:
        raise ValueError(f"regime {regime.name!r} has no learner")
    shared = start_fields(regime, seeds, config.lr)  # the logits on recigrad.util.device.current()
    return BaselineState(
        **shared,
        config=config,
        values=ValueTable.zeros(len(seeds), len(regime.population.learners), shared["logits_act"].device),
        sampler=Streams(seeds, purpose),
        steps_per_update=steps_per_update,
    )


def play_and_update(state: BaselineState, update) -> torch.Tensor:
    """One driver iteration: play ``regime.train.interactions`` interactions (the
    same budget per iteration as every method), updating with ``update(state,
    records)`` each time ``config.interactions`` records have accumulated (several
    updates per iteration, or one every few iterations).  The tables change only
    at updates.  Returns each learner's mean payoff per round over the
    interactions played, ``(B, L)``, read from the records."""
    with one_thread():
        return _play_and_update(state, update)


def _play_and_update(state: BaselineState, update) -> torch.Tensor:
    game, per_step, size = state.game, state.regime.train.interactions, state.batch_interactions
    played, parts = 0, []
    while played < per_step:
        n = min(size - state.buffered, per_step - played)
        records = state.play(n)
        state.buffer.append(records)
        parts.append(records)
        state.buffered += n
        played += n
        if state.buffered == size:
            batch = Records.cat(state.buffer) if len(state.buffer) > 1 else state.buffer[0]
            state.buffer, state.buffered = [], 0
            update(state, batch)
            state.updates += 1
    state.interactions += per_step
    records = Records.cat(parts) if len(parts) > 1 else parts[0]
    return payoff_per_round(records, state.learners, game, state.regime.population.n)


def payoff_per_round(records: Records, learners: list[int], game: Game, n: int) -> torch.Tensor:
    """``(B, L)``: each learner's mean payoff per round (``N`` interactions) over the records."""
    who = torch.tensor(learners, dtype=torch.long, device=records.donor.device).view(1, -1, 1)
    action = records.action.to(DTYPE).unsqueeze(1)
    gets = (records.recipient.to(torch.long).unsqueeze(1) == who).to(DTYPE)
    gives = (records.donor.to(torch.long).unsqueeze(1) == who).to(DTYPE)
    return ((game.b * gets - game.c * gives) * action).sum(-1) * n / max(len(records), 1)

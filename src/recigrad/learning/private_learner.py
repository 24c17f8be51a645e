"""The reciprocity-gradient learner under private assessment (docs/model.md §6, "The learner under
private assessment").

Each training iteration, for a batch of populations:

1. **play** the private world (``recigrad.dynamics.private``) with everyone's current true tables and
   cut out of its records what each learner saw itself (``recigrad.dynamics.private_records``);
2. **estimate** the others from the learner's own observations only, one estimator state per
   (population, learner) (``recigrad.learning.estimators``), the context of an action sample of donor ``d``
   toward ``r`` being the learner's **belief** of ``d``'s own views ``(M[d, d], M[d, r])`` just before it
   ((P7); ``recigrad.learning.private_beliefs``: per agent ``j`` and subject ``k`` the probability that
   ``j`` views ``k`` good, moved by what ``j``'s actions reveal under the current estimates (B1) and by
   ``j``'s likely judgements under the assumed norm (B2), in the canonical frame (B3) under a
   complement-symmetric norm such as stern judging); the others' signal tables from the gossip it heard,
   or, without gossip, the stated assumption that they assess by the learner's own norm (``assumed_signal``);
3. **model**: the private mean field (``recigrad.dynamics.private_meanfield``) with the learner's own
   live tables in its row and its estimates elsewhere, warm-started from the previous iteration's fixed
   point and Jacobian of the same (population, learner) (``model_start``; ``warm_start = False``: solved
   from the initial views every iteration, the same numbers within the solver's tolerance, slower);
4. **ascend** its own payoff there through the mean field's implicit gradient, one Adam step.

It never reads another agent's views, assessments or tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from recigrad.dynamics import private, private_meanfield
from recigrad.dynamics.private_records import Observations, observations
from recigrad.game import DTYPE, ConfigError, Game, observable
from recigrad.game.norms import RANDOM, signal_table
from recigrad.game.regime import Regime
from recigrad.learning import estimators, private_beliefs
from recigrad.learning.tables import LearnerTables, start_fields
from recigrad.util import numerics


@dataclass
class _Samples:
    """Estimator records (the fields ``recigrad.learning.estimators.update`` reads), ``(B', T')``."""

    donor: torch.Tensor
    observers: torch.Tensor
    donor_rep: torch.Tensor
    recipient_rep: torch.Tensor
    action: torch.Tensor
    signals: torch.Tensor

    def __len__(self) -> int:
        return self.donor.shape[1]


@dataclass
class PrivateEstimates:
    """Per (population, learner): the estimator counts of ``recigrad.learning.estimators`` with the
    ``B L`` (population, learner) pairs folded into its batch (population-major); ``belief (B, L, N, N)``
    float64, the learner's **beliefs** of every agent's views (``recigrad.learning.private_beliefs``:
    ``belief[b, l, j, k]`` its probability that ``j`` views ``k`` good; its own row its own views); and
    ``last (B, L, N, N, 3)`` int64, per subject ``t`` and agent ``j`` the last donation of ``t`` the learner
    observed: ``(perceived action, j's believed view of t, j's believed view of the recipient)`` as hard
    contexts before that donation, ``-1`` before the first (the context of a view ``j`` tells of ``t``)."""

    estimator: estimators.EstimatorState
    belief: torch.Tensor
    last: torch.Tensor


@dataclass(frozen=True)
class Assumptions:
    """What each learner assumes of how the others form their views (docs/model.md §6): its assumed norm
    ``norm (L, 2, 2, 2)`` (``assumed_norm``), the game's public parameters (observation, perception and
    assessment errors, initial views) and its own index ``learners[l]``; ``canonical``: keep the beliefs in the
    canonical frame (B3) (``None``: where the assumed norm is complement-symmetric and there is no gossip)."""

    norm: torch.Tensor
    learners: tuple[int, ...]
    game: Game
    canonical: bool | None = None

    def judged(self) -> torch.Tensor:
        """``(L, 2, 2, 2)``: ``recigrad.learning.private_beliefs.judged`` of each learner's assumed norm."""
        return private_beliefs.judged(self.norm, self.game.perception_error, self.game.mu)

    def gauge(self) -> torch.Tensor:
        """``(L,)`` bool: the learners whose beliefs are kept in the canonical frame (B3): a complement-symmetric
        assumed norm and no gossip (a told view would fix the frame), unless ``canonical`` says otherwise."""
        if self.canonical is not None:
            return torch.full((len(self.learners),), bool(self.canonical))
        return private_beliefs.complement_symmetric(self.norm) & (self.game.gossip == 0)


def init_estimates(batch: int, n: int, learners: int, initial_good: float = 1.0) -> PrivateEstimates:
    """Empty estimates for ``batch`` populations of ``n`` agents with ``learners`` learners each; every view
    believed good with the game's ``initial_good``."""
    belief = private_beliefs.initial(batch * learners, n, initial_good).reshape(batch, learners, n, n)
    return PrivateEstimates(estimators.init_state(batch * learners, n), belief,
                            torch.full((batch, learners, n, n, 3), -1, dtype=torch.int64))


def walk(obs: Observations, estimates: PrivateEstimates, assumptions: Assumptions,
         config: estimators.EstimatorConfig) -> tuple[_Samples, torch.Tensor, _Samples, PrivateEstimates]:
    """Go through the learners' observations in time order, keeping their beliefs of the others' views.

    Per observed interaction (donor ``d``, recipient ``r``, perceived action ``a``): the believed views of
    ``d`` *before* it, ``(belief[d, d], belief[d, r])`` as hard contexts, are the context of one sample of
    ``d``'s action table, (P7); then the beliefs follow (B1) (what the action reveals of ``d``'s view of
    ``r``, under the estimates as they stand before this walk) and (B2) (each agent's judgement of ``d``)
    (``recigrad.learning.private_beliefs``).  Per gossip event heard: the told view is one sample of the
    speaker's signal table at the context of the subject's last observed donation as the speaker saw it in the
    learner's beliefs, and ``belief[speaker, subject]`` becomes the told view (the learner's own view of the
    subject too, if it adopted it).

    Args:
        obs: ``Observations`` ``(B, L, T)``.
        estimates: the state before them (not modified).
        assumptions: the learners' ``Assumptions``.
        config: the estimator settings (for the current estimates).

    Returns:
        ``(actions (B L, T), valid (B L, T), told (B L, T G), estimates)``: the estimator records of the
        action samples, which rows hold one, the gossip samples, and the state with new beliefs and last
        donations (its estimator counts not yet updated).
    """
    batch, n_learners, steps = obs.seen.shape
    slots = obs.heard.shape[3]
    n = estimates.belief.shape[-1]
    rows = batch * n_learners
    idx = torch.arange(rows)
    belief = estimates.belief.reshape(rows, n, n)
    last = estimates.last.reshape(rows, n, n, 3).clone()
    learner = torch.tensor(assumptions.learners, dtype=torch.int64).repeat(batch)
    judge = assumptions.judged().to(DTYPE).repeat(batch, 1, 1, 1)
    gauge = assumptions.gauge().repeat(batch)
    p_c = estimators.estimate(estimates.estimator, config)[0]  # (B L, N, 2, 2): P(perceived C | u, x)
    seen, donor, recipient, perceived, view_d, view_r, assessment = (x.reshape(rows, steps) for x in (
        obs.seen, obs.donor, obs.recipient, obs.perceived, obs.view_donor, obs.view_recipient, obs.assessment))
    heard = obs.heard.reshape(rows, steps, slots, 4)
    ctx = torch.zeros((2, rows, steps), dtype=torch.int64)
    observer = torch.full((rows, steps, slots), -1, dtype=torch.int64)
    context = torch.zeros((rows, steps, slots, 3), dtype=torch.int64)
    told = torch.zeros((rows, steps, slots), dtype=torch.int64)
    for t in range(steps):
        now = seen[:, t]
        if bool(now.any()):
            d, r, a = donor[:, t].clamp(min=0), recipient[:, t].clamp(min=0), perceived[:, t].clamp(min=0)
            belief = private_beliefs.own_views(belief, now, learner, (d, r), (view_d[:, t], view_r[:, t]))
            hard = private_beliefs.contexts(belief)
            ctx[0, :, t], ctx[1, :, t] = hard[idx, d, d], hard[idx, d, r]
            sample = torch.stack([a.unsqueeze(1).expand(rows, n), hard[idx, :, d], hard[idx, :, r]], -1)
            last[idx, d] = torch.where(now.reshape(-1, 1, 1), sample, last[idx, d])
            belief = private_beliefs.observe(belief, now, d, r, a, p_c, judge, assumptions.game.observation, learner,
                                             assessment[:, t])
            belief = private_beliefs.canonical(belief, now & gauge, learner)
        for k in range(slots):
            speaker, subject, view, adopted = heard[:, t, k].unbind(-1)
            said = speaker >= 0
            if not bool(said.any()):
                continue
            speaker, subject = speaker.clamp(min=0), subject.clamp(min=0)
            before = last[idx, subject, speaker]
            usable = said & (before[:, 0] >= 0)
            observer[:, t, k] = torch.where(usable, speaker, observer[:, t, k])
            context[:, t, k] = torch.where(usable.unsqueeze(-1), before, context[:, t, k])
            told[:, t, k] = torch.where(usable, view, told[:, t, k])
            belief = belief.clone()
            belief[idx, speaker, subject] = torch.where(said, view.to(DTYPE), belief[idx, speaker, subject])
            belief[idx, learner, subject] = torch.where(said & (adopted == 1), view.to(DTYPE),
                                                        belief[idx, learner, subject])
    valid = seen
    d_all, a_all = (torch.where(valid, x, torch.zeros_like(x)) for x in (donor, perceived))
    x_d, x_r = (torch.where(valid, c, torch.zeros_like(c)) for c in ctx)
    none = torch.full((rows, steps, 1), -1, dtype=torch.int64)
    actions = _Samples(d_all, none, x_d, x_r, a_all, torch.zeros_like(none))
    g_a, g_d, g_r = (context[..., i].reshape(rows, steps * slots) for i in range(3))
    gossip = _Samples(torch.zeros_like(g_a), observer.reshape(rows, steps * slots, 1), g_d, g_r, g_a,
                      told.reshape(rows, steps * slots, 1))
    return actions, valid, gossip, PrivateEstimates(estimates.estimator, belief.reshape(batch, n_learners, n, n),
                                                    last.reshape(batch, n_learners, n, n, 3))


def update(estimates: PrivateEstimates, obs: Observations, config: estimators.EstimatorConfig,
           assumptions: Assumptions) -> PrivateEstimates:
    """The estimates after the learners' new observations (``walk``; the action samples, then the gossip
    samples, into the estimator)."""
    actions, valid, told, estimates = walk(obs, estimates, assumptions, config)
    state = estimators.update(estimates.estimator, actions, config, valid=valid)
    if len(told) > 0:
        state = estimators.update(state, told, config, valid=torch.zeros(told.donor.shape, dtype=torch.bool))
    return PrivateEstimates(state, estimates.belief, estimates.last)


def assumed_norm(regime: Regime) -> torch.Tensor:
    """Each learner's assumed norm, ``(L, 2, 2, 2)`` intended signal tables: the norm of its own agent
    (its warm-up norm; docs/model.md §6); ``learner:random`` has none and is refused."""
    tables = []
    for i in regime.population.learners:
        norm = regime.population.agents[i].norm
        if norm == RANDOM:
            raise ConfigError("a learner under private assessment without gossip assumes the others assess by its "
                              "warm-up norm; learner:random has none (give it a norm, or gossip > 0)")
        tables.append(signal_table(norm))
    return torch.stack(tables).to(DTYPE)


def assumptions(regime: Regime) -> Assumptions:
    """The learners' ``Assumptions``: their assumed norms (``assumed_norm``), indices and the game."""
    return Assumptions(assumed_norm(regime), tuple(regime.population.learners), regime.game)


def assumed_signal(regime: Regime) -> torch.Tensor:
    """The others' observable signal tables a learner assumes without gossip, ``(L, 2, 2, 2)``: its assumed
    norm's table (``assumed_norm``) with the game's perception and assessment errors (docs/model.md §6)."""
    sig = assumed_norm(regime)
    return observable(torch.zeros(sig.shape[:-1], dtype=DTYPE), sig, regime.game)[1]


def estimate(estimates: PrivateEstimates, config: estimators.EstimatorConfig, game: Game, n_learners: int,
             assumed: torch.Tensor | None = None,
             pool_self: bool | torch.Tensor = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Each learner's estimates ``pc_hat (B, L, N, 2, 2)`` (realised C: its perception error undone) and
    ``so_hat (B, L, N, 2, 2, 2)`` (from gossip, or ``assumed (L, 2, 2, 2)`` for every agent without it).
    ``pool_self`` (``True`` or ``(L,)`` bool per learner): the action estimates ignore the believed self-view
    (both rows the count-weighted mean of the two): the learners whose beliefs are in the canonical frame (B3),
    where a believed self-view is good by construction, and an ablation (docs/model.md §6)."""
    pc, so = estimators.estimate(estimates.estimator, config)
    rows, n = pc.shape[:2]
    pool = torch.as_tensor(pool_self, dtype=torch.bool).expand(n_learners).repeat(rows // n_learners)
    if bool(pool.any()):
        counts = estimates.estimator.act_n
        pooled = (counts * pc).sum(2, keepdim=True) / counts.sum(2, keepdim=True).clamp(min=1e-300)
        pooled = torch.where(counts.sum(2, keepdim=True) > 0, pooled, pc.mean(2, keepdim=True))
        pc = torch.where(pool.reshape(-1, 1, 1, 1), pooled.expand_as(pc), pc)
    pc, so = pc.reshape(rows // n_learners, n_learners, n, 2, 2), so.reshape(rows // n_learners, n_learners, n, 2, 2, 2)
    eps = game.perception_error
    if eps:
        pc = ((pc - eps) / (1.0 - 2.0 * eps)).clamp(0.0, 1.0)
    if game.gossip == 0:
        if assumed is None:
            raise ConfigError("without gossip the learner's model needs the assumed signal tables (assumed_signal)")
        so = assumed.to(so.dtype).reshape(1, n_learners, 1, 2, 2, 2).expand_as(so).clone()
    return pc, so


def own_payoffs(pc_own: torch.Tensor, so_own: torch.Tensor, pc_hat: torch.Tensor, so_hat: torch.Tensor,
                learners: list[int], game: Game, pairs: bool = True) -> torch.Tensor:
    """``J (B, L)``: each learner's per-round payoff in the private mean field of its own view (its live
    observable tables ``pc_own (B, L, 2, 2)``, ``so_own (B, L, 2, 2, 2)`` in its row, its estimates
    ``pc_hat (B, L, N, 2, 2)``, ``so_hat (B, L, N, 2, 2, 2)``, constants, elsewhere), differentiable in its own
    tables; solved from the initial views (``private_meanfield.solve``)."""
    return _own_payoffs(pc_own, so_own, pc_hat, so_hat, learners, game, pairs, None, warm=False)[0]


def own_payoffs_warm(pc_own: torch.Tensor, so_own: torch.Tensor, pc_hat: torch.Tensor, so_hat: torch.Tensor,
                     learners: list[int], game: Game, pairs: bool = True,
                     start: private_meanfield.WarmStart | None = None) -> tuple[torch.Tensor, private_meanfield.WarmStart]:
    """``own_payoffs`` warm-started (``private_meanfield.solve_warm``) from ``start``, the fixed points and
    Jacobians of each (population, learner)'s model at the previous call, the ``B L`` pairs folded into its
    batch population-major (``None``: from the initial views); returns ``(J (B, L), the next call's start)``."""
    return _own_payoffs(pc_own, so_own, pc_hat, so_hat, learners, game, pairs, start, warm=True)


def _own_payoffs(pc_own, so_own, pc_hat, so_hat, learners, game, pairs, start, warm):
    batch, n_learners, n = pc_hat.shape[:3]
    mask = torch.zeros(n_learners, n, dtype=DTYPE)
    mask[torch.arange(n_learners), torch.tensor(learners)] = 1.0

    def mix(hat, own):
        m = mask.reshape(1, n_learners, n, *(1,) * (hat.dim() - 3))
        return hat.detach() * (1.0 - m) + own.unsqueeze(2) * m

    pc_view, so_view = mix(pc_hat, pc_own), mix(so_hat, so_own)
    if warm:
        solution, states = private_meanfield.solve_warm(pc_view.flatten(0, 1), so_view.flatten(0, 1), game,
                                                        pairs=pairs, start=start)
    else:
        solution, states = private_meanfield.solve(pc_view.flatten(0, 1), so_view.flatten(0, 1), game, pairs=pairs), None
    payoff = solution.payoff.reshape(batch, n_learners, n)
    return payoff[:, torch.arange(n_learners), torch.tensor(learners)], states


def pairs_for(n: int) -> bool:
    """The learner's model keeps the pair probabilities where it can (``N <= MAX_N_PAIRS``)."""
    return n <= private_meanfield.MAX_N_PAIRS


@dataclass
class PrivateLearners(LearnerTables):
    """A batch of populations in training under private assessment (module docstring)."""

    regime: Regime
    seeds: list[int]
    fixed_act: torch.Tensor
    fixed_sig: torch.Tensor
    logits_act: torch.Tensor
    logits_sig: torch.Tensor
    optimizer: torch.optim.Optimizer
    estimates: PrivateEstimates
    views: private.PrivateState
    private_streams: private.PrivateStreams
    assumptions: Assumptions
    assumed: torch.Tensor | None
    reputation: torch.Tensor | None = None
    streams: object = None
    estimator_config: estimators.EstimatorConfig = field(default_factory=estimators.EstimatorConfig)
    interactions: int = 0
    warm_start: bool = True
    model_start: private_meanfield.WarmStart | None = None

    def play_private(self, interactions: int) -> Observations:
        """The private world plays with everyone's current true tables; what each learner saw."""
        act, sig = self.tables()
        self.views, _, records = private.play(act, sig, self.views, self.private_streams, interactions, self.game, record=True)
        return observations(records, self.learners)


def start(regime: Regime, seeds: list[int], estimator_config: estimators.EstimatorConfig | None = None) -> PrivateLearners:
    """The initial state (docs/model.md §6): logits as the public learner's, empty estimates, the private
    world's initial views and streams."""
    if not regime.game.private:
        raise ConfigError("the private learner needs assessment = private (use recigrad.learning.reciprocity_gradient)")
    shared = start_fields(regime, seeds, regime.train.lr)
    n, n_learners = regime.population.n, len(regime.population.learners)
    if n > private_meanfield.MAX_N:
        raise ConfigError(f"the private learner's model needs N <= {private_meanfield.MAX_N}, got N = {n}")
    shared.pop("reputation"), shared.pop("streams")
    return PrivateLearners(**shared, estimates=init_estimates(len(seeds), n, n_learners, regime.game.initial_good),
                           views=private.initial_state(seeds, n, regime.game),
                           private_streams=private.private_streams(seeds),
                           assumptions=assumptions(regime),
                           assumed=assumed_signal(regime) if regime.game.gossip == 0 else None,
                           estimator_config=estimator_config or estimators.EstimatorConfig())


def step(state: PrivateLearners) -> torch.Tensor:
    """One iteration: play, estimate from each learner's own observations, model, ascend (in place).
    Returns each learner's payoff per round in its own model before the step, ``(B, L)``."""
    train, game = state.regime.train, state.game
    obs = state.play_private(train.interactions)
    state.interactions += train.interactions
    state.estimates = update(state.estimates, obs, state.estimator_config, state.assumptions)
    pc_hat, so_hat = estimate(state.estimates, state.estimator_config, game, len(state.learners), state.assumed,
                              pool_self=state.assumptions.gauge())
    pc_own, so_own = observable(numerics.sigmoid(state.logits_act), numerics.sigmoid(state.logits_sig), game)
    pairs = pairs_for(pc_hat.shape[2])
    if state.warm_start:
        payoff, state.model_start = own_payoffs_warm(pc_own, so_own, pc_hat, so_hat, state.learners, game, pairs,
                                                     state.model_start)
    else:
        payoff = own_payoffs(pc_own, so_own, pc_hat, so_hat, state.learners, game, pairs)
    state.optimizer.zero_grad()
    (-payoff.sum()).backward()
    state.optimizer.step()
    return payoff.detach()

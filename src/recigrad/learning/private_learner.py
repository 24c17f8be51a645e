"""The reciprocity-gradient learner under private assessment (docs/model.md §6, "The learner under
private assessment").

Each training iteration, for a batch of populations:

1. **play** the private world (``recigrad.dynamics.private``) with everyone's current true tables and
   cut out of its records what each learner saw itself (``recigrad.dynamics.private_records``);
2. **estimate** the others from the learner's own observations only, one estimator state per
   (population, learner) (``recigrad.learning.estimators``), the contexts of an action sample being the
   learner's *shadow* views (what an agent of its assumed norm would think after the same observations,
   (P7)); the others' signal tables from the gossip it heard, or, without gossip, the stated assumption
   that they assess by the learner's own norm (``assumed_signal``);
3. **model**: the private mean field (``recigrad.dynamics.private_meanfield``) with the learner's own
   live tables in its row and its estimates elsewhere, warm-started from the previous iteration's fixed
   point and Jacobian of the same (population, learner) (``model_start``; ``warm_start = False``: solved
   from the initial views every iteration, the same numbers within the solver's tolerance, slower);
4. **ascend** its own payoff there through the mean field's implicit gradient, one Adam step.

It never reads another agent's views, assessments or tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from recigrad.dynamics import private, private_meanfield
from recigrad.dynamics.kernel import numba
from recigrad.dynamics.private_records import Observations, observations
from recigrad.game import DTYPE, ConfigError, Game, observable
from recigrad.game.norms import RANDOM, signal_table
from recigrad.game.regime import Regime
from recigrad.learning import estimators
from recigrad.learning.tables import LearnerTables, start_fields
from recigrad.util import numerics

WALK_COMPILED = True  # walk's loop over time steps compiled with numba where it is installed


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
    ``B L`` (population, learner) pairs folded into its batch (population-major); ``shadow (B, L, N)`` int64,
    the learner's **shadow views** (docs/model.md §6): what an agent of the assumed norm would think of each
    agent after the learner's own observations (``-1`` until the learner first observes it, then seeded with
    its own view); ``self_shadow (B, L, N)`` int64, its proxy of each agent's self-view ``M[j, j]``: the
    judgement of the assumed norm on each observed donation of ``j`` with ``j``'s previous proxy self-view and
    the shadow view of the recipient (a discriminator that acts on views the learner shares keeps a good
    self-view in the learner's eyes, whatever the learner thinks of it); and ``last (B, L, N, 3)`` int64,
    the last donation of each agent the learner observed:
    ``(perceived action, shadow view of the donor, shadow view of the recipient)``, ``-1`` before the first."""

    estimator: estimators.EstimatorState
    shadow: torch.Tensor
    self_shadow: torch.Tensor
    last: torch.Tensor


def init_estimates(batch: int, n: int, learners: int) -> PrivateEstimates:
    """Empty estimates for ``batch`` populations of ``n`` agents with ``learners`` learners each."""
    unknown = torch.full((batch, learners, n), -1, dtype=torch.int64)
    return PrivateEstimates(estimators.init_state(batch * learners, n), unknown, unknown.clone(),
                            torch.full((batch, learners, n, 3), -1, dtype=torch.int64))


def walk(obs: Observations, estimates: PrivateEstimates,
         norm: torch.Tensor) -> tuple[_Samples, torch.Tensor, _Samples, PrivateEstimates]:
    """Go through the learners' observations in time order, keeping their shadow views.

    Per observed interaction (donor ``d``, recipient ``r``, perceived action ``a``): the proxy self-view of
    ``d`` and the shadow view of ``r`` (seeded with the learner's own views where still unknown) are the
    context of one sample of ``d``'s action table, (P7); then the shadow view of ``d`` becomes the assumed
    norm's judgement ``norm[a, shadow[d], shadow[r]] > 1/2`` and its proxy self-view
    ``norm[a, self[d], shadow[r]] > 1/2``.  Per gossip event heard: the told view is one sample of the
    speaker's signal table at the context of the subject's last observed donation, and the shadow view of
    the subject becomes the told view if the learner adopted it.

    Args:
        obs: ``Observations`` ``(B, L, T)``.
        estimates: the state before them (not modified).
        norm: ``(L, 2, 2, 2)`` each learner's assumed intended signal table.

    Returns:
        ``(actions (B L, T), valid (B L, T), told (B L, T G), estimates)``: the estimator records of the
        action samples, which rows hold one, the gossip samples, and the state with new shadow views and
        last donations (its estimator counts not yet updated).
    """
    batch, n_learners, steps = obs.seen.shape
    slots = obs.heard.shape[3]
    judge = (norm > 0.5).to(torch.int64)  # (L, a, x_d, x_r)
    loop = _walk_compiled if _walk_jit is not None and WALK_COMPILED else _walk_tensors
    ctx, observer, context, told, shadow, own, last = loop(obs, estimates, judge)
    rows = batch * n_learners
    valid = obs.seen.flatten(0, 1)
    donor, a = (torch.where(valid, x.flatten(0, 1), torch.zeros_like(valid, dtype=torch.int64)) for x in (obs.donor, obs.perceived))
    x_d, x_r = (torch.where(valid, c.flatten(0, 1), torch.zeros_like(donor)) for c in ctx)
    none = torch.full((*donor.shape, 1), -1, dtype=torch.int64)
    actions = _Samples(donor, none, x_d, x_r, a, torch.zeros_like(none))
    g_a, g_d, g_r = (context[..., i].reshape(rows, steps * slots) for i in range(3))
    gossip = _Samples(torch.zeros_like(g_a), observer.reshape(rows, steps * slots, 1), g_d, g_r, g_a,
                      told.reshape(rows, steps * slots, 1))
    return actions, valid, gossip, PrivateEstimates(estimates.estimator, shadow, own, last)


def _walk_tensors(obs: Observations, estimates: PrivateEstimates, judge: torch.Tensor):
    """``walk``'s loop over time steps in tensor operations over the ``(B, L)`` pairs (the reference of the
    compiled one): ``(ctx (2, B, L, T), observer (B, L, T, G), context (B, L, T, G, 3), told (B, L, T, G),
    shadow, self_shadow, last)``."""
    batch, n_learners, steps = obs.seen.shape
    slots = obs.heard.shape[3]
    shadow, own, last = estimates.shadow.clone(), estimates.self_shadow.clone(), estimates.last.clone()
    b_idx = torch.arange(batch).reshape(-1, 1).expand(batch, n_learners)
    l_idx = torch.arange(n_learners).reshape(1, -1).expand(batch, n_learners)
    ctx = torch.zeros((2, batch, n_learners, steps), dtype=torch.int64)
    observer = torch.full((batch, n_learners, steps, slots), -1, dtype=torch.int64)
    context = torch.zeros((batch, n_learners, steps, slots, 3), dtype=torch.int64)
    told = torch.zeros((batch, n_learners, steps, slots), dtype=torch.int64)
    for t in range(steps):
        seen = obs.seen[:, :, t]
        if bool(seen.any()):
            d, r = obs.donor[:, :, t].clamp(min=0), obs.recipient[:, :, t].clamp(min=0)
            a = obs.perceived[:, :, t].clamp(min=0)
            old_d, old_r = shadow[b_idx, l_idx, d], shadow[b_idx, l_idx, r]
            s_d = torch.where(old_d >= 0, old_d, obs.view_donor[:, :, t])
            s_r = torch.where(old_r >= 0, old_r, obs.view_recipient[:, :, t])
            old_self = own[b_idx, l_idx, d]
            u_d = torch.where(old_self >= 0, old_self, obs.view_donor[:, :, t])
            ctx[0, :, :, t], ctx[1, :, :, t] = u_d, s_r
            own[b_idx, l_idx, d] = torch.where(seen, judge[l_idx, a, u_d.clamp(min=0), s_r.clamp(min=0)], old_self)
            shadow[b_idx, l_idx, r] = torch.where(seen, s_r, old_r)
            new_d = judge[l_idx, a, s_d.clamp(min=0), s_r.clamp(min=0)]
            shadow[b_idx, l_idx, d] = torch.where(seen, new_d, shadow[b_idx, l_idx, d])
            now = torch.stack([a, s_d, s_r], -1)
            last[b_idx, l_idx, d] = torch.where(seen.unsqueeze(-1), now, last[b_idx, l_idx, d])
        for k in range(slots):
            speaker, subject = obs.heard[:, :, t, k, 0], obs.heard[:, :, t, k, 1]
            heard = speaker >= 0
            if not bool(heard.any()):
                continue
            subject = subject.clamp(min=0)
            before = last[b_idx, l_idx, subject]
            usable = heard & (before[..., 0] >= 0)
            observer[:, :, t, k] = torch.where(usable, speaker, observer[:, :, t, k])
            context[:, :, t, k] = torch.where(usable.unsqueeze(-1), before, context[:, :, t, k])
            told[:, :, t, k] = torch.where(usable, obs.heard[:, :, t, k, 2], told[:, :, t, k])
            adopt = heard & (obs.heard[:, :, t, k, 3] == 1)
            shadow[b_idx, l_idx, subject] = torch.where(adopt, obs.heard[:, :, t, k, 2], shadow[b_idx, l_idx, subject])
    return ctx, observer, context, told, shadow, own, last


def _walk_loop(seen, donor, recipient, perceived, view_donor, view_recipient, heard, judge, shadow, own, last,
               ctx, observer, context, told):  # pragma: no cover - compiled
    """``_walk_tensors`` per (population, learner), on numpy arrays, in place (compiled with numba)."""
    batch, n_learners, steps = seen.shape
    slots = heard.shape[3]
    for b in range(batch):
        for li in range(n_learners):
            for t in range(steps):
                if seen[b, li, t]:
                    d, r, a = max(donor[b, li, t], 0), max(recipient[b, li, t], 0), max(perceived[b, li, t], 0)
                    old_d, old_r, old_self = shadow[b, li, d], shadow[b, li, r], own[b, li, d]
                    s_d = old_d if old_d >= 0 else view_donor[b, li, t]
                    s_r = old_r if old_r >= 0 else view_recipient[b, li, t]
                    u_d = old_self if old_self >= 0 else view_donor[b, li, t]
                    ctx[0, b, li, t], ctx[1, b, li, t] = u_d, s_r
                    own[b, li, d] = judge[li, a, max(u_d, 0), max(s_r, 0)]
                    shadow[b, li, r] = s_r
                    shadow[b, li, d] = judge[li, a, max(s_d, 0), max(s_r, 0)]
                    last[b, li, d, 0], last[b, li, d, 1], last[b, li, d, 2] = a, s_d, s_r
                for k in range(slots):
                    speaker = heard[b, li, t, k, 0]
                    if speaker < 0:
                        continue
                    subject = max(heard[b, li, t, k, 1], 0)
                    if last[b, li, subject, 0] >= 0:
                        observer[b, li, t, k] = speaker
                        for i in range(3):
                            context[b, li, t, k, i] = last[b, li, subject, i]
                        told[b, li, t, k] = heard[b, li, t, k, 2]
                    if heard[b, li, t, k, 3] == 1:
                        shadow[b, li, subject] = heard[b, li, t, k, 2]


_walk_jit = numba.njit(cache=True, nogil=True)(_walk_loop) if numba is not None else None


def _walk_compiled(obs: Observations, estimates: PrivateEstimates, judge: torch.Tensor):
    """``_walk_tensors`` compiled (``_walk_loop``): the same outputs."""
    batch, n_learners, steps = obs.seen.shape
    slots = obs.heard.shape[3]
    shadow, own, last = (x.clone().numpy() for x in (estimates.shadow, estimates.self_shadow, estimates.last))
    ctx = np.zeros((2, batch, n_learners, steps), dtype=np.int64)
    observer = np.full((batch, n_learners, steps, slots), -1, dtype=np.int64)
    context = np.zeros((batch, n_learners, steps, slots, 3), dtype=np.int64)
    told = np.zeros((batch, n_learners, steps, slots), dtype=np.int64)
    fields = (obs.seen, obs.donor, obs.recipient, obs.perceived, obs.view_donor, obs.view_recipient, obs.heard)
    _walk_jit(*(np.ascontiguousarray(f.numpy()) for f in fields), np.ascontiguousarray(judge.numpy()), shadow, own,
              last, ctx, observer, context, told)
    return tuple(torch.from_numpy(x) for x in (ctx, observer, context, told, shadow, own, last))


def update(estimates: PrivateEstimates, obs: Observations, config: estimators.EstimatorConfig,
           norm: torch.Tensor) -> PrivateEstimates:
    """The estimates after the learners' new observations (``walk``; the action samples, then the gossip
    samples, into the estimator); ``norm (L, 2, 2, 2)`` the learners' assumed intended signal tables."""
    actions, valid, told, estimates = walk(obs, estimates, norm)
    state = estimators.update(estimates.estimator, actions, config, valid=valid)
    if len(told) > 0:
        state = estimators.update(state, told, config, valid=torch.zeros(told.donor.shape, dtype=torch.bool))
    return PrivateEstimates(state, estimates.shadow, estimates.self_shadow, estimates.last)


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


def assumed_signal(regime: Regime) -> torch.Tensor:
    """The others' observable signal tables a learner assumes without gossip, ``(L, 2, 2, 2)``: its assumed
    norm's table (``assumed_norm``) with the game's perception and assessment errors (docs/model.md §6)."""
    sig = assumed_norm(regime)
    return observable(torch.zeros(sig.shape[:-1], dtype=DTYPE), sig, regime.game)[1]


def estimate(estimates: PrivateEstimates, config: estimators.EstimatorConfig, game: Game, n_learners: int,
             assumed: torch.Tensor | None = None, pool_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Each learner's estimates ``pc_hat (B, L, N, 2, 2)`` (realised C: its perception error undone) and
    ``so_hat (B, L, N, 2, 2, 2)`` (from gossip, or ``assumed (L, 2, 2, 2)`` for every agent without it).
    ``pool_self``: the action estimates ignore the proxy self-view (both rows the count-weighted mean of the
    two; an ablation, docs/model.md §6)."""
    pc, so = estimators.estimate(estimates.estimator, config)
    rows, n = pc.shape[:2]
    if pool_self:
        counts = estimates.estimator.act_n
        pooled = (counts * pc).sum(2, keepdim=True) / counts.sum(2, keepdim=True).clamp(min=1e-300)
        pooled = torch.where(counts.sum(2, keepdim=True) > 0, pooled, pc.mean(2, keepdim=True))
        pc = pooled.expand_as(pc).clone()
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
    norm: torch.Tensor
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
    return PrivateLearners(**shared, estimates=init_estimates(len(seeds), n, n_learners),
                           views=private.initial_state(seeds, n, regime.game),
                           private_streams=private.private_streams(seeds),
                           norm=assumed_norm(regime),
                           assumed=assumed_signal(regime) if regime.game.gossip == 0 else None,
                           estimator_config=estimator_config or estimators.EstimatorConfig())


def step(state: PrivateLearners) -> torch.Tensor:
    """One iteration: play, estimate from each learner's own observations, model, ascend (in place).
    Returns each learner's payoff per round in its own model before the step, ``(B, L)``."""
    train, game = state.regime.train, state.game
    obs = state.play_private(train.interactions)
    state.interactions += train.interactions
    state.estimates = update(state.estimates, obs, state.estimator_config, state.norm)
    pc_hat, so_hat = estimate(state.estimates, state.estimator_config, game, len(state.learners), state.assumed)
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

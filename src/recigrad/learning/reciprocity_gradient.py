"""The reciprocity-gradient learner (SPEC section 6), top to bottom.

Each training iteration, for a batch of independent populations (seeds):

1. **play** ``interactions`` interactions of the world with everyone's current
   true tables, keeping the public records;
2. **estimate** the others: update the private estimators from the new public
   records (``recigrad.learning.estimators``), never reading anyone's true tables;
3. **model**: for every learner ``i``, build the reputation-chain model in which
   ``i`` plays its own live tables (errors applied) and everyone else plays its
   estimated observable tables (constants), and solve it (``meanfield`` or ``exact``);
4. **ascend**: take the gradient of ``J_i``, its own per-round payoff in its
   model, with respect to its action logits, signal logits or both
   (``components``), through the stationary reputations of the whole chain,
   and take an Adam step.

No sampled returns, no intrinsic reward, no shaping.  Adam is element-wise,
so the seeds of a batch train independently: a seed gives the same run alone
or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from recigrad.dynamics import exact, meanfield
from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import Records, initial_reputation, play
from recigrad.game import DTYPE, Game, observable
from recigrad.game.norms import action_table, signal_table
from recigrad.game.regime import Regime
from recigrad.learning import estimators, view
from recigrad.util import numerics

WARMUP_LOGIT = 3.0
SOLVERS = {"meanfield": meanfield.solve, "exact": exact.solve}


def warmup_logits(kind: str, norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits at +-3 of a named strategy's tables."""
    return WARMUP_LOGIT * (2 * action_table(kind, norm) - 1), WARMUP_LOGIT * (2 * signal_table(norm) - 1)


def own_payoffs(
    logits_act: torch.Tensor,
    logits_sig: torch.Tensor,
    pc_hat: torch.Tensor,
    so_hat: torch.Tensor,
    learners: list[int],
    game: Game,
    solver: str = "meanfield",
) -> torch.Tensor:
    """``J (B, L)``: each learner's per-round payoff in its own model of the
    population, differentiable in its own logits ``(B, L, 2, 2)`` / ``(B, L, 2, 2, 2)``."""
    pc_own, so_own = observable(numerics.sigmoid(logits_act), numerics.sigmoid(logits_sig), game)
    pc_view, so_view = view.substitute(pc_hat, so_hat, learners, pc_own, so_own)
    batch, n_learners, n = pc_view.shape[:3]
    solution = SOLVERS[solver](pc_view.flatten(0, 1), so_view.flatten(0, 1), game.b, game.c)
    payoff = solution.payoff.reshape(batch, n_learners, n)
    return payoff[:, torch.arange(n_learners), torch.tensor(learners)]


class LearnerTables:
    """What every method's training state shares: it has ``regime``, the fixed
    agents' true tables ``fixed_act``/``fixed_sig`` and the learners' logits
    ``logits_act``/``logits_sig``."""

    @property
    def learners(self) -> list[int]:
        return self.regime.population.learners

    @property
    def game(self) -> Game:
        return self.regime.game

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Everyone's current true intended tables ``(B, N, ...)`` (for the world and for evaluation only)."""
        act, sig = self.fixed_act.clone(), self.fixed_sig.clone()
        act[:, self.learners] = numerics.sigmoid(self.logits_act.detach())
        sig[:, self.learners] = numerics.sigmoid(self.logits_sig.detach())
        return act, sig


@dataclass
class Learners(LearnerTables):
    """A batch of populations in training: the world's state, the learners'
    logits and optimiser, and the private estimators."""

    regime: Regime
    seeds: list[int]
    fixed_act: torch.Tensor  # (B, N, 2, 2) true tables; learners' rows are overwritten by their live tables
    fixed_sig: torch.Tensor
    logits_act: torch.Tensor  # (B, L, 2, 2)
    logits_sig: torch.Tensor  # (B, L, 2, 2, 2)
    optimizer: torch.optim.Optimizer
    estimator: estimators.EstimatorState
    reputation: torch.Tensor
    streams: Streams
    estimator_config: estimators.EstimatorConfig = field(default_factory=estimators.EstimatorConfig)
    interactions: int = 0
    last_records: Records | None = None



def initial_logits(regime: Regime, seeds: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The learners' initial logits ``(B, L, 2, 2)``, ``(B, L, 2, 2, 2)``: the warm-up
    norm's tables at +-3, or standard-normal logits from the ``learner-init`` stream
    (12 per learner, in order).  Every method starts from these."""
    batch, population = len(seeds), regime.population
    init = Streams(seeds, "learner-init")
    logits_act, logits_sig = [], []
    for i in population.learners:
        agent = population.agents[i]
        if agent.warmup:
            a, s = warmup_logits("learner", agent.norm)
            logits_act.append(a.expand(batch, 2, 2))
            logits_sig.append(s.expand(batch, 2, 2, 2))
        else:
            noise = init.normal(12)
            logits_act.append(noise[:, :4].reshape(batch, 2, 2))
            logits_sig.append(noise[:, 4:].reshape(batch, 2, 2, 2))
    return torch.stack(logits_act, 1).to(DTYPE).clone(), torch.stack(logits_sig, 1).to(DTYPE).clone()


def start(regime: Regime, seeds: list[int], estimator_config: estimators.EstimatorConfig | None = None) -> Learners:
    """Initial state: learners warmed up at their norm (logits +-3) or random (standard normal logits)."""
    batch, population = len(seeds), regime.population
    fixed_act, fixed_sig = population.batched_tables(batch)
    logits_act, logits_sig = (t.requires_grad_(True) for t in initial_logits(regime, seeds))
    components = regime.train.components
    params = [p for p, part in ((logits_act, "action"), (logits_sig, "signal")) if components in (part, "joint")]
    config = estimator_config or estimators.EstimatorConfig()
    return Learners(
        regime=regime,
        seeds=list(seeds),
        fixed_act=fixed_act,
        fixed_sig=fixed_sig,
        logits_act=logits_act,
        logits_sig=logits_sig,
        optimizer=torch.optim.Adam(params, lr=regime.train.lr),
        estimator=estimators.init_state(batch, population.n),
        reputation=initial_reputation(batch, population.n),
        streams=Streams(seeds, "world"),
        estimator_config=config,
    )


def step(state: Learners) -> torch.Tensor:
    """One iteration: play, estimate, model, ascend.  Returns each learner's
    payoff in its own model before the step, ``(B, L)``."""
    train, game = state.regime.train, state.game
    # 1. play, with everyone's current true tables
    pc, so = observable(*state.tables(), game)
    state.reputation, _, records = play(pc, so, state.reputation, state.streams, train.interactions, record=True)
    state.interactions += train.interactions
    state.last_records = records
    # 2. estimate the others from the public records
    state.estimator = estimators.update(state.estimator, records, state.estimator_config)
    pc_hat, so_hat = estimators.estimate(state.estimator, state.estimator_config)
    # 3. model: own live tables, the others' estimates
    payoff = own_payoffs(state.logits_act, state.logits_sig, pc_hat, so_hat, state.learners, game, train.model)
    # 4. ascend the reciprocity gradient
    state.optimizer.zero_grad()
    (-payoff.sum()).backward()
    state.optimizer.step()
    return payoff.detach()

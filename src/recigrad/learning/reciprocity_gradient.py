"""The reciprocity-gradient learner (docs/model.md §6), top to bottom.

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

from dataclasses import asdict, dataclass, field

import torch

from recigrad.dynamics import exact, meanfield
from recigrad.dynamics.streams import Streams
from recigrad.game import ConfigError, Game, observable
from recigrad.game.regime import Regime
from recigrad.learning import contract, estimators, view
from recigrad.learning.tables import LearnerTables, start_fields
from recigrad.util import numerics

SOLVERS = {"meanfield": meanfield.solve, "exact": exact.solve}


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
    if solver == "meanfield" and len(learners) > 1 and view.shares_observers(game):
        # a society: every view's good probabilities at once, O(L N), without the (B, L, N, ...) views
        # (docs/model.md §6, "Societies at scale"); one learner keeps the per-view solve, bit for bit
        parts = view.observer_sums(pc_hat, so_hat, learners, pc_own, so_own)
        return meanfield.own_payoffs(*parts, pc_hat, pc_own, learners, game)
    pc_view, so_view = view.substitute(pc_hat, so_hat, learners, pc_own, so_own)
    batch, n_learners, n = pc_view.shape[:3]
    pc_flat, so_flat = pc_view.flatten(0, 1), so_view.flatten(0, 1)
    if solver == "exact":  # one dense solve per view: a batched LU may differ in the last bit, and a seed must
        # give the same run alone or in a batch
        payoff = torch.cat([exact.solve(pc_flat[i : i + 1], so_flat[i : i + 1], game).payoff for i in range(len(pc_flat))])
    else:
        payoff = SOLVERS[solver](pc_flat, so_flat, game).payoff
    payoff = payoff.reshape(batch, n_learners, n)
    return payoff[:, torch.arange(n_learners, device=payoff.device), torch.tensor(learners, device=payoff.device)]


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

    def settings(self) -> dict:
        return {"estimator": asdict(self.estimator_config)}

    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``(meta, tensors)``: the shared fields (``LearnerTables.shared_state_dict``) and the estimator's counts."""
        meta, tensors = self.shared_state_dict()
        tensors.update({f"estimator.{k}": v for k, v in self.estimator.to_dict().items()})
        return meta, tensors

    def load_state_dict(self, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Check ``(meta, tensors)`` against this fresh state and load it (``docs/model.md §11``): the
        shared fields, and the estimator's counts (shapes and dtypes of empty counts; float counts
        finite and >= 0, integer counts >= 0 but the outcome bits; records seen = ``interactions``)."""
        interactions = contract.check_int(meta, "interactions", 0, None)
        self.load_shared_state(meta, tensors, steps=interactions // self.regime.train.interactions)
        counts = {}
        for name, empty in self.estimator.to_dict().items():
            low = None if name.endswith("_bits") else 0
            counts[name] = contract.check_tensor(tensors, f"estimator.{name}", empty, finite=True, low=low)
        if bool((counts["interactions"] != interactions).any()):
            raise contract.StateError(f"tensor estimator.interactions is {counts['interactions'].tolist()}; "
                                      f"allowed: the state's interactions, {interactions}, for every seed")
        self.estimator = estimators.EstimatorState.from_dict({k: v.to(self.device) for k, v in counts.items()})


def start(regime: Regime, seeds: list[int], estimator_config: estimators.EstimatorConfig | None = None) -> Learners:
    """The initial state of the learner (``docs/model.md §6``).

    Args:
        regime: the game, the population and the training settings (``regime.train``:
            ``components``, ``lr``, ``interactions``, ``model``).
        seeds: one seed per population; ``B = len(seeds)``.
        estimator_config: settings of the private estimators (default: ``EstimatorConfig()``).

    Returns:
        A ``Learners`` state: learners' logits ``(B, L, 2, 2)``, ``(B, L, 2, 2, 2)`` warmed
        up at their norm (+-3) or random (standard normal), Adam over the heads that
        learn, empty estimators, everyone good.
    """
    if regime.game.private:
        raise ConfigError("the reciprocity gradient of public records needs assessment = public; under private "
                          "assessment the learner is recigrad.learning.private_learner (benchmarks/private_learner.py), "
                          "not yet trained by recigrad train or bench")
    shared = start_fields(regime, seeds, regime.train.lr)  # the logits on recigrad.util.device.current()
    return Learners(
        **shared,
        estimator=estimators.init_state(len(seeds), regime.population.n, device=shared["logits_act"].device),
        estimator_config=estimator_config or estimators.EstimatorConfig(),
    )


def step(state: Learners) -> torch.Tensor:
    """One iteration: play, estimate, model, ascend (in place).

    Args:
        state: the ``Learners`` of ``B`` populations; ``regime.train.interactions`` are played.

    Returns:
        Each learner's payoff per round in its own model before the step, ``(B, L)``.
    """
    train, game = state.regime.train, state.game
    # 1. play, with everyone's current true tables
    records = state.play(train.interactions)
    state.interactions += train.interactions
    # 2. estimate the others from the public records
    state.estimator = estimators.update(state.estimator, records, state.estimator_config)
    pc_hat, so_hat = estimators.estimate(state.estimator, state.estimator_config)
    # 3. model: own live tables, the others' estimates
    payoff = own_payoffs(state.logits_act, state.logits_sig, pc_hat, so_hat, state.learners, game,
                         train.learner_model(game, state.fixed_act.shape[1]))
    # 4. ascend the reciprocity gradient
    state.optimizer.zero_grad()
    (-payoff.sum()).backward()
    state.optimizer.step()
    return payoff.detach()

"""The learner under private assessment on the private regimes (docs/model.md §6, "The learner under
private assessment"; README, "Learners under private assessment").

For each regime: the reference (``recigrad.evaluation.private_reference.reference``, the others' true
tables), then ``train.iterations`` steps of ``recigrad.learning.private_learner`` on the seeds as one batch,
then each seed's learner scored with everyone's true tables in the exact chain of private views (``N <= 4``)
and its percent of the reference (28).  A society reports every learner's exact payoff at the start and at
the end.  One JSON line per regime on stdout (and in ``--out``).

    PYTHONPATH=src python benchmarks/private_learner.py --regimes private-sj private-L3 --seeds 0 1 2 3 4
    PYTHONPATH=src python benchmarks/private_learner.py --regimes private-sj --game gossip=1   # a variant
    PYTHONPATH=src python benchmarks/private_learner.py --regimes private-sj --pool-self      # the ablation
    PYTHONPATH=src python benchmarks/private_learner.py --regimes private-sj --cold           # model solved cold

The learner's model is warm-started every iteration (``private_meanfield.solve_warm``); ``--cold`` solves it
from the initial views every iteration, as before the warm start (the same numbers within the solver's
tolerance, slower; ``benchmarks/private_speed.py`` measures the two in one process).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from private_protocol import emit
from recigrad.evaluation import private_reference
from recigrad.game.regime import load_regime
from recigrad.learning import private_learner


def run(name: str, seeds: list[int], iterations: int | None = None, game: dict | None = None,
        pool_self: bool = False, cold: bool = False) -> dict:
    regime = load_regime(name)
    if game:  # a variant: game fields replaced (e.g. {"gossip": 1.0})
        regime = dataclasses.replace(regime, game=dataclasses.replace(regime.game, **game))
    original = private_learner.estimate
    if pool_self:  # the ablation without the proxy self-view
        private_learner.estimate = lambda *a, **k: original(*a, **(k | {"pool_self": True}))
    try:
        return _run(name, regime, seeds, iterations, cold) | ({"game": game} if game else {}) | (
            {"pool_self": True} if pool_self else {}) | ({"cold": True} if cold else {})
    finally:
        private_learner.estimate = original


def _run(name: str, regime, seeds: list[int], iterations: int | None, cold: bool = False) -> dict:
    clock = time.time()
    state = private_learner.start(regime, seeds)
    state.warm_start = not cold
    learners = regime.population.learners
    start_payoff = private_reference.payoff(*state.tables(), regime.game)[:, learners]
    model = []
    for _ in range(iterations or regime.train.iterations):
        model.append(private_learner.step(state))
    train_seconds = time.time() - clock
    end_payoff = private_reference.payoff(*state.tables(), regime.game)[:, learners]
    row = {"regime": name, "seeds": seeds, "interactions": state.interactions, "train_seconds": round(train_seconds, 1),
           "model": private_reference.model_name(regime.population.n),
           "start_payoff": start_payoff.tolist(), "payoff": end_payoff.tolist(),
           "model_payoff_last": model[-1].tolist()}
    if len(learners) == 1:
        act, sig = regime.population.batched_tables(1)
        agent = regime.population.agents[learners[0]]
        clock = time.time()
        ref = private_reference.reference(act[0], sig[0], learners[0], agent.norm, regime.game)
        percent = private_reference.percent_of_reference(end_payoff[:, 0], ref.payoff, regime.game.c)
        row.update({"reference": ref.payoff, "reference_seconds": round(time.time() - clock, 1),
                    "reference_act": ref.act.tolist(), "reference_sig": ref.sig.tolist(),
                    "candidates": ref.candidates, "percent": percent.tolist(),
                    "start_percent": private_reference.percent_of_reference(start_payoff[:, 0], ref.payoff,
                                                                            regime.game.c).tolist(),
                    "final_act": torch.sigmoid(state.logits_act[:, 0].detach()).tolist(),
                    "final_sig": torch.sigmoid(state.logits_sig[:, 0].detach()).tolist()})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--game", nargs="*", default=[], metavar="FIELD=NUMBER",
                        help="a variant: recigrad.game.Game fields replaced, e.g. gossip=1 observation=1")
    parser.add_argument("--pool-self", action="store_true", help="action estimates without the proxy self-view")
    parser.add_argument("--cold", action="store_true", help="solve the learner's model from the initial views "
                        "every iteration (no warm start)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    game = {key: float(value) for key, value in (item.split("=", 1) for item in args.game)}
    for name in args.regimes:
        emit(run(name, args.seeds, args.iterations, game, args.pool_self, args.cold), args.out)


if __name__ == "__main__":
    main()

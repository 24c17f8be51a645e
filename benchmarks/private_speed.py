"""Seconds per iteration of the learner under private assessment, its model solved cold (from the initial
views every iteration, ``private_meanfield.solve``) against warm (from the previous iteration's fixed points
and Jacobians, ``private_meanfield.solve_warm``; docs/model.md §6), measured in one process: three trainings
of the same seeds step in turn (the order rotates every iteration), so that the machine's load falls on all
alike:

- ``cold``: the learner with ``warm_start = False`` (its model solved from the initial views);
- ``warm``: the learner as it is.

Then each is scored with everyone's true tables in the exact chain of private views (``N <= 4``) and
compared with ``cold``: the largest difference of a seed's percent of the reference (28), of the exact
payoff and of the learner's logits.  One JSON line per regime on stdout (and in ``--out``).

    PYTHONPATH=src python benchmarks/private_speed.py --regimes private-sj private-L2 private-L5 --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from private_protocol import emit
from recigrad.evaluation import private_reference
from recigrad.game.regime import load_regime
from recigrad.learning import private_learner

ARMS = ("cold", "warm")


def _step(state) -> float:
    started = time.perf_counter()
    private_learner.step(state)
    return time.perf_counter() - started


def run(name: str, seeds: list[int], iterations: int | None = None, reference: bool = True) -> dict:
    regime = load_regime(name)
    states = {key: private_learner.start(regime, seeds) for key in ARMS}
    states["cold"].warm_start = False
    seconds: dict[str, list[float]] = {key: [] for key in ARMS}
    for k in range(iterations or regime.train.iterations):
        for key in ARMS[k % 2:] + ARMS[:k % 2]:
            seconds[key].append(_step(states[key]))
    learners = regime.population.learners
    payoff = {key: private_reference.payoff(*state.tables(), regime.game)[:, learners] for key, state in states.items()}

    def logits(state):
        return torch.cat([state.logits_act.detach().flatten(1), state.logits_sig.detach().flatten(1)], 1)

    median = {key: statistics.median(v) for key, v in seconds.items()}
    row = {"regime": name, "seeds": seeds, "iterations": len(seconds["warm"]),
           "median_seconds_per_iteration": {key: round(v, 4) for key, v in median.items()},
           "ratio_of_medians": {"cold/warm": round(median["cold"] / median["warm"], 2)},
           "median_ratio_per_iteration": {"cold/warm": round(statistics.median(
               c / w for c, w in zip(seconds["cold"], seconds["warm"])), 2)},
           "total_seconds": {key: round(sum(v), 1) for key, v in seconds.items()},
           "max_payoff_difference": float((payoff["warm"] - payoff["cold"]).abs().max()),
           "max_logit_difference": float((logits(states["warm"]) - logits(states["cold"])).abs().max())}
    if reference and len(learners) == 1:
        act, sig = regime.population.batched_tables(1)
        ref = private_reference.reference(act[0], sig[0], learners[0], regime.population.agents[learners[0]].norm,
                                          regime.game)
        percent = {key: private_reference.percent_of_reference(p[:, 0], ref.payoff, regime.game.c)
                   for key, p in payoff.items()}
        row.update({"reference": ref.payoff, "percent": {key: p.tolist() for key, p in percent.items()},
                    "max_percent_difference": float((percent["warm"] - percent["cold"]).abs().max())})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", nargs="+", default=["private-sj", "private-L2", "private-L5"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--no-reference", action="store_true", help="skip the reference (no percents)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.regimes:
        emit(run(name, args.seeds, args.iterations, not args.no_reference), args.out)


if __name__ == "__main__":
    main()

"""How fast the reciprocity gradient reaches the reference, and what an iteration costs.

1. Per single-learner regime of docs/model.md §9: 10 seeds trained together in one
   process; wall seconds (training plus the exact evaluation after every
   iteration, excluding the one-off reference solve) and interactions per population
   until every seed has reached 95% and 99% of the reference.
2. Seconds per iteration as the population grows (N = 8, 64, 512) with one
   learner and with every agent a learner (median of several iterations).

Usage: .venv/bin/python benchmarks/learner_speed.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("RECIGRAD_PROGRESS", "0")

from recigrad.game import Game  # noqa: E402
from recigrad.game.population import parse_pop  # noqa: E402
from recigrad.game.regime import Regime, TrainConfig, load_regime  # noqa: E402
from recigrad.learning import reciprocity_gradient as learner  # noqa: E402
from recigrad.running import train  # noqa: E402

SINGLE = ["degenerate-allc", "degenerate-alld", "discriminative-sj", "discriminative-ss", "discriminative-sh",
          "discriminative-is", "hybrid-alld", "hybrid-allc"] + [f"leading-eight-L{k}" for k in range(1, 9)]


def last_seed(values):
    """When the slowest seed got there (None if one never did)."""
    return None if any(v is None for v in values) else max(values)


def to_reference(names, seeds, iterations):
    rows = []
    for name in names:
        regime = load_regime(name)
        result = train.run(regime, seeds, iterations=iterations, eval_every=1)
        runs = result["runs"]
        rows.append({
            "regime": name,
            "reference": result["reference"]["payoff"],
            "min_percent": min(r["percent_of_reference"] for r in runs),
            "min_adherence": min((r["adherence"] for r in runs if r["adherence"] is not None), default=None),
            "interactions_to_95": last_seed([r["interactions_to_95"] for r in runs]),
            "interactions_to_99": last_seed([r["interactions_to_99"] for r in runs]),
            "seconds_to_95": last_seed([r["seconds_to_95"] for r in runs]),
            "seconds_to_99": last_seed([r["seconds_to_99"] for r in runs]),
            "seconds_total": result["seconds"],
        })
    return rows


def iteration_cost(sizes, seeds, repeats):
    rows = []
    for n in sizes:
        for all_learn in (False, True):
            specs = [f"learner:L6:{n}"] if all_learn else ["learner:L6:1", f"disc:L6:{n - 1}"]
            regime = Regime(f"n{n}", "", Game(), parse_pop(specs), TrainConfig(interactions=400))
            state = learner.start(regime, seeds)
            learner.step(state)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                learner.step(state)
                times.append(time.perf_counter() - start)
            rows.append({"n": n, "learners": len(regime.population.learners), "seconds_per_iteration": statistics.median(times)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seeds = list(range(10))
    names = SINGLE[:3] if args.quick else SINGLE
    speed = to_reference(names, seeds, iterations=150 if args.quick else None)  # None: the regimes' own (120,000 interactions)
    cost = iteration_cost([8, 64] if args.quick else [8, 64, 512], seeds, 3 if args.quick else 5)
    if args.json:
        print(json.dumps({"to_reference": speed, "iteration_cost": cost}))
        return
    fmt = lambda v, d=1: "-" if v is None else (f"{v:,.{d}f}" if isinstance(v, float) else f"{v:,}")  # noqa: E731
    print("10 seeds together; the slowest seed decides; seconds include the exact evaluation after every iteration")
    print(f"{'regime':>20} {'reference':>9} {'min %ref':>8} {'adher.':>6} {'int. 95%':>9} {'int. 99%':>9} {'s 95%':>6} {'s 99%':>6}")
    for r in speed:
        print(f"{r['regime']:>20} {r['reference']:9.4f} {r['min_percent']:8.2f} {fmt(r['min_adherence'], 3):>6} "
              f"{fmt(r['interactions_to_95']):>9} {fmt(r['interactions_to_99']):>9} {fmt(r['seconds_to_95']):>6} "
              f"{fmt(r['seconds_to_99']):>6}")
    print()
    print("seconds per iteration (400 interactions per population, 10 populations)")
    print(f"{'N':>5} {'learners':>8} {'s/iteration':>11}")
    for r in cost:
        print(f"{r['n']:>5} {r['learners']:>8} {r['seconds_per_iteration']:11.4f}")


if __name__ == "__main__":
    main()

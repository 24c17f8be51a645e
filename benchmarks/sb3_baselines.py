"""The Stable-Baselines3 methods (docs/model.md §7) on the regimes of the collapse question.

Trains each method with each regime's own budget (``regime.train.iterations x
regime.train.interactions`` interactions per population, as every method) on the given seeds
(one batch per (method, regime)), then reads the tables off each policy and reports, with the
exact chain, per seed and as means: percent of reference, adherence, whether the action and the
signal head collapsed (``recigrad.evaluation.metrics.learner_report``), and the seconds of one
seed's run (the batch's wall clock over its seeds).  Timings depend on the machine's load.

    python benchmarks/sb3_baselines.py [--methods sb3-ppo sb3-ppo-default ...] [--regimes ...] [--seeds 0 1 2]

Writes ``benchmarks/results/sb3-<methods>-<regimes>.csv`` (one row per method, regime and seed).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("RECIGRAD_PROGRESS", "0")

import torch  # noqa: E402

from recigrad.evaluation import metrics  # noqa: E402
from recigrad.game.regime import load_regime  # noqa: E402
from recigrad.learning import contract  # noqa: E402
from recigrad.running.train import regime_reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["sb3-ppo", "sb3-a2c", "sb3-ppo-default", "sb3-a2c-default"]
REGIMES = ["discriminative-sj", "hybrid-alld", "discriminative-sh"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--regimes", nargs="+", default=REGIMES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=None, help="overrides the regimes' (smoke runs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for name in args.regimes:
        regime = load_regime(name)
        ref = regime_reference(regime)
        for method in args.methods:
            module = contract.method(method)
            clock = time.perf_counter()
            state = module.start(regime, args.seeds)
            for _ in range(args.iterations or regime.train.iterations):
                module.step(state)
            seconds = (time.perf_counter() - clock) / len(args.seeds)
            act, sig = state.tables()
            report = metrics.learner_report(act, sig, regime.population.learners[0], regime.game, ref)
            for k, seed in enumerate(args.seeds):
                rows.append({"method": method, "regime": name, "seed": seed, "settings": str(state.config.kwargs()),
                             "percent_of_reference": round(float(report["percent_of_reference"][k]), 2),
                             "adherence": round(float(report["adherence"][k]), 3),
                             "action_collapsed": bool(report["action_collapsed"][k]),
                             "signal_collapsed": bool(report["signal_collapsed"][k]),
                             "seconds_per_run": round(seconds, 1)})
            mine = rows[-len(args.seeds):]
            mean = lambda key, mine=mine: sum(r[key] for r in mine) / len(mine)  # noqa: E731
            print(f"{name:18s} {method:16s} percent {mean('percent_of_reference'):6.2f} "
                  f"(seeds {' '.join(str(r['percent_of_reference']) for r in mine)})  adherence {mean('adherence'):.3f}  "
                  f"action collapsed {sum(r['action_collapsed'] for r in mine)}/{len(mine)}  "
                  f"signal collapsed {sum(r['signal_collapsed'] for r in mine)}/{len(mine)}  "
                  f"{seconds:.0f} s per run  {mine[0]['settings']}", flush=True)
    out = ROOT / "benchmarks" / "results" / f"sb3-{'-'.join(args.methods)}-{'-'.join(args.regimes)}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

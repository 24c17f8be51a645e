"""The neural-policy baselines next to the tabular ones (docs/model.md §7, "Neural-policy baselines").

Trains every method of ``--methods`` on every regime of ``--regimes`` with its shipped
settings (``tuned.json``) and the reciprocity gradient's budget (``regime.train.iterations x
regime.train.interactions`` interactions per population, driven as ``recigrad train`` does),
on the evaluation seeds 0-4 as one batch, and reports per (method, regime): the mean and the
smallest percent of reference, the mean adherence, the action and the signal collapse rates
(``recigrad.evaluation.metrics.learner_report``) and whether collapse can be seen at all in
that head (the reference head's sensitivity over its strict contexts exceeds ``COLLAPSED``;
where it does not, a collapsed head cannot be told apart from the reference), and the seconds.

Writes one row per (method, regime, seed) to ``benchmarks/results/neural_baselines.csv`` and
prints the summary as a Markdown table.

    python benchmarks/neural_baselines.py [--methods ...] [--regimes ...] [--seeds 0 1 2 3 4]
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

from recigrad.evaluation import evaluate, metrics  # noqa: E402
from recigrad.game.regime import load_regime  # noqa: E402
from recigrad.learning import contract  # noqa: E402
from recigrad.running.train import regime_reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "benchmarks" / "results" / "neural_baselines.csv"
METHODS = ["reinforce", "ppo", "reinforce-mlp", "a2c-mlp", "ppo-mlp"]
REGIMES = ["discriminative-sj", "hybrid-alld", "discriminative-sh", "degenerate-allc"]


def measurable(regime, ref) -> tuple[bool, bool]:
    """Whether a collapsed action (signal) head can be told apart from the reference in ``regime``."""
    act, sig = regime.population.batched_tables(1)
    learner = regime.population.learners[0]
    act[:, learner], sig[:, learner] = ref.act, ref.sig
    solution, _ = evaluate(act, sig, regime.game)
    act_w, sig_w = metrics.context_weights(act, sig, solution.good, learner, regime.game)
    return (bool(metrics.sensitivity(ref.act.expand_as(act[:, learner]), act_w * ref.strict_act) > metrics.COLLAPSED),
            bool(metrics.sensitivity(ref.sig.expand_as(sig[:, learner]), sig_w * ref.strict_sig) > metrics.COLLAPSED))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=list(contract.METHODS))
    parser.add_argument("--regimes", nargs="+", default=REGIMES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows, lines = [], []
    for name in args.regimes:
        regime = load_regime(name)
        ref = regime_reference(regime)
        act_seen, sig_seen = measurable(regime, ref)
        for method_name in args.methods:
            module = contract.method(method_name)
            t = time.perf_counter()
            state = module.start(regime, args.seeds)
            for _ in range(regime.train.iterations):
                module.step(state)
            seconds = time.perf_counter() - t
            act, sig = state.tables()
            report = metrics.learner_report(act, sig, regime.population.learners[0], regime.game, ref)
            for k, seed in enumerate(args.seeds):
                rows.append({"method": method_name, "regime": name, "seed": seed,
                             **{key: round(float(report[key][k]), 6) for key in
                                ("percent_of_reference", "adherence", "action_sensitivity", "signal_sensitivity")},
                             "action_collapsed": bool(report["action_collapsed"][k]),
                             "signal_collapsed": bool(report["signal_collapsed"][k]),
                             "action_collapse_measurable": act_seen, "signal_collapse_measurable": sig_seen,
                             "seconds": round(seconds, 2)})
            pct = report["percent_of_reference"]
            line = (f"| {name} | {method_name} | {float(pct.mean()):.2f} | {float(pct.min()):.2f} | "
                    f"{float(report['adherence'].mean()):.3f} | "
                    f"{int(report['action_collapsed'].sum())}/{len(args.seeds)}{'' if act_seen else ' (n/m)'} | "
                    f"{int(report['signal_collapsed'].sum())}/{len(args.seeds)}{'' if sig_seen else ' (n/m)'} | {seconds:.1f} |")
            lines.append(line)
            print(line, file=sys.stderr)
    CSV.parent.mkdir(parents=True, exist_ok=True)
    with open(CSV, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"seeds {' '.join(map(str, args.seeds))}; n/m: collapse of that head not measurable in that regime")
    print("| regime | method | % of reference (mean) | (min) | adherence | action collapsed | signal collapsed | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

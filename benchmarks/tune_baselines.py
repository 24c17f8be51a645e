"""Tune the sample-based baselines (docs/model.md §7) on a small grid, per regime.

For each method (REINFORCE, PPO) and each setting of the grid

    learning rate x discount gamma x interactions per update

train on each tuning regime with the *same interaction budget per population as
the reciprocity gradient* (``regime.train.iterations x regime.train.interactions``,
played ``regime.train.interactions`` per driver iteration, exactly as
``recigrad.running.train.run`` drives a method), on tuning seeds disjoint from the
evaluation seeds (0-4), and score the setting by the final exact payoff of the
learner: mean percent of reference over seeds (single-learner regimes), or the
mean payoff of the learners as percent of ``b - c`` (society regimes).

Writes every grid result to ``benchmarks/results/tuning.csv`` and the best
setting per (method, regime) to ``src/recigrad/learning/baselines/tuned.json`` (ties go
to the first setting in grid order), which the methods load to pick their
settings per regime.  The reference of each regime is computed once.

    python benchmarks/tune_baselines.py [--quick] [--methods reinforce ppo] [--regimes ...]

The Stable-Baselines3 methods (extra ``sb3``) have their own 4-setting grids (``METHODS``)
and are tuned on their own, merged into ``tuned.json`` beside the others (grid results in
``benchmarks/results/tuning-sb3-ppo-sb3-a2c.csv``)::

    python benchmarks/tune_baselines.py --merge --methods sb3-ppo sb3-a2c \
        --regimes discriminative-sj hybrid-alld --seeds 100 101
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("RECIGRAD_PROGRESS", "0")

import torch  # noqa: E402

from recigrad.evaluation import metrics  # noqa: E402
from recigrad.game.regime import load_regime  # noqa: E402
from recigrad.learning.baselines import common, ppo, reinforce, sb3, sb3_a2c, sb3_ppo  # noqa: E402
from recigrad.running.train import regime_reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "benchmarks" / "results" / "tuning.csv"
TUNED = ROOT / "src" / "recigrad" / "learning" / "baselines" / common.TUNED_FILE

REGIMES = ["discriminative-sj", "hybrid-alld", "degenerate-allc", "society-L6"]
SEEDS = [100, 101, 102]  # tuning seeds; evaluations use 0-4
METHODS = {
    # Adam's learning rate on the logits: PPO takes epochs x minibatches = 16 steps per update, REINFORCE one
    "reinforce": (reinforce, reinforce.ReinforceConfig(), {"lr": [0.03, 0.1, 0.3, 1.0]}),
    "ppo": (ppo, ppo.PPOConfig(), {"lr": [0.01, 0.03, 0.1, 0.3]}),
    # Stable-Baselines3 (extra sb3), from SB3's defaults; a cheap grid of 4 settings each (the runs cost
    # seconds, not milliseconds): PPO's rollout length, A2C's learning rate, each with the discount
    "sb3-ppo": (sb3_ppo, sb3.SB3Config(), {"n_steps": [256, 2048], "gamma": [0.5, 0.99]}),
    "sb3-a2c": (sb3_a2c, sb3.SB3Config(), {"learning_rate": [7e-5, 7e-4], "gamma": [0.5, 0.99]}),
}
SHARED = {"gamma": [0.5, 0.9], "interactions": [400, 1600]}
OWN_AXES = {"sb3-ppo", "sb3-a2c"}  # methods whose grid is their own axes only (no SHARED)


def axes_of(method: str) -> dict:
    return dict(METHODS[method][2]) if method in OWN_AXES else {**METHODS[method][2], **SHARED}


def grid(method: str) -> list[dict]:
    axes = axes_of(method)
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def train_score(module, regime, seeds, config, ref) -> tuple[list[float], list[float]]:
    """Train for the regime's budget; final score and exact payoff per seed."""
    state = module.start(regime, seeds, config)
    for _ in range(regime.train.iterations):
        module.step(state)
    act, sig = state.tables()
    learners = regime.population.learners
    if ref is not None:
        report = metrics.learner_report(act, sig, learners[0], regime.game, ref)
        return report["percent_of_reference"].tolist(), report["payoff"].tolist()
    report = metrics.society_report(act, sig, learners, regime.game)
    payoff = report["mean_payoff"]
    return (100.0 * payoff / (regime.game.b - regime.game.c)).tolist(), payoff.tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--regimes", nargs="+", default=REGIMES)
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--quick", action="store_true", help="a tenth of the budget, no files written (smoke test)")
    parser.add_argument("--merge", action="store_true",
                        help="update only these methods' entries of tuned.json (and add their rows to tuning.csv)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    rows, best, clock = [], {}, time.perf_counter()
    for name in args.regimes:
        regime = load_regime(name)
        if args.quick:
            regime = replace(regime, train=replace(regime.train, iterations=max(4, regime.train.iterations // 10)))
        budget = regime.train.iterations * regime.train.interactions
        t = time.perf_counter()
        ref = regime_reference(regime)
        print(f"{name}: reference {'none (society)' if ref is None else f'{float(ref.payoff[0]):.4f}'}"
              f" ({time.perf_counter() - t:.1f} s), budget {budget} interactions", file=sys.stderr)
        for method in args.methods:
            module, defaults, _ = METHODS[method]
            for setting in grid(method):
                t = time.perf_counter()
                scores, payoffs = train_score(module, regime, args.seeds, replace(defaults, **setting), ref)
                score = sum(scores) / len(scores)
                row = {"method": method, "regime": name, **setting, "seeds": " ".join(map(str, args.seeds)),
                       "budget": budget, "score": round(score, 4),
                       "score_kind": "percent_of_reference" if ref is not None else "percent_of_b_minus_c",
                       "score_min": round(min(scores), 4), "payoff_mean": round(sum(payoffs) / len(payoffs), 6),
                       "seconds": round(time.perf_counter() - t, 2)}
                rows.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), file=sys.stderr)
                current = best.setdefault(method, {}).get(name)
                if current is None or score > current[0]:
                    best[method][name] = (score, setting)
    seconds = time.perf_counter() - clock
    print(f"{len(rows)} runs in {seconds:.0f} s", file=sys.stderr)
    summary = {m: {r: {"score": round(s, 4), **setting} for r, (s, setting) in by.items()} for m, by in best.items()}
    overall = {}  # the setting with the best mean score over the tuned regimes (the dataclass defaults follow it)
    for method in args.methods:
        means = [(sum(r["score"] for r in rows if r["method"] == method and all(r[k] == v for k, v in setting.items()))
                  / len(args.regimes), setting) for setting in grid(method)]
        score, setting = max(means, key=lambda pair: pair[0])
        overall[method] = {"mean_score": round(score, 4), **setting}
    print(json.dumps({"best": summary, "overall": overall}, indent=1))
    if args.quick:
        return 0

    out = CSV.with_name(f"tuning-{'-'.join(args.methods)}.csv") if args.merge else CSV
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tuned = {
        "description": "best setting per (method, regime) on the grid, by final exact payoff; written by "
                       "benchmarks/tune_baselines.py (every grid result: benchmarks/results/tuning.csv)",
        "budget": "regime.train.iterations x regime.train.interactions interactions per population, as the reciprocity gradient",
        "seeds": args.seeds,
        "grid": {m: axes_of(m) for m in args.methods},
        "score": "mean over seeds of the final percent of reference (single learner) or of b - c (society)",
        "seconds": round(seconds, 1),
        "scores": {m: {r: round(s, 4) for r, (s, _) in by.items()} for m, by in best.items()},
        "overall": overall,
        "best": {m: {r: setting for r, (_, setting) in by.items()} for m, by in best.items()},
    }
    if args.merge and TUNED.exists():  # keep the other methods' entries; this run's seeds and time per method
        old = json.loads(TUNED.read_text())
        for key in ("grid", "scores", "overall", "best"):
            old.setdefault(key, {}).update(tuned[key])
        old.setdefault("runs", {}).update({m: {"seeds": args.seeds, "regimes": args.regimes, "seconds": tuned["seconds"]}
                                           for m in args.methods})
        tuned = old
    TUNED.write_text(json.dumps(tuned, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)} and {TUNED.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

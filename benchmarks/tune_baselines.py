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

The neural-policy baselines (``reinforce-mlp``, ``a2c-mlp``, ``ppo-mlp``) have their own
grid, learning rate x entropy bonus x interactions per update (``NEURAL``), on their own
regimes (``NEURAL_REGIMES``, unless ``--regimes`` is given).  The files are *merged*: the
methods tuned in this run replace their own rows and entries; every other method's stay.

    python benchmarks/tune_baselines.py [--quick] [--methods reinforce ppo] [--regimes ...]
    python benchmarks/tune_baselines.py --methods reinforce-mlp a2c-mlp ppo-mlp

``--merge`` adds regimes to methods already tuned: only the (method, regime) pairs of this run
replace their rows and their ``scores`` and ``best`` entries; every other regime's stay, and so do
the grid, ``overall`` (the methods' defaults follow it: adding a regime changes no default) and
``seconds_per_method``; the run is recorded under ``merges`` (methods, regimes, seeds, seconds, and
the ``overall`` setting the added regimes would have given).  The Stable-Baselines3 methods write
their rows to ``benchmarks/results/tuning-sb3-ppo-sb3-a2c.csv``::

    python benchmarks/tune_baselines.py --merge --methods reinforce ppo reinforce-mlp a2c-mlp ppo-mlp \
        --regimes hybrid-standing
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("RECIGRAD_PROGRESS", "0")

import torch  # noqa: E402

from recigrad.game.regime import load_regime  # noqa: E402
from recigrad.learning.baselines import a2c_mlp, common, ppo, ppo_mlp, reinforce, reinforce_mlp, sb3, sb3_a2c, sb3_ppo  # noqa: E402
from recigrad.running.train import regime_reference  # noqa: E402
from recigrad.running.tune import grid as grid_of  # noqa: E402
from recigrad.running.tune import train_score  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "benchmarks" / "results" / "tuning.csv"
TUNED = ROOT / "src" / "recigrad" / "learning" / "baselines" / common.TUNED_FILE

REGIMES = ["discriminative-sj", "hybrid-alld", "degenerate-allc", "society-L6"]
SEEDS = [100, 101, 102]  # tuning seeds; evaluations use 0-4
METHODS = {
    # Adam's learning rate on the logits: PPO takes epochs x minibatches = 16 steps per update, REINFORCE one
    "reinforce": (reinforce, reinforce.ReinforceConfig(), {"lr": [0.03, 0.1, 0.3, 1.0]}),
    "ppo": (ppo, ppo.PPOConfig(), {"lr": [0.01, 0.03, 0.1, 0.3]}),
}
SHARED = {"gamma": [0.5, 0.9], "interactions": [400, 1600]}
# the neural-policy baselines: Adam's rate on the weights x entropy bonus x interactions per update (12 settings;
# gamma stays at the tabular methods' tuned default, 0.5); tuned on the regimes below (society-L6 is not tuned)
NEURAL_AXES = {"lr": [0.003, 0.01, 0.03], "ent_coef": [0.0, 0.01], "interactions": [400, 1600]}
NEURAL = {
    "reinforce-mlp": (reinforce_mlp, reinforce_mlp.ReinforceMLPConfig(), NEURAL_AXES),
    "a2c-mlp": (a2c_mlp, a2c_mlp.A2CMLPConfig(), NEURAL_AXES),
    "ppo-mlp": (ppo_mlp, ppo_mlp.PPOMLPConfig(), NEURAL_AXES),
}
NEURAL_REGIMES = ["discriminative-sj", "hybrid-alld", "discriminative-sh", "degenerate-allc"]
METHODS.update(NEURAL)
# Stable-Baselines3 (extra sb3), from SB3's defaults; a cheap grid of 4 settings each (a run costs minutes),
# tuned on two regimes: python benchmarks/tune_baselines.py --methods sb3-ppo sb3-a2c --seeds 100 101
LIBRARY = {
    "sb3-ppo": (sb3_ppo, sb3.SB3Config(), {"n_steps": [256, 2048], "gamma": [0.5, 0.99]}),
    "sb3-a2c": (sb3_a2c, sb3.SB3Config(), {"learning_rate": [7e-5, 7e-4], "gamma": [0.5, 0.99]}),
}
LIBRARY_REGIMES = ["discriminative-sj", "hybrid-alld"]
METHODS.update(LIBRARY)


def axes_of(method: str) -> dict:
    """The grid's axes of ``method``: its own, and for the tabular methods the shared ones."""
    return dict(METHODS[method][2]) if method in NEURAL or method in LIBRARY else {**METHODS[method][2], **SHARED}


def regimes_of(method: str, regimes: list[str] | None) -> list[str]:
    """The regimes ``method`` is tuned on: ``--regimes`` if given, else its default list."""
    if regimes is not None:
        return regimes
    return NEURAL_REGIMES if method in NEURAL else LIBRARY_REGIMES if method in LIBRARY else REGIMES


def merged(path: Path, methods: list[str]) -> tuple[dict, list[dict]]:
    """The ``tuned.json`` and ``tuning.csv`` written so far, without the entries of ``methods``."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    for key in ("grid", "scores", "overall", "best", "seconds_per_method"):
        old[key] = {m: v for m, v in old.get(key, {}).items() if m not in methods}
    rows = []
    if CSV.is_file():
        with open(CSV, newline="") as f:
            rows = [row for row in csv.DictReader(f) if row["method"] not in methods]
    return old, rows


def csv_of(method: str) -> Path:
    """The grid results' file of ``method``: the Stable-Baselines3 methods' own, else ``tuning.csv``."""
    return CSV.with_name("tuning-sb3-ppo-sb3-a2c.csv") if method in LIBRARY else CSV


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), restval="")
        writer.writeheader()
        writer.writerows(rows)


def merge_pairs(tuned: dict, rows: list[dict], record: dict) -> dict:
    """``tuned`` (a ``tuned.json`` document) with the (method, regime) pairs of ``rows`` replaced: their
    ``scores`` and ``best`` (the best row of each pair; ties to the first in grid order), every other entry
    kept; ``record`` appended to ``merges``.  Refuses a method whose grid differs from the recorded one."""
    out = json.loads(json.dumps(tuned))
    best: dict = {}
    for row in rows:
        method, regime, score = row["method"], row["regime"], float(row["score"])
        axes = out.get("grid", {}).get(method)
        if axes is None or any(row.get(k) is None or row[k] not in values for k, values in axes.items()):
            raise ValueError(f"{method} row {row} is not a setting of the recorded grid {axes}")
        current = best.setdefault(method, {}).get(regime)
        if current is None or score > current[0]:
            best[method][regime] = (score, {k: row[k] for k in axes})
    for method, by in best.items():
        out.setdefault("scores", {}).setdefault(method, {}).update({r: round(s, 4) for r, (s, _) in by.items()})
        out.setdefault("best", {}).setdefault(method, {}).update({r: setting for r, (_, setting) in by.items()})
    out.setdefault("merges", []).append(record)
    return out


def typed(row: dict, method: str) -> dict:
    """A CSV row's grid values as the grid's numbers (``tuning.csv`` holds text)."""
    axes = axes_of(method)
    return {**row, **{k: type(axes[k][0])(float(row[k])) if isinstance(axes[k][0], float) else int(row[k]) for k in axes}}


def grid(method: str) -> list[dict]:
    """Every setting of ``method``'s grid (``recigrad.running.tune.grid``; ``recigrad tune`` reads it from tuned.json)."""
    return grid_of(axes_of(method))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--regimes", nargs="+", default=None,
                        help=f"default: {' '.join(REGIMES)}; for the neural baselines {' '.join(NEURAL_REGIMES)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--quick", action="store_true", help="a tenth of the budget, no files written (smoke test)")
    parser.add_argument("--merge", action="store_true",
                        help="replace only the (method, regime) pairs of this run in tuned.json and the CSV; keep the rest")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    rows, best, clock, spent = [], {}, time.perf_counter(), {m: 0.0 for m in args.methods}
    for name in dict.fromkeys(r for m in args.methods for r in regimes_of(m, args.regimes)):
        regime = load_regime(name)
        if args.quick:
            regime = replace(regime, train=replace(regime.train, iterations=max(4, regime.train.iterations // 10)))
        budget = regime.train.iterations * regime.train.interactions
        t = time.perf_counter()
        ref = regime_reference(regime)
        print(f"{name}: reference {'none (society)' if ref is None else f'{float(ref.payoff[0]):.4f}'}"
              f" ({time.perf_counter() - t:.1f} s), budget {budget} interactions", file=sys.stderr)
        for method in [m for m in args.methods if name in regimes_of(m, args.regimes)]:
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
                spent[method] += row["seconds"]
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
                  / len(regimes_of(method, args.regimes)), setting) for setting in grid(method)]
        score, setting = max(means, key=lambda pair: pair[0])
        overall[method] = {"mean_score": round(score, 4), **setting}
    print(json.dumps({"best": summary, "overall": overall}, indent=1))
    if args.quick:
        return 0
    if args.merge:
        return _merge(args, rows, seconds)

    old, kept = merged(TUNED, args.methods)
    rows = kept + rows
    CSV.parent.mkdir(parents=True, exist_ok=True)
    with open(CSV, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), restval="")
        writer.writeheader()
        writer.writerows(rows)
    tuned = {
        "description": "best setting per (method, regime) on the grid, by final exact payoff; written by "
                       "benchmarks/tune_baselines.py (every grid result: benchmarks/results/tuning.csv)",
        "budget": "regime.train.iterations x regime.train.interactions interactions per population, as the reciprocity gradient",
        "seeds": args.seeds,
        "grid": {**old["grid"], **{m: axes_of(m) for m in args.methods}},
        "score": "mean over seeds of the final percent of reference (single learner) or of b - c (society)",
        # the whole run's time when it tuned a tabular method (as before), else the time written before
        "seconds": (round(seconds, 1) if any(m not in NEURAL and m not in LIBRARY for m in args.methods)
                    else old.get("seconds", round(seconds, 1))),
        "seconds_per_method": {**old["seconds_per_method"], **{m: round(s, 1) for m, s in spent.items()}},
        "scores": {**old["scores"], **{m: {r: round(s, 4) for r, (s, _) in by.items()} for m, by in best.items()}},
        "overall": {**old["overall"], **overall},
        "best": {**old["best"], **{m: {r: setting for r, (_, setting) in by.items()} for m, by in best.items()}},
    }
    TUNED.write_text(json.dumps(tuned, indent=1) + "\n")
    print(f"wrote {CSV.relative_to(ROOT)} and {TUNED.relative_to(ROOT)}", file=sys.stderr)
    return 0


def _merge(args, rows: list[dict], seconds: float) -> int:
    """``--merge``: the pairs of this run replace their rows and entries; everything else stays."""
    tuned = json.loads(TUNED.read_text())
    pairs = {(r["method"], r["regime"]) for r in rows}
    # what ``overall`` would be with the added regimes (recorded, not applied: the defaults follow ``overall``)
    would = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        every = [typed(r, method) for r in read_rows(csv_of(method)) if r["method"] == method and (method, r["regime"]) not in pairs]
        every += [r for r in rows if r["method"] == method]
        names = sorted({r["regime"] for r in every})
        means = [(sum(float(r["score"]) for r in every if all(r[k] == v for k, v in setting.items())) / len(names), setting)
                 for setting in grid(method)]
        score, setting = max(means, key=lambda pair: pair[0])
        would[method] = {"regimes": names, "mean_score": round(score, 4), **setting}
    record = {"methods": sorted({m for m, _ in pairs}), "regimes": sorted({r for _, r in pairs}), "seeds": args.seeds,
              "seconds": round(seconds, 1), "by": "benchmarks/tune_baselines.py --merge",
              "overall_with_these_regimes": would}
    tuned = merge_pairs(tuned, rows, record)
    for path in dict.fromkeys(csv_of(m) for m, _ in pairs):
        kept = [r for r in read_rows(path) if (r["method"], r["regime"]) not in pairs]
        write_rows(path, kept + [r for r in rows if csv_of(r["method"]) == path])
    TUNED.write_text(json.dumps(tuned, indent=1) + "\n")
    print(f"merged {len(rows)} runs into {TUNED.relative_to(ROOT)}; overall with the added regimes "
          f"(recorded, not applied): {json.dumps(would)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

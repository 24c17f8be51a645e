"""The search behind the reciprocity gradient's defaults (docs/model.md §6, "Defaults: the search").

For every setting of a grid (interactions per iteration, learning rate, the estimators' prior),
every single-learner regime of docs/model.md §9 (``learner_speed.SINGLE`` and ``hybrid-standing``)
is trained on 10 seeds together for the same total interactions per population (120,000, the
defaults' ``iterations * interactions``), evaluated exactly after every iteration (every 10th
once every seed has reached 99%, and the last), and the table
gives per regime: the interactions per population until the slowest seed first reached 95% and
99% of the reference (as ``benchmarks/learner_speed.py``), and the final percent of reference
(mean and worst seed).  The worst regime decides: a setting is better when its slowest
(regime, seed) reaches 99% sooner, without a lower final percent.

Usage: .venv/bin/python benchmarks/defaults_search.py [--grid NAME] [--regimes a,b] [--total N]
       [--seeds K] [--first-seed S] [--setting interactions=100,lr=0.15,prior_strength=3 ...]
       [--json FILE]   (grids: ``GRIDS``; default ``final``: the old and the new defaults)
The searches run: ``--grid steps --total 30000``, ``--grid prior --total 30000`` (stopped after
8 regimes: results/defaults_search_prior.txt) and ``--grid final``, each with ``--json
results/defaults_search_GRID.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("RECIGRAD_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from learner_speed import SINGLE, last_seed  # noqa: E402
from recigrad.evaluation import metrics  # noqa: E402
from recigrad.evaluation.models import evaluate  # noqa: E402
from recigrad.game.regime import load_regime  # noqa: E402
from recigrad.learning import reciprocity_gradient as learner  # noqa: E402
from recigrad.learning.estimators import EstimatorConfig  # noqa: E402
from recigrad.running import train  # noqa: E402
from recigrad.util.threads import configured  # noqa: E402

REGIMES = SINGLE + ["hybrid-standing"]
TOTAL = 120_000  # interactions per population: the defaults' iterations * interactions, before and after
OLD = {"interactions": 400, "lr": 0.2}


def setting(interactions: int, lr: float, **prior) -> dict:
    return {"interactions": interactions, "lr": lr, **prior}


GRIDS = {
    # the first pass: update size and step size, the estimators at their defaults
    "steps": [setting(200, 0.2), setting(200, 0.3), setting(100, 0.15), setting(100, 0.2), setting(100, 0.3),
              setting(50, 0.2)],
    # the estimators' prior at the chosen update
    "prior": [setting(100, 0.15, prior_strength=3.0), setting(100, 0.15, pool_strength=0.5)],
    # the old defaults against the new
    "final": [OLD, setting(100, 0.15)],
}


def parse_setting(text: str) -> dict:
    pairs = dict(item.split("=") for item in text.split(","))
    return {k: int(v) if k == "interactions" else float(v) for k, v in pairs.items()}


def label(s: dict) -> str:
    return " ".join(f"{k}={v:g}" for k, v in s.items())


def run_setting(name: str, seeds: list[int], s: dict, total: int, ref_cache: dict) -> dict:
    """Train ``name`` with setting ``s`` on ``seeds`` for ``total`` interactions; the row of the table."""
    regime = load_regime(name)
    regime = replace(regime, train=replace(regime.train, interactions=s["interactions"], lr=s["lr"],
                                           iterations=total // s["interactions"]))
    prior = {k: v for k, v in s.items() if k not in ("interactions", "lr")}
    if name not in ref_cache:
        ref_cache[name] = train.regime_reference(regime)
    ref = ref_cache[name]
    state = learner.start(regime, seeds, EstimatorConfig(**prior))
    learner_index = regime.population.learners[0]
    reached = {95: [None] * len(seeds), 99: [None] * len(seeds)}
    clock = time.perf_counter()
    for iteration in range(1, regime.train.iterations + 1):
        learner.step(state)
        if None not in reached[99] and iteration % 10 and iteration != regime.train.iterations:
            continue  # every seed is there: evaluate every 10th iteration and the last (the final percent)
        act, sig = state.tables()
        solution, _ = evaluate(act, sig, regime.game)
        percent = metrics.percent_of_reference(solution.payoff[:, learner_index], ref.payoff.expand(len(seeds)), regime.game)
        for threshold, got in reached.items():
            for k, value in enumerate(percent.tolist()):
                if got[k] is None and value >= threshold:
                    got[k] = state.interactions
    final = percent.tolist()
    return {"regime": name, **s, "total": state.interactions, "seconds": time.perf_counter() - clock,
            "interactions_to_95": last_seed(reached[95]), "interactions_to_99": last_seed(reached[99]),
            "per_seed_to_99": reached[99], "final_mean": sum(final) / len(final), "final_min": min(final),
            "final_per_seed": final}


def fmt(v) -> str:
    return "-" if v is None else f"{v:,}"


def print_header() -> None:
    print(f"{'regime':>20} {'setting':>44} {'int. 95%':>9} {'int. 99%':>9} {'final mean':>10} {'final min':>9}")


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        s = {k: r[k] for k in r if k in ("interactions", "lr") or k.startswith("prior") or k.startswith("pool")}
        print(f"{r['regime']:>20} {label(s):>44} {fmt(r['interactions_to_95']):>9} {fmt(r['interactions_to_99']):>9} "
              f"{r['final_mean']:10.3f} {r['final_min']:9.3f}", flush=True)


def summary(rows: list[dict]) -> list[dict]:
    """Per setting, over regimes: the slowest regime to 99%, how many regimes beat 16,000, the lowest finals."""
    out = {}
    for r in rows:
        key = label({k: r[k] for k in r if k in ("interactions", "lr") or k.startswith("prior") or k.startswith("pool")})
        entry = out.setdefault(key, {"setting": key, "worst_to_99": 0, "under_16000": 0, "regimes": 0,
                                     "lowest_final_mean": 100.0, "lowest_final_min": 100.0})
        to99 = r["interactions_to_99"]
        entry["worst_to_99"] = None if to99 is None or entry["worst_to_99"] is None else max(entry["worst_to_99"], to99)
        entry["under_16000"] += to99 is not None and to99 <= 16_000
        entry["regimes"] += 1
        entry["lowest_final_mean"] = min(entry["lowest_final_mean"], r["final_mean"])
        entry["lowest_final_min"] = min(entry["lowest_final_min"], r["final_min"])
    return list(out.values())


def write_json(path: str, grid: str, total: int, seeds: list[int], rows: list[dict]) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps({"grid": grid, "total": total, "seeds": seeds, "rows": rows, "summary": summary(rows)},
                              indent=1) + "\n")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", default="final", choices=sorted(GRIDS))
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--total", type=int, default=TOTAL)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--setting", action="append", help="instead of a grid: key=value,... (repeatable)")
    parser.add_argument("--json", help="write every row and the summary to this file")
    args = parser.parse_args()
    seeds, rows, refs = list(range(args.first_seed, args.first_seed + args.seeds)), [], {}
    print_header()
    grid = [parse_setting(t) for t in args.setting] if args.setting else GRIDS[args.grid]
    for name in args.regimes.split(","):
        for s in grid:
            with configured():
                rows.append(run_setting(name, seeds, s, args.total, refs))
            print_rows(rows[-1:])
            if args.json:  # after every row: an interrupted search keeps what it measured
                write_json(args.json, args.grid, args.total, seeds, rows)
    print()
    print(f"{'setting':>44} {'worst to 99%':>12} {'<= 16,000':>9} {'lowest mean':>11} {'lowest min':>10}")
    for e in summary(rows):
        print(f"{e['setting']:>44} {fmt(e['worst_to_99']):>12} {e['under_16000']:>5}/{e['regimes']:<3} "
              f"{e['lowest_final_mean']:11.3f} {e['lowest_final_min']:10.3f}")


if __name__ == "__main__":
    main()

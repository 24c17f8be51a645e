"""The rest of the Stable-Baselines3 tuning grid, then the Done-when bench, in one command on many cores.

    python benchmarks/sb3_grid.py run --out DIR [--workers 14] [--time-budget 420]
    python benchmarks/sb3_grid.py merge DIR        # DIR's winners into tuned.json and the grid's CSV

**run** trains, in a pool of ``--workers`` processes (one seed of one setting per job, one torch
thread each):

1. the SB3 tuning grid (``tune_baselines.LIBRARY``: PPO ``n_steps`` 256/2048 x ``gamma`` 0.5/0.99;
   A2C learning rate 7e-5/7e-4 x ``gamma`` 0.5/0.99) on ``--regimes`` (default discriminative-sj,
   hybrid-alld, discriminative-sh) and tuning seeds 100-102, each run with the regime's budget
   (``train.iterations x train.interactions`` interactions, as every method) and scored as
   ``benchmarks/tune_baselines.py`` scores (final percent of reference).  The 12 runs the shipped
   tuning has (seed 100: PPO on discriminative-sj and hybrid-alld, A2C on discriminative-sj; ``runs``
   in ``tuned.json``, rows in ``benchmarks/results/tuning-sb3-ppo-sb3-a2c.csv``) are taken from that
   CSV, not rerun, unless ``--rerun-shipped``.  Jobs go in order: the rest of the shipped grid
   (discriminative-sj, hybrid-alld), then discriminative-sh; a (method, regime) has a winner only
   when all its settings x seeds are done.
2. the Done-when bench: ``recigrad bench --methods rg,reinforce,ppo,reinforce-mlp,a2c-mlp,ppo-mlp,
   sb3-ppo,sb3-a2c --regimes discriminative-sj,hybrid-alld,discriminative-sh --seeds 5`` on the
   processes backend (``recigrad.running.pool``) with ``--workers``, the sb3 methods taking the
   winners of step 1 (as tuning results, so each run's ``baseline_settings`` names the file); a
   (method, regime) without a winner takes ``tuned.json``'s setting, as ``recigrad bench`` would.

``--time-budget`` (seconds, default 420) stops cleanly: no grid job starts unless it can end
before the bench's estimated time (from the grid's measured seconds per run), no bench job
starts unless it can end within the budget; what finished is written, what did not is listed
in ``report.md``.  Written under ``--out`` (a new folder): ``report.md`` (the grid, the winners,
the bench's table, timings, what was skipped), ``grid-runs.csv`` (one row per setting and seed),
``tuning.csv`` (one row per setting: the CSV's columns), ``tuning/METHOD-REGIME.json`` (a
``recigrad tune`` result per (method, regime) with a winner: ``recigrad train --baseline-settings``
reads it), ``tuned-patch.json`` (``scores``, ``best``, ``overall`` and ``runs`` of the sb3 methods)
and ``bench/`` (the report folder: ``summary.md``, ``runs.csv``, ``bench.json``, plots, ``runs/``).

**merge** applies ``DIR/tuned-patch.json`` to ``src/recigrad/learning/baselines/tuned.json`` (the
sb3 methods' ``scores`` and ``best`` per regime, ``overall`` and ``runs``, the replaced ``runs`` entry kept
under ``before``; every other entry stays)
and ``DIR/tuning.csv`` to ``benchmarks/results/tuning-sb3-ppo-sb3-a2c.csv`` (the rows of its
(method, regime) pairs replaced).

Needs the package (``PYTHONPATH=src`` or installed) and the extra ``sb3``; not Ray, not tqdm.
Measured here (one core, an idle machine): one SB3 run at the regimes' budget takes 22-33 s of
CPU (PPO 22, A2C 33), so the 60 runs of the default grid are about 5 waves of 14 workers (about 170 s),
and the bench's 48 jobs (30 single-seed SB3 jobs, 18 five-seed ones) about 3 (about 120 s): some 5 minutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import sys
import time
import types
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from functools import cache
from pathlib import Path

os.environ.setdefault("RECIGRAD_PROGRESS", "0")
ROOT = Path(__file__).resolve().parents[1]
if (ROOT / "src" / "recigrad").is_dir():  # this checkout's package, whatever else is installed
    sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
if importlib.util.find_spec("tqdm") is None:  # the package's progress bars (hidden here) need only this much of tqdm
    class _Bar:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, *args):
            pass

        def set_postfix_str(self, *args):
            pass

        def close(self):
            pass

    sys.modules["tqdm"] = types.SimpleNamespace(tqdm=_Bar)

import torch  # noqa: E402

import tune_baselines  # noqa: E402
from recigrad.game.regime import load_regime  # noqa: E402
from recigrad.learning import contract  # noqa: E402
from recigrad.learning.baselines import sb3  # noqa: E402
from recigrad.learning.baselines import settings as baseline_settings  # noqa: E402
from recigrad.running import report, suite  # noqa: E402
from recigrad.running.train import regime_reference  # noqa: E402
from recigrad.running.tune import train_score  # noqa: E402

METHODS = ("sb3-ppo", "sb3-a2c")
REGIMES = ["discriminative-sj", "hybrid-alld", "discriminative-sh"]
SEEDS = [100, 101, 102]
BENCH_METHODS = ["rg", "reinforce", "ppo", "reinforce-mlp", "a2c-mlp", "ppo-mlp", "sb3-ppo", "sb3-a2c"]
BENCH_REGIMES = ["discriminative-sj", "hybrid-alld", "discriminative-sh"]
BENCH_SEEDS = 5
GUESS_SECONDS = 45.0  # a grid run's seconds before one is measured (22-33 s of CPU here; a loaded core is slower)
SHIPPED_CSV = tune_baselines.csv_of("sb3-ppo")


# ---------------------------------------------------------------------------
# one grid run (in a worker)


@cache
def _regime(name: str, iterations: int | None):
    regime = load_regime(name)
    if iterations is not None:
        regime = replace(regime, train=replace(regime.train, iterations=iterations))
    return regime, regime_reference(regime)


def grid_run(method: str, name: str, setting: dict, seed: int, iterations: int | None) -> dict:
    """One setting, one seed, the regime's budget: its score (final percent of reference) and payoff."""
    os.environ.setdefault("RECIGRAD_PROGRESS", "0")
    torch.set_num_threads(1)
    regime, ref = _regime(name, iterations)
    clock = time.perf_counter()
    scores, payoffs = train_score(contract.method(method), regime, [seed], sb3.SB3Config(**setting), ref)
    return {"score": scores[0], "payoff": payoffs[0], "seconds": time.perf_counter() - clock}


def key_of(method: str, name: str, setting: dict, seed: int) -> tuple:
    return (method, name, tuple(sorted(setting.items())), int(seed))


def shipped_runs() -> dict[tuple, dict]:
    """The single-seed rows of the shipped SB3 tuning CSV, by (method, regime, setting, seed)."""
    found = {}
    for row in tune_baselines.read_rows(SHIPPED_CSV):
        if row["method"] in METHODS and len(row["seeds"].split()) == 1:
            row = tune_baselines.typed(row, row["method"])
            setting = {k: row[k] for k in tune_baselines.axes_of(row["method"])}
            found[key_of(row["method"], row["regime"], setting, int(row["seeds"]))] = {
                "score": float(row["score"]), "payoff": float(row["payoff_mean"]), "seconds": float(row["seconds"]),
                "source": "shipped"}
    return found


def grid_jobs(regimes: list[str], seeds: list[int]) -> list[tuple[str, str, dict, int]]:
    """Every (method, regime, setting, seed), regimes in order (the shipped grid's first), methods inner."""
    return [(method, name, setting, seed) for name in regimes for method in METHODS
            for setting in tune_baselines.grid(method) for seed in seeds]


# ---------------------------------------------------------------------------
# run


class Clock:
    """Seconds since the start, the budget, and the estimate of one grid run (measured as runs finish)."""

    def __init__(self, budget: float, workers: int, guess: float = GUESS_SECONDS) -> None:
        self.start, self.budget, self.workers, self.measured, self.guess = time.monotonic(), budget, workers, [], guess

    def now(self) -> float:
        return time.monotonic() - self.start

    def run_seconds(self) -> float:
        """A grid run's expected seconds: 1.2 x the mean measured so far, ``GUESS_SECONDS`` before any."""
        return 1.2 * sum(self.measured) / len(self.measured) if self.measured else self.guess

    def bench_seconds(self, bench_jobs: float) -> float:
        """The bench's expected seconds: waves of ``bench_jobs`` run-sized jobs over the workers, plus start-up."""
        return math.ceil(bench_jobs / self.workers) * self.run_seconds() + 20.0


def run_grid(jobs: list, done: dict, workers: int, clock: Clock, iterations: int | None, bench_jobs: float,
             failed: list) -> dict:
    """The grid's jobs not in ``done`` in ``workers`` processes; returns ``done`` with the new runs.  No job starts
    unless it can end before the bench's estimated start.  A job that fails is appended to ``failed`` (job, error);
    if the pool breaks (a worker killed), no job starts after it."""
    from concurrent.futures.process import BrokenProcessPool

    todo = [job for job in jobs if key_of(*job) not in done]
    if not todo:
        return done
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn"))
    waiting: dict = {}
    try:
        while todo or waiting:
            while todo and len(waiting) < workers and (
                    clock.now() + clock.run_seconds() + clock.bench_seconds(bench_jobs) <= clock.budget):
                job = todo.pop(0)
                waiting[pool.submit(grid_run, *job, iterations)] = job
            if not waiting:
                break
            finished, _ = wait(list(waiting), return_when=FIRST_COMPLETED)
            for future in finished:
                job = waiting.pop(future)
                try:
                    result = {**future.result(), "source": "run"}
                except Exception as err:  # noqa: BLE001 (recorded in report.md; the other jobs go on)
                    failed.append((job, f"{type(err).__name__}: {err}"))
                    print(f"[{clock.now():6.0f} s] {job} failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
                    if isinstance(err, BrokenProcessPool):
                        todo.clear()
                    continue
                done[key_of(*job)] = result
                clock.measured.append(result["seconds"])
                print(f"[{clock.now():6.0f} s] {job[0]} {job[1]} {job[2]} seed {job[3]}: {result['score']:.4f} "
                      f"({result['seconds']:.0f} s)", file=sys.stderr, flush=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return done


def summarise(jobs: list, done: dict, seeds: list[int], iterations: int | None) -> tuple[list[dict], dict]:
    """Per-setting rows (``tuning.csv``'s columns) of the settings with every seed done, and the winner per
    complete (method, regime): ``{(method, regime): (score, setting)}``."""
    rows, winners, complete = [], {}, {}
    for method, name, setting, _ in dict.fromkeys((m, n, tuple(s.items()), 0) for m, n, s, _ in jobs):
        setting = dict(setting)
        runs = [done.get(key_of(method, name, setting, seed)) for seed in seeds]
        complete.setdefault((method, name), True)
        if any(r is None for r in runs):
            complete[(method, name)] = False
            continue
        train = load_regime(name).train
        scores = [r["score"] for r in runs]
        row = {"method": method, "regime": name, **setting, "seeds": " ".join(map(str, seeds)),
               "budget": (iterations or train.iterations) * train.interactions, "score": round(sum(scores) / len(scores), 4),
               "score_kind": "percent_of_reference", "score_min": round(min(scores), 4),
               "payoff_mean": round(sum(r["payoff"] for r in runs) / len(runs), 6),
               "seconds": round(sum(r["seconds"] for r in runs), 2)}
        rows.append(row)
    for (method, name), ok in complete.items():
        if ok:
            mine = [r for r in rows if r["method"] == method and r["regime"] == name]
            best = max(mine, key=lambda r: r["score"])  # ties: the first in grid order
            winners[(method, name)] = (best["score"], {k: best[k] for k in tune_baselines.axes_of(method)}, mine)
    return rows, winners


def tuning_document(method: str, name: str, seeds: list[int], winner, iterations: int | None, seconds: float) -> dict:
    """The winner of one (method, regime) as a ``recigrad tune`` result (``--baseline-settings`` reads it)."""
    score, best, rows = winner
    regime, _ = _regime(name, iterations)
    axes = tune_baselines.axes_of(method)
    return {"format": baseline_settings.FORMAT, "version": baseline_settings.VERSION, "method": method,
            "population": {"name": regime.name, "describe": regime.population.describe(),
                           "key": baseline_settings.population_key(regime)},
            "budget": regime.train.iterations * regime.train.interactions, "seeds": seeds, "grid": axes,
            "score_kind": "percent_of_reference",
            "results": [{**{k: r[k] for k in axes}, "score": r["score"], "score_min": r["score_min"],
                         "payoff_mean": r["payoff_mean"], "seconds": r["seconds"]} for r in rows],
            "best": best, "score": score, "seconds": seconds, "by": "benchmarks/sb3_grid.py"}


def overall(rows: list[dict], winners: dict) -> dict:
    """Per method, the setting with the best mean score over its complete regimes."""
    out = {}
    for method in METHODS:
        names = [n for (m, n) in winners if m == method]
        if not names:
            continue
        means = [(sum(r["score"] for r in rows if r["method"] == method and r["regime"] in names
                      and all(r[k] == v for k, v in setting.items())) / len(names), setting)
                 for setting in tune_baselines.grid(method)]
        score, setting = max(means, key=lambda pair: pair[0])
        out[method] = {"mean_score": round(score, 4), **setting, "regimes": names}
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    tune_baselines.write_rows(path, rows)


def cmd_run(args) -> int:
    out = Path(args.out).resolve()
    if out.exists():
        print(f"sb3_grid: error: {out} exists; give a new folder", file=sys.stderr)
        return 2
    for name in [*args.regimes, *BENCH_REGIMES]:
        load_regime(name)  # a bad name stops here
    sb3.check(load_regime(args.regimes[0]))  # Stable-Baselines3 installed
    out.mkdir(parents=True)
    torch.set_num_threads(1)
    regime, _ = _regime(args.regimes[0], None)
    clock = Clock(args.time_budget, args.workers, GUESS_SECONDS * min(1.0, (args.iterations or math.inf) / regime.train.iterations))
    jobs = grid_jobs(args.regimes, args.seeds)
    reuse = not args.rerun_shipped and args.iterations is None  # the shipped runs had the regimes' budget
    done = {k: v for k, v in shipped_runs().items() if k in {key_of(*j) for j in jobs}} if reuse else {}
    reused = len(done)
    bench_jobs = len(BENCH_REGIMES) * 2 * args.bench_seeds + len(BENCH_REGIMES) * 3  # sb3 seed-jobs + the MLPs' (one each)
    print(f"grid: {len(jobs)} runs, {reused} from the shipped CSV; {args.workers} workers; budget {args.time_budget:.0f} s",
          file=sys.stderr, flush=True)
    failed: list = []
    if not args.no_grid:
        done = run_grid(jobs, done, args.workers, clock, args.iterations, bench_jobs, failed)
    grid_seconds = clock.now()
    missing = [job for job in jobs if key_of(*job) not in done]
    grid_rows = [{"method": m, "regime": n, **s, "seed": seed, **done[key_of(m, n, s, seed)]}
                 for m, n, s, seed in jobs if key_of(m, n, s, seed) in done]
    write_csv(out / "grid-runs.csv", grid_rows)
    rows, winners = summarise(jobs, done, args.seeds, args.iterations)
    write_csv(out / "tuning.csv", rows)
    tunings, folder = {}, out / "tuning"
    folder.mkdir()
    for (method, name), winner in winners.items():
        seconds = sum(done[key_of(method, name, s, seed)]["seconds"] for s in tune_baselines.grid(method) for seed in args.seeds)
        doc = tuning_document(method, name, args.seeds, winner, args.iterations, round(seconds, 1))
        path = folder / f"{method}-{name}.json"
        path.write_text(json.dumps(doc, indent=1) + "\n")
        tunings[(name, method)] = {**doc, "file": str(path.relative_to(out))}
    patch = {"scores": {}, "best": {}, "overall": overall(rows, winners), "runs": {}}
    for (method, name), (score, best, _) in winners.items():
        patch["scores"].setdefault(method, {})[name] = score
        patch["best"].setdefault(method, {})[name] = best
    for method in METHODS:
        names = [n for (m, n) in winners if m == method]
        if names:
            patch["runs"][method] = {"seeds": args.seeds, "regimes": names, "by": "benchmarks/sb3_grid.py",
                                     "runs_from_shipped_csv": sum(1 for k, v in done.items() if k[0] == method
                                                                  and v["source"] == "shipped"),
                                     "seconds": round(sum(v["seconds"] for k, v in done.items() if k[0] == method
                                                          and k[1] in names), 1), "machine": machine()}
    (out / "tuned-patch.json").write_text(json.dumps(patch, indent=1) + "\n")

    summary, bench_error = None, None
    if not args.no_bench:
        bench_start = clock.now()
        deadline = time.monotonic() + max(0.0, args.time_budget - bench_start - clock.run_seconds())
        seeds = list(range(args.bench_seeds))
        try:
            summary = suite.run_suite(BENCH_REGIMES, BENCH_METHODS, seeds, out / "bench", iterations=args.iterations,
                                      backend="processes", workers=args.workers,
                                      tunings={k: v for k, v in tunings.items() if k[0] in BENCH_REGIMES}, deadline=deadline)
        except Exception as err:  # the grid's files are written: say what failed, keep them
            bench_error = f"{type(err).__name__}: {err}"
        bench_seconds = clock.now() - bench_start
    reasons = {key_of(*job): why for job, why in failed}
    missing = [(job, reasons.get(key_of(*job), "time budget")) for job in missing]
    (out / "report.md").write_text(report_text(args, jobs, done, reused, missing, rows, winners, patch, summary,
                                               bench_error, grid_seconds, clock.now() - grid_seconds if not args.no_bench else 0.0,
                                               clock))
    print((out / "report.md").read_text())
    print(f"wrote {out}", file=sys.stderr)
    if not args.no_bench:
        print(f"bench: {bench_seconds:.0f} s", file=sys.stderr)
    return 0 if bench_error is None else 1


def machine() -> dict:
    import stable_baselines3

    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "stable_baselines3": stable_baselines3.__version__}


def report_text(args, jobs, done, reused, missing, rows, winners, patch, summary, bench_error, grid_seconds, bench_seconds,
                clock) -> str:
    lines = ["# The SB3 tuning grid and the Done-when bench (benchmarks/sb3_grid.py)", "",
             f"Machine: {json.dumps(machine())}; {args.workers} workers; time budget {args.time_budget:.0f} s.", "",
             "## The grid", "",
             f"{len(jobs)} runs (PPO `n_steps` x `gamma`, A2C `learning_rate` x `gamma`; regimes {', '.join(args.regimes)}; "
             f"seeds {', '.join(map(str, args.seeds))}), each one seed with the regime's budget: {len(done) - reused} run here "
             f"in {grid_seconds:.0f} s, {reused} taken from the shipped `{SHIPPED_CSV.relative_to(ROOT)}`"
             f"{'' if not missing else f', {len(missing)} not run'}.", ""]
    measured = [v["seconds"] for v in done.values() if v["source"] == "run"]
    if measured:
        lines += [f"Seconds per run here: median {sorted(measured)[len(measured) // 2]:.1f}, min {min(measured):.1f}, "
                  f"max {max(measured):.1f}.", ""]
    if missing:
        lines += ["Not run: " + "; ".join(f"{m} {n} {s} seed {seed} ({why})" for (m, n, s, seed), why in missing), ""]
    lines += ["| method | regime | setting | score (mean % of reference) | per seed | winner |",
              "| --- | --- | --- | --- | --- | --- |"]
    for m, n, s, _ in dict.fromkeys((m, n, tuple(s.items()), 0) for m, n, s, _ in jobs):
        per = [done.get(key_of(m, n, dict(s), seed)) for seed in args.seeds]
        shown = " / ".join("-" if r is None else f"{r['score']:.2f}{'*' if r['source'] == 'shipped' else ''}" for r in per)
        row = next((r for r in rows if r["method"] == m and r["regime"] == n and all(r[k] == v for k, v in s)), None)
        win = winners.get((m, n))
        is_best = win is not None and win[1] == dict(s)
        lines.append(f"| {m} | {n} | {dict(s)} | {'-' if row is None else row['score']} | {shown} | {'yes' if is_best else ''} |")
    lines += ["", "`*`: from the shipped CSV (seed 100), not rerun.", "", "Winners (into `tuned.json` by `merge`): "
              + json.dumps(patch["best"]), "", "Overall (the setting of the regimes not tuned): " + json.dumps(patch["overall"]), ""]
    lines += ["## The Done-when bench", "",
              f"`recigrad bench --methods {','.join(BENCH_METHODS)} --regimes {','.join(BENCH_REGIMES)} "
              f"--seeds {args.bench_seeds} --backend processes --workers {args.workers}`, the sb3 methods with the winners above "
              "where a (method, regime) has one (each run's `baseline_settings` in `bench/runs/*/result.json` says which), "
              "else `tuned.json`'s.", ""]
    if args.no_bench:
        lines.append("Not run (--no-bench).")
    elif bench_error is not None:
        lines.append(f"Failed: {bench_error}")
    else:
        lines += [f"{bench_seconds:.0f} s; report folder `bench/`.", ""]
        if summary.get("not_run"):
            lines += ["Not run (time budget): " + ", ".join(f"{n} {m}" for n, m in summary["not_run"]), ""]
        lines += ["```", report.summary_table(summary), "```"]
    lines += ["", f"Total: {clock.now():.0f} s.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# merge


def cmd_merge(args) -> int:
    folder = Path(args.folder)
    patch = json.loads((folder / "tuned-patch.json").read_text())
    rows = tune_baselines.read_rows(folder / "tuning.csv")
    pairs = {(m, r) for m, by in patch["best"].items() for r in by}
    tuned = json.loads(tune_baselines.TUNED.read_text())
    merged = merge_patch(tuned, patch)
    kept = [r for r in tune_baselines.read_rows(SHIPPED_CSV) if (r["method"], r["regime"]) not in pairs]
    new = [r for r in rows if (r["method"], r["regime"]) in pairs]
    tune_baselines.write_rows(SHIPPED_CSV, kept + new)
    tune_baselines.TUNED.write_text(json.dumps(merged, indent=1) + "\n")
    print(f"merged {len(pairs)} (method, regime) winners into {tune_baselines.TUNED.relative_to(ROOT)} and "
          f"{len(new)} rows into {SHIPPED_CSV.relative_to(ROOT)}", file=sys.stderr)
    return 0


def merge_patch(tuned: dict, patch: dict) -> dict:
    """``tuned`` with the patch's sb3 entries: ``scores`` and ``best`` per regime replaced, ``overall`` per method
    replaced (with the regimes it is the best mean over), ``runs`` per method replaced, the entry it replaces kept
    under ``before``; every other entry as it was."""
    out = json.loads(json.dumps(tuned))
    for key in ("scores", "best"):
        for method, by in patch[key].items():
            out.setdefault(key, {}).setdefault(method, {}).update(by)
    for method, entry in patch["overall"].items():
        out.setdefault("overall", {})[method] = dict(entry)
    for method, entry in patch["runs"].items():
        before = out.setdefault("runs", {}).get(method)
        out["runs"][method] = {**entry, **({"before": before} if before is not None else {})}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="the grid, then the bench")
    p.add_argument("--out", required=True, help="a new folder for everything written")
    p.add_argument("--workers", type=int, default=14)
    p.add_argument("--time-budget", type=float, default=420.0, help="seconds for the whole command (default 420)")
    p.add_argument("--regimes", nargs="+", default=REGIMES)
    p.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    p.add_argument("--bench-seeds", type=int, default=BENCH_SEEDS)
    p.add_argument("--rerun-shipped", action="store_true", help="rerun the shipped CSV's runs too")
    p.add_argument("--no-grid", action="store_true", help="only the runs from the shipped CSV")
    p.add_argument("--no-bench", action="store_true")
    p.add_argument("--iterations", type=int, default=None, help="overrides the regimes' (smoke runs; scores not comparable)")
    p.set_defaults(run=cmd_run)
    p = sub.add_parser("merge", help="a run's winners into tuned.json and the grid's CSV")
    p.add_argument("folder")
    p.set_defaults(run=cmd_merge)
    args = parser.parse_args(argv)
    if args.command == "run" and (args.workers < 1 or args.time_budget <= 0 or args.bench_seeds < 1):
        parser.error("--workers and --bench-seeds must be at least 1, --time-budget positive")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

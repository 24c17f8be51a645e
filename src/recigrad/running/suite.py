"""The benchmark suite (docs/model.md §9): methods x regimes x seeds, side by side.

Each (regime, method) is one ``recigrad.running.train.run`` over all seeds at once.  The
report folder holds

- ``runs.csv``: every run (one row per regime, method and seed);
- ``summary.md``: mean and 95% interval over seeds per (regime, method), the
  collapse rate, interactions to 95% of the reference and the baselines'
  interaction ratio to the reciprocity gradient; the warm-up grid and the
  society regimes as tables of their own;
- ``curves-REGIME.png``: payoff against interactions per method, with the
  reference line; ``percent.png``: percent of reference per method and regime;
- ``bench.json``: the rows, as ``recigrad bench --json`` prints them;
- ``runs/``: the run folder of every (regime, method).

Statistics over seeds are in ``recigrad.running.stats``, the report's files in
``recigrad.running.report``.

The folder is built in ``<out>.partial`` and renamed when complete; finished
(regime, method) runs stay there, so ``--resume`` after an interrupt skips them
and resumes the run in progress from its checkpoint.  ``backend="ray"`` runs the
jobs on a Ray cluster (``recigrad.running.distributed``).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from recigrad.game.regime import load_regime, regime_names
from recigrad.learning.contract import METHODS
from recigrad.running import checkpoint, outdir, report, stats, train

QUICK_REGIMES = ("discriminative-sj", "hybrid-alld", "discriminative-sh", "hybrid-standing", "degenerate-allc", "society-L6")
# the bench's default methods: all but the Stable-Baselines3 ones (extra sb3), which need a regime with one
# learner and take seconds per run; name them with --methods
METHOD_ORDER = tuple(m for m in METHODS if not m.startswith("sb3-"))


def suite_regimes() -> list[str]:
    """Every shipped regime, single-learner ones first, then the warm-up grid and the societies."""
    names = regime_names()
    key = lambda n: (n.startswith("warmup"), n.startswith("society"), n)  # noqa: E731
    return sorted(names, key=key)


def run_suite(regimes: list[str], methods: list[str], seeds: list[int], out: str | Path,
              iterations: int | None = None, resume: bool = False, checkpoint_every: int | None = None,
              backend: str = "local", address: str | None = None, num_cpus: int | None = None,
              seed_block: int | None = None, scalars=None, loaded: dict | None = None, extend=None) -> dict:
    """Train every method on every regime; write the report folder; return ``{"rows": [...]}``.
    ``iterations`` overrides the regimes' own (for smoke runs).

    The report is built in ``<out>.partial``; every finished (regime, method) run folder
    stays there, so ``resume`` skips finished runs and resumes the one in progress from its
    checkpoint.  ``backend="ray"`` trains the (regime, method, block of ``seed_block`` seeds)
    jobs as Ray tasks (``recigrad.running.distributed``; ``address`` of a cluster, else a local Ray
    of ``num_cpus``); the results are the same as the local backend's.

    Args:
        regimes: shipped regime names.
        methods: names of ``recigrad.learning.contract.METHODS``.
        seeds: the seeds of every (regime, method), trained as one batch (or blocks of ``seed_block``).
        out: the report folder (``recigrad.running.report``).
        iterations: overrides every regime's ``train.iterations``.
        resume: continue the report in ``<out>.partial``.
        checkpoint_every: iterations between checkpoints of a run (default ``train.CHECKPOINT_EVERY``).
        backend: ``local`` or ``ray``; ``address``, ``num_cpus``, ``seed_block``: Ray's.
        scalars: a ``recigrad.running.tensorboard.Scalars`` for every run's evaluations (tags
            ``REGIME/METHOD/seed-K/...``); local backend only.
        loaded: ``{name: Regime}`` for regimes that are not shipped (the scaling study's,
            ``recigrad.running.scaling``); default: ``regimes`` loaded by name.
        extend: ``extend(work, summary, results)``, called before the report is written, may add
            fields to the summary (``bench.json``) and files of its own to the folder.

    Returns:
        ``{"rows", "seeds", "methods", "regimes", "seconds"}``: one row per (regime, method)
        (``recigrad.running.stats.summary_row``), as ``bench.json`` holds it.
    """
    out = Path(out).resolve()
    work = checkpoint.partial_dir(out)
    loaded = loaded or {name: load_regime(name) for name in regimes}
    header = checkpoint.header("bench", regimes=list(regimes), methods=list(methods), seeds=[int(s) for s in seeds],
                               iterations=iterations, regime_hashes=[checkpoint.regime_hash(loaded[name]) for name in regimes])
    _open_work(work, header, resume)
    clock = time.perf_counter()
    folder = lambda name, method: work / "runs" / f"{name}-{method}"  # noqa: E731
    pending = [(name, method) for name in regimes for method in methods
               if not (folder(name, method) / "result.json").exists()]
    if backend == "ray" and scalars is not None:
        raise ValueError("TensorBoard scalars need the local backend")
    if backend == "ray":
        from recigrad.running import distributed

        distributed.run_jobs({job: loaded[job[0]] for job in pending}, seeds, iterations, work / "runs",
                             address=address, num_cpus=num_cpus, seed_block=seed_block)
    elif backend == "local":
        every = train.CHECKPOINT_EVERY if checkpoint_every is None else checkpoint_every
        for name, method in pending:
            train.run(loaded[name], seeds, method=method, iterations=iterations, out=folder(name, method),
                      resume=resume, checkpoint_every=every, scalars=scalars)
    else:
        raise ValueError(f"unknown backend {backend!r}; allowed: local, ray")
    results, rows = [], []
    for name in regimes:
        for method in methods:
            result = json.loads((folder(name, method) / "result.json").read_text())
            results.append(result)
            rows.append(stats.summary_row(result, seeds))
    summary = {"rows": rows, "seeds": seeds, "methods": methods, "regimes": regimes,
               "seconds": time.perf_counter() - clock}
    if extend is not None:
        extend(work, summary, results)
    report.write(work, summary, results)
    (work / checkpoint.SUITE_FILE).unlink()
    outdir.write_marker(work, "bench")
    outdir.replace(work, out)  # removes only a previous report folder of ours
    return summary


def _open_work(work: Path, header: dict, resume: bool) -> None:
    """Prepare the work folder: kept (resume, same suite), else started afresh; refuse a folder not
    ours or written for another suite."""
    if outdir.open_work(work, header, resume, "report in progress", "runs"):
        for leftover in (work / "runs").glob(".*"):  # a run folder being written when the suite stopped
            shutil.rmtree(leftover, ignore_errors=True)

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
jobs on a Ray cluster (``recigrad.running.distributed``), ``backend="processes"`` in processes
of this machine (``recigrad.running.pool``).

The quick suite (``recigrad bench --quick``, ``make bench``) runs every method on every quick regime
but the Stable-Baselines3 ones, which take half a minute per seed: those run on the regimes of
``QUICK_ONLY`` (``quick_pairs``), where a library baseline's collapse can be seen; the report lists
per regime the methods that ran there.
"""

from __future__ import annotations

import json
import os
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
# the quick suite's library baseline and where it runs: discriminative-sh, where both heads of the reference are
# context-sensitive (collapse measurable in both) and SB3's learners failed on some seeds (README, "Stable-Baselines3
# baselines"); one regime of 5 seeds adds about 3 CPU minutes: the quick suite took 383 s of CPU in all, which
# 2 workers share (under 5 minutes of wall time on 2 cores; README, "The benchmark")
QUICK_LIBRARY = ("sb3-ppo",)
QUICK_ONLY = {"sb3-ppo": ("discriminative-sh",), "sb3-a2c": ("discriminative-sh",),
              "sb3-ppo-default": ("discriminative-sh",), "sb3-a2c-default": ("discriminative-sh",)}


def quick_methods() -> list[str]:
    """The quick suite's default methods: ``METHOD_ORDER`` and, where Stable-Baselines3 is installed (extra
    ``sb3``), ``QUICK_LIBRARY``."""
    import importlib.util

    library = [m for m in QUICK_LIBRARY if m in METHODS] if importlib.util.find_spec("stable_baselines3") else []
    return [m for m in METHOD_ORDER if m in METHODS] + library


def quick_pairs(regimes: list[str], methods: list[str]) -> list[tuple[str, str]]:
    """The quick suite's (regime, method) pairs, regime by regime: every method on every regime, but a method of
    ``QUICK_ONLY`` on its regimes only."""
    return [(name, method) for name in regimes for method in methods if name in QUICK_ONLY.get(method, (name,))]


PRIVATE_SKIP = "only rg trains under private assessment (recigrad.running.private_train)"


def private_regimes() -> list[str]:
    """The shipped regimes under private assessment (docs/model.md §6, "The learner under private assessment"):
    trained by ``recigrad.learning.private_learner`` (method ``rg``, ``recigrad.running.private_train``); the
    last of ``suite_regimes``, not in the quick suite."""
    return sorted(name for name in regime_names() if name.startswith("private-"))


def suite_regimes() -> list[str]:
    """Every shipped regime: those of public reputations, single-learner ones first, then the warm-up grid and
    the societies; then the private ones (``private_regimes``: rg only, the baselines skipped per pair)."""
    private = private_regimes()
    names = [name for name in regime_names() if name not in private]
    key = lambda n: (n.startswith("warmup"), n.startswith("society"), n)  # noqa: E731
    return sorted(names, key=key) + private


def run_suite(regimes: list[str], methods: list[str], seeds: list[int], out: str | Path,
              iterations: int | None = None, resume: bool = False, checkpoint_every: int | None = None,
              backend: str = "local", address: str | None = None, num_cpus: int | None = None,
              seed_block: int | None = None, scalars=None, loaded: dict | None = None, extend=None,
              workers: int | None = None, pairs: list[tuple[str, str]] | None = None, tunings: dict | None = None,
              deadline: float | None = None) -> dict:
    """Train every method on every regime; write the report folder; return ``{"rows": [...]}``.
    ``iterations`` overrides the regimes' own (for smoke runs).

    The report is built in ``<out>.partial``; every finished (regime, method) run folder
    stays there, so ``resume`` skips finished runs and resumes the one in progress from its
    checkpoint.  ``backend="ray"`` trains the (regime, method, block of ``seed_block`` seeds)
    jobs as Ray tasks (``recigrad.running.distributed``; ``address`` of a cluster, else a local Ray
    of ``num_cpus``); ``backend="processes"`` trains the same jobs in ``workers`` processes here
    (``recigrad.running.pool``; blocks ``pool.job_blocks``).  The results are the local backend's.

    Args:
        regimes: shipped regime names.
        methods: names of ``recigrad.learning.contract.METHODS``.
        seeds: the seeds of every (regime, method), trained as one batch (or blocks of ``seed_block``).
        out: the report folder (``recigrad.running.report``).
        iterations: overrides every regime's ``train.iterations``.
        resume: continue the report in ``<out>.partial``.
        checkpoint_every: iterations between checkpoints of a run (default ``train.CHECKPOINT_EVERY``).
        backend: ``local``, ``ray`` or ``processes``; ``address``, ``num_cpus``: Ray's; ``seed_block``: Ray's
            and the processes'.
        scalars: a ``recigrad.running.tensorboard.Scalars`` for every run's evaluations (tags
            ``REGIME/METHOD/seed-K/...``); local backend only.
        loaded: ``{name: Regime}`` for regimes that are not shipped (the scaling study's,
            ``recigrad.running.scaling``); default: ``regimes`` loaded by name.
        extend: ``extend(work, summary, results)``, called before the report is written, may add
            fields to the summary (``bench.json``) and files of its own to the folder.
        workers: processes of ``backend="processes"`` (default: the machine's cores).
        pairs: the ``(regime, method)`` pairs to run (default: every method on every regime), e.g.
            ``quick_pairs``; the report has a row per pair.
        tunings: ``{(regime, method): tuning result}`` (``recigrad.learning.baselines.settings.read_result``):
            those runs take the result's best setting; local and processes backends.
        deadline: processes backend: a ``time.monotonic()`` after which no job starts; the report then holds
            the pairs finished, and ``not_run`` in the summary lists the others.

    Returns:
        ``{"rows", "seeds", "methods", "regimes", "seconds"}``: one row per (regime, method)
        (``recigrad.running.stats.summary_row``), as ``bench.json`` holds it.
    """
    out = Path(out).resolve()
    work = checkpoint.partial_dir(out)
    loaded = loaded or {name: load_regime(name) for name in regimes}
    every = [(name, method) for name in regimes for method in methods]
    pairs = every if pairs is None else [tuple(pair) for pair in pairs]
    # under private assessment only rg trains (recigrad.running.private_train): the baselines are skipped, per pair
    skipped = [(name, method) for name, method in pairs if loaded[name].game.private and method != "rg"]
    pairs = [pair for pair in pairs if pair not in skipped]
    tunings = tunings or {}
    extra = {} if pairs == every else {"pairs": [list(pair) for pair in pairs]}
    if tunings:
        extra["tunings"] = {f"{name}/{method}": doc["best"] for (name, method), doc in sorted(tunings.items())}
    header = checkpoint.header("bench", regimes=list(regimes), methods=list(methods), seeds=[int(s) for s in seeds],
                               iterations=iterations, regime_hashes=[checkpoint.regime_hash(loaded[name]) for name in regimes],
                               **extra)
    _open_work(work, header, resume)
    clock = time.perf_counter()
    folder = lambda name, method: work / "runs" / f"{name}-{method}"  # noqa: E731
    pending = [(name, method) for name, method in pairs if not (folder(name, method) / "result.json").exists()]
    if backend != "local" and scalars is not None:
        raise ValueError("TensorBoard scalars need the local backend")
    if backend == "ray" and tunings:
        raise ValueError("tuning results need the local or the processes backend")
    not_run: list = []
    if backend == "processes":
        from recigrad.running import pool
        from recigrad.util.threads import configured

        with configured():  # the library's thread count, for the workers to run as the local backend does
            not_run = pool.run_jobs({job: loaded[job[0]] for job in pending}, seeds, iterations, work / "runs",
                                    workers or os.cpu_count() or 1, seed_block=seed_block, tunings=tunings, deadline=deadline)
    elif backend == "ray":
        from recigrad.running import distributed

        distributed.run_jobs({job: loaded[job[0]] for job in pending}, seeds, iterations, work / "runs",
                             address=address, num_cpus=num_cpus, seed_block=seed_block)
    elif backend == "local":
        # not named `every`: that is the list of every pair, compared with `pairs` below
        checkpoints = train.CHECKPOINT_EVERY if checkpoint_every is None else checkpoint_every
        for name, method in pending:
            # a private run keeps no checkpoint: a resumed suite trains it again
            train.run(loaded[name], seeds, method=method, iterations=iterations, out=folder(name, method),
                      resume=resume and not loaded[name].game.private, checkpoint_every=checkpoints, scalars=scalars,
                      tuning=tunings.get((name, method)))
    else:
        raise ValueError(f"unknown backend {backend!r}; allowed: local, ray, processes")
    results, rows = [], []
    for name, method in pairs:
        if (name, method) in not_run:
            continue
        result = json.loads((folder(name, method) / "result.json").read_text())
        results.append(result)
        rows.append(stats.summary_row(result, seeds))
    summary = {"rows": rows, "seeds": seeds, "methods": methods, "regimes": regimes,
               "seconds": time.perf_counter() - clock}
    if pairs != every:
        summary["pairs"] = [list(pair) for pair in pairs]
    if skipped:
        summary["skipped"] = [[name, method, PRIVATE_SKIP] for name, method in skipped]
    if not_run:
        summary["not_run"] = [list(pair) for pair in not_run]
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

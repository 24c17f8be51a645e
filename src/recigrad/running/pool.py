"""The benchmark suite in processes of this machine (``recigrad bench --backend processes --workers N``).

The jobs are those of the Ray backend (``recigrad.running.distributed``): each (regime, method) is
split into blocks of seeds, each block trained by ``distributed.train_block`` in one of ``workers``
spawned processes (nothing of this process's torch or numba state is shared) with this process's
torch thread count and default dtype; the blocks of a (regime, method) are merged in seed order
(``recigrad.running.train.merge``) and its run folder written here as soon as all are done.  A seed
gives the same run alone or in any batch, so the report is the local backend's, all but wall-clock
``seconds``.

Blocks (``job_blocks``): ``seed_block`` seeds if given; otherwise all seeds of a (regime, method) in
one block (the batched methods train them as one batch), except the Stable-Baselines3 methods, whose
seeds train one after another in any case (one model per seed): one seed per block, so they spread
over the workers.  The longest jobs are handed out first (``cost_rank``: the sb3 methods, then the
neural ones, then the rest), so that few workers idle at the end.

At most ``workers`` blocks are in flight; a ``deadline`` (``time.monotonic()``) stops handing out
new ones: the blocks running finish, the (regime, method) runs whose blocks all finished are
written, and ``run_jobs`` returns the ones left.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from recigrad.game.regime import Regime
from recigrad.running import distributed, runfolder, train


def seeds_apart(method: str) -> bool:
    """Whether ``method`` trains its seeds one after another (the Stable-Baselines3 methods: one model per seed)."""
    return method.startswith("sb3-")


def cost_rank(method: str) -> int:
    """Which jobs go first: 0 the Stable-Baselines3 methods (seconds per seed), 1 the neural ones, 2 the rest."""
    return 0 if seeds_apart(method) else 1 if method.endswith("-mlp") else 2


def job_blocks(method: str, seeds: list[int], seed_block: int | None = None) -> list[list[int]]:
    """The seed blocks of one (regime, method): ``seed_block`` seeds each if given, else one seed each
    for the methods that train seeds apart and all seeds in one block for the others."""
    return distributed.seed_blocks(seeds, seed_block or (1 if seeds_apart(method) else None))


def run_jobs(jobs: dict[tuple[str, str], Regime], seeds: list[int], iterations: int | None, runs: Path, workers: int,
             seed_block: int | None = None, tunings: dict | None = None, deadline: float | None = None) -> list[tuple[str, str]]:
    """Train every ``(regime name, method)`` of ``jobs`` in ``workers`` processes; write each run folder
    ``runs/REGIME-METHOD`` as soon as all its seed blocks are done.

    Args:
        jobs: ``{(regime name, method): Regime}``.
        seeds, iterations: as for ``recigrad.running.train.train_seeds``.
        runs: the folder of the run folders.
        workers: processes side by side (at least 1).
        seed_block: seeds per block (default: ``job_blocks``).
        tunings: ``{(regime name, method): tuning result}`` (``recigrad.learning.baselines.settings.read_result``)
            for the runs that take the best setting of a tuning result; the others take their own.
        deadline: a ``time.monotonic()`` after which no block starts.

    Returns:
        The ``(regime name, method)`` pairs not finished (the deadline passed first); empty when all are.
    """
    tunings = tunings or {}
    queue = [(name, method, k, block) for (name, method) in sorted(jobs, key=lambda job: cost_rank(job[1]))
             for k, block in enumerate(job_blocks(method, seeds, seed_block))]
    parts = {job: [None] * len(job_blocks(job[1], seeds, seed_block)) for job in jobs}
    if not queue:
        return []
    threads, dtype = distributed.driver_settings()
    pool = ProcessPoolExecutor(max_workers=max(1, min(workers, len(queue))), mp_context=multiprocessing.get_context("spawn"))
    waiting: dict = {}
    try:
        while queue or waiting:
            while queue and len(waiting) < workers and (deadline is None or time.monotonic() < deadline):
                name, method, k, block = queue.pop(0)
                future = pool.submit(distributed.train_block, jobs[(name, method)], method, block, iterations, threads, dtype,
                                     tunings.get((name, method)))
                waiting[future] = (name, method, k)
            if not waiting:
                break  # the deadline passed with blocks left
            done, _ = wait(list(waiting), return_when=FIRST_COMPLETED)
            for future in done:
                name, method, k = waiting.pop(future)
                parts[(name, method)][k] = train.RunRecord(**future.result())
                if all(p is not None for p in parts[(name, method)]):
                    record = train.merge(parts.pop((name, method)))
                    runfolder.write_run_folder(runs / f"{name}-{method}", jobs[(name, method)], method, seeds, record)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return sorted(parts)

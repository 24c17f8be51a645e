"""The benchmark suite on a Ray cluster (``recigrad bench --backend ray``).

Each (regime, method) is split into blocks of seeds; each block is one Ray task
that trains it (``recigrad.running.train.train_seeds``) and returns its record as plain
data (summary, curve, tables).  The driver merges the blocks of a (regime,
method) in seed order (``recigrad.running.train.merge``) and writes its run folder
(``recigrad.running.runfolder``) into the report in progress, so the report folder lives on the driver's machine only:
workers need no shared filesystem.

A seed gives the same run alone or in any batch (bit for bit, on the CPU), so
the results do not depend on the blocks nor on the machines: they are those of
the local backend, all but wall-clock ``seconds``.  Each task runs with the
driver's torch thread count and default dtype.

Ray is imported here only; the local backend never imports it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from recigrad.errors import ConfigError
from recigrad.game.regime import Regime
from recigrad.running import runfolder, train


@contextmanager
def ray_session(address: str | None, num_cpus: int | None):
    """Ray, connected to the cluster at ``address`` or a local Ray of ``num_cpus`` (started here and
    shut down at the end, unless one was running already); one line if Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise ConfigError('--backend ray needs Ray: pip install "ray[default]"') from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def driver_settings() -> tuple[int, str]:
    """The driver's torch thread count and default dtype, for the tasks to run as it does."""
    return torch.get_num_threads(), str(torch.get_default_dtype()).removeprefix("torch.")


def seed_blocks(seeds: list[int], size: int | None) -> list[list[int]]:
    """``seeds`` in consecutive blocks of ``size`` (all in one block when ``size`` is None)."""
    size = size or len(seeds)
    return [list(seeds[i:i + size]) for i in range(0, len(seeds), size)]


def train_block(regime: Regime, method: str, seeds: list[int], iterations: int | None, threads: int,
                dtype: str, tuning: dict | None = None) -> dict:
    """One Ray task (or one job of ``recigrad.running.pool``): train ``method`` on ``regime`` for ``seeds``
    (with the best setting of the tuning result ``tuning`` if given); the run's record as plain data."""
    os.environ.setdefault("RECIGRAD_PROGRESS", "0")
    torch.set_num_threads(threads)
    torch.set_default_dtype(getattr(torch, dtype))
    return asdict(train.train_seeds(regime, seeds, method, iterations, tuning=tuning))


def run_jobs(jobs: dict[tuple[str, str], Regime], seeds: list[int], iterations: int | None, runs: Path,
             address: str | None = None, num_cpus: int | None = None, seed_block: int | None = None) -> None:
    """Train every ``(regime name, method)`` of ``jobs`` on Ray and write its run folder
    ``runs/REGIME-METHOD`` as soon as all its seed blocks are done."""
    if not jobs:
        return
    with ray_session(address, num_cpus) as ray:
        task = ray.remote(num_cpus=1)(train_block)
        threads, dtype = driver_settings()
        blocks = seed_blocks(seeds, seed_block)
        waiting: dict = {}
        parts: dict[tuple[str, str], list] = {}
        for (name, method), regime in jobs.items():
            regime_ref = ray.put(regime)
            parts[(name, method)] = [None] * len(blocks)
            for k, block in enumerate(blocks):
                waiting[task.remote(regime_ref, method, block, iterations, threads, dtype)] = (name, method, k)
        while waiting:
            done, _ = ray.wait(list(waiting), num_returns=1)
            for ref in done:
                name, method, k = waiting.pop(ref)
                parts[(name, method)][k] = train.RunRecord(**ray.get(ref))
                if all(p is not None for p in parts[(name, method)]):
                    record = train.merge(parts.pop((name, method)))
                    runfolder.write_run_folder(runs / f"{name}-{method}", jobs[(name, method)], method, seeds, record)

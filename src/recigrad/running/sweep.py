"""Sweeps (docs/model.md §10, ``recigrad sweep``): one command over a grid of game and training settings.

A sweep runs ``train``, ``exact``, ``simulate`` or ``reference`` on every *cell* of a grid
(the product of the values given per key, in the order given) in one process, reusing the
library calls of each command (``recigrad.running.train.train_seeds``,
``recigrad.evaluation.evaluate``, ``recigrad.dynamics.world.simulate``,
``recigrad.evaluation.best_response.best_response``), or as one Ray task per cell
(``backend="ray"``).  Grid keys: the game's ``b``, ``c``, ``e``, ``mu`` (or their TOML names
``benefit``, ``cost``, ``execution_error``, ``assessment_error``) and the training settings
``lr``, ``interactions``, ``iterations``.

The folder ``OUT`` holds

- ``results.csv``: one row per cell, seed and method: the cell's index, the command, every game
  parameter, ``N``, the population as text and one ``count KIND:NORM`` column per group, the
  training settings, then the command's figures;
- ``sweep.json``: the grid, the base regime, the command and its settings.

It is built in ``OUT.partial``: each finished cell's rows are written there atomically
(``cells/cell-NNNNNN.json``), so ``resume`` skips finished cells and gives the same
``results.csv`` as an uninterrupted run (all but wall-clock ``seconds``).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from recigrad import __version__
from recigrad.errors import ConfigError
from recigrad.game.regime import Regime, TrainConfig, parse_toml, read_text, require_learner
from recigrad.game.rules import Game, short_repr
from recigrad.running import checkpoint, distributed, outdir
from recigrad.util.threads import configured

COMMANDS = ("train", "exact", "simulate", "reference")
GAME_KEYS = {"b": "b", "c": "c", "e": "e", "mu": "mu",
             "benefit": "b", "cost": "c", "execution_error": "e", "assessment_error": "mu"}
TRAIN_KEYS = ("lr", "interactions", "iterations")
INT_KEYS = ("interactions", "iterations")
KEYS_OF = {"train": ("b", "c", "e", "mu", "lr", "interactions", "iterations"),
           "exact": ("b", "c", "e", "mu"), "reference": ("b", "c", "e", "mu"),
           "simulate": ("b", "c", "e", "mu", "interactions")}
MAX_CELLS = 10_000
SIMULATE_INTERACTIONS, SIMULATE_BURN_IN = 100_000, 1_000
CELLS = "cells"
_SWEEP_KEYS = ("command", "method", "seeds", "seed", "grid")


@dataclass(frozen=True)
class Sweep:
    """What a sweep runs: ``command`` on ``regime`` with each cell's changes, for ``seeds``.

    ``grid`` maps canonical keys (``b``, ``c``, ``e``, ``mu``, ``lr``, ``interactions``,
    ``iterations``) to their values, in the order the cells vary (the last key fastest).
    ``interactions`` and ``burn_in`` are ``simulate``'s (counted interactions per population);
    ``order`` and ``model`` are ``reference``'s."""

    regime: Regime
    command: str = "train"
    grid: dict = field(default_factory=dict)
    seeds: tuple = (0,)
    method: str = "rg"
    interactions: int = SIMULATE_INTERACTIONS
    burn_in: int = SIMULATE_BURN_IN
    order: int = 3
    model: str = "auto"

    def cells(self) -> list[dict]:
        """Every cell's settings ``{key: value}``, in order."""
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]

    def as_dict(self) -> dict:
        """Plain data, as ``sweep.json`` holds it (without the cells)."""
        return {"command": self.command, "method": self.method if self.command == "train" else None,
                "seeds": list(self.seeds), "grid": {k: list(v) for k, v in self.grid.items()},
                "regime": checkpoint.regime_dict(self.regime), "interactions": self.interactions,
                "burn_in": self.burn_in, "order": self.order, "model": self.model}


# ---------------------------------------------------------------------------
# the grid


def _value(key: str, text) -> float | int:
    """One grid value of ``key``, from text or a TOML number; one line if it is not one."""
    if isinstance(text, str):
        raw = text.strip()
        try:
            value = int(raw) if key in INT_KEYS and re.fullmatch(r"[+-]?[0-9]+", raw, re.ASCII) else float(raw)
        except ValueError:
            value = None
    else:
        value = text if isinstance(text, (int, float)) and not isinstance(text, bool) else None
    if key in INT_KEYS:
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            value = int(value)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"--grid {key}: {short_repr(text)} is not allowed; allowed: positive integers")
        return value
    if value is None or not math.isfinite(value):
        raise ConfigError(f"--grid {key}: {short_repr(text)} is not allowed; allowed: finite numbers")
    return float(value)


def canonical_key(key: str, command: str) -> str:
    """The grid key ``key`` as the sweep names it (``benefit`` -> ``b``); one line if unknown or
    not used by ``command``."""
    name = GAME_KEYS.get(key, key)
    if name not in KEYS_OF["train"]:
        allowed = ", ".join([*GAME_KEYS, *TRAIN_KEYS])
        raise ConfigError(f"--grid: unknown key {short_repr(key)}; allowed: {allowed}")
    if name not in KEYS_OF[command]:
        raise ConfigError(f"--grid {key}: not a setting of {command}; allowed: {', '.join(KEYS_OF[command])}")
    return name


def parse_grid(items: list[str], command: str) -> dict:
    """``["b=2,3,5", "mu=0.01,0.05"]`` as ``{"b": [2.0, 3.0, 5.0], "mu": [0.01, 0.05]}``."""
    grid: dict = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values.strip():
            raise ConfigError(f"--grid {short_repr(item)}: expected KEY=V1,V2,..., e.g. b=2,3,5")
        _add(grid, key.strip(), values.split(","), command)
    return grid


def _add(grid: dict, key: str, values: list, command: str) -> None:
    name = canonical_key(key, command)
    if name in grid:
        raise ConfigError(f"--grid {key}: {name} is given twice; give each key once")
    if not values:
        raise ConfigError(f"--grid {key}: give at least one value")
    grid[name] = [_value(name, v) for v in values]


def sweep_table(path: str | Path) -> dict:
    """The ``[sweep]`` table of a regime TOML file (``{}`` if none), checked: ``command``,
    ``method``, ``seeds``, ``seed`` and ``[sweep.grid]`` (key = [values])."""
    data = parse_toml(*read_text(path, "--config"))
    table = data.get("sweep", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [sweep] must be a table")
    for key in table:
        if key not in _SWEEP_KEYS:
            raise ConfigError(f"{path}: unknown key sweep.{short_repr(key)}; allowed: {', '.join(_SWEEP_KEYS)}")
    command = table.get("command", "train")
    if command not in COMMANDS:
        raise ConfigError(f"{path}: sweep.command = {short_repr(command)} is not allowed; allowed: {', '.join(COMMANDS)}")
    for key in ("seeds", "seed"):
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < (key == "seeds")):
            raise ConfigError(f"{path}: sweep.{key} must be a {'positive' if key == 'seeds' else 'non-negative'} "
                              f"integer, got {short_repr(value)}")
    grid_table = table.get("grid", {})
    if not isinstance(grid_table, dict):
        raise ConfigError(f"{path}: [sweep.grid] must be a table of KEY = [values]")
    grid: dict = {}
    try:
        for key, values in grid_table.items():
            _add(grid, key, values if isinstance(values, list) else [values], command)
    except ConfigError as err:
        raise ConfigError(f"{path}: sweep.grid: {re.sub(r'^--grid:? ', '', str(err))}") from None
    return {**{k: table[k] for k in ("method", "seeds", "seed") if k in table}, "command": command, "grid": grid}


def cell_regime(sweep: Sweep, cell: dict) -> Regime:
    """The sweep's regime with the cell's game and training settings."""
    regime = sweep.regime
    game = {k: v for k, v in cell.items() if k in ("b", "c", "e", "mu")}
    if game:
        regime = replace(regime, game=Game(**{**asdict(regime.game), **game}))
    train = {k: v for k, v in cell.items() if k in TRAIN_KEYS}
    if train and sweep.command == "train":
        regime = replace(regime, train=TrainConfig(**{**asdict(regime.train), **train}))
    return regime


def check(sweep: Sweep) -> list[dict]:
    """Every cell's settings, each cell's regime built (so bad values are refused, one line,
    before any work)."""
    if sweep.command not in COMMANDS:
        raise ConfigError(f"unknown sweep command {sweep.command!r}; allowed: {', '.join(COMMANDS)}")
    cells = sweep.cells()
    if len(cells) > MAX_CELLS:
        raise ConfigError(f"--grid: {len(cells):,} cells; at most {MAX_CELLS:,}")
    if sweep.command in ("train", "reference"):
        require_learner(sweep.regime.population, f"sweep --command {sweep.command}")
    for cell in cells:
        try:
            regime = cell_regime(sweep, cell)
        except ConfigError as err:
            shown = ", ".join(f"{k}={v:g}" for k, v in cell.items())
            raise ConfigError(f"--grid cell {shown}: {err}") from None
        if sweep.command == "train" and regime.train.model == "exact" and regime.population.n > 12:
            raise ConfigError(f"train.model exact needs N <= 12, got N = {regime.population.n}")
    return cells


# ---------------------------------------------------------------------------
# one cell


def _columns(sweep: Sweep, index: int, regime: Regime) -> dict:
    """The settings columns of a cell's rows."""
    population = regime.population
    row = {"cell": index, "command": sweep.command, **asdict(regime.game), "N": population.n,
           "population": population.describe()}
    for group in population.describe().split():
        kind_norm, _, count = group.rpartition(":")
        key = f"count {kind_norm}"
        row[key] = row.get(key, 0) + int(count)
    if sweep.command == "train":
        row.update({"lr": regime.train.lr, "interactions": regime.train.interactions,
                    "iterations": regime.train.iterations, "components": regime.train.components,
                    "model": regime.train.model})
    elif sweep.command == "simulate":
        row.update({"interactions": sweep.interactions, "burn_in": sweep.burn_in})
    return row


def run_cell(sweep: Sweep, index: int, cell: dict) -> list[dict]:
    """The rows of cell ``index`` (settings ``cell``): one per seed (``train``, ``simulate``)
    or one (``exact``, ``reference``)."""
    regime = cell_regime(sweep, cell)
    base = _columns(sweep, index, regime)
    act, sig = regime.population.batched_tables(1)
    start = time.perf_counter()
    if sweep.command == "train":
        from recigrad.running import train

        record = train.train_seeds(regime, list(sweep.seeds), sweep.method)
        rows = []
        for run in record.result["runs"]:
            figures = {k: v for k, v in run.items() if k not in ("seed", "interactions", "seconds")}
            rows.append({**base, "method": sweep.method, "seed": run["seed"], **figures, "seconds": run["seconds"]})
        return rows
    if sweep.command == "exact":
        from recigrad.evaluation import evaluate

        solution, model = evaluate(act, sig, regime.game)
        return [{**base, "model": model, "payoff": float(solution.payoff.mean()), "good": float(solution.good.mean()),
                 "cooperation": float(solution.cooperation[0]), "seconds": time.perf_counter() - start}]
    if sweep.command == "reference":
        from recigrad.evaluation.best_response import best_response

        learner = require_learner(regime.population, "sweep --command reference")
        ref = best_response(act, sig, learner, regime.game, model=sweep.model, order=sweep.order)
        return [{**base, "learner": learner, "model": ref.model, "order": sweep.order, "payoff": float(ref.payoff[0]),
                 "seconds": time.perf_counter() - start}]
    from recigrad.dynamics.world import simulate
    from recigrad.game import observable

    seeds = list(sweep.seeds)
    interactions = int(cell.get("interactions", sweep.interactions))
    base["interactions"] = interactions
    pc, so = observable(*regime.population.batched_tables(len(seeds)), regime.game)
    tally, _ = simulate(pc, so, seeds, interactions, sweep.burn_in, game=regime.game)
    payoff = tally.payoff_per_round(regime.game.b, regime.game.c)
    good = tally.good_fraction()
    cooperation = tally.given.sum(1) / max(tally.interactions, 1)
    seconds = time.perf_counter() - start
    return [{**base, "seed": seed, "payoff": float(payoff[k].mean()), "good": float(good[k].mean()),
             "cooperation": float(cooperation[k]), "seconds": seconds} for k, seed in enumerate(seeds)]


def _cell_task(sweep: Sweep, index: int, cell: dict, threads: int, dtype: str) -> list[dict]:
    """One Ray task or worker process: the rows of one cell, with the driver's torch thread count and dtype."""
    import os

    os.environ.setdefault("RECIGRAD_PROGRESS", "0")
    torch.set_num_threads(threads)
    torch.set_default_dtype(getattr(torch, dtype))
    return run_cell(sweep, index, cell)


# ---------------------------------------------------------------------------
# the folder


def _cell_file(work: Path, index: int) -> Path:
    return work / CELLS / f"cell-{index:06d}.json"


def _open_work(work: Path, header: dict, resume: bool) -> None:
    """Keep the work folder (resume, same sweep) or start it afresh; refuse one not ours or for another sweep."""
    outdir.open_work(work, header, resume, "sweep in progress", CELLS)


def _warm_up(sweep: Sweep) -> None:
    """Compile the simulator once, before the cells (``simulate`` and the learners that play)."""
    from recigrad.dynamics import kernel

    kernel.warm_up(parallel=len(sweep.seeds) >= kernel.PARALLEL_BATCH)


def run_sweep(sweep: Sweep, out: str | Path, resume: bool = False, backend: str = "local",
              address: str | None = None, num_cpus: int | None = None, workers: int = 1) -> dict:
    """Run every cell of ``sweep``; write ``out`` (``results.csv``, ``sweep.json``); return
    ``{"rows", "cells", "seconds", "folder"}``.

    Each finished cell's rows are kept in ``<out>.partial`` as they come, so ``resume`` after an
    interrupt runs only the cells not finished and gives the same ``results.csv`` (all but
    ``seconds``).  ``backend="ray"`` runs one Ray task per cell (``address`` of a cluster, else a
    local Ray of ``num_cpus``); the local backend never imports Ray, and runs the cells in this
    process (``workers = 1``) or in ``workers`` processes of its own, each on the library's thread
    count; a cell's rows do not depend on where it runs.  The caller claims ``out``
    (``recigrad.running.outdir.claim``)."""
    cells = check(sweep)
    out = Path(out).resolve()
    work = checkpoint.partial_dir(out)
    spec = sweep.as_dict()
    header = checkpoint.header("sweep", sweep=json.loads(json.dumps(spec)))
    _open_work(work, header, resume)
    clock = time.perf_counter()
    pending = [i for i in range(len(cells)) if not _cell_file(work, i).exists()]
    if backend == "local" and workers > 1 and len(pending) > 1:
        _run_processes(sweep, cells, pending, work, min(workers, len(pending)))
    elif backend == "local":
        if pending and sweep.command in ("train", "simulate"):
            _warm_up(sweep)  # compile the simulator once, outside the cells' timings
        with configured():  # the library's thread count (recigrad.set_threads, RECIGRAD_THREADS, else 1)
            for i in pending:
                checkpoint.write_json_atomic(_cell_file(work, i), run_cell(sweep, i, cells[i]))
    elif backend == "ray":
        _run_ray(sweep, cells, pending, work, address, num_cpus)
    else:
        raise ConfigError(f"unknown backend {backend!r}; allowed: local, ray")
    rows = [row for i in range(len(cells)) for row in json.loads(_cell_file(work, i).read_text())]
    checkpoint.write_atomic(work / "results.csv", to_csv(rows).encode())
    checkpoint.write_json_atomic(work / "sweep.json", {**spec, "cells": cells, "recigrad": __version__})
    shutil.rmtree(work / CELLS)
    (work / checkpoint.SUITE_FILE).unlink()
    outdir.write_marker(work, "sweep")
    outdir.replace(work, out)  # removes only a previous sweep folder of ours
    return {"rows": rows, "cells": cells, "seconds": time.perf_counter() - clock, "folder": str(out)}


def _run_processes(sweep: Sweep, cells: list[dict], pending: list[int], work: Path, workers: int) -> None:
    """The pending cells in ``workers`` fresh processes (spawned: nothing of this process's torch or
    numba state is shared), each cell's rows written here as it finishes."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with configured():
        threads, dtype = distributed.driver_settings()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        waiting = {pool.submit(_cell_task, sweep, i, cells[i], threads, dtype): i for i in pending}
        while waiting:
            done, _ = wait(list(waiting), return_when=FIRST_COMPLETED)
            for future in done:
                checkpoint.write_json_atomic(_cell_file(work, waiting.pop(future)), future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(sweep: Sweep, cells: list[dict], pending: list[int], work: Path, address, num_cpus) -> None:
    if not pending:
        return
    with distributed.ray_session(address, num_cpus) as ray:
        task = ray.remote(num_cpus=1)(_cell_task)
        threads, dtype = distributed.driver_settings()
        sweep_ref = ray.put(sweep)
        waiting = {task.remote(sweep_ref, i, cells[i], threads, dtype): i for i in pending}
        while waiting:
            done, _ = ray.wait(list(waiting), num_returns=1)
            for ref in done:
                checkpoint.write_json_atomic(_cell_file(work, waiting.pop(ref)), ray.get(ref))


# ---------------------------------------------------------------------------
# the table


def to_csv(rows: list[dict]) -> str:
    """The rows as CSV text: the columns in order of first appearance; floats as Python writes
    them (they read back exactly); missing values empty."""
    columns: dict = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


def load_sweep(folder: str | Path):
    """The ``results.csv`` of a sweep folder as a pandas DataFrame (one row per cell, seed and method).

    Needs pandas (the ``analysis`` extra: ``pip install "recigrad[analysis]"``)."""
    try:
        import pandas as pd
    except ImportError:
        raise ConfigError('load_sweep needs pandas: pip install "recigrad[analysis]"') from None
    path = Path(folder) / "results.csv"
    if not path.is_file():
        raise ConfigError(f"{str(folder)!r} is not a sweep folder: no results.csv")
    return pd.read_csv(path)


_SHOWN = {"train": ("payoff", "percent_of_reference", "adherence", "mean_payoff", "cooperation"),
          "exact": ("model", "payoff", "good", "cooperation"), "simulate": ("payoff", "good", "cooperation"),
          "reference": ("model", "payoff")}


def summary_table(rows: list[dict]) -> str:
    """A readable table of a sweep's rows: the cell, its settings that vary, the seed and the main figures."""
    from recigrad.util.text import table

    if not rows:
        return "(no cells)"
    varying = [k for k in ("b", "c", "e", "mu", "lr", "interactions", "iterations")
               if k in rows[0] and len({row.get(k) for row in rows}) > 1]
    keys = ["cell", *varying, *(k for k in ("method", "seed") if k in rows[0]),
            *(k for k in _SHOWN[rows[0]["command"]] if k in rows[0])]
    return table(keys, [[row.get(k) for k in keys] for row in rows], digits=4)

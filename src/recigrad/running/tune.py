"""Tuning a baseline for any population over the recorded grid (docs/model.md §7, Tuning).

For one tunable method (``recigrad.learning.baselines.settings``) and one regime (shipped,
a TOML file or ``--pop``), every setting of the method's grid recorded in ``tuned.json``
trains with the regime's own budget (``train.iterations x train.interactions`` per
population, as every method) on tuning seeds (default 100, 101, 102; evaluations use
0-4) and is scored by the final exact payoff: the mean percent of reference over seeds
(single learner) or the learners' mean payoff as percent of ``b - c`` (society).  The
best setting (ties to the first in grid order) and every setting's score make the
tuning result, a JSON document of format ``recigrad-tuning`` that ``recigrad train
--baseline-settings FILE`` reads.  ``benchmarks/tune_baselines.py`` runs the same code
over the shipped regimes to write ``tuned.json``.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path

from recigrad.errors import ConfigError
from recigrad.evaluation import metrics
from recigrad.game.regime import Regime
from recigrad.learning import contract
from recigrad.learning.baselines import common, settings
from recigrad.running import checkpoint
from recigrad.running.train import regime_reference

SEEDS = (100, 101, 102)  # tuning seeds; evaluations use 0-4


def grid(axes: dict[str, list]) -> list[dict]:
    """Every setting of a grid ``{field: [values]}``, in order (the last field varies fastest)."""
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def recorded_grid(method: str) -> dict[str, list]:
    """The grid of ``method`` recorded in ``tuned.json`` (``ConfigError`` where none is)."""
    path = resources.files("recigrad.learning.baselines") / common.TUNED_FILE
    axes = json.loads(path.read_text()).get("grid", {}).get(method) if path.is_file() else None
    if not axes:
        raise ConfigError(f"no tuning grid recorded for method {method!r} in {common.TUNED_FILE}; "
                          f"recorded: {', '.join(recorded_methods()) or 'none'}")
    return axes


def recorded_methods() -> list[str]:
    """The tunable methods with a grid in ``tuned.json``."""
    path = resources.files("recigrad.learning.baselines") / common.TUNED_FILE
    recorded = json.loads(path.read_text()).get("grid", {}) if path.is_file() else {}
    return [m for m in contract.METHODS if m in recorded and settings.config_class(m) is not None]


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


def tune(regime: Regime, method: str, seeds=SEEDS, axes: dict[str, list] | None = None, progress=None) -> dict:
    """Tune ``method`` for ``regime`` over ``axes`` (default: its recorded grid); the tuning result.

    Args:
        regime: the population, game and budget to tune for (at least one learner).
        method: a tunable method (``settings.tunable()``).
        seeds: the tuning seeds, trained as one batch per setting.
        axes: ``{field: [values]}``; default ``recorded_grid(method)``.
        progress: called with each setting's row as it finishes (or ``None``).

    Returns:
        The ``recigrad-tuning`` document: ``format``, ``version``, ``method``, ``population``
        (``name``, ``describe``, ``key``: ``settings.population_key``), ``budget``, ``seeds``,
        ``grid``, ``score_kind``, ``results`` (one row per setting: its fields, ``score``,
        ``score_min``, ``payoff_mean``, ``seconds``), ``best`` (the setting), ``score`` (its
        score), ``seconds``.
    """
    cls = settings.config_class(method)
    if cls is None:
        raise ConfigError(f"method {method!r} has no settings to tune; allowed: {', '.join(settings.tunable())}")
    axes = axes if axes is not None else recorded_grid(method)
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{key} is {contract.shown(values)}; allowed: a non-empty list of values")
        for value in values:
            settings.check_setting(method, {key: value}, "grid")
    module, defaults = contract.method(method), cls()
    ref = regime_reference(regime)
    clock, rows, best = time.perf_counter(), [], None
    for setting in grid(axes):
        t = time.perf_counter()
        scores, payoffs = train_score(module, regime, list(seeds), replace(defaults, **setting), ref)
        score = sum(scores) / len(scores)
        row = {**setting, "score": score, "score_min": min(scores), "payoff_mean": sum(payoffs) / len(payoffs),
               "seconds": time.perf_counter() - t}
        rows.append(row)
        if progress is not None:
            progress(row)
        if best is None or score > best[0]:
            best = (score, setting)
    return {
        "format": settings.FORMAT, "version": settings.VERSION, "method": method,
        "population": {"name": regime.name, "describe": regime.population.describe(), "key": settings.population_key(regime)},
        "budget": regime.train.iterations * regime.train.interactions, "seeds": [int(s) for s in seeds],
        "grid": axes, "score_kind": "percent_of_reference" if ref is not None else "percent_of_b_minus_c",
        "results": rows, "best": best[1], "score": best[0], "seconds": time.perf_counter() - clock,
    }


def write(path: str | Path, document: dict) -> None:
    """Write a tuning result atomically (a temporary file, fsync, rename); claim the path first
    with ``outdir.claim_file``."""
    checkpoint.write_json_atomic(Path(path), document)


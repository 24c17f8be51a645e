"""Where a baseline's settings come from (docs/model.md §7, Tuning), for any method and population.

A *tunable* method (REINFORCE, PPO and any later baseline) has a settings dataclass
(``CONFIG`` of its module, or the module's one ``...Config`` dataclass) and
``start(regime, seeds, config=None)``.  Its settings for a run are, in order:

1. a **tuning result** the user gives (``--baseline-settings FILE``, written by
   ``recigrad tune``): its ``best`` setting;
2. the shipped ``tuned.json``'s ``best[method][regime name]``;
3. the dataclass defaults (the ``overall`` setting of ``tuned.json``: the best mean over
   the regimes tuned there).

A method module with a ``settings_for(regime)`` of its own (the tuned Stable-Baselines3 methods,
whose defaults are read from ``overall``) gives steps 2 and 3 itself.

``provenance`` says which, and whether the setting was **tuned for this population**
(same game, agents and tables, components and budget: ``population_key``) or taken
from **another** population (which one); ``None`` for a method without settings (``rg``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

from recigrad.errors import ConfigError
from recigrad.game.regime import MAX_INTERACTIONS, Regime, load_regime, regime_names
from recigrad.learning import contract
from recigrad.learning.baselines import common

FORMAT = "recigrad-tuning"
VERSION = 1


def config_class(method: str):
    """The settings dataclass of ``method`` (its module's ``CONFIG``, else its one dataclass named
    ``...Config``), or ``None`` for a method without settings to tune."""
    try:
        module = contract.method(method)
    except ImportError:  # a method whose optional extra is not installed
        return None
    found = getattr(module, "CONFIG", None)
    if found is not None:
        return found
    candidates = [v for k, v in vars(module).items() if k.endswith("Config") and dataclasses.is_dataclass(v)
                  and isinstance(v, type) and v.__module__ == module.__name__]
    return candidates[0] if len(candidates) == 1 else None


def tunable() -> list[str]:
    """The methods of ``METHODS`` that have settings to tune."""
    return [m for m in contract.METHODS if config_class(m) is not None]


def population_key(regime: Regime) -> str:
    """What a tuning result is for: a SHA-256 of the game, every agent (kind, norm, warm-up and
    tables), the learning components and the budget (iterations x interactions); not the name."""
    act, sig = regime.population.tables()
    data = {"game": dataclasses.asdict(regime.game),
            "agents": [[a.kind, str(a.norm), a.warmup, act[j].tolist(), sig[j].tolist()]
                       for j, a in enumerate(regime.population.agents)],
            "train": [regime.train.components, regime.train.iterations, regime.train.interactions]}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _shipped_key(name: str) -> str | None:
    return population_key(load_regime(name)) if name in regime_names() else None


def _fields(method: str) -> dict[str, type]:
    return {f.name: f for f in dataclasses.fields(config_class(method))}


def check_setting(method: str, setting, where: str) -> dict:
    """``setting`` checked against ``method``'s settings dataclass: an object of known fields whose
    values are numbers of the default's kind (ints stay ints), positive and finite (``ConfigError``)."""
    fields = _fields(method)
    if not isinstance(setting, dict) or not setting:
        raise ConfigError(f"{where} is {contract.shown(setting)}; allowed: an object of {method} settings "
                          f"({', '.join(fields)})")
    defaults = config_class(method)()
    for key, value in setting.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown {method} setting {key!r}; allowed: {', '.join(fields)}")
        default = getattr(defaults, key)
        declared = str(fields[key].type).split("|")[0].strip()  # a default of None (SB3's own): the declared type
        want_int = isinstance(default, int) and not isinstance(default, bool) or key == "interactions" or (
            default is None and declared == "int")
        ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0
              and (not want_int or (isinstance(value, int) and value <= MAX_INTERACTIONS)))
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        if not ok:
            kind = ("true or false" if isinstance(default, bool) else f"a positive integer up to {MAX_INTERACTIONS:,}"
                    if want_int else "a positive finite number")
            raise ConfigError(f"{where}.{key} is {contract.shown(value)}; allowed: {kind}")
    return setting


def read_result(path: str | Path, method: str) -> dict:
    """A tuning result file (``recigrad tune``) for ``method``, checked (one-line ``ConfigError``):
    JSON of format ``recigrad-tuning``, this method, a population key and a ``best`` setting."""
    shown = repr(str(path))
    if config_class(method) is None:
        raise ConfigError(f"--baseline-settings is for baselines with settings ({', '.join(tunable())}); "
                          f"method {method!r} has none")
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise ConfigError(f"--baseline-settings {shown}: cannot be read ({reason})") from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ConfigError(f"--baseline-settings {shown}: not JSON ({str(err).splitlines()[0][:80]})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"--baseline-settings {shown}: not a recigrad tuning result (format {FORMAT!r}, "
                          "written by recigrad tune)")
    if doc.get("method") != method:
        raise ConfigError(f"--baseline-settings {shown}: tuned for method {contract.shown(doc.get('method'))}; "
                          f"allowed: a result for --method {method}")
    population = doc.get("population")
    if not (isinstance(population, dict) and isinstance(population.get("key"), str) and isinstance(population.get("name"), str)):
        raise ConfigError(f"--baseline-settings {shown}: population is {contract.shown(population)}; "
                          "allowed: an object with name and key")
    check_setting(method, doc.get("best"), f"--baseline-settings {shown}: best")
    return {**doc, "file": str(path)}


def config_for(method: str, regime: Regime, result: dict | None = None):
    """The settings of ``method`` for ``regime``: ``result``'s best setting if given (a checked
    ``read_result``), else what the method's own ``start`` picks (``common.settings_for``);
    ``None`` for a method without settings."""
    cls = config_class(method)
    if cls is None:
        return None
    if result is not None:
        return dataclasses.replace(cls(), **result["best"])
    own = getattr(contract.method(method), "settings_for", None)
    return own(regime) if own is not None else common.settings_for(cls(), method, regime)


def provenance(method: str, regime: Regime, result: dict | None = None) -> dict | None:
    """Where the run's baseline settings come from (docs/model.md §7): ``source`` ``tuned`` (for this
    population), ``other`` (tuned for another population: ``tuned_for`` names it) or ``defaults``;
    ``file`` (a tuning result given, else ``null``) and ``settings`` (every field's value).
    ``None`` for a method without settings."""
    config = config_for(method, regime, result)
    if config is None:
        return None
    key = population_key(regime)
    if result is not None:
        tuned_for, same, file = result["population"]["name"], result["population"]["key"] == key, result["file"]
    else:
        file = None
        shipped = common.tuned_table().get(method, {})
        tuned_for = regime.name if regime.name in shipped else None
        same = tuned_for is not None and _shipped_key(tuned_for) == key
    source = "defaults" if tuned_for is None else "tuned" if same else "other"
    return {"source": source, "tuned_for": tuned_for, "file": file, "settings": dataclasses.asdict(config)}

"""Regimes: TOML files shipped in ``recigrad/regimes`` or written by a user.

Schema (docs/model.md §10)::

    name = "discriminative-sj"
    description = "..."
    [game]            # benefit, cost, execution_error, assessment_error
    [norms.NAME]      # assessment (4 or 8 entries), action (4 entries, optional)
    [[agents]]        # kind, norm, warmup (default true), count (default 1)
    [train]           # keys of TrainConfig

Every unknown key, unknown name or impossible number is refused with a
``ConfigError`` whose message is one line naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from recigrad.game.norms import KINDS, MAX_NORMS, RANDOM, Norm, check_norm_name, norm_from_tables, resolve_norm
from recigrad.game.population import MAX_AGENTS, Agent, Population
from recigrad.game.rules import ConfigError, Game, short_repr

COMPONENTS = ("action", "signal", "joint")
MODELS = ("auto", "meanfield", "exact")
# the learner's model under "auto": the exact chain where several observers vote and N is at most this
# (measured: with a 3-of-3 quorum a learner among L7 or L8 agents ends at 0-1% of its reference on the
# mean field and at 99.7-99.9% on the exact chain; under a majority of 5 in discriminative-sh, 86-91% on
# 4 of 5 seeds against 99.7% on every seed), the mean field otherwise (docs/model.md §6)
AUTO_EXACT_N = 10
# bounds on what a config may ask for, checked before anything is allocated (docs/model.md §10)
MAX_ITERATIONS = 10**9
MAX_INTERACTIONS = 10**8  # per iteration and population: the records of one iteration are held in memory
MAX_LR = 1e6
MAX_CONFIG_BYTES = 1 << 20  # a regime file is a few hundred bytes


@dataclass(frozen=True)
class TrainConfig:
    """How learners train (docs/model.md §6); every field is a ``[train]`` key."""

    components: str = "joint"
    model: str = "auto"
    # docs/model.md §6 "Defaults: the search" (benchmarks/defaults_search.py): smaller, more frequent
    # updates take the slowest of 10 seeds to 99% of the reference in under 16,000 interactions in every
    # single-learner regime; 1,200 x 100 keeps the 120,000 interactions per run
    iterations: int = 1200
    interactions: int = 100  # interactions played per iteration, per population
    lr: float = 0.15

    def learner_model(self, game: Game, n: int) -> str:
        """The model the learner solves: ``exact`` or ``meanfield`` (``auto``: the exact chain when several
        observers vote and ``N <= AUTO_EXACT_N``, where the mean field's independent reputations
        mislead it most; the mean field otherwise)."""
        if self.model != "auto":
            return self.model
        return "exact" if game.observers > 1 and n <= AUTO_EXACT_N else "meanfield"

    def __post_init__(self) -> None:
        _choice("train.components", self.components, COMPONENTS)
        _choice("train.model", self.model, MODELS)
        for key, most in (("iterations", MAX_ITERATIONS), ("interactions", MAX_INTERACTIONS)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"train.{key} must be a positive integer, got {short_repr(value)}")
            if value > most:
                raise ConfigError(f"train.{key} must be at most {most:,}, got {short_repr(value)}")
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (
                abs(lr) < 1e300 and math.isfinite(lr) and 0 < lr <= MAX_LR):
            raise ConfigError(f"train.lr must be a positive number at most {MAX_LR:g}, got {short_repr(lr)}")


@dataclass(frozen=True)
class Regime:
    name: str
    description: str
    game: Game
    population: Population
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        self.game.check_population(self.population.n)


_GAME_KEYS = {"benefit": "b", "cost": "c", "execution_error": "e", "assessment_error": "mu", "observers": "observers",
              "recipient_observes": "recipient_observes", "aggregation": "aggregation", "quorum": "quorum",
              "observation": "observation", "perception_error": "perception_error",
              "assessment": "assessment", "initial_good": "initial_good", "schedule": "schedule", "gossip": "gossip",
              "gossip_trust": "gossip_trust"}
_AGENT_KEYS = ("kind", "norm", "warmup", "count")
_TOP_KEYS = ("name", "description", "game", "norms", "agents", "train", "sweep")  # [sweep]: read by recigrad.running.sweep
_NORM_KEYS = ("assessment", "action")


def _choice(key: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} = {short_repr(value)} is not allowed; allowed: {', '.join(allowed)}")


def _unknown(where: str, table: dict, allowed) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key {where}{short_repr(key)}; allowed: {', '.join(allowed)}")


def norms_from_dict(data: dict) -> dict[str, Norm]:
    """The ``[norms.NAME]`` tables of a parsed regime file, by name (docs/model.md §2, §10).

    Each table has ``assessment`` (4 or 8 numbers in [0, 1]) and optionally ``action``
    (4 numbers); anything else is a ``ConfigError`` naming the key."""
    tables = data.get("norms", {})
    if not isinstance(tables, dict):
        raise ConfigError("[norms] must be a table of [norms.NAME] tables")
    if len(tables) > MAX_NORMS:
        raise ConfigError(f"[norms]: at most {MAX_NORMS} norms, got {len(tables)}")
    norms = {}
    for name, table in tables.items():
        check_norm_name(name, f"norms.{short_repr(name)}")
        where = f"norms.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table with assessment = [...] and optionally action = [...]")
        _unknown(f"{where}.", table, _NORM_KEYS)
        if "assessment" not in table:
            raise ConfigError(f"{where}.assessment is missing: 8 numbers (GGC GGD GBC GBD BGC BGD BBC BBD) or 4 (GC GD BC BD)")
        norms[name] = norm_from_tables(name, table["assessment"], table.get("action"), where)
    return norms


def regime_from_dict(data: dict, source: str = "config") -> Regime:
    """Validate a parsed TOML document and build the regime."""
    try:
        if not isinstance(data, dict):
            raise ConfigError(f"a regime must be a table of keys, got {short_repr(data)}")
        return _regime_from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None


def _regime_from_dict(data: dict) -> Regime:
    _unknown("", data, _TOP_KEYS)
    name = data.get("name", "custom")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name must be a non-empty string, got {short_repr(name)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"description must be a string, got {short_repr(description)}")

    game_table = data.get("game", {})
    if not isinstance(game_table, dict):
        raise ConfigError("[game] must be a table")
    _unknown("game.", game_table, tuple(_GAME_KEYS))
    game = Game(**{_GAME_KEYS[k]: v for k, v in game_table.items()})

    norms = norms_from_dict(data)
    agent_tables = data.get("agents")
    if not isinstance(agent_tables, list) or not agent_tables:
        raise ConfigError("[[agents]] is missing: give at least one agents table with kind, norm and count")
    agents: list[Agent] = []
    if len(agent_tables) > MAX_AGENTS:
        raise ConfigError(f"[[agents]]: at most {MAX_AGENTS} tables, got {len(agent_tables)}")
    for i, table in enumerate(agent_tables):
        where = f"agents[{i}]."
        if not isinstance(table, dict):
            raise ConfigError(f"agents[{i}] must be a table")
        _unknown(where, table, _AGENT_KEYS)
        for key in ("kind", "norm"):
            if key not in table:
                raise ConfigError(f"{where}{key} is missing")
        _choice(f"{where}kind", table["kind"], KINDS)
        norm = resolve_norm(table["norm"], norms, f"{where}norm")
        count = table.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"{where}count must be a positive integer, got {short_repr(count)}")
        if len(agents) + count > MAX_AGENTS:
            raise ConfigError(f"{where}count = {short_repr(count)}: at most {MAX_AGENTS} agents in all (N <= {MAX_AGENTS})")
        warmup = table.get("warmup", norm != RANDOM)
        if not isinstance(warmup, bool):
            raise ConfigError(f"{where}warmup must be true or false, got {short_repr(warmup)}")
        if norm == RANDOM and (warmup or table["kind"] != "learner"):
            raise ConfigError(f"{where}norm = 'random' is a learner's random start: kind 'learner', warmup false (its default)")
        agents.extend(Agent(table["kind"], norm, warmup) for _ in range(count))
    population = Population(tuple(agents))

    train_table = data.get("train", {})
    if not isinstance(train_table, dict):
        raise ConfigError("[train] must be a table")
    _unknown("train.", train_table, tuple(f.name for f in dataclasses.fields(TrainConfig)))
    train = TrainConfig(**train_table)
    if train.model == "exact" and population.n > 12:
        raise ConfigError(f"train.model = 'exact' needs N <= 12, got N = {population.n}; use 'meanfield'")
    return Regime(name, description, game, population, train)


def load_config(path: str | Path) -> Regime:
    """A user's regime file."""
    text, source = read_text(path, "--config")
    return regime_from_text(text, source)


def load_norms(path: str | Path) -> dict[str, Norm]:
    """The ``[norms.NAME]`` tables of a TOML file (``--norms FILE``; docs/model.md §2, §10),
    by name; the file's other keys (a whole regime file, say) are not read."""
    text, source = read_text(path, "--norms")
    data = parse_toml(text, source)
    if "norms" not in data:
        raise ConfigError(f"{source}: no [norms.NAME] table; give e.g. [norms.my-norm] with assessment = [...]")
    try:
        return norms_from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None


def read_text(path: str | Path, flag: str) -> tuple[str, str]:
    """A user's TOML file as text, and how to name it in messages; one line if it cannot be read."""
    shown = short_repr(str(path))
    try:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"{flag} {shown}: no such file")
        if not path.is_file():
            raise ConfigError(f"{flag} {shown}: not a regular file")
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except (OSError, ValueError) as err:  # unreadable, a folder, a name the system refuses
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{flag} {shown}: cannot be read ({getattr(err, 'strerror', None) or type(err).__name__})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{flag} {shown}: larger than {MAX_CONFIG_BYTES} bytes; not a regime file")
    source = str(path) if str(path).isprintable() and len(str(path)) <= 200 else shown
    try:
        text = raw.decode()
    except UnicodeDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML (not UTF-8 text: {err.reason})") from None
    return text, source


def parse_toml(text: str, source: str = "config") -> dict:
    """TOML text as a dict; one line naming ``source`` for text that is not TOML or nests too deeply."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{source}: not valid TOML ({reason})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML (nested too deeply)") from None


def regime_from_text(text: str, source: str = "config") -> Regime:
    """Parse a regime file's TOML text and build the regime (one line for anything wrong)."""
    return regime_from_dict(parse_toml(text, source), source)


def regime_names() -> list[str]:
    """Names of the shipped regimes."""
    folder = resources.files("recigrad.game") / "regimes"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_regime(name: str) -> Regime:
    """A shipped regime by name."""
    names = regime_names()
    if name not in names:
        raise ConfigError(f"--regime {name!r}: unknown regime; allowed: {', '.join(names)}")
    text = (resources.files("recigrad.game") / "regimes" / f"{name}.toml").read_text()
    return regime_from_dict(tomllib.loads(text), f"regime {name}")


def require_learner(population: Population, what: str) -> int:
    """Index of the first learner, or a clear refusal."""
    if not population.learners:
        raise ConfigError(f"{what} needs a learner: add one agent of kind 'learner' (e.g. --pop learner:stern-judging:1)")
    return population.learners[0]

"""Results back in Python: a run folder read back, and learned tables re-scored in any population.

- ``load_run(folder)``: the run folder of ``recigrad train`` (docs/model.md §10) as a `Run`: the
  learners' final tables per seed as tensors, the evaluation curve (``metrics.jsonl``), the
  summary (``result.json``) and the configuration, with the regime rebuilt from it.
- ``evaluate(tables, population, game)`` (also ``recigrad.evaluate``): places tables in a
  population and returns everyone's long-run payoffs, with the cooperation rate and welfare
  (docs/model.md §3, §4, §8), from the exact chain when ``N <= 12`` and mean field above,
  and says which (built on ``recigrad.evaluation.evaluate``).
- ``load_sweep(folder)``: a sweep folder's ``results.csv`` (``recigrad sweep``,
  ``recigrad.running.sweep``) as a pandas DataFrame; needs the ``analysis`` extra.

For example, the tables a learner learned in one regime, judged in another::

    run = recigrad.results.load_run("runs/my-run")
    scores = recigrad.evaluate((run.act, run.sig), load_regime("discriminative-is"))
    scores.payoff[:, 0], scores.model   # one row per seed of the run
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from recigrad.dynamics.solution import Solution
from recigrad.errors import ConfigError
from recigrad.evaluation import models
from recigrad.game import DTYPE, Game
from recigrad.game.norms import Norm
from recigrad.game.population import Agent, Population, parse_pop
from recigrad.game.regime import Regime, TrainConfig
from recigrad.util.threads import configured

RUN_FILES = ("config.json", "metrics.jsonl", "tables.json", "result.json")


@dataclass
class Run:
    """A training run read back from its folder (``load_run``).

    Attributes:
        folder: the run folder.
        config: ``config.json``: the regime as plain data, the method, the seeds.
        regime: the regime rebuilt from ``config.json`` (game, population, training settings).
        method: the training method's name.
        seeds: the seeds, in the order of the tables' first dimension.
        learners: the learning agents' numbers in the population.
        act: the learners' final action tables ``(S, L, 2, 2)``, one row per seed.
        sig: the learners' final signal tables ``(S, L, 2, 2, 2)``.
        curves: the evaluation lines of ``metrics.jsonl``, one dict per evaluation (iteration,
            interactions, seconds and per-seed lists of the metrics).
        metrics: ``result.json``, the summary as ``recigrad train --json`` printed it.
    """

    folder: Path
    config: dict
    regime: Regime
    method: str
    seeds: list[int]
    learners: list[int]
    act: torch.Tensor
    sig: torch.Tensor
    curves: list[dict]
    metrics: dict

    @property
    def tables(self) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Per seed, the learners' final tables ``(act (L, 2, 2), sig (L, 2, 2, 2))``."""
        return {seed: (self.act[k], self.sig[k]) for k, seed in enumerate(self.seeds)}

    def curve(self, key: str) -> torch.Tensor:
        """One metric over the evaluations, ``(evaluations, S)`` (``NaN`` where it was ``null``)."""
        rows = [[float("nan") if v is None else float(v) for v in line[key]] for line in self.curves]
        return torch.tensor(rows, dtype=DTYPE)


def _refuse(folder, what: str) -> ConfigError:
    return ConfigError(f"load_run: {str(folder)!r} is not a recigrad run folder ({what})")


def _read_json(folder: Path, name: str):
    try:
        return json.loads((folder / name).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _refuse(folder, f"{name} unreadable: {type(err).__name__}") from None


def _agent(data: dict) -> Agent:
    """An agent as ``config.json`` records it: by its norm's name, or (a norm of your own,
    docs/model.md §2) by the tables recorded beside the name."""
    try:
        return Agent(data["kind"], data["norm"], data.get("warmup", True))
    except ConfigError:
        if "sig" not in data:
            raise
    entries = lambda table: tuple(float(v) for v in torch.tensor(table, dtype=torch.float64).flatten())  # noqa: E731
    act = entries(data["act"]) if data["kind"] in ("norm", "learner") else None
    return Agent(data["kind"], Norm(str(data["norm"]), entries(data["sig"]), act), data.get("warmup", True))


def _regime(data: dict) -> Regime:
    agents = tuple(_agent(agent) for agent in data["agents"])
    return Regime(data["name"], data.get("description", ""), Game(**data["game"]), Population(agents),
                  TrainConfig(**data["train"]))


def load_run(folder: str | Path) -> Run:
    """Read the run folder of ``recigrad train --out FOLDER`` (or ``recigrad.running.train.run(..., out=)``).

    Args:
        folder: the run folder (the one holding ``result.json``, also one inside a bench report's ``runs/``).

    Returns:
        A `Run`: tables per seed as tensors, curves, metrics, configuration and regime.

    Raises:
        ConfigError: one line, where ``folder`` is not a complete recigrad run folder (no folder, no
            marker of a training run, a file missing or unreadable).
    """
    from recigrad.running import outdir  # imported here: recigrad.running needs the package loaded first

    path = Path(folder)
    if not path.is_dir():
        raise _refuse(folder, "no such folder")
    if outdir.marker_kind(path) != "train":
        raise _refuse(folder, f"no {outdir.MARKER} marker of a training run")
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise _refuse(folder, f"missing {', '.join(missing)}")
    config, tables, result = (_read_json(path, name) for name in ("config.json", "tables.json", "result.json"))
    try:
        curves = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if line.strip()]
        regime = _regime(config["regime"])
        runs = tables["runs"]
        act = torch.tensor([run["act"] for run in runs], dtype=DTYPE).reshape(len(runs), -1, 2, 2)
        sig = torch.tensor([run["sig"] for run in runs], dtype=DTYPE).reshape(len(runs), -1, 2, 2, 2)
        seeds = [int(run["seed"]) for run in runs]
        learners = [int(j) for j in tables["learners"]]
        method = str(config["method"])
    except (KeyError, TypeError, ValueError, RuntimeError, UnicodeDecodeError) as err:
        raise _refuse(folder, f"unexpected contents: {type(err).__name__}: {err}") from None
    return Run(path, config, regime, method, seeds, learners, act, sig, curves, result)


@dataclass
class Scores:
    """What ``evaluate`` answers, per population of the batch ``B``.

    Attributes:
        payoff: payoff per round of the placed agents ``(B, L)``.
        good: their long-run probability of a good reputation ``(B, L)``.
        others_payoff: the mean payoff of every other agent ``(B,)`` (NaN where there are none).
        cooperation: realised C per interaction, all agents ``(B,)``.
        welfare: mean payoff of all agents per round ``(B,)`` (``(b - c)`` times the cooperation).
        model: ``"exact"`` (the exact chain, ``N <= 12``) or ``"meanfield"``.
        agents: the agents that were given the tables.
        solution: everyone's figures, a ``recigrad.dynamics.solution.Solution`` of ``(B, N)`` tensors.
    """

    payoff: torch.Tensor
    good: torch.Tensor
    others_payoff: torch.Tensor
    cooperation: torch.Tensor
    welfare: torch.Tensor
    model: str
    agents: list[int]
    solution: Solution


def _population(population) -> tuple[Population, Game | None]:
    if isinstance(population, Regime):
        return population.population, population.game
    if isinstance(population, Population):
        return population, None
    if isinstance(population, str):
        population = [population]
    if isinstance(population, (list, tuple)) and population and all(isinstance(p, str) for p in population):
        return parse_pop(list(population)), None
    raise ConfigError(f"evaluate: population is {type(population).__name__}; allowed: a Regime, a Population, "
                      "or --pop strings such as ['disc:stern-judging:7']")


def _batched(table: torch.Tensor, name: str, shape: tuple[int, ...], count: int) -> torch.Tensor:
    """``table`` as ``(B, count) + shape``: accepts ``shape``, ``(L,) + shape`` or ``(B, L) + shape``, ``L`` 1 or ``count``."""
    t = torch.as_tensor(table, dtype=DTYPE)
    extra = t.dim() - len(shape)
    if tuple(t.shape[extra:]) != shape or extra not in (0, 1, 2):
        raise ConfigError(f"evaluate: {name} has shape {tuple(t.shape)}; allowed: {shape}, (L, *{shape}) or "
                          f"(B, L, *{shape}) with L = 1 or the {count} agents given the tables")
    t = t.reshape((1,) * (2 - extra) + tuple(t.shape))
    if t.shape[1] not in (1, count):
        raise ConfigError(f"evaluate: {name} holds tables for {t.shape[1]} agents; allowed: 1 or {count}")
    if not bool(((t >= 0) & (t <= 1)).all()):
        raise ConfigError(f"evaluate: {name} holds values outside [0, 1] (or NaN); allowed: probabilities")
    return t.expand(t.shape[0], count, *shape)


@configured()
def evaluate(tables, population, game: Game | None = None, agents: list[int] | None = None,
             model: str = "auto") -> Scores:
    """Re-score tables in a population: the agents ``agents`` play ``tables``, every other agent its
    own kind and norm; long-run figures from the exact chain when ``N <= 12``, else mean field.

    Args:
        tables: ``(act, sig)`` intended tables: ``act (2, 2)``, ``(L, 2, 2)`` or ``(B, L, 2, 2)`` and
            ``sig (2, 2, 2)``, ``(L, 2, 2, 2)`` or ``(B, L, 2, 2, 2)`` (e.g. ``(run.act, run.sig)`` of
            ``load_run``, one population per seed); ``L`` is 1 (the same tables for every agent in
            ``agents``) or ``len(agents)``.  Indices as everywhere: 0 = bad / defect, 1 = good / cooperate.
        population: a ``Regime`` (its game is used unless ``game`` is given), a ``Population``, or
            ``--pop`` strings (``["learner:stern-judging:1", "disc:stern-judging:7"]``).
        game: the game (default: the regime's, else ``Game()``).
        agents: the agents given the tables (default: the population's learners, else ``[0]``).
        model: ``auto`` (exact chain when ``N <= 12``, mean field above), ``exact`` or ``meanfield``.

    Returns:
        `Scores`: payoff and good of the placed agents ``(B, L)``, the others' mean payoff,
        cooperation and welfare ``(B,)``, and the model used.

    Raises:
        ConfigError: one line, for a population, tables, agents or model that do not fit.
    """
    pop, regime_game = _population(population)
    game = game or regime_game or Game()
    n = pop.n
    agents = list(agents) if agents is not None else (pop.learners or [0])
    if not agents or any(not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < n for j in agents) \
            or len(set(agents)) != len(agents):
        raise ConfigError(f"evaluate: agents {agents!r}; allowed: distinct agent numbers from 0 to {n - 1}")
    if not (isinstance(tables, (tuple, list)) and len(tables) == 2):
        raise ConfigError("evaluate: tables must be a pair (act, sig)")
    act = _batched(tables[0], "act", (2, 2), len(agents))
    sig = _batched(tables[1], "sig", (2, 2, 2), len(agents))
    batch = max(act.shape[0], sig.shape[0])
    if act.shape[0] not in (1, batch) or sig.shape[0] not in (1, batch):
        raise ConfigError(f"evaluate: act and sig hold {act.shape[0]} and {sig.shape[0]} populations; allowed: the same")
    all_act, all_sig = pop.batched_tables(batch)
    all_act[:, agents] = act.expand(batch, -1, -1, -1)
    all_sig[:, agents] = sig.expand(batch, -1, -1, -1, -1)
    solution, used = models.evaluate(all_act, all_sig, game, model)
    others = [j for j in range(n) if j not in agents]
    others_payoff = solution.payoff[:, others].mean(1) if others else torch.full((batch,), torch.nan, dtype=DTYPE)
    return Scores(solution.payoff[:, agents], solution.good[:, agents], others_payoff, solution.cooperation,
                  solution.payoff.mean(1), used, agents, solution)


def load_sweep(folder: str | Path):
    """The ``results.csv`` of a sweep folder as a pandas DataFrame, one row per cell, seed and
    method (``recigrad.running.sweep.load_sweep``; needs pandas, the ``analysis`` extra)."""
    from recigrad.running.sweep import load_sweep as load

    return load(folder)

"""Training runs: one method on one regime, many seeds batched in one process.

A *method* follows the method contract (``recigrad.learning.contract``,
``docs/model.md §11``): ``start(regime, seeds) -> state`` and ``step(state)``, whose
state has ``tables()`` (everyone's current true tables, for evaluation),
``interactions`` and its own checkpoint (``state_dict`` / ``load_state_dict``).
This driver evaluates the learners against exact theory as they train and
writes a run folder (``recigrad.running.runfolder``):

- ``config.json``: the regime, the method and its settings, the seeds;
- ``metrics.jsonl``: one line per evaluation (iteration, interactions, seconds,
  per-seed payoff and percent of reference, or society metrics);
- ``tables.json``: every learner's final tables per seed;
- ``curve.png``: payoff against interactions, with the reference line;
- ``result.json``: the summary, as ``recigrad train --json`` prints it (with
  ``seconds_per_iteration``: the median wall seconds of one training step, evaluation excluded).

The folder is built under a temporary name and renamed when complete.  While
the run trains, it checkpoints into ``<out>.partial`` (``recigrad.running.checkpoint``):
every ``CHECKPOINT_EVERY`` iterations, every ``CHECKPOINT_SECONDS`` and at SIGINT
(the iteration in progress finishes first); ``run(..., resume=True)`` continues
from there to the same results as an uninterrupted run (all but wall-clock
``seconds``).  ``train_seeds`` is the loop without the folder, and ``merge`` joins
the records of seed blocks trained apart (``recigrad.running.suite``'s Ray backend).
"""

from __future__ import annotations

import math
import shutil
import signal
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from recigrad.evaluation import evaluate, metrics
from recigrad.evaluation.best_response import OneHead, Reference, best_response, best_response_gap
from recigrad.game.regime import Regime
from recigrad.learning import contract
from recigrad.learning.baselines import settings as baseline_settings
from recigrad.learning.tables import warmup_logits
from recigrad.running import checkpoint, outdir, private_train, runfolder
from recigrad.util import device as devices
from recigrad.util import numerics
from recigrad.util.progress import progress_bar
from recigrad.util.text import table
from recigrad.util.threads import configured

THRESHOLDS = (95.0, 99.0)
NASHCONV_POINTS = 5
CHECKPOINT_EVERY = 25  # iterations between checkpoints (also every CHECKPOINT_SECONDS, and at SIGINT)
CHECKPOINT_SECONDS = 60.0


def regime_reference(regime: Regime) -> Reference | None:
    """The reference of the regime's learner (single-learner regimes; fixed
    opponents are the same in every seed, so it is computed once).  Where only
    one head trains (``components`` action or signal) from a warm-up, the other
    head stays at its warm-up tables in the reference too; from a random start
    (different per seed) the reference is over both heads."""
    learners = regime.population.learners
    if len(learners) != 1:
        return None
    act, sig = regime.population.batched_tables(1)
    components, agent = regime.train.components, regime.population.agents[learners[0]]
    if components != "joint" and agent.warmup:
        # one head trains, the other stays at its warm-up tables: the best the learner can do
        warm_act, warm_sig = (numerics.sigmoid(t.unsqueeze(0))[0] for t in warmup_logits("learner", agent.norm))
        return best_response(act, sig, learners[0], regime.game, order=OneHead(components, warm_act, warm_sig))
    return best_response(act, sig, learners[0], regime.game)


_STARTS: dict[str, dict] = {}  # regime_start's answers in this process, by regime hash


def regime_start(regime: Regime) -> dict | None:
    """The payoff of the single learner's start tables, the origin of the share of gain
    (``docs/model.md §8``): its warm-up tables (``kind`` ``warmup``, exact), or for a random
    start the mean payoff of random tables (``kind`` ``random``, ``metrics.random_start_payoff``:
    ``draws`` random tables, standard error ``se``); ``None`` for societies.  Computed once per
    regime in a process."""
    learners = regime.population.learners
    if len(learners) != 1:
        return None
    key = checkpoint.regime_hash(regime)
    if key not in _STARTS:
        act, sig = regime.population.batched_tables(1)
        agent = regime.population.agents[learners[0]]
        if agent.warmup:
            warm_act, warm_sig = (numerics.sigmoid(t.unsqueeze(0))[0] for t in warmup_logits("learner", agent.norm))
            act, sig = act.clone(), sig.clone()
            act[0, learners[0]], sig[0, learners[0]] = warm_act, warm_sig
            solution, _ = evaluate(act, sig, regime.game)
            _STARTS[key] = {"kind": "warmup", "payoff": float(solution.payoff[0, learners[0]]), "se": 0.0, "draws": None}
        else:
            mean, se = metrics.random_start_payoff(act, sig, learners[0], regime.game)
            _STARTS[key] = {"kind": "random", "payoff": mean, "se": se, "draws": metrics.START_DRAWS}
    return dict(_STARTS[key])


def _evaluate(state, regime: Regime, ref: Reference | None, start: dict | None = None) -> dict[str, torch.Tensor]:
    act, sig = state.tables()
    learners = regime.population.learners
    if ref is not None:
        return metrics.learner_report(act, sig, learners[0], regime.game, ref, None if start is None else start["payoff"])
    return metrics.society_report(act, sig, learners, regime.game)


def _nashconv(state, regime: Regime) -> torch.Tensor:
    """NashConv of the learners' current tables; best responses in the mean-field model
    (exact for second-order tables; the exact chain of 8 distinct agents is too slow to
    solve 4096 times per learner during training)."""
    act, sig = state.tables()
    nashconv, _, _ = best_response_gap(act, sig, regime.game, regime.population.learners, model="meanfield")
    return nashconv


def json_floats(t: torch.Tensor) -> list:
    """A tensor's values as a JSON list, NaN as ``null``."""
    return [None if (isinstance(v, float) and math.isnan(v)) else v for v in t.tolist()]


@dataclass
class RunRecord:
    """What a run produces, as plain data: the summary (``result``), the evaluation lines
    (``curve``, as ``metrics.jsonl`` holds them) and the final tables (``tables.json``)."""

    result: dict
    curve: list[dict]
    tables: dict


class Interrupted(KeyboardInterrupt):
    """SIGINT during a checkpointed run: the iteration finished and a checkpoint was written."""

    def __init__(self, message: str, folder: Path, iteration: int) -> None:
        super().__init__(message)
        self.folder, self.iteration = folder, iteration


@configured()  # the library's thread count (recigrad.util.threads), as the command line's
def run(
    regime: Regime,
    seeds: list[int],
    method: str = "rg",
    iterations: int | None = None,
    eval_every: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = CHECKPOINT_EVERY,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    scalars=None,
    tuning: dict | None = None,
    device=None,
) -> dict:
    """Train ``method`` on ``regime`` for every seed at once; returns the summary
    (the ``train`` JSON of docs/model.md §10) and writes the run folder to ``out``.

    With ``out``, the run checkpoints into ``<out>.partial`` every ``checkpoint_every``
    iterations (0: never), every ``checkpoint_seconds`` and at SIGINT (then raises
    ``Interrupted``); ``resume`` continues from that checkpoint if there is one.  The
    work folder is removed when the run folder is complete.

    Args:
        regime: the game, the population and the training settings.
        seeds: one seed per population, trained as one batch of ``B = len(seeds)``.
        method: a name of ``recigrad.learning.contract.METHODS``.
        iterations: training iterations (default ``regime.train.iterations``).
        eval_every: iterations between evaluations (default: 100 evaluations per run).
        out: the run folder to write (``recigrad.running.runfolder``); none if ``None``.
        resume: continue from the checkpoint in ``<out>.partial``; every field of it is
            checked against this run (``CheckpointError``, one line, where one does not fit).
        checkpoint_every: iterations between checkpoints (0: only at SIGINT).
        checkpoint_seconds: seconds between checkpoints.
        scalars: a ``recigrad.running.tensorboard.Scalars`` receiving every evaluation (a resumed
            run appends those after its checkpoint); ``None``: no TensorBoard scalars.
        tuning: a tuning result (``recigrad.learning.baselines.settings.read_result``) whose best
            setting the baseline uses; ``None``: the method's own choice (``tuned.json`` or defaults).
        device: where the learners' state lives (``recigrad.util.device``: ``"cpu"``, ``"cuda[:N]"`` or a
            ``torch.device``); ``None``: ``recigrad.util.device.current()`` (the CPU unless chosen).  The world
            and the evaluation stay on the CPU.

    Returns:
        The summary (``docs/model.md §10``): ``regime``, ``method``, ``seconds``,
        ``seconds_per_iteration`` (the median wall seconds of one training step, ``step(state)``
        of every seed at once, over the iterations this call ran; evaluations, NashConv,
        checkpoints and the start-up reference excluded) and ``runs``, one per seed, with the
        learner's exact payoff, reference and percent of it, adherence, sensitivities,
        collapse and interactions to 95% and 99% (single learner), or mean payoff,
        cooperation and NashConv (societies).
    """
    # a private game keeps no checkpoint (docs/model.md §6, §10); train_seeds refuses what it cannot train first
    work = checkpoint.partial_dir(out) if out is not None and not regime.game.private else None
    with devices.using(device):  # the methods' start creates the learners' state on this device
        record = train_seeds(regime, seeds, method, iterations, eval_every, work=work, resume=resume,
                             checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds, scalars=scalars,
                             tuning=tuning)
    if out is not None:
        runfolder.write_run_folder(Path(out), regime, method, seeds, record)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return record.result


def _header(regime: Regime, seeds: list[int], method: str, iterations: int, eval_every: int) -> dict:
    return checkpoint.header("train", regime=regime.name, regime_hash=checkpoint.regime_hash(regime), method=method,
                             seeds=[int(s) for s in seeds], iterations=iterations, eval_every=eval_every)


@dataclass
class _Driver:
    """The loop's bookkeeping between iterations (what a checkpoint's ``driver`` holds)."""

    curve: list[dict]
    reached: dict[float, list]
    reached_seconds: dict[float, list]
    seconds: float

    def as_dict(self, seconds: float) -> dict:
        return {"curve": self.curve, "reached": [self.reached[t] for t in THRESHOLDS],
                "reached_seconds": [self.reached_seconds[t] for t in THRESHOLDS], "seconds": seconds}


def _resume(module, regime: Regime, seeds: list[int], saved: dict, work: Path, iterations: int, eval_every: int):
    """The iteration reached, the bookkeeping and the method state of the checkpoint ``saved``, every field
    checked against this run (``CheckpointError``, one line, where one does not fit)."""
    per_iteration = regime.train.interactions
    try:
        done = contract.check_int(saved, "iteration", 0, iterations - 1, where="")
        driver = _checked_driver(saved["driver"], seeds, list(range(eval_every, done + 1, eval_every)), done * per_iteration)
        # every method plays regime.train.interactions per iteration (docs/model.md §11)
        contract.check_int(saved["meta"], "interactions", done * per_iteration, done * per_iteration)
    except contract.StateError as err:
        raise checkpoint.CheckpointError(f"cannot resume: checkpoint {work}: {err}") from None
    state = module.start(regime, seeds)
    checkpoint.restore(state, saved, work)
    return done, driver, state


def _checked_driver(driver, seeds: list[int], evaluated: list[int], interactions: int) -> _Driver:
    """The driver's bookkeeping, checked: the evaluation lines of the iterations ``evaluated`` (per-seed
    lists of ``len(seeds)``), for each threshold the interactions (an integer up to ``interactions``) and
    seconds at which each seed reached it (both ``None`` if not yet), and the seconds spent."""
    if not isinstance(driver, dict):
        raise contract.StateError(f"driver is {contract.shown(driver)}; allowed: an object with curve, reached, "
                                  "reached_seconds and seconds")
    curve = driver.get("curve", contract.MISSING)
    lines_ok = isinstance(curve, list) and all(isinstance(line, dict) for line in curve)
    if not lines_ok or [line.get("iteration") for line in curve] != evaluated:
        shown = [line.get("iteration") for line in curve] if lines_ok else contract.shown(curve)
        raise contract.StateError(f"driver.curve holds the evaluations at iterations {shown}; allowed: those at {evaluated}")
    for line in curve:
        for key, value in line.items():
            if key not in ("iteration", "interactions", "seconds") and not (isinstance(value, list) and len(value) == len(seeds)):
                raise contract.StateError(f"driver.curve at iteration {line['iteration']}: {key} is {contract.shown(value)}; "
                                          f"allowed: a list of {len(seeds)} values, one per seed")
    tables = {}
    for key in ("reached", "reached_seconds"):
        value = driver.get(key, contract.MISSING)
        if not (isinstance(value, list) and len(value) == len(THRESHOLDS)
                and all(isinstance(v, list) and len(v) == len(seeds) for v in value)):
            raise contract.StateError(f"driver.{key} is {contract.shown(value)}; allowed: {len(THRESHOLDS)} lists "
                                      f"(thresholds {', '.join(map(str, THRESHOLDS))}) of {len(seeds)} values")
        tables[key] = value
    for t, (counts, times) in enumerate(zip(tables["reached"], tables["reached_seconds"])):
        for k, (count, seconds) in enumerate(zip(counts, times)):
            count_ok = count is None or (isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= interactions)
            if not count_ok:
                raise contract.StateError(f"driver.reached[{t}][{k}] is {contract.shown(count)}; "
                                          f"allowed: null or an integer in [0, {interactions}]")
            if (seconds is None) != (count is None):
                raise contract.StateError(f"driver.reached_seconds[{t}][{k}] is {contract.shown(seconds)}; "
                                          f"allowed: {'null' if count is None else 'a number'}, as driver.reached[{t}][{k}]")
            if seconds is not None:
                contract.check_finite_number({"seconds": seconds}, "seconds", f"driver.reached_seconds[{t}][{k}]")
    seconds = contract.check_finite_number(driver, "seconds", "driver")
    return _Driver(curve, {t: list(v) for t, v in zip(THRESHOLDS, tables["reached"])},
                   {t: list(v) for t, v in zip(THRESHOLDS, tables["reached_seconds"])}, seconds)


@contextmanager
def _catch_sigint(enabled: bool):
    """While enabled (and in the main thread), SIGINT sets a flag instead of raising."""
    flag: list[int] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: flag.append(signum))
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def train_seeds(
    regime: Regime,
    seeds: list[int],
    method: str = "rg",
    iterations: int | None = None,
    eval_every: int | None = None,
    work: Path | None = None,
    resume: bool = False,
    checkpoint_every: int = CHECKPOINT_EVERY,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    scalars=None,
    tuning: dict | None = None,
) -> RunRecord:
    """The training loop of ``run``, without the run folder; checkpoints into ``work`` if given.

    Args:
        regime, seeds, method, iterations, eval_every, resume, checkpoint_every, checkpoint_seconds:
            as for ``run``.
        work: the checkpoint folder (``None``: no checkpoints).
        scalars, tuning: as for ``run``.

    Returns:
        A ``RunRecord``: the summary, the evaluation lines (``metrics.jsonl``) and the learners'
        final tables (``tables.json``; per seed ``act (L, 2, 2)``, ``sig (L, 2, 2, 2)``).
    """
    if regime.game.private:  # the private learner (recigrad.running.private_train); no checkpoints
        private_train.check(regime, method, resume)
        return private_train.train_seeds(regime, seeds, method, iterations, eval_every, scalars, THRESHOLDS)
    iterations = iterations or regime.train.iterations
    eval_every = eval_every or max(1, iterations // 100)
    module = contract.method(method)
    header = _header(regime, seeds, method, iterations, eval_every)
    config = baseline_settings.config_for(method, regime, tuning) if tuning is not None else None
    if config is not None:  # a resume must use the same settings
        header["baseline_settings"] = asdict(config)
        module = _WithConfig(module, config)
    saved = None
    if work is not None:
        if resume:
            saved = checkpoint.load(work, header)
        else:
            outdir.refuse_checkpoint(work)  # never discard a checkpoint silently
            checkpoint.clear(work)
    # NashConv costs a best response per learner: at NASHCONV_POINTS evenly spaced evaluations
    # the evaluations are at eval_every, 2 eval_every, ... and the last iteration (no list over all iterations)
    count = iterations // eval_every + (iterations % eval_every != 0)
    evals = lambda k: min((k + 1) * eval_every, iterations)  # noqa: E731
    nashconv_at = {evals(round(k * (count - 1) / (NASHCONV_POINTS - 1))) for k in range(NASHCONV_POINTS)}
    if saved is not None:  # every field checked before any work
        done, driver, state = _resume(module, regime, seeds, saved, work, iterations, eval_every)
        initial = [t.detach().clone() for t in module.start(regime, seeds).tables()]  # a seed's start is reproducible
    ref = regime_reference(regime)
    start = regime_start(regime) if ref is not None else None
    if saved is not None:
        curve, reached, reached_seconds = driver.curve, driver.reached, driver.reached_seconds
        clock = time.perf_counter() - driver.seconds
    else:
        clock = time.perf_counter()
        state = module.start(regime, seeds)
        initial = [t.detach().clone() for t in state.tables()]
        curve, done = [], 0
        reached = {t: [None] * len(seeds) for t in THRESHOLDS}
        reached_seconds = {t: [None] * len(seeds) for t in THRESHOLDS}

    def save(iteration: int) -> None:
        driver = _Driver(curve, reached, reached_seconds, 0.0).as_dict(time.perf_counter() - clock)
        checkpoint.save(work, header, iteration, driver, state)

    last_save = time.monotonic()
    step_seconds: list[float] = []  # wall seconds of each training step, evaluation excluded
    board = scalars.for_run(regime.name, method, seeds) if scalars is not None else None
    with progress_bar(iterations, f"{regime.name} {method}", "it") as bar, _catch_sigint(work is not None) as sigint:
        bar.update(done)
        for iteration in range(done + 1, iterations + 1):
            started = time.perf_counter()
            module.step(state)
            step_seconds.append(time.perf_counter() - started)
            if not (iteration % eval_every and iteration != iterations):
                _evaluate_into(state, regime, ref, iteration, iteration in nashconv_at, clock, curve, reached,
                               reached_seconds, bar, start)
                if board is not None:
                    board.on_evaluation(curve[-1])
            bar.update(1)
            if work is None or iteration == iterations:
                continue
            if sigint or (checkpoint_every and iteration % checkpoint_every == 0) or (
                    time.monotonic() - last_save >= checkpoint_seconds):
                save(iteration)
                last_save = time.monotonic()
            if sigint:
                raise Interrupted(f"interrupted after iteration {iteration} of {iterations}; checkpoint in {work}",
                                  work, iteration)
    seconds = time.perf_counter() - clock
    result = _summary(state, regime, method, seeds, ref, curve[-1], reached, reached_seconds, seconds, initial)
    result["baseline_settings"] = baseline_settings.provenance(method, regime, tuning)  # docs/model.md §7
    # docs/model.md §10: the training step alone; a resumed run counts the iterations after its checkpoint
    result["seconds_per_iteration"] = statistics.median(step_seconds) if step_seconds else None
    if ref is not None:  # docs/model.md §8: the share of gain's origin and, per head, whether collapse can be seen
        result["start"] = start
        action, signal = metrics.collapse_measurable(ref)
        result["collapse_measurable"] = {"action": bool(action[0]), "signal": bool(signal[0])}
    return RunRecord(result, curve, final_tables(state, regime, seeds))


class _WithConfig:
    """A method whose ``start`` is given the settings ``config`` (a tuning result's); ``step`` as the method's."""

    def __init__(self, module, config) -> None:
        self.module, self.config, self.step = module, config, module.step

    def start(self, regime: Regime, seeds: list[int]):
        return self.module.start(regime, seeds, self.config)


def _evaluate_into(state, regime, ref, iteration, with_nashconv, clock, curve, reached, reached_seconds, bar,
                   start=None) -> None:
    report = _evaluate(state, regime, ref, start)
    if ref is None and with_nashconv:
        report["nashconv"] = _nashconv(state, regime)
    line = {"iteration": iteration, "interactions": state.interactions, "seconds": time.perf_counter() - clock}
    line.update({k: json_floats(v.float() if v.dtype == torch.bool else v) for k, v in report.items()})
    curve.append(line)
    if ref is not None:
        note_reached(report["percent_of_reference"].tolist(), state.interactions, line["seconds"], reached,
                     reached_seconds)
        bar.set_postfix_str(f"{report['percent_of_reference'].mean():.2f}% of reference")


def note_reached(percents: list[float], interactions: int, seconds: float, reached: dict, reached_seconds: dict,
                 thresholds=THRESHOLDS) -> None:
    """Record, per threshold and seed, the interactions and seconds at which the percent of reference first
    reached it (``reached[threshold][k]`` stays ``None`` until then)."""
    for threshold in thresholds:
        for k, value in enumerate(percents):
            if reached[threshold][k] is None and value >= threshold:
                reached[threshold][k] = interactions
                reached_seconds[threshold][k] = seconds


def final_tables(state, regime: Regime, seeds: list[int]) -> dict:
    act, sig = state.tables()
    learners = regime.population.learners
    return {"learners": learners,
            "runs": [{"seed": s, "act": act[k, learners].tolist(), "sig": sig[k, learners].tolist()}
                     for k, s in enumerate(seeds)]}


def merge(records: list[RunRecord]) -> RunRecord:
    """One record from the records of seed blocks of the same run (in seed order): per-seed lists
    concatenated; ``seconds`` and ``seconds_per_iteration`` the longest block's."""
    if len(records) == 1:
        return records[0]
    curve = []
    for lines in zip(*(r.curve for r in records)):
        line = {}
        for key, value in lines[0].items():
            if key in ("iteration", "interactions"):
                line[key] = value
            elif key == "seconds":
                line[key] = max(x[key] for x in lines)
            else:
                line[key] = [v for x in lines for v in x[key]]
        curve.append(line)
    first = records[0]
    result = {**first.result, "runs": [run for r in records for run in r.result["runs"]],
              "seconds": max(r.result["seconds"] for r in records)}
    per_iteration = [r.result.get("seconds_per_iteration") for r in records]
    if all(v is not None for v in per_iteration):  # the slowest block's median
        result["seconds_per_iteration"] = max(per_iteration)
    tables = {**first.tables, "runs": [run for r in records for run in r.tables["runs"]]}
    return RunRecord(result, curve, tables)


def population_dict(population) -> list[dict]:
    """The population as consecutive groups ``{"kind", "norm", "count"}`` (``train --json``, ``result.json``)."""
    groups: list[dict] = []
    for agent in population.agents:
        if groups and (groups[-1]["kind"], groups[-1]["norm"]) == (agent.kind, str(agent.norm)):
            groups[-1]["count"] += 1
        else:
            groups.append({"kind": agent.kind, "norm": str(agent.norm), "count": 1})
    return groups


def agent_groups(regime: Regime) -> list[dict]:
    """``agents`` of the ``train`` JSON (``docs/model.md §10``): the agents as ``config.json`` records them
    (``kind``, ``norm``, ``warmup``, ``act``, ``sig``), consecutive equal agents as one entry with their
    ``count``, so that 9999 equal opponents are one line, not 9999."""
    groups: list[dict] = []
    for agent in checkpoint.regime_dict(regime)["agents"]:
        if groups and all(groups[-1][key] == value for key, value in agent.items()):
            groups[-1]["count"] += 1
        else:
            groups.append({**agent, "count": 1})
    return groups


def _effects(state, regime: Regime, initial) -> tuple[dict[str, list], str]:
    """Per seed: the learners' mean payoff and the others' (agents that do not learn; ``None`` where
    every agent learns), and each one's change from the initial tables, with the model that gave them
    (``recigrad.evaluation.evaluate``: the exact chain when ``N <= 12``, mean field above)."""
    learners = regime.population.learners
    others = [j for j in range(regime.population.n) if j not in learners]
    now, model = evaluate(*state.tables(), regime.game)
    start, _ = evaluate(*initial, regime.game)

    def mean(solution, agents):
        return solution.payoff[:, agents].mean(1).tolist() if agents else [None] * solution.payoff.shape[0]

    def change(agents):
        return (now.payoff[:, agents].mean(1) - start.payoff[:, agents].mean(1)).tolist() if agents else \
            [None] * now.payoff.shape[0]

    return {"others_payoff": mean(now, others), "payoff_change": change(learners),
            "others_payoff_change": change(others)}, model


def _summary(state, regime, method, seeds, ref, last, reached, reached_seconds, seconds, initial=None) -> dict:
    effects, model = _effects(state, regime, initial) if initial is not None else ({}, None)
    runs = []
    for k, seed in enumerate(seeds):
        entry = {"seed": seed, "interactions": state.interactions, "seconds": seconds}
        if ref is not None:
            for key in ("payoff", "reference", "percent_of_reference", "adherence", "action_sensitivity",
                        "signal_sensitivity"):
                entry[key] = last[key][k]
            entry["collapsed"] = bool(last["collapsed"][k])
            entry["action_collapsed"] = bool(last["action_collapsed"][k])
            entry["signal_collapsed"] = bool(last["signal_collapsed"][k])
            entry["table_distance"] = last["table_distance"][k]
            entry["share_of_gain"] = last.get("share_of_gain", [None] * len(seeds))[k]
            entry["interactions_to_95"] = reached[95.0][k]
            entry["interactions_to_99"] = reached[99.0][k]
            entry["seconds_to_95"] = reached_seconds[95.0][k]
            entry["seconds_to_99"] = reached_seconds[99.0][k]
        else:
            entry["mean_payoff"] = last["mean_payoff"][k]
            entry["cooperation"] = last["cooperation"][k]
            entry["nashconv"] = last["nashconv"][k]
        for key, values in effects.items():  # docs/model.md §10: the learners' effect on the others
            entry["mean_payoff_change" if key == "payoff_change" and ref is None else key] = values[k]
        runs.append(entry)
    result = {"regime": regime.name, "method": method, "runs": runs, "seconds": seconds,
              "game": asdict(regime.game), "population": population_dict(regime.population),
              "agents": agent_groups(regime)}
    if model is not None:
        result["effects_model"] = model
    if ref is not None:
        result["reference"] = ref.row(0)
    else:
        result["benefit_minus_cost"] = regime.game.b - regime.game.c
    return result


def summary_table(result: dict) -> str:
    """A readable table of a ``run`` summary, one row per seed."""
    if "reference" in result:
        header = ["seed", "payoff", "% of ref", "share", "distance", "adherence", "act sens", "sig sens", "act coll",
                  "sig coll", "to 95%", "to 99%", "others", "payoff chg", "others chg"]
        keys = ["seed", "payoff", "percent_of_reference", "share_of_gain", "table_distance", "adherence",
                "action_sensitivity", "signal_sensitivity", "action_collapsed", "signal_collapsed", "interactions_to_95",
                "interactions_to_99", "others_payoff", "payoff_change", "others_payoff_change"]
        title = f"{result['regime']} / {result['method']}: reference {result['reference']['payoff']:.4f} per round"
    else:
        header = ["seed", "mean payoff", "cooperation", "NashConv", "others", "mean payoff chg", "others chg"]
        keys = ["seed", "mean_payoff", "cooperation", "nashconv", "others_payoff", "mean_payoff_change",
                "others_payoff_change"]
        title = f"{result['regime']} / {result['method']}: b - c = {result['benefit_minus_cost']:g}"
    runs = result["runs"]
    body = table(header, [[run.get(k) for k in keys] for run in runs], digits=4)
    footer = f"{len(runs)} seeds, {runs[0]['interactions']} interactions each, {result['seconds']:.1f} s"
    if result.get("seconds_per_iteration") is not None:
        footer += f" ({result['seconds_per_iteration']:.3g} s per training iteration, median)"
    lines = [title, body, footer]
    if result.get("start"):
        start, measurable = result["start"], result.get("collapse_measurable", {})
        origin = "warm-up tables" if start["kind"] == "warmup" else f"mean of {start['draws']} random tables, se {start['se']:.4f}"
        seen = lambda head: "measurable" if measurable.get(head) else "not measurable"  # noqa: E731
        lines.append(f"share of gain from {start['payoff']:.4f} per round ({origin}); collapse: action {seen('action')}, "
                     f"signal {seen('signal')}")
    if result.get("baseline_settings"):
        lines.append(f"baseline settings: {describe_settings(result['baseline_settings'])}")
    return "\n".join(lines)


def describe_settings(provenance: dict) -> str:
    """A run's baseline settings' provenance in words (``settings.provenance``)."""
    values = ", ".join(f"{k}={v}" for k, v in provenance["settings"].items())
    where = f" from {provenance['file']}" if provenance.get("file") else ""
    if provenance["source"] == "tuned":
        return f"tuned for this population{where} ({values})"
    if provenance["source"] == "other":
        return f"tuned for another population, {provenance['tuned_for']}{where} ({values})"
    return f"defaults, not tuned for this population ({values})"

"""Training runs: one method on one regime, many seeds batched in one process.

A *method* is a module with ``start(regime, seeds) -> state`` and
``step(state)``, whose state has ``tables()`` (everyone's current true tables,
for evaluation) and ``interactions`` (played so far per population).  This
driver evaluates the learners against exact theory as they train and writes a
run folder:

- ``config.json``: the regime, the method and its settings, the seeds;
- ``metrics.jsonl``: one line per evaluation (iteration, interactions, seconds,
  per-seed payoff and percent of reference, or society metrics);
- ``tables.json``: every learner's final tables per seed;
- ``curve.png``: payoff against interactions, with the reference line;
- ``result.json``: the summary, as ``recigrad train --json`` prints it.

The folder is built under a temporary name and renamed when complete.  While
the run trains, it checkpoints into ``<out>.partial`` (``recigrad.running.checkpoint``):
every ``CHECKPOINT_EVERY`` iterations, every ``CHECKPOINT_SECONDS`` and at SIGINT
(the iteration in progress finishes first); ``run(..., resume=True)`` continues
from there to the same results as an uninterrupted run (all but wall-clock
``seconds``).  ``train_seeds`` is the loop without the folder, and ``merge`` joins
the records of seed blocks trained apart (``recigrad.running.suite``'s Ray backend).
"""

from __future__ import annotations

import importlib
import json
import math
import shutil
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from recigrad.evaluation import metrics
from recigrad.evaluation.best_response import OneHead, Reference, best_response_gap, reference
from recigrad.game.regime import Regime
from recigrad.learning.reciprocity_gradient import warmup_logits
from recigrad.running import checkpoint, outdir
from recigrad.util import numerics
from recigrad.util.progress import progress_bar
from recigrad.util.text import table

METHODS = {
    "rg": "recigrad.learning.reciprocity_gradient",
    "reinforce": "recigrad.learning.baselines.reinforce",
    "ppo": "recigrad.learning.baselines.ppo",
}
THRESHOLDS = (95.0, 99.0)
NASHCONV_POINTS = 5
CHECKPOINT_EVERY = 25  # iterations between checkpoints (also every CHECKPOINT_SECONDS, and at SIGINT)
CHECKPOINT_SECONDS = 60.0


def method_module(name: str):
    return importlib.import_module(METHODS[name])


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
        return reference(act, sig, learners[0], regime.game, order=OneHead(components, warm_act, warm_sig))
    return reference(act, sig, learners[0], regime.game)


def _evaluate(state, regime: Regime, ref: Reference | None) -> dict[str, torch.Tensor]:
    act, sig = state.tables()
    learners = regime.population.learners
    if ref is not None:
        return metrics.learner_report(act, sig, learners[0], regime.game, ref)
    return metrics.society_report(act, sig, learners, regime.game)


def _nashconv(state, regime: Regime) -> torch.Tensor:
    """NashConv of the learners' current tables; best responses in the mean-field model
    (exact for second-order tables; the exact chain of 8 distinct agents is too slow to
    solve 4096 times per learner during training)."""
    act, sig = state.tables()
    nashconv, _, _ = best_response_gap(act, sig, regime.game, regime.population.learners, model="meanfield")
    return nashconv


def _floats(t: torch.Tensor) -> list:
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
) -> dict:
    """Train ``method`` on ``regime`` for every seed at once; returns the summary
    (the ``train`` JSON of SPEC section 10) and writes the run folder to ``out``.

    With ``out``, the run checkpoints into ``<out>.partial`` every ``checkpoint_every``
    iterations (0: never), every ``checkpoint_seconds`` and at SIGINT (then raises
    ``Interrupted``); ``resume`` continues from that checkpoint if there is one.  The
    work folder is removed when the run folder is complete."""
    work = checkpoint.partial_dir(out) if out is not None else None
    record = train_seeds(regime, seeds, method, iterations, eval_every, work=work, resume=resume,
                         checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds)
    if out is not None:
        write_run_folder(Path(out), regime, method, seeds, record)
        shutil.rmtree(work, ignore_errors=True)
    return record.result


def _header(regime: Regime, seeds: list[int], method: str, iterations: int, eval_every: int) -> dict:
    return {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "kind": "train", "regime": regime.name,
            "regime_hash": checkpoint.regime_hash(regime), "method": method, "seeds": [int(s) for s in seeds],
            "iterations": iterations, "eval_every": eval_every}


def _restore(module, regime, seeds, saved: dict, work: Path):
    try:
        return checkpoint.load_state(module, regime, seeds, saved["meta"], saved["tensors"])
    except checkpoint.CheckpointError as err:
        raise checkpoint.CheckpointError(f"cannot resume: checkpoint {work}: {err}") from None
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
        raise checkpoint.CheckpointError(f"cannot resume: checkpoint {work} is broken ({type(err).__name__}: "
                                         f"{str(err).splitlines()[0] if str(err) else ''})") from None


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
) -> RunRecord:
    """The training loop of ``run``, without the run folder; checkpoints into ``work`` if given."""
    iterations = iterations or regime.train.iterations
    eval_every = eval_every or max(1, iterations // 100)
    module = method_module(method)
    header = _header(regime, seeds, method, iterations, eval_every)
    saved = None
    if work is not None:
        if resume:
            saved = checkpoint.load(work, header)
        else:
            outdir.refuse_checkpoint(work)  # never discard a checkpoint silently
            checkpoint.clear(work)
    ref = regime_reference(regime)
    # NashConv costs a best response per learner: at NASHCONV_POINTS evenly spaced evaluations
    # the evaluations are at eval_every, 2 eval_every, ... and the last iteration (no list over all iterations)
    count = iterations // eval_every + (iterations % eval_every != 0)
    evals = lambda k: min((k + 1) * eval_every, iterations)  # noqa: E731
    nashconv_at = {evals(round(k * (count - 1) / (NASHCONV_POINTS - 1))) for k in range(NASHCONV_POINTS)}
    if saved is not None:
        state = _restore(module, regime, seeds, saved, work)
        driver, done = saved["driver"], saved["iteration"]
        curve: list[dict] = driver["curve"]
        reached = {t: list(v) for t, v in zip(THRESHOLDS, driver["reached"])}
        reached_seconds = {t: list(v) for t, v in zip(THRESHOLDS, driver["reached_seconds"])}
        clock = time.perf_counter() - driver["seconds"]
    else:
        clock = time.perf_counter()
        state = module.start(regime, seeds)
        curve, done = [], 0
        reached = {t: [None] * len(seeds) for t in THRESHOLDS}
        reached_seconds = {t: [None] * len(seeds) for t in THRESHOLDS}

    def save(iteration: int) -> None:
        driver = {"curve": curve, "reached": [reached[t] for t in THRESHOLDS],
                  "reached_seconds": [reached_seconds[t] for t in THRESHOLDS], "seconds": time.perf_counter() - clock}
        checkpoint.save(work, header, iteration, driver, state)

    last_save = time.monotonic()
    with progress_bar(iterations, f"{regime.name} {method}", "it") as bar, _catch_sigint(work is not None) as sigint:
        bar.update(done)
        for iteration in range(done + 1, iterations + 1):
            module.step(state)
            if not (iteration % eval_every and iteration != iterations):
                _evaluate_into(state, regime, ref, iteration, iteration in nashconv_at, clock, curve, reached,
                               reached_seconds, bar)
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
    result = _summary(state, regime, method, seeds, ref, curve[-1], reached, reached_seconds, seconds)
    return RunRecord(result, curve, _final_tables(state, regime, seeds))


def _evaluate_into(state, regime, ref, iteration, with_nashconv, clock, curve, reached, reached_seconds, bar) -> None:
    report = _evaluate(state, regime, ref)
    if ref is None and with_nashconv:
        report["nashconv"] = _nashconv(state, regime)
    line = {"iteration": iteration, "interactions": state.interactions, "seconds": time.perf_counter() - clock}
    line.update({k: _floats(v.float() if v.dtype == torch.bool else v) for k, v in report.items()})
    curve.append(line)
    if ref is not None:
        for threshold in THRESHOLDS:
            for k, value in enumerate(report["percent_of_reference"].tolist()):
                if reached[threshold][k] is None and value >= threshold:
                    reached[threshold][k] = state.interactions
                    reached_seconds[threshold][k] = line["seconds"]
        bar.set_postfix_str(f"{report['percent_of_reference'].mean():.2f}% of reference")


def _final_tables(state, regime: Regime, seeds: list[int]) -> dict:
    act, sig = state.tables()
    learners = regime.population.learners
    return {"learners": learners,
            "runs": [{"seed": s, "act": act[k, learners].tolist(), "sig": sig[k, learners].tolist()}
                     for k, s in enumerate(seeds)]}


def merge(records: list[RunRecord]) -> RunRecord:
    """One record from the records of seed blocks of the same run (in seed order): per-seed lists
    concatenated; ``seconds`` the longest block's."""
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
    tables = {**first.tables, "runs": [run for r in records for run in r.tables["runs"]]}
    return RunRecord(result, curve, tables)


def _summary(state, regime, method, seeds, ref, last, reached, reached_seconds, seconds) -> dict:
    runs = []
    for k, seed in enumerate(seeds):
        entry = {"seed": seed, "interactions": state.interactions, "seconds": seconds}
        if ref is not None:
            for key in ("payoff", "reference", "percent_of_reference", "adherence", "action_sensitivity",
                        "signal_sensitivity"):
                entry[key] = last[key][k]
            entry["collapsed"] = bool(last["collapsed"][k])
            entry["interactions_to_95"] = reached[95.0][k]
            entry["interactions_to_99"] = reached[99.0][k]
            entry["seconds_to_95"] = reached_seconds[95.0][k]
            entry["seconds_to_99"] = reached_seconds[99.0][k]
        else:
            entry["mean_payoff"] = last["mean_payoff"][k]
            entry["cooperation"] = last["cooperation"][k]
            entry["nashconv"] = last["nashconv"][k]
        runs.append(entry)
    result = {"regime": regime.name, "method": method, "runs": runs, "seconds": seconds}
    if ref is not None:
        result["reference"] = ref.row(0)
    else:
        result["benefit_minus_cost"] = regime.game.b - regime.game.c
    return result


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n")


def write_run_folder(out: Path, regime, method, seeds, record: RunRecord) -> None:
    """Write the run folder atomically: built under a temporary name, then renamed."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        outdir.write_marker(tmp, "train")  # recognises the folder as ours (and a leftover temporary as ours)
        config = {"regime": checkpoint.regime_dict(regime), "method": method, "seeds": seeds}
        _write_json(tmp / "config.json", config)
        with open(tmp / "metrics.jsonl", "w") as f:
            for line in record.curve:
                f.write(json.dumps(line) + "\n")
        _write_json(tmp / "tables.json", record.tables)
        _write_json(tmp / "result.json", record.result)
        reference_payoff = record.result["reference"]["payoff"] if "reference" in record.result else None
        plot_curve(record.curve, reference_payoff, regime, method, tmp / "curve.png")
        outdir.replace(tmp, out)  # removes only a previous run folder of ours
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def plot_curve(curve: list[dict], reference_payoff: float | None, regime, method: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = "payoff" if reference_payoff is not None else "mean_payoff"
    x = [line["interactions"] for line in curve]
    ys = list(zip(*[line[key] for line in curve]))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, y in enumerate(ys):
        ax.plot(x, y, lw=1, alpha=0.7, label="seeds" if k == 0 else None, color="C0")
    if reference_payoff is not None:
        ax.axhline(reference_payoff, color="k", ls="--", lw=1, label=f"reference {reference_payoff:.4f}")
        ax.set_ylabel("learner payoff per round (exact)")
    else:
        ax.axhline(regime.game.b - regime.game.c, color="k", ls="--", lw=1, label="b - c")
        ax.set_ylabel("mean learner payoff per round (exact)")
    ax.set_xlabel("interactions per population")
    ax.set_title(f"{regime.name}: {method}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_table(result: dict) -> str:
    """A readable table of a ``run`` summary, one row per seed."""
    if "reference" in result:
        header = ["seed", "payoff", "% of ref", "adherence", "act sens", "sig sens", "collapsed", "to 95%", "to 99%"]
        keys = ["seed", "payoff", "percent_of_reference", "adherence", "action_sensitivity", "signal_sensitivity",
                "collapsed", "interactions_to_95", "interactions_to_99"]
        title = f"{result['regime']} / {result['method']}: reference {result['reference']['payoff']:.4f} per round"
    else:
        header = ["seed", "mean payoff", "cooperation", "NashConv"]
        keys = ["seed", "mean_payoff", "cooperation", "nashconv"]
        title = f"{result['regime']} / {result['method']}: b - c = {result['benefit_minus_cost']:g}"
    runs = result["runs"]
    body = table(header, [[run[k] for k in keys] for run in runs], digits=4)
    footer = f"{len(runs)} seeds, {runs[0]['interactions']} interactions each, {result['seconds']:.1f} s"
    return "\n".join([title, body, footer])

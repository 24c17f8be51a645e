"""Training runs under private assessment (``Game.assessment = "private"``; docs/model.md §6, "The learner
under private assessment", §10): method ``rg`` trains ``recigrad.learning.private_learner``.

``recigrad.running.train`` dispatches a private game here.  The loop is the public one's without
checkpoints (the private learner's state, its beliefs of the others' views, last observations, estimator counts and
Adam state, is not in the checkpoint format: ``resume`` is refused with one line, and a run folder
is written without a ``.partial`` checkpoint).  Evaluation reads everyone's true tables in the exact
chain of private views (``N <= 4``) or the private mean field with pairs (``4 < N <= 8``), the
``evaluation_model`` of the summary (``recigrad.evaluation.private_reference.payoff``); the reference
of a single learner is ``recigrad.evaluation.private_reference.reference`` (the best of a few candidates
scored in that model: a lower bound, so a learner may exceed 100%).  Fields of the public summary
that have no private counterpart here (adherence, sensitivities, collapse, table distance, share of
gain, NashConv) are ``null``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict

import torch

from recigrad.dynamics import private_meanfield
from recigrad.errors import ConfigError
from recigrad.evaluation import private_reference
from recigrad.game.regime import Regime
from recigrad.learning import private_learner
from recigrad.running import checkpoint
from recigrad.util.progress import progress_bar

EVALUATIONS = 10  # default evaluations per run: one exact chain of private views costs seconds (N = 4)
NULL_LEARNER_FIELDS = ("adherence", "action_sensitivity", "signal_sensitivity", "collapsed", "action_collapsed",
                       "signal_collapsed", "table_distance", "share_of_gain")


def check(regime: Regime, method: str, resume: bool = False) -> None:
    """Refuse (one line) what a private game cannot be trained with: a method other than ``rg``, ``resume``."""
    if method != "rg":
        raise ConfigError(f"method {method!r} does not train under private assessment (regime {regime.name}); "
                          "only rg does, as recigrad.learning.private_learner (docs/model.md §6)")
    if resume:
        raise checkpoint.CheckpointError(f"cannot resume: a run under private assessment (regime {regime.name}) keeps "
                                         "no checkpoint; run it again without --resume")


def evaluate(act: torch.Tensor, sig: torch.Tensor, regime: Regime) -> tuple[torch.Tensor, torch.Tensor]:
    """Every agent's payoff per round and realised C as donor, ``(B, N)`` each, with the true tables, in the
    model of ``private_reference.model_name``."""
    solution = private_reference.solve(act, sig, regime.game)
    return solution.payoff, solution.given


def reference(regime: Regime) -> private_reference.PrivateReference | None:
    """The single learner's reference against the others' true tables (``None`` for societies)."""
    learners = regime.population.learners
    if len(learners) != 1:
        return None
    act, sig = regime.population.batched_tables(1)
    agent = regime.population.agents[learners[0]]
    return private_reference.reference(act[0], sig[0], learners[0], str(agent.norm), regime.game)


def train_seeds(regime: Regime, seeds: list[int], method: str = "rg", iterations: int | None = None,
                eval_every: int | None = None, scalars=None, thresholds=(95.0, 99.0)):
    """The training loop of a private game (module docstring); returns a ``train.RunRecord``."""
    from recigrad.running.train import RunRecord, agent_groups, final_tables, json_floats, note_reached, population_dict

    check(regime, method)
    n = regime.population.n
    if n > private_meanfield.MAX_N:
        raise ConfigError(f"training under private assessment needs N <= {private_meanfield.MAX_N} (the private "
                          f"learner's model and its evaluation), got N = {n}")
    iterations = iterations or regime.train.iterations
    eval_every = eval_every or max(1, iterations // EVALUATIONS)
    learners = regime.population.learners
    others = [j for j in range(n) if j not in learners]
    model = private_reference.model_name(n)
    clock = time.perf_counter()
    ref = reference(regime)
    state = private_learner.start(regime, seeds)
    initial, _ = evaluate(*state.tables(), regime)
    curve: list[dict] = []
    reached = {t: [None] * len(seeds) for t in thresholds}
    reached_seconds = {t: [None] * len(seeds) for t in thresholds}
    step_seconds: list[float] = []
    board = scalars.for_run(regime.name, method, seeds) if scalars is not None else None
    last = None
    with progress_bar(iterations, f"{regime.name} {method}", "it") as bar:
        for iteration in range(1, iterations + 1):
            started = time.perf_counter()
            private_learner.step(state)
            step_seconds.append(time.perf_counter() - started)
            if not (iteration % eval_every and iteration != iterations):
                payoff, given = evaluate(*state.tables(), regime)
                last = payoff
                line = {"iteration": iteration, "interactions": state.interactions,
                        "seconds": time.perf_counter() - clock}
                if ref is not None:
                    own = payoff[:, learners[0]]
                    percent = private_reference.percent_of_reference(own, ref.payoff, regime.game.c)
                    line.update(payoff=json_floats(own), reference=[ref.payoff] * len(seeds),
                                percent_of_reference=json_floats(percent))
                    note_reached(line["percent_of_reference"], state.interactions, line["seconds"], reached,
                                 reached_seconds, thresholds)
                    bar.set_postfix_str(f"{percent.mean():.2f}% of reference")
                else:
                    line.update(mean_payoff=json_floats(payoff[:, learners].mean(1)),
                                cooperation=json_floats(given.mean(1)), nashconv=[None] * len(seeds))
                curve.append(line)
                if board is not None:
                    board.on_evaluation(line)
            bar.update(1)
    seconds = time.perf_counter() - clock
    final = curve[-1]

    def mean(solution, agents):
        return solution[:, agents].mean(1).tolist() if agents else [None] * len(seeds)

    def change(agents):
        return (last[:, agents].mean(1) - initial[:, agents].mean(1)).tolist() if agents else [None] * len(seeds)

    runs = []
    for k, seed in enumerate(seeds):
        entry = {"seed": seed, "interactions": state.interactions, "seconds": seconds}
        if ref is not None:
            for key in ("payoff", "reference", "percent_of_reference"):
                entry[key] = final[key][k]
            entry.update({key: None for key in NULL_LEARNER_FIELDS})
            for threshold in thresholds:
                entry[f"interactions_to_{threshold:g}"] = reached[threshold][k]
                entry[f"seconds_to_{threshold:g}"] = reached_seconds[threshold][k]
            entry["payoff_change"] = change(learners)[k]
        else:
            entry.update(mean_payoff=final["mean_payoff"][k], cooperation=final["cooperation"][k], nashconv=None)
            entry["mean_payoff_change"] = change(learners)[k]
        entry["others_payoff"] = mean(last, others)[k]
        entry["others_payoff_change"] = change(others)[k]
        runs.append(entry)
    result = {"regime": regime.name, "method": method, "runs": runs, "seconds": seconds,
              "game": asdict(regime.game), "population": population_dict(regime.population),
              "agents": agent_groups(regime), "assessment": "private", "evaluation_model": model,
              "effects_model": model, "baseline_settings": None,
              "seconds_per_iteration": statistics.median(step_seconds) if step_seconds else None}
    if ref is not None:
        result["reference"] = {"payoff": ref.payoff, "act": ref.act.tolist(), "sig": ref.sig.tolist(),
                               "model": ref.model, "candidates": ref.candidates, "lower_bound": True}
    else:
        result["benefit_minus_cost"] = regime.game.b - regime.game.c
    return RunRecord(result, curve, final_tables(state, regime, seeds))

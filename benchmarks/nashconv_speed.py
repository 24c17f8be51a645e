"""NashConv of a society: every learner's best response in one batch against one after another.

The society of the scaling study (``society-L6`` scaled to N agents, every agent a learner,
``recigrad.game.scaling``), 3 seeds, trained by the reciprocity gradient for a few iterations
so that the learners' tables differ.  For N = 8 and 32 it times, in one run:

- a training step (``rg``'s ``step``, 3 seeds, ``N/2 x 100`` interactions per iteration);
- NashConv as the driver computes it now (``best_response_gap``: the learners' problems in one
  batch, learners with equal tables sharing one problem), mean-field model;
- the same batch with every candidate solved as a whole population (``Evaluator.__call__``, the
  computation before ``Evaluator.prepared`` took the others' part out once per problem);
- NashConv one learner after another (the computation before the batch: ``best_response`` and
  ``payoff_of`` per learner), mean-field model;

and prints the medians over repeats (wall and CPU seconds: on a shared machine the CPU time is
the cost), the ratio one-by-one / batched, NashConv in training steps (before and now),
and the largest differences of the other two NashConv values from the batched one (same numbers up to rounding).

    python benchmarks/nashconv_speed.py [--quick] [--repeats K] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import time

import torch

from recigrad.evaluation.best_response import best_response, best_response_gap
from recigrad.evaluation.candidates import Evaluator, payoff_of
from recigrad.game.regime import load_regime
from recigrad.game.scaling import scaled_regime
from recigrad.learning import contract
from recigrad.util.threads import one_thread

SEEDS = [0, 1, 2]
WARM = 10  # training iterations before timing: the learners' tables differ


def one_by_one(act, sig, learners, game):
    """NashConv as computed before the batch: a best response per learner, one after another."""
    current = torch.stack([payoff_of(act, sig, j, act[:, j, None], sig[:, j, None], game, "meanfield")[:, 0]
                           for j in learners], dim=1)
    best = torch.stack([best_response(act, sig, j, game, "meanfield").payoff for j in learners], dim=1)
    return (torch.maximum(best, current) - current).sum(dim=1)


@contextlib.contextmanager
def whole_population():
    """Every candidate solved as a whole population (``Evaluator.__call__``), as before ``Evaluator.prepared``."""
    prepared = Evaluator.prepared
    Evaluator.prepared = lambda self, act, sig, learner, game: (
        lambda rows, own_act, own_sig: self(act[rows], sig[rows], learner, own_act, own_sig, game))
    try:
        yield
    finally:
        Evaluator.prepared = prepared


def timed(fn, repeats):
    """Median wall and CPU seconds (one thread: CPU time is what the work costs on a shared machine)."""
    wall, cpu, value = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        value = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (statistics.median(wall), statistics.median(cpu)), value


def measure(n: int, repeats: int) -> dict:
    regime = scaled_regime(load_regime("society-L6"), n)
    module = contract.method("rg")
    state = module.start(regime, SEEDS)
    for _ in range(WARM):
        module.step(state)
    step, _ = timed(lambda: module.step(state), max(5, repeats))
    act, sig = (t.detach().clone() for t in state.tables())
    learners = regime.population.learners
    batched, value = timed(lambda: best_response_gap(act, sig, regime.game, learners, model="meanfield")[0], repeats)
    with whole_population():
        before, earlier = timed(lambda: best_response_gap(act, sig, regime.game, learners, model="meanfield")[0], repeats)
    with one_thread():
        single, reference = timed(lambda: one_by_one(act, sig, learners, regime.game), repeats)
    row = {"n": n, "seeds": len(SEEDS), "interactions_per_step": regime.train.interactions}
    for k, clock in enumerate(("wall", "cpu")):
        row.update({f"step_{clock}_s": step[k], f"batched_{clock}_s": batched[k], f"one_by_one_{clock}_s": single[k],
                    f"before_{clock}_s": before[k], f"before_in_steps_{clock}": before[k] / step[k],
                    f"speedup_{clock}": single[k] / batched[k], f"batched_in_steps_{clock}": batched[k] / step[k],
                    f"one_by_one_in_steps_{clock}": single[k] / step[k]})
    return {**row, "max_abs_difference": float((value - reference).abs().max()),
            "max_abs_difference_before": float((value - earlier).abs().max()), "nashconv": value.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 8 only, one repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each NashConv (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes, repeats = ((8,), 1) if args.quick else ((8, 32), args.repeats)
    rows = [measure(n, repeats) for n in sizes]
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "rows": rows}, indent=1))
        return
    print(f"NashConv of society-L6 scaled to N, {len(SEEDS)} seeds, mean-field model; medians of {repeats} repeats")
    print(f"{'N':>4} {'clock':>5} {'step s':>8} {'batched s':>10} {'one-by-one s':>13} {'ratio':>6} {'batched/step':>13} "
          f"{'one-by-one/step':>16} {'max |diff|':>11} {'before s':>9} {'before/step':>12} {'|diff| before':>14}")
    for r in rows:
        for clock in ("wall", "cpu"):
            print(f"{r['n']:>4} {clock:>5} {r[f'step_{clock}_s']:>8.3f} {r[f'batched_{clock}_s']:>10.2f} "
                  f"{r[f'one_by_one_{clock}_s']:>13.2f} {r[f'speedup_{clock}']:>6.1f} {r[f'batched_in_steps_{clock}']:>13.1f} "
                  f"{r[f'one_by_one_in_steps_{clock}']:>16.1f} {r['max_abs_difference']:>11.1e} "
                  f"{r[f'before_{clock}_s']:>9.2f} {r[f'before_in_steps_{clock}']:>12.1f} {r['max_abs_difference_before']:>14.1e}")


if __name__ == "__main__":
    main()

"""NashConv of a society: the screened solve (the default) against the full batched solve.

The society of the scaling study (``society-L6`` scaled to N agents, every agent a learner,
``recigrad.game.scaling``), trained by the reciprocity gradient for a few iterations so that
the learners' tables differ (all distinct).  For N = 8 and 32 (3 seeds, 10 iterations) and
N = 1024 (1 seed, 2 iterations, as ``recigrad train --pop learner:L6:1024 --iterations 2``)
it times, in one run:

- a training step (``rg``'s ``step``);
- NashConv as the driver computes it now (``best_response_gap``, mean-field model: the screened
  solve, ``recigrad.evaluation.screening``);
- NashConv by the full batched solve (``screen=False``: ``best_responses``, every candidate
  solved as an ``N``-agent fixed point; the default before the screen), for every learner at
  N = 8 and 32, for ``--full-learners`` learners at N = 1024 (its cost grows with the learners;
  the time for all of them is extrapolated, ``full_all_cpu_s``);

and prints the medians over repeats (wall and CPU seconds: on a shared machine the CPU time is
the cost), NashConv in training steps, the screened solve's speed-up, and the largest difference
of a learner's best payoff between the two solves (the same tables found: equal up to rounding).

    python benchmarks/nashconv_speed.py [--quick] [--repeats K] [--full-learners L] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from recigrad.evaluation import screening
from recigrad.evaluation.best_response import best_response_gap
from recigrad.game.regime import load_regime
from recigrad.game.scaling import scaled_regime
from recigrad.learning import contract

SIZES = {8: ([0, 1, 2], 10), 32: ([0, 1, 2], 10), 1024: ([0], 2)}  # N: (seeds, training iterations)


def timed(fn, repeats):
    """Median wall and CPU seconds (one thread: CPU time is what the work costs on a shared machine)."""
    wall, cpu, value = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        value = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (statistics.median(wall), statistics.median(cpu)), value


def measure(n: int, repeats: int, full_learners: int) -> dict:
    seeds, iterations = SIZES[n]
    regime = scaled_regime(load_regime("society-L6"), n)
    module = contract.method("rg")
    state = module.start(regime, seeds)
    for _ in range(iterations - 1):
        module.step(state)
    step, _ = timed(lambda: module.step(state), 1 if n > 100 else max(5, repeats))  # the last iteration, timed
    act, sig = (t.detach().clone() for t in state.tables())
    learners = regime.population.learners
    game = regime.game
    work = {}

    def screened():
        original = screening.screened_best

        def counted(*args, **kwargs):
            payoff, counts = original(*args, **kwargs)
            work.update(counts)
            return payoff, counts

        screening.screened_best = counted
        try:
            return best_response_gap(act, sig, game, learners, model="meanfield")
        finally:
            screening.screened_best = original

    now, (nashconv, best, _) = timed(screened, repeats)
    some = learners if n <= 100 else learners[:: max(1, len(learners) // full_learners)][:full_learners]
    full, (_, full_best, _) = timed(lambda: best_response_gap(act, sig, game, some, model="meanfield", screen=False),
                                    1 if n > 100 else repeats)
    index = torch.tensor([learners.index(j) for j in some])
    row = {"n": n, "seeds": len(seeds), "iterations": iterations, "distinct_tables": len({
        (a.numpy().tobytes(), s.numpy().tobytes()) for a, s in zip(act[0], sig[0])}),
        "full_learners": len(some), "work": work, "nashconv": nashconv.tolist(),
        "max_abs_difference": float((best[:, index] - full_best).abs().max())}
    for k, clock in enumerate(("wall", "cpu")):
        full_all = full[k] * len(learners) / len(some)
        row.update({f"step_{clock}_s": step[k], f"screened_{clock}_s": now[k], f"full_{clock}_s": full[k],
                    f"full_all_{clock}_s": full_all, f"screened_in_steps_{clock}": now[k] / step[k],
                    f"full_in_steps_{clock}": full_all / step[k], f"speedup_{clock}": full_all / now[k]})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 8 only, one repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each NashConv (median)")
    parser.add_argument("--full-learners", type=int, default=4, help="learners the full solve answers at N = 1024")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes, repeats = ((8,), 1) if args.quick else ((8, 32, 1024), args.repeats)
    rows = [measure(n, repeats, args.full_learners) for n in sizes]
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "rows": rows}, indent=1))
        return
    print(f"NashConv of society-L6 scaled to N, mean-field model; medians of {repeats} repeats "
          "(N = 1024: the full solve on a few learners, its time for all of them extrapolated)")
    print(f"{'N':>5} {'clock':>5} {'step s':>8} {'screened s':>11} {'screened/step':>14} {'full s (all)':>13} "
          f"{'full/step':>10} {'speed-up':>9} {'max |diff|':>11} {'exact evals':>12} {'to full':>8}")
    for r in rows:
        for clock in ("wall", "cpu"):
            print(f"{r['n']:>5} {clock:>5} {r[f'step_{clock}_s']:>8.3f} {r[f'screened_{clock}_s']:>11.2f} "
                  f"{r[f'screened_in_steps_{clock}']:>14.1f} {r[f'full_all_{clock}_s']:>13.1f} "
                  f"{r[f'full_in_steps_{clock}']:>10.1f} {r[f'speedup_{clock}']:>9.1f} {r['max_abs_difference']:>11.1e} "
                  f"{r['work'].get('exact', 0):>12} {r['work'].get('full', 0):>8}")


if __name__ == "__main__":
    main()

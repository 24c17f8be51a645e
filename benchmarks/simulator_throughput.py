"""Throughput of the batched simulator (``recigrad.dynamics.world.play``: numpy streams and
a compiled loop, torch tensors in and out) against the plain-Python one
(``recigrad.dynamics.plain.play_plain``), and against bounds measured in the same run on
the same batch:

- ``uniforms``: generating the three uniforms per interaction alone
  (``Streams.uniform(steps, 3)``, one generator per population), the random-number bound;
- ``copy``: one copy of those uniforms (read and write 48 bytes per interaction), the memory bound;
- ``torch loop``: a bare per-step loop of one gather and one scatter on ``(B, N)``
  torch tensors: the most a simulator stepping in torch could reach.

- ``k=5 maj``: the world under another formation of reputations (``FORMED``: five
  observers, majority), which reads ``3 + 3k = 18`` uniforms per interaction
  (``recigrad.dynamics.kernel``), beside ``uniforms k=5``, generating those alone.

``% rng`` is the simulator's rate as a fraction of the uniforms' rate, ``% rng+mem``
as a fraction of the rate of uniforms and copy together (time added).  Population:
N = 8 discriminators with stern-judging signals, observable tables.  Rates are
interactions per second (all populations of the batch together), medians over
repeats; the measurements of one repeat are interleaved, so that load from
other processes falls on all of them alike.

    python benchmarks/simulator_throughput.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch

from recigrad.dynamics import kernel, world
from recigrad.dynamics.plain import play_plain
from recigrad.dynamics.streams import Streams
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop

N = 8
POPULATION = f"disc:stern-judging:{N}"
# batch -> interactions per population; repeats
PLAN = {1: 262_144, 64: 16_384, 1024: 2048, 16384: 512}
QUICK = {1: 32_768, 64: 4096, 1024: 1024, 16384: 512}
REPEATS, QUICK_REPEATS = 7, 3
PLAIN_STEPS, PLAIN_QUICK_STEPS = 200_000, 50_000
FORMED = Game(observers=5, aggregation="majority")  # the formed-reputation path measured beside the default
TORCH_LOOP_STEPS = 2048  # the bare torch loop is slow at small batch: fewer steps suffice


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_batch(batch: int, steps: int, repeats: int, game: Game) -> dict:
    act, sig = parse_pop([POPULATION]).batched_tables(batch)
    pc, so = observable(act, sig, game)
    streams = Streams(range(batch), "world")
    x = world.initial_reputation(batch, N)

    def simulator():
        world.play(pc, so, x, streams, steps)

    formed_streams = Streams(range(batch), "world")

    def formed():
        world.play(pc, so, x, formed_streams, steps, game=FORMED)

    width = kernel.formed_uniforms(FORMED.observers)
    formed_bound = Streams(range(batch), "bound")

    def formed_uniforms():
        done = 0
        while done < steps:
            chunk = min(world.CHUNK, steps - done)
            formed_bound.uniform_numpy(chunk, width)
            done += chunk

    bound_streams = Streams(range(batch), "bound")

    def uniforms():
        done = 0
        while done < steps:
            chunk = min(world.CHUNK, steps - done)
            bound_streams.uniform(chunk, 3)
            done += chunk

    chunk = min(world.CHUNK, steps)
    source = np.random.default_rng(0).random((batch, chunk, 3))
    target = np.empty_like(source)

    def copy():
        for _ in range(steps // chunk):
            np.copyto(target, source)

    loop_steps = min(steps, TORCH_LOOP_STEPS)
    generator = torch.Generator().manual_seed(0)
    take = torch.randint(0, N, (loop_steps, batch, 1), generator=generator)
    put = torch.randint(0, N, (loop_steps, batch, 1), generator=generator)
    state = torch.ones(batch, N, dtype=torch.int64)

    def torch_loop():
        for t in range(loop_steps):
            state.scatter_(1, put[t], state.gather(1, take[t]))

    runs = {"world": (simulator, steps), "uniforms": (uniforms, steps), "copy": (copy, steps)}
    runs["torch_loop"] = (torch_loop, loop_steps)
    runs["world_k5_majority"] = (formed, steps)
    runs["uniforms_k5"] = (formed_uniforms, steps)
    for run, _ in runs.values():  # warm-up (compilation, allocations)
        run()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (run, work) in runs.items():
            rates[name].append(batch * work / timed(run))
    med = {name: statistics.median(values) for name, values in rates.items()}
    rng_mem = 1.0 / (1.0 / med["uniforms"] + 1.0 / med["copy"])
    return {
        "batch": batch,
        "interactions_per_population": steps,
        "repeats": repeats,
        **med,
        "world_over_uniforms": med["world"] / med["uniforms"],
        "world_over_uniforms_and_copy": med["world"] / rng_mem,
        "world_over_torch_loop": med["world"] / med["torch_loop"],
        "k5_majority_over_world": med["world_k5_majority"] / med["world"],
        "k5_majority_over_uniforms": med["world_k5_majority"] / med["uniforms_k5"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~20 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (torch and numba); default: leave as configured")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        try:
            import numba

            numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
        except ImportError:  # pragma: no cover
            pass
    plan = QUICK if args.quick else PLAN
    repeats = QUICK_REPEATS if args.quick else REPEATS
    plain_steps = PLAIN_QUICK_STEPS if args.quick else PLAIN_STEPS
    game = Game()

    act, sig = parse_pop([POPULATION]).tables()
    act_list, sig_list = act.tolist(), sig.tolist()
    plain_times = [timed(lambda: play_plain(act_list, sig_list, game, plain_steps, seed=0)) for _ in range(repeats)]
    plain = plain_steps / statistics.median(plain_times)
    rows = []
    for batch, steps in plan.items():
        row = bench_batch(batch, steps, repeats, game)
        row["plain"] = plain
        row["world_over_plain"] = row["world"] / plain
        rows.append(row)

    try:
        import numba

        numba_threads = numba.get_num_threads()
    except ImportError:  # pragma: no cover
        numba_threads = None
    meta = {
        "population": POPULATION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba_threads,
        "plain_interactions": plain_steps,
        "repeats": repeats,
    }
    if args.json:
        print(json.dumps({"meta": meta, "plain": plain, "rows": rows}))
        return
    print(
        f"{POPULATION}; interactions/s, median of {repeats} repeats; "
        f"torch {torch.__version__} ({meta['torch_threads']} threads), numba threads {numba_threads}"
    )
    print(f"plain Python (play_plain): {plain:,.0f} interactions/s")
    print(
        f"{'batch':>6} {'steps':>7} {'world.play':>12} {'/plain':>7} {'uniforms':>12} {'copy':>13} "
        f"{'torch loop':>11} {'% rng':>6} {'% rng+mem':>9} {'/torch loop':>11} {'k=5 maj':>12} {'uniforms k=5':>12} {'% rng':>6}"
    )
    for r in rows:
        print(
            f"{r['batch']:>6} {r['interactions_per_population']:>7} {r['world']:>12,.0f} {r['world_over_plain']:>7.1f} "
            f"{r['uniforms']:>12,.0f} {r['copy']:>13,.0f} {r['torch_loop']:>11,.0f} "
            f"{100 * r['world_over_uniforms']:>6.0f} {100 * r['world_over_uniforms_and_copy']:>9.0f} "
            f"{r['world_over_torch_loop']:>11.1f} {r['world_k5_majority']:>12,.0f} {r['uniforms_k5']:>12,.0f} "
            f"{100 * r['k5_majority_over_uniforms']:>6.0f}"
        )


if __name__ == "__main__":
    main()

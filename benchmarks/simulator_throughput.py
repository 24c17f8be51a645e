"""Throughput of the batched torch simulator (``recigrad.world.play``) against the
plain-Python one (``recigrad.plain.play_plain``), and against two bounds measured
in the same run on the same batch:

- ``uniforms``: generating the three uniforms per interaction alone
  (``Streams.uniform``, one generator per population, in chunks of ``world.CHUNK``);
- ``bare loop``: a per-step Python loop of one gather and one scatter on ``(B, N)``
  tensors, the least a sequential step can cost in torch on this machine.

``sim / bound`` is the simulator's rate as a fraction of a bound's rate;
``sim / both`` uses the time of both bounds together (uniforms + bare loop).
Population: N = 8 discriminators with stern-judging signals, observable tables.
Rates are interactions per second (all populations of the batch together), the
median of several repeats.

    python benchmarks/simulator_throughput.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from recigrad import world
from recigrad.game import Game, observable
from recigrad.plain import play_plain
from recigrad.population import parse_pop
from recigrad.streams import Streams

N = 8
# batch -> (interactions per population, repeats); full and --quick
PLAN = {1: (4096, 5), 64: (4096, 5), 1024: (2048, 5), 16384: (512, 5)}
QUICK = {1: (1024, 3), 64: (1024, 3), 1024: (512, 3), 16384: (512, 1)}
PLAIN = (200_000, 5)
PLAIN_QUICK = (50_000, 3)


def median_rate(run, work: int, repeats: int) -> float:
    """Median of ``work / seconds`` over ``repeats`` calls of ``run`` (after one untimed warm-up call)."""
    run()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(work / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_batch(batch: int, steps: int, repeats: int, game: Game) -> dict:
    act, sig = parse_pop([f"disc:stern-judging:{N}"]).batched_tables(batch)
    pc, so = observable(act, sig, game)
    work = batch * steps
    streams = Streams(range(batch), "world")
    x = world.initial_reputation(batch, N)
    sim = median_rate(lambda: world.play(pc, so, x, streams, steps), work, repeats)

    bound_streams = Streams(range(batch), "bound")

    def uniforms():
        done = 0
        while done < steps:
            chunk = min(world.CHUNK, steps - done)
            bound_streams.uniform(chunk, 3)
            done += chunk

    unif = median_rate(uniforms, work, repeats)

    generator = torch.Generator().manual_seed(0)
    source = torch.randint(0, N, (steps, batch, 1), generator=generator)
    target = torch.randint(0, N, (steps, batch, 1), generator=generator)
    state = torch.ones(batch, N, dtype=torch.int64)

    def bare_loop():
        for t in range(steps):
            state.scatter_(1, target[t], state.gather(1, source[t]))

    loop = median_rate(bare_loop, work, repeats)
    both = 1.0 / (1.0 / unif + 1.0 / loop)
    return {
        "batch": batch,
        "interactions_per_population": steps,
        "repeats": repeats,
        "torch": sim,
        "uniforms": unif,
        "bare_loop": loop,
        "sim_over_uniforms": sim / unif,
        "sim_over_bare_loop": sim / loop,
        "sim_over_both": sim / both,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~20 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    plan = QUICK if args.quick else PLAN
    plain_steps, plain_repeats = PLAIN_QUICK if args.quick else PLAIN
    game = Game()

    act, sig = parse_pop([f"disc:stern-judging:{N}"]).tables()
    act_list, sig_list = act.tolist(), sig.tolist()
    plain = median_rate(lambda: play_plain(act_list, sig_list, game, plain_steps, seed=0), plain_steps, plain_repeats)
    rows = []
    for batch, (steps, repeats) in plan.items():
        row = bench_batch(batch, steps, repeats, game)
        row["plain"] = plain
        row["torch_over_plain"] = row["torch"] / plain
        rows.append(row)

    if args.json:
        meta = {
            "n": N,
            "population": f"disc:stern-judging:{N}",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "plain_interactions": plain_steps,
            "plain_repeats": plain_repeats,
        }
        print(json.dumps({"meta": meta, "plain": plain, "rows": rows}))
        return
    print(
        f"N = {N}, disc + stern-judging; interactions/s, median of repeats; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"plain Python: {plain:,.0f} interactions/s")
    header = (
        f"{'batch':>6} {'steps':>6} {'torch':>12} {'torch/plain':>11} {'uniforms':>12} "
        f"{'bare loop':>12} {'sim/unif':>8} {'sim/loop':>8} {'sim/both':>8}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['batch']:>6} {r['interactions_per_population']:>6} {r['torch']:>12,.0f} "
            f"{r['torch_over_plain']:>11.2f} {r['uniforms']:>12,.0f} {r['bare_loop']:>12,.0f} "
            f"{r['sim_over_uniforms']:>8.3f} {r['sim_over_bare_loop']:>8.3f} {r['sim_over_both']:>8.3f}"
        )


if __name__ == "__main__":
    main()

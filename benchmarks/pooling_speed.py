"""What the estimators cost per learner iteration as the population grows (docs/model.md §5,
"Pooling in O(N): leader groups").

For N = 64, 512, 1024, 10000: one population of a learner (random tables), 2/3 disc and 1/3
alld (stern judging; the scaling study's hybrid-alld), played by the world for 200 N
interactions to fill the estimator; then the median seconds of ``estimators.update`` with one
iteration's records and of ``estimators.estimate``, over several calls on the same state, and
their ratio to N = 64.  Two iteration sizes: the shipped regimes' 400 interactions, and the
scaling study's 50 N (100 learner decisions per iteration at every N).  Torch on ``--threads``
threads (default 2; on a machine whose cores are busy with other work, ``--threads 1 --cpu``
measures the work itself, in CPU seconds: a second thread then waits for a core on every
operation, and wall seconds count the time other processes hold the core).

Before leader groups (pairwise pooling, main at bd0aa39, 1 seed, 400 interactions, from the
issue): ``estimate`` 0.0016 s at N = 64, 0.08 s at 512, 0.61 s at 1024 (2 GB); ``update``
0.0027, 0.0069 and 0.010 s.

Usage: .venv/bin/python benchmarks/pooling_speed.py [--repeats 7] [--ns 64,512,1024,10000] [--threads 2] [--cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("RECIGRAD_PROGRESS", "0")

import torch  # noqa: E402

from recigrad.dynamics.streams import Streams  # noqa: E402
from recigrad.dynamics.world import initial_reputation, play  # noqa: E402
from recigrad.game import Game, observable  # noqa: E402
from recigrad.game.population import parse_pop  # noqa: E402
from recigrad.learning import estimators  # noqa: E402


def median_seconds(fn, repeats: int, clock=time.perf_counter) -> float:
    times = []
    fn()
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def measure(n: int, repeats: int, clock) -> dict:
    alld = (n - 1) // 3
    pop = parse_pop(["learner:random:1", f"disc:stern-judging:{n - 1 - alld}", f"alld:stern-judging:{alld}"])
    pc, so = observable(*pop.batched_tables(1), Game())
    streams, reputation = Streams([0]), initial_reputation(1, n)
    reputation, _, history = play(pc, so, reputation, streams, 200 * n, record=True)
    state = estimators.update(estimators.init_state(1, n), history)
    row = {"n": n}
    for name, size in (("400", 400), ("50N", 50 * n)):
        reputation, _, records = play(pc, so, reputation, streams, size, record=True)
        row[f"update_{name}"] = median_seconds(lambda records=records: estimators.update(state, records), repeats, clock)
    row["estimate"] = median_seconds(lambda: estimators.estimate(state), repeats, clock)
    pooling = getattr(estimators, "pooling", None)  # None: code from before leader groups (pairwise pooling)
    counts = [getattr(state, f"sig_{stat}").reshape(1, n, -1) for stat in ("n", "k", "sq")]
    row["groups"] = -1 if pooling is None else int(pooling.leader_groups(*counts, 12.0).max()) + 1
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ns", default="64,512,1024,10000")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cpu", action="store_true", help="CPU seconds of this process instead of wall seconds")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.cpu else time.perf_counter
    print(f"median {'CPU' if args.cpu else 'wall'} seconds, {args.threads} thread(s)")
    rows = [measure(int(n), args.repeats, clock) for n in args.ns.split(",")]
    base = rows[0]
    columns = ("update_400", "update_50N", "estimate")
    print(f"{'N':>6} {'groups':>6} " + " ".join(f"{c + ' s':>13} {'x':>7}" for c in columns) + f" {'update_400+estimate s':>22}")
    for row in rows:
        cells = " ".join(f"{row[c]:13.5f} {row[c] / base[c]:7.1f}" for c in columns)
        print(f"{row['n']:6d} {row['groups']:6d} {cells} {row['update_400'] + row['estimate']:22.5f}")


if __name__ == "__main__":
    main()

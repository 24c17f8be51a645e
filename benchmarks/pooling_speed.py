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

Measured 2026-11-26 on the 2-core development machine while other jobs kept it at a load of
about 14 (so ``--threads 1 --cpu``: median CPU seconds of 9 calls), pairwise pooling (main at
bd0aa39, ``PYTHONPATH=/work/main/src``) against leader groups (this code):

| N | update, 400 records: before / after | update, 50 N records | estimate: before / after |
| --- | --- | --- | --- |
| 64 | 0.0030 / 0.0027 | 0.0036 / 0.0036 | 0.0016 / 0.0018 |
| 512 | 0.0096 / 0.0032 | 0.018 / 0.014 | 0.17 / 0.0038 |
| 1024 | 0.017 / 0.0037 | 0.022 / 0.017 | 1.17 / 0.0065 |
| 10000 | 0.21 / 0.0064 | - / 0.19 | (pairwise: about 6 GB per N x N x C tensor, not run) / 0.036 |

The update's change tests now run only where records came (O(records + touched contexts)
plus copying the state); ``estimate`` is O(N G C) with G = 2 groups here.  At N = 8 (the
shipped regimes, 5 seeds in a batch) a whole ``rg`` step went from 7.3-7.9 ms to 7.8 ms
(``estimate`` 0.95 -> 1.6 ms: leader rounds cost a few more operations at small N).

Learner results are unchanged: ``recigrad bench --methods rg --seeds 5`` on the 17
single-learner regimes, final percent of reference per seed (0-4), before / after:

| regime | before | after | largest difference |
| --- | --- | --- | --- |
| degenerate-allc | 99.986 99.989 99.985 99.986 99.990 | the same | 0.0000 |
| degenerate-alld | 99.931 99.941 99.925 99.937 99.949 | the same | 0.0000 |
| discriminative-sj | 99.944 99.899 99.941 99.904 99.918 | the same | 0.0000 |
| discriminative-ss | 99.950 99.908 99.948 99.919 99.922 | the same | 0.0000 |
| discriminative-sh | 99.842 99.871 99.808 99.872 99.869 | the same | 0.0001 |
| discriminative-is | 99.922 99.946 99.938 99.949 99.915 | the same | 0.0000 |
| hybrid-alld | 99.939 99.897 99.934 99.909 99.926 | 99.939 99.897 99.934 99.910 99.926 | 0.0005 |
| hybrid-allc | 99.970 99.949 99.968 99.953 99.962 | 99.969 99.949 99.968 99.953 99.962 | 0.0008 |
| hybrid-standing | 99.936 99.899 99.936 99.912 99.922 | the same | 0.0003 |
| leading-eight-L1 | 99.950 99.914 99.953 99.921 99.924 | the same | 0.0000 |
| leading-eight-L2 | 99.946 99.912 99.951 99.918 99.923 | the same | 0.0002 |
| leading-eight-L3 | 99.950 99.908 99.948 99.919 99.922 | the same | 0.0000 |
| leading-eight-L4 | 99.949 99.901 99.944 99.910 99.919 | the same | 0.0003 |
| leading-eight-L5 | 99.945 99.906 99.945 99.914 99.920 | the same | 0.0000 |
| leading-eight-L6 | 99.944 99.899 99.941 99.904 99.918 | the same | 0.0000 |
| leading-eight-L7 | 99.934 99.888 99.935 99.884 99.902 | the same | 0.0001 |
| leading-eight-L8 | 99.924 99.886 99.930 99.871 99.900 | the same | 0.0008 |

("the same" to the 3 decimals shown; 39 of the 85 runs identical to the last digit, the
largest difference 0.0008 points.)

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

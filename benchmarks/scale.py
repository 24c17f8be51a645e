"""What one training iteration of the reciprocity gradient costs as the population grows.

For a single learner among ``N - 1`` fixed discriminators (stern judging) at
N = 8, 64, 512, 1024, 10000, and for a society where every agent learns at
N = 8, 64, 256, 1024: seconds per training iteration (``reciprocity_gradient.step``:
play 400 interactions, update the estimators, estimate, model, ascend; the median
of several iterations after two warm-up ones, which compile the numba loops) and the
peak memory, each also as a ratio to N = 8 measured in the same run.  One seed, the
library's thread count (``RECIGRAD_THREADS``, default 1, as the command line).

Every point runs in a fresh subprocess, so its peak memory is its own: on the CPU the
peak resident set of that process (``resource.getrusage(...).ru_maxrss``; it includes
Python, torch and numba, about 400 MB before any work), on CUDA the peak of
``torch.cuda.max_memory_allocated`` (tensors only).  ``--device cuda`` passes the
device to ``reciprocity_gradient.start`` where it takes one; otherwise the run stays
on the CPU and says so.  A point that does not finish within ``--timeout`` seconds is
reported as such and the run goes on, and on the CPU a point's data segment is
limited to ``--max-memory`` (default 8G; ``RLIMIT_DATA``), so that a model that does
not scale fails with an allocation error instead of exhausting the machine.

Usage: .venv/bin/python benchmarks/scale.py [--quick] [--device cpu|cuda] [--no-pool] [--json OUT]
       [--repeats K] [--timeout SECONDS] [--max-memory 8G]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("RECIGRAD_PROGRESS", "0")

SINGLE = [8, 64, 512, 1024, 10_000]
SOCIETY = [8, 64, 256, 1024]
QUICK_SINGLE = [8, 64, 512]
QUICK_SOCIETY = [8, 64]
INTERACTIONS = 400
WARMUP = 2


def _specs(kind: str, n: int) -> list[str]:
    if kind == "single":
        return ["learner:stern-judging:1", f"disc:stern-judging:{n - 1}"]
    return [f"learner:stern-judging:{n}"]


def measure(kind: str, n: int, repeats: int, device: str, pool: bool) -> dict:
    """One point, in this process: seconds per iteration (median) and peak memory."""
    import torch

    from recigrad.game import Game
    from recigrad.game.population import parse_pop
    from recigrad.game.regime import Regime, TrainConfig
    from recigrad.learning import estimators
    from recigrad.learning import reciprocity_gradient as learner
    from recigrad.util.threads import configured

    regime = Regime(f"{kind}-{n}", "", Game(), parse_pop(_specs(kind, n)), TrainConfig(interactions=INTERACTIONS))
    config = estimators.EstimatorConfig(pool=pool)
    takes_device = "device" in inspect.signature(learner.start).parameters
    used = device if takes_device else "cpu"
    cuda = used.startswith("cuda")
    with configured():
        state = learner.start(regime, [0], config, device=used) if takes_device else learner.start(regime, [0], config)
        times = []
        for k in range(WARMUP + repeats):
            if cuda:
                torch.cuda.synchronize()
            started = time.perf_counter()
            learner.step(state)
            if cuda:
                torch.cuda.synchronize()
            if k >= WARMUP:
                times.append(time.perf_counter() - started)
        threads = torch.get_num_threads()
    if cuda:
        peak, how = torch.cuda.max_memory_allocated(), "torch.cuda.max_memory_allocated"
    else:
        peak, how = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss"  # kB on Linux
    return {"kind": kind, "n": n, "learners": len(regime.population.learners), "seconds_per_iteration": statistics.median(times),
            "iterations": repeats, "peak_bytes": peak, "memory": how, "device": used, "threads": threads, "pool": pool}


def _point(kind: str, n: int, repeats: int, device: str, pool: bool, timeout: float, max_memory: str) -> dict:
    """``measure`` in a fresh subprocess (its own peak memory); a timeout or failure is reported, not raised."""
    command = [sys.executable, __file__, "--point", kind, str(n), "--repeats", str(repeats), "--device", device,
               "--max-memory", max_memory]
    if not pool:
        command.append("--no-pool")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "n": n, "error": f"timeout after {timeout:g} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"kind": kind, "n": n, "error": f"exit {done.returncode}: {last[:200]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _with_ratios(rows: list[dict]) -> list[dict]:
    """Each row's time and memory as a ratio to the same kind's N = 8 row of this run."""
    base = {r["kind"]: r for r in rows if r["n"] == 8 and "error" not in r}
    for r in rows:
        b = base.get(r["kind"])
        if b is None or "error" in r:
            continue
        r["time_ratio"] = r["seconds_per_iteration"] / b["seconds_per_iteration"]
        r["memory_ratio"] = r["peak_bytes"] / b["peak_bytes"]
    return rows


def _table(rows: list[dict]) -> str:
    lines = [f"{'kind':8} {'N':>6} {'learners':>8} {'s/iteration':>12} {'x N=8':>8} {'peak MB':>9} {'x N=8':>6}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['kind']:8} {r['n']:>6} {'':>8} {r['error']}")
            continue
        lines.append(f"{r['kind']:8} {r['n']:>6} {r['learners']:>8} {r['seconds_per_iteration']:>12.4f} "
                     f"{r['time_ratio']:>8.1f} {r['peak_bytes'] / 2**20:>9.0f} {r['memory_ratio']:>6.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and iterations (N <= 512)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-pool", action="store_true",
                        help="estimators without pooling (EstimatorConfig(pool=False)); default: the shipped settings")
    parser.add_argument("--json", metavar="OUT", help="also write the rows as JSON to OUT")
    parser.add_argument("--repeats", type=int, default=None, help="timed iterations per point (default 5, quick 3)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per point before it is reported as a timeout")
    parser.add_argument("--max-memory", default="8G", help="a CPU point's data segment limit (RLIMIT_DATA), e.g. 8G")
    parser.add_argument("--point", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)  # one point, in this process
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    if args.point:
        kind, n = args.point[0], int(args.point[1])
        if args.device == "cpu":
            from recigrad.running.budget import parse_size

            limit = parse_size(args.max_memory)
            resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
        print(json.dumps(measure(kind, n, repeats, args.device, not args.no_pool)))
        return
    started = time.perf_counter()
    single, society = (QUICK_SINGLE, QUICK_SOCIETY) if args.quick else (SINGLE, SOCIETY)
    rows = []
    for kind, sizes in (("single", single), ("society", society)):
        for n in sizes:
            rows.append(_point(kind, n, repeats, args.device, not args.no_pool, args.timeout, args.max_memory))
            print(f"  {kind} N={n}: done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    rows = _with_ratios(rows)
    measured = [r for r in rows if "error" not in r]
    device = measured[0]["device"] if measured else args.device
    note = "" if device == args.device else f" (asked for {args.device}: reciprocity_gradient.start takes no device)"
    memory = measured[0]["memory"] if measured else "-"
    print(f"device {device}{note}; {INTERACTIONS} interactions per iteration; median of {repeats} iterations after "
          f"{WARMUP} warm-up; pool {'off' if args.no_pool else 'on'}; peak memory: {memory} of a fresh process per point")
    print(_table(rows))
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device, "asked_device": args.device, "interactions": INTERACTIONS, "repeats": repeats,
                       "warmup": WARMUP, "pool": not args.no_pool, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

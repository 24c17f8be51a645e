"""``recigrad sweep`` against a shell loop of ``recigrad train`` calls, timed in one run.

The grid of issue 11: b = 2, 3, 5, 8 x mu = 0.001, 0.01, 0.05 on ``discriminative-sj``, method
``rg``, 3 seeds per cell.  The loop starts one ``recigrad train`` process per cell (as a shell
loop does); the sweep is one ``recigrad sweep`` process (its start-up counted too).  Prints both
wall-clock times, the CPU time each used, and their ratios (the goal: below 0.25).  On a
machine other jobs share, the wall-clock ratio moves with their load; the CPU ratio does not.

    PYTHONPATH=src python benchmarks/sweep_speed.py            # the 12 cells, a few minutes
    PYTHONPATH=src python benchmarks/sweep_speed.py --quick    # 2 x 2 cells
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIGRAD = [sys.executable, "-m", "recigrad.cli"]


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """Wall-clock seconds of the command, and the CPU seconds (user + system) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 2 x 2 grid instead of 4 x 3")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    bs, mus = (["2", "5"], ["0.01", "0.05"]) if args.quick else (["2", "3", "5", "8"], ["0.001", "0.01", "0.05"])
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {**os.environ, "RECIGRAD_PROGRESS": "0", "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    tmp = Path(tempfile.mkdtemp(prefix="sweep-speed-"))
    try:
        loop = cpu_loop = 0.0
        for b in bs:
            for mu in mus:
                wall, cpu = timed([*RECIGRAD, "train", "--regime", "discriminative-sj", "-b", b, "--mu", mu,
                               "--seeds", str(args.seeds), "--out", str(tmp / f"train-{b}-{mu}"), "--json"], env)
                loop, cpu_loop = loop + wall, cpu_loop + cpu
        sweep, cpu_sweep = timed([*RECIGRAD, "sweep", "--regime", "discriminative-sj", "--grid", f"b={','.join(bs)}",
                       "--grid", f"mu={','.join(mus)}", "--command", "train", "--seeds", str(args.seeds),
                       "--out", str(tmp / "sweep"), "--json"], env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cells = len(bs) * len(mus)
    print(f"{cells} cells x {args.seeds} seeds, discriminative-sj, rg")
    print(f"shell loop of recigrad train: {loop:.1f} s wall, {cpu_loop:.1f} s CPU ({loop / cells:.2f} s wall per cell)")
    print(f"recigrad sweep:               {sweep:.1f} s wall, {cpu_sweep:.1f} s CPU ({sweep / cells:.2f} s wall per cell)")
    print(f"ratio sweep / loop:           {sweep / loop:.3f} wall, {cpu_sweep / cpu_loop:.3f} CPU (goal < 0.25)")


if __name__ == "__main__":
    main()

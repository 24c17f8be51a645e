"""Library and command line at the same speed: one training cell (discriminative-sj, rg, 5 seeds),
trained by a Python script calling the library (torch left at its default thread count) and by
``recigrad train``, each in a fresh process; both run their solves on
``recigrad.util.threads.configured()`` threads (``RECIGRAD_THREADS``, default 1).  Prints the
training seconds each reports (start-up excluded) and their ratio; with ``--all-threads`` also the
library script with ``recigrad.set_threads(cores)``: torch on every core, which is what library calls
ran on before they set their thread count.

Usage: .venv/bin/python benchmarks/library_speed.py [--iterations N] [--all-threads]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REGIME, SEEDS = "discriminative-sj", 5
ENV = {**os.environ, "RECIGRAD_PROGRESS": "0"}
ENV.pop("RECIGRAD_THREADS", None)
ENV.pop("OMP_NUM_THREADS", None)  # torch's own default, as a user's script gets it

SCRIPT = """
import json, sys
from dataclasses import replace
import torch
import recigrad
from recigrad.game.regime import TrainConfig, load_regime
from recigrad.running import train
iterations, seeds, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if threads:
    recigrad.set_threads(threads)
regime = load_regime({regime!r})
regime = replace(regime, train=TrainConfig(**{{**regime.train.__dict__, "iterations": iterations}}))
print(json.dumps({{"seconds": train.run(regime, list(range(seeds)))["seconds"], "torch": torch.get_num_threads()}}))
"""


def library(iterations: int, threads: int = 0) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(regime=REGIME), str(iterations), str(SEEDS), str(threads)],
                          capture_output=True, text=True, check=True, env=ENV)
    return json.loads(done.stdout)


def command_line(iterations: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "recigrad.cli", "train", "--regime", REGIME, "--seeds", str(SEEDS),
                               "--iterations", str(iterations), "--out", str(Path(tmp) / "run"), "--json"],
                              capture_output=True, text=True, check=True, env=ENV)
    return json.loads(done.stdout)["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--all-threads", action="store_true", help="also the library on every core")
    args = parser.parse_args()
    lib = library(args.iterations)
    cli = command_line(args.iterations)
    print(f"{REGIME}, rg, {SEEDS} seeds, {args.iterations} iterations; torch's default threads: {lib['torch']}")
    print(f"library script: {lib['seconds']:7.2f} s training")
    print(f"command line:   {cli:7.2f} s training")
    print(f"ratio library / command line: {lib['seconds'] / cli:.2f}")
    if args.all_threads:
        every = library(args.iterations, threads=lib["torch"])
        print(f"library on {lib['torch']} threads: {every['seconds']:7.2f} s training (ratio to command line "
              f"{every['seconds'] / cli:.2f})")


if __name__ == "__main__":
    main()

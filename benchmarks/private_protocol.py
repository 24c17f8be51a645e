"""The protocol the private-assessment benchmarks share (``private_leading_eight.py``,
``private_gossip.py``, ``private_theory_vs_world.py``): the game's flags and the figure of a
batch of populations, the mean over them of each one's time average ± the standard error between them."""

from __future__ import annotations

import argparse
import math


def add_protocol_arguments(parser: argparse.ArgumentParser, seeds: int, rounds: int) -> None:
    """``--seeds``, ``--rounds``, ``--burn-in`` and the game's ``--q``, ``--perception-error``, ``--e``, ``--mu``
    (defaults: q = 0.9, perception error 0.05, e = mu = 0.01, 200 rounds of burn-in)."""
    parser.add_argument("--seeds", type=int, default=seeds)
    parser.add_argument("--rounds", type=int, default=rounds, help="counted rounds (N interactions each)")
    parser.add_argument("--burn-in", type=int, default=200, help="rounds played before counting")
    parser.add_argument("--q", type=float, default=0.9)
    parser.add_argument("--perception-error", type=float, default=0.05)
    parser.add_argument("--e", type=float, default=0.01)
    parser.add_argument("--mu", type=float, default=0.01)


def mean_se(values) -> tuple[float, float]:
    """The mean of a tensor of per-population figures and the standard error between them."""
    values = values.double()
    return float(values.mean()), float(values.std()) / math.sqrt(len(values)) if len(values) > 1 else math.nan


def emit(row: dict, out: str | None) -> None:
    """Print ``row`` as one JSON line, and append it to the file ``out`` if given."""
    import json

    line = json.dumps(row)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")

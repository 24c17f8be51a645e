"""Write TensorBoard scalars while training, then read them back (needs the ``tensorboard`` extra).

``recigrad.running.tensorboard.open_folder`` claims an event folder (a new one, as every output
folder, docs/model.md §10) and gives a writer that ``recigrad.running.train.run`` feeds at every
evaluation: per seed, payoff, percent of reference and adherence, tagged
``REGIME/METHOD/seed-K/KEY``, against interactions per population.  The command line does the
same with ``recigrad train ... --tensorboard DIR``; view them with ``tensorboard --logdir DIR``.

This script reads the events back with TensorBoard's own reader and prints the last payoff of
each seed beside the run's ``metrics.jsonl``: the same numbers.

Run: python examples/tensorboard_scalars.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from recigrad.game.regime import load_regime
from recigrad.running import tensorboard
from recigrad.running.train import run

SEEDS = [0, 1]


def main() -> None:
    regime = load_regime("discriminative-sj")
    with tempfile.TemporaryDirectory() as scratch:
        events, out = Path(scratch) / "tb", Path(scratch) / "run"
        with tensorboard.open_folder(events) as scalars:
            run(regime, SEEDS, method="rg", iterations=20, eval_every=5, out=out, scalars=scalars)
        last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
        reader = EventAccumulator(str(events), size_guidance={"tensors": 0})
        reader.Reload()
        tags = sorted(reader.Tags()["tensors"])
        print(f"{len(tags)} tags, e.g. {tags[0]}")
        for k, seed in enumerate(SEEDS):
            points = reader.Tensors(f"{regime.name}/rg/seed-{seed}/payoff")
            step, value = points[-1].step, float(tensor_util.make_ndarray(points[-1].tensor_proto))
            print(f"seed {seed}: {len(points)} evaluations; at {step} interactions TensorBoard payoff {value:.12f}, "
                  f"metrics.jsonl payoff {last['payoff'][k]:.12f}")


if __name__ == "__main__":
    main()

"""Train the reciprocity-gradient learner on discriminative-sj and inspect what it learned.

One learner starts from random tables among seven stern-judging discriminators
(docs/model.md §9).  ``recigrad.running.train.run`` trains it for three seeds
at once (one batch, docs/model.md §6) and writes a run folder; this script
reads the learned tables back from it and prints them with the run's metrics
(docs/model.md §8): percent of reference (the best response's payoff is 100)
and adherence (how closely the learned tables follow the best response's
strict entries).

Run: python examples/train_and_inspect.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from recigrad.game.regime import load_regime
from recigrad.running.train import run

SEEDS = [0, 1, 2]
ITERATIONS = 60  # a short budget: the regime's own is longer


def show_tables(act: list, sig: list) -> None:
    """Print one learner's intended tables, probabilities of C / of a good signal."""
    names = "BG"
    print("  act[x_own][x_rec]:     " + "  ".join(f"{names[o]}->{names[r]} {act[o][r]:.2f}" for o in (0, 1) for r in (0, 1)))
    for a, action in enumerate("DC"):
        row = "  ".join(f"{names[d]}->{names[r]} {sig[a][d][r]:.2f}" for d in (0, 1) for r in (0, 1))
        print(f"  sig[{action}][x_d][x_r]:      {row}")


def main() -> None:
    regime = load_regime("discriminative-sj")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        summary = run(regime, SEEDS, method="rg", iterations=ITERATIONS, eval_every=20, out=out)
        tables = json.loads((out / "tables.json").read_text())

    reference = summary["reference"]
    print(f"regime {regime.name}: {regime.description}; reference payoff {reference['payoff']:.4f} per round")
    print("best response (reference) tables:")
    show_tables(reference["act"], reference["sig"])
    learner = tables["learners"][0]
    for record, learned in zip(summary["runs"], tables["runs"]):
        print(
            f"seed {record['seed']}: payoff {record['payoff']:.4f} per round after {record['interactions']} interactions, "
            f"{record['percent_of_reference']:.2f} % of reference, adherence {record['adherence']:.4f}"
        )
        show_tables(learned["act"][learner], learned["sig"][learner])
    mean = sum(r["percent_of_reference"] for r in summary["runs"]) / len(summary["runs"])
    print(f"mean percent of reference: {mean:.2f}")


if __name__ == "__main__":
    main()

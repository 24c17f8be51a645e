"""Read a run folder back and re-score the learned tables in other populations.

A learner trains on discriminative-sj (one learner among seven stern-judging
discriminators, docs/model.md §9) and the run folder is written.
``recigrad.results.load_run`` reads it back (tables per seed as tensors, curves,
metrics), and ``recigrad.evaluate`` places the learned tables in other
populations: the run's own (it gives back the payoff the run recorded), image
scorers, and 100 stern-judging discriminators (N > 12: mean field).  The last
line checks the stern-judging norm itself against its closed form
(docs/model.md §3): (b - c)(1 - e) g with g = (1 - mu)/(2 - mu - A).

Run: python examples/rescore.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import recigrad
from recigrad.game.norms import action_table, signal_table
from recigrad.game.regime import load_regime
from recigrad.results import load_run
from recigrad.running.train import run

SEEDS = [0, 1]

with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "sj"
    run(load_regime("discriminative-sj"), SEEDS, iterations=40, out=out)
    learned = load_run(out)

print(f"run of {learned.method} on {learned.regime.name}: seeds {learned.seeds}, tables {tuple(learned.act.shape)}, "
      f"{len(learned.curves)} evaluations")
tables = (learned.act, learned.sig)
for k, seed in enumerate(learned.seeds):
    print(f"seed {seed}: recorded payoff {learned.metrics['runs'][k]['payoff']:.6f}")

own = recigrad.evaluate(tables, learned.regime)
for k, seed in enumerate(learned.seeds):
    print(f"seed {seed}: re-scored in its own regime ({own.model}) payoff {float(own.payoff[k, 0]):.6f}, "
          f"others {float(own.others_payoff[k]):.6f}")

image = recigrad.evaluate(tables, load_regime("discriminative-is"))
big = recigrad.evaluate(tables, ["learner:stern-judging:1", "disc:stern-judging:99"])
for k, seed in enumerate(learned.seeds):
    print(f"seed {seed}: among image scorers ({image.model}) payoff {float(image.payoff[k, 0]):.6f}; "
          f"among 99 stern judges ({big.model}) payoff {float(big.payoff[k, 0]):.6f}, cooperation {float(big.cooperation[k]):.4f}")

norm = (action_table("disc", "stern-judging"), signal_table("stern-judging"))
check = recigrad.evaluate(norm, ["disc:stern-judging:100"])
print(f"the stern-judging norm among 100 stern judges ({check.model}): norm payoff {float(check.payoff[0, 0]):.6f}, "
      f"welfare {float(check.welfare[0]):.6f}")

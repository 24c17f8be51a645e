"""The numbers researchers report, the learner's start, threads and readable run folders.

- ``recigrad.set_threads(1)``: the library runs its solves on the threads you choose
  (default ``RECIGRAD_THREADS``, else 1), the same as the command line.
- ``recigrad exact`` / ``simulate`` figures from the library: cooperation (realised C per
  donation) and welfare (mean payoff of all agents) of stern-judging discriminators, against
  the closed form of docs/model.md §3: cooperation (1 - e) g, welfare (b - c)(1 - e) g.
- ``learner:stern-judging:1`` warm-starts at the norm (logits +-3), ``learner:random:1`` from
  random logits: a short training run from each, with the learner's payoff, the others'
  payoff and their changes from the start (docs/model.md §10).
- The run folder takes the user's umask (0755 under umask 022).

Run: python examples/research_numbers.py
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import recigrad
from recigrad.dynamics.world import simulate
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop
from recigrad.game.regime import Regime, TrainConfig
from recigrad.running.train import run

recigrad.set_threads(1)
game = Game()
a = (1 - game.e) * (1 - game.mu) + game.e * game.mu
g = (1 - game.mu) / (2 - game.mu - a)
print(f"closed form: cooperation {(1 - game.e) * g:.12f}, welfare {(game.b - game.c) * (1 - game.e) * g:.12f}")

population = parse_pop(["disc:stern-judging:8"])
act, sig = population.batched_tables(1)
exact = recigrad.evaluate((act[:, 0], sig[:, 0]), ["disc:stern-judging:8"])
print(f"exact chain ({exact.model}): cooperation {float(exact.cooperation[0]):.12f}, welfare {float(exact.welfare[0]):.12f}")

batch = 32
tally, _ = simulate(*observable(*population.batched_tables(batch), game), list(range(batch)), 20_000, 1_000, game=game)
welfare = tally.payoff_per_round(game.b, game.c).mean(1)  # per population
mean, se = float(welfare.mean()), float(welfare.std() / batch**0.5)
print(f"simulation of {batch} populations: welfare {mean:.6f} +- {se:.6f} (standard error)")

old = os.umask(0o022)
try:
    with tempfile.TemporaryDirectory() as tmp:
        for start in ("stern-judging", "random"):
            regime = Regime(f"learner-{start}", "", game, parse_pop([f"learner:{start}:1", "disc:stern-judging:7"]),
                            TrainConfig())
            regime = replace(regime, train=replace(regime.train, iterations=30))
            out = Path(tmp) / start
            result = run(regime, [0, 1], out=out)
            for entry in result["runs"]:
                print(f"learner:{start}:1 seed {entry['seed']}: payoff {entry['payoff']:.4f} "
                      f"(change {entry['payoff_change']:+.4f}), others {entry['others_payoff']:.4f} "
                      f"(change {entry['others_payoff_change']:+.4f})")
            print(f"run folder mode {oct(stat.S_IMODE(out.stat().st_mode))}")
finally:
    os.umask(old)

"""Why percent of reference stops discriminating as N grows, and the scaling study in Python.

Among N - 1 stern-judging discriminators, the learner that plays the norm itself already scores
most of the reference, more so as N grows: the reference's lead over the norm shrinks about as
1/N.  The share of the achievable gain, (payoff - start) / (reference - start), keeps telling
learners apart.  Then a tiny scaling study (``recigrad.running.scaling.run_scaling``, what
``recigrad bench --suite scaling`` runs) with budgets per learner decision.

    PYTHONPATH=src python examples/scaling_study.py
"""

import tempfile
from pathlib import Path

from recigrad.evaluation import evaluate
from recigrad.evaluation.best_response import best_response
from recigrad.evaluation.metrics import percent_of_reference
from recigrad.game.regime import load_regime
from recigrad.game.scaling import scaled_regime
from recigrad.running.scaling import run_scaling

base = load_regime("discriminative-sj")
for n in (8, 32, 128):
    regime = scaled_regime(base, n)  # 1 learner, n - 1 disc + stern judging; 50 n interactions per iteration
    act, sig = regime.population.batched_tables(1)  # the learner holds its norm's tables
    ref = best_response(act, sig, 0, regime.game)  # exact chain at N = 8, mean field above
    norm = evaluate(act, sig, regime.game)[0].payoff[:, 0]
    print(f"N = {n:3d}: {regime.population.describe()}, {regime.train.interactions} interactions per iteration; "
          f"reference {ref.payoff.item():.6f} ({ref.model}), norm {norm.item():.6f}, "
          f"norm's percent of reference {percent_of_reference(norm, ref.payoff, regime.game).item():.4f}")

with tempfile.TemporaryDirectory() as folder:
    summary = run_scaling(["discriminative-sj"], ["rg"], [0, 1], Path(folder) / "report", ns=(4, 6), iterations=5)
    for row in summary["scaling"]:
        print(f"study N = {row['n']}: {row['method']} {row['interactions']} interactions, "
              f"{row['learner_decisions']:.0f} learner decisions, share of gain {row['share_of_gain_mean']:.4f}, "
              f"percent of reference {row['percent_of_reference_mean']:.4f}")

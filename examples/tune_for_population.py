"""Tune a baseline for a population of your own, train with the result, and read the metrics that still
discriminate: share of the achievable gain, table distance and collapse per head (docs/model.md §7, §8).

    PYTHONPATH=src python examples/tune_for_population.py
"""

import tempfile
from pathlib import Path

from recigrad.game import Game
from recigrad.game.population import parse_pop
from recigrad.game.regime import Regime, TrainConfig
from recigrad.learning.baselines import settings
from recigrad.running import train, tune

# one learner from a random start among 5 shunning discriminators; a short budget so the example runs in seconds
regime = Regime("shunning-6", "", Game(), parse_pop(["learner:random:1", "disc:shunning:5"]),
                TrainConfig(iterations=40, interactions=400))

untuned = train.run(regime, [0, 1], method="reinforce")
print(f"untuned: baseline settings {untuned['baseline_settings']['source']}")

# a small grid of learning rates (recigrad tune uses the grid recorded in tuned.json: 16 settings)
result = tune.tune(regime, "reinforce", seeds=[100, 101], axes={"lr": [0.1, 1.0]})
for row in result["results"]:
    print(f"lr {row['lr']}: score {row['score']:.4f} ({result['score_kind']})")
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "reinforce-shunning.json"
    tune.write(path, result)
    tuned = train.run(regime, [0, 1], method="reinforce", tuning=settings.read_result(path, "reinforce"))
print(f"tuned: baseline settings {tuned['baseline_settings']['source']}, lr {tuned['baseline_settings']['settings']['lr']}")

start, reference = tuned["start"], tuned["reference"]["payoff"]
print(f"reference payoff {reference:.6f}")
print(f"random-start payoff {start['payoff']:.6f} (mean of {start['draws']} random tables, se {start['se']:.4f})")
measurable = tuned["collapse_measurable"]
print(f"collapse measurable: action {measurable['action']}, signal {measurable['signal']}")
for run in tuned["runs"]:
    print(f"seed {run['seed']}: payoff {run['payoff']:.6f} share of gain {run['share_of_gain']:.6f} "
          f"table distance {run['table_distance']:.4f} action collapsed {run['action_collapsed']} "
          f"signal collapsed {run['signal_collapsed']}")

"""A sweep in Python: the exact chain over a grid of b x mu, read back as a pandas DataFrame.

Stern-judging discriminators (and a learner warm-started at stern judging) are good with
probability g = (1 - mu) / (2 - mu - A), A = (1 - e)(1 - mu) + e mu (docs/model.md §3), whatever b;
each cooperates with the good, so the mean payoff is (b - c)(1 - e) g.  Then a small training
sweep over b, three seeds per cell.  Needs pandas (pip install "recigrad[analysis]").
"""

import tempfile
from dataclasses import replace
from pathlib import Path

from recigrad.game.regime import TrainConfig, load_regime
from recigrad.results import load_sweep
from recigrad.running.sweep import Sweep, run_sweep

regime = load_regime("discriminative-sj")
with tempfile.TemporaryDirectory() as tmp:
    run_sweep(Sweep(regime, "exact", {"b": [2.0, 5.0], "mu": [0.001, 0.01, 0.05]}), Path(tmp) / "exact")
    frame = load_sweep(Path(tmp) / "exact")
    print(frame[["b", "mu", "payoff", "good", "cooperation"]].to_string(index=False))
    e = frame["e"][0]
    for mu in (0.001, 0.01, 0.05):
        a = (1 - e) * (1 - mu) + e * mu
        print(f"mu = {mu}: exact chain g {frame[frame.mu == mu]['good'].iloc[0]:.12f}, "
              f"closed form g {(1 - mu) / (2 - mu - a):.12f}")

    short = replace(regime, train=TrainConfig(**{**regime.train.__dict__, "iterations": 60}))
    run_sweep(Sweep(short, "train", {"b": [2.0, 5.0]}, seeds=(0, 1, 2)), Path(tmp) / "train")
    trained = load_sweep(Path(tmp) / "train")
    means = trained.groupby("b")["percent_of_reference"].mean()
    for b, percent in means.items():
        print(f"b = {b}: mean percent of reference over 3 seeds {percent:.4f}")

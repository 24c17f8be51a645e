"""What the fuzzers share (tests/test_fuzz.py and benchmarks/fuzz.py): where each command's
work begins, replaced by a stub so that no fuzz case starts real work, and a small valid base
command line per command."""

STUBS = ("recigrad.cli.simulate", "recigrad.cli.kernel.warm_up", "recigrad.cli.evaluate",
         "recigrad.evaluation.best_response.best_response", "recigrad.running.train.run", "recigrad.running.suite.run_suite",
         "recigrad.running.sweep.run_sweep", "recigrad.running.tune.tune")

BASE = {"simulate": ["--pop", "disc:stern-judging:3", "--interactions", "10", "--burn-in", "0"],
        "exact": ["--pop", "disc:stern-judging:3"], "reference": ["--pop", "learner:L6:1", "--pop", "disc:L6:2"],
        "train": ["--regime", "degenerate-allc"], "bench": ["--regimes", "degenerate-allc"],
        "sweep": ["--regime", "degenerate-allc", "--grid", "b=2,3"],
        "tune": ["--regime", "degenerate-allc", "--method", "reinforce", "--out", "tuned.json"]}

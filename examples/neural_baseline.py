"""Train a neural-policy baseline (ppo-mlp) on discriminative-sj and read its tables off.

One learner starts from random tables among seven stern-judging discriminators
(docs/model.md §9).  ``ppo-mlp`` (docs/model.md §7, "Neural-policy baselines") is a small
MLP per learner over the observation features ``(role, x_d, x_r, a)``, learning a residual
on the start logits, so it starts at exactly the tables every method starts from.  Its
tables are read off by querying the network at the 12 decision contexts; this script
queries the network itself at each context's features and checks that the read-off is
what the network says, then scores the tables with the same metrics as every method
(docs/model.md §8): percent of reference, adherence and collapse per head.  With the
settings tuned for this regime (``tuned.json``) some seeds end far below the reference
(README, "Neural-policy baselines").

Run: python examples/neural_baseline.py
"""

from __future__ import annotations

import torch

from recigrad.evaluation import metrics
from recigrad.game.contexts import flat_tables
from recigrad.game.regime import load_regime
from recigrad.learning import contract
from recigrad.learning.baselines import mlp
from recigrad.running.train import regime_reference

SEEDS = [0, 1, 2]
ITERATIONS = 100  # a third of the regime's budget: 40 000 interactions per population


def query(state, context: int, x: torch.Tensor) -> torch.Tensor:
    """``(B,)``: the learner's probability of C (of a good signal) at one context, computed layer by
    layer from the weights: tanh layers, then the head of the context's role on top of the start logit."""
    p = {name: t.detach()[:, 0] for name, t in state.params.items()}  # the one learner of each population
    h = x.expand(len(SEEDS), -1)
    for k in range(state.layers):
        h = torch.tanh(torch.einsum("bf,bfh->bh", h, p[f"actor.w{k}"]) + p[f"actor.b{k}"])
    head = "action" if context < 4 else "signal"
    return torch.sigmoid(state.start[:, 0, context] + (h * p[f"actor.{head}.w"]).sum(-1) + p[f"actor.{head}.b"])


def main() -> None:
    regime = load_regime("discriminative-sj")
    learner = regime.population.learners[0]
    method, rg = contract.method("ppo-mlp"), contract.method("rg")
    state = method.start(regime, SEEDS)
    start_gap = (flat_tables(*state.tables()) - flat_tables(*rg.start(regime, SEEDS).tables())).abs().max()
    print(f"start: largest difference to the reciprocity gradient's start tables {float(start_gap):.1f}")
    for _ in range(ITERATIONS):
        method.step(state)
    print(f"trained {state.interactions} interactions per population, settings {state.config}")

    # the network queried by hand at each context's features: one forward pass per context
    features = mlp.context_features()
    net = torch.stack([query(state, c, features[c]) for c in range(12)], -1)  # (B, 12)
    act, sig = state.tables()
    read_off = flat_tables(act[:, learner], sig[:, learner])
    print("context features (role, x_d, x_r, a) -> P(C) / P(good) per seed")
    for c in range(12):
        print(f"  {tuple(int(x) for x in features[c].tolist())!s:>16} -> " + "  ".join(f"{float(p):.3f}" for p in net[:, c]))
    print(f"largest difference between the read-off tables and the network {float((read_off - net).abs().max()):.1e}")

    ref = regime_reference(regime)
    report = metrics.learner_report(act, sig, learner, regime.game, ref)
    print(f"reference payoff {float(ref.payoff[0]):.4f} per round")
    for k, seed in enumerate(SEEDS):
        print(f"seed {seed}: {float(report['percent_of_reference'][k]):.2f} % of reference, "
              f"adherence {float(report['adherence'][k]):.4f}, "
              f"action collapsed {bool(report['action_collapsed'][k])}, signal collapsed {bool(report['signal_collapsed'][k])}")
    print("(the reference's signal table is constant here, 'everyone is bad': a collapsed signal head "
          "could not be told from it, so signal collapse is never flagged in this regime)")


if __name__ == "__main__":
    main()

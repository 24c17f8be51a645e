"""The warm-up grid in theory: per-round payoffs of the warm-up start and the reference, with and
without a perception error (issue 13, docs/model.md §4 and §8).

Without perception errors the contexts where L3 and L6 differ (a C to a bad recipient) never
occur among discriminators: a learner warmed up at L3 and one warmed up at L6 start from the
same payoff and face the same reference.  A perception error turns some D into a perceived C,
so the two warm-ups now differ.  For each cell ``warmup-W-in-O-C`` this prints, per round
(exact chain, N = 8):

- ``reference``: the best payoff over the learner's free head(s) (``running.train.regime_reference``:
  for ``action`` / ``signal`` the other head stays at its warm-up tables);
- ``start``: the payoff of the warm-up start (the norm's tables at logits +-3) and its percent of
  the reference (docs/model.md (28));
- ``norm``: the payoff of playing the warm-up norm exactly (deterministic tables).

It also checks the closed form of stern judging with the perception error (docs/model.md (19a))
against the exact chain.  The lead's training grid puts its learners' payoffs beside these.

Run: python examples/warmup_grid.py [PERCEPTION_ERROR ...] [--components action,signal,joint]
(default: 0 and 0.01, every component)
"""

from __future__ import annotations

import sys
from dataclasses import replace

import torch

import recigrad
from recigrad.dynamics import exact
from recigrad.evaluation.metrics import percent_of_reference
from recigrad.evaluation.models import evaluate
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop
from recigrad.game.regime import load_regime
from recigrad.running.train import regime_reference

recigrad.set_threads(1)
COMPONENTS = ("joint", "action", "signal")


def stern_judging_closed_form(game: Game) -> float:
    """g of disc + stern judging, one observer: (19a) with k = 1, F(p) = p."""
    right = (1 - game.perception_error) * (1 - game.mu) + game.perception_error * game.mu  # P(an observer judges right)
    u1 = (1 - game.e) * right + game.e * (1 - right)
    return right / (1 - u1 + right)


def warmup_rows(perception_error: float, components=COMPONENTS) -> list[dict]:
    """One row per cell of the warm-up grid (the given heads), every payoff per round from the exact chain."""
    rows, cache = [], {}
    for w, o, component in [(w, o, c) for o in ("L3", "L6") for c in components for w in ("L3", "L6")]:
        regime = load_regime(f"warmup-{w}-in-{o}-{component}")
        regime = replace(regime, game=replace(regime.game, perception_error=perception_error))
        act, sig = regime.population.batched_tables(1)
        learner = regime.population.learners[0]
        # the one-head reference depends on the frozen head only (L3 and L6 share the action rule)
        frozen = {"joint": (), "action": sig[0, learner], "signal": act[0, learner]}[component]
        key = (o, component, tuple(torch.as_tensor(frozen).flatten().tolist()))
        if key not in cache:
            cache[key] = regime_reference(regime).payoff.item()
        start_act, start_sig = act.clone(), sig.clone()
        start_act[:, learner] = torch.sigmoid(3 * (2 * act[:, learner] - 1))
        start_sig[:, learner] = torch.sigmoid(3 * (2 * sig[:, learner] - 1))
        start = evaluate(start_act, start_sig, regime.game)[0].payoff[0, learner].item()
        norm = evaluate(act, sig, regime.game)[0].payoff[0, learner].item()
        percent = percent_of_reference(torch.tensor([start]), torch.tensor([cache[key]]), regime.game).item()
        rows.append({"regime": regime.name, "reference": cache[key], "start": start, "percent": percent, "norm": norm})
    return rows


def main(errors: list[float], components=COMPONENTS) -> None:
    for eps in errors:
        game = Game(perception_error=eps)
        pc, so = observable(*parse_pop(["disc:stern-judging:8"]).batched_tables(1), game)
        g = exact.solve(pc, so, game).good[0, 0].item()
        print(f"perception error {eps}: stern judging closed form g {stern_judging_closed_form(game):.12f}, "
              f"exact chain g {g:.12f}")
        print("| regime | reference | warm-up start | % of reference | playing the norm |")
        print("| --- | --- | --- | --- | --- |")
        rows = warmup_rows(eps, components)
        for row in rows:
            print(f"| {row['regime']} | {row['reference']:.6f} | {row['start']:.6f} | {row['percent']:.3f} | {row['norm']:.6f} |")
        by_name = {row["regime"]: row for row in rows}
        gaps = [abs(by_name[f"warmup-L3-in-{o}-{c}"]["start"] - by_name[f"warmup-L6-in-{o}-{c}"]["start"])
                for o in ("L3", "L6") for c in components]
        print(f"perception error {eps}: largest difference L3 vs L6 warm-up start {max(gaps):.9f}, "
              f"smallest {min(gaps):.9f}")
        print()


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = COMPONENTS
    if "--components" in args:
        at = args.index("--components")
        chosen = tuple(args[at + 1].split(","))
        args = args[:at] + args[at + 2 :]
    main([float(x) for x in args] or [0.0, 0.01], chosen)

"""Norms of your own, given as tables (docs/model.md §2 "Norms of your own").

1. All 16 second-order assessment rules by number (``rule-0`` .. ``rule-15``: bits
   C-to-good, D-to-good, C-to-bad, D-to-bad, the first the most significant): the good
   probability of a homogeneous ``disc`` population on the exact chain, beside the closed
   form ``g = B / (1 - A_G + B)`` (docs/model.md §3).
2. A regime file's ``[norms.NAME]`` table spelling *staying* (L7) entry by entry: the
   exact chain gives the shipped L7's numbers bit for bit.
3. A stochastic norm: stern judging that forgives a defection against a bad recipient only
   half the time.

Run: python examples/custom_norm.py
"""

from __future__ import annotations

import torch

from recigrad.dynamics import exact
from recigrad.evaluation import evaluate
from recigrad.game import Game, observable
from recigrad.game.norms import RULES
from recigrad.game.population import Agent, Population
from recigrad.game.regime import regime_from_text

N = 6
GAME = Game(b=5, c=1, e=0.01, mu=0.01)

REGIME = """
name = "my-staying"

[norms.my-staying]              # L7 "staying", order GGC GGD GBC GBD BGC BGD BBC BBD
assessment = [1, 0, 1, 1, 1, 0, 0, 0]
action = [1, 0, 1, 0]           # GG GB BG BB: cooperate iff the recipient is good

[norms.half-forgiving]          # second order: GC GD BC BD; D to bad good with probability 0.5
assessment = [1, 0, 0, 0.5]

[[agents]]
kind = "norm"
norm = "my-staying"
count = 6
"""


def closed_form(values, e: float, mu: float) -> float:
    """``g = B / (1 - A_G + B)`` for the second-order rule ``values`` (C to good, D to good, C to bad, D to bad)."""
    flip = [(1 - mu) * float(v) + mu * (1 - float(v)) for v in values]  # what observers report, errors included
    a_good, b = (1 - e) * flip[0] + e * flip[1], flip[3]  # a good recipient gets C (or D by error), a bad one D
    return b / (1 - a_good + b)


def main() -> None:
    print(f"homogeneous disc populations, N = {N}, e = mu = 0.01: good probability")
    print(" rule  bits   exact chain  closed form")
    worst = 0.0
    for number in range(16):
        bits = RULES[f"rule-{number}"]
        act, sig = Population((Agent("disc", f"rule-{number}"),) * N).batched_tables(1)
        g = exact.solve(*observable(act, sig, GAME), GAME).good[0, 0].item()
        theory = closed_form(bits, GAME.e, GAME.mu)
        worst = max(worst, abs(g - theory))
        print(f" {number:4d}  {bits}  {g:11.8f}  {theory:11.8f}")
    print(f"largest exact-closed form difference: {worst:.1e}")

    regime = regime_from_text(REGIME, "my-staying.toml")
    shipped = Population((Agent("norm", "L7"),) * N)
    mine, _ = evaluate(*regime.population.batched_tables(1), GAME)
    theirs, _ = evaluate(*shipped.batched_tables(1), GAME)
    same = torch.equal(mine.payoff, theirs.payoff) and torch.equal(mine.good, theirs.good)
    print(f"[norms.my-staying] payoff {mine.payoff[0, 0].item():.6f}, shipped L7 {theirs.payoff[0, 0].item():.6f}: "
          f"identical {'yes' if same else 'no'}")

    half = regime_from_text(REGIME.replace('norm = "my-staying"', 'norm = "half-forgiving"').replace('kind = "norm"',
                                                                                                    'kind = "disc"'))
    solution, model = evaluate(*half.population.batched_tables(1), GAME)
    print(f"half-forgiving stern judging ({model} chain): good {solution.good[0, 0].item():.6f}, "
          f"closed form {closed_form([1, 0, 0, 0.5], GAME.e, GAME.mu):.6f}")


if __name__ == "__main__":
    main()

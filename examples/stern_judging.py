"""Stern judging, by hand: the closed form, the exact chain, the mean field and the best response.

A homogeneous population of discriminators (help the good, refuse the bad) that
judge by stern judging keeps a good reputation with probability

    g = (1 - mu) / (2 - mu - A),   A = (1 - e)(1 - mu) + e mu

(docs/model.md §3).  The exact chain on 2^N reputation states (§4) and the
mean-field chain (§3) both land on it.  Against seven such discriminators, a
learner's best response (§8) still discriminates but calls everyone bad: it
then earns more per round than by playing the norm itself.

Run: python examples/stern_judging.py
"""

from __future__ import annotations

import torch

from recigrad.dynamics import exact, meanfield
from recigrad.evaluation.best_response import best_response
from recigrad.game import Game, observable
from recigrad.game.regime import load_regime


def closed_form(game: Game) -> float:
    """Good-reputation probability of a homogeneous disc + stern-judging population."""
    a = (1 - game.e) * (1 - game.mu) + game.e * game.mu
    return (1 - game.mu) / (2 - game.mu - a)


def main() -> None:
    regime = load_regime("discriminative-sj")  # 1 learner among 7 stern-judging discriminators, N = 8
    game = regime.game
    act, sig = regime.population.batched_tables(batch=1)  # the learner starts from the norm: all 8 agents are equal
    pc, so = observable(act, sig, game)

    g = closed_form(game)
    chain = exact.solve(pc, so, game)
    field = meanfield.solve(pc, so, game)
    print(f"game: b={game.b} c={game.c} e={game.e} mu={game.mu} N={regime.population.n}")
    print(f"closed form g          = {g:.12f}")
    print(f"exact chain g          = {chain.good[0, 0].item():.12f}")
    print(f"mean field g           = {field.good[0, 0].item():.12f}")
    torch.testing.assert_close(chain.good, torch.full_like(chain.good, g), rtol=0, atol=1e-12)
    torch.testing.assert_close(field.good, torch.full_like(field.good, g), rtol=0, atol=1e-12)

    norm_payoff = chain.payoff[0, 0].item()
    best = best_response(act, sig, learner=0, game=game)
    # everyone gives to the good (probability g), execution errors lose a fraction e: (b - c)(1 - e) g per round
    print(f"playing the norm       = {norm_payoff:.4f} per round (theory (b-c)(1-e)g = {(game.b - game.c) * (1 - game.e) * g:.4f})")
    print(f"best response          = {best.payoff[0].item():.4f} per round ({best.model} chain)")
    print(f"best action  act[x_own][x_rec] = {best.act[0].round().int().tolist()}  (help the good only)")
    print(f"best signals sig[a][x_d][x_r]  = {best.sig[0].round().int().tolist()}  (everyone is bad)")


if __name__ == "__main__":
    main()

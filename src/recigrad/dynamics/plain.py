"""A literal plain-Python simulator of the game (docs/model.md §1).

One interaction at a time, no torch and no numpy, with a separate draw from
``random.Random(seed)`` for every random choice docs/model.md §1 names.  It shares no
code with ``recigrad.dynamics.world`` (which folds the errors into observable tables and
uses one uniform per decision), so it serves as an independent check of it in
tests and as the baseline of the throughput benchmark.
"""

from __future__ import annotations

import random

from recigrad.game import Game


def play_plain(act, sig, game: Game, interactions: int, seed: int, burn_in: int = 0) -> dict:
    """Play ``burn_in`` uncounted then ``interactions`` counted interactions from everyone good.

    ``act[j][x_own][x_rec]`` is agent ``j``'s probability of intending C and
    ``sig[j][a][x_donor][x_rec]`` its probability of emitting "good" (nested
    lists, intended tables: the errors ``e`` and ``mu`` are applied here).

    Returns ``payoff`` (per agent, per round of ``N`` interactions), ``good``
    (per agent, the fraction of counted interactions at whose start it was good)
    and ``interactions`` (the counted number).
    """
    n = len(act)
    rng = random.Random(seed)
    x = [1] * n
    payoff = [0.0] * n
    good = [0] * n
    for t in range(burn_in + interactions):
        counted = t >= burn_in
        if counted:
            for j in range(n):
                good[j] += x[j]
        # 1. donor uniform; recipient uniform over the others
        d = rng.randrange(n)
        r = rng.randrange(n - 1)
        r += r >= d
        # 2. intended action, then execution error (C -> D with probability e)
        a = 1 if rng.random() < act[d][x[d]][x[r]] else 0
        if a == 1 and rng.random() < game.e:
            a = 0
        # 3. payoff
        if counted and a == 1:
            payoff[d] -= game.c
            payoff[r] += game.b
        # 4. observer uniform over all but the donor (recipient included); emitted signal, flipped with mu
        o = rng.randrange(n - 1)
        o += o >= d
        signal = 1 if rng.random() < sig[o][a][x[d]][x[r]] else 0
        if rng.random() < game.mu:
            signal = 1 - signal
        # 5. the signal becomes the donor's public reputation
        x[d] = signal
    scale = n / max(interactions, 1)
    return {
        "payoff": [p * scale for p in payoff],
        "good": [g / max(interactions, 1) for g in good],
        "interactions": interactions,
    }

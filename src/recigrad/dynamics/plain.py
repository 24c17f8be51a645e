"""Plain-Python simulators of the game (docs/model.md §1), no torch and no numpy.

Two of them, each an independent reading of the rules:

- ``play_plain``: the two-stage rules literally, one interaction at a time, with a
  separate draw from ``random.Random(seed)`` for every random choice docs/model.md §1
  names.  It shares no code with ``recigrad.dynamics.world`` (which folds the
  errors into observable tables and uses one uniform per decision), so it serves
  as an independent check of it in distribution, and as the baseline of the
  throughput benchmark.
- ``replay``: the world's uniform layout (``recigrad.dynamics.kernel``) read
  literally: given the uniforms the world draws, it returns the records the world
  must produce, so that tests check the compiled loop record for record.
"""

from __future__ import annotations

import random

from recigrad.dynamics.records import Record
from recigrad.game import Game


def _observers(rng: random.Random, n: int, d: int, r: int, game: Game) -> list[int]:
    """``k`` observers drawn without replacement from the pool, in draw order: each draw
    ``randrange`` over the pool members not drawn yet (the pool in increasing order)."""
    remaining = [j for j in range(n) if j != d and (game.recipient_observes or j != r)]
    return [remaining.pop(rng.randrange(len(remaining))) for _ in range(game.observers)]


def _aggregate(signals: list[int], old: int, game: Game) -> int:
    """The donor's new reputation from the observed signals (``Game.aggregation``)."""
    good, k = sum(signals), len(signals)
    if game.aggregation == "quorum":
        return 1 if good >= game.quorum else 0
    if game.aggregation == "majority":
        return 1 if 2 * good > k else 0 if 2 * good < k else old
    return signals[0]


def play_plain(act, sig, game: Game, interactions: int, seed: int, burn_in: int = 0) -> dict:
    """Play ``burn_in`` uncounted then ``interactions`` counted interactions from everyone good.

    ``act[j][x_own][x_rec]`` is agent ``j``'s probability of intending C and
    ``sig[j][a][x_donor][x_rec]`` its probability of emitting "good" (nested
    lists, intended tables: the errors ``e``, ``mu`` and the perception error
    are applied here).

    Draws, in this order, per interaction: the donor (``randrange(N)``), the
    recipient (``randrange(N - 1)``), the intention, the execution error (only
    after an intended C); whether anyone observes (only when ``q < 1``); the ``k``
    observers (``_observers``; with the default game ``randrange(N - 1)``, as
    before); then for each observer in draw order its perception error (only
    when ``perception_error > 0``), its emission and the assessment error.

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
        # 4. observed with probability q (nothing changes otherwise)
        if game.observation < 1.0 and not rng.random() < game.observation:
            continue
        # 5. k observers from the pool; each perceives (flip with the perception error), emits, and
        #    its signal is flipped with mu
        signals = []
        for o in _observers(rng, n, d, r, game):
            perceived = a
            if game.perception_error > 0 and rng.random() < game.perception_error:
                perceived = 1 - a
            signal = 1 if rng.random() < sig[o][perceived][x[d]][x[r]] else 0
            if rng.random() < game.mu:
                signal = 1 - signal
            signals.append(signal)
        # 6. the aggregate becomes the donor's public reputation
        x[d] = _aggregate(signals, x[d], game)
    scale = n / max(interactions, 1)
    return {
        "payoff": [p * scale for p in payoff],
        "good": [g / max(interactions, 1) for g in good],
        "interactions": interactions,
    }


def replay(pc, so, game: Game, x: list[int], uniforms) -> tuple[list[Record], list[int]]:
    """The records the world plays from ``uniforms``, read literally from the layout of
    ``recigrad.dynamics.kernel`` (one population).

    Args:
        pc: ``pc[j][x_d][x_r]`` observable action tables (nested lists of floats).
        so: ``so[j][a][x_d][x_r]`` observable signal tables given the realised action (perception
            and assessment errors folded in, as ``recigrad.game.observable`` makes them).
        game: how reputations form.
        x: the reputations before the first interaction (not modified).
        uniforms: ``T`` rows of 3 uniforms (``game.plain_formation``) or ``3 + 3k``.

    Returns:
        ``(records, x)``: one ``Record`` per row, and the reputations after the last one.
    """
    n, x = len(pc), list(x)
    eps = game.perception_error
    if eps:  # the table given the perceived action (recigrad.dynamics.world.perceived_signal_table)
        so = [[[[min(max(((1.0 - eps) * so[j][a][i][m] - eps * so[j][1 - a][i][m]) / (1.0 - 2.0 * eps), 0.0), 1.0)
                 for m in range(2)] for i in range(2)] for a in range(2)] for j in range(n)]
    records = []
    for u in uniforms:
        if game.plain_formation:
            triple = int(u[0] * n * (n - 1) ** 2)
            d, rest = divmod(triple, (n - 1) ** 2)
            r, o = divmod(rest, n - 1)
            r, o = r + (r >= d), o + (o >= d)
            xd, xr = x[d], x[r]
            a = 1 if u[1] < pc[d][xd][xr] else 0
            signal = 1 if u[2] < so[o][a][xd][xr] else 0
            observers, signals, perceived, new = (o,), (signal,), (a,), signal
        else:
            d, r = divmod(int(u[0] * n * (n - 1)), n - 1)
            r += r >= d
            xd, xr = x[d], x[r]
            a = 1 if u[1] < pc[d][xd][xr] else 0
            observers, signals, perceived, new = (), (), (), xd
            if u[2] < game.observation:
                remaining = [j for j in range(n) if j != d and (game.recipient_observes or j != r)]
                drawn, seen, said = [], [], []
                for i in range(game.observers):
                    o = remaining.pop(int(u[3 + 3 * i] * len(remaining)))
                    p = 1 - a if u[4 + 3 * i] < eps else a
                    drawn.append(o)
                    seen.append(p)
                    said.append(1 if u[5 + 3 * i] < so[o][p][xd][xr] else 0)
                observers, signals, perceived = tuple(drawn), tuple(said), tuple(seen)
                new = _aggregate(said, xd, game)
        records.append(Record(d, r, observers, xd, xr, a, signals, perceived, new))
        x[d] = new
    return records, x

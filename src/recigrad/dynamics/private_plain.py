"""The private-assessment world read literally, in plain Python (no numpy, no numba):
an independent check of ``recigrad.dynamics.private`` (docs/model.md §1, "Private
assessment: one interaction").

``replay`` takes the uniforms the world draws for one population and returns what the
world must produce: the records, the views after the last interaction and the tallies,
the latter counted by brute force at each interaction's start (every view of every
agent, every ordered triple of distinct agents), where the compiled loop keeps running
counts.
"""

from __future__ import annotations

import math

from recigrad.game import Game


def _views_tally(views: list[list[int]]) -> tuple[list[int], int]:
    """Per agent ``j``, how many others view it good; and the number of ordered triples
    ``(i, l, j)`` of distinct agents with ``M[i][j] == M[l][j]``."""
    n = len(views)
    good = [sum(views[i][j] for i in range(n) if i != j) for j in range(n)]
    agree = sum(1 for i in range(n) for m in range(n) for j in range(n)
                if len({i, m, j}) == 3 and views[i][j] == views[m][j])
    return good, agree


def replay(act, sig, game: Game, views, world, private, pairs=None) -> dict:
    """Play one population from its uniforms.

    Args:
        act: ``act[j][x_own][x_rec]`` intended action tables (nested lists).
        sig: ``sig[j][a][x_d][x_r]`` intended signal tables (nested lists).
        game: the private game (``e``, ``mu``, ``observation``, ``perception_error``, ``gossip``,
            ``gossip_trust``).
        views: ``views[i][j]`` before the first interaction (not modified).
        world: ``T`` rows of 3 uniforms (the world stream).
        private: ``T`` rows of private uniforms (``recigrad.dynamics.private_kernel.private_uniforms``).
        pairs: ``T`` (donor, recipient) pairs (the permutation schedule); None: decoded from
            ``world`` as the public world's default game does.

    Returns:
        A dict: ``records`` (per interaction ``(d, r, intended, action, assessments, perceived)``, the
        last two tuples of length ``N`` with -1 for agents that did not observe), ``seen_views`` (per
        interaction, each agent's ``(M[o][d], M[o][r])`` before it), ``gossip`` (per interaction, its events
        ``(speaker, listener, subject, told, adopted)`` in order), ``views`` after the last interaction,
        and the tallies ``given``, ``received``, ``donated``, ``good`` (lists per
        agent) and ``agree`` (a number), counted at each interaction's start.
    """
    n = len(act)
    m = [list(row) for row in views]
    given, received, donated, good = [0] * n, [0] * n, [0] * n, [0] * n
    agree = 0
    records, seen_views, gossip_events = [], [], []
    for t, (w, u) in enumerate(zip(world, private)):
        counts, agreeing = _views_tally(m)
        good = [g + c for g, c in zip(good, counts)]
        agree += agreeing
        if pairs is None:
            triple = int(w[0] * n * (n - 1) ** 2)
            d, rest = divmod(triple, (n - 1) ** 2)
            r = rest // (n - 1)
            r += r >= d
        else:
            d, r = pairs[t]
        seen_views.append(tuple((m[o][d], m[o][r]) for o in range(n)))
        p_intend = act[d][m[d][d]][m[d][r]]
        intended = 1 if w[1] < p_intend else 0
        action = 1 if w[1] < p_intend * (1.0 - game.e) else 0
        donated[d] += 1
        if action:
            given[d] += 1
            received[r] += 1
        assessments, perceived = [-1] * n, [-1] * n
        for o in range(n):
            if o in (d, r) or u[o] < game.observation:
                seen = 1 - action if u[n + o] < game.perception_error else action
                s = sig[o][seen][m[o][d]][m[o][r]]
                p_good = (1.0 - game.mu) * s + game.mu * (1.0 - s)
                perceived[o] = seen
                assessments[o] = 1 if u[2 * n + o] < p_good else 0
        for o in range(n):
            if assessments[o] >= 0:
                m[o][d] = assessments[o]
        events_here = []
        if game.gossip > 0:
            whole = math.floor(game.gossip)
            events = whole + (1 if u[3 * n] < game.gossip - whole else 0)
            for k in range(events):
                v = u[3 * n + 1 + 3 * k: 3 * n + 4 + 3 * k]
                speaker, listener = divmod(int(v[0] * n * (n - 1)), n - 1)
                listener += listener >= speaker
                others = [j for j in range(n) if j != listener]
                subject = others[int(v[1] * (n - 1))]
                adopted = 1 if v[2] < game.gossip_trust else 0
                events_here.append((speaker, listener, subject, m[speaker][subject], adopted))
                if adopted:
                    m[listener][subject] = m[speaker][subject]
        records.append((d, r, intended, action, tuple(assessments), tuple(perceived)))
        gossip_events.append(tuple(events_here))
    return {"records": records, "seen_views": seen_views, "gossip": gossip_events, "views": m, "given": given,
            "received": received, "donated": donated,
            "good": good, "agree": agree}

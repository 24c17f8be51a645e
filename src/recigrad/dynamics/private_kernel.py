"""The sequential inner loop of the private-assessment world, compiled with numba.

Every agent ``i`` keeps its own view ``M[i, j]`` (0 bad, 1 good) of every agent ``j``
(docs/model.md §1, "Private assessment: one interaction").  The world
(``recigrad.dynamics.private``) draws a chunk's uniforms up front, per population,
from two streams, and this loop plays them.  Per interaction ``t`` of population ``b``:

- ``pairs[b, t] = (d, r)``: the donor and the recipient (drawn by the world: from the
  first of the three ``world`` uniforms, exactly as the public world draws them, or
  from the permutation schedule);
- ``w = world[b, t]`` (3 uniforms; ``w[0]`` was the pair, ``w[2]`` is not read):
  intended C iff ``w[1] < act[d, M[d, d], M[d, r]]``, realised C iff
  ``w[1] < pc[d, M[d, d], M[d, r]]`` (``pc = act (1 - e)``: the execution error turns
  an intended C into D, never D into C);
- ``u = private[b, t]`` (``3N`` uniforms, then ``1 + 3G`` for gossip when
  ``gossip > 0``, ``G = ceil(gossip)``; ``private_uniforms``):

  - agent ``o`` observes iff ``o`` is the donor or the recipient, or ``u[o] < q``;
  - observer ``o`` perceives the realised action flipped iff ``u[N + o] < perception_error``;
  - its assessment is good iff ``u[2N + o] < so[o, perceived, M[o, d], M[o, r]]``, the
    signal table with the assessment error folded in (``(1 - mu) sig + mu (1 - sig)``);
  - all observers assess with the views before this interaction; then each sets
    ``M[o, d]`` to its assessment (the donor too: its self-view);
  - gossip: ``floor(gossip) + [u[3N] < gossip - floor(gossip)]`` events; event ``k``
    reads ``v = u[3N + 1 + 3k : 3N + 4 + 3k]``: ``v[0]`` picks (speaker ``s``,
    listener ``l``) uniformly among the ``N (N - 1)`` ordered pairs, ``v[1]`` the
    subject ``t`` uniformly among the agents other than ``l`` (``s`` included), and
    ``l`` sets ``M[l, t] = M[s, t]`` iff ``v[2] < gossip_trust``.

Tallies, at the start of each interaction (as the public world's ``good``): the count
``g[j]`` of agents ``i != j`` whose view of ``j`` is good, and the agreement numerator
``S = sum_j g_j (g_j - 1) + (m - g_j)(m - g_j - 1)``, ``m = N - 1``; both kept up to date
as views change, so an interaction costs ``O(N)``.  Tallies are integer counts held in
float64 (exact below ``2^53``), so they do not depend on the order of summation.
"""

from __future__ import annotations

import numpy as np

from recigrad.dynamics.kernel import ACTION_CONTEXTS, PARALLEL_BATCH, SIGNAL_CONTEXTS, _action_context, _signal_context, numba


def gossip_slots(gossip: float) -> int:
    """The most gossip events an interaction can have: ``ceil(gossip)``."""
    return int(np.ceil(gossip))


def private_uniforms(n: int, gossip: float) -> int:
    """Uniforms per interaction from the ``private`` stream: ``3N``, plus ``1 + 3 ceil(gossip)`` when ``gossip > 0``."""
    return 3 * n + (1 + 3 * gossip_slots(gossip) if gossip > 0 else 0)


def _pair_term(g, m):
    """Ordered pairs of distinct agents (among ``m``) that agree on a subject ``g`` of them see as good."""
    return g * (g - 1) + (m - g) * (m - g - 1)


if numba is not None:
    _term = numba.njit(inline="always")(_pair_term)
else:  # pragma: no cover
    _term = _pair_term


def _play(act_flat, pc_flat, so_flat, views, pairs, world, private, q, eps, gossip, trust,
          given, received, donated, good, agree, record, rec, rec_assess, rec_perc, rec_views, rec_gossip):
    """Play one chunk in place (layout in the module docstring).

    ``act_flat``, ``pc_flat (B, 4N)`` intended and realised-C tables; ``so_flat (B, 8N)`` the
    signal tables given the perceived action, assessment error folded in; ``views (B, N, N)``
    int8; ``pairs (B, T, 2)`` int64; ``world (B, T, 3)`` and ``private (B, T, W)`` uniforms;
    ``given``, ``received``, ``donated``, ``good (B, N)`` and ``agree (B,)`` float64 tallies;
    ``rec (4, B, T)`` int32 ``(d, r, intended, action)`` and
    ``rec_assess``, ``rec_perc (B, T, N)`` int8 (-1: did not observe), ``rec_views (B, T, N, 2)`` int8 (every
    agent's views of the donor and the recipient before the interaction) and ``rec_gossip (B, T, G, 5)`` int32
    (per gossip slot: speaker, listener, subject, the view told, adopted; -1 where no event) when ``record``."""
    batch, steps = world.shape[0], world.shape[1]
    n = views.shape[1]
    m = n - 1
    whole = int(np.floor(gossip))
    extra = gossip - whole
    base = 3 * n
    for b in _range(batch):
        g = np.zeros(n, dtype=np.int64)
        for i in range(n):
            for j in range(n):
                if i != j:
                    g[j] += views[b, i, j]
        s = 0
        for j in range(n):
            s += _term(g[j], m)
        seen = np.empty(n, dtype=np.int8)
        for t in range(steps):
            for j in range(n):
                good[b, j] += g[j]
            agree[b] += s
            d = pairs[b, t, 0]
            r = pairs[b, t, 1]
            w = world[b, t]
            u = private[b, t]
            context = ACTION_CONTEXTS * d + _action_context(views[b, d, d], views[b, d, r])
            intended = 1 if w[1] < act_flat[b, context] else 0
            action = 1 if w[1] < pc_flat[b, context] else 0
            donated[b, d] += 1.0
            if action == 1:
                given[b, d] += 1.0
                received[b, r] += 1.0
            if record:
                for o in range(n):
                    rec_views[b, t, o, 0] = views[b, o, d]
                    rec_views[b, t, o, 1] = views[b, o, r]
            # every observer assesses with the views before this interaction, then all update
            for o in range(n):
                seen[o] = -1
                if o == d or o == r or u[o] < q:
                    perceived = action ^ (1 if u[n + o] < eps else 0)
                    p = so_flat[b, SIGNAL_CONTEXTS * o + _signal_context(perceived, views[b, o, d], views[b, o, r])]
                    seen[o] = 1 if u[2 * n + o] < p else 0
                    if record:
                        rec_perc[b, t, o] = perceived
                elif record:
                    rec_perc[b, t, o] = -1
                if record:
                    rec_assess[b, t, o] = seen[o]
            for o in range(n):
                if seen[o] >= 0 and seen[o] != views[b, o, d]:
                    if o != d:
                        s -= _term(g[d], m)
                        g[d] += 1 if seen[o] == 1 else -1
                        s += _term(g[d], m)
                    views[b, o, d] = seen[o]
            if gossip > 0:
                events = whole + (1 if u[base] < extra else 0)
                for k in range(events):
                    v0 = u[base + 1 + 3 * k]
                    pair = int(v0 * (n * (n - 1)))
                    speaker = pair // (n - 1)
                    listener = pair - speaker * (n - 1)
                    listener += 1 if listener >= speaker else 0
                    subject = int(u[base + 2 + 3 * k] * (n - 1))
                    subject += 1 if subject >= listener else 0
                    told = views[b, speaker, subject]
                    if record:
                        rec_gossip[b, t, k, 0] = speaker
                        rec_gossip[b, t, k, 1] = listener
                        rec_gossip[b, t, k, 2] = subject
                        rec_gossip[b, t, k, 3] = told
                        rec_gossip[b, t, k, 4] = 1 if u[base + 3 + 3 * k] < trust else 0
                    if u[base + 3 + 3 * k] < trust and told != views[b, listener, subject]:
                        if listener != subject:
                            s -= _term(g[subject], m)
                            g[subject] += 1 if told == 1 else -1
                            s += _term(g[subject], m)
                        views[b, listener, subject] = told
            if record:
                rec[0, b, t] = d
                rec[1, b, t] = r
                rec[2, b, t] = intended
                rec[3, b, t] = action


if numba is not None:
    _range = numba.prange
    _serial = numba.njit(cache=True, nogil=True)(_play)
    _parallel = numba.njit(cache=True, nogil=True, parallel=True)(_play)
else:  # pragma: no cover
    _range = range
    _serial = _parallel = _play


def play_chunk(act_flat, pc_flat, so_flat, views, pairs, world, private, q, eps, gossip, trust,
               given, received, donated, good, agree, record):
    """Run the loop over one chunk, in place; returns ``(rec (4, B, T) int32, assessment, perceived (B, T, N) int8,
    views (B, T, N, 2) int8, gossip (B, T, G, 5) int32)`` (empty unless ``record``; ``G = ceil(gossip)``)."""
    batch, steps = world.shape[:2]
    n = views.shape[1]
    slots = gossip_slots(gossip) if gossip > 0 else 0
    rec = np.empty((4, batch, steps) if record else (4, 1, 1), dtype=np.int32)
    rec_assess = np.empty((batch, steps, n) if record else (1, 1, 1), dtype=np.int8)
    rec_perc = np.empty_like(rec_assess)
    rec_views = np.empty((batch, steps, n, 2) if record else (1, 1, 1, 2), dtype=np.int8)
    rec_gossip = np.full((batch, steps, slots, 5) if record else (1, 1, 1, 5), -1, dtype=np.int32)
    run = _parallel if batch >= PARALLEL_BATCH else _serial
    run(act_flat, pc_flat, so_flat, views, pairs, world, private, float(q), float(eps), float(gossip), float(trust),
        given, received, donated, good, agree, bool(record), rec, rec_assess, rec_perc, rec_views, rec_gossip)
    return rec, rec_assess, rec_perc, rec_views, rec_gossip

"""The sequential inner loop of the world, compiled with numba.

Interactions within a population are sequential (each may change the donor's
reputation, which the next one reads), so the world draws the uniforms of a
chunk up front, per population, and runs this loop over them.  Compiled, it
costs nanoseconds per interaction at any batch size; populations run in
parallel threads when the batch is large.  Without numba the same function
runs as plain Python (slow, same numbers).

Per interaction ``t`` of population ``b``, with ``u = uniforms[b, t]``:

- ``u[0]`` picks (donor, recipient, observer) uniformly among the
  ``N (N-1)^2`` triples with recipient != donor and observer != donor;
- a realised C iff ``u[1] < pc[donor, x_d, x_r]`` (observable table: intended C
  times ``1 - e``);
- an observed "good" iff ``u[2] < so[observer, a, x_d, x_r]`` (emitted signal,
  flipped with probability ``mu``), which becomes ``x_d``.

The flat tables are indexed with the context numbers of
``recigrad.game.contexts`` (compiled into the loop); the record rows are
``(d, r, o, x_d, x_r, a, signal)``, which the world turns into
``recigrad.dynamics.records.Records``.

Any other formation of reputations (``Game.plain_formation`` false: several
observers, an aggregation rule, an observation probability ``q < 1``, a
perception error, or a pool without the recipient) runs ``play_formed_chunk``,
which reads ``3 + 3k`` uniforms per interaction (``formed_uniforms``), every one
of them drawn whether it is used or not, so the layout is fixed:

- ``u[0]`` picks (donor, recipient) uniformly among the ``N (N-1)`` ordered pairs;
- a realised C iff ``u[1] < pc[donor, x_d, x_r]``;
- the interaction is observed iff ``u[2] < q``; if not, ``x_d`` stays;
- observer ``i = 0..k-1``: ``u[3 + 3i]`` picks it uniformly among the ``M - i``
  members of the pool (``M = N - 1``, or ``N - 2`` without the recipient) not
  drawn yet (without replacement); it perceives the realised action flipped iff
  ``u[4 + 3i] < perception_error``; its observed signal is good iff
  ``u[5 + 3i] < sp[o, perceived, x_d, x_r]``, the signal table given the
  *perceived* action (assessment error folded in, perception error not);
- the aggregation (single, majority with ties keeping ``x_d``, quorum ``Q``)
  of the ``G`` good signals becomes ``x_d``.
"""

from __future__ import annotations

import numpy as np

from recigrad.game import contexts

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency
    numba = None

ACTION_CONTEXTS, SIGNAL_CONTEXTS = contexts.ACTION_CONTEXTS, contexts.SIGNAL_CONTEXTS
if numba is not None:
    _action_context = numba.njit(inline="always")(contexts.action_context)
    _signal_context = numba.njit(inline="always")(contexts.signal_context)
else:  # pragma: no cover
    _action_context, _signal_context = contexts.action_context, contexts.signal_context

PARALLEL_BATCH = 64  # below this many populations, threads cost more than they save


def _play(pc_flat, so_flat, x, uniforms, given, received, good, last, record, rec):
    """Play one chunk in place.  ``pc_flat (B, 4N)``, ``so_flat (B, 8N)``,
    ``x (B, N)`` int64 reputations, ``uniforms (B, T, 3)``; ``given``,
    ``received``, ``good`` ``(B, N)`` float64 tallies; ``last (B, N)`` int64
    scratch; ``rec (7, B, T)`` int32 records when ``record``, rows in the order
    of ``recigrad.dynamics.records.FIELDS``."""
    batch, steps = uniforms.shape[0], uniforms.shape[1]
    n = x.shape[1]
    per_donor = (n - 1) * (n - 1)
    triples = n * per_donor
    for b in _range(batch):
        for j in range(n):
            last[b, j] = 0
        for t in range(steps):
            k = int(uniforms[b, t, 0] * triples)
            d = k // per_donor
            rest = k - d * per_donor
            r = rest // (n - 1)
            o = rest - r * (n - 1)
            if r >= d:
                r += 1
            if o >= d:
                o += 1
            xd = x[b, d]
            xr = x[b, r]
            action = 1 if uniforms[b, t, 1] < pc_flat[b, ACTION_CONTEXTS * d + _action_context(xd, xr)] else 0
            signal = 1 if uniforms[b, t, 2] < so_flat[b, SIGNAL_CONTEXTS * o + _signal_context(action, xd, xr)] else 0
            if action == 1:
                given[b, d] += 1.0
                received[b, r] += 1.0
            # time spent good: x_d held its old value from last[b, d] through interaction t
            good[b, d] += xd * (t + 1 - last[b, d])
            last[b, d] = t + 1
            x[b, d] = signal
            if record:
                rec[0, b, t] = d
                rec[1, b, t] = r
                rec[2, b, t] = o
                rec[3, b, t] = xd
                rec[4, b, t] = xr
                rec[5, b, t] = action
                rec[6, b, t] = signal
        for j in range(n):
            good[b, j] += x[b, j] * (steps - last[b, j])


RULES = {"single": 0, "majority": 1, "quorum": 2}


def formed_uniforms(observers: int) -> int:
    """Uniforms per interaction of ``play_formed_chunk``: ``3 + 3k``."""
    return 3 + 3 * observers


def _play_formed(pc_flat, sp_flat, x, uniforms, given, received, good, last, record, rec, rec_obs,
                 observers, exclude_recipient, rule, quorum, q, eps):
    """Play one chunk in place under any formation rule (uniform layout in the module docstring).
    ``sp_flat (B, 8N)`` signal tables given the perceived action; ``uniforms (B, T, 3 + 3k)``;
    ``rec (6, B, T)`` int32 rows ``(d, r, x_d, x_r, a, new x_d)`` and ``rec_obs (3, B, T, k)``
    int32 ``(observers, signals, perceived)`` when ``record``."""
    batch, steps = uniforms.shape[0], uniforms.shape[1]
    n = x.shape[1]
    pairs = n * (n - 1)
    pool = n - 2 if exclude_recipient else n - 1
    for b in _range(batch):
        # the excluded agents, ascending: the donor, the recipient if it may not observe, the observers drawn
        excluded = np.empty(observers + 2, dtype=np.int64)
        for j in range(n):
            last[b, j] = 0
        for t in range(steps):
            u = uniforms[b, t]
            k = int(u[0] * pairs)
            d = k // (n - 1)
            r = k - d * (n - 1)
            r += r >= d
            xd = x[b, d]
            xr = x[b, r]
            action = 1 if u[1] < pc_flat[b, ACTION_CONTEXTS * d + _action_context(xd, xr)] else 0
            if action == 1:
                given[b, d] += 1.0
                received[b, r] += 1.0
            new = xd
            if u[2] < q:
                size = 1
                excluded[0] = d
                if exclude_recipient:
                    excluded[0] = min(r, d)
                    excluded[1] = max(r, d)
                    size = 2
                count = 0
                for i in range(observers):
                    o = int(u[3 + 3 * i] * (pool - i))
                    for m in range(size):  # the o-th agent not excluded
                        o += o >= excluded[m]
                    m = size
                    while m > 0 and excluded[m - 1] > o:  # insert o, keeping the order
                        excluded[m] = excluded[m - 1]
                        m -= 1
                    excluded[m] = o
                    size += 1
                    perceived = action ^ (u[4 + 3 * i] < eps)
                    p = sp_flat[b, SIGNAL_CONTEXTS * o + _signal_context(perceived, xd, xr)]
                    signal = 1 if u[5 + 3 * i] < p else 0
                    count += signal
                    if record:
                        rec_obs[0, b, t, i] = o
                        rec_obs[1, b, t, i] = signal
                        rec_obs[2, b, t, i] = perceived
                if rule == 1:
                    if 2 * count > observers:
                        new = 1
                    elif 2 * count < observers:
                        new = 0
                elif rule == 2:
                    new = 1 if count >= quorum else 0
                else:
                    new = count
            elif record:
                for i in range(observers):
                    rec_obs[0, b, t, i] = -1
                    rec_obs[1, b, t, i] = 0
                    rec_obs[2, b, t, i] = 0
            good[b, d] += xd * (t + 1 - last[b, d])
            last[b, d] = t + 1
            x[b, d] = new
            if record:
                rec[0, b, t] = d
                rec[1, b, t] = r
                rec[2, b, t] = xd
                rec[3, b, t] = xr
                rec[4, b, t] = action
                rec[5, b, t] = new
        for j in range(n):
            good[b, j] += x[b, j] * (steps - last[b, j])


if numba is not None:
    _range = numba.prange
    _serial = numba.njit(cache=True, nogil=True)(_play)
    _parallel = numba.njit(cache=True, nogil=True, parallel=True)(_play)
    _formed_serial = numba.njit(cache=True, nogil=True)(_play_formed)
    _formed_parallel = numba.njit(cache=True, nogil=True, parallel=True)(_play_formed)
else:  # pragma: no cover
    _range = range
    _serial = _parallel = _play
    _formed_serial = _formed_parallel = _play_formed


def play_chunk(pc_flat, so_flat, x, uniforms, given, received, good, record):
    """Run the loop over one chunk; returns the records ``(7, B, T)`` int32 (empty unless ``record``)."""
    batch, steps = uniforms.shape[:2]
    rec = np.empty((7, batch, steps) if record else (7, 1, 1), dtype=np.int32)
    last = np.empty(x.shape, dtype=np.int64)
    run = _parallel if batch >= PARALLEL_BATCH else _serial
    run(pc_flat, so_flat, x, uniforms, given, received, good, last, record, rec)
    return rec


def play_formed_chunk(pc_flat, sp_flat, x, uniforms, given, received, good, record, observers, exclude_recipient,
                      rule, quorum, q, eps):
    """Run ``_play_formed`` over one chunk (``rule`` a value of ``RULES``, ``quorum`` 0 unless quorum);
    returns ``(rec (6, B, T), rec_obs (3, B, T, k))`` int32 (empty unless ``record``)."""
    batch, steps = uniforms.shape[:2]
    rec = np.empty((6, batch, steps) if record else (6, 1, 1), dtype=np.int32)
    rec_obs = np.empty((3, batch, steps, observers) if record else (3, 1, 1, observers), dtype=np.int32)
    last = np.empty(x.shape, dtype=np.int64)
    run = _formed_parallel if batch >= PARALLEL_BATCH else _formed_serial
    run(pc_flat, sp_flat, x, uniforms, given, received, good, last, record, rec, rec_obs,
        observers, exclude_recipient, rule, quorum, float(q), float(eps))
    return rec, rec_obs


def warm_up(parallel: bool = False, formed: bool = False) -> None:
    """Compile (or load from numba's cache) the loop before anything is timed (``formed``: the loop
    of ``play_formed_chunk`` too)."""
    batch = PARALLEL_BATCH if parallel else 1
    x = np.ones((batch, 3), dtype=np.int64)
    zeros = np.zeros((batch, 3))
    play_chunk(np.zeros((batch, 12)), np.zeros((batch, 24)), x, np.zeros((batch, 1, 3)), zeros, zeros.copy(),
               zeros.copy(), False)
    if formed:
        play_formed_chunk(np.zeros((batch, 12)), np.zeros((batch, 24)), x, np.zeros((batch, 1, 6)), zeros, zeros.copy(),
                          zeros.copy(), False, 1, False, 0, 0, 1.0, 0.0)

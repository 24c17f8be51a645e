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
``recigrad.game.contexts`` (compiled into the loop), and the record rows follow
``recigrad.dynamics.records.FIELDS``.
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


if numba is not None:
    _range = numba.prange
    _serial = numba.njit(cache=True, nogil=True)(_play)
    _parallel = numba.njit(cache=True, nogil=True, parallel=True)(_play)
else:  # pragma: no cover
    _range = range
    _serial = _parallel = _play


def play_chunk(pc_flat, so_flat, x, uniforms, given, received, good, record):
    """Run the loop over one chunk; returns the records ``(7, B, T)`` int32 (empty unless ``record``)."""
    batch, steps = uniforms.shape[:2]
    rec = np.empty((7, batch, steps) if record else (7, 1, 1), dtype=np.int32)
    last = np.empty(x.shape, dtype=np.int64)
    run = _parallel if batch >= PARALLEL_BATCH else _serial
    run(pc_flat, so_flat, x, uniforms, given, received, good, last, record, rec)
    return rec


def warm_up(parallel: bool = False) -> None:
    """Compile (or load from numba's cache) the loop before anything is timed."""
    batch = PARALLEL_BATCH if parallel else 1
    x = np.ones((batch, 3), dtype=np.int64)
    zeros = np.zeros((batch, 3))
    play_chunk(np.zeros((batch, 12)), np.zeros((batch, 24)), x, np.zeros((batch, 1, 3)), zeros, zeros.copy(),
               zeros.copy(), False)

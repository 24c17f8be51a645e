"""Thread control for torch, in one place.

- ``one_thread()``: a context manager (and decorator, ``@one_thread()``) that runs
  its body on one torch thread and restores the previous count.  The exact chain's
  batched LU solves need it (see ``recigrad.dynamics.exact``), and the many small
  tensor operations of the solvers and the baselines are faster on one thread.
- ``from_environment()``: the thread count the command line uses, read from
  ``RECIGRAD_THREADS`` and validated (docs/model.md §10: bad input gets one line).
- ``configured()``: a context manager (and decorator) that runs its body on the
  library's thread count and restores the previous one: the count given to
  ``set_threads(n)`` (also ``recigrad.set_threads``), else ``RECIGRAD_THREADS``,
  else 1.  Training, simulation and evaluation run inside it, so that a library
  call is as fast as the command line and gives the same numbers.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import torch

from recigrad.errors import ConfigError

VARIABLE = "RECIGRAD_THREADS"
DEFAULT = 1  # the work is many small tensor operations: on a busy machine extra threads only contend
_chosen: int | None = None  # set by set_threads; None: RECIGRAD_THREADS, else DEFAULT


def max_threads() -> int:
    """Largest thread count accepted: four per CPU (far more only slows torch down,
    and absurd counts crash it), at least 4."""
    return 4 * max(1, os.cpu_count() or 1)


@contextmanager
def one_thread():
    """Batched LU solves on several threads fail in torch's CPU build here
    (oneMKL rejects the pivots, 'Pivots given to lu_solve must all be >= 1'),
    and are slower anyway: one thread per solve, batched."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def parse(text: str) -> int:
    """A thread count from its text: a whole number from 1 to ``max_threads()``.

    Args:
        text: the value as written (surrounding spaces are ignored).

    Returns:
        The count.

    Raises:
        ConfigError: anything else (``abc``, ``0``, ``-1``, ``1.5``, too many).
    """
    limit = max_threads()
    stripped = text.strip()
    if re.fullmatch(r"[0-9]+", stripped) and 1 <= int(stripped) <= limit:
        return int(stripped)
    raise ConfigError(f"{VARIABLE} must be a whole number from 1 to {limit}, got {text!r}")


def from_environment(environ=None) -> int:
    """Torch threads for the command line, from ``RECIGRAD_THREADS``.

    Args:
        environ: the environment mapping (``os.environ`` when ``None``).

    Returns:
        The validated count; ``DEFAULT`` (1) when the variable is unset or empty.

    Raises:
        ConfigError: one line naming the variable, the allowed range and the value.
    """
    text = (os.environ if environ is None else environ).get(VARIABLE, "")
    return DEFAULT if not text.strip() else parse(text)


def set_threads(count: int | None) -> None:
    """Choose the library's torch thread count (``configured()`` uses it from now on).

    Args:
        count: a whole number from 1 to ``max_threads()``; ``None`` goes back to
            ``RECIGRAD_THREADS`` (default 1).

    Raises:
        ConfigError: any other value (one line).
    """
    global _chosen
    limit = max_threads()
    if count is not None and not (isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= limit):
        raise ConfigError(f"set_threads: the thread count must be a whole number from 1 to {limit} or None, got {count!r}")
    _chosen = count


def chosen() -> int:
    """The library's thread count: ``set_threads``'s, else ``RECIGRAD_THREADS``'s, else 1."""
    return _chosen if _chosen is not None else from_environment()


@contextmanager
def configured():
    """Run the body on ``chosen()`` torch threads and restore the previous count after
    (also on error).  Usable as a decorator: ``@configured()``."""
    wanted = chosen()
    before = torch.get_num_threads()
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)

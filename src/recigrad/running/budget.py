"""What a command may ask for, checked before anything is allocated (docs/model.md §10).

One job: estimate the memory a command will need from its sizes (agents ``N``, populations,
interactions per iteration) and refuse, with one line giving the estimate and the limit, work
beyond ``--max-memory`` (default: half of the machine's RAM).

The estimates are upper-bound fits of measured peak resident memory (Linux, CPU, float64):

- the process itself (Python, torch, numba): about 400 MB;
- ``simulate``: about 26 kB per population plus 200 bytes per agent and population
  (random numbers drawn in chunks, tallies), and under a formation of reputations other than
  the default one 25 kB more per observer and population (``3 + 3k`` uniforms per interaction
  instead of 3, in chunks of 512, two chunks alive at a time; measured: 3.9 GB peak for 4000
  populations of 64 agents, 60 observers);
- ``train``: per population, the evaluation's exact chain (``N <= 12``: dense ``2^N x 2^N``
  matrices, about four copies of ``8 * 4^N`` bytes), or the mean-field model's ``O(N)`` vectors;
  the NashConv of all-learner regimes (best responses over 4096 tables); the estimators
  (4 kB per agent); the learners' views (4 kB per agent and learner where they are built:
  one learner, several observers, the recipient out of the pool, the exact model; 16 bytes
  per agent and learner where a society's views are solved without being built,
  docs/model.md §6 "Societies at scale": measured 447 MB peak for 1024 learners, 466 MB for one
  learner among 10,000, both with ``pool = false``); and the records of one iteration
  (400 bytes per interaction).  The estimators' pooling (``EstimatorConfig.pool``) compares every
  pair of agents where it is ``O(N^2)``; that is not counted here.
"""

from __future__ import annotations

import os
import re

from recigrad.errors import ConfigError

MAX_BATCH = 10**6  # populations: --batch of simulate, --seeds of train and bench
BASE_BYTES = 400 * 2**20
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """``4G``, ``512M``, ``100000K`` or a number of bytes; ``ValueError`` (one line) otherwise."""
    match = re.fullmatch(r"([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*([KMGT]?)(?:I?B)?", text.strip().upper()) if text.isascii() else None
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"expected a memory size such as 4G, 512M or 1000000 (bytes), got {text[:40]!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def machine_memory() -> int | None:
    """Total RAM in bytes (``/proc/meminfo`` or ``sysconf``), or ``None`` when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_limit() -> int:
    total = machine_memory()
    return total // 2 if total else 8 * 2**30


def simulate_bytes(n: int, batch: int, game=None) -> int:
    """``simulate`` of ``batch`` populations of ``n`` agents; ``game`` (a ``Game``): its observers."""
    formed = 0 if game is None or game.plain_formation else 24_576 * game.observers
    return BASE_BYTES + batch * (26_000 + 200 * n + formed)


def exact_bytes(n: int) -> int:
    """``exact`` and ``reference``: the exact chain of one population (``N <= 12``) and the mean-field model."""
    return BASE_BYTES + _evaluation_bytes(n, 1)


def _evaluation_bytes(n: int, learners: int) -> int:
    """Per population: the evaluation of the learners' tables (exact chain or mean field), and
    NashConv where several agents learn."""
    chain = 4 * 8 * 4**n if n <= 12 else 2_000 * n
    nashconv = 4 * 4096 * 8 * n if learners > 1 else 0
    return chain + nashconv


def train_bytes(regime, seeds: int) -> int:
    """Peak memory of training ``regime`` with ``seeds`` populations at once (a regime or anything
    with ``population`` and ``train``)."""
    n, learners = regime.population.n, len(regime.population.learners)
    per_seed = _evaluation_bytes(n, learners) + 400 * regime.train.interactions + 4_000 * n
    per_seed += n * max(learners, 1) * (16 if _views_unbuilt(regime, learners) else 4_000)
    return BASE_BYTES + seeds * per_seed


def _views_unbuilt(regime, learners: int) -> bool:
    """Whether a society's views are solved without being built (``recigrad.learning.view.shares_observers``)."""
    game = getattr(regime, "game", None)
    if learners < 2 or game is None:
        return False
    from recigrad.learning.view import shares_observers

    return regime.train.learner_model(game, regime.population.n) == "meanfield" and shares_observers(game)


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"


def require(what: str, estimate: int, limit: int | None = None) -> None:
    """Refuse (one line, with the estimate and the limit) work estimated beyond ``limit``
    (``None``: ``default_limit()``)."""
    limit = default_limit() if limit is None else limit
    if estimate > limit:
        raise ConfigError(f"{what} would need about {_gib(estimate)} of memory, more than the limit of {_gib(limit)}; "
                          "ask for fewer populations, agents or interactions, or raise --max-memory")

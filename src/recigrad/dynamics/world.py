"""The world: the stochastic donation game with public reputations (docs/model.md §1).

Batched over independent populations on the leading dimension.  One interaction:

1. donor ``d`` uniform over agents, recipient ``r`` uniform over the others;
2. a realised C with probability ``pc[d, x_d, x_r]`` (intended C times ``1 - e``:
   the execution error turns C into D, never D into C);
3. observer ``o`` uniform over agents other than ``d`` (the recipient included)
   reports "good" with probability ``so[o, a, x_d, x_r]`` (the emitted signal,
   flipped with probability ``mu``);
4. the observed signal becomes ``x_d``.

The tables given are observable ones (errors folded in, see ``recigrad.game``),
so one uniform draw decides the realised action and one the observed signal;
in distribution this is the two-stage rule of docs/model.md §1.

Three uniforms per interaction are drawn per population from its own
generator in fixed chunks of ``CHUNK`` interactions, so a population's run does
not depend on the batch it is in; the sequential loop over them is compiled
(``recigrad.dynamics.kernel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from recigrad.dynamics import kernel
from recigrad.dynamics.records import FIELDS, Records
from recigrad.dynamics.streams import Streams
from recigrad.game import DTYPE
from recigrad.util.threads import configured

CHUNK = 512


@dataclass
class Tally:
    """Per-agent counts over the played interactions, each ``(B, N)``."""

    given: torch.Tensor  # realised C as donor
    received: torch.Tensor  # realised C as recipient
    good: torch.Tensor  # interactions that began with the agent good
    interactions: int

    def payoff_per_round(self, b: float, c: float) -> torch.Tensor:
        """Mean payoff per round (``N`` interactions)."""
        n = self.given.shape[1]
        return (b * self.received - c * self.given) * n / max(self.interactions, 1)

    def good_fraction(self) -> torch.Tensor:
        return self.good / max(self.interactions, 1)


def initial_reputation(batch: int, n: int) -> torch.Tensor:
    """Everyone starts good."""
    return torch.ones(batch, n, dtype=torch.int64)


def play(
    pc: torch.Tensor,
    so: torch.Tensor,
    reputation: torch.Tensor,
    streams: Streams,
    interactions: int,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, Tally, Records | None]:
    """Play ``interactions`` interactions in every population.

    Args:
        pc: ``(B, N, 2, 2)`` observable action tables (probability of a realised C).
        so: ``(B, N, 2, 2, 2)`` observable signal tables (probability of an observed "good").
        reputation: ``(B, N)`` the public reputations (0/1); not modified.
        streams: one random stream per population (``len(streams) == B``), advanced.
        interactions: how many interactions each population plays.
        record: return the public records too.
        progress: called with the number of interactions after each chunk.

    Returns:
        ``(reputation, tally, records)``: the new reputations ``(B, N)`` int64, the
        ``Tally`` (fields ``(B, N)``) and, if ``record``, the ``Records`` (fields
        ``(B, interactions)``; agent indices int32, the rest uint8), else None.
    """
    batch, n = reputation.shape
    if len(streams) != batch:
        raise ValueError(f"{len(streams)} random streams for a batch of {batch}")
    pc_flat = np.ascontiguousarray(pc.detach().to(DTYPE).reshape(batch, n * 4).numpy())
    so_flat = np.ascontiguousarray(so.detach().to(DTYPE).reshape(batch, n * 8).numpy())
    x = reputation.to(torch.int64).numpy().copy()
    given, received, good = (np.zeros((batch, n)) for _ in range(3))
    parts: list[np.ndarray] = []
    done = 0
    while done < interactions:
        steps = min(CHUNK, interactions - done)
        uniforms = streams.uniform_numpy(steps, 3)
        rec = kernel.play_chunk(pc_flat, so_flat, x, uniforms, given, received, good, record)
        if record:
            parts.append(rec)
        done += steps
        if progress is not None:
            progress(steps)
    tally = Tally(*(torch.from_numpy(a) for a in (given, received, good)), interactions)
    records = None
    if record and parts:
        rec = torch.from_numpy(np.concatenate(parts, axis=2))
        records = Records(**{f: rec[i] if i < 3 else rec[i].to(torch.uint8) for i, f in enumerate(FIELDS)})
    return torch.from_numpy(x), tally, records


@configured()  # the library's thread count (recigrad.util.threads), as the command line's
def simulate(
    pc: torch.Tensor,
    so: torch.Tensor,
    seeds: list[int],
    interactions: int,
    burn_in: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[Tally, torch.Tensor]:
    """From everyone good, play ``burn_in`` interactions unrecorded, then
    ``interactions`` counted ones.

    Args:
        pc: ``(B, N, 2, 2)`` observable action tables.
        so: ``(B, N, 2, 2, 2)`` observable signal tables.
        seeds: one seed per population (``B`` of them); each has its own stream.
        interactions: interactions counted in the tally.
        burn_in: interactions played first and not counted.
        progress: called with the number of interactions after each chunk.

    Returns:
        ``(tally, reputation)``: the ``Tally`` of the counted interactions (fields
        ``(B, N)``) and the final reputations ``(B, N)`` int64.
    """
    batch, n = pc.shape[:2]
    streams = Streams(seeds, "world")
    x = initial_reputation(batch, n)
    if burn_in:
        x, _, _ = play(pc, so, x, streams, burn_in, progress=progress)
    x, tally, _ = play(pc, so, x, streams, interactions, progress=progress)
    return tally, x

"""The world: the stochastic donation game with public reputations (docs/model.md §1).

Batched over independent populations on the leading dimension.  One interaction
with the default game (``Game.plain_formation``):

1. donor ``d`` uniform over agents, recipient ``r`` uniform over the others;
2. a realised C with probability ``pc[d, x_d, x_r]`` (intended C times ``1 - e``:
   the execution error turns C into D, never D into C);
3. observer ``o`` uniform over agents other than ``d`` (the recipient included)
   reports "good" with probability ``so[o, a, x_d, x_r]`` (the emitted signal,
   flipped with probability ``mu``);
4. the observed signal becomes ``x_d``.

The tables given are observable ones (errors folded in, see ``recigrad.game``),
so one uniform draw decides the realised action and one the observed signal;
in distribution this is the two-stage rule of docs/model.md §1.  Three uniforms
per interaction.

Any other formation (``game``: ``k`` observers drawn without replacement from
the pool, observation with probability ``q``, each observer's perception error,
the aggregation) reads ``3 + 3k`` uniforms per interaction, in the layout of
``recigrad.dynamics.kernel``.  The perception is drawn explicitly (and recorded
in ``Records.perceived``), so the world un-folds the perception error from the
observable signal table it is given (``perceived_signal_table``); the law of an
observer's signal given the realised action is the same.

The uniforms are drawn per population from its own generator in fixed chunks of
``CHUNK`` interactions, so a population's run does not depend on the batch it
is in; the sequential loop over them is compiled (``recigrad.dynamics.kernel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from recigrad.dynamics import kernel
from recigrad.dynamics.records import Records
from recigrad.dynamics.streams import Streams
from recigrad.game import DTYPE, Game
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


def perceived_signal_table(so: torch.Tensor, perception_error: float) -> torch.Tensor:
    """The signal table given the *perceived* action, from the observable table ``so`` given the
    *realised* one (``recigrad.game.observable_signal`` folds ``eps = perception_error`` in as
    ``so[a] = (1 - eps) sp[a] + eps sp[1 - a]``; this solves the 2 x 2 system, determinant
    ``1 - 2 eps > 0``): ``sp[a] = ((1 - eps) so[a] - eps so[1 - a]) / (1 - 2 eps)``, clipped to
    ``[0, 1]`` against rounding.  ``so`` itself when ``eps = 0``.

    Args:
        so: ``(..., 2, 2, 2)`` observable signal tables (action on dim ``-3``).
        perception_error: ``eps`` in ``[0, 0.5)``.

    Returns:
        ``sp``, the same shape: ``(1 - mu) sig + mu (1 - sig)`` for tables made by ``observable``.
    """
    if not perception_error:
        return so
    eps = perception_error
    return (((1.0 - eps) * so - eps * so.flip(-3)) / (1.0 - 2.0 * eps)).clamp(0.0, 1.0)


def play(
    pc: torch.Tensor,
    so: torch.Tensor,
    reputation: torch.Tensor,
    streams: Streams,
    interactions: int,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
    game: Game | None = None,
) -> tuple[torch.Tensor, Tally, Records | None]:
    """Play ``interactions`` interactions in every population.

    Args:
        pc: ``(B, N, 2, 2)`` observable action tables (probability of a realised C).
        so: ``(B, N, 2, 2, 2)`` observable signal tables (probability of an observed "good" given the
            realised action, perception and assessment errors folded in: ``recigrad.game.observable``).
        reputation: ``(B, N)`` the public reputations (0/1); not modified.
        streams: one random stream per population (``len(streams) == B``), advanced.
        interactions: how many interactions each population plays.
        record: return the records too.
        progress: called with the number of interactions after each chunk.
        game: how reputations form (observers, aggregation, observation, perception error; its
            ``b, c, e, mu`` are not read, they are in the tables); None: the default game's.

    Returns:
        ``(reputation, tally, records)``: the new reputations ``(B, N)`` int64, the
        ``Tally`` (fields ``(B, N)``) and, if ``record``, the ``Records`` (fields
        ``(B, interactions[, k])``, dtypes ``recigrad.dynamics.records.RECORD_DTYPES``), else None.
    """
    if game is not None:
        game.require_public("the world of public reputations (recigrad.dynamics.world.play)")
    batch, n = reputation.shape
    if len(streams) != batch:
        raise ValueError(f"{len(streams)} random streams for a batch of {batch}")
    if game is not None and not game.plain_formation:
        game.check_population(n)
        return _play_formed(pc, so, reputation, streams, interactions, record, progress, game)
    pc_flat = np.ascontiguousarray(pc.detach().to(DTYPE).reshape(batch, n * 4).numpy())
    so_flat = np.ascontiguousarray(so.detach().to(DTYPE).reshape(batch, n * 8).numpy())
    x = reputation.to(torch.int64).numpy().copy()
    given, received, good = (np.zeros((batch, n)) for _ in range(3))
    parts = _chunks(streams, interactions, 3, progress,
                    lambda uniforms: kernel.play_chunk(pc_flat, so_flat, x, uniforms, given, received, good, record))
    tally = Tally(*(torch.from_numpy(a) for a in (given, received, good)), interactions)
    records = None
    if record and parts:
        rec = torch.from_numpy(np.concatenate(parts, axis=2))  # rows (d, r, o, x_d, x_r, a, signal)
        bits = rec[3:].to(torch.uint8)
        records = Records(donor=rec[0], recipient=rec[1], observers=rec[2].unsqueeze(-1), donor_rep=bits[0],
                          recipient_rep=bits[1], action=bits[2], signals=bits[3].unsqueeze(-1),
                          perceived=bits[2].unsqueeze(-1).clone(), reputation=bits[3].clone())
    return torch.from_numpy(x), tally, records


def _chunks(streams: Streams, interactions: int, width: int, progress, run) -> list:
    """Play ``interactions`` in chunks of at most ``CHUNK``: ``run(uniforms)`` on each chunk's
    ``(B, steps, width)`` uniforms, drawn per population from its stream; the chunks' results."""
    parts, done = [], 0
    while done < interactions:
        steps = min(CHUNK, interactions - done)
        parts.append(run(streams.uniform_numpy(steps, width)))
        done += steps
        if progress is not None:
            progress(steps)
    return parts


def _play_formed(pc, so, reputation, streams, interactions, record, progress, game: Game):
    """``play`` under a formation other than the default one (``recigrad.dynamics.kernel.play_formed_chunk``)."""
    batch, n = reputation.shape
    k = game.observers
    pc_flat = np.ascontiguousarray(pc.detach().to(DTYPE).reshape(batch, n * 4).numpy())
    sp = perceived_signal_table(so.detach().to(DTYPE), game.perception_error)
    sp_flat = np.ascontiguousarray(sp.reshape(batch, n * 8).numpy())
    x = reputation.to(torch.int64).numpy().copy()
    given, received, good = (np.zeros((batch, n)) for _ in range(3))
    rule, quorum = kernel.RULES[game.aggregation], game.quorum or 0
    parts = _chunks(streams, interactions, kernel.formed_uniforms(k), progress,
                    lambda uniforms: kernel.play_formed_chunk(pc_flat, sp_flat, x, uniforms, given, received, good, record, k,
                                                              not game.recipient_observes, rule, quorum, game.observation,
                                                              game.perception_error))
    tally = Tally(*(torch.from_numpy(a) for a in (given, received, good)), interactions)
    records = None
    if record and parts:
        rec = torch.from_numpy(np.concatenate([p[0] for p in parts], axis=2))  # (d, r, x_d, x_r, a, new x_d)
        obs = torch.from_numpy(np.concatenate([p[1] for p in parts], axis=2))  # (observers, signals, perceived)
        bits = rec[2:].to(torch.uint8)
        records = Records(donor=rec[0], recipient=rec[1], observers=obs[0], donor_rep=bits[0], recipient_rep=bits[1],
                          action=bits[2], signals=obs[1].to(torch.uint8), perceived=obs[2].to(torch.uint8),
                          reputation=bits[3])
    return torch.from_numpy(x), tally, records


@configured()  # the library's thread count (recigrad.util.threads), as the command line's
def simulate(
    pc: torch.Tensor,
    so: torch.Tensor,
    seeds: list[int],
    interactions: int,
    burn_in: int = 0,
    progress: Callable[[int], None] | None = None,
    game: Game | None = None,
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
        game: how reputations form (``play``); None: the default game's.

    Returns:
        ``(tally, reputation)``: the ``Tally`` of the counted interactions (fields
        ``(B, N)``) and the final reputations ``(B, N)`` int64.
    """
    batch, n = pc.shape[:2]
    streams = Streams(seeds, "world")
    x = initial_reputation(batch, n)
    if burn_in:
        x, _, _ = play(pc, so, x, streams, burn_in, progress=progress, game=game)
    x, tally, _ = play(pc, so, x, streams, interactions, progress=progress, game=game)
    return tally, x

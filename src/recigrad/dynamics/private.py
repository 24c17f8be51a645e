"""The private-assessment world: every agent keeps its own view of every agent
(docs/model.md §1, "Private assessment: one interaction").

Batched over independent populations on the leading dimension.  The state is the
views ``M (B, N, N)`` int8 (``M[b, i, j]`` is agent ``i``'s view of agent ``j``, 1 good;
``M[b, i, i]`` the agent's own standing in its own eyes) and, under the permutation
schedule, the current round's (donor, recipient) pairs and how many of them were played.

Three random streams per population (``recigrad.dynamics.streams``), so a seed gives
the same run alone or in a batch:

- ``world``: 3 uniforms per interaction, as the public world's default game draws
  them: the first picks (donor, recipient) exactly as ``recigrad.dynamics.kernel`` does
  (under the uniform schedule; so the same seed gives the same donors and recipients as
  the public world), the second decides the intended and the realised action, the third
  is not read;
- ``private``: ``recigrad.dynamics.private_kernel.private_uniforms`` per interaction
  (who observes, perception errors, assessments, gossip);
- ``schedule``: under the permutation schedule, each round's order of donors and its
  derangement of recipients (``round_pairs``);

and one more, ``initial views``, read once when ``initial_good < 1``.  The loop is
compiled (``recigrad.dynamics.private_kernel``); ``recigrad.dynamics.private_plain``
reads the same uniforms literally, an independent check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from recigrad.dynamics import private_kernel
from recigrad.dynamics.streams import Streams
from recigrad.game import DTYPE, Game
from recigrad.game.rules import observable_action, observable_signal
from recigrad.util.threads import configured

CHUNK = 512  # interactions per chunk at most
CHUNK_UNIFORMS = 1 << 16  # and at most this many private uniforms per population and chunk


@dataclass
class PrivateState:
    """The views ``(B, N, N)`` int8 and the permutation schedule's place: ``round_pairs (B, N, 2)``
    int64, the current round's (donor, recipient) pairs in order, of which ``position`` are played
    (``N``: a new round is drawn next)."""

    views: torch.Tensor
    round_pairs: np.ndarray
    position: int


@dataclass
class PrivateTally:
    """Counts over the played interactions: per agent ``(B, N)`` float64 ``given`` (realised C as
    donor), ``received`` (realised C as recipient), ``donated`` (times donor) and ``good`` (the number
    of *other* agents viewing it good, summed over the interactions' starts); per population ``(B,)``
    ``agree`` (the agreement numerator ``S`` of ``recigrad.dynamics.private_kernel``, summed likewise)."""

    given: torch.Tensor
    received: torch.Tensor
    donated: torch.Tensor
    good: torch.Tensor
    agree: torch.Tensor
    interactions: int

    def payoff_per_round(self, b: float, c: float) -> torch.Tensor:
        """Mean payoff per round of ``N`` interactions (under either schedule), ``(B, N)``."""
        n = self.given.shape[1]
        return (b * self.received - c * self.given) * n / max(self.interactions, 1)


@dataclass
class PrivateRecords:
    """What happened, per interaction ``(B, T)``: ``donor``, ``recipient`` int32, ``intended`` and
    ``action`` (realised) uint8 (1 = C); and, **private** (each observer's own data: a learner may read
    only its own agents' entries), ``assessment (B, T, N)`` int8, each agent's new view of the donor
    (1 good, 0 bad, -1 did not observe), and ``perceived (B, T, N)`` int8, the action each observer
    perceived (-1 did not observe); ``views (B, T, N, 2)`` int8, each agent's views of the donor and of the
    recipient before the interaction; ``gossip (B, T, G, 5)`` int32, the interaction's gossip events in order
    (``G = ceil(gossip)`` slots, none without gossip): speaker, listener, subject, the view told, adopted (1 or
    0); -1 in an unused slot.  What each learner may read of them is
    ``recigrad.dynamics.private_records.observations``."""

    donor: torch.Tensor
    recipient: torch.Tensor
    intended: torch.Tensor
    action: torch.Tensor
    assessment: torch.Tensor
    perceived: torch.Tensor
    views: torch.Tensor
    gossip: torch.Tensor

    @property
    def observed(self) -> torch.Tensor:
        """``(B, T, N)`` bool: which agents observed each interaction (donor and recipient always)."""
        return self.assessment >= 0


@dataclass
class PrivateStreams:
    """The streams of a batch, one generator per population in each (module docstring)."""

    world: Streams
    private: Streams
    schedule: Streams

    def __len__(self) -> int:
        return len(self.world)


def private_streams(seeds: list[int]) -> PrivateStreams:
    """The ``world``, ``private`` and ``schedule`` streams of ``seeds`` (``world`` is the public world's)."""
    return PrivateStreams(Streams(seeds, "world"), Streams(seeds, "private"), Streams(seeds, "schedule"))


def initial_state(seeds: list[int], n: int, game: Game) -> PrivateState:
    """Every view (self-views included) good independently with probability ``game.initial_good``,
    from the stream ``initial views`` (not drawn when it is 1: everyone good in everyone's eyes)."""
    if game.initial_good >= 1.0:
        views = np.ones((len(seeds), n, n), dtype=np.int8)
    else:
        views = (Streams(seeds, "initial views").uniform_numpy(n, n) < game.initial_good).astype(np.int8)
    return PrivateState(torch.from_numpy(views), np.zeros((len(seeds), n, 2), dtype=np.int64), n)


def derangement(generator: np.random.Generator, n: int) -> np.ndarray:
    """A uniformly random permutation of ``range(n)`` with no fixed point: permutations drawn
    (``generator.permutation``) until one has none (about ``e = 2.72`` tries)."""
    while True:
        sigma = generator.permutation(n)
        if not np.any(sigma == np.arange(n)):
            return sigma


def round_pairs(generator: np.random.Generator, n: int) -> np.ndarray:
    """One round of the permutation schedule, ``(N, 2)`` int64 (donor, recipient) in order: the
    donors in a random order (``generator.permutation``), each giving to its image under a random
    derangement (``derangement``, drawn next)."""
    order = generator.permutation(n)
    sigma = derangement(generator, n)
    return np.stack([order, sigma[order]], axis=1).astype(np.int64)


def uniform_pairs(u0: np.ndarray, n: int) -> np.ndarray:
    """(donor, recipient) ``(..., 2)`` int64 from the first world uniform, as the public world's
    default game decodes it (``recigrad.dynamics.kernel``: a triple among ``N (N-1)^2``, whose
    observer this world ignores)."""
    per_donor = (n - 1) * (n - 1)
    k = (u0 * (n * per_donor)).astype(np.int64)
    d = k // per_donor
    r = (k - d * per_donor) // (n - 1)
    r += r >= d
    return np.stack([d, r], axis=-1)


def _permutation_pairs(state: PrivateState, streams: PrivateStreams, steps: int) -> np.ndarray:
    """The next ``steps`` (donor, recipient) pairs of the permutation schedule, advancing ``state``."""
    batch, n = state.round_pairs.shape[:2]
    out = np.empty((batch, steps, 2), dtype=np.int64)
    filled = 0
    while filled < steps:
        if state.position == n:
            state.round_pairs = np.stack([round_pairs(g, n) for g in streams.schedule.generators])
            state.position = 0
        take = min(n - state.position, steps - filled)
        out[:, filled:filled + take] = state.round_pairs[:, state.position:state.position + take]
        filled += take
        state.position += take
    return out


def check_tables(act: torch.Tensor, sig: torch.Tensor, game: Game) -> None:
    """Refuse a public game and tables of mismatched shapes (``act (B, N, 2, 2)``, ``sig (B, N, 2, 2, 2)``)."""
    if not game.private:
        raise ValueError("recigrad.dynamics.private plays private assessment; got assessment = public "
                         "(use recigrad.dynamics.world)")
    if act.dim() != 4 or act.shape[2:] != (2, 2) or sig.shape != (*act.shape[:2], 2, 2, 2):
        raise ValueError(f"tables of shapes act {tuple(act.shape)}, sig {tuple(sig.shape)}; "
                         "need act (B, N, 2, 2) and sig (B, N, 2, 2, 2)")
    if act.shape[1] < 2:
        raise ValueError(f"private assessment needs N >= 2 agents, got N = {act.shape[1]}")


def play(
    act: torch.Tensor,
    sig: torch.Tensor,
    state: PrivateState,
    streams: PrivateStreams,
    interactions: int,
    game: Game,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[PrivateState, PrivateTally, PrivateRecords | None]:
    """Play ``interactions`` interactions in every population.

    Args:
        act: ``(B, N, 2, 2)`` intended action tables ``act[x_own, x_rec]`` (the donor reads its
            self-view and its view of the recipient); the execution error ``game.e`` is applied here.
        sig: ``(B, N, 2, 2, 2)`` intended signal tables ``sig[a, x_d, x_r]`` (the observer's views);
            the perception error and the assessment error ``game.mu`` are applied here.
        state: the views and the schedule's place; not modified.
        streams: ``private_streams`` of the batch's seeds, advanced.
        interactions: how many interactions each population plays.
        game: a private game (``q``, errors, schedule, gossip).
        record: return the records too.
        progress: called with the number of interactions after each chunk.

    Returns:
        ``(state, tally, records)``: the new state, the ``PrivateTally`` of these interactions and,
        if ``record``, the ``PrivateRecords`` (else None).
    """
    check_tables(act, sig, game)
    batch, n = act.shape[:2]
    if len(streams) != batch or state.views.shape != (batch, n, n):
        raise ValueError(f"{len(streams)} random streams and views {tuple(state.views.shape)} for a batch of {batch} "
                         f"populations of {n}")
    act64 = act.detach().to(DTYPE)
    act_flat = np.ascontiguousarray(act64.reshape(batch, n * 4).numpy())
    pc_flat = np.ascontiguousarray(observable_action(act64, game.e).reshape(batch, n * 4).numpy())
    so_flat = np.ascontiguousarray(observable_signal(sig.detach().to(DTYPE), game.mu).reshape(batch, n * 8).numpy())
    views = state.views.to(torch.int8).numpy().copy()  # played in place, shared with the new state
    state = PrivateState(torch.from_numpy(views), state.round_pairs.copy(), state.position)
    given, received, donated, good = (np.zeros((batch, n)) for _ in range(4))
    agree = np.zeros(batch)
    width = private_kernel.private_uniforms(n, game.gossip)
    chunk = max(1, min(CHUNK, CHUNK_UNIFORMS // width))
    parts, done = [], 0
    while done < interactions:
        steps = min(chunk, interactions - done)
        world = streams.world.uniform_numpy(steps, 3)
        if game.schedule == "permutation":
            pairs = _permutation_pairs(state, streams, steps)
        else:
            pairs = uniform_pairs(world[:, :, 0], n)
        private = streams.private.uniform_numpy(steps, width)
        out = private_kernel.play_chunk(act_flat, pc_flat, so_flat, views, pairs, world, private, game.observation,
                                        game.perception_error, game.gossip, game.gossip_trust, given, received, donated,
                                        good, agree, record)
        if record:
            parts.append(out)
        done += steps
        if progress is not None:
            progress(steps)
    tally = PrivateTally(*(torch.from_numpy(a) for a in (given, received, donated, good, agree)), interactions)
    records = None
    if record and parts:
        rec = torch.from_numpy(np.concatenate([p[0] for p in parts], axis=2))
        records = PrivateRecords(donor=rec[0], recipient=rec[1], intended=rec[2].to(torch.uint8),
                                 action=rec[3].to(torch.uint8),
                                 assessment=torch.from_numpy(np.concatenate([p[1] for p in parts], axis=1)),
                                 perceived=torch.from_numpy(np.concatenate([p[2] for p in parts], axis=1)),
                                 views=torch.from_numpy(np.concatenate([p[3] for p in parts], axis=1)),
                                 gossip=torch.from_numpy(np.concatenate([p[4] for p in parts], axis=1)))
    return state, tally, records


@configured()  # the library's thread count (recigrad.util.threads), as the command line's
def simulate(
    act: torch.Tensor,
    sig: torch.Tensor,
    seeds: list[int],
    interactions: int,
    game: Game,
    burn_in: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[PrivateTally, PrivateState]:
    """From the initial views (``initial_state``), play ``burn_in`` interactions unrecorded, then
    ``interactions`` counted ones; the ``PrivateTally`` of the counted ones and the final state.

    Args:
        act: ``(B, N, 2, 2)`` intended action tables.
        sig: ``(B, N, 2, 2, 2)`` intended signal tables.
        seeds: one seed per population (``B`` of them).
        interactions: interactions counted in the tally.
        game: a private game.
        burn_in: interactions played first and not counted.
        progress: called with the number of interactions after each chunk.
    """
    check_tables(act, sig, game)
    streams = private_streams(seeds)
    state = initial_state(seeds, act.shape[1], game)
    if burn_in:
        state, _, _ = play(act, sig, state, streams, burn_in, game, progress=progress)
    state, tally, _ = play(act, sig, state, streams, interactions, game, progress=progress)
    return tally, state


def private_bytes(n: int, batch: int, game: Game) -> int:
    """Memory of ``simulate`` per batch, beyond the program's base: per population the views,
    the tallies and one chunk of uniforms and pairs."""
    width = private_kernel.private_uniforms(n, game.gossip)
    chunk = max(1, min(CHUNK, CHUNK_UNIFORMS // width))
    return batch * (n * n + 64 * n + 8 * chunk * (width + 5) + 2_000)

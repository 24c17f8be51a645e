"""The world: the stochastic donation game with public reputations (SPEC section 1).

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
in distribution this is the two-stage rule of the SPEC.

Three uniforms per interaction are drawn per population from its own
generator in fixed chunks of ``CHUNK`` interactions, so a population's run does
not depend on the batch it is in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from recigrad.game import DTYPE
from recigrad.streams import Streams

CHUNK = 512


@dataclass
class Records:
    """Public records of interactions, each field ``(B, T)``: donor, recipient,
    observer (agent indices), the donor's and recipient's reputations before the
    interaction, the realised action (1 = C) and the observed signal (1 = good)."""

    donor: torch.Tensor
    recipient: torch.Tensor
    observer: torch.Tensor
    donor_rep: torch.Tensor
    recipient_rep: torch.Tensor
    action: torch.Tensor
    signal: torch.Tensor

    FIELDS = ("donor", "recipient", "observer", "donor_rep", "recipient_rep", "action", "signal")

    @staticmethod
    def cat(parts: list[Records]) -> Records:
        return Records(*(torch.cat([getattr(p, f) for p in parts], dim=1) for f in Records.FIELDS))

    def __len__(self) -> int:
        return self.donor.shape[1]


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


def _draw_matches(u: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Donor uniform; recipient and observer uniform over the agents other than the donor."""
    k = (u * (n * (n - 1) * (n - 1))).long()
    donor, rest = k // ((n - 1) * (n - 1)), k % ((n - 1) * (n - 1))
    recipient, observer = rest // (n - 1), rest % (n - 1)
    recipient = recipient + (recipient >= donor)
    observer = observer + (observer >= donor)
    return donor, recipient, observer


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

    ``pc (B, N, 2, 2)`` and ``so (B, N, 2, 2, 2)`` are observable tables,
    ``reputation (B, N)`` the public reputations (0/1).  Returns the new
    reputations, the tally and, if ``record``, the public records.
    """
    batch, n = reputation.shape
    if len(streams) != batch:
        raise ValueError(f"{len(streams)} random streams for a batch of {batch}")
    pc_flat = pc.detach().to(DTYPE).reshape(batch, n * 4).contiguous()
    so_flat = so.detach().to(DTYPE).reshape(batch, n * 8).contiguous()
    x = reputation.to(torch.int64).clone()
    given = torch.zeros(batch, n, dtype=DTYPE)
    received = torch.zeros(batch, n, dtype=DTYPE)
    good = torch.zeros(batch, n, dtype=DTYPE)
    parts: list[Records] = []
    done = 0
    while done < interactions:
        steps = min(CHUNK, interactions - done)
        u = streams.uniform(steps, 3)
        donor, recipient, observer = _draw_matches(u[..., 0], n)
        x_start = x.clone()
        codes, signals = _run_chunk(pc_flat, so_flat, x, donor, recipient, observer, u[..., 1], u[..., 2])
        # codes = 4 a + 2 x_d + x_r, as (B, T)
        action = codes >= 4
        donor_rep = (codes // 2) % 2
        given.scatter_add_(1, donor, action.to(DTYPE))
        received.scatter_add_(1, recipient, action.to(DTYPE))
        # time spent good: every state from the chunk's start up to its last interaction
        remaining = torch.arange(steps - 1, -1, -1, dtype=DTYPE)
        good += steps * x_start.to(DTYPE)
        good.scatter_add_(1, donor, (signals - donor_rep).to(DTYPE) * remaining)
        if record:
            parts.append(
                Records(
                    donor.to(torch.int32),
                    recipient.to(torch.int32),
                    observer.to(torch.int32),
                    donor_rep.to(torch.uint8),
                    (codes % 2).to(torch.uint8),
                    action.to(torch.uint8),
                    signals.to(torch.uint8),
                )
            )
        done += steps
        if progress is not None:
            progress(steps)
    records = Records.cat(parts) if record and parts else None
    return x, Tally(given, received, good, interactions), records


def _run_chunk(pc_flat, so_flat, x, donor, recipient, observer, u_action, u_signal):
    """The sequential part: ``x`` is updated in place; returns context codes and signals ``(B, T)``."""
    steps = donor.shape[1]
    donor_t = donor.t().contiguous().unsqueeze(-1)
    recipient_t = recipient.t().contiguous().unsqueeze(-1)
    act_base = donor_t * 4
    sig_base = observer.t().contiguous().unsqueeze(-1) * 8
    u_action = u_action.t().contiguous().unsqueeze(-1)
    u_signal = u_signal.t().contiguous().unsqueeze(-1)
    codes = torch.empty_like(donor_t)
    signals = torch.empty_like(donor_t)
    for t in range(steps):
        d = donor_t[t]
        context = x.gather(1, d) * 2 + x.gather(1, recipient_t[t])
        action = u_action[t] < pc_flat.gather(1, act_base[t] + context)
        code = torch.add(context, action, alpha=4, out=codes[t])
        signal = torch.lt(u_signal[t], so_flat.gather(1, sig_base[t] + code), out=signals[t])
        x.scatter_(1, d, signal)
    return codes.squeeze(-1).t(), signals.squeeze(-1).t()


def simulate(
    pc: torch.Tensor,
    so: torch.Tensor,
    seeds: list[int],
    interactions: int,
    burn_in: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[Tally, torch.Tensor]:
    """From everyone good, play ``burn_in`` interactions unrecorded, then
    ``interactions`` counted ones.  Returns the tally and final reputations."""
    batch, n = pc.shape[:2]
    streams = Streams(seeds, "world")
    x = initial_reputation(batch, n)
    if burn_in:
        x, _, _ = play(pc, so, x, streams, burn_in, progress=progress)
    x, tally, _ = play(pc, so, x, streams, interactions, progress=progress)
    return tally, x

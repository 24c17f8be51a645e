"""Random streams: one generator per population, so that population ``k`` of a
batch seeded ``[s_0, ..., s_{B-1}]`` draws exactly what seed ``s_k`` draws alone.

Each purpose (the world, a learner's initial tables, a baseline's sampling)
gets its own stream, derived from the seed and the purpose's name, so adding a
consumer never shifts another's numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

from recigrad.game import DTYPE


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for ``purpose``, stable across platforms and runs."""
    digest = hashlib.blake2b(f"{int(seed)}/{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class Streams:
    """One ``torch.Generator`` per population of a batch."""

    def __init__(self, seeds: Sequence[int], purpose: str = "world") -> None:
        self.seeds = [int(s) for s in seeds]
        self.purpose = purpose
        self.generators = [torch.Generator().manual_seed(derive_seed(s, purpose)) for s in self.seeds]

    def __len__(self) -> int:
        return len(self.generators)

    def uniform(self, *shape: int, dtype: torch.dtype = DTYPE) -> torch.Tensor:
        """``(B, *shape)`` uniforms on [0, 1); row ``k`` comes from population ``k``'s generator."""
        out = torch.empty(len(self.generators), *shape, dtype=dtype)
        for row, generator in zip(out, self.generators):
            row.uniform_(generator=generator)
        return out

    def normal(self, *shape: int, dtype: torch.dtype = DTYPE) -> torch.Tensor:
        out = torch.empty(len(self.generators), *shape, dtype=dtype)
        for row, generator in zip(out, self.generators):
            row.normal_(generator=generator)
        return out

    def state(self) -> list[torch.Tensor]:
        """Generator states, for checkpoints."""
        return [g.get_state() for g in self.generators]

    def set_state(self, states: Sequence[torch.Tensor]) -> None:
        for g, s in zip(self.generators, states):
            g.set_state(s)

"""Random streams: one generator per population, so that population ``k`` of a
batch seeded ``[s_0, ..., s_{B-1}]`` draws exactly what seed ``s_k`` draws alone.

Each purpose (the world, a learner's initial tables, a baseline's sampling)
gets its own stream, derived from the seed and the purpose's name, so adding a
consumer never shifts another's numbers.  Generators are numpy's PCG64: fast
to fill a population's block of uniforms, and their state is a plain dict
(checkpoints need no pickle).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

from recigrad.game import DTYPE


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for ``purpose``, stable across platforms and runs."""
    digest = hashlib.blake2b(f"{int(seed)}/{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class Streams:
    """One numpy ``Generator`` per population of a batch."""

    def __init__(self, seeds: Sequence[int], purpose: str = "world") -> None:
        self.generators = [np.random.Generator(np.random.PCG64(derive_seed(s, purpose))) for s in seeds]

    def __len__(self) -> int:
        return len(self.generators)

    def uniform_numpy(self, *shape: int) -> np.ndarray:
        """``(B, *shape)`` float64 uniforms on [0, 1); row ``k`` from population ``k``'s generator."""
        out = np.empty((len(self.generators), *shape))
        for row, generator in zip(out, self.generators):
            generator.random(out=row)
        return out

    def uniform(self, *shape: int) -> torch.Tensor:
        return torch.from_numpy(self.uniform_numpy(*shape)).to(DTYPE)

    def normal(self, *shape: int) -> torch.Tensor:
        out = np.empty((len(self.generators), *shape))
        for row, generator in zip(out, self.generators):
            generator.standard_normal(out=row)
        return torch.from_numpy(out).to(DTYPE)

    def state(self) -> list[dict]:
        """Generator states (plain dicts of integers), for checkpoints."""
        return [g.bit_generator.state for g in self.generators]

    def set_state(self, states: Sequence[dict]) -> None:
        for g, s in zip(self.generators, states):
            g.bit_generator.state = s

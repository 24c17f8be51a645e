"""Batch-invariant element-wise functions.

torch's vectorised CPU kernels compute a tensor's last, incomplete block with
scalar code, and for transcendental functions (exp, log, sigmoid) the scalar
and vector results may differ in the last bit.  So ``sigmoid(x)[k]`` could
depend on how many populations share the batch.  Padding every population's
values to a whole number of blocks puts them on the vector path whatever the
batch, which keeps the promise that a seed gives the same run alone or in a batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

BLOCK = 16  # a multiple of every CPU vector loop's block of float64 (2 vectors of up to 8 lanes)


def per_population(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` for an element-wise ``fn``, computed so that row ``k`` of the
    leading dimension does not depend on the other rows."""
    batch = x.shape[0]
    flat = x.reshape(batch, -1)
    width = flat.shape[1]
    padded = F.pad(flat, (0, (-width) % BLOCK))
    return fn(padded)[:, :width].reshape(x.shape)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    return per_population(torch.sigmoid, x)

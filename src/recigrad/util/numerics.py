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


def per_population(fn: Callable[..., torch.Tensor], *xs: torch.Tensor) -> torch.Tensor:
    """``fn(*xs)`` for an element-wise ``fn`` of tensors of one shape, computed so
    that row ``k`` of the leading dimension (and its gradient) does not depend on
    the other rows.

    Args:
        fn: an element-wise function of as many tensors as ``xs`` (``torch.sigmoid``,
            ``torch.exp``, ...).
        *xs: tensors of one shape ``(B, ...)``, ``B`` independent populations.

    Returns:
        ``fn(*xs)``, shape ``(B, ...)``: each population's values are padded to a whole
        number of ``BLOCK`` elements before ``fn`` and cut back after it.
    """
    batch, shape = xs[0].shape[0], xs[0].shape
    flat = [x.reshape(batch, -1) for x in xs]
    width = flat[0].shape[1]
    return fn(*(F.pad(x, (0, (-width) % BLOCK)) for x in flat))[:, :width].reshape(shape)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``torch.sigmoid`` of ``x (B, ...)``, batch-invariant (see `per_population`)."""
    return per_population(torch.sigmoid, x)

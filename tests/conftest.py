import os

import pytest
import torch

os.environ.setdefault("RECIGRAD_PROGRESS", "0")
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)
torch.set_default_dtype(torch.float64)

from recigrad.game import Game  # noqa: E402


@pytest.fixture
def game():
    return Game()


def random_tables(batch, n, generator, second_order=False):
    """Random stochastic intended tables; second order ignores the donor's own reputation."""
    act = torch.rand(batch, n, 2, 2, generator=generator, dtype=torch.float64)
    sig = torch.rand(batch, n, 2, 2, 2, generator=generator, dtype=torch.float64)
    if second_order:
        act[:, :, 0] = act[:, :, 1]
        sig[:, :, :, 0] = sig[:, :, :, 1]
    return act, sig


def assert_gradient_matches_finite_differences(objective, tensors, every=1, h=1e-6, tol=1e-7):
    """Autograd of ``objective(*tensors)`` against central differences, every ``every``-th entry."""
    leaves = [t.clone().requires_grad_() for t in tensors]
    objective(*leaves).backward()
    for tensor, leaf in zip(tensors, leaves):
        flat = tensor.view(-1)
        for k in range(0, flat.numel(), every):
            old = flat[k].item()
            flat[k] = old + h
            up = objective(*tensors).item()
            flat[k] = old - h
            down = objective(*tensors).item()
            flat[k] = old
            assert leaf.grad.view(-1)[k].item() == pytest.approx((up - down) / (2 * h), abs=tol)

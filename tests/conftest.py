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

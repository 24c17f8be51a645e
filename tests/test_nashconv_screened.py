"""NashConv in the mean field by the screened solve (``recigrad.evaluation.screening``) against
the full batched solve (``best_responses``, ``screen=False``), and its two pieces: the exact
payoff by one scalar equation for ``S`` against ``meanfield``'s ``N``-agent Newton, and the
second-order model's error, ``O(N^-3)``."""

from __future__ import annotations

import pytest
import torch

from recigrad.evaluation import screening
from recigrad.evaluation.best_response import _problems, best_response_gap
from recigrad.evaluation.candidates import Evaluator
from recigrad.game import DTYPE, Game
from recigrad.game.norms import action_table, signal_table
from recigrad.util.threads import one_thread

GAME = Game(b=5.0, c=1.0, e=0.01, mu=0.01)
OPTIONS = {"starts": 3, "steps": 60, "seed": 5}
TOLERANCE = 1e-9  # per learner: the same tables found, payoffs equal up to rounding


@pytest.fixture(autouse=True)
def single_thread():
    with one_thread():
        yield


def random_society(batch: int, n: int, seed: int, deterministic_share: float = 0.0):
    generator = torch.Generator().manual_seed(seed)
    act = torch.rand(batch, n, 2, 2, generator=generator, dtype=DTYPE)
    sig = torch.rand(batch, n, 2, 2, 2, generator=generator, dtype=DTYPE)
    rounded = torch.rand(batch, n, generator=generator, dtype=DTYPE) < deterministic_share
    act = torch.where(rounded[..., None, None], act.round(), act)
    sig = torch.where(rounded[..., None, None, None], sig.round(), sig)
    return act, sig


def models(act, sig, learners):
    """The screened solve's pieces for every learner of ``learners`` in every population."""
    stacked_act, stacked_sig, population, _ = _problems(act, sig, learners)
    learner = torch.tensor(learners * act.shape[0])
    model = screening.OthersModel(act, sig, GAME)
    problems = model.problems(population, learner)
    full = Evaluator("meanfield", None).prepared(stacked_act, stacked_sig, 0, GAME)
    return screening.ExactOthers(model, problems, population, learner), problems, full


def candidates(count: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    act = torch.rand(count, 2, 2, generator=generator, dtype=DTYPE)
    sig = torch.rand(count, 2, 2, 2, generator=generator, dtype=DTYPE)
    act[::2], sig[::2] = act[::2].round(), sig[::2].round()  # half deterministic
    return act, sig


@pytest.mark.parametrize("n", [5, 16, 40])
def test_scalar_equation_equals_newton(n):
    """The exact payoff by Newton on ``S`` alone is ``meanfield``'s ``N``-agent fixed point."""
    act, sig = random_society(2, n, seed=n, deterministic_share=0.5)
    learners = list(range(n))
    exact, _, full = models(act, sig, learners)
    rows = torch.arange(2 * n).repeat(4)
    own_act, own_sig = candidates(len(rows), seed=n + 1)
    with torch.no_grad():
        want = full(rows, own_act, own_sig)
    torch.testing.assert_close(exact(rows, own_act, own_sig), want, rtol=0, atol=1e-12)


def model_error(n: int) -> float:
    act, sig = random_society(1, n, seed=3)
    learners = [0, 1, 2, 3]
    exact, problems, _ = models(act, sig, learners)
    rows = torch.arange(len(learners)).repeat(64)
    own_act, own_sig = candidates(len(rows), seed=4)
    with torch.no_grad():
        return float((problems.payoff(rows, own_act, own_sig)[0] - exact(rows, own_act, own_sig)).abs().max())


def test_model_error_is_third_order():
    """The model's remainder is third order in ``O(1/N)`` perturbations: 4x the agents, about 64x less
    error (a first-order model would give 16x); and it is small where the screen relies on it."""
    small, large = model_error(16), model_error(64)
    assert small / large > 32
    assert large < 1e-5


@pytest.mark.parametrize("n, batch, share, order", [(8, 2, 0.0, 3), (16, 2, 0.5, 3), (16, 1, 1.0, 2), (32, 1, 0.3, 3)])
def test_screened_nashconv_equals_full(n, batch, share, order):
    """NashConv and every learner's best payoff of random stochastic / deterministic societies."""
    act, sig = random_society(batch, n, seed=10 + n, deterministic_share=share)
    learners = list(range(n)) if n <= 16 else [0, 1, n // 2, n - 1]
    nashconv, best, current = best_response_gap(act, sig, GAME, learners, "meanfield", order=order, **OPTIONS)
    want_nashconv, want_best, want_current = best_response_gap(act, sig, GAME, learners, "meanfield", screen=False,
                                                               order=order, **OPTIONS)
    torch.testing.assert_close(current, want_current, rtol=0, atol=0)
    torch.testing.assert_close(best, want_best, rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(nashconv, want_nashconv, rtol=0, atol=len(learners) * TOLERANCE)


def test_screened_nashconv_of_mixed_norms():
    """A society of 24: the leading eight, ALLC, ALLD and discriminators of two second-order norms, twice each."""
    kinds = [("norm", f"L{i}") for i in range(1, 9)] + [("allc", "L6"), ("alld", "L6"), ("disc", "image-scoring"),
                                                          ("disc", "shunning")]
    act = torch.stack([action_table(kind, norm) for kind, norm in kinds] * 2).to(DTYPE).unsqueeze(0)
    sig = torch.stack([signal_table(norm) for _, norm in kinds] * 2).to(DTYPE).unsqueeze(0)
    learners = [0, 5, 8, 9, 10, 23]
    nashconv, best, _ = best_response_gap(act, sig, GAME, learners, "meanfield", **OPTIONS)
    want_nashconv, want_best, _ = best_response_gap(act, sig, GAME, learners, "meanfield", screen=False, **OPTIONS)
    torch.testing.assert_close(best, want_best, rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(nashconv, want_nashconv, rtol=0, atol=len(learners) * TOLERANCE)


def test_screen_applies_only_to_the_plain_mean_field():
    assert screening.applies(GAME, "meanfield", 3)
    assert not screening.applies(GAME, "exact", 3)
    assert not screening.applies(Game(observers=3, aggregation="majority"), "meanfield", 3)
    assert not screening.applies(GAME, "meanfield", object())

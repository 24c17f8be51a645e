"""Every learner's best response in one batch (``best_responses``, NashConv) against the
one-by-one computation: ``best_response`` per learner and ``payoff_of`` for the current payoffs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recigrad.evaluation.best_response import best_response, best_response_gap, best_responses
from recigrad.evaluation.candidates import payoff_of
from recigrad.game import DTYPE, ConfigError, Game
from recigrad.util.threads import one_thread

GAME = Game(b=5.0, c=1.0, e=0.01, mu=0.01)
OPTIONS = {"starts": 3, "steps": 60, "seed": 5}
TOLERANCE = 1e-9  # the batch and the loop differ only by rounding (agents reordered)


@pytest.fixture(autouse=True)
def single_thread():
    with one_thread():
        yield


def society(batch: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tables; agents 1 and 2 share their tables (one problem answers both)."""
    generator = torch.Generator().manual_seed(seed)
    act = torch.rand(batch, n, 2, 2, generator=generator, dtype=DTYPE)
    sig = torch.rand(batch, n, 2, 2, 2, generator=generator, dtype=DTYPE)
    act[:, 2], sig[:, 2] = act[:, 1], sig[:, 1]
    return act, sig


def one_by_one(act, sig, learners, model):
    """NashConv as it was computed before the batch: one best response per learner."""
    current = torch.stack([payoff_of(act, sig, j, act[:, j, None], sig[:, j, None], GAME, model)[:, 0] for j in learners], 1)
    refs = [best_response(act, sig, j, GAME, model, **OPTIONS) for j in learners]
    best = torch.maximum(torch.stack([r.payoff for r in refs], 1), current)
    return (best - current).sum(1), best, current, refs


@pytest.mark.parametrize("n, model", [(5, "exact"), (7, "meanfield")])
def test_batch_equals_one_by_one(n, model):
    act, sig = society(2, n, seed=n)
    learners = [0, 1, 2, n - 1]
    nashconv, best, current = best_response_gap(act, sig, GAME, learners, model, **OPTIONS)
    want_nashconv, want_best, want_current, refs = one_by_one(act, sig, learners, model)
    torch.testing.assert_close(current, want_current, rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(best, want_best, rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(nashconv, want_nashconv, rtol=0, atol=len(learners) * TOLERANCE)
    batched = best_responses(act, sig, learners, GAME, model, **OPTIONS)
    for i, ref in enumerate(refs):
        torch.testing.assert_close(batched.act[:, i], ref.act, rtol=0, atol=1e-6)
        torch.testing.assert_close(batched.sig[:, i], ref.sig, rtol=0, atol=1e-6)
        assert torch.equal(batched.strict_act[:, i], ref.strict_act)
        assert torch.equal(batched.strict_sig[:, i], ref.strict_sig)


def test_equal_learners_share_one_answer():
    """Agents 1 and 2 have equal tables: their references are equal, and equal to agent 1's alone."""
    act, sig = society(1, 6, seed=3)
    batched = best_responses(act, sig, [1, 2], GAME, "meanfield", **OPTIONS)
    alone = best_response(act, sig, 2, GAME, "meanfield", **OPTIONS)
    torch.testing.assert_close(batched.payoff[:, 0], batched.payoff[:, 1], rtol=0, atol=0)
    torch.testing.assert_close(batched.payoff[:, 1], alone.payoff, rtol=0, atol=TOLERANCE)


def test_nashconv_zero_at_a_best_response():
    """Each learner already plays its reference (the others fixed): the gap is its current payoff's."""
    act, sig = society(1, 5, seed=8)
    ref = best_response(act, sig, 0, GAME, "exact", **OPTIONS)
    act[0, 0], sig[0, 0] = ref.act[0], ref.sig[0]
    nashconv, best, current = best_response_gap(act, sig, GAME, [0], "exact", **OPTIONS)
    torch.testing.assert_close(current[0, 0], ref.payoff[0], rtol=0, atol=1e-12)
    assert 0.0 <= nashconv.item() <= 1e-9


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-3, 9), min_size=0, max_size=4))
def test_bad_learners_refused(learners):
    act, sig = society(1, 5, seed=1)
    if learners and all(0 <= j < 5 for j in learners):
        return
    with pytest.raises(ConfigError, match=r"learners must be a non-empty list of agent indices in \[0, 5\)"):
        best_responses(act, sig, learners, GAME, "meanfield", **OPTIONS)

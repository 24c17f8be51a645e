"""``Evaluator.prepared`` (the others' part of the mean field computed once per problem) against
``Evaluator.__call__``, which solves every candidate as a whole population
(``recigrad.dynamics.meanfield.solve``): the same payoffs and the same gradients."""

from __future__ import annotations

import pytest
import torch

from helpers import random_tables
from recigrad.evaluation.candidates import Evaluator
from recigrad.game import DTYPE, Game

GAME = Game(b=5.0, c=1.0, e=0.03, mu=0.02)
MEANFIELD = Evaluator("meanfield", None)


def problem(learner: int):
    """Two populations of 7 agents, 5 candidate tables each (rows 0,0,0,1,1,...)."""
    generator = torch.Generator().manual_seed(11 + learner)
    act, sig = random_tables(2, 7, generator)
    rows = torch.tensor([0, 0, 0, 1, 1, 1, 0, 1, 0, 1])
    own_act = torch.rand(len(rows), 2, 2, generator=generator, dtype=DTYPE)
    own_sig = torch.rand(len(rows), 2, 2, 2, generator=generator, dtype=DTYPE)
    return act, sig, rows, own_act, own_sig


@pytest.mark.parametrize("learner", [0, 4, 6])
def test_prepared_payoffs_equal_the_whole_population_solve(learner):
    act, sig, rows, own_act, own_sig = problem(learner)
    prepared = MEANFIELD.prepared(act, sig, learner, GAME)(rows, own_act, own_sig)
    whole = MEANFIELD(act[rows], sig[rows], learner, own_act, own_sig, GAME)
    torch.testing.assert_close(prepared, whole, rtol=0.0, atol=1e-12)


@pytest.mark.parametrize("learner", [0, 4])
def test_prepared_gradients_equal_the_whole_population_solve(learner):
    act, sig, rows, own_act, own_sig = problem(learner)
    evaluate = MEANFIELD.prepared(act, sig, learner, GAME)
    gradients = []
    for payoff in (lambda a, s: evaluate(rows, a, s), lambda a, s: MEANFIELD(act[rows], sig[rows], learner, a, s, GAME)):
        a, s = own_act.clone().requires_grad_(), own_sig.clone().requires_grad_()
        gradients.append(torch.autograd.grad(payoff(a, s).sum(), (a, s)))
    torch.testing.assert_close(gradients[0][0], gradients[1][0], rtol=0.0, atol=1e-10)
    torch.testing.assert_close(gradients[0][1], gradients[1][1], rtol=0.0, atol=1e-10)


def test_other_games_keep_the_whole_population_solve():
    act, sig, rows, own_act, own_sig = problem(2)
    game = Game(b=5.0, c=1.0, e=0.03, mu=0.02, observers=3, aggregation="majority")
    prepared = MEANFIELD.prepared(act, sig, 2, game)(rows, own_act, own_sig)
    whole = MEANFIELD(act[rows], sig[rows], 2, own_act, own_sig, game)
    torch.testing.assert_close(prepared, whole, rtol=0.0, atol=0.0)

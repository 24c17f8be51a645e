"""The exact chain against an independent brute-force construction and known answers."""

import itertools

import pytest
import torch

from helpers import assert_gradient_matches_finite_differences, random_tables
from recigrad.dynamics import exact
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop


def brute_force_transition(act, sig, game):
    """P[s, s'] by enumerating donor, recipient, observer, intention, execution and assessment error."""
    n = act.shape[0]
    size = 2**n
    P = torch.zeros(size, size)
    for s in range(size):
        x = [(s >> j) & 1 for j in range(n)]
        for d in range(n):
            for r in (j for j in range(n) if j != d):
                for o in (j for j in range(n) if j != d):
                    weight = 1.0 / (n * (n - 1) * (n - 1))
                    p_intend = act[d, x[d], x[r]].item()
                    for intend, p_i in ((1, p_intend), (0, 1 - p_intend)):
                        outcomes = [(1, 1 - game.e), (0, game.e)] if intend else [(0, 1.0)]
                        for a, p_a in outcomes:
                            p_good = sig[o, a, x[d], x[r]].item()
                            for emitted, p_s in ((1, p_good), (0, 1 - p_good)):
                                for flipped, p_f in ((False, 1 - game.mu), (True, game.mu)):
                                    seen = 1 - emitted if flipped else emitted
                                    target = (s | (1 << d)) if seen else (s & ~(1 << d))
                                    P[s, target] += weight * p_i * p_a * p_s * p_f
    return P


@pytest.mark.parametrize("n, seed", [(3, 0), (4, 1)])
def test_transition_matrix_equals_brute_force(n, seed):
    game = Game(e=0.07, mu=0.13)
    act, sig = random_tables(1, n, torch.Generator().manual_seed(seed))
    pc, so = observable(act, sig, game)
    Q = exact.generator_matrix(pc, so)[0]
    P = brute_force_transition(act[0], sig[0], game)
    torch.testing.assert_close(Q + torch.eye(2**n), P, rtol=0, atol=1e-14)
    torch.testing.assert_close(P.sum(1), torch.ones(2**n), rtol=0, atol=1e-12)


def test_stationary_is_stationary():
    game = Game(e=0.03, mu=0.05)
    act, sig = random_tables(3, 5, torch.Generator().manual_seed(2))
    pc, so = observable(act, sig, game)
    pi = exact.stationary(pc, so)
    P = exact.generator_matrix(pc, so) + torch.eye(32)
    torch.testing.assert_close(torch.einsum("bs,bst->bt", pi, P), pi, rtol=0, atol=1e-14)
    torch.testing.assert_close(pi.sum(1), torch.ones(3), rtol=0, atol=1e-12)
    assert pi.min().item() > -1e-15
    # against the long-run power of P
    Pk = torch.linalg.matrix_power(P[0], 4096)
    torch.testing.assert_close(Pk[0], pi[0], rtol=0, atol=1e-10)


def test_payoff_by_state_enumeration():
    """Per-round payoff from pi, summing interactions state by state in plain Python."""
    game = Game(b=3.0, c=1.0, e=0.05, mu=0.02)
    n = 4
    act, sig = random_tables(1, n, torch.Generator().manual_seed(3))
    pc, so = observable(act, sig, game)
    pi = exact.stationary(pc, so)[0]
    expected = [0.0] * n
    for s in range(2**n):
        x = [(s >> j) & 1 for j in range(n)]
        for d, r in itertools.permutations(range(n), 2):
            p = pi[s].item() * pc[0, d, x[d], x[r]].item() / (n * (n - 1))
            expected[d] -= game.c * p * n  # per round = N interactions
            expected[r] += game.b * p * n
    got = exact.solve(pc, so, game).payoff[0]
    torch.testing.assert_close(got, torch.tensor(expected), rtol=0, atol=1e-13)


def test_known_answers():
    game = Game(e=0.02, mu=0.03)
    pc, so = observable(*parse_pop(["allc:stern-judging:5"]).batched_tables(1), game)
    sol = exact.solve(pc, so, game)
    torch.testing.assert_close(sol.payoff, torch.full((1, 5), (game.b - game.c) * (1 - game.e)), rtol=0, atol=1e-13)
    pc, so = observable(*parse_pop(["alld:image-scoring:5"]).batched_tables(1), game)
    sol = exact.solve(pc, so, game)
    torch.testing.assert_close(sol.payoff, torch.zeros(1, 5), rtol=0, atol=1e-14)
    torch.testing.assert_close(sol.good, torch.full((1, 5), game.mu), rtol=0, atol=1e-13)  # D is always assessed bad


def test_gradient_matches_finite_differences():
    game = Game(e=0.05, mu=0.05)
    act, sig = random_tables(1, 4, torch.Generator().manual_seed(4))
    weights = torch.linspace(-1, 1, 4)

    def objective(a, s):
        pc, so = observable(a, s, game)
        sol = exact.solve(pc, so, game)
        return (sol.payoff[0] * weights).sum() + sol.good[0, 1]

    assert_gradient_matches_finite_differences(objective, (act, sig), every=3)


def test_refuses_large_populations():
    pc, so = observable(*parse_pop(["disc:stern-judging:13"]).batched_tables(1), Game())
    with pytest.raises(ValueError, match="N <= 12"):
        exact.solve(pc, so, Game())


def test_refuses_a_chain_without_unique_stationary_distribution():
    """Image scoring without errors: all good and all bad are both absorbing."""
    pc, so = observable(*parse_pop(["disc:image-scoring:5"]).batched_tables(1), Game(e=0.0, mu=0.0))
    with pytest.raises(ValueError, match="no unique stationary distribution"):
        exact.solve(pc, so, Game())
    # with zero errors but a single absorbing state the answer is that state
    pc, so = observable(*parse_pop(["disc:stern-judging:5"]).batched_tables(1), Game(e=0.0, mu=0.0))
    torch.testing.assert_close(exact.solve(pc, so, Game()).good, torch.ones(1, 5), rtol=0, atol=1e-12)

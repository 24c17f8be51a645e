"""The reputation-chain model: closed forms, the exact chain, the leading eight, gradients."""


import pytest
import torch

from helpers import EIGHT, assert_gradient_matches_finite_differences, quadratic_root, random_tables
from recigrad.dynamics import exact, meanfield
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop

CASES = [(0.01, 0.01, 8), (0.05, 0.02, 5), (0.2, 0.1, 12), (0.0, 0.3, 3), (0.01, 0.01, 1000)]


def homogeneous(norm, n, game, kind="disc"):
    return observable(*parse_pop([f"{kind}:{norm}:{n}"]).batched_tables(1), game)


@pytest.mark.parametrize("e, mu, n", CASES)
@pytest.mark.parametrize("norm", ["stern-judging", "simple-standing", "image-scoring", "shunning"])
def test_closed_forms(norm, e, mu, n):
    game = Game(e=e, mu=mu)
    A = (1 - e) * (1 - mu) + e * mu
    g = (1 - mu) / (2 - mu - A) if norm in ("stern-judging", "simple-standing") else mu / (1 - A + mu)
    pc, so = homogeneous(norm, n, game)
    torch.testing.assert_close(meanfield.solve(pc, so, game).good, torch.full((1, n), g), rtol=0, atol=1e-12)
    if n <= 12:
        torch.testing.assert_close(exact.solve(pc, so, game).good, torch.full((1, n), g), rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm, expected", [("L1", 0.980388), ("L2", 0.980388), ("L3", 0.980392), ("L4", 0.980392),
                                            ("L5", 0.980392), ("L6", 0.980392), ("L7", 0.980004), ("L8", 0.980004)])
def test_leading_eight_quadratic(norm, expected):
    assert quadratic_root(norm, 0.01, 0.01) == pytest.approx(expected, abs=5e-7)
    for e, mu, n in [(0.01, 0.01, 8), (0.05, 0.03, 20), (0.1, 0.02, 500)]:
        game = Game(e=e, mu=mu)
        pc, so = homogeneous(norm, n, game, kind="norm")
        g = meanfield.solve(pc, so, game).good
        torch.testing.assert_close(g, torch.full((1, n), quadratic_root(norm, e, mu)), rtol=0, atol=1e-12)


def mixed_population(n, seed):
    """A random mix of allc, alld and disc agents with random norms."""
    g = torch.Generator().manual_seed(seed)
    kinds = ["allc", "alld", "disc"]
    norms = ["stern-judging", "simple-standing", "image-scoring", "shunning"]
    specs = [f"{kinds[torch.randint(3, (1,), generator=g)]}:{norms[torch.randint(4, (1,), generator=g)]}:1" for _ in range(n)]
    return parse_pop(specs)


@pytest.mark.parametrize("n, seed", [(3, 0), (5, 1), (8, 2), (10, 3)])
def test_second_order_equals_exact(n, seed):
    """Mean field is exact for second-order tables: strategy mixes and random stochastic tables."""
    game = Game(e=0.03 * (seed + 1), mu=0.02 * (seed + 1))
    act1, sig1 = mixed_population(n, seed).batched_tables(1)
    act2, sig2 = random_tables(3, n, torch.Generator().manual_seed(seed), second_order=True)
    act, sig = torch.cat([act1, act2]), torch.cat([sig1, sig2])
    pc, so = observable(act, sig, game)
    mf, ex = meanfield.solve(pc, so, game), exact.solve(pc, so, game)
    for field in ("payoff", "good", "given", "received"):
        torch.testing.assert_close(getattr(mf, field), getattr(ex, field), rtol=0, atol=1e-9,
                                   msg=lambda m, field=field: f"{field}: {m}")


def test_third_order_error_is_bounded():
    """Third order: mean field neglects correlations; measured error, bounded."""
    game = Game()
    worst_eight = 0.0
    for norm in EIGHT:
        pc, so = homogeneous(norm, 8, game, kind="norm")
        mf, ex = meanfield.solve(pc, so, game), exact.solve(pc, so, game)
        worst_eight = max(worst_eight, (mf.good - ex.good).abs().max().item(), (mf.payoff - ex.payoff).abs().max().item())
    assert 1e-6 < worst_eight < 2e-4  # L1/L2/L7/L8 are off by 3e-5 in g at N = 8; L3-L6 are second order in effect
    act, sig = random_tables(64, 8, torch.Generator().manual_seed(5))
    pc, so = observable(act, sig, game)
    mf, ex = meanfield.solve(pc, so, game), exact.solve(pc, so, game)
    assert (mf.good - ex.good).abs().max() < 0.01
    assert (mf.payoff - ex.payoff).abs().max() < 0.05


def test_third_order_error_shrinks_with_n():
    game = Game(e=0.05, mu=0.05)
    errors = []
    for n in (4, 8, 12):
        pc, so = homogeneous("L1", n, game, kind="norm")
        errors.append((meanfield.solve(pc, so, Game()).good - exact.solve(pc, so, Game()).good).abs().max().item())
    assert errors[0] > errors[1] > errors[2]


@pytest.mark.parametrize("second_order", [True, False])
def test_gradient_matches_finite_differences(second_order):
    game = Game(e=0.04, mu=0.06)
    act, sig = random_tables(2, 6, torch.Generator().manual_seed(6), second_order=second_order)
    weights = torch.linspace(-1, 2, 6)

    def objective(a, s):
        pc, so = observable(a, s, game)
        sol = meanfield.solve(pc, so, game)
        return (sol.payoff * weights).sum() + sol.good[:, 2].sum()

    assert_gradient_matches_finite_differences(objective, (act, sig), every=5)


def test_second_order_gradient_equals_exact_gradient():
    game = Game()
    act, sig = random_tables(1, 5, torch.Generator().manual_seed(7), second_order=True)
    grads = []
    for solver in (meanfield, exact):
        a, s = act.clone().requires_grad_(), sig.clone().requires_grad_()
        pc, so = observable(a, s, game)
        solver.solve(pc, so, game).payoff[0, 0].backward()
        # along second-order directions (both values of the own / donor reputation moved together)
        grads.append((a.grad.sum(-2), s.grad.sum(-2)))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=1e-10)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=0, atol=1e-10)


def test_large_population_and_batch():
    game = Game()
    act, sig = random_tables(4, 1000, torch.Generator().manual_seed(8), second_order=True)
    pc, so = observable(act, sig, game)
    sol = meanfield.solve(pc, so, game)
    # the linear system g = M g + v, solved densely for one population, agrees
    from recigrad.game import good_signal_probability

    s = good_signal_probability(pc, so)[0, :, 0, :]
    n = 1000
    M = ((s[:, 1] - s[:, 0]) / (n - 1)).unsqueeze(1).expand(n, n) * (1 - torch.eye(n))
    g = torch.linalg.solve(torch.eye(n) - M, s[:, 0])
    torch.testing.assert_close(sol.good[0], g, rtol=0, atol=1e-12)
    # a population solved alone equals the same population inside a batch
    alone = meanfield.solve(pc[2:3], so[2:3], game)
    assert torch.equal(alone.payoff[0], sol.payoff[2])

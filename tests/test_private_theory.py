"""The exact chain of private views and its mean field (docs/model.md §3, §4: private views)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_one_line_error
from recigrad.cli import main
from recigrad.dynamics import exact, meanfield, private_exact, private_meanfield
from recigrad.game import ConfigError, Game
from recigrad.game.population import Agent, Population
from recigrad.game.rules import observable, observable_signal


def tables(*groups):
    """Intended tables of a population given as ``(kind, norm, count)`` groups."""
    agents = tuple(Agent(kind, norm) for kind, norm, count in groups for _ in range(count))
    return Population(agents).batched_tables(1)


def private(**fields) -> Game:
    return Game(assessment="private", **fields)


def public_of(game: Game) -> Game:
    return Game(b=game.b, c=game.c, e=game.e, mu=game.mu, observation=game.observation, perception_error=game.perception_error)


def brute_force_row(state: int, pc: np.ndarray, so: np.ndarray, q: float, n: int) -> dict[int, float]:
    """One row of the interaction's transition matrix, every outcome enumerated literally:
    donor, recipient, intention and execution, who observes, each observer's assessment."""
    views = [[(state >> (i * n + j)) & 1 for j in range(n)] for i in range(n)]
    row: dict[int, float] = {}
    for d, r in itertools.permutations(range(n), 2):
        for action in (0, 1):
            p_action = pc[d, views[d][d], views[d][r]] if action else 1 - pc[d, views[d][d], views[d][r]]
            others = [o for o in range(n) if o not in (d, r)]
            for watching in itertools.product((0, 1), repeat=len(others)):
                observers = [d, r] + [o for o, w in zip(others, watching) if w]
                p_watch = np.prod([q if w else 1 - q for w in watching])
                for verdicts in itertools.product((0, 1), repeat=len(observers)):
                    p = p_action * p_watch / (n * (n - 1))
                    new = [row_[:] for row_ in views]
                    for o, verdict in zip(observers, verdicts):
                        good = so[o, action, views[o][d], views[o][r]]  # views before the interaction
                        p *= good if verdict else 1 - good
                        new[o][d] = verdict
                    target = sum(new[i][j] << (i * n + j) for i in range(n) for j in range(n))
                    row[target] = row.get(target, 0.0) + p
    return row


def test_transitions_match_a_literal_enumeration():
    n = 3
    game = private(e=0.03, mu=0.02, observation=0.7, perception_error=0.05)
    act, sig = tables(("norm", "L1", 1), ("disc", "stern-judging", 1), ("allc", "L7", 1))
    pc, so = (t[0].numpy() for t in observable(act, sig, game))
    step = private_exact._Step(pc, so, game, private_exact.view_bits(n))
    dense = step.dense().numpy()
    for state in np.random.default_rng(0).choice(2 ** (n * n), 25, replace=False):
        expected = np.zeros(2 ** (n * n))
        for target, p in brute_force_row(int(state), pc, so, game.observation, n).items():
            expected[target] += p
        np.testing.assert_allclose(dense[state], expected, rtol=0, atol=1e-15)


def test_gossip_step_matches_a_literal_enumeration():
    n, trust = 3, 0.7
    bits = private_exact.view_bits(n)
    gossip = private_exact._Sparse(private_exact._gossip(trust, bits), 2 ** (n * n)).dense().numpy()
    for state in (5, 300, 511):
        views = bits[state]
        expected = np.zeros(2 ** (n * n))
        expected[state] += 1 - trust
        for listener, speaker in itertools.permutations(range(n), 2):
            for subject in (t for t in range(n) if t != listener):
                new = views.copy()
                new[listener, subject] = views[speaker, subject]
                target = int(sum(int(new[i, j]) << (i * n + j) for i in range(n) for j in range(n)))
                expected[target] += trust / (n * (n - 1) * (n - 1))
        np.testing.assert_allclose(gossip[state], expected, rtol=0, atol=1e-15)


def simulate(pc: np.ndarray, sp: np.ndarray, game: Game, populations: int, steps: int, seed: int):
    """A plain Monte-Carlo of the private game (uniform schedule, no gossip), vectorised over
    populations: per population the cooperation rate, share of good views and agreement.
    ``sp``: the signal tables given the *perceived* action (assessment error folded in); the
    perception is drawn."""
    rng = np.random.default_rng(seed)
    n = pc.shape[0]
    views = np.ones((populations, n, n), dtype=np.int64)
    rows = np.arange(populations)
    off = ~np.eye(n, dtype=bool)
    coop = good = agree = 0.0
    burn = steps // 10
    for t in range(steps):
        d = rng.integers(n, size=populations)
        r = (d + 1 + rng.integers(n - 1, size=populations)) % n
        if t >= burn:
            good = good + views[:, off].mean(1)
            same = 0.0
            for i, l, j in itertools.permutations(range(n), 3):
                same = same + (views[:, i, j] == views[:, l, j])
            agree = agree + same / (n * (n - 1) * (n - 2))
        action = rng.random(populations) < pc[d, views[rows, d, d], views[rows, d, r]]
        if t >= burn:
            coop = coop + action
        observe = rng.random((populations, n)) < game.observation
        observe[rows, d] = observe[rows, r] = True
        perceived = action[:, None] ^ (rng.random((populations, n)) < game.perception_error)
        p_good = sp[np.arange(n)[None], perceived.astype(np.int64), views[rows[:, None], np.arange(n)[None], d[:, None]],
                    views[rows[:, None], np.arange(n)[None], r[:, None]]]
        verdict = (rng.random((populations, n)) < p_good).astype(np.int64)
        column = views[rows, :, d]
        views[rows, :, d] = np.where(observe, verdict, column)
    count = steps - burn
    return coop / count, good / count, agree / count


def test_exact_chain_matches_a_plain_monte_carlo():
    game = private(e=0.05, mu=0.05, observation=0.6, perception_error=0.05)
    act, sig = tables(("norm", "L2", 2), ("disc", "simple-standing", 1))
    pc, so = observable(act, sig, game)
    sol = private_exact.solve(pc, so, game)
    sp = observable_signal(sig, game.mu)  # the perception is drawn by the simulation
    coop, good, agree = simulate(pc[0].numpy(), sp[0].numpy(), game, populations=40, steps=6000, seed=1)
    for sample, value in ((coop, sol.cooperation), (good, sol.good_views), (agree, sol.agreement)):
        se = sample.std() / len(sample) ** 0.5
        assert abs(sample.mean() - float(value[0])) < 5 * se, (sample.mean(), float(value[0]), se)


@pytest.mark.parametrize("e", [0.0, 0.05])
@pytest.mark.parametrize("groups", [
    [("disc", "stern-judging", 3)],
    [("norm", "L1", 3)],
    [("norm", "L2", 3)],
    [("allc", "simple-standing", 1), ("disc", "simple-standing", 2)],
])
def test_without_errors_private_equals_public(groups, e):
    """q = 1, mu = perception_error = 0, all views good, one shared norm: every observer sees the
    same realised action and judges it with the same views, so the views stay identical and the
    chain is the public one (the execution error is common to all observers, so e may be > 0)."""
    act, sig = tables(*groups)
    game = private(e=e, mu=0.0)
    sol = private_exact.solve(*observable(act, sig, game), game)
    pub = exact.solve(*observable(act, sig, public_of(game)), public_of(game))
    torch.testing.assert_close(sol.payoff, pub.payoff, rtol=0, atol=1e-12)
    torch.testing.assert_close(sol.cooperation, pub.cooperation, rtol=0, atol=1e-12)
    torch.testing.assert_close(sol.views, pub.good[:, None, :].expand_as(sol.views), rtol=0, atol=1e-12)
    torch.testing.assert_close(sol.agreement, torch.ones(1, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm", ["L1", "L7"])
def test_mean_field_without_errors_equals_public_mean_field(norm):
    """Identical views: the pairs close exactly and the private mean field is the public one."""
    act, sig = tables(("norm", norm, 3))
    game = private(e=0.05, mu=0.0)
    sol = private_meanfield.solve(*observable(act, sig, game), game)
    pub = meanfield.solve(*observable(act, sig, public_of(game)), public_of(game))
    torch.testing.assert_close(sol.payoff, pub.payoff, rtol=0, atol=1e-12)
    torch.testing.assert_close(sol.agreement, torch.ones(1, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("q", "mu"), [(0.5, 0.1), (0.9, 0.01)])
def test_stern_judging_views_are_good_with_probability_one_half(q, mu):
    """Uchida & Sasaki 2013: without execution error, stern-judging discriminators with
    assessment error hold good views with probability exactly 1/2 (exact chain, N = 3; mean
    field with pairs, N = 3 and 5)."""
    game = private(e=0.0, mu=mu, observation=q)
    sol = private_exact.solve(*observable(*tables(("disc", "stern-judging", 3)), game), game)
    torch.testing.assert_close(sol.good_views, torch.full((1,), 0.5, dtype=torch.float64), rtol=0, atol=1e-12)
    for n in (3, 5):
        mf = private_meanfield.solve(*observable(*tables(("disc", "stern-judging", n)), game), game)
        torch.testing.assert_close(mf.good_views, torch.full((1,), 0.5, dtype=torch.float64), rtol=0, atol=1e-12)


def test_stern_judging_tends_to_one_half_as_the_execution_error_shrinks():
    """With execution error e the exact chain's share of good views misses 1/2 by O(e) (measured
    gap / e = 1.66, 2.02, 2.07 at q = 0.5, N = 3, e = 1e-2, 1e-3, 1e-4)."""
    gaps = []
    for e in (1e-2, 1e-3, 1e-4):
        game = private(e=e, mu=0.01, observation=0.5)
        sol = private_exact.solve(*observable(*tables(("disc", "stern-judging", 3)), game), game)
        gaps.append(abs(float(sol.good_views[0]) - 0.5))
        assert gaps[-1] < 3 * e
    assert gaps[1] < gaps[0] / 5
    assert gaps[2] < gaps[1] / 5


def test_gossip_drives_agreement_toward_one():
    act, sig = tables(("disc", "stern-judging", 3))
    agreement = []
    for rate in (0.0, 2.0, 20.0):
        game = private(e=0.01, mu=0.01, observation=0.9, gossip=rate)
        agreement.append(float(private_exact.solve(*observable(act, sig, game), game).agreement[0]))
    assert all(later > earlier for earlier, later in zip(agreement, agreement[1:]))
    assert agreement[-1] > 0.999
    game = private(e=0.01, mu=0.01, observation=0.9, gossip=20.0, gossip_trust=0.0)
    torch.testing.assert_close(private_exact.solve(*observable(act, sig, game), game).agreement,
                               torch.tensor([agreement[0]], dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("gossip", [0.0, 1.5])
def test_mean_field_is_exact_when_judgements_ignore_views(gossip):
    """Image scoring judges the action alone and disc/allc act on the recipient's view alone: the
    expected next view is affine in the views, so first moments (good views, cooperation,
    payoffs) are exact; gossip is linear and exact too."""
    game = private(e=0.03, mu=0.02, observation=0.6, perception_error=0.04, gossip=gossip, gossip_trust=0.8)
    act, sig = tables(("disc", "image-scoring", 2), ("allc", "image-scoring", 1))
    pc, so = observable(act, sig, game)
    ex = private_exact.solve(pc, so, game)
    mf = private_meanfield.solve(pc, so, game)
    torch.testing.assert_close(mf.views, ex.views, rtol=0, atol=1e-12)
    torch.testing.assert_close(mf.payoff, ex.payoff, rtol=0, atol=1e-12)


def test_mean_field_error_against_the_exact_chain():
    """N = 3, q = 0.9, e = mu = 0.01: the bounds docs/model.md §3 reports (measured maxima, with
    margin): L1, L3, L6 within 0.01 in cooperation; every leading-eight norm within 0.35."""
    game = private(e=0.01, mu=0.01, observation=0.9)
    for norm, bound in (("L1", 0.01), ("L3", 0.01), ("L6", 0.01), ("L2", 0.35), ("L7", 0.35)):
        pc, so = observable(*tables(("norm", norm, 3)), game)
        ex = private_exact.solve(pc, so, game)
        mf = private_meanfield.solve(pc, so, game)
        assert abs(float(mf.cooperation[0] - ex.cooperation[0])) < bound, norm


def test_mean_field_implicit_gradient_matches_finite_differences():
    torch.manual_seed(0)
    game = private(e=0.02, mu=0.03, observation=0.7, gossip=0.5)
    pc = (0.1 + 0.8 * torch.rand(1, 3, 2, 2, dtype=torch.float64)).requires_grad_(True)
    so = (0.1 + 0.8 * torch.rand(1, 3, 2, 2, 2, dtype=torch.float64)).requires_grad_(True)
    weights = torch.tensor([[1.0, -0.5, 0.3]], dtype=torch.float64)

    def objective(pc_, so_):
        sol = private_meanfield.solve(pc_, so_, game)
        return (sol.payoff * weights).sum() + sol.agreement.sum()

    objective(pc, so).backward()
    for tensor, grad, index in ((pc, pc.grad, (0, 1, 1, 0)), (so, so.grad, (0, 2, 1, 0, 1)), (so, so.grad, (0, 0, 0, 1, 1))):
        h = 1e-6
        plus, minus = tensor.detach().clone(), tensor.detach().clone()
        plus[index] += h
        minus[index] -= h
        args_plus = (plus, so.detach()) if tensor is pc else (pc.detach(), plus)
        args_minus = (minus, so.detach()) if tensor is pc else (pc.detach(), minus)
        numeric = (objective(*args_plus) - objective(*args_minus)) / (2 * h)
        torch.testing.assert_close(grad[index], numeric.detach(), rtol=1e-5, atol=1e-7)


def test_a_population_alone_or_in_a_batch():
    game = private(e=0.01, mu=0.02, observation=0.8)
    act_a, sig_a = tables(("norm", "L1", 3))
    act_b, sig_b = tables(("disc", "stern-judging", 2), ("alld", "L3", 1))
    act, sig = torch.cat([act_a, act_b]), torch.cat([sig_a, sig_b])
    for solver in (private_exact.solve, private_meanfield.solve):
        both = solver(*observable(act, sig, game), game)
        alone = solver(*observable(act_b, sig_b, game), game)
        torch.testing.assert_close(both.payoff[1:], alone.payoff, rtol=0, atol=0)


def test_refusals():
    act, sig = tables(("disc", "stern-judging", 5))
    game = private()
    with pytest.raises(ConfigError, match="N <= 4"):
        private_exact.solve(*observable(act, sig, game), game)
    with pytest.raises(ConfigError, match="assessment = private"):
        private_exact.solve(*observable(act, sig, Game()), Game())
    with pytest.raises(ConfigError, match="schedule = uniform"):
        private_meanfield.solve(*observable(act, sig, game), private(schedule="permutation"))
    with pytest.raises(ConfigError, match="N <= 8"):
        private_meanfield.solve(*observable(*tables(("disc", "stern-judging", 9)), game), game)
    with pytest.raises(ConfigError, match="no unique"):  # zero errors, random views: views freeze
        zero = private(e=0.0, mu=0.0, initial_good=0.5)
        private_exact.solve(*observable(*tables(("disc", "image-scoring", 3)), zero), zero)
    with pytest.raises(ConfigError, match="gossip <= 20"):
        loud = private(gossip=50.0)
        private_exact.solve(*observable(*tables(("disc", "stern-judging", 4)), loud), loud)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(5, 9))
def test_exact_chain_refuses_more_than_four_agents(n):
    game = private()
    act, sig = tables(("disc", "stern-judging", n))
    with pytest.raises(ConfigError, match="the mean field"):
        private_exact.solve(*observable(act, sig, game), game)


def test_command_line_reports_the_private_measures(capsys):
    argv = ["exact", "--pop", "norm:L1:2", "--pop", "disc:stern-judging:1", "--assessment", "private", "--observation", "0.9"]
    assert main(argv + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    game = private(observation=0.9)
    act, sig = tables(("norm", "L1", 2), ("disc", "stern-judging", 1))
    sol = private_exact.solve(*observable(act, sig, game), game)
    assert result["exact"]["cooperation"] == pytest.approx(float(sol.cooperation[0]), abs=1e-12)
    assert result["exact"]["agreement"] == pytest.approx(float(sol.agreement[0]), abs=1e-12)
    assert result["exact"]["good_views"] == pytest.approx(float(sol.good_views[0]), abs=1e-12)
    assert result["exact"]["per_norm"]["disc:stern-judging"] == pytest.approx(float(sol.given[0, 2]), abs=1e-12)
    assert result["exact"]["payoff"] == pytest.approx(sol.payoff[0].tolist(), abs=1e-12)
    assert set(result["meanfield_error"]) == {"payoff", "cooperation", "good_views", "agreement"}
    assert main(argv) == 0
    assert "agreement" in capsys.readouterr().out


def test_command_line_uses_the_mean_field_above_four_agents(capsys):
    assert main(["exact", "--pop", "disc:image-scoring:5", "--assessment", "private", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "exact" not in result
    game = private()
    sol = private_meanfield.solve(*observable(*tables(("disc", "image-scoring", 5)), game), game)
    assert result["meanfield"]["cooperation"] == pytest.approx(float(sol.cooperation[0]), abs=1e-12)


@pytest.mark.parametrize("argv", [
    ["exact", "--pop", "disc:stern-judging:3", "--assessment", "private", "--schedule", "permutation"],
    ["exact", "--pop", "disc:stern-judging:33", "--assessment", "private"],
])
def test_command_line_refusals(argv, capsys):
    assert main(argv) == 2
    assert_one_line_error(capsys.readouterr().err)

"""The exact chain against an independent brute-force construction and known answers."""

import itertools
import json
import math

import numpy
import pytest
import torch

from helpers import assert_gradient_matches_finite_differences, random_tables
from recigrad.cli import main
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


# ---- docs/model.md §4 "Closed forms under every formation rule" -----------------------------------------------
# A homogeneous disc population with a second-order norm sig[a, x_r]: every observer has the same observed-good
# probability p[a, x_r] (perception error eps, then assessment error mu), so given the realised action the number
# of good signals is Binomial(k, p); the aggregate is good with F(p) = P(G in the rule's good set), a tie (even-k
# majority) with T(p).  Without ties the new reputation does not depend on x_d, so g = u0 / (1 - u1 + u0) with
# u1 = (1 - e) F(p[C, 1]) + e F(p[D, 1]) and u0 = F(p[D, 0]); the observation probability q drops out.

SECOND_ORDER = {"stern-judging": (1, 0, 0, 1), "simple-standing": (1, 0, 1, 1), "image-scoring": (1, 0, 1, 0),
                "shunning": (1, 0, 0, 0)}  # (C to good, D to good, C to bad, D to bad), written out again


def binomial_good(p, k, rule, quorum=None):
    """P(the aggregate is good) for G ~ Binomial(k, p), and P(tie)."""
    law = [math.comb(k, j) * p**j * (1 - p) ** (k - j) for j in range(k + 1)]
    if rule == "quorum":
        return sum(law[quorum:]), 0.0
    return sum(law[j] for j in range(k + 1) if 2 * j > k), sum(law[j] for j in range(k + 1) if 2 * j == k)


def closed_form_good(norm, e, mu, eps, k, rule, quorum=None):
    """docs/model.md (19a): the stationary good fraction of disc:NORM under k observers (no ties)."""
    cg, dg, cb, db = SECOND_ORDER[norm]
    observed = lambda right, wrong: (1 - mu) * ((1 - eps) * right + eps * wrong) + mu * (1 - ((1 - eps) * right + eps * wrong))  # noqa: E731
    p_c1, p_d1, p_d0 = observed(cg, dg), observed(dg, cg), observed(db, cb)
    F = lambda p: binomial_good(p, k, rule, quorum)[0]  # noqa: E731
    u1 = (1 - e) * F(p_c1) + e * F(p_d1)
    u0 = F(p_d0)
    return u0 / (1 - u1 + u0)


def disc_population(norm, n, game):
    return observable(*parse_pop([f"disc:{norm}:{n}"]).batched_tables(1), game)


RULES = [  # (k, aggregation, quorum, q, eps, recipient_observes)
    (3, "majority", None, 1.0, 0.0, True), (5, "majority", None, 0.3, 0.02, True), (4, "quorum", 3, 0.7, 0.01, False),
    (3, "quorum", 3, 1.0, 0.05, True), (2, "quorum", 1, 0.5, 0.0, False), (1, "single", None, 0.4, 0.03, True),
]


@pytest.mark.parametrize("k, rule, quorum, q, eps, recipient", RULES)
@pytest.mark.parametrize("norm", list(SECOND_ORDER))
def test_closed_form_under_every_rule_without_ties(norm, k, rule, quorum, q, eps, recipient):
    """The exact chain equals (19a) to 1e-9, and the payoff is (b - c)(1 - e) g."""
    e, mu, n = 0.02, 0.03, 7
    game = Game(e=e, mu=mu, observers=k, aggregation=rule, quorum=quorum, observation=q, perception_error=eps,
                recipient_observes=recipient)
    solution = exact.solve(*disc_population(norm, n, game), game)
    g = closed_form_good(norm, e, mu, eps, k, rule, quorum)
    torch.testing.assert_close(solution.good, torch.full((1, n), g, dtype=torch.float64), rtol=0, atol=1e-9)
    expected = (game.b - game.c) * (1 - e) * g
    torch.testing.assert_close(solution.payoff, torch.full((1, n), expected, dtype=torch.float64), rtol=0, atol=1e-9)


def test_closed_form_of_the_issue_on_the_command_line(capsys):
    """issue 13's Done-when: `recigrad exact --pop disc:stern-judging:8 --observers 3 --aggregation majority --json`."""
    assert main(["exact", "--pop", "disc:stern-judging:8", "--observers", "3", "--aggregation", "majority", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["exact"]
    g = closed_form_good("stern-judging", 0.01, 0.01, 0.0, 3, "majority")
    assert g == pytest.approx(0.98980980125388, abs=1e-13)  # (19a) evaluated by hand: 0.999702 / 1.00999404
    numpy.testing.assert_allclose(result["good"], [g] * 8, rtol=0, atol=1e-9)
    numpy.testing.assert_allclose(result["payoff"], [4 * 0.99 * g] * 8, rtol=0, atol=1e-9)


@pytest.mark.parametrize("rule", [(2, "majority", None), (4, "majority", None), (1, "single", None), (3, "quorum", 2)])
def test_observation_probability_drops_out_of_every_rule(rule):
    """With probability 1 - q nothing changes: P_q = q P_1 + (1 - q) I has P_1's stationary law (any tables)."""
    k, aggregation, quorum = rule
    act, sig = random_tables(1, 6, torch.Generator().manual_seed(k))
    pis = []
    for q in (1.0, 0.25):
        game = Game(e=0.03, mu=0.02, observers=k, aggregation=aggregation, quorum=quorum, observation=q, perception_error=0.04)
        pis.append(exact.stationary(*observable(act, sig, game), game))
    torch.testing.assert_close(pis[1], pis[0], rtol=0, atol=1e-13)


def birth_death_good(norm, n, e, mu, eps, k):
    """Even-k majority, homogeneous disc:NORM: the number of good agents is a birth-death chain (docs/model.md
    (19c)); its stationary law is the product of up/down ratios, and g = E[G] / N."""
    cg, dg, cb, db = SECOND_ORDER[norm]
    observed = lambda right, wrong: (1 - mu) * ((1 - eps) * right + eps * wrong) + mu * (1 - ((1 - eps) * right + eps * wrong))  # noqa: E731
    p_c1, p_d1, p_d0 = observed(cg, dg), observed(dg, cg), observed(db, cb)

    def after(x_d, x_r):  # P(good after | x_d, x_r)
        laws = [(1 - e, p_c1), (e, p_d1)] if x_r else [(1.0, p_d0)]
        return sum(w * (binomial_good(p, k, "majority")[0] + x_d * binomial_good(p, k, "majority")[1]) for w, p in laws)

    weights = [1.0]
    for good in range(n):  # from `good` to `good + 1`
        up = (n - good) / n * (good / (n - 1) * after(0, 1) + (1 - good / (n - 1)) * after(0, 0))
        down = (good + 1) / n * (1 - (good / (n - 1) * after(1, 1) + (1 - good / (n - 1)) * after(1, 0)))
        weights.append(weights[-1] * up / down)
    return sum(j * w for j, w in enumerate(weights)) / sum(weights) / n


@pytest.mark.parametrize("norm, k, n", [("stern-judging", 2, 6), ("simple-standing", 4, 8), ("image-scoring", 2, 5),
                                        ("shunning", 4, 7)])
def test_even_majority_homogeneous_is_a_birth_death_chain(norm, k, n):
    e, mu, eps = 0.05, 0.04, 0.02
    game = Game(e=e, mu=mu, observers=k, aggregation="majority", perception_error=eps, observation=0.6)
    good = exact.solve(*disc_population(norm, n, game), game).good
    torch.testing.assert_close(good, torch.full((1, n), birth_death_good(norm, n, e, mu, eps, k), dtype=torch.float64),
                               rtol=0, atol=1e-12)

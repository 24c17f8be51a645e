"""The one payoff entry point (recigrad.evaluation.evaluate), the one "exact when
N <= 12" decision, and the one stationary solve shared by the full and the lumped chain."""

from __future__ import annotations

import pytest
import torch

from recigrad.dynamics import exact, meanfield
from recigrad.evaluation import evaluate
from recigrad.evaluation.models import resolve_model
from recigrad.game import ConfigError, Game, observable
from recigrad.game.population import parse_pop

GAME = Game()


@pytest.mark.parametrize(("n", "model"), [(3, "exact"), (12, "exact"), (13, "meanfield"), (40, "meanfield")])
def test_auto_is_exact_up_to_twelve(n, model):
    assert resolve_model("auto", n) == model


def test_explicit_model_is_kept():
    assert resolve_model("meanfield", 4) == "meanfield"
    assert resolve_model("exact", 13) == "exact"  # the chain itself refuses N > 12


def test_unknown_model_is_refused():
    with pytest.raises(ConfigError, match="unknown model 'mf'; allowed: auto, exact, meanfield"):
        resolve_model("mf", 4)


def test_evaluate_small_population_is_the_exact_chain():
    act, sig = parse_pop(["disc:stern-judging:3", "alld:shunning:2"]).batched_tables(1)
    solution, model = evaluate(act, sig, GAME)
    expected = exact.solve(*observable(act, sig, GAME), GAME)
    assert model == "exact"
    torch.testing.assert_close(solution.payoff, expected.payoff, rtol=0, atol=0)
    torch.testing.assert_close(solution.good, expected.good, rtol=0, atol=0)


def test_evaluate_large_population_is_mean_field_and_matches_theory():
    """13 stern-judging discriminators: mean field (exact for second order) gives
    g = (1 - mu) / (2 - mu - A), A = (1-e)(1-mu) + e mu (docs/model.md §3)."""
    act, sig = parse_pop(["disc:stern-judging:13"]).batched_tables(1)
    solution, model = evaluate(act, sig, GAME)
    expected = meanfield.solve(*observable(act, sig, GAME), GAME)
    a = (1 - GAME.e) * (1 - GAME.mu) + GAME.e * GAME.mu
    assert model == "meanfield"
    torch.testing.assert_close(solution.payoff, expected.payoff, rtol=0, atol=0)
    torch.testing.assert_close(solution.good, torch.full((1, 13), (1 - GAME.mu) / (2 - GAME.mu - a)), rtol=0, atol=1e-12)


def test_evaluate_exact_refuses_thirteen_agents():
    act, sig = parse_pop(["disc:stern-judging:13"]).batched_tables(1)
    with pytest.raises(ConfigError, match="the exact chain needs N <= 12"):
        evaluate(act, sig, GAME, "exact")


def test_stationary_law_of_a_two_state_chain():
    """Rates a (0 -> 1) and b (1 -> 0): pi = (b, a) / (a + b), and its gradient."""
    rates = torch.tensor([0.3, 0.1], requires_grad=True)
    a, b = rates
    generator = torch.stack([torch.stack([-a, a]), torch.stack([b, -b])])[None]
    pi = exact.stationary_law(generator)
    torch.testing.assert_close(pi, torch.tensor([[0.25, 0.75]]), rtol=0, atol=1e-15)
    (grad,) = torch.autograd.grad(pi[0, 1], rates)  # d/da a/(a+b) = b/(a+b)^2, d/db = -a/(a+b)^2
    torch.testing.assert_close(grad, torch.tensor([0.1 / 0.16, -0.3 / 0.16]), rtol=0, atol=1e-12)

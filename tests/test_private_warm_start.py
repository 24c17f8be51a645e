"""The private mean field warm-started (``private_meanfield.solve_warm``; docs/model.md §6, "The learner under
private assessment"): from a nearby fixed point and its Jacobian it reaches the fixed point the cold solve
(``solve``, from the initial views) reaches, within the solver's tolerance, with the same implicit gradient;
the learner that keeps the start per (population, learner) trains as the cold one and gives a seed's numbers
alone or inside a batch."""

import pytest
import torch

from recigrad.dynamics import private_meanfield
from recigrad.game import DTYPE, Game, observable
from recigrad.game.population import Agent, Population
from recigrad.game.regime import load_regime
from recigrad.learning import private_learner

GAMES = {
    "no gossip": Game(assessment="private", e=0.01, mu=0.01, observation=0.9),
    "gossip": Game(assessment="private", e=0.02, mu=0.03, observation=0.7, gossip=0.5, perception_error=0.02),
}


def _population(kind: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pc, so)`` ``(1, 4, ...)``: a random population, or a stern-judging one with a random first agent."""
    gen = torch.Generator().manual_seed(seed)
    act = 0.05 + 0.9 * torch.rand(1, 4, 2, 2, generator=gen, dtype=DTYPE)
    sig = 0.05 + 0.9 * torch.rand(1, 4, 2, 2, 2, generator=gen, dtype=DTYPE)
    if kind == "stern-judging":
        sj_act, sj_sig = Population(tuple(Agent("disc", "stern-judging") for _ in range(4))).batched_tables(1)
        act[:, 1:], sig[:, 1:] = sj_act[:, 1:].to(DTYPE), sj_sig[:, 1:].to(DTYPE)
    return act, sig


def _nearby(act, sig, seed, size=0.02):
    gen = torch.Generator().manual_seed(1000 + seed)
    return ((act + size * (2 * torch.rand(act.shape, generator=gen, dtype=DTYPE) - 1)).clamp(0, 1),
            (sig + size * (2 * torch.rand(sig.shape, generator=gen, dtype=DTYPE) - 1)).clamp(0, 1))


def _residual(z, pc, so, game, pairs):
    return float((private_meanfield._step(z, pc, so, game, pairs) - z).abs().max())


@pytest.mark.parametrize("pairs", [True, False], ids=["pairs", "no pairs"])
@pytest.mark.parametrize("game", list(GAMES), ids=list(GAMES))
@pytest.mark.parametrize("kind,seed", [("random", 0), ("random", 1), ("stern-judging", 2)])
def test_a_warm_solve_equals_the_cold_one(kind, seed, game, pairs):
    """Started from the fixed point and Jacobian of nearby tables, the warm solve takes the chord method (no
    fallback) and lands where the cold solve does: payoffs, views and agreement within 1e-11, the fixed point a
    root of ``Phi`` to 1e-12, and the implicit gradient (the solve's reused Jacobian) the cold one's."""
    game = GAMES[game]
    act, sig = _population(kind, seed)
    pc, so = observable(act, sig, game)
    _, start = private_meanfield.solve_warm(*observable(*_nearby(act, sig, seed), game), game, pairs=pairs)
    z0 = start.states[0]
    # the start is not the answer: the nearby tables' fixed point is off by far more than the tolerance
    cold_z, _, _ = private_meanfield._fixed_point(pc[0], so[0], game, pairs)
    assert float((z0 - cold_z).abs().max()) > 1e-4
    z, jac, used = private_meanfield._fixed_point(pc[0], so[0], game, pairs, (z0, start.jacobians[0]))
    assert used and jac is None  # the chord method converged
    assert _residual(z, pc[0], so[0], game, pairs) < 1e-12
    torch.testing.assert_close(z, cold_z, rtol=0, atol=1e-11)

    own_pc, own_so = pc.clone().requires_grad_(True), so.clone().requires_grad_(True)
    warm, after = private_meanfield.solve_warm(own_pc, own_so, game, pairs=pairs, start=start)
    weights = torch.tensor([[1.0, -0.4, 0.3, 0.2]], dtype=DTYPE)
    ((warm.payoff * weights).sum() + warm.agreement.sum()).backward()
    grads = own_pc.grad.clone(), own_so.grad.clone()
    own_pc.grad, own_so.grad = None, None
    cold = private_meanfield.solve(own_pc, own_so, game, pairs=pairs)
    ((cold.payoff * weights).sum() + cold.agreement.sum()).backward()
    for a, b in ((warm.payoff, cold.payoff), (warm.views, cold.views), (warm.agreement, cold.agreement)):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=0, atol=1e-11)
    torch.testing.assert_close(grads[0], own_pc.grad, rtol=0, atol=1e-9)
    torch.testing.assert_close(grads[1], own_so.grad, rtol=0, atol=1e-9)
    assert float(own_pc.grad.abs().max()) > 1e-3
    # the next start: this fixed point and the Jacobian of Phi there (an independent jacrev at the cold root)
    torch.testing.assert_close(after.states[0], cold_z, rtol=0, atol=1e-11)
    torch.testing.assert_close(after.jacobians[0], private_meanfield._jacobian(cold_z, pc[0], so[0], game, pairs),
                               rtol=0, atol=1e-9)


def test_a_far_or_missing_start_falls_back_to_the_cold_solve():
    """A start from unrelated tables (the chord method fails there), a population whose start is NaN and no start
    at all give the cold solve's numbers, each population on its own."""
    game = GAMES["no gossip"]
    tables = [observable(*_population(kind, seed), game) for kind, seed in (("random", 3), ("stern-judging", 4))]
    pc, so = torch.cat([t[0] for t in tables]), torch.cat([t[1] for t in tables])
    cold = private_meanfield.solve(pc, so, game)
    far_pc = torch.ones_like(pc) * torch.tensor([[0.0, 0.0], [0.0, 1.0]], dtype=DTYPE)  # discriminators
    far_so = torch.zeros_like(so)
    far_so[..., 1, :, 1] = 1.0  # ... judging by the recipient's view
    _, far = private_meanfield.solve_warm(far_pc, far_so, game)
    far.states[1] = float("nan")
    for start in (far, None):
        warm, _ = private_meanfield.solve_warm(pc, so, game, start=start)
        torch.testing.assert_close(warm.payoff, cold.payoff, rtol=0, atol=1e-11)
        torch.testing.assert_close(warm.views, cold.views, rtol=0, atol=1e-11)
    with pytest.raises(ValueError, match="start"):
        private_meanfield.solve_warm(pc[:1], so[:1], game, start=far)


def _train(name, seeds, iterations, warm=True):
    state = private_learner.start(load_regime(name), seeds)
    state.warm_start = warm
    payoffs = [private_learner.step(state) for _ in range(iterations)]
    return state, torch.stack(payoffs)


@pytest.mark.parametrize("name", ["private-sj", "private-L2"])
def test_the_warm_learner_trains_as_the_cold_one(name):
    """Six iterations (Adam at lr 0.2: the tables move, the start is a step behind): the model's payoffs and
    the logits of the warm-started learner are the cold one's to 1e-10."""
    warm, warm_payoffs = _train(name, [1, 2], 6)
    cold, cold_payoffs = _train(name, [1, 2], 6, warm=False)
    assert cold.model_start is None and warm.model_start.states.shape == (2 * 1, 4, 4, 4)
    torch.testing.assert_close(warm_payoffs, cold_payoffs, rtol=0, atol=1e-10)
    torch.testing.assert_close(warm.logits_act.detach(), cold.logits_act.detach(), rtol=0, atol=1e-10)
    torch.testing.assert_close(warm.logits_sig.detach(), cold.logits_sig.detach(), rtol=0, atol=1e-10)
    assert float((warm.logits_act.detach() - private_learner.start(load_regime(name), [1, 2]).logits_act.detach()).abs().max()) > 0.1


def test_a_seed_gives_the_same_numbers_alone_or_inside_a_batch():
    """The start is kept per population: seed 4 trained alone and as the second of three has the same payoffs,
    logits and model starts (a start shared across populations would carry another seed's fixed point)."""
    alone, alone_payoffs = _train("private-L2", [4], 5)
    batch, batch_payoffs = _train("private-L2", [3, 4, 0], 5)
    torch.testing.assert_close(batch_payoffs[:, 1], alone_payoffs[:, 0], rtol=0, atol=1e-12)
    torch.testing.assert_close(batch.logits_act.detach()[1], alone.logits_act.detach()[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(batch.model_start.states[1], alone.model_start.states[0], rtol=0, atol=1e-12)
    assert float((batch.model_start.states[0] - batch.model_start.states[1]).abs().max()) > 1e-3

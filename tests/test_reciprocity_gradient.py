"""The reciprocity-gradient learner: its gradient, its privacy, its reproducibility."""


import pytest
import torch

from recigrad.dynamics import exact
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop
from recigrad.game.regime import load_regime
from recigrad.learning import reciprocity_gradient as learner


def exact_payoff_of_learner(logits_act, logits_sig, act, sig, i, game):
    act, sig = act.clone(), sig.clone()
    act[:, i], sig[:, i] = torch.sigmoid(logits_act), torch.sigmoid(logits_sig)
    pc, so = observable(act, sig, game)
    return exact.solve(pc, so, game).payoff[:, i]


@pytest.mark.parametrize("solver", ["meanfield", "exact"])
def test_gradient_matches_finite_differences_of_exact_payoff(solver):
    """Second-order tables: the model's gradient (estimates = the true observable
    tables) equals finite differences of the exact chain's payoff."""
    game = Game(e=0.03, mu=0.02)
    pop = parse_pop(["learner:stern-judging:1", "disc:stern-judging:4", "alld:shunning:1", "allc:image-scoring:1"])
    act, sig = pop.batched_tables(1)
    g = torch.Generator().manual_seed(0)
    logits_act = torch.randn(1, 1, 2, generator=g).repeat_interleave(2, 1).reshape(1, 1, 2, 2)  # second order
    logits_sig = torch.randn(1, 2, 1, 2, generator=g).expand(1, 2, 2, 2).reshape(1, 1, 2, 2, 2).clone()
    pc_true, so_true = observable(act, sig, game)
    la, ls = logits_act.clone().requires_grad_(), logits_sig.clone().requires_grad_()
    learner.own_payoffs(la, ls, pc_true, so_true, [0], game, solver).sum().backward()
    h = 1e-5
    # directions that keep the tables second order: move both own-reputation entries together
    for x_rec in (0, 1):
        bump = torch.zeros(1, 1, 2, 2)
        bump[..., :, x_rec] = h
        up = exact_payoff_of_learner((logits_act + bump)[:, 0], logits_sig[:, 0], act, sig, 0, game)
        down = exact_payoff_of_learner((logits_act - bump)[:, 0], logits_sig[:, 0], act, sig, 0, game)
        fd = ((up - down) / (2 * h)).item()
        assert la.grad[0, 0, :, x_rec].sum().item() == pytest.approx(fd, abs=1e-8, rel=1e-6)
    for a in (0, 1):
        for x_rec in (0, 1):
            bump = torch.zeros(1, 1, 2, 2, 2)
            bump[..., a, :, x_rec] = h
            up = exact_payoff_of_learner(logits_act[:, 0], (logits_sig + bump)[:, 0], act, sig, 0, game)
            down = exact_payoff_of_learner(logits_act[:, 0], (logits_sig - bump)[:, 0], act, sig, 0, game)
            fd = ((up - down) / (2 * h)).item()
            assert ls.grad[0, 0, a, :, x_rec].sum().item() == pytest.approx(fd, abs=1e-9, rel=1e-5)


def test_exact_model_gradient_third_order():
    """With the exact chain as model, every entry's gradient matches finite differences."""
    game = Game()
    pop = parse_pop(["learner:L1:1", "norm:L1:3", "norm:L7:2"])
    act, sig = pop.batched_tables(1)
    pc_true, so_true = observable(act, sig, game)
    g = torch.Generator().manual_seed(1)
    logits_act, logits_sig = torch.randn(1, 1, 2, 2, generator=g), torch.randn(1, 1, 2, 2, 2, generator=g)
    la, ls = logits_act.clone().requires_grad_(), logits_sig.clone().requires_grad_()
    learner.own_payoffs(la, ls, pc_true, so_true, [0], game, "exact").sum().backward()
    h = 1e-5
    for logits, grad in ((logits_act, la.grad), (logits_sig, ls.grad)):
        flat = logits.view(-1)
        for k in range(flat.numel()):
            old = flat[k].item()
            flat[k] = old + h
            up = exact_payoff_of_learner(logits_act[:, 0], logits_sig[:, 0], act, sig, 0, game)
            flat[k] = old - h
            down = exact_payoff_of_learner(logits_act[:, 0], logits_sig[:, 0], act, sig, 0, game)
            flat[k] = old
            assert grad.view(-1)[k].item() == pytest.approx(((up - down) / (2 * h)).item(), abs=1e-9, rel=1e-5)


def test_warmup_starts_at_the_norm():
    regime = load_regime("warmup-L6-in-L3-joint")
    state = learner.start(regime, [0])
    act, sig = state.tables()
    torch.testing.assert_close(act[0, 0], torch.sigmoid(torch.tensor(3.0)) * torch.tensor([[0.0, 1.0], [0.0, 1.0]])
                               + torch.sigmoid(torch.tensor(-3.0)) * torch.tensor([[1.0, 0.0], [1.0, 0.0]]), rtol=0, atol=1e-12)
    # stern judging: good iff the action matches the recipient's reputation, at probability sigmoid(3)
    for a in (0, 1):
        for xd in (0, 1):
            for xr in (0, 1):
                expected = torch.sigmoid(torch.tensor(3.0 if a == xr else -3.0))
                assert sig[0, 0, a, xd, xr].item() == pytest.approx(expected.item(), abs=1e-15)


FORMATIONS = [
    Game(e=0.03, mu=0.02, observers=3, aggregation="majority"),
    Game(e=0.03, mu=0.02, observers=3, aggregation="quorum", quorum=2, observation=0.6, perception_error=0.05),
    Game(e=0.03, mu=0.02, observers=3, aggregation="majority", recipient_observes=False),
]


@pytest.mark.parametrize("game", FORMATIONS, ids=["majority3", "quorum2of3-q0.6-eps0.05", "majority3-recipient-out"])
@pytest.mark.parametrize("solver", ["meanfield", "exact"])
def test_gradient_through_the_aggregation(game, solver):
    """Under k = 3 observers and majority or quorum (and q < 1, a perception error, the recipient
    out of the pool), the learner's gradient of its payoff in its model (the estimates are the true
    observable tables) equals finite differences of the exact chain's payoff under the same rule:
    the model reaches the aggregation and the gradient goes through it.  The mean field is exact
    here for second-order tables (docs/model.md §3), so both solvers give the same answer along the
    second-order directions; the exact solver is checked along every entry."""
    pop = parse_pop(["learner:stern-judging:1", "disc:stern-judging:3", "alld:shunning:1", "allc:image-scoring:1"])
    act, sig = pop.batched_tables(1)
    g = torch.Generator().manual_seed(2)
    logits_act = torch.randn(1, 1, 2, generator=g).repeat_interleave(2, 1).reshape(1, 1, 2, 2)  # second order
    logits_sig = torch.randn(1, 2, 1, 2, generator=g).expand(1, 2, 2, 2).reshape(1, 1, 2, 2, 2).clone()
    pc_true, so_true = observable(act, sig, game)
    la, ls = logits_act.clone().requires_grad_(), logits_sig.clone().requires_grad_()
    learner.own_payoffs(la, ls, pc_true, so_true, [0], game, solver).sum().backward()
    h = 1e-5
    directions = []  # (which head, bump): second-order directions (both own/donor-reputation entries together)
    for x_rec in (0, 1):
        bump = torch.zeros(1, 1, 2, 2)
        bump[..., :, x_rec] = h
        directions.append(("act", bump))
    for a in (0, 1):
        for x_rec in (0, 1):
            bump = torch.zeros(1, 1, 2, 2, 2)
            bump[..., a, :, x_rec] = h
            directions.append(("sig", bump))
    plain = Game(e=game.e, mu=game.mu)
    for head, bump in directions:
        tables = {"act": logits_act, "sig": logits_sig}
        up, down = dict(tables), dict(tables)
        up[head], down[head] = tables[head] + bump, tables[head] - bump
        fd = (exact_payoff_of_learner(up["act"][:, 0], up["sig"][:, 0], act, sig, 0, game)
              - exact_payoff_of_learner(down["act"][:, 0], down["sig"][:, 0], act, sig, 0, game)) / (2 * h)
        grad = (la.grad if head == "act" else ls.grad) * (bump / h)
        assert grad.sum().item() == pytest.approx(fd.item(), abs=1e-8, rel=1e-5)
        # the rule matters: the one-observer game's derivative is not this one
        fd_plain = (exact_payoff_of_learner(up["act"][:, 0], up["sig"][:, 0], act, sig, 0, plain)
                    - exact_payoff_of_learner(down["act"][:, 0], down["sig"][:, 0], act, sig, 0, plain)) / (2 * h)
        if head == "sig":
            assert abs(fd_plain.item() - fd.item()) > 1e-4


def test_exact_model_gradient_third_order_under_majority():
    """Third-order tables under majority k = 3: with the exact chain as model, every entry's
    gradient matches finite differences of the exact payoff."""
    game = FORMATIONS[0]
    pop = parse_pop(["learner:L1:1", "norm:L1:3", "norm:L7:2"])
    act, sig = pop.batched_tables(1)
    pc_true, so_true = observable(act, sig, game)
    g = torch.Generator().manual_seed(3)
    logits_act, logits_sig = torch.randn(1, 1, 2, 2, generator=g), torch.randn(1, 1, 2, 2, 2, generator=g)
    la, ls = logits_act.clone().requires_grad_(), logits_sig.clone().requires_grad_()
    learner.own_payoffs(la, ls, pc_true, so_true, [0], game, "exact").sum().backward()
    h = 1e-5
    for logits, grad in ((logits_act, la.grad), (logits_sig, ls.grad)):
        flat = logits.view(-1)
        for k in range(flat.numel()):
            old = flat[k].item()
            flat[k] = old + h
            up = exact_payoff_of_learner(logits_act[:, 0], logits_sig[:, 0], act, sig, 0, game)
            flat[k] = old - h
            down = exact_payoff_of_learner(logits_act[:, 0], logits_sig[:, 0], act, sig, 0, game)
            flat[k] = old
            assert grad.view(-1)[k].item() == pytest.approx(((up - down) / (2 * h)).item(), abs=1e-9, rel=1e-5)

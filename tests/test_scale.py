"""Societies at scale (docs/model.md §6): the views' solve without the views, and what train reports.

The society path (``view.observer_sums`` + ``meanfield.own_payoffs``, compiled on the CPU, tensor
operations elsewhere) is checked against the plain per-view solve (``view.substitute`` +
``meanfield.solve`` of every view): payoffs and gradients to 1e-12 (they differ only in the order of
the sums over agents, about 1e-15 here).
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.testing import assert_close

from recigrad.cli import main
from recigrad.dynamics import meanfield
from recigrad.game import Game, observable
from recigrad.game.norms import action_table, signal_table
from recigrad.game.population import parse_pop
from recigrad.game.regime import Regime, TrainConfig
from recigrad.learning import reciprocity_gradient as rg
from recigrad.learning import view
from recigrad.running import train
from recigrad.util import numerics

TOLERANCE = dict(atol=1e-12, rtol=0.0)
GAMES = {
    "plain": Game(),
    "errors, q and perception": Game(e=0.03, mu=0.02, observation=0.7, perception_error=0.05),
}


def _problem(n: int, learners: list[int], seed: int):
    generator = torch.Generator().manual_seed(seed)
    pc_hat = torch.rand(2, n, 2, 2, generator=generator, dtype=torch.float64)
    so_hat = torch.rand(2, n, 2, 2, 2, generator=generator, dtype=torch.float64)
    logits_act = torch.randn(2, len(learners), 2, 2, generator=generator, dtype=torch.float64)
    logits_sig = torch.randn(2, len(learners), 2, 2, 2, generator=generator, dtype=torch.float64)
    return pc_hat, so_hat, logits_act, logits_sig


def _per_view(logits_act, logits_sig, pc_hat, so_hat, learners, game):
    """The plain per-view solve: build every view, solve each with ``meanfield.solve``."""
    pc_own, so_own = observable(numerics.sigmoid(logits_act), numerics.sigmoid(logits_sig), game)
    pc_view, so_view = view.substitute(pc_hat, so_hat, learners, pc_own, so_own)
    batch, n_learners, n = pc_view.shape[:3]
    payoff = meanfield.solve(pc_view.flatten(0, 1), so_view.flatten(0, 1), game).payoff.reshape(batch, n_learners, n)
    return payoff[:, torch.arange(n_learners), torch.tensor(learners)]


def _tensor_path(logits_act, logits_sig, pc_hat, so_hat, learners, game):
    """The society path in tensor operations (the one other devices take)."""
    pc_own, so_own = observable(numerics.sigmoid(logits_act), numerics.sigmoid(logits_sig), game)
    s = view.good_probabilities(pc_hat, so_hat, learners, pc_own, so_own, game)
    return meanfield._own_payoffs_tensors(s, pc_hat, pc_own, learners, game)


def _with_gradients(payoffs, logits_act, logits_sig, *rest):
    act, sig = logits_act.clone().requires_grad_(True), logits_sig.clone().requires_grad_(True)
    value = payoffs(act, sig, *rest)
    (value * torch.linspace(0.5, 1.5, value.numel(), dtype=value.dtype).reshape(value.shape)).sum().backward()
    return value.detach(), act.grad, sig.grad


@pytest.mark.parametrize("game", GAMES.values(), ids=GAMES.keys())
@pytest.mark.parametrize("n, learners", [(9, [0, 4, 8]), (40, list(range(40))), (30, [7, 2])])
@pytest.mark.parametrize("path", [rg.own_payoffs, _tensor_path], ids=["compiled", "tensors"])
def test_society_path_equals_the_per_view_solve(game, n, learners, path):
    pc_hat, so_hat, logits_act, logits_sig = _problem(n, learners, seed=n)
    expected = _with_gradients(_per_view, logits_act, logits_sig, pc_hat, so_hat, learners, game)
    got = _with_gradients(path, logits_act, logits_sig, pc_hat, so_hat, learners, game)
    assert_close(got[0], expected[0], **TOLERANCE)  # payoffs
    assert_close(got[1], expected[1], **TOLERANCE)  # gradient in the action logits
    assert_close(got[2], expected[2], **TOLERANCE)  # gradient in the signal logits


def test_good_probabilities_equal_those_of_the_views():
    game = GAMES["errors, q and perception"]
    learners = [1, 5]
    pc_hat, so_hat, logits_act, logits_sig = _problem(12, learners, seed=3)
    pc_own, so_own = observable(numerics.sigmoid(logits_act), numerics.sigmoid(logits_sig), game)
    pc_view, so_view = view.substitute(pc_hat, so_hat, learners, pc_own, so_own)
    from recigrad.game.formation import good_probability

    expected = good_probability(pc_view.flatten(0, 1), so_view.flatten(0, 1), game).reshape(2, 2, 12, 2, 2)
    assert_close(view.good_probabilities(pc_hat, so_hat, learners, pc_own, so_own, game), expected, **TOLERANCE)


def test_a_society_seed_trains_the_same_alone_or_in_a_batch():
    regime = Regime("society", "", Game(), parse_pop(["learner:stern-judging:5", "learner:simple-standing:4"]),
                    TrainConfig(interactions=200))
    together, alone = rg.start(regime, [3, 4]), rg.start(regime, [4])
    for _ in range(3):
        payoff_together, payoff_alone = rg.step(together), rg.step(alone)
        assert torch.equal(payoff_together[1], payoff_alone[0])
    assert torch.equal(together.logits_sig[1], alone.logits_sig[0])


def test_population_tables_are_each_agents_norm_tables():
    population = parse_pop(["learner:L6:1", "disc:stern-judging:3", "norm:L1:2", "allc:simple-standing:1", "learner:random:2"])
    act, sig = population.tables()
    for j, agent in enumerate(population.agents):
        if agent.norm == "random":
            continue
        assert torch.equal(act[j], action_table(agent.kind, agent.norm).to(act.dtype))
        assert torch.equal(sig[j], signal_table(agent.norm).to(sig.dtype))
    assert not torch.equal(sig[-1], sig[-2])  # two random starts, two draws


def test_train_json_reports_seconds_per_iteration_and_groups_the_agents(tmp_path, capsys):
    # N = 200: the same path as N = 10000 (mean-field model, reference and evaluation; N > 12), in test time
    out = tmp_path / "run"
    argv = ["train", "--pop", "learner:stern-judging:1", "--pop", "disc:stern-judging:199", "--iterations", "3",
            "--seeds", "2", "--out", str(out), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seconds_per_iteration"] > 0
    assert result["seconds_per_iteration"] <= result["seconds"]
    assert [(a["kind"], a["count"]) for a in result["agents"]] == [("learner", 1), ("disc", 199)]
    assert result["agents"][1]["sig"] == signal_table("stern-judging").tolist()
    written = json.loads((out / "result.json").read_text())
    assert written["seconds_per_iteration"] == result["seconds_per_iteration"]
    assert len(json.loads((out / "config.json").read_text())["regime"]["agents"]) == 200  # config.json: every agent


def test_merged_seed_blocks_keep_the_slowest_median():
    regime = Regime("small", "", Game(), parse_pop(["learner:stern-judging:1", "disc:stern-judging:3"]), TrainConfig())
    blocks = [train.train_seeds(regime, [seed], iterations=2) for seed in (0, 1)]
    merged = train.merge(blocks)
    assert merged.result["seconds_per_iteration"] == max(b.result["seconds_per_iteration"] for b in blocks)

"""The private-assessment world (recigrad.dynamics.private, docs/model.md §1 "Private assessment:
one interaction"): the compiled loop against the plain replay, the public world as its special case,
seeds and batches, the permutation schedule, Uchida & Sasaki's 1/2 under stern judging, gossip and
agreement, and the command line."""

import itertools
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recigrad.cli import main
from recigrad.dynamics import private, private_kernel, private_plain, world
from recigrad.dynamics.streams import Streams
from recigrad.evaluation import private_measures as measures
from recigrad.game import ConfigError, Game, observable
from recigrad.game.population import parse_pop

MIXED = ["norm:L1:2", "norm:stern-judging:2", "disc:image-scoring:1", "allc:L3:1"]
GAMES = {
    "observation and errors": Game(assessment="private", observation=0.6, perception_error=0.1, e=0.05, mu=0.05),
    "gossip, permutation, initial views": Game(assessment="private", observation=0.8, perception_error=0.05, e=0.1,
                                               mu=0.02, gossip=1.5, gossip_trust=0.7, initial_good=0.6,
                                               schedule="permutation"),
    "whole gossip": Game(assessment="private", e=0.05, mu=0.1, gossip=2.0, gossip_trust=1.0),
}


def _records(rec, b):
    return [(int(rec.donor[b, t]), int(rec.recipient[b, t]), int(rec.intended[b, t]), int(rec.action[b, t]),
             tuple(rec.assessment[b, t].tolist()), tuple(rec.perceived[b, t].tolist())) for t in range(rec.donor.shape[1])]


def _tables(specs, batch):
    return parse_pop(specs).batched_tables(batch)


@pytest.mark.parametrize("name", list(GAMES))
def test_the_compiled_loop_plays_what_the_plain_replay_reads(name):
    game, steps, seeds = GAMES[name], 700, [3, 11]
    act, sig = _tables(MIXED, len(seeds))
    act[1, 0] = torch.tensor([[0.3, 0.9], [0.2, 0.7]], dtype=torch.float64)  # a stochastic action table too
    start = private.initial_state(seeds, act.shape[1], game)
    end, tally, rec = private.play(act, sig, start, private.private_streams(seeds), steps, game, record=True)
    streams = private.private_streams(seeds)
    width = private_kernel.private_uniforms(act.shape[1], game.gossip)
    uniforms = streams.world.uniform_numpy(steps, 3), streams.private.uniform_numpy(steps, width)
    for b in range(len(seeds)):
        pairs = list(zip(rec.donor[b].tolist(), rec.recipient[b].tolist())) if game.schedule == "permutation" else None
        plain = private_plain.replay(act[b].tolist(), sig[b].tolist(), game, start.views[b].tolist(),
                                     uniforms[0][b].tolist(), uniforms[1][b].tolist(), pairs)
        assert _records(rec, b) == plain["records"]
        assert end.views[b].tolist() == plain["views"]
        for field in ("given", "received", "donated", "good"):
            assert getattr(tally, field)[b].tolist() == plain[field], field
        assert float(tally.agree[b]) == plain["agree"]


def test_the_replay_sees_errors_gossip_and_unobserved_agents():
    """The replay test above is not vacuous: its runs hold every kind of event."""
    game = GAMES["gossip, permutation, initial views"]
    act, sig = _tables(MIXED, 1)
    before = private.initial_state([3], act.shape[1], game)
    state, _, rec = private.play(act, sig, before, private.private_streams([3]), 700, game, record=True)
    assert bool((rec.intended != rec.action).any())  # execution errors
    assert bool((~rec.observed).any()) and bool(rec.observed.any())
    observed = rec.perceived >= 0
    assert bool((rec.perceived[observed] != rec.action.unsqueeze(-1).expand_as(rec.perceived)[observed]).any())
    assert 0 < int(before.views.sum()) < before.views.numel()  # some initial views bad


def test_private_world_is_the_public_world_when_everyone_sees_everything():
    """q = 1, no assessment or perception error, one signal table: every view of ``j`` is the public
    reputation of ``j``, record by record; the execution error (seen by all alike) is allowed."""
    specs = ["disc:stern-judging:4", "allc:stern-judging:1", "alld:stern-judging:1", "norm:stern-judging:1"]
    act, sig = _tables(specs, 3)
    seeds, steps = [0, 1, 2], 1500
    game = Game(assessment="private", e=0.1, mu=0.0)
    pc, so = observable(act, sig, Game(e=0.1, mu=0.0))
    x, public_tally, public = world.play(pc, so, world.initial_reputation(3, 7), Streams(seeds, "world"), steps, record=True)
    state, tally, rec = private.play(act, sig, private.initial_state(seeds, 7, game), private.private_streams(seeds), steps,
                                     game, record=True)
    assert torch.equal(rec.donor, public.donor)
    assert torch.equal(rec.recipient, public.recipient)
    assert torch.equal(rec.action, public.action)
    assert torch.equal(rec.assessment, public.reputation.to(torch.int8).unsqueeze(-1).expand(-1, -1, 7))
    assert torch.equal(state.views, x.to(torch.int8).unsqueeze(1).expand(-1, 7, -1))
    assert 0.1 < float(public.reputation.float().mean()) < 0.9  # reputations did change
    torch.testing.assert_close(tally.good / 6, public_tally.good, rtol=0, atol=0)
    # public reputations: everyone agrees, by definition
    torch.testing.assert_close(measures.agreement(tally), torch.ones(3, dtype=torch.float64), rtol=0, atol=0)


def test_a_seed_gives_the_same_run_alone_in_a_batch_and_in_any_chunks(monkeypatch):
    game = GAMES["gossip, permutation, initial views"]
    act, sig = _tables(MIXED, 3)
    seeds = [9, 5, 7]
    state, _, batch = private.play(act, sig, private.initial_state(seeds, 6, game), private.private_streams(seeds), 400,
                                   game, record=True)
    alone_state, _, alone = private.play(act[1:2], sig[1:2], private.initial_state([5], 6, game),
                                         private.private_streams([5]), 400, game, record=True)
    assert _records(batch, 1) == _records(alone, 0)
    assert torch.equal(state.views[1], alone_state.views[0])
    monkeypatch.setattr(private, "CHUNK", 7)  # chunks that cut rounds (N = 6), and two calls
    streams = private.private_streams([5])
    half, _, first = private.play(act[1:2], sig[1:2], private.initial_state([5], 6, game), streams, 250, game, record=True)
    rest, _, second = private.play(act[1:2], sig[1:2], half, streams, 150, game, record=True)
    assert _records(first, 0) + _records(second, 0) == _records(alone, 0)
    assert torch.equal(rest.views, alone_state.views)


def test_different_seeds_give_different_runs():
    game = GAMES["observation and errors"]
    act, sig = _tables(MIXED, 2)
    _, _, rec = private.play(act, sig, private.initial_state([0, 1], 6, game), private.private_streams([0, 1]), 200, game,
                             record=True)
    assert _records(rec, 0) != _records(rec, 1)


def test_the_permutation_schedule_gives_every_agent_one_donation_per_round_to_a_uniform_derangement():
    n, rounds = 4, 9000
    game = Game(assessment="private", schedule="permutation")
    act, sig = _tables(["norm:L3:4"], 1)
    _, tally, rec = private.play(act, sig, private.initial_state([2], n, game), private.private_streams([2]), n * rounds,
                                 game, record=True)
    donors = rec.donor[0].reshape(rounds, n)
    recipients = rec.recipient[0].reshape(rounds, n)
    assert torch.equal(donors.sort(1).values, torch.arange(n).expand(rounds, n))
    sigma = torch.empty_like(donors)
    sigma.scatter_(1, donors.long(), recipients)  # sigma[round, donor] = recipient
    assert not bool((sigma == torch.arange(n)).any())  # no agent its own recipient
    # the 9 derangements of 4, each with probability 1/9: a chi-square with 8 degrees of freedom
    derangements = [p for p in itertools.permutations(range(n)) if all(p[i] != i for i in range(n))]
    counts = np.array([int((sigma == torch.tensor(p)).all(1).sum()) for p in derangements])
    assert len(derangements) == 9 and counts.sum() == rounds
    expected = rounds / 9
    assert ((counts - expected) ** 2 / expected).sum() < 26.1  # the 0.1 % point of chi-square(8)
    # the order of donors is a uniform permutation too: who donates first, each with probability 1/4
    first = np.bincount(donors[:, 0].numpy(), minlength=n)
    assert ((first - rounds / n) ** 2 / (rounds / n)).sum() < 16.3  # the 0.1 % point of chi-square(3)
    torch.testing.assert_close(tally.donated, torch.full((1, n), float(rounds), dtype=torch.float64))


def test_initial_views_are_good_with_probability_initial_good():
    n, seeds, p = 40, list(range(20)), 0.3
    views = private.initial_state(seeds, n, Game(assessment="private", initial_good=p)).views.double()
    share = views.mean((1, 2))  # per population, over N^2 views
    se = math.sqrt(p * (1 - p) / (n * n * len(seeds)))
    assert abs(float(share.mean()) - p) < 4 * se
    assert int(private.initial_state([0], 5, Game(assessment="private")).views.sum()) == 25


def test_stern_judging_under_private_noisy_assessment_views_half_the_population_good():
    """Uchida & Sasaki (2013): under stern judging with private assessment, q < 1 and errors, a view is
    good with probability 1/2 (an observer judges a donor good iff they agree on the recipient);
    public reputations under the same norm and errors stay mostly good."""
    n, seeds = 10, list(range(16))
    game = Game(assessment="private", observation=0.9, e=0.02, mu=0.05)
    act, sig = _tables([f"norm:stern-judging:{n}"], len(seeds))
    tally, _ = private.simulate(act, sig, seeds, 400 * n, game, burn_in=100 * n)
    share = measures.good_views(tally)
    se = float(share.std()) / math.sqrt(len(seeds))
    assert abs(float(share.mean()) - 0.5) < 4 * se
    assert se < 0.01
    pc, so = observable(act, sig, Game(e=0.02, mu=0.05))
    public, _ = world.simulate(pc, so, seeds, 400 * n, burn_in=100 * n)
    assert float(public.good_fraction().mean()) > 0.85


def test_gossip_raises_agreement_toward_one():
    """More gossip, more agreement (statistically, with standard errors over seeds); under public
    reputations (the test above) agreement is 1."""
    n, seeds = 10, list(range(12))
    act, sig = _tables([f"norm:L3:{n}"], len(seeds))
    means, ses = [], []
    for gossip in (0.0, 5.0, 50.0):
        game = Game(assessment="private", observation=0.5, e=0.02, mu=0.05, gossip=gossip)
        tally, _ = private.simulate(act, sig, seeds, 400 * n, game, burn_in=100 * n)
        agreement = measures.agreement(tally)
        means.append(float(agreement.mean()))
        ses.append(float(agreement.std()) / math.sqrt(len(seeds)))
    for k in range(2):
        assert means[k + 1] - means[k] > 4 * math.hypot(ses[k], ses[k + 1])
    assert means[2] > 0.9
    assert means[0] < 0.8


def test_measures_count_what_they_say():
    tally = private.PrivateTally(given=torch.tensor([[3.0, 1.0, 0.0]]), received=torch.tensor([[1.0, 1.0, 2.0]]),
                                 donated=torch.tensor([[4.0, 4.0, 2.0]]), good=torch.tensor([[20.0, 10.0, 0.0]]),
                                 agree=torch.tensor([30.0]), interactions=10)
    torch.testing.assert_close(measures.cooperation(tally), torch.tensor([0.4]))
    torch.testing.assert_close(measures.good_views(tally), torch.tensor([30.0 / (10 * 6)]))
    torch.testing.assert_close(measures.agreement(tally), torch.tensor([30.0 / (10 * 6)]))
    per = measures.class_cooperation(tally, ["a", "b", "a"])
    torch.testing.assert_close(per["a"], torch.tensor([0.5]))
    torch.testing.assert_close(per["b"], torch.tensor([0.25]))


def test_the_world_refuses_a_public_game_and_wrong_shapes():
    act, sig = _tables(["norm:L3:3"], 1)
    with pytest.raises(ValueError, match="assessment = public"):
        private.simulate(act, sig, [0], 10, Game())
    with pytest.raises(ValueError, match="need act"):
        private.simulate(act, sig[:, :2], [0], 10, Game(assessment="private"))
    with pytest.raises(ValueError, match="random streams"):
        private.play(act, sig, private.initial_state([0, 1], 3, Game(assessment="private")), private.private_streams([0]), 5,
                     Game(assessment="private"))


def test_simulate_command_reports_the_private_measures(capsys):
    pop = ["--pop", "norm:L1:4", "--pop", "norm:stern-judging:4"]
    flags = ["--assessment", "private", "--observation", "0.9", "--perception-error", "0.05", "--gossip", "0.5"]
    assert main(["simulate", *pop, *flags, "--interactions", "4000", "--burn-in", "800", "--batch", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    act, sig = _tables(["norm:L1:4", "norm:stern-judging:4"], 2)
    game = Game(assessment="private", observation=0.9, perception_error=0.05, gossip=0.5)
    tally, _ = private.simulate(act, sig, [0, 1], 4000, game, burn_in=800)
    assert out["cooperation"] == pytest.approx(float(measures.cooperation(tally).mean()), abs=1e-12)
    assert out["good_views"] == pytest.approx(float(measures.good_views(tally).mean()), abs=1e-12)
    assert out["agreement"] == pytest.approx(float(measures.agreement(tally).mean()), abs=1e-12)
    per = measures.class_cooperation(tally, ["norm:L1"] * 4 + ["norm:stern-judging"] * 4)
    assert out["per_norm"]["norm:L1"]["cooperation"] == pytest.approx(float(per["norm:L1"].mean()), abs=1e-12)
    assert set(out["per_norm"]) == {"norm:L1", "norm:stern-judging"}
    assert {"agreement_se", "good_views_se", "cooperation_se", "welfare_se"} <= set(out)
    assert main(["simulate", *pop, *flags, "--interactions", "500", "--burn-in", "0"]) == 0
    text = capsys.readouterr().out
    assert "private views: good" in text and "cooperation by donors of each strategy: norm:L1" in text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # capsys read each time
@given(field=st.sampled_from(["--gossip", "--gossip-trust", "--initial-good", "--observation", "--aggregation"]),
       value=st.sampled_from(["-1", "0", "0.5", "1", "2", "nan", "inf", "1e400", "x", "majority"]))
def test_simulate_command_refuses_bad_private_flags_in_one_line(field, value, capsys):
    argv = ["simulate", "--pop", "norm:L3:3", "--assessment", "private", "--interactions", "50", "--burn-in", "0", "--json",
            field, value]
    code = main(argv)
    out, err = capsys.readouterr()
    if code == 0:
        figures = json.loads(out)
        assert 0.0 <= figures["cooperation"] <= 1.0 and 0.0 <= figures["agreement"] <= 1.0
    else:
        assert code == 2 and out == ""
        assert err.startswith("recigrad: error: ") and err.count("\n") == 1


def test_public_code_still_refuses_a_private_game_and_public_simulate_is_unchanged(capsys):
    with pytest.raises(ConfigError, match="needs public reputations"):
        world.simulate(*observable(*_tables(["norm:L3:3"], 1), Game()), [0], 10, game=Game(assessment="private"))
    assert main(["simulate", "--pop", "norm:L3:3", "--interactions", "100", "--burn-in", "0", "--json"]) == 0
    assert "agreement" not in json.loads(capsys.readouterr().out)

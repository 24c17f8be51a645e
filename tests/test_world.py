"""The simulator against the rules of docs/model.md §1, the closed forms and the exact chain.

Statistical tests compare a mean over independent populations with theory,
within 5 standard errors measured between populations, and check that the
standard error is small enough for the comparison to have teeth.
"""

import pytest
import torch

from helpers import quadratic_root
from recigrad.dynamics import exact
from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import initial_reputation, play, simulate
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop

Z = 5.0


def population_tables(specs, batch, game):
    return observable(*parse_pop(specs).batched_tables(batch), game)


def assert_statistically_equal(samples, expected, max_se):
    """``samples (B, ...)``: one estimate per population; ``expected`` broadcastable."""
    mean = samples.mean(0)
    se = samples.std(0) / samples.shape[0] ** 0.5
    assert (se < max_se).all(), f"standard error {se.max():.2e} too large for the test to mean anything"
    gap = (mean - expected).abs()
    assert (gap <= Z * se + 1e-12).all(), f"gap {gap.max():.2e} vs {Z} se {se.max():.2e}"


def test_same_seed_same_numbers_and_batch_independence():
    game = Game()
    pc, so = population_tables(["disc:stern-judging:5", "alld:shunning:2"], 3, game)
    a, _ = simulate(pc, so, [11, 12, 13], 3000, burn_in=100)
    b, _ = simulate(pc, so, [11, 12, 13], 3000, burn_in=100)
    alone, _ = simulate(pc[:1], so[:1], [12], 3000, burn_in=100)
    torch.testing.assert_close(a.given, b.given, rtol=0, atol=0)
    torch.testing.assert_close(a.good, b.good, rtol=0, atol=0)
    torch.testing.assert_close(a.given[1], alone.given[0], rtol=0, atol=0)
    torch.testing.assert_close(a.good[1], alone.good[0], rtol=0, atol=0)
    torch.testing.assert_close(a.received[1], alone.received[0], rtol=0, atol=0)
    assert not torch.equal(a.given[0], a.given[1])


def test_records_follow_the_rules():
    """Replay the public records: contexts are the reputations at the time, the
    signal becomes the donor's reputation, nobody meets or observes itself."""
    game = Game(e=0.1, mu=0.1)
    n, steps = 5, 4000
    pc, so = population_tables(["disc:stern-judging:2", "allc:shunning:2", "alld:image-scoring:1"], 2, game)
    streams = Streams([3, 4])
    x_end, tally, rec = play(pc, so, initial_reputation(2, n), streams, steps, record=True)
    assert len(rec) == steps
    for b in range(2):
        x = [1] * n
        given, received = [0] * n, [0] * n
        fields = [rec.donor[b], rec.recipient[b], rec.observers[b, :, 0], rec.donor_rep[b], rec.recipient_rep[b], rec.action[b],
                  rec.reputation[b]]
        for d, r, o, xd, xr, a, s in zip(*(f.tolist() for f in fields)):
            assert d != r
            assert o != d
            assert (xd, xr) == (x[d], x[r])
            x[d] = s
            given[d] += a
            received[r] += a
        assert x == x_end[b].tolist()
        assert given == tally.given[b].tolist()
        assert received == tally.received[b].tolist()
    action = rec.action.bool()
    assert not action[rec.donor == 4].any()  # alld: execution error never turns D into C


def test_matching_is_uniform():
    n, steps, batch = 6, 20000, 4
    game = Game()
    pc, so = population_tables(["disc:stern-judging:6"], batch, game)
    _, _, rec = play(pc, so, initial_reputation(batch, n), Streams(range(batch)), steps, record=True)
    total = batch * steps
    donor = torch.bincount(rec.donor.reshape(-1).long(), minlength=n) / total
    assert (donor - 1 / n).abs().max() < Z * (1 / n / total) ** 0.5
    pairs = torch.bincount((rec.donor * n + rec.recipient).reshape(-1).long(), minlength=n * n).reshape(n, n) / total
    expected = (1 - torch.eye(n)) / (n * (n - 1))
    assert (pairs - expected).abs().max() < Z * (expected.max() / total) ** 0.5
    observer_is_recipient = (rec.observers[..., 0] == rec.recipient).double().mean()
    assert abs(observer_is_recipient - 1 / (n - 1)) < Z * (0.25 / total) ** 0.5


def test_execution_error_only_turns_c_into_d():
    game = Game(e=0.2, mu=0.0)
    batch, steps = 8, 5000
    pc, so = population_tables(["allc:stern-judging:4", "alld:stern-judging:4"], batch, game)
    tally, _ = simulate(pc, so, list(range(batch)), steps)
    given = tally.given.sum(0)
    assert given[4:].sum() == 0
    rate = given[:4].sum() / (batch * steps / 2)
    assert abs(rate - (1 - game.e)) < Z * (game.e * (1 - game.e) / (batch * steps / 2)) ** 0.5


@pytest.mark.parametrize("e, mu, n", [(0.01, 0.01, 8), (0.1, 0.05, 5), (0.05, 0.2, 12)])
@pytest.mark.parametrize("norm", ["stern-judging", "simple-standing", "image-scoring", "shunning"])
def test_closed_forms(norm, e, mu, n):
    game = Game(e=e, mu=mu)
    A = (1 - e) * (1 - mu) + e * mu
    g = (1 - mu) / (2 - mu - A) if norm in ("stern-judging", "simple-standing") else mu / (1 - A + mu)
    # image scoring and shunning sit near g = 1/3 with slow collective swings: longer runs
    slow = norm in ("image-scoring", "shunning")
    batch, steps, burn_in = (256, 20000, 5000) if slow else (512, 4000, 1000)
    pc, so = population_tables([f"disc:{norm}:{n}"], batch, game)
    tally, _ = simulate(pc, so, list(range(batch)), steps, burn_in=burn_in)
    assert_statistically_equal(tally.good_fraction().mean(1), torch.tensor(g), max_se=6e-3 if slow else 1e-3)


@pytest.mark.parametrize("norm, value", [("L1", 0.980388), ("L3", 0.980392), ("L5", 0.980392), ("L7", 0.980004)])
def test_leading_eight(norm, value):
    game = Game()
    batch, n = 1024, 8
    pc, so = population_tables([f"norm:{norm}:{n}"], batch, game)
    tally, _ = simulate(pc, so, list(range(batch)), 4000, burn_in=1000)
    good = tally.good_fraction().mean(1)
    # the stationary values of Ohtsuki & Iwasa's quadratic (infinite population) ...
    assert quadratic_root(norm, game.e, game.mu) == pytest.approx(value, abs=5e-7)
    assert_statistically_equal(good, torch.tensor(value), max_se=2e-4)
    # ... and the exact chain at this N (differs from the quadratic by 3e-5 for L7/L8, below what 2e-4 resolves)
    assert_statistically_equal(good, exact.solve(pc[:1], so[:1], game).good.mean(), max_se=2e-4)


@pytest.mark.parametrize(
    "specs, e, mu",
    [
        (["allc:stern-judging:1", "alld:shunning:2", "disc:simple-standing:2", "disc:image-scoring:1"], 0.05, 0.05),
        (["disc:stern-judging:3", "alld:stern-judging:1", "allc:image-scoring:1", "norm:L1:2"], 0.1, 0.02),
    ],
)
def test_mixed_populations_match_exact_chain(specs, e, mu):
    game = Game(b=4.0, c=1.5, e=e, mu=mu)
    batch = 512
    pc, so = population_tables(specs, batch, game)
    tally, _ = simulate(pc, so, list(range(batch)), 4000, burn_in=1000)
    truth = exact.solve(pc[:1], so[:1], game)
    assert_statistically_equal(tally.good_fraction(), truth.good[0], max_se=3e-3)
    assert_statistically_equal(tally.payoff_per_round(game.b, game.c), truth.payoff[0], max_se=3e-2)


def test_plain_python_game_matches_exact_chain():
    """The literal one-draw-per-rule implementation (no code shared with the world)
    lands on the exact chain too: the chain, not the vectorised simulator, is the truth."""
    from recigrad.dynamics.plain import play_plain

    game = Game(b=4.0, c=1.0, e=0.1, mu=0.05)
    specs = ["allc:stern-judging:1", "alld:shunning:1", "disc:simple-standing:2", "norm:L1:1"]
    act, sig = parse_pop(specs).batched_tables(1)
    runs = [play_plain(act[0].tolist(), sig[0].tolist(), game, 40_000, seed, burn_in=500) for seed in range(24)]
    good = torch.tensor([r["good"] for r in runs])
    payoff = torch.tensor([r["payoff"] for r in runs])
    truth = exact.solve(*observable(act, sig, game), game)
    assert_statistically_equal(good, truth.good[0], max_se=5e-3)
    assert_statistically_equal(payoff, truth.payoff[0], max_se=3e-2)


# ---------------------------------------------------------------- how reputations form (issue 13)

MIXED = ["allc:stern-judging:1", "alld:shunning:1", "disc:simple-standing:2", "disc:stern-judging:1", "norm:L1:1"]
RULES = [
    Game(e=0.05, mu=0.05, observers=3, aggregation="majority"),
    Game(e=0.05, mu=0.05, observers=4, aggregation="majority", observation=0.6),  # ties keep the old reputation
    Game(e=0.05, mu=0.05, observers=3, aggregation="quorum", quorum=3, recipient_observes=False),  # unanimity
    Game(e=0.05, mu=0.05, observers=5, aggregation="quorum", quorum=2, perception_error=0.1),
    Game(e=0.05, mu=0.05, observation=0.5, perception_error=0.2, recipient_observes=False),
    Game(e=0.05, mu=0.05, observers=2, aggregation="majority", observation=0.8, perception_error=0.05, recipient_observes=False),
]


def rule_id(game):
    return f"k{game.observers}-{game.aggregation}{game.quorum or ''}-q{game.observation}-eps{game.perception_error}" + (
        "" if game.recipient_observes else "-norecipient")


# Computed on main at commit 5929eb2 (before the records changed), with
#   pop = parse_pop(["disc:stern-judging:3", "alld:stern-judging:2", "disc:simple-standing:2"]); game = Game()
#   pc, so = observable(*pop.batched_tables(2), game); tally, x = simulate(pc, so, [5, 6], 2000, burn_in=100)
#   _, _, rec = play(pc, so, initial_reputation(2, 7), Streams([5, 6]), 1500, record=True)
#   sha256 over the bytes of rec.donor, recipient, observer, donor_rep, recipient_rep, action, signal in that order.
MAIN_GIVEN = [[208, 192, 210, 0, 0, 199, 212], [193, 169, 200, 0, 0, 218, 206]]
MAIN_RECEIVED = [[195, 174, 197, 50, 30, 195, 180], [171, 183, 184, 57, 33, 185, 173]]
MAIN_GOOD = [[1994, 1969, 1968, 361, 251, 1982, 1991], [1974, 1981, 1977, 399, 259, 1965, 1988]]
MAIN_RECORDS_SHA256 = "40b7667a9621719df64fef9da3e56a1f97d2f7864e357fee1888563c5fa538c1"


def test_default_game_plays_as_before_the_new_records():
    import hashlib

    game = Game()
    pc, so = population_tables(["disc:stern-judging:3", "alld:stern-judging:2", "disc:simple-standing:2"], 2, game)
    tally, _ = simulate(pc, so, [5, 6], 2000, burn_in=100, game=game)
    assert tally.given.tolist() == MAIN_GIVEN
    assert tally.received.tolist() == MAIN_RECEIVED
    assert tally.good.tolist() == MAIN_GOOD
    _, _, rec = play(pc, so, initial_reputation(2, 7), Streams([5, 6]), 1500, record=True, game=game)
    digest = hashlib.sha256()
    for t in (rec.donor, rec.recipient, rec.observers[..., 0], rec.donor_rep, rec.recipient_rep, rec.action, rec.signals[..., 0]):
        digest.update(t.contiguous().numpy().tobytes())
    assert digest.hexdigest() == MAIN_RECORDS_SHA256
    assert torch.equal(rec.reputation, rec.signals[..., 0])  # the one signal is the new reputation
    assert torch.equal(rec.perceived[..., 0], rec.action)  # no perception error


@pytest.mark.parametrize("game", [Game(e=0.1, mu=0.1), *RULES], ids=rule_id)
def test_kernel_and_plain_replay_give_identical_records(game):
    """The compiled loop and a literal plain-Python reading of its uniform layout, on the same uniforms
    (across a chunk boundary), from a mixed start: the same records, row for row, and the same end."""
    from recigrad.dynamics.kernel import formed_uniforms
    from recigrad.dynamics.plain import replay

    steps = 700
    pc, so = population_tables(MIXED, 2, game)
    start = torch.tensor([[1, 0, 1, 1, 0, 1], [0, 0, 1, 1, 1, 1]])
    x_end, _, rec = play(pc, so, start, Streams([8, 9]), steps, record=True, game=game)
    width = 3 if game.plain_formation else formed_uniforms(game.observers)
    uniforms = Streams([8, 9]).uniform_numpy(steps, width)
    for b in range(2):
        expected, x = replay(pc[b].tolist(), so[b].tolist(), game, start[b].tolist(), uniforms[b].tolist())
        assert [rec.row(b, t) for t in range(steps)] == expected
        assert x_end[b].tolist() == x


def test_perceived_signal_table_unfolds_the_perception_error_exactly():
    """The world draws the perception explicitly from the table given the perceived action; folding it
    back gives the observable table it was handed (the law of a signal given the realised action is unchanged)."""
    from recigrad.dynamics.world import perceived_signal_table
    from recigrad.game.rules import observable_signal

    generator = torch.Generator().manual_seed(4)
    sig = torch.rand(3, 5, 2, 2, 2, generator=generator, dtype=torch.float64)
    for eps, mu in ((0.0, 0.01), (0.01, 0.0), (0.2, 0.05), (0.49, 0.3)):
        so = observable_signal(sig, mu, eps)
        sp = perceived_signal_table(so, eps)
        torch.testing.assert_close(sp, observable_signal(sig, mu), rtol=0, atol=1e-13)
        refolded = (1 - eps) * sp + eps * sp.flip(-3)
        torch.testing.assert_close(refolded, so, rtol=0, atol=1e-14)  # rounding, amplified by 1 / (1 - 2 eps)


@pytest.mark.parametrize("game", RULES, ids=rule_id)
def test_mixed_populations_match_exact_chain_under_every_rule(game):
    batch = 256
    pc, so = population_tables(MIXED, batch, game)
    tally, _ = simulate(pc, so, list(range(batch)), 4000, burn_in=1000, game=game)
    truth = exact.solve(pc[:1], so[:1], game)
    assert_statistically_equal(tally.good_fraction(), truth.good[0], max_se=3e-3)
    assert_statistically_equal(tally.payoff_per_round(game.b, game.c), truth.payoff[0], max_se=3e-2)


def test_observers_observation_and_perception_follow_the_rules():
    """k distinct observers, never the donor, never the recipient when it may not observe; observed with
    frequency q; the perceived action flipped with frequency eps; unobserved rows empty and unchanged."""
    game = Game(observers=3, aggregation="majority", observation=0.7, perception_error=0.15, recipient_observes=False)
    n, steps, batch = 6, 20000, 2
    pc, so = population_tables(MIXED, batch, game)
    _, _, rec = play(pc, so, initial_reputation(batch, n), Streams([1, 2]), steps, record=True, game=game)
    seen = rec.observed
    total = batch * steps
    assert abs(seen.double().mean() - game.observation) < Z * (0.21 / total) ** 0.5
    obs = rec.observers[seen]  # (observed rows, k)
    assert ((obs >= 0) & (obs < n)).all()
    assert (obs != rec.donor[seen].unsqueeze(-1)).all()
    assert (obs != rec.recipient[seen].unsqueeze(-1)).all()
    assert (obs[:, 0] != obs[:, 1]).all() and (obs[:, 0] != obs[:, 2]).all() and (obs[:, 1] != obs[:, 2]).all()
    flipped = (rec.perceived[seen] != rec.action[seen].unsqueeze(-1)).double()
    eps = game.perception_error
    assert abs(flipped.mean() - eps) < Z * (eps * (1 - eps) / flipped.numel()) ** 0.5
    assert (rec.observers[~seen] == -1).all()
    assert (rec.signals[~seen] == 0).all() and (rec.perceived[~seen] == 0).all()
    assert torch.equal(rec.reputation[~seen], rec.donor_rep[~seen])
    good = rec.signals[seen].sum(-1)
    assert torch.equal(rec.reputation[seen], (good >= 2).to(torch.uint8))  # majority of 3


def test_majority_tie_keeps_the_old_reputation():
    game = Game(observers=4, aggregation="majority", mu=0.3)
    pc, so = population_tables(MIXED, 1, game)
    _, _, rec = play(pc, so, initial_reputation(1, 6), Streams([3]), 5000, record=True, game=game)
    good = rec.signals.sum(-1).long()
    tie = good == 2
    assert int(tie.sum()) > 500
    assert torch.equal(rec.reputation[tie], rec.donor_rep[tie])
    assert torch.equal(rec.reputation[~tie], (good[~tie] > 2).to(torch.uint8))


def test_a_seed_plays_the_same_alone_or_in_a_batch_under_any_rule():
    """Population 1 of a batch large enough for the parallel loop plays what its seed plays alone (serial loop)."""
    from recigrad.dynamics.kernel import PARALLEL_BATCH

    game = RULES[5]
    batch = PARALLEL_BATCH
    pc, so = population_tables(MIXED, batch, game)
    x, tally, rec = play(pc, so, initial_reputation(batch, 6), Streams(range(11, 11 + batch)), 1300, record=True, game=game)
    x1, tally1, rec1 = play(pc[1:2], so[1:2], initial_reputation(1, 6), Streams([12]), 1300, record=True, game=game)
    assert torch.equal(x[1], x1[0])
    torch.testing.assert_close(tally.good[1], tally1.good[0], rtol=0, atol=0)
    torch.testing.assert_close(tally.given[1], tally1.given[0], rtol=0, atol=0)
    for f in rec.FIELDS:
        assert torch.equal(getattr(rec, f)[1], getattr(rec1, f)[0]), f
    assert not torch.equal(rec.donor[0], rec.donor[1])


def test_more_observers_than_the_pool_is_refused():
    from recigrad.errors import ConfigError

    game = Game(observers=5, aggregation="majority", recipient_observes=False)
    pc, so = population_tables(MIXED, 1, game)
    with pytest.raises(ConfigError, match="observers = 5 needs at least 5 possible observers"):
        play(pc, so, initial_reputation(1, 6), Streams([0]), 10, game=game)


def test_plain_python_game_matches_exact_chain_under_a_rule():
    """The literal two-stage rules (explicit perception, observers by ``randrange`` without replacement,
    majority with ties) land on the exact chain as well."""
    from recigrad.dynamics.plain import play_plain

    game = Game(b=4.0, c=1.0, e=0.1, mu=0.05, observers=2, aggregation="majority", observation=0.8, perception_error=0.1,
                recipient_observes=False)
    specs = ["allc:stern-judging:1", "alld:shunning:1", "disc:simple-standing:2", "norm:L1:1"]
    act, sig = parse_pop(specs).batched_tables(1)
    runs = [play_plain(act[0].tolist(), sig[0].tolist(), game, 20_000, seed, burn_in=500) for seed in range(24)]
    good = torch.tensor([r["good"] for r in runs])
    payoff = torch.tensor([r["payoff"] for r in runs])
    truth = exact.solve(*observable(act, sig, game), game)
    assert_statistically_equal(good, truth.good[0], max_se=8e-3)
    assert_statistically_equal(payoff, truth.payoff[0], max_se=4e-2)


def test_simulate_command_reports_the_rule_and_agrees_with_exact(capsys):
    """``recigrad simulate --json`` under a non-default rule: the game in the JSON, and payoffs and
    reputations within 5 standard errors (between the batch's populations) of ``recigrad exact``."""
    import json

    from recigrad.cli import main

    flags = ["--pop", "disc:stern-judging:4", "--pop", "alld:stern-judging:1", "--pop", "allc:image-scoring:1", "--observers", "3",
             "--aggregation", "quorum", "--quorum", "2", "--perception-error", "0.05", "--recipient-observes", "false", "--json"]
    assert main(["simulate", *flags, "--interactions", "4000", "--batch", "96"]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert main(["exact", *flags]) == 0
    truth = json.loads(capsys.readouterr().out)["exact"]
    assert simulated["game"] == {"b": 5.0, "c": 1.0, "e": 0.01, "mu": 0.01, "observers": 3, "recipient_observes": False,
                                 "aggregation": "quorum", "quorum": 2, "observation": 1.0, "perception_error": 0.05,
                                 "assessment": "public", "initial_good": 1.0, "schedule": "uniform", "gossip": 0.0,
                                 "gossip_trust": 1.0}
    for key in ("payoff", "good"):
        se = torch.tensor(simulated[f"{key}_se"])
        assert (se < 0.05).all()
        gap = (torch.tensor(simulated[key]) - torch.tensor(truth[key])).abs()
        assert (gap <= Z * se).all(), (key, gap, se)

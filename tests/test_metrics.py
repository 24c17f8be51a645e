"""The metrics of docs/model.md §8 on hand-computed tables and closed forms."""

import pytest
import torch

from recigrad.evaluation import metrics
from recigrad.evaluation.best_response import Reference
from recigrad.game import DTYPE, Game
from recigrad.game.population import parse_pop

GAME = Game(b=5.0, c=1.0, e=0.01, mu=0.01)
DISC = torch.tensor([[0.0, 1.0], [0.0, 1.0]], dtype=DTYPE)  # cooperate iff the recipient is good
STERN = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]], dtype=DTYPE)  # good iff a == x_rec


def tensor(values):
    return torch.tensor(values, dtype=DTYPE)


def sj_good(game=GAME):
    """docs/model.md §3: g of a homogeneous disc + stern-judging population."""
    A = (1 - game.e) * (1 - game.mu) + game.e * game.mu
    return (1 - game.mu) / (2 - game.mu - A)


def hand_reference(payoff, act, sig, strict_act, strict_sig):
    """A Reference for one population, written by hand (not solved)."""
    return Reference(
        payoff=tensor([payoff]), act=act[None].to(DTYPE), sig=sig[None].to(DTYPE),
        strict_act=torch.as_tensor(strict_act, dtype=torch.bool).expand(1, 2, 2).clone(),
        strict_sig=torch.as_tensor(strict_sig, dtype=torch.bool).expand(1, 2, 2, 2).clone(),
        model="exact",
    )


def among_stern_discriminators(own_act, own_sig, n=5):
    """Agent 0 with the given tables among ``n - 1`` disc + stern-judging agents."""
    act, sig = parse_pop([f"disc:stern-judging:{n}"]).batched_tables(1)
    act[0, 0], sig[0, 0] = own_act, own_sig
    return act, sig


# ---------------------------------------------------------------------------
# percent of reference


def test_percent_of_reference_where_the_reference_is_zero():
    """Against unconditional defectors the reference is 0: the scale is c, so losing 0.01 c per round is 99%."""
    for game in (GAME, Game(b=6.0, c=2.0)):
        got = metrics.percent_of_reference(tensor([-0.01 * game.c, 0.0, -game.c]), tensor([0.0, 0.0, 0.0]), game)
        torch.testing.assert_close(got, tensor([99.0, 100.0, 0.0]), rtol=0, atol=1e-12)


def test_percent_of_reference_is_the_ratio_when_the_reference_is_at_least_c():
    payoff, ref = tensor([3.5, 0.5, 4.0, -1.0]), tensor([3.96, 1.0, 4.0, 2.0])
    expected = tensor([100 * 3.5 / 3.96, 50.0, 100.0, -50.0])
    torch.testing.assert_close(metrics.percent_of_reference(payoff, ref, GAME), expected, rtol=0, atol=1e-12)


def test_percent_of_reference_below_c_and_negative():
    """Reference in (0, c): scale c, not the ratio (0.4 / 0.5 would be 80%); negative reference: scale |ref|."""
    got = metrics.percent_of_reference(tensor([0.4, -3.0]), tensor([0.5, -2.0]), GAME)
    torch.testing.assert_close(got, tensor([100 * (1 - 0.1 / 1.0), 100 * (1 - 1.0 / 2.0)]), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# adherence


def test_adherence_without_strict_context_is_nan():
    own = tensor([[0.9, 0.2, 0.5, 0.7]])
    reference = tensor([[1.0, 0.0, 1.0, 0.0]])
    weights = tensor([[0.5, 0.3, 0.1, 0.1]])
    got = metrics.adherence(own, reference, torch.zeros(1, 4, dtype=DTYPE), weights)
    assert got.shape == (1,)
    assert torch.isnan(got).all(), got
    # strict contexts that never occur weigh nothing: still no answer
    strict = tensor([[1.0, 1.0, 0.0, 0.0]])
    never = tensor([[0.0, 0.0, 0.6, 0.4]])
    assert torch.isnan(metrics.adherence(own, reference, strict, never)).all()


def test_adherence_weighted_by_occurrence_over_strict_contexts():
    own = tensor([[0.9, 0.2, 0.5, 0.7], [1.0, 0.0, 0.0, 1.0]])
    reference = tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    strict = tensor([[1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    weights = tensor([[0.5, 0.3, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    # population 0: agreement 0.9, 0.8, (0.5 not strict), 0.3 with weights 0.5, 0.3, 0.1 -> 0.72 / 0.9
    got = metrics.adherence(own, reference, strict, weights)
    torch.testing.assert_close(got[0], tensor(0.72 / 0.9), rtol=0, atol=1e-14)
    assert torch.isnan(got[1])  # population 1 has no strict context
    # tables of any shape are flattened after the batch dimension
    torch.testing.assert_close(
        metrics.adherence(own[:1].view(1, 2, 2), reference[:1].view(1, 2, 2), strict[:1].view(1, 2, 2), weights[:1].view(1, 2, 2)),
        tensor([0.8]), rtol=0, atol=1e-14,
    )


# ---------------------------------------------------------------------------
# context sensitivity


def test_sensitivity_is_the_largest_difference_over_contexts_that_occur():
    head = tensor([[0.1, 0.9, 0.4, 0.6]])
    torch.testing.assert_close(metrics.sensitivity(head, tensor([[0.25, 0.25, 0.25, 0.25]])), tensor([0.8]), rtol=0, atol=1e-15)
    # the 0.9 context below OCCURS of the head's total does not count; just above, it does
    rare = metrics.OCCURS * 0.5
    torch.testing.assert_close(metrics.sensitivity(head, tensor([[0.5, rare, 0.2, 0.3 - rare]])), tensor([0.5]), rtol=0, atol=1e-15)
    often = metrics.OCCURS * 2
    torch.testing.assert_close(metrics.sensitivity(head, tensor([[0.5, often, 0.2, 0.3 - often]])), tensor([0.8]), rtol=0, atol=1e-15)
    # relative to the head's total, not absolute
    torch.testing.assert_close(metrics.sensitivity(head, 1e-6 * tensor([[0.5, rare, 0.2, 0.3 - rare]])), tensor([0.5]),
                               rtol=0, atol=1e-15)
    # a context with weight 0 never counts; nothing occurring: 0
    torch.testing.assert_close(metrics.sensitivity(head, tensor([[0.0, 0.0, 1.0, 0.0]])), tensor([0.0]), rtol=0, atol=0)
    torch.testing.assert_close(metrics.sensitivity(head, tensor([[0.0, 0.0, 0.0, 0.0]])), tensor([0.0]), rtol=0, atol=0)


def test_sensitivity_per_population_and_of_tables():
    head = tensor([[[0.2, 0.7], [0.2, 0.7]], [[0.5, 0.5], [0.5, 0.5]]])
    weights = torch.full((2, 2, 2), 0.25, dtype=DTYPE)
    torch.testing.assert_close(metrics.sensitivity(head, weights), tensor([0.5, 0.0]), rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------
# where contexts occur


def test_context_weights_by_hand():
    """N = 3, agent 0, independent reputations: donor contexts P(x_own) P(x_rec) with the recipient
    averaged over the others; observer contexts averaged over donors d != 0 and recipients r != d."""
    game = Game(e=0.1, mu=0.05)
    generator = torch.Generator().manual_seed(0)
    act = torch.rand(1, 3, 2, 2, generator=generator, dtype=DTYPE)
    sig = torch.rand(1, 3, 2, 2, 2, generator=generator, dtype=DTYPE)
    good = tensor([[0.9, 0.6, 0.3]])
    act_w, sig_w = metrics.context_weights(act, sig, good, 0, game)
    g = good[0].tolist()
    p = lambda x, q: q if x == 1 else 1 - q  # noqa: E731
    expected_act = [[p(xo, g[0]) * p(xr, (g[1] + g[2]) / 2) for xr in (0, 1)] for xo in (0, 1)]
    expected_sig = [[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]
    for d in (1, 2):
        others = [g[r] for r in range(3) if r != d]
        for a in (0, 1):
            for xd in (0, 1):
                for xr in (0, 1):
                    p_c = act[0, d, xd, xr].item() * (1 - game.e)
                    expected_sig[a][xd][xr] += p(a, p_c) * p(xd, g[d]) * p(xr, sum(others) / 2) / 2
    torch.testing.assert_close(act_w[0], tensor(expected_act), rtol=0, atol=1e-15)
    torch.testing.assert_close(sig_w[0], tensor(expected_sig), rtol=0, atol=1e-15)
    assert act_w.sum().item() == pytest.approx(1.0, abs=1e-15)
    assert sig_w.sum().item() == pytest.approx(1.0, abs=1e-15)


# ---------------------------------------------------------------------------
# reports against the exact chain and closed forms


@pytest.mark.parametrize("n", [5, 20])  # exact chain, then the mean field (exact for second order)
def test_homogeneous_stern_judging_report_equals_the_closed_form(n):
    act, sig = parse_pop([f"disc:stern-judging:{n}"]).batched_tables(1)
    g = sj_good()
    cooperation = (1 - GAME.e) * g  # disc: P(C) = P(recipient good) (1 - e)
    society = metrics.society_report(act, sig, list(range(n)), GAME)
    torch.testing.assert_close(society["cooperation"], tensor([cooperation]), rtol=0, atol=1e-12)
    torch.testing.assert_close(society["mean_payoff"], tensor([(GAME.b - GAME.c) * cooperation]), rtol=0, atol=1e-12)
    report = metrics.learner_report(act, sig, 0, GAME)
    assert set(report) == {"payoff", "action_sensitivity", "signal_sensitivity"}
    torch.testing.assert_close(report["payoff"], tensor([(GAME.b - GAME.c) * cooperation]), rtol=0, atol=1e-12)
    # disc and stern judging tell every occurring pair of contexts apart with certainty
    torch.testing.assert_close(report["action_sensitivity"], tensor([1.0]), rtol=0, atol=0)
    torch.testing.assert_close(report["signal_sensitivity"], tensor([1.0]), rtol=0, atol=0)


def test_society_report_of_unconditional_agents():
    """2 allc and 2 alld (N = 4): allc pays c (1 - e) per round; everyone receives b (1 - e) times
    the share of allc among its donors."""
    game = Game(b=4.0, c=1.0, e=0.05, mu=0.02)
    act, sig = parse_pop(["allc:image-scoring:2", "alld:shunning:2"]).batched_tables(1)
    allc = game.b * (1 - game.e) / 3 - game.c * (1 - game.e)
    alld = game.b * (1 - game.e) * 2 / 3
    report = metrics.society_report(act, sig, [0, 2], game)
    torch.testing.assert_close(report["mean_payoff"], tensor([(allc + alld) / 2]), rtol=0, atol=1e-12)
    torch.testing.assert_close(report["cooperation"], tensor([(1 - game.e) / 2]), rtol=0, atol=1e-12)
    only_allc = metrics.society_report(act, sig, [1], game)
    torch.testing.assert_close(only_allc["mean_payoff"], tensor([allc]), rtol=0, atol=1e-12)


def test_learner_report_reference_fields():
    """The learner plays disc + stern judging among its kind; references written by hand."""
    n = 5
    act, sig = parse_pop([f"disc:stern-judging:{n}"]).batched_tables(1)
    g = sj_good()
    payoff = (GAME.b - GAME.c) * (1 - GAME.e) * g
    # the reference says cooperate always, strict in every action context, no strict signal:
    # the learner agrees exactly when the recipient is good
    ref = hand_reference(4.0, torch.ones(2, 2), STERN, True, False)
    report = metrics.learner_report(act, sig, 0, GAME, ref)
    torch.testing.assert_close(report["reference"], tensor([4.0]), rtol=0, atol=0)
    torch.testing.assert_close(report["percent_of_reference"], tensor([100 * payoff / 4.0]), rtol=0, atol=1e-10)
    torch.testing.assert_close(report["adherence"], tensor([g]), rtol=0, atol=1e-12)
    # strict only against good recipients: full agreement; only against bad ones: none
    ref = hand_reference(4.0, torch.ones(2, 2), STERN, [[False, True], [False, True]], False)
    torch.testing.assert_close(metrics.learner_report(act, sig, 0, GAME, ref)["adherence"], tensor([1.0]), rtol=0, atol=1e-14)
    ref = hand_reference(4.0, torch.ones(2, 2), STERN, [[True, False], [True, False]], False)
    torch.testing.assert_close(metrics.learner_report(act, sig, 0, GAME, ref)["adherence"], tensor([0.0]), rtol=0, atol=1e-14)
    # both heads strict: action and signal contexts each weigh 1 in total, and the signals all agree
    ref = hand_reference(4.0, torch.ones(2, 2), STERN, True, True)
    torch.testing.assert_close(metrics.learner_report(act, sig, 0, GAME, ref)["adherence"], tensor([(g + 1) / 2]),
                               rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# the collapse rule


def collapse(own_act, own_sig, ref_act, ref_sig, strict_act=True, strict_sig=True):
    act, sig = among_stern_discriminators(own_act, own_sig)
    ref = hand_reference(4.0, ref_act, ref_sig, strict_act, strict_sig)
    report = metrics.learner_report(act, sig, 0, GAME, ref)
    return {k: report[k].tolist() for k in ("action_collapsed", "signal_collapsed", "collapsed")}, report


def test_constant_action_collapses_when_the_reference_discriminates():
    flags, report = collapse(torch.ones(2, 2), STERN, DISC, STERN)
    torch.testing.assert_close(report["action_sensitivity"], tensor([0.0]), rtol=0, atol=0)
    assert flags == {"action_collapsed": [True], "signal_collapsed": [False], "collapsed": [True]}


def test_constant_signal_collapses_when_the_reference_judges():
    flags, report = collapse(DISC, torch.full((2, 2, 2), 0.5), DISC, STERN)
    torch.testing.assert_close(report["signal_sensitivity"], tensor([0.0]), rtol=0, atol=0)
    assert flags == {"action_collapsed": [False], "signal_collapsed": [True], "collapsed": [True]}


def test_a_constant_reference_head_never_collapses():
    """Reference alld (constant): a constant learner is right, not collapsed."""
    flags, _ = collapse(torch.ones(2, 2), STERN, torch.zeros(2, 2), STERN)
    assert flags == {"action_collapsed": [False], "signal_collapsed": [False], "collapsed": [False]}
    # the reference varies only across a non-strict context: constant over the strict ones
    flags, _ = collapse(torch.ones(2, 2), STERN, DISC, STERN, strict_act=[[False, True], [False, True]])
    assert flags == {"action_collapsed": [False], "signal_collapsed": [False], "collapsed": [False]}


@pytest.mark.parametrize("high, collapsed", [(0.59, True), (0.61, False)])
def test_collapse_threshold_is_a_sensitivity_of_0_1(high, collapsed):
    """Action 0.5 against bad recipients and ``high`` against good ones: sensitivity high - 0.5."""
    own = tensor([[0.5, high], [0.5, high]])
    flags, report = collapse(own, STERN, DISC, STERN)
    torch.testing.assert_close(report["action_sensitivity"], tensor([high - 0.5]), rtol=0, atol=1e-15)
    assert flags["action_collapsed"] == [collapsed]
    assert flags["collapsed"] == [collapsed]


def brute_force_observer_contexts(act, good, agent, game):
    """Expected occurrences per round of the agent's signal contexts (a perceived, x_d, x_r), by enumerating the
    world's draws: donor, recipient, observed or not, every k-subset of the pool, the realised action and the
    agent's perception; reputations independent with probabilities ``good``."""
    import itertools
    import math

    n = act.shape[0]
    g = good.tolist()
    weights = torch.zeros(2, 2, 2, dtype=DTYPE)
    for d, r in itertools.permutations(range(n), 2):
        pool = [o for o in range(n) if o != d and (game.recipient_observes or o != r)]
        subsets = list(itertools.combinations(pool, game.observers))
        among = sum(agent in subset for subset in subsets) / len(subsets)  # P(agent is one of the k observers)
        for xd, xr in itertools.product((0, 1), repeat=2):
            p_state = (g[d] if xd else 1 - g[d]) * (g[r] if xr else 1 - g[r])
            p_c = act[d, xd, xr].item() * (1 - game.e)
            for a, p_a in ((1, p_c), (0, 1 - p_c)):
                for seen, p_seen in ((a, 1 - game.perception_error), (1 - a, game.perception_error)):
                    weights[seen, xd, xr] += (1 / (n - 1)) * game.observation * among * p_state * p_a * p_seen
    assert math.isclose(weights.sum().item(), game.observation * game.observers, abs_tol=1e-12)
    return weights  # per round: N interactions, donor d with probability 1/N each


@pytest.mark.parametrize("fields", [
    dict(), dict(observers=3, aggregation="majority", observation=0.4, perception_error=0.1),
    dict(observers=2, aggregation="quorum", quorum=1, recipient_observes=False, perception_error=0.05),
    dict(recipient_observes=False, observation=0.7),
])
def test_context_weights_under_every_rule_by_enumeration(fields):
    """docs/model.md (29a): the agent observes q k times per round, at the action it perceives; with the recipient
    out of the pool it never observes its own interactions as recipient."""
    game = Game(e=0.1, mu=0.05, **fields)
    generator = torch.Generator().manual_seed(1)
    act = torch.rand(1, 5, 2, 2, generator=generator, dtype=DTYPE)
    sig = torch.rand(1, 5, 2, 2, 2, generator=generator, dtype=DTYPE)
    good = tensor([[0.9, 0.6, 0.3, 0.75, 0.1]])
    act_w, sig_w = metrics.context_weights(act, sig, good, 2, game)
    torch.testing.assert_close(sig_w[0], brute_force_observer_contexts(act[0], good[0], 2, game), rtol=0, atol=1e-14)
    assert act_w.sum().item() == pytest.approx(1.0, abs=1e-15)


# ---------------------------------------------------------------------------
# share of the achievable gain, table distance, collapse measurability (docs/model.md §8)


def test_share_of_gain_by_hand():
    """(payoff - start) / (reference - start): 0 at the start, 1 at the reference, 0.5 half-way, negative below the start."""
    payoff, start, ref = tensor([1.0, 5.0, 3.0, 0.0]), tensor([1.0, 1.0, 1.0, 1.0]), tensor([5.0, 5.0, 5.0, 5.0])
    torch.testing.assert_close(metrics.share_of_gain(payoff, start, ref, GAME), tensor([0.0, 1.0, 0.5, -0.25]), rtol=0, atol=1e-15)


def test_share_of_gain_without_gain_is_nan():
    """A reference no better than the start (within 1e-6 c) leaves nothing to share: NaN, not a huge ratio."""
    got = metrics.share_of_gain(tensor([2.0, 2.0]), tensor([2.0, 2.0 - 1e-9]), tensor([2.0, 2.0]), GAME)
    assert torch.isnan(got).all(), got


def test_table_distance_by_hand():
    """Mean |own - ref| over the strict contexts: 4 strict action entries (0.1, 0.2, 0.4, 0) and 2 strict
    signal entries (0.5, 0.5): 1.7 / 6; the non-strict entries do not count."""
    strict_sig = torch.zeros(2, 2, 2, dtype=torch.bool)
    strict_sig[1, 1, 1] = strict_sig[0, 0, 1] = True
    ref = hand_reference(4.0, DISC, torch.zeros(2, 2, 2, dtype=DTYPE), True, strict_sig)
    own_act = tensor([[[0.1, 0.8], [0.4, 1.0]]])  # ref [[0, 1], [0, 1]]
    own_sig = torch.full((1, 2, 2, 2), 0.5, dtype=DTYPE)
    torch.testing.assert_close(metrics.table_distance(own_act, own_sig, ref), tensor([1.7 / 6]), rtol=0, atol=1e-15)


def test_table_distance_without_strict_context_is_nan():
    ref = hand_reference(0.0, DISC, STERN, False, False)
    got = metrics.table_distance(DISC[None], STERN[None], ref)
    assert torch.isnan(got).all(), got


def test_collapse_measurable_per_head():
    """Discriminating donor (0 and 1 on strict contexts): measurable; "everyone is bad" on strict contexts: not;
    a signal table that says good and bad on strict contexts: measurable; differences only off the strict
    contexts: not."""
    sj_like = hand_reference(4.0, DISC, torch.zeros(2, 2, 2, dtype=DTYPE), True, True)
    action, signal = metrics.collapse_measurable(sj_like)
    assert action.tolist() == [True]
    assert signal.tolist() == [False]
    stern = hand_reference(4.0, DISC, STERN, True, True)
    assert metrics.collapse_measurable(stern)[1].tolist() == [True]
    only_loose = torch.tensor([[True, False], [True, False]])  # strict only where DISC is 0
    assert metrics.collapse_measurable(hand_reference(4.0, DISC, STERN, only_loose, False))[0].tolist() == [False]


def test_random_start_payoff_against_cooperators_that_call_everyone_good():
    """Against 7 unconditional cooperators whose norm calls everyone good, the learner receives b (1 - e) per
    round whatever it does, and gives c (1 - e) times its mean action entry, weighted by contexts whose
    probabilities do not depend on its action table; random action entries are sigmoid(N(0, 1)), of mean 1/2
    and independent of the signal entries, so the mean payoff of random tables is (b - c / 2)(1 - e) = 4.455."""
    act, sig = parse_pop(["learner:random:1", "allc:11111111:7"]).batched_tables(1)
    mean, se = metrics.random_start_payoff(act, sig, 0, GAME)
    expected = (GAME.b - GAME.c / 2) * (1 - GAME.e)
    assert 0.0 < se < 0.01, se
    assert abs(mean - expected) < 3 * se, (mean, expected, se)


# ---------------------------------------------------------------------------
# hybrid-standing: the quick-suite regime whose reference is context-sensitive in both heads


@pytest.fixture(scope="module")
def standing():
    from recigrad.evaluation.best_response import best_response
    from recigrad.game.regime import load_regime

    regime = load_regime("hybrid-standing")
    act, sig = regime.population.batched_tables(1)
    return regime, act, sig, best_response(act, sig, 0, regime.game)


def test_hybrid_standing_reference_is_measurable_in_both_heads(standing):
    _, _, _, ref = standing
    action, signal = metrics.collapse_measurable(ref)
    assert bool(action[0]) and bool(signal[0])


def _learner_payoff(act, sig, own_act, own_sig, game):
    from recigrad.evaluation import evaluate

    act, sig = act.clone(), sig.clone()
    act[0, 0], sig[0, 0] = own_act, own_sig
    return float(evaluate(act, sig, game, model="exact")[0].payoff[0, 0])


@pytest.mark.parametrize("entry", [(1, 0, 1), (0, 1, 1), (1, 1, 1)])  # (a, x_donor, x_rec): C B->G, D G->G, C G->G
def test_hybrid_standing_signal_entries_that_differ_are_each_strict(standing, entry):
    # independent of the solver: the exact chain with everyone's tables, the reference's signal
    # entry flipped alone, loses more than STRICT per round (so the reference says "bad" to a bad
    # donor helping a good recipient and "good" to others, and both matter)
    from recigrad.evaluation.best_response import STRICT

    regime, act, sig, ref = standing
    best = _learner_payoff(act, sig, ref.act[0], ref.sig[0], regime.game)
    flipped = ref.sig[0].clone()
    flipped[entry] = 1.0 - flipped[entry]
    assert best - _learner_payoff(act, sig, ref.act[0], flipped, regime.game) > STRICT

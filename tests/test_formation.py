"""How reputations form (recigrad.game.formation) against brute-force enumeration.

The law of the number of good signals among k observers drawn without
replacement is checked against a sum over every subset of the pool and every
signal pattern; the defaults reproduce the one-observer formula; unobserved
interactions keep the donor's reputation."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from recigrad.game import ConfigError, Game, good_signal_probability
from recigrad.game.formation import aggregation_weights, count_distribution, good_probability, pair_good_probability

N = 6


def brute_force(p: torch.Tensor, k: int, donor: int, recipient: int | None = None) -> torch.Tensor:
    pool = [o for o in range(len(p)) if o not in (donor, recipient)]
    law = torch.zeros(k + 1, dtype=torch.float64)
    subsets = list(itertools.combinations(pool, k))
    for subset in subsets:
        for signals in itertools.product((0, 1), repeat=k):
            chance = torch.tensor(1.0, dtype=torch.float64)
            for o, good in zip(subset, signals):
                chance = chance * (p[o] if good else 1 - p[o])
            law[sum(signals)] += chance
    return law / len(subsets)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_count_distribution_matches_enumeration(k):
    p = torch.rand(N, dtype=torch.float64, generator=torch.Generator().manual_seed(k))
    law = count_distribution(p, k, leave_out_recipient=False)
    for donor in range(N):
        assert_close(law[donor], brute_force(p, k, donor), rtol=0, atol=1e-14)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_count_distribution_without_recipient_matches_enumeration(k):
    p = torch.rand(N, dtype=torch.float64, generator=torch.Generator().manual_seed(10 + k))
    law = count_distribution(p, k, leave_out_recipient=True)
    for donor, recipient in itertools.permutations(range(N), 2):
        assert_close(law[donor, recipient], brute_force(p, k, donor, recipient), rtol=0, atol=1e-14)


def test_defaults_are_the_one_observer_formula():
    g = torch.Generator().manual_seed(3)
    pc, so = torch.rand(2, N, 2, 2, dtype=torch.float64, generator=g), torch.rand(2, N, 2, 2, 2, dtype=torch.float64, generator=g)
    assert torch.equal(good_probability(pc, so, Game()), good_signal_probability(pc, so))


def test_majority_of_three_homogeneous_is_binomial():
    # identical observers: G ~ Binomial(3, p); majority good iff G >= 2: 3p^2 - 2p^3
    pc = torch.full((1, 5, 2, 2), 0.7, dtype=torch.float64)
    so = torch.full((1, 5, 2, 2, 2), 0.2, dtype=torch.float64)
    so[:, :, 1] = 0.9  # after a C
    s = good_probability(pc, so, Game(observers=3, aggregation="majority"))
    maj = lambda p: 3 * p**2 - 2 * p**3  # noqa: E731
    assert_close(s, torch.full_like(s, 0.7 * maj(0.9) + 0.3 * maj(0.2)), rtol=0, atol=1e-15)


def test_tie_keeps_the_old_reputation_and_unobserved_keeps_it_too():
    # k = 2, identical observers, majority: good iff both good; a tie (one good) keeps x_d
    p_c, p_d, q = 0.8, 0.3, 0.6
    pc = torch.full((1, 4, 2, 2), 1.0, dtype=torch.float64)  # always a realised C
    so = torch.full((1, 4, 2, 2, 2), p_d, dtype=torch.float64)
    so[:, :, 1] = p_c
    s = good_probability(pc, so, Game(observers=2, aggregation="majority", observation=q))
    both, tie = p_c**2, 2 * p_c * (1 - p_c)
    assert_close(s[0, 0, 0], torch.full((2,), q * both, dtype=torch.float64), rtol=0, atol=1e-15)
    assert_close(s[0, 0, 1], torch.full((2,), q * (both + tie) + (1 - q), dtype=torch.float64), rtol=0, atol=1e-15)


def test_quorum_weights():
    good, tie = aggregation_weights(Game(observers=4, aggregation="quorum", quorum=3))
    assert good.tolist() == [0, 0, 0, 1, 1]
    assert tie.tolist() == [0, 0, 0, 0, 0]


def test_pair_probability_without_recipient_averages_the_others():
    g = torch.Generator().manual_seed(5)
    pc, so = torch.rand(1, N, 2, 2, dtype=torch.float64, generator=g), torch.rand(1, N, 2, 2, 2, dtype=torch.float64, generator=g)
    s = pair_good_probability(pc, so, Game(recipient_observes=False))
    d, r = 1, 4
    others = [o for o in range(N) if o not in (d, r)]
    mean = so[0, others].mean(0)
    expected = pc[0, d] * mean[1] + (1 - pc[0, d]) * mean[0]
    assert_close(s[0, d, r], expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("fields, message", [
    ({"observers": 3}, "aggregation = single needs observers = 1"),
    ({"observers": 0}, "observers must be an integer"),
    ({"observers": 3, "aggregation": "quorum"}, "needs quorum"),
    ({"observers": 3, "aggregation": "quorum", "quorum": 4}, "needs quorum"),
    ({"quorum": 1}, "quorum is used only with aggregation = quorum"),
    ({"aggregation": "vote"}, "aggregation = 'vote' is not allowed"),
    ({"observation": 0.0}, "observation must be in (0, 1]"),
    ({"perception_error": 0.5}, "perception_error must be in [0, 0.5)"),
    ({"recipient_observes": 1}, "recipient_observes must be true or false"),
])
def test_game_refuses_bad_formation(fields, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Game(**fields)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(-3, 80), aggregation=st.sampled_from(["single", "majority", "quorum", "x"]),
       quorum=st.one_of(st.none(), st.integers(-2, 80)), q=st.floats(allow_nan=True), eps=st.floats(allow_nan=True))
def test_game_accepts_or_refuses_in_one_line(k, aggregation, quorum, q, eps):
    try:
        Game(observers=k, aggregation=aggregation, quorum=quorum, observation=q, perception_error=eps)
    except ConfigError as err:
        assert "\n" not in str(err)

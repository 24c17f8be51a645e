"""Game parameters, norms and action rules against the tables of docs/model.md §2."""

import pytest
import torch

from recigrad.game import ConfigError, Game, good_signal_probability, observable
from recigrad.game.norms import action_table, canonical_norm, is_second_order, signal_table

# docs/model.md §2, written out again here: (C to good, D to good, C to bad, D to bad)
SECOND = {"image-scoring": (1, 0, 1, 0), "simple-standing": (1, 0, 1, 1), "stern-judging": (1, 0, 0, 1), "shunning": (1, 0, 0, 0)}
# GGC GGD GBC GBD BGC BGD BBC BBD
EIGHT = {
    "L1": (1, 0, 1, 1, 1, 0, 1, 0), "L2": (1, 0, 0, 1, 1, 0, 1, 0), "L3": (1, 0, 1, 1, 1, 0, 1, 1),
    "L4": (1, 0, 1, 1, 1, 0, 0, 1), "L5": (1, 0, 0, 1, 1, 0, 1, 1), "L6": (1, 0, 0, 1, 1, 0, 0, 1),
    "L7": (1, 0, 1, 1, 1, 0, 0, 0), "L8": (1, 0, 0, 1, 1, 0, 0, 0),
}


@pytest.mark.parametrize("norm", list(SECOND))
def test_second_order_norms(norm):
    sig = signal_table(norm)
    cg, dg, cb, db = SECOND[norm]
    for xd in (0, 1):
        assert (sig[1, xd, 1], sig[0, xd, 1], sig[1, xd, 0], sig[0, xd, 0]) == (cg, dg, cb, db)


@pytest.mark.parametrize("norm", list(EIGHT))
def test_leading_eight(norm):
    sig = signal_table(norm)
    got = [sig[a, xd, xr].item() for xd in (1, 0) for xr in (1, 0) for a in (1, 0)]
    assert tuple(got) == EIGHT[norm]


def test_aliases():
    assert canonical_norm("L3") == "simple-standing"
    assert canonical_norm("L6") == "stern-judging"
    assert torch.equal(signal_table("L3"), signal_table("simple-standing"))
    assert torch.equal(signal_table("L6"), signal_table("stern-judging"))
    assert is_second_order(action_table("disc"), signal_table("L6"))
    assert not is_second_order(action_table("norm", "L1"), signal_table("L1"))


def test_action_rules():
    # act[x_own, x_rec]
    assert action_table("allc").tolist() == [[1, 1], [1, 1]]
    assert action_table("alld").tolist() == [[0, 0], [0, 0]]
    assert action_table("disc").tolist() == [[0, 1], [0, 1]]
    for norm in ("L1", "L2"):  # also cooperate when both are bad
        assert action_table("norm", norm).tolist() == [[1, 1], [0, 1]]
    for norm in ("L3", "L4", "L5", "L6", "L7", "L8", "stern-judging", "shunning"):
        assert action_table("norm", norm).tolist() == [[0, 1], [0, 1]]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(b=1.0, c=1.0), "benefit must be greater than cost"),
        (dict(b=0.5, c=1.0), "benefit must be greater than cost"),
        (dict(c=0.0), "cost must be > 0"),
        (dict(c=-1.0), "cost must be > 0"),
        (dict(e=0.5), "execution_error must be in [0, 0.5)"),
        (dict(e=-0.1), "execution_error must be in [0, 0.5)"),
        (dict(mu=0.7), "assessment_error must be in [0, 0.5)"),
        (dict(b=float("nan")), "benefit must be a finite number"),
        (dict(mu="x"), "assessment_error must be a finite number"),
    ],
)
def test_game_refusals(kwargs, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        Game(**kwargs)


def test_observable_tables():
    game = Game(e=0.1, mu=0.2)
    act = torch.tensor([[[[1.0, 0.0], [0.5, 1.0]]]])
    sig = torch.zeros(1, 1, 2, 2, 2)
    sig[..., 1, :, :] = 1.0
    pc, so = observable(act, sig, game)
    assert pc.tolist() == [[[[0.9, 0.0], [0.45, 0.9]]]]  # C -> D with e, D stays D
    torch.testing.assert_close(so[..., 1, :, :], torch.full((1, 1, 2, 2), 0.8), rtol=0, atol=1e-12)
    torch.testing.assert_close(so[..., 0, :, :], torch.full((1, 1, 2, 2), 0.2), rtol=0, atol=1e-12)


def test_good_signal_probability_averages_observers_other_than_donor():
    # agent 0 alone uses image scoring, the others shunning; the donor's own table never counts
    n = 4
    so = torch.stack([signal_table("image-scoring")] + [signal_table("shunning")] * (n - 1)).unsqueeze(0)
    pc = torch.full((1, n, 2, 2), 0.5)
    s = good_signal_probability(pc, so)
    # donor 0: observers are all shunners: C to bad is bad, so s[0, :, 0] = 0 and s[0, :, 1] = 0.5
    torch.testing.assert_close(s[0, 0, :, 0], torch.zeros(2), rtol=0, atol=1e-12)
    torch.testing.assert_close(s[0, 0, :, 1], torch.full((2,), 0.5), rtol=0, atol=1e-12)
    # donor 1: one image scorer among 3 observers: C to bad is good w.p. 1/3
    torch.testing.assert_close(s[0, 1, :, 0], torch.full((2,), 0.5 / 3), rtol=0, atol=1e-12)

"""Norms of one's own, given as tables (docs/model.md §2 "Norms of your own"), and the learner's start.

Numbers come from the closed form of a homogeneous ``disc`` population with a second-order
norm (derived below), from the exact chain and from the shipped named norms' tables.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recigrad.cli import main
from recigrad.dynamics import exact, meanfield
from recigrad.dynamics.world import simulate
from recigrad.game import ConfigError, Game, observable
from recigrad.game.contexts import action_from_bits, signal_from_bits
from recigrad.game.norms import _LEADING_EIGHT, RULES, Norm, norm_from_bits, norm_from_tables, signal_table
from recigrad.game.population import Agent, Population, parse_pop
from recigrad.game.regime import Regime, load_norms, regime_from_dict, regime_from_text
from recigrad.learning.tables import WARMUP_LOGIT, initial_logits
from recigrad.running.checkpoint import regime_dict

# (e, mu): errors on both sides, only assessment error, only execution error, none
ERRORS = [(0.01, 0.01), (0.07, 0.03), (0.0, 0.02), (0.05, 0.0), (0.0, 0.0)]


def closed_form(bits: str, e: float, mu: float) -> tuple[float, float]:
    """``(numerator B, denominator 1 - A_G + B)`` of ``g = B / (1 - A_G + B)``.

    Everyone plays ``disc`` with the second-order rule ``bits`` (GC GD BC BD). A donor's next
    reputation depends only on the recipient's: a good recipient gets an intended C, realised
    with probability ``1 - e``, so the donor is assessed good with probability
    ``A_G = (1-e) s~(C, G) + e s~(D, G)``; a bad one gets D, assessed good with
    ``B = s~(D, B)``, where ``s~ = (1-mu) s + mu (1-s)`` flips with probability ``mu``.
    The recipient is good with probability ``g`` at stationarity (exactly, for any N), so
    ``g = g A_G + (1 - g) B``."""
    s = {col: float(bit) for col, bit in zip(("GC", "GD", "BC", "BD"), bits)}
    flip = {k: (1 - mu) * v + mu * (1 - v) for k, v in s.items()}
    a_good = (1 - e) * flip["GC"] + e * flip["GD"]
    b = flip["BD"]
    return b, 1 - a_good + b


def disc_tables(norm, n: int, kind: str = "disc"):
    act, sig = Population(tuple(Agent(kind, norm) for _ in range(n))).batched_tables(1)
    return act, sig


@pytest.mark.parametrize("number", range(16))
def test_all_sixteen_rules_match_the_closed_form(number):
    """Mean field (N = 5 and 40) and the exact chain (N = 5) give ``g = B / (1 - A_G + B)``
    to 1e-12 for every second-order rule; where ``1 - A_G + B = 0`` (both all-good and
    all-bad absorb: no unique stationary law) the exact chain refuses."""
    bits = RULES[f"rule-{number}"]
    assert int(bits, 2) == number
    for e, mu in ERRORS:
        game = Game(e=e, mu=mu)
        num, den = closed_form(bits, e, mu)
        for n in (5, 40) if den > 0 else ():
            pc, so = observable(*disc_tables(f"rule-{number}", n), game)
            g_mf = meanfield.solve(pc, so, game).good[0]
            torch.testing.assert_close(g_mf, torch.full((n,), num / den, dtype=torch.float64), atol=1e-12, rtol=0)
        pc, so = observable(*disc_tables(f"rule-{number}", 5), game)
        if den == 0:
            with pytest.raises(ConfigError, match="no unique stationary"):
                exact.solve(pc, so, game)
        else:
            g_exact = exact.solve(pc, so, game).good[0]
            torch.testing.assert_close(g_exact, torch.full((5,), num / den, dtype=torch.float64), atol=1e-12, rtol=0)


def test_degenerate_rules_are_the_expected_ones():
    """With no errors the chain is degenerate exactly for the rules that call C to good good and
    D to bad bad (1xx0: 8, 10, 12, 14); with e > 0, mu = 0 for those that call C and D to good
    good and D to bad bad (11x0: 12, 14); with mu > 0 never."""
    def degenerate(e, mu):
        return [n for n in range(16) if closed_form(RULES[f"rule-{n}"], e, mu)[1] == 0]
    assert degenerate(0.0, 0.0) == [8, 10, 12, 14]
    assert degenerate(0.05, 0.0) == [12, 14]
    assert degenerate(0.0, 0.02) == []


def test_rule_numbers_of_the_named_second_order_norms():
    """The convention of docs/model.md §2: bits GC GD BC BD, GC the most significant."""
    for number, name in ((9, "stern-judging"), (11, "simple-standing"), (10, "image-scoring"), (8, "shunning")):
        assert torch.equal(signal_table(f"rule-{number}"), signal_table(name)), name


def test_the_closed_form_values_at_one_percent_errors():
    """docs/model.md §3 eq. (10), (11): 0.980392 for stern judging, 0.335570 for image scoring."""
    assert closed_form(RULES["rule-9"], 0.01, 0.01)[0] / closed_form(RULES["rule-9"], 0.01, 0.01)[1] == pytest.approx(
        0.980392, abs=1e-6)
    assert closed_form(RULES["rule-10"], 0.01, 0.01)[0] / closed_form(RULES["rule-10"], 0.01, 0.01)[1] == pytest.approx(
        0.335570, abs=1e-6)


SECOND_ORDER = {"image-scoring": [1, 0, 1, 0], "simple-standing": [1, 0, 1, 1], "stern-judging": [1, 0, 0, 1],
                "shunning": [1, 0, 0, 0]}
LEADING_EIGHT_ACTIONS = {name: [1, 0, 1, 1] if name in ("L1", "L2") else [1, 0, 1, 0] for name in _LEADING_EIGHT}


def _same_in_world_and_chain(custom: Population, named: Population, game: Game) -> None:
    act_c, sig_c = custom.batched_tables(2)
    act_n, sig_n = named.batched_tables(2)
    assert torch.equal(act_c, act_n)
    assert torch.equal(sig_c, sig_n)
    tally_c, rep_c = simulate(*observable(act_c, sig_c, game), seeds=[3, 4], interactions=3000, burn_in=100)
    tally_n, rep_n = simulate(*observable(act_n, sig_n, game), seeds=[3, 4], interactions=3000, burn_in=100)
    assert torch.equal(tally_c.given, tally_n.given)
    assert torch.equal(tally_c.good, tally_n.good)
    assert torch.equal(rep_c, rep_n)
    sol_c = exact.solve(*observable(act_c[:1], sig_c[:1], game), game)
    sol_n = exact.solve(*observable(act_n[:1], sig_n[:1], game), game)
    assert torch.equal(sol_c.payoff, sol_n.payoff)
    assert torch.equal(sol_c.good, sol_n.good)


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_tables_equal_the_named_norm_bit_for_bit(game, name):
    """4 entries, the same 4 written over the donor's reputation (8 entries), the bit string and the
    rule number all give the named norm's population, in the world and the exact chain."""
    four = SECOND_ORDER[name]
    eight = four + four  # GGC GGD GBC GBD | BGC BGD BBC BBD: the donor's reputation ignored
    named = Population(tuple([Agent("disc", name)] * 4 + [Agent("alld", name)]))
    for norm in (norm_from_tables("mine", four), norm_from_tables("mine", eight), norm_from_bits("".join(map(str, four))),
                 f"rule-{int(''.join(map(str, four)), 2)}"):
        custom = Population(tuple([Agent("disc", norm)] * 4 + [Agent("alld", norm)]))
        _same_in_world_and_chain(custom, named, game)


@pytest.mark.parametrize("name", sorted(_LEADING_EIGHT))
def test_leading_eight_as_tables_equal_the_shipped_ones(game, name):
    """L1..L8 written as 8 assessment entries and their 4 action entries, in a regime file, equal
    the shipped norms for agents of kind ``norm`` (which use the norm's own action rule)."""
    assessment = [int(bit) for bit in _LEADING_EIGHT[name]]
    text = (f"[norms.my-{name}]\nassessment = {assessment}\naction = {LEADING_EIGHT_ACTIONS[name]}\n"
            f"[[agents]]\nkind = 'norm'\nnorm = 'my-{name}'\ncount = 4\n")
    custom = regime_from_text(text).population
    named = Population(tuple([Agent("norm", name)] * 4))
    _same_in_world_and_chain(custom, named, game)
    bits = parse_pop([f"norm:{_LEADING_EIGHT[name]}/{''.join(map(str, LEADING_EIGHT_ACTIONS[name]))}:4"])
    _same_in_world_and_chain(bits, named, game)


def test_action_rule_defaults_to_disc_and_kind_gives_the_rule():
    """Without ``action`` a norm's own rule is ``disc``; ``disc``/``allc``/``alld`` agents ignore ``action``."""
    norm = norm_from_tables("x", [1, 0, 0, 1], [1, 1, 0, 1])
    plain = norm_from_tables("y", [1, 0, 0, 1])
    assert torch.equal(Population((Agent("norm", plain),) * 3).tables()[0][0], action_from_bits("1010"))
    assert torch.equal(Population((Agent("norm", norm),) * 3).tables()[0][0], action_from_bits("1101"))
    assert torch.equal(Population((Agent("disc", norm),) * 3).tables()[0][0], action_from_bits("1010"))
    assert torch.equal(Population((Agent("allc", norm),) * 3).tables()[0][0], action_from_bits("1111"))


def test_probabilities_are_kept_and_solved(game):
    """Entries strictly between 0 and 1 are probabilities: a second-order ``disc`` population whose
    norm calls D to bad good with probability q follows the closed form with s(D, B) = q."""
    q = 0.37
    norm = norm_from_tables("half", [1, 0, 0, q])
    assert signal_table(norm)[0, 1, 0].item() == q
    pc, so = observable(*disc_tables(norm, 6), game)
    s_bd = (1 - game.mu) * q + game.mu * (1 - q)
    a_good = (1 - game.e) * (1 - game.mu) + game.e * game.mu
    expected = s_bd / (1 - a_good + s_bd)
    torch.testing.assert_close(exact.solve(pc, so, game).good[0], torch.full((6,), expected, dtype=torch.float64),
                               atol=1e-12, rtol=0)


# -- refusals -----------------------------------------------------------------------------------------


def _norm_regime(table) -> dict:
    return {"norms": {"mine": table}, "agents": [{"kind": "disc", "norm": "mine", "count": 3}]}


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"assessment": [1, 0, 1]}, "norms.mine.assessment must be a list of 4 or 8 numbers in [0, 1], got [1, 0, 1]"),
        ({"assessment": [1, 0, 1, 1, 1]}, "norms.mine.assessment must be a list of 4 or 8"),
        ({"assessment": "1001"}, "norms.mine.assessment must be a list of 4 or 8"),
        ({"assessment": [1, 0, 0, 2]}, "norms.mine.assessment must be a list of 4 or 8 numbers in [0, 1], got the entry 2"),
        ({"assessment": [1, 0, 0, -0.1]}, "got the entry -0.1"),
        ({"assessment": [1, 0, 0, math.nan]}, "got the entry nan"),
        ({"assessment": [1, 0, 0, math.inf]}, "got the entry inf"),
        ({"assessment": [True, False, False, True]}, "got the entry True"),
        ({"assessment": [1, 0, 0, "1"]}, "got the entry '1'"),
        ({"assessment": [1, 0, 0, [1]]}, "got the entry [1]"),
        ({"assessment": [1, 0, 0, 1], "action": [1, 0, 1]}, "norms.mine.action must be a list of 4 numbers"),
        ({"assessment": [1, 0, 0, 1], "action": [1, 0, 1, 1.5]}, "norms.mine.action must be a list of 4 numbers"),
        ({"action": [1, 0, 1, 0]}, "norms.mine.assessment is missing"),
        ({"assessment": [1, 0, 0, 1], "actions": [1, 0, 1, 0]}, "unknown key norms.mine.'actions'; allowed: assessment, action"),
        ([1, 0, 0, 1], "norms.mine must be a table"),
    ],
)
def test_bad_norm_tables_are_refused(table, words):
    with pytest.raises(ConfigError) as err:
        regime_from_dict(_norm_regime(table), "f.toml")
    assert words in str(err.value)
    assert str(err.value).startswith("f.toml: ")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"norms": {"stern-judging": {"assessment": [1, 0, 0, 1]}}}, "'stern-judging' is a shipped name"),
        ({"norms": {"rule-3": {"assessment": [1, 0, 0, 1]}}}, "'rule-3' is a shipped name"),
        ({"norms": {"random": {"assessment": [1, 0, 0, 1]}}}, "'random' is a shipped name"),
        ({"norms": {"a:b": {"assessment": [1, 0, 0, 1]}}}, "a norm's name is a letter"),
        ({"norms": [1]}, "[norms] must be a table"),
        ({"norms": {}, "agents": [{"kind": "disc", "norm": "mine", "count": 3}]}, "agents[0].norm = 'mine' is not allowed"),
        ({"agents": [{"kind": "disc", "norm": 9, "count": 3}]}, "agents[0].norm = 9 is not allowed"),
        ({"agents": [{"kind": "disc", "norm": "rule-16", "count": 3}]}, "agents[0].norm = 'rule-16' is not allowed"),
        ({"agents": [{"kind": "disc", "norm": "10012", "count": 3}]}, "agents[0].norm = '10012' is not allowed"),
        ({"agents": [{"kind": "disc", "norm": "101", "count": 3}]}, "agents[0].norm '101': a norm's bit string must be"),
        ({"agents": [{"kind": "disc", "norm": "random", "count": 3}]}, "agents[0].norm = 'random' is a learner's random start"),
        ({"agents": [{"kind": "learner", "norm": "random", "warmup": True}, {"kind": "disc", "norm": "L6", "count": 3}]},
         "agents[0].norm = 'random' is a learner's random start"),
    ],
)
def test_bad_norm_names_are_refused(data, words):
    data = {"agents": [{"kind": "disc", "norm": "L6", "count": 3}], **data}
    with pytest.raises(ConfigError) as err:
        regime_from_dict(data, "f.toml")
    assert words in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("disc:1012:3", "unknown norm '1012'"),
        ("disc:101:3", "a norm's bit string must be a string of 4 or 8 bits"),
        ("disc:1001/10:3", "an action rule's bit string must be a string of 4 bits"),
        ("disc:1001/:3", "an action rule's bit string"),
        ("disc:/1010:3", "a norm's bit string"),
        ("disc:1001/1010/1:3", "an action rule's bit string"),
        ("disc:rule-16:3", "unknown norm 'rule-16'"),
        ("alld:random:3", "'random' is a learner's random start"),
        ("disc:mine:3", "unknown norm 'mine'"),
    ],
)
def test_bad_pop_norms_are_refused(spec, words):
    with pytest.raises(ConfigError) as err:
        parse_pop([spec])
    assert words in str(err.value)
    assert str(err.value).startswith(f"--pop {spec!r}: ")


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                  st.text(max_size=6))
_values = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=9) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                       max_leaves=20)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assessment=_values, action=_values, with_action=st.booleans())
def test_any_norm_table_is_a_norm_or_one_line(assessment, action, with_action):
    """Random values, strings and nested data: a valid norm (entries all in [0, 1]) or one ConfigError line."""
    table = {"assessment": assessment, **({"action": action} if with_action else {})}
    try:
        regime = regime_from_dict(_norm_regime(table), "f.toml")
    except ConfigError as err:
        assert "\n" not in str(err)
        assert str(err).startswith("f.toml: ")
        return
    act, sig = regime.population.tables()
    assert bool(((sig >= 0) & (sig <= 1)).all())
    assert len(assessment) in (4, 8)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="01/:ab-9", max_size=14))
def test_any_pop_norm_is_a_population_or_one_line(text):
    try:
        population = parse_pop([f"disc:{text}:3"])
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    assert population.n == 3


# -- files, records and the command line ------------------------------------------------------------


NORMS_FILE = """
[norms.my-sj]
assessment = [1, 0, 0, 1]
[norms.fuzzy]
assessment = [0.9, 0.1, 0.5, 1, 1, 0, 0, 1]
action = [1, 0.25, 1, 0]
"""


def test_norms_file_gives_the_same_numbers_as_the_named_norm(tmp_path, capsys):
    path = tmp_path / "norms.toml"
    path.write_text(NORMS_FILE)
    assert sorted(load_norms(path)) == ["fuzzy", "my-sj"]
    assert main(["exact", "--pop", "disc:my-sj:4", "--norms", str(path), "--json"]) == 0
    mine = json.loads(capsys.readouterr().out)
    assert main(["exact", "--pop", "disc:stern-judging:4", "--json"]) == 0
    named = json.loads(capsys.readouterr().out)
    assert mine["exact"] == named["exact"]
    assert mine["agents"][0]["norm"] == "my-sj"
    assert mine["agents"][0]["sig"] == signal_from_bits("1001").tolist()


def test_norms_flag_refusals(tmp_path, capsys):
    path = tmp_path / "norms.toml"
    path.write_text("[norms.bad]\nassessment = [1, 0]\n")
    assert main(["exact", "--pop", "disc:bad:3", "--norms", str(path)]) == 2
    err = capsys.readouterr().err
    assert "norms.bad.assessment must be a list of 4 or 8 numbers" in err
    assert err.count("\n") == 1
    assert main(["exact", "--regime", "discriminative-sj", "--norms", str(path)]) == 2
    assert "--norms FILE names norms for --pop" in capsys.readouterr().err
    assert main(["exact", "--pop", "disc:L6:3", "--norms", str(tmp_path / "none.toml")]) == 2
    assert "--norms" in capsys.readouterr().err


def test_records_hold_the_tables_of_a_hand_built_population():
    """A population whose tables are changed by hand (a subclass) is recorded with the tables it plays."""

    class Generous(Population):
        def tables(self):
            act, sig = super().tables()
            act[0, :, 0] = 0.3
            return act, sig

    regime = Regime("hand", "", Game(), Generous(tuple([Agent("disc", "stern-judging")] * 3)))
    agents = regime_dict(regime)["agents"]
    assert agents[0]["act"] == [[0.3, 1.0], [0.3, 1.0]]
    assert agents[1]["act"] == [[0.0, 1.0], [0.0, 1.0]]
    assert regime_dict(regime)["population"] == "disc:stern-judging:3"


def test_records_hold_a_custom_norms_tables():
    norm = norm_from_tables("fuzzy", [0.9, 0.1, 0.5, 1, 1, 0, 0, 1], [1, 0.25, 1, 0])
    regime = Regime("mine", "", Game(), Population((Agent("norm", norm),) * 3))
    agent = regime_dict(regime)["agents"][0]
    assert agent["norm"] == "fuzzy"
    assert agent["act"] == [[0.0, 1.0], [0.25, 1.0]]  # [x_own][x_rec]: BB BG / GB GG
    assert agent["sig"][1][1][1] == 0.9  # C by a good donor to a good recipient: GGC
    assert agent["sig"][0][1][0] == 1.0  # D by a good donor to a bad recipient: GBD


# -- the learner's start -------------------------------------------------------------------------------


def test_learner_norm_warm_starts_at_the_norm():
    regime = Regime("w", "", Game(), parse_pop(["learner:stern-judging:1", "disc:L6:3"]))
    logits_act, logits_sig = initial_logits(regime, [0, 1])
    torch.testing.assert_close(logits_act[1, 0], WARMUP_LOGIT * (2 * action_from_bits("1010") - 1), atol=0, rtol=0)
    torch.testing.assert_close(logits_sig[0, 0], WARMUP_LOGIT * (2 * signal_from_bits("1001") - 1), atol=0, rtol=0)


def test_learner_random_starts_from_random_logits_and_plays_seed_zero():
    """``learner:random`` trains from the ``learner-init`` stream's normals (``warmup = false``); before
    training its tables are the random start of seed 0, and the regime file says the same with
    ``norm = "random"``."""
    population = parse_pop(["disc:L6:2", "learner:random:1", "disc:L6:1"])
    assert population.agents[2].warmup is False
    regime = Regime("r", "", Game(), population)
    logits_act, logits_sig = initial_logits(regime, [0, 5])
    assert not torch.equal(logits_act[0], logits_act[1])  # a different start per seed
    act, sig = population.tables()
    torch.testing.assert_close(act[2], torch.sigmoid(logits_act[0, 0]), atol=1e-15, rtol=0)
    torch.testing.assert_close(sig[2], torch.sigmoid(logits_sig[0, 0]), atol=1e-15, rtol=0)
    text = "[[agents]]\nkind = 'disc'\nnorm = 'L6'\ncount = 2\n[[agents]]\nkind = 'learner'\nnorm = 'random'\n" \
           "[[agents]]\nkind = 'disc'\nnorm = 'L6'\n"
    from_file = regime_from_text(text).population
    assert torch.equal(from_file.tables()[1], sig)


def test_learner_random_in_exact_uses_the_seed_zero_start(capsys):
    assert main(["exact", "--pop", "learner:random:1", "--pop", "disc:L6:3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    population = parse_pop(["learner:random:1", "disc:L6:3"])
    act, sig = population.batched_tables(1)
    sol = exact.solve(*observable(act, sig, Game()), Game())
    assert result["exact"]["payoff"] == sol.payoff[0].tolist()


def test_norm_is_a_frozen_value():
    norm = Norm("x", (1.0,) * 8)
    assert str(norm) == "x"
    assert hash(norm) == hash(Norm("x", (1.0,) * 8))

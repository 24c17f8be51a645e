"""The private-assessment fields of ``Game`` (docs/model.md §1): validation, TOML keys and flags,
and refusals by code written for public reputations until it supports them."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recigrad.dynamics import exact, meanfield, world
from recigrad.dynamics.streams import Streams
from recigrad.game import ConfigError, Game
from recigrad.game.regime import regime_from_dict


def test_defaults_are_public_and_unchanged():
    game = Game()
    assert (game.assessment, game.initial_good, game.schedule, game.gossip, game.gossip_trust) == ("public", 1.0, "uniform", 0.0, 1.0)
    assert not game.private


def test_private_fields_are_accepted_under_private_assessment():
    game = Game(assessment="private", observation=0.9, perception_error=0.05, initial_good=0.3, schedule="permutation",
                gossip=2.0, gossip_trust=0.5)
    assert game.private


@pytest.mark.parametrize("field, value", [("initial_good", 0.5), ("schedule", "permutation"), ("gossip", 0.1), ("gossip_trust", 0.2)])
def test_private_only_fields_are_refused_under_public_assessment(field, value):
    with pytest.raises(ConfigError, match=f"{field} is used only with assessment = private"):
        Game(**{field: value})


@pytest.mark.parametrize("field, value", [("observers", 3), ("recipient_observes", False), ("aggregation", "majority")])
def test_public_formation_fields_are_refused_under_private_assessment(field, value):
    extra = {"observers": 3} if field == "aggregation" else {"aggregation": "majority"} if field == "observers" else {}
    with pytest.raises(ConfigError, match="used only with assessment = public"):
        Game(assessment="private", **{field: value, **extra})


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.integers(-5, 5)))
def test_bad_private_values_get_one_line(value):
    for field in ("initial_good", "gossip_trust", "gossip", "assessment", "schedule"):
        try:
            Game(assessment="private", **{field: value}) if field != "assessment" else Game(assessment=value)
        except ConfigError as error:
            assert "\n" not in str(error) and field in str(error)
        else:
            ok = {"initial_good": 0.0 <= _num(value) <= 1.0, "gossip_trust": 0.0 <= _num(value) <= 1.0,
                  "gossip": 0.0 <= _num(value) <= 1000.0, "assessment": value in ("public", "private"),
                  "schedule": value in ("uniform", "permutation")}[field]
            assert ok, (field, value)


def _num(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return math.nan
    return float(value)


def test_toml_keys_reach_the_game():
    regime = regime_from_dict({"name": "p", "description": "", "game": {"assessment": "private", "gossip": 0.5, "gossip_trust": 0.8,
                                                                         "initial_good": 0.9, "schedule": "permutation"},
                               "agents": [{"kind": "disc", "norm": "stern-judging", "count": 4}]})
    assert (regime.game.assessment, regime.game.gossip, regime.game.gossip_trust, regime.game.initial_good, regime.game.schedule) == \
        ("private", 0.5, 0.8, 0.9, "permutation")


def test_public_code_refuses_private_games():
    game = Game(assessment="private")
    pc, so = torch.full((1, 3, 2, 2), 0.5, dtype=torch.float64), torch.full((1, 3, 2, 2, 2), 0.5, dtype=torch.float64)
    for solve in (exact.solve, meanfield.solve):
        with pytest.raises(ConfigError, match="needs public reputations"):
            solve(pc, so, game)
    with pytest.raises(ConfigError, match="needs public reputations"):
        world.play(pc, so, torch.ones(1, 3, dtype=torch.int8), Streams([0]), 10, game=game)

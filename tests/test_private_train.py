"""Training and the suite under private assessment (recigrad.running.private_train; docs/model.md §6, §9, §10).

Kept fast: populations of N = 3 (the exact chain of private views has 2^6 view states), two iterations,
and the reference's ascent cut to two steps (``ASCENT_STEPS``; the reference is whatever
``private_reference.reference`` gives, so the test compares like with like)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recigrad.dynamics import private_exact
from recigrad.errors import ConfigError
from recigrad.evaluation import private_reference
from recigrad.game import DTYPE, observable
from recigrad.game.population import parse_pop
from recigrad.game.regime import TrainConfig, load_regime
from recigrad.learning.contract import METHODS
from recigrad.running import checkpoint, suite, train


def _regime(pop=("learner:L1:1", "norm:L1:2"), name="private-test"):
    base = load_regime("private-L1")
    return dataclasses.replace(base, name=name, population=parse_pop(list(pop)),
                               train=TrainConfig(**{**base.train.__dict__, "iterations": 2}))


@pytest.fixture(autouse=True)
def _short_reference(monkeypatch):
    monkeypatch.setattr(private_reference, "ASCENT_STEPS", 2)


def test_the_train_json_of_a_private_game_has_the_private_reference_and_the_exact_percent(tmp_path):
    regime = _regime()
    result = train.run(regime, [0, 1], iterations=2, eval_every=1, out=tmp_path / "run")
    act, sig = regime.population.batched_tables(1)
    learner = regime.population.learners[0]
    ref = private_reference.reference(act[0], sig[0], learner, "L1", regime.game)
    assert result["reference"]["payoff"] == ref.payoff and result["evaluation_model"] == "exact"
    assert not checkpoint.partial_dir(tmp_path / "run").exists()  # no checkpoint under private assessment
    tables = json.loads((tmp_path / "run" / "tables.json").read_text())
    curve = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["iteration"] for line in curve] == [1, 2] and [line["interactions"] for line in curve] == [100, 200]
    for k, run in enumerate(result["runs"]):
        a, s = act.clone(), sig.clone()
        a[0, learner] = torch.tensor(tables["runs"][k]["act"][0], dtype=DTYPE)
        s[0, learner] = torch.tensor(tables["runs"][k]["sig"][0], dtype=DTYPE)
        payoff = float(private_exact.solve(*observable(a, s, regime.game), regime.game).payoff[0, learner])
        percent = 100.0 * (1.0 - (ref.payoff - payoff) / max(abs(ref.payoff), regime.game.c))
        assert run["payoff"] == pytest.approx(payoff, abs=1e-9)
        assert run["percent_of_reference"] == pytest.approx(percent, abs=1e-9)
        assert run["reference"] == ref.payoff and run["adherence"] is None and run["collapsed"] is None
        assert run["interactions"] == 200
    assert result["seconds"] > 0 and result["seconds_per_iteration"] > 0


def test_a_seed_gives_the_same_private_run_alone_or_in_a_batch():
    regime = _regime()
    batch = train.train_seeds(regime, [0, 1], iterations=2, eval_every=1)
    alone = train.train_seeds(regime, [1], iterations=2, eval_every=1)
    assert batch.tables["runs"][1] == alone.tables["runs"][0]
    assert batch.result["runs"][1]["payoff"] == pytest.approx(alone.result["runs"][0]["payoff"], abs=1e-12)


def test_a_private_society_reports_mean_payoff_and_cooperation_without_nashconv():
    result = train.train_seeds(_regime(("learner:L3:3",)), [0], iterations=1).result
    run = result["runs"][0]
    assert "reference" not in result and run["nashconv"] is None
    assert 0.0 <= run["cooperation"] <= 1.0 and run["mean_payoff"] == pytest.approx(run["mean_payoff"])


def test_a_baseline_and_resume_are_refused_under_private_assessment(tmp_path):
    regime = _regime()
    with pytest.raises(ConfigError, match="only rg does"):
        train.run(regime, [0], method="reinforce", out=tmp_path / "a")
    with pytest.raises(checkpoint.CheckpointError, match="keeps no checkpoint"):
        train.run(regime, [0], out=tmp_path / "b", resume=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@settings(max_examples=10, deadline=None)
@given(method=st.sampled_from(sorted(set(METHODS) - {"rg"})), resume=st.booleans())
def test_every_other_method_is_refused_before_any_work(method, resume):
    with pytest.raises(ConfigError, match=f"method {method!r} does not train under private assessment"):
        train.train_seeds(_regime(), [0], method=method, resume=resume)


def test_the_cli_refuses_resume_of_a_private_game_in_one_line(tmp_path, capsys):
    from recigrad.cli import main

    code = main(["train", "--pop", "learner:L1:1", "--pop", "norm:L1:2", "--assessment", "private", "--seeds", "1",
                 "--out", str(tmp_path / "run"), "--resume"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "keeps no checkpoint" in err and len(err.splitlines()) == 1


def test_the_suite_trains_rg_on_a_private_regime_and_skips_the_baselines(tmp_path):
    regime = _regime()
    summary = suite.run_suite([regime.name], ["rg", "reinforce"], [0], tmp_path / "bench", iterations=1,
                              loaded={regime.name: regime})
    assert [(r["regime"], r["method"]) for r in summary["rows"]] == [(regime.name, "rg")]
    assert summary["skipped"] == [[regime.name, "reinforce", suite.PRIVATE_SKIP]]
    text = (tmp_path / "bench" / "summary.md").read_text()
    assert "## Skipped" in text and "private assessment" in text
    assert summary["rows"][0]["reference"] is not None and summary["rows"][0]["collapse_rate"] is None


def test_above_four_agents_the_evaluation_is_the_private_mean_field_and_says_so():
    from recigrad.dynamics import private_meanfield

    regime = _regime(("learner:L3:1", "norm:L3:4"))
    record = train.train_seeds(regime, [0], iterations=1)
    assert record.result["evaluation_model"] == "meanfield" and record.result["reference"]["model"] == "meanfield"
    act, sig = regime.population.batched_tables(1)
    act[0, 0] = torch.tensor(record.tables["runs"][0]["act"][0], dtype=DTYPE)
    sig[0, 0] = torch.tensor(record.tables["runs"][0]["sig"][0], dtype=DTYPE)
    payoff = float(private_meanfield.solve(*observable(act, sig, regime.game), regime.game).payoff[0, 0])
    assert record.result["runs"][0]["payoff"] == pytest.approx(payoff, abs=1e-9)


def test_more_than_eight_agents_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="N <= 8"):
        train.train_seeds(_regime(("learner:L3:1", "norm:L3:8")), [0], iterations=1)


def test_the_local_suite_lists_pairs_only_where_some_were_left_out(tmp_path):
    regime = _regime()
    summary = suite.run_suite([regime.name], ["rg"], [0], tmp_path / "bench", iterations=1, loaded={regime.name: regime})
    assert "pairs" not in summary and "skipped" not in summary

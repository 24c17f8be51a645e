"""Share of gain and per-head collapse in runs and bench rows, the report's columns, tuning a baseline for any
population (``recigrad tune``), ``--baseline-settings`` and where a run's settings come from (docs/model.md §7, §8)."""

import json
from dataclasses import replace
from unittest import mock

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import assert_one_line_error
from recigrad.cli import main
from recigrad.errors import ConfigError
from recigrad.evaluation import evaluate
from recigrad.game import Game
from recigrad.game.population import parse_pop
from recigrad.game.regime import Regime, TrainConfig, load_regime
from recigrad.learning import contract
from recigrad.learning.baselines import settings as baseline_settings
from recigrad.running import report, stats, train, tune

SMALL = Regime("custom", "", Game(), parse_pop(["learner:random:1", "disc:shunning:3"]),
               TrainConfig(iterations=3, interactions=200))


# ---------------------------------------------------------------------------
# share of gain and collapse per head in a run


def test_share_of_gain_of_a_warm_start_is_the_payoff_change_over_the_gain():
    """From a warm-up the start payoff is that of the warm-up tables, which the run's ``payoff_change`` measures
    independently (initial tables of the method, evaluated): share x (reference - start) = payoff change."""
    regime = load_regime("warmup-L3-in-L3-action")
    result = train.run(regime, [0, 1], method="reinforce", iterations=2)
    start = result["start"]
    assert start["kind"] == "warmup"
    for run in result["runs"]:
        torch.testing.assert_close(run["share_of_gain"] * (run["reference"] - start["payoff"]), run["payoff_change"],
                                   rtol=0, atol=1e-9)


def test_start_payoff_of_warm_up_tables_is_the_initial_tables_payoff():
    regime = load_regime("warmup-L6-in-L3-joint")
    act, sig = contract.method("rg").start(regime, [3]).tables()
    solution, _ = evaluate(act, sig, regime.game)
    torch.testing.assert_close(train.regime_start(regime)["payoff"], float(solution.payoff[0, 0]), rtol=0, atol=1e-12)


def test_run_entries_have_both_heads_and_the_regime_says_what_is_measurable():
    """discriminative-sj: the reference discriminates as donor (measurable) and calls everyone bad (not)."""
    result = train.run(load_regime("discriminative-sj"), [0], method="rg", iterations=2)
    assert result["collapse_measurable"] == {"action": True, "signal": False}
    run = result["runs"][0]
    assert run["collapsed"] == (run["action_collapsed"] or run["signal_collapsed"])
    assert 0.0 <= run["table_distance"] <= 1.0


def _result(action, signal, share, measurable=(True, False)):
    runs = [{"payoff": 3.0, "percent_of_reference": 90.0, "adherence": 0.9, "collapsed": a or s, "action_collapsed": a,
             "signal_collapsed": s, "share_of_gain": g, "table_distance": 0.1, "interactions_to_95": None,
             "interactions_to_99": None, "seconds_to_95": None, "interactions": 100}
            for a, s, g in zip(action, signal, share)]
    return {"regime": "discriminative-sj", "method": "ppo", "seconds": 1.0, "runs": runs, "reference": {"payoff": 4.0},
            "collapse_measurable": {"action": measurable[0], "signal": measurable[1]}, "start": {"payoff": 2.0},
            "baseline_settings": {"source": "other", "tuned_for": "hybrid-alld", "file": None, "settings": {}}}


def test_bench_row_rates_per_head_and_share_mean():
    row = stats.summary_row(_result([True, False, False, True], [False, False, False, True], [0.5, 0.7, 0.9, 0.1]),
                            [0, 1, 2, 3])
    assert row["action_collapse_rate"] == 0.5
    assert row["signal_collapse_rate"] == 0.25
    torch.testing.assert_close(row["share_of_gain_mean"], 0.55, rtol=0, atol=1e-12)
    assert (row["action_collapse_measurable"], row["signal_collapse_measurable"]) == (True, False)
    assert (row["baseline_settings"], row["baseline_tuned_for"]) == ("other", "hybrid-alld")


def test_report_marks_a_head_whose_collapse_cannot_be_measured():
    result = _result([True, False], [False, False], [0.5, 0.7])
    rows = [stats.summary_row(result, [0, 1])]
    line = next(x for x in report.markdown_summary([result], rows).splitlines() if x.startswith("| discriminative-sj | ppo"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == "2"  # seeds
    assert cells[8:10] == ["0.50", "n/m"]  # action collapse rate, signal not measurable


# ---------------------------------------------------------------------------
# where a run's baseline settings come from


def test_provenance_of_shipped_settings():
    """Tuned for discriminative-sj itself; the same name with another game: tuned for another; a population
    of one's own: defaults; the reciprocity gradient has no baseline settings."""
    sj = load_regime("discriminative-sj")
    assert baseline_settings.provenance("reinforce", sj)["source"] == "tuned"
    other = baseline_settings.provenance("ppo", replace(sj, game=Game(b=6.0)))
    assert (other["source"], other["tuned_for"]) == ("other", "discriminative-sj")
    assert baseline_settings.provenance("reinforce", SMALL)["source"] == "defaults"
    assert baseline_settings.provenance("rg", sj) is None


def test_tune_picks_the_best_setting_and_a_run_uses_it(tmp_path):
    result = tune.tune(SMALL, "reinforce", seeds=[100, 101], axes={"lr": [0.03, 1.0]})
    scores = [r["score"] for r in result["results"]]
    assert [r["lr"] for r in result["results"]] == [0.03, 1.0]
    assert result["best"] == {"lr": [0.03, 1.0][scores.index(max(scores))]}
    path = tmp_path / "t.json"
    tune.write(path, result)
    loaded = baseline_settings.read_result(path, "reinforce")
    assert baseline_settings.provenance("reinforce", SMALL, loaded)["source"] == "tuned"
    elsewhere = baseline_settings.provenance("reinforce", replace(SMALL, game=Game(b=4.0)), loaded)
    assert (elsewhere["source"], elsewhere["tuned_for"]) == ("other", "custom")
    # the run trains with the tuned setting: the same final tables as the method started with it by hand
    record = train.train_seeds(SMALL, [0], "reinforce", tuning=loaded)
    module = contract.method("reinforce")
    state = module.start(SMALL, [0], replace(module.CONFIG(), **result["best"]))
    for _ in range(SMALL.train.iterations):
        module.step(state)
    torch.testing.assert_close(torch.tensor(record.tables["runs"][0]["act"]), state.tables()[0][0, [0]], rtol=0, atol=0)
    assert record.result["baseline_settings"]["settings"]["lr"] == result["best"]["lr"]


# ---------------------------------------------------------------------------
# the command line: tune and --baseline-settings, and their refusals

POP = ["--pop", "learner:random:1", "--pop", "disc:shunning:3"]


def _cli(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_tune_command_writes_a_result_train_then_uses(tmp_path, capsys):
    out = tmp_path / "tuned.json"
    status, text, _ = _cli(["tune", *POP, "--method", "ppo", "--iterations", "2", "--interactions", "100", "--seeds", "1",
                            "--out", str(out), "--json"], capsys)
    assert status == 0
    written = json.loads(out.read_text())
    assert written["best"] == json.loads(text)["best"]
    assert len(written["results"]) == 16  # the recorded grid: 4 lr x 2 gamma x 2 interactions
    status, text, _ = _cli(["train", *POP, "--method", "ppo", "--iterations", "2", "--interactions", "100", "--seeds", "1",
                            "--baseline-settings", str(out), "--out", str(tmp_path / "run"), "--json"], capsys)
    assert status == 0
    assert json.loads(text)["baseline_settings"]["source"] == "tuned"
    assert json.loads((tmp_path / "run" / "result.json").read_text())["baseline_settings"]["file"] == str(out)


def test_tune_never_overwrites_what_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "notes.json"
    mine.write_text('{"my": "notes"}')
    status, _, err = _cli(["tune", *POP, "--method", "reinforce", "--out", str(mine), "--overwrite"], capsys)
    assert_one_line_error(err, status)
    assert mine.read_text() == '{"my": "notes"}'


@pytest.mark.parametrize("extra, words", [
    (["--method", "rg"], "cannot be tuned"),
    (["--method", "nope"], "cannot be tuned"),
    (["--method", "reinforce", "--out", "."], "folder"),
    (["--method", "reinforce"], "required"),
])
def test_tune_refusals(tmp_path, capsys, monkeypatch, extra, words):
    monkeypatch.chdir(tmp_path)
    argv = ["tune", *POP, *extra] + ([] if "--out" in extra or words == "required" else ["--out", "t.json"])
    with mock.patch("recigrad.running.tune.tune", side_effect=AssertionError("work started")):
        status, out, err = _cli(argv, capsys)
    assert_one_line_error(err, status)
    assert words in err
    assert out == ""


def test_tune_refuses_an_existing_result_without_overwrite(tmp_path, capsys):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"format": baseline_settings.FORMAT}))
    with mock.patch("recigrad.running.tune.tune", side_effect=AssertionError("work started")):
        status, _, err = _cli(["tune", *POP, "--method", "reinforce", "--out", str(path)], capsys)
    assert_one_line_error(err, status)
    assert "--overwrite" in err


GOOD = {"format": baseline_settings.FORMAT, "version": 1, "method": "reinforce",
        "population": {"name": "custom", "key": "0" * 64}, "best": {"lr": 0.3}}


@pytest.mark.parametrize("content, words", [
    (None, "cannot be read"),
    ("{not json", "not JSON"),
    (json.dumps({"format": "other"}), "not a recigrad tuning result"),
    (json.dumps({**GOOD, "method": "ppo"}), "tuned for method"),
    (json.dumps({**GOOD, "population": "x"}), "population"),
    (json.dumps({**GOOD, "best": {"lr": -1}}), "best.lr"),
    (json.dumps({**GOOD, "best": {"interactions": 1.5}}), "best.interactions"),
    (json.dumps({**GOOD, "best": {"momentum": 0.9}}), "unknown reinforce setting"),
    (json.dumps({**GOOD, "best": {}}), "best"),
])
def test_baseline_settings_refusals(tmp_path, capsys, content, words):
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content)
    with mock.patch("recigrad.running.train.run", side_effect=AssertionError("work started")):
        status, out, err = _cli(["train", "--regime", "degenerate-allc", "--method", "reinforce", "--baseline-settings",
                                 str(path), "--out", str(tmp_path / "run")], capsys)
    assert_one_line_error(err, status)
    assert words in err
    assert out == ""


def test_baseline_settings_refused_for_the_reciprocity_gradient(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(GOOD))
    status, _, err = _cli(["train", "--regime", "degenerate-allc", "--method", "rg", "--baseline-settings", str(path),
                           "--out", str(tmp_path / "run")], capsys)
    assert_one_line_error(err, status)
    assert "has none" in err


class _Started(Exception):
    pass


FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
scalars = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=8),
                    st.none(), st.lists(st.integers(), max_size=2))


@FUZZ
@given(st.one_of(st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
                 st.dictionaries(st.sampled_from(["lr", "gamma", "interactions", "value_rate", "x"]), scalars, max_size=3)
                 .map(lambda best: json.dumps({**GOOD, "best": best}))))
def test_baseline_settings_fuzz(tmp_path_factory, capsys, text):
    """Random bytes or random settings: the run starts with checked settings, or one line and exit status 2."""
    path = tmp_path_factory.mktemp("s") / "s.json"
    path.write_text(text, encoding="latin-1")
    with mock.patch("recigrad.running.train.run", side_effect=_Started):
        try:
            status = main(["train", "--regime", "degenerate-allc", "--method", "reinforce", "--baseline-settings", str(path),
                           "--out", str(path.parent / "run")])
        except _Started:
            status = None
    _, err = capsys.readouterr()
    if status is None:
        best = json.loads(text)["best"]
        assert all(k != "x" and not isinstance(v, bool) and v > 0 for k, v in best.items()), best
    else:
        assert_one_line_error(err, status)


def test_check_setting_accepts_what_the_dataclass_holds():
    config = contract.method("ppo").CONFIG()
    assert baseline_settings.check_setting("ppo", {"epochs": config.epochs, "lr": 1, "normalize": False}, "best")
    with pytest.raises(ConfigError, match="best.normalize"):
        baseline_settings.check_setting("ppo", {"normalize": 1}, "best")


# ---------------------------------------------------------------------------
# hybrid-standing's tuning and merging tuning runs into tuned.json (benchmarks/tune_baselines.py --merge)


def _benchmark(name):
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", root / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("method", ["reinforce", "ppo", "reinforce-mlp", "a2c-mlp", "ppo-mlp"])
def test_hybrid_standing_runs_take_settings_tuned_for_it(method):
    from importlib import resources

    shipped = json.loads((resources.files("recigrad.learning.baselines") / "tuned.json").read_text())
    best = shipped["best"][method]["hybrid-standing"]
    where = baseline_settings.provenance(method, load_regime("hybrid-standing"))
    assert where["source"] == "tuned"
    assert {k: where["settings"][k] for k in best} == best


def test_merge_replaces_only_the_pairs_run():
    tb = _benchmark("tune_baselines")
    tuned = {"grid": {"ppo": {"lr": [0.1, 0.3], "gamma": [0.5]}}, "overall": {"ppo": {"lr": 0.1, "gamma": 0.5}},
             "scores": {"ppo": {"a": 90.0, "b": 80.0}},
             "best": {"ppo": {"a": {"lr": 0.1, "gamma": 0.5}, "b": {"lr": 0.3, "gamma": 0.5}}}}
    rows = [{"method": "ppo", "regime": "b", "lr": 0.1, "gamma": 0.5, "score": 70.0},
            {"method": "ppo", "regime": "b", "lr": 0.3, "gamma": 0.5, "score": 70.0},  # a tie: the first in grid order wins
            {"method": "ppo", "regime": "c", "lr": 0.3, "gamma": 0.5, "score": 99.0}]
    merged = tb.merge_pairs(tuned, rows, {"note": "x"})
    assert merged["best"]["ppo"] == {"a": {"lr": 0.1, "gamma": 0.5}, "b": {"lr": 0.1, "gamma": 0.5}, "c": {"lr": 0.3, "gamma": 0.5}}
    assert merged["scores"]["ppo"] == {"a": 90.0, "b": 70.0, "c": 99.0}
    assert merged["overall"] == tuned["overall"]
    assert merged["merges"] == [{"note": "x"}]
    with pytest.raises(ValueError, match="not a setting of the recorded grid"):
        tb.merge_pairs(tuned, [{"method": "ppo", "regime": "b", "lr": 0.2, "gamma": 0.5, "score": 1.0}], {})


def test_sb3_grid_scores_complete_pairs_only_and_merges_its_patch():
    grid = _benchmark("sb3_grid")
    jobs = grid.grid_jobs(["discriminative-sj"], [100, 101])
    assert len(jobs) == 2 * 4 * 2  # two methods x 4 settings x 2 seeds
    score = {100: 90.0, 101: 80.0}
    done = {grid.key_of(*job): {"score": score[job[3]] + (job[2] == {"n_steps": 2048, "gamma": 0.5}), "payoff": 1.0,
                                "seconds": 1.0, "source": "run"} for job in jobs if job[0] == "sb3-ppo"}
    rows, winners = grid.summarise(jobs, done, [100, 101], None)
    assert [r["score"] for r in rows] == [85.0, 85.0, 86.0, 85.0]  # the means over seeds; A2C has no run: no row
    assert list(winners) == [("sb3-ppo", "discriminative-sj")]
    assert winners[("sb3-ppo", "discriminative-sj")][1] == {"n_steps": 2048, "gamma": 0.5}
    tuned = {"best": {"ppo": {"a": {"lr": 1}}, "sb3-ppo": {"hybrid-alld": {"n_steps": 256, "gamma": 0.5}}}, "scores": {},
             "overall": {"sb3-ppo": {"n_steps": 256}}, "runs": {"sb3-a2c": {"seeds": [100]}}}
    patch = {"best": {"sb3-ppo": {"discriminative-sj": {"n_steps": 2048, "gamma": 0.5}}},
             "scores": {"sb3-ppo": {"discriminative-sj": 86.0}},
             "overall": {"sb3-ppo": {"mean_score": 86.0, "n_steps": 2048, "gamma": 0.5, "regimes": ["discriminative-sj"]}},
             "runs": {"sb3-ppo": {"seeds": [100, 101]}}}
    merged = grid.merge_patch(tuned, patch)
    assert merged["best"]["sb3-ppo"] == {"hybrid-alld": {"n_steps": 256, "gamma": 0.5},
                                         "discriminative-sj": {"n_steps": 2048, "gamma": 0.5}}
    assert merged["best"]["ppo"] == {"a": {"lr": 1}}
    assert merged["overall"]["sb3-ppo"] == {"mean_score": 86.0, "n_steps": 2048, "gamma": 0.5, "regimes": ["discriminative-sj"]}
    assert merged["runs"] == {"sb3-a2c": {"seeds": [100]}, "sb3-ppo": {"seeds": [100, 101]}}
    tuned["runs"]["sb3-ppo"] = {"seeds": [100]}
    assert grid.merge_patch(tuned, patch)["runs"]["sb3-ppo"] == {"seeds": [100, 101], "before": {"seeds": [100]}}

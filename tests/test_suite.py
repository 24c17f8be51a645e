"""The suite: its report folder, and that its CSV and summary follow from the seeds."""

import csv
import json

import pytest

from recigrad.cli import main
from recigrad.running import stats, train
from recigrad.running import suite as bench


def _runs_without_time(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if not k.startswith("seconds")} for row in csv.DictReader(f)]


def test_suite_is_reproducible_from_seeds(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "NASHCONV_POINTS", 2)  # a best response per learner at each point: at the first and last only
    regimes, methods, seeds = ["degenerate-allc", "society-L3"], ["rg", "reinforce"], [3, 4]
    a = bench.run_suite(regimes, methods, seeds, tmp_path / "a", iterations=12)
    b = bench.run_suite(regimes, methods, seeds, tmp_path / "b", iterations=12)
    assert _runs_without_time(tmp_path / "a" / "runs.csv") == _runs_without_time(tmp_path / "b" / "runs.csv")
    assert (tmp_path / "a" / "summary.md").read_text() == (tmp_path / "b" / "summary.md").read_text()
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]  # noqa: E731
    assert strip(a["rows"]) == strip(b["rows"])
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"runs.csv", "summary.md", "bench.json", "percent.png", "curves-degenerate-allc.png", "curves-society-L3.png",
            "runs"} <= names
    rows = list(csv.DictReader(open(tmp_path / "a" / "runs.csv")))
    assert len(rows) == len(regimes) * len(methods) * len(seeds)
    society = [r for r in rows if r["regime"] == "society-L3"]
    assert society
    for r in society:
        assert r["nashconv"] != "", r
        assert float(r["nashconv"]) >= -1e-9, r
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_row_fields():
    row = {"regime", "method", "seeds", "payoff_mean", "percent_of_reference_mean", "adherence_mean", "collapse_rate",
           "interactions_to_95", "seconds"}
    result = {"regime": "r", "method": "rg", "seconds": 1.0, "reference": {"payoff": 4.0},
              "runs": [{"payoff": 4.0, "percent_of_reference": 100.0, "adherence": 1.0, "collapsed": False,
                        "interactions_to_95": 800, "interactions_to_99": None, "seconds_to_95": 0.5, "interactions": 1000},
                       {"payoff": 3.0, "percent_of_reference": 75.0, "adherence": 0.5, "collapsed": True,
                        "interactions_to_95": None, "interactions_to_99": None, "seconds_to_95": None, "interactions": 1000}]}
    out = stats.summary_row(result, [0, 1])
    assert row <= set(out)
    assert out["payoff_mean"] == 3.5
    assert out["collapse_rate"] == 0.5
    assert out["interactions_to_95"] is None  # the median of (800, never) is never
    assert stats.median_reached([800, 900, None]) == 900


def test_cli_bench_refusals(capsys):
    assert main(["bench", "--regimes", "discriminative-sj,nope"]) == 2
    assert "--regimes: unknown name 'nope'" in capsys.readouterr().err
    assert main(["bench", "--methods", "sarsa"]) == 2
    assert "--methods: unknown name 'sarsa'" in capsys.readouterr().err
    assert main(["bench", "--quick", "--regimes", "hybrid-alld"]) == 2
    assert "give --quick or --regimes, not both" in capsys.readouterr().err


def test_interval():
    mean, half = stats.interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.303 * 1.0 / 3 ** 0.5, rel=0, abs=1e-9)
    assert json.dumps(stats.interval([5.0])[0]) == "5.0"


def _metrics_without_time(folder):
    from helpers import without_seconds

    return [without_seconds(json.loads(x)) for x in (folder / "metrics.jsonl").read_text().splitlines()]


def test_processes_backend_gives_the_local_report_for_the_pairs_run(tmp_path):
    """The processes backend (seed blocks of 1, merged) on some (regime, method) pairs gives, pair by pair, the
    local backend's rows, CSV rows, curves and tables (all but wall-clock seconds); the report has those pairs only."""
    from helpers import without_seconds

    regimes, methods, seeds = ["degenerate-allc", "discriminative-sj"], ["rg", "reinforce"], [3, 4]
    pairs = [("degenerate-allc", "rg"), ("degenerate-allc", "reinforce"), ("discriminative-sj", "reinforce")]
    local = bench.run_suite(regimes, methods, seeds, tmp_path / "local", iterations=6)
    apart = bench.run_suite(regimes, methods, seeds, tmp_path / "apart", iterations=6, backend="processes", workers=2,
                            seed_block=1, pairs=pairs)
    kept = [r for r in local["rows"] if (r["regime"], r["method"]) in pairs]
    assert without_seconds(apart["rows"]) == without_seconds(kept)
    assert apart["pairs"] == [list(p) for p in pairs]
    assert _runs_without_time(tmp_path / "apart" / "runs.csv") == [
        r for r in _runs_without_time(tmp_path / "local" / "runs.csv") if (r["regime"], r["method"]) in pairs]
    for name, method in pairs:
        a, b = tmp_path / "local" / "runs" / f"{name}-{method}", tmp_path / "apart" / "runs" / f"{name}-{method}"
        assert _metrics_without_time(a) == _metrics_without_time(b)
        for part in ("tables.json", "config.json"):
            assert json.loads((a / part).read_text()) == json.loads((b / part).read_text())
    assert not (tmp_path / "apart" / "runs" / "discriminative-sj-rg").exists()
    assert {"curves-degenerate-allc.png", "curves-discriminative-sj.png"} <= {p.name for p in (tmp_path / "apart").iterdir()}


def test_processes_backend_starts_nothing_after_its_deadline(tmp_path):
    import time

    summary = bench.run_suite(["degenerate-allc"], ["rg", "reinforce"], [0], tmp_path / "r", iterations=2, backend="processes",
                              workers=2, deadline=time.monotonic() - 1.0)
    assert summary["not_run"] == [["degenerate-allc", "reinforce"], ["degenerate-allc", "rg"]]
    assert summary["rows"] == []
    assert list(csv.DictReader(open(tmp_path / "r" / "runs.csv"))) == []


def test_job_blocks_and_quick_pairs():
    from recigrad.running import pool

    assert pool.job_blocks("rg", [0, 1, 2]) == [[0, 1, 2]]
    assert pool.job_blocks("sb3-ppo", [0, 1, 2]) == [[0], [1], [2]]
    assert pool.job_blocks("ppo-mlp", [0, 1, 2], 2) == [[0, 1], [2]]
    regimes = ["discriminative-sj", "discriminative-sh"]
    assert bench.quick_pairs(regimes, ["rg", "sb3-ppo"]) == [("discriminative-sj", "rg"), ("discriminative-sh", "rg"),
                                                             ("discriminative-sh", "sb3-ppo")]


@pytest.mark.parametrize("argv, message", [
    (["--workers", "2"], "--workers needs --backend processes"),
    (["--backend", "processes", "--address", "x:1"], "--address and --num-cpus need --backend ray"),
    (["--backend", "processes", "--tensorboard", "tb"], "--tensorboard needs --backend local (processes jobs write"),
])
def test_cli_bench_processes_refusals(tmp_path, capsys, argv, message):
    assert main(["bench", "--regimes", "degenerate-allc", "--methods", "rg", "--out", str(tmp_path / "b"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

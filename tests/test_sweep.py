"""``recigrad sweep`` (docs/model.md §10): the grid, the CSV, resume, refusals, the Ray backend.

Numbers are checked against the stern-judging closed form (docs/model.md §3) and against the
same command run alone (library and command line give identical numbers)."""

import csv
import json
from dataclasses import replace

import pytest
from numpy.testing import assert_allclose

from recigrad import cli
from recigrad.game.regime import TrainConfig, load_regime
from recigrad.running import sweep as sweeps

B_VALUES, MU_VALUES = [2.0, 5.0], [0.01, 0.05]
E = 0.01
TINY = {"iterations": 3, "interactions": 60}  # a few updates: the numbers still depend on b, mu and the seed


def sj_good(mu: float, e: float = E) -> float:
    """Stern judging among discriminators: ``g = (1 - mu) / (2 - mu - A)``, ``A = (1-e)(1-mu) + e mu``."""
    a = (1 - e) * (1 - mu) + e * mu
    return (1 - mu) / (2 - mu - a)


def tiny_regime():
    regime = load_regime("discriminative-sj")
    return replace(regime, train=TrainConfig(**{**regime.train.__dict__, **TINY}))


def train_sweep(seeds=(0, 1)):
    return sweeps.Sweep(tiny_regime(), "train", {"b": B_VALUES, "mu": MU_VALUES}, tuple(seeds))


def read_csv(folder, drop=("seconds",)):
    with open(folder / "results.csv") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def run_cli(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def train_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep") / "train"
    sweeps.run_sweep(train_sweep(), folder)
    return folder


def test_train_rows_columns_and_grid(train_folder):
    rows = read_csv(train_folder)
    assert len(rows) == len(B_VALUES) * len(MU_VALUES) * 2  # cells x seeds
    assert [(float(r["b"]), float(r["mu"]), int(r["seed"])) for r in rows] == [
        (b, mu, s) for b in B_VALUES for mu in MU_VALUES for s in (0, 1)]
    assert {r["population"] for r in rows} == {"learner:stern-judging:1 disc:stern-judging:7"}
    assert {(r["N"], r["count disc:stern-judging"], r["count learner:stern-judging"]) for r in rows} == {("8", "7", "1")}
    assert {r["method"] for r in rows} == {"rg"}
    percent = [float(r["percent_of_reference"]) for r in rows]
    expected = [100 * (1 - (float(r["reference"]) - float(r["payoff"])) / max(abs(float(r["reference"])), 1.0)) for r in rows]
    assert_allclose(percent, expected, rtol=0, atol=1e-9)
    spec = json.loads((train_folder / "sweep.json").read_text())
    assert spec["grid"] == {"b": B_VALUES, "mu": MU_VALUES}
    assert spec["cells"][1] == {"b": 2.0, "mu": 0.05}
    assert sorted(p.name for p in train_folder.iterdir()) == [".recigrad-run", "results.csv", "sweep.json"]


def test_csv_is_reproducible(train_folder, tmp_path):
    sweeps.run_sweep(train_sweep(), tmp_path / "again")
    assert read_csv(tmp_path / "again") == read_csv(train_folder)
    assert read_csv(tmp_path / "again", drop=()) != read_csv(train_folder, drop=())  # only the seconds differ


def test_worker_processes_give_the_same_rows(train_folder, tmp_path):
    sweeps.run_sweep(train_sweep(), tmp_path / "workers", workers=2)  # two spawned processes share the cells
    assert read_csv(tmp_path / "workers") == read_csv(train_folder)


def test_resume_after_an_interrupt_equals_an_uninterrupted_run(train_folder, tmp_path, monkeypatch):
    real, calls = sweeps.run_cell, []

    def interrupted_after_two(sweep, index, cell):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(index)
        return real(sweep, index, cell)

    monkeypatch.setattr(sweeps, "run_cell", interrupted_after_two)
    with pytest.raises(KeyboardInterrupt):
        sweeps.run_sweep(train_sweep(), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out.partial" / "cells").iterdir()) == ["cell-000000.json", "cell-000001.json"]
    assert not (tmp_path / "out").exists()
    resumed = []
    monkeypatch.setattr(sweeps, "run_cell", lambda sweep, index, cell: resumed.append(index) or real(sweep, index, cell))
    sweeps.run_sweep(train_sweep(), tmp_path / "out", resume=True)
    assert resumed == [2, 3]  # the finished cells are not run again
    assert read_csv(tmp_path / "out") == read_csv(train_folder)
    assert not (tmp_path / "out.partial").exists()


def test_resume_refuses_another_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(sweeps, "run_cell", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    spec = sweeps.Sweep(tiny_regime(), "exact", {"mu": MU_VALUES})
    with pytest.raises(KeyboardInterrupt):
        sweeps.run_sweep(spec, tmp_path / "out")
    with pytest.raises(sweeps.ConfigError, match="cannot resume: sweep in progress .* is for sweep"):
        sweeps.run_sweep(replace(spec, grid={"mu": [0.02]}), tmp_path / "out", resume=True)


def test_a_cell_equals_recigrad_train_alone(train_folder, tmp_path, capsys):
    status, out, _ = run_cli(capsys, "train", "--regime", "discriminative-sj", "-b", "5", "--mu", "0.05", "--seeds", "2",
                             "--iterations", "3", "--interactions", "60", "--out", str(tmp_path / "run"), "--json")
    assert status == 0
    alone = json.loads(out)["runs"]
    rows = [r for r in read_csv(train_folder) if float(r["b"]) == 5.0 and float(r["mu"]) == 0.05]
    for key in ("payoff", "reference", "percent_of_reference", "adherence", "action_sensitivity"):
        assert [float(r[key]) for r in rows] == [run[key] for run in alone], key


def test_exact_sweep_against_the_closed_form_and_the_cli(tmp_path, capsys):
    status, out, err = run_cli(capsys, "sweep", "--regime", "discriminative-sj", "--command", "exact", "--grid", "benefit=2,5",
                               "--grid", "assessment_error=0.01,0.05", "--out", str(tmp_path / "ex"), "--json")
    assert status == 0, err
    rows = json.loads(out)["rows"]
    assert [(r["b"], r["mu"]) for r in rows] == [(b, mu) for b in B_VALUES for mu in MU_VALUES]
    good = [sj_good(r["mu"]) for r in rows]
    assert_allclose([r["good"] for r in rows], good, rtol=0, atol=1e-12)
    assert_allclose([r["cooperation"] for r in rows], [(1 - E) * g for g in good], rtol=0, atol=1e-12)
    assert_allclose([r["payoff"] for r in rows], [(r["b"] - 1) * (1 - E) * g for r, g in zip(rows, good)], rtol=0, atol=1e-12)
    status, out, _ = run_cli(capsys, "exact", "--regime", "discriminative-sj", "-b", "5", "--mu", "0.05", "--json")
    alone = json.loads(out)["exact"]
    assert rows[3]["payoff"] == pytest.approx(sum(alone["payoff"]) / 8, abs=1e-15)


def test_simulate_sweep_equals_simulate_alone(tmp_path, capsys):
    spec = sweeps.Sweep(tiny_regime(), "simulate", {"mu": [0.05]}, (0, 1), interactions=3000, burn_in=100)
    rows = sweeps.run_sweep(spec, tmp_path / "sim")["rows"]
    status, out, _ = run_cli(capsys, "simulate", "--regime", "discriminative-sj", "--mu", "0.05", "--seed", "1",
                             "--interactions", "3000", "--burn-in", "100", "--json")
    alone = json.loads(out)
    assert rows[1]["seed"] == 1
    assert rows[1]["payoff"] == pytest.approx(sum(alone["payoff"]) / 8, rel=1e-12)
    assert rows[1]["good"] == pytest.approx(sum(alone["good"]) / 8, rel=1e-12)
    assert rows[0]["payoff"] != rows[1]["payoff"]  # two seeds, two runs


def test_reference_sweep_equals_reference_alone(tmp_path, capsys):
    spec = sweeps.Sweep(tiny_regime(), "reference", {"b": [5.0]})
    rows = sweeps.run_sweep(spec, tmp_path / "ref")["rows"]
    status, out, _ = run_cli(capsys, "reference", "--regime", "discriminative-sj", "--json")
    assert rows[0]["payoff"] == json.loads(out)["payoff"]
    assert rows[0]["payoff"] == pytest.approx(4.0253, abs=1e-4)  # the reference solver's answer at N = 8


def test_sweep_table_in_a_config(tmp_path, capsys):
    text = (load_regime_text() + '\n[sweep]\ncommand = "exact"\n[sweep.grid]\nassessment_error = [0.02, 0.1]\n')
    (tmp_path / "r.toml").write_text(text)
    status, out, err = run_cli(capsys, "sweep", "--config", str(tmp_path / "r.toml"), "--out", str(tmp_path / "s"), "--json")
    assert status == 0, err
    rows = json.loads(out)["rows"]
    assert [r["mu"] for r in rows] == [0.02, 0.1]
    assert_allclose([r["good"] for r in rows], [sj_good(0.02), sj_good(0.1)], rtol=0, atol=1e-12)


def test_sweep_table_with_flags_and_refusals(tmp_path, capsys):
    (tmp_path / "r.toml").write_text(load_regime_text() + '\n[sweep]\ncommand = "exact"\n[sweep.grid]\nmu = [0.02]\n')
    status, out, err = run_cli(capsys, "sweep", "--config", str(tmp_path / "r.toml"), "--grid", "b=3,4",
                               "--out", str(tmp_path / "s"), "--json")
    assert status == 0, err
    assert [(r["b"], r["mu"]) for r in json.loads(out)["rows"]] == [(3.0, 0.02), (4.0, 0.02)]
    for extra, words in [('[sweep.grid]\nbeta = [1]\n', "sweep.grid: unknown key 'beta'"),
                         ('[sweep]\ncommand = "bench"\n', "sweep.command = 'bench' is not allowed"),
                         ('[sweep]\nseeds = 0\n', "sweep.seeds must be a positive integer"),
                         ('[sweep]\nwhat = 1\n', "unknown key sweep.'what'")]:
        (tmp_path / "bad.toml").write_text(load_regime_text() + "\n" + extra)
        status, _, err = run_cli(capsys, "sweep", "--config", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "t"))
        assert status == 2
        assert err.count("\n") == 1
        assert words in err
    assert not (tmp_path / "t").exists()


def load_regime_text() -> str:
    from importlib import resources

    return (resources.files("recigrad.game") / "regimes" / "discriminative-sj.toml").read_text()


def test_load_sweep(train_folder):
    pd = pytest.importorskip("pandas")
    from recigrad.results import load_sweep

    frame = load_sweep(train_folder)
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape[0] == 8
    assert list(frame.groupby(["b", "mu"]).size()) == [2, 2, 2, 2]
    assert_allclose(frame["payoff"].to_numpy(), [float(r["payoff"]) for r in read_csv(train_folder)], rtol=0, atol=0)


@pytest.mark.parametrize("argv, words", [
    (["--grid", "beta=1,2"], "--grid: unknown key 'beta'; allowed: b, c, e, mu, benefit"),
    (["--grid", "b=2,abc"], "--grid b: 'abc' is not allowed; allowed: finite numbers"),
    (["--grid", "b=2,nan"], "--grid b: 'nan' is not allowed"),
    (["--grid", "interactions=0"], "--grid interactions: '0' is not allowed; allowed: positive integers"),
    (["--grid", "b"], "expected KEY=V1,V2,..."),
    (["--grid", "b=2", "--grid", "benefit=3"], "b is given twice"),
    (["--grid", "mu=0.7"], "assessment_error must be in [0, 0.5)"),
    (["--grid", "b=0.5"], "benefit must be greater than cost"),
    (["--command", "exact", "--grid", "lr=0.1"], "--grid lr: not a setting of exact"),
    (["--command", "exact", "--lr", "0.1"], "--lr is not a setting of sweep --command exact"),
    (["--num-cpus", "2"], "--address and --num-cpus need --backend ray"),
])
def test_refusals_are_one_line_before_any_work(argv, words, tmp_path, capsys):
    status, out, err = run_cli(capsys, "sweep", "--regime", "discriminative-sj", "--out", str(tmp_path / "s"), *argv)
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("recigrad: error: ")
    assert words in err
    assert list(tmp_path.iterdir()) == []


def test_unsafe_out_is_refused(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    status, _, err = run_cli(capsys, "sweep", "--regime", "discriminative-sj", "--command", "exact",
                             "--out", str(tmp_path / "mine"))
    assert status == 2
    assert err.count("\n") == 1
    assert "is a folder recigrad did not create" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    status, _, _ = run_cli(capsys, "sweep", "--regime", "discriminative-sj", "--command", "exact", "--out", str(tmp_path / "s"))
    assert status == 0
    status, _, err = run_cli(capsys, "sweep", "--regime", "discriminative-sj", "--command", "exact", "--out", str(tmp_path / "s"))
    assert status == 2
    assert "add --overwrite" in err


def test_local_backend_does_not_import_ray():
    import subprocess
    import sys

    code = "import sys, recigrad.running.sweep, recigrad.results; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_ray_backend_equals_local(tmp_path):
    pytest.importorskip("ray")
    spec = sweeps.Sweep(tiny_regime(), "train", {"b": B_VALUES}, (0,))
    local = sweeps.run_sweep(spec, tmp_path / "local")
    remote = sweeps.run_sweep(spec, tmp_path / "ray", backend="ray", num_cpus=2)
    assert read_csv(tmp_path / "ray") == read_csv(tmp_path / "local")
    assert len(local["rows"]) == len(remote["rows"]) == 2

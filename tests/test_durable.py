"""Durable runs: ``recigrad train`` and ``recigrad bench`` resume after SIGKILL or SIGINT to the
same results as an uninterrupted run (all but wall-clock seconds); broken or foreign checkpoints
are refused with one line."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from recigrad.game.regime import load_regime
from recigrad.running import checkpoint, train

ENV = {**os.environ, "RECIGRAD_PROGRESS": "0", "RECIGRAD_THREADS": "1"}
TRAIN = ["train", "--regime", "discriminative-sj", "--seeds", "2", "--seed", "3", "--iterations", "60",
         "--interactions", "200", "--checkpoint-every", "5", "--json"]


def _cli(args, **kw):
    return subprocess.run([sys.executable, "-m", "recigrad.cli", *args], env=ENV, capture_output=True, text=True,
                          timeout=120, **kw)


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "recigrad.cli", *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc, key=None, at_least=1, timeout=90.0):
    """Poll until ``path`` exists (and its JSON ``key`` is at least ``at_least``); fail if ``proc`` ends first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, f"the run ended before {path} appeared: {proc.communicate()}"
        if path.exists():
            if key is None:
                return
            try:
                if json.loads(path.read_text())[key] >= at_least:
                    return
            except (ValueError, KeyError):
                pass
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"{path} did not appear")


def _strip(data):
    """``data`` without wall-clock fields (keys starting with ``seconds``) nor the folder name."""
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if not k.startswith("seconds") and k != "folder"}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def _folder(path: Path) -> dict:
    lines = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
    return {name: _strip(json.loads((path / name).read_text())) for name in ("config.json", "result.json", "tables.json")} | {
        "metrics": _strip(lines)}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    done = _cli([*TRAIN, "--out", str(out)])
    assert done.returncode == 0, done.stderr
    assert not checkpoint.partial_dir(out).exists()
    return _strip(json.loads(done.stdout)), _folder(out)


def test_sigkill_then_resume_is_bit_for_bit(tmp_path, uninterrupted):
    out = tmp_path / "run"
    partial = checkpoint.partial_dir(out)
    proc = _start([*TRAIN, "--out", str(out)])
    _wait_for(partial / "checkpoint.json", proc, "iteration", 10)
    proc.kill()
    proc.wait()
    assert not out.exists() and partial.exists()
    # a resume with other seeds, or another method, is refused with one line
    for other in (["--seeds", "3"], ["--method", "ppo"]):
        refused = _cli([*TRAIN, *other, "--out", str(out), "--resume"])
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert "cannot resume" in refused.stderr
    done = _cli([*TRAIN, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr
    assert not partial.exists()
    result, folder = uninterrupted
    assert _strip(json.loads(done.stdout)) == result
    assert _folder(out) == folder


def test_sigint_checkpoints_and_exits_130(tmp_path, uninterrupted):
    out = tmp_path / "run"
    partial = checkpoint.partial_dir(out)
    proc = _start([*TRAIN, "--out", str(out)])
    _wait_for(partial / "checkpoint.json", proc, "iteration", 5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.count("\n") == 1 and "--resume" in stderr and str(out) in stderr, stderr
    assert not out.exists()
    assert json.loads((partial / "checkpoint.json").read_text())["iteration"] < 60
    done = _cli([*TRAIN, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr
    result, folder = uninterrupted
    assert _strip(json.loads(done.stdout)) == result
    assert _folder(out) == folder


def test_broken_and_foreign_checkpoints_are_refused(tmp_path):
    out = tmp_path / "run"
    partial = checkpoint.partial_dir(out)
    partial.mkdir()
    (partial / "notes.txt").write_text("mine")
    for resume in (["--resume"], []):  # a folder not ours is neither resumed nor overwritten
        refused = _cli([*TRAIN, "--iterations", "2", "--out", str(out), *resume])
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert "not a recigrad checkpoint" in refused.stderr
    assert (partial / "notes.txt").read_text() == "mine"
    (partial / "notes.txt").unlink()
    (partial / "checkpoint.json").write_bytes(os.urandom(64))
    refused = _cli([*TRAIN, "--out", str(out), "--resume"])
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "not a recigrad checkpoint" in refused.stderr


def test_corrupt_tensors_are_refused(tmp_path):
    regime = load_regime("degenerate-allc")
    work = tmp_path / "run.partial"
    with pytest.raises(train.Interrupted):
        _interrupt_at(regime, work, 4)
    npz = next(work.glob("state-*.npz"))
    npz.write_bytes(npz.read_bytes()[:100])
    with pytest.raises(checkpoint.CheckpointError, match="broken"):
        train.train_seeds(regime, [0, 1], "rg", 10, work=work, resume=True)


def _interrupt_at(regime, work, iteration, method="rg", iterations=10):
    """``train_seeds`` as if SIGINT came during ``iteration``."""
    module = train.method_module(method)
    original = module.step
    count = [0]

    def step(state):
        count[0] += 1
        if count[0] == iteration:
            signal.raise_signal(signal.SIGINT)
        return original(state)

    module.step = step
    try:
        train.train_seeds(regime, [0, 1], method, iterations, work=work, checkpoint_every=0)
    finally:
        module.step = original


@pytest.mark.parametrize("method", ["reinforce", "ppo"])
def test_resume_in_process_baselines(tmp_path, method):
    """Checkpoint mid-run with records pending in the baselines' update buffer, and resume."""
    regime = load_regime("degenerate-allc")
    regime = replace(regime, train=replace(regime.train, interactions=100))  # an update every 4 or 16 iterations
    full = train.train_seeds(regime, [0, 1], method, 8)
    work = tmp_path / "run.partial"
    with pytest.raises(train.Interrupted) as err:
        _interrupt_at(regime, work, 3, method, iterations=8)
    assert err.value.iteration == 3
    saved = json.loads((work / "checkpoint.json").read_text())
    if method != "rg":
        assert saved["state"]["buffer"]  # records waiting for the next update travel in the checkpoint
    resumed = train.train_seeds(regime, [0, 1], method, 8, work=work, resume=True)
    assert _strip(resumed.result) == _strip(full.result)
    assert _strip(resumed.curve) == _strip(full.curve)
    assert resumed.tables == full.tables


def _csv(path):
    with open(path) as f:
        return [_strip(row) for row in csv.DictReader(f)]


def test_bench_resume_skips_finished_runs(tmp_path):
    bench = ["bench", "--regimes", "degenerate-allc", "--methods", "rg,reinforce", "--seeds", "2", "--iterations", "30",
             "--json"]
    ref = tmp_path / "ref"
    done = _cli([*bench, "--out", str(ref)])
    assert done.returncode == 0, done.stderr
    out = tmp_path / "report"
    partial = checkpoint.partial_dir(out)
    proc = _start([*bench, "--out", str(out), "--checkpoint-every", "5"])
    _wait_for(partial / "runs" / "degenerate-allc-reinforce.partial" / "checkpoint.json", proc)
    proc.kill()
    proc.wait()
    finished = partial / "runs" / "degenerate-allc-rg" / "result.json"
    inode = finished.stat().st_ino
    refused = _cli([*bench, "--seeds", "3", "--out", str(out), "--resume"])
    assert refused.returncode == 2 and "cannot resume" in refused.stderr and refused.stderr.count("\n") == 1
    done = _cli([*bench, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr
    assert (out / "runs" / "degenerate-allc-rg" / "result.json").stat().st_ino == inode  # not trained again
    assert _csv(out / "runs.csv") == _csv(ref / "runs.csv")
    assert (out / "summary.md").read_text() == (ref / "summary.md").read_text()
    assert _strip(json.loads(done.stdout)) == _strip(json.loads((ref / "bench.json").read_text()))
    assert not partial.exists() and not (out / checkpoint.SUITE_FILE).exists()

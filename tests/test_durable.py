"""Durable runs: ``recigrad train`` and ``recigrad bench`` resume after SIGKILL or SIGINT to the
same results as an uninterrupted run (all but wall-clock seconds); broken or foreign checkpoints
are refused with one line."""

import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers import assert_one_line_error, wait_for, without_seconds
from recigrad.game.regime import load_regime
from recigrad.learning import contract
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






def _folder(path: Path) -> dict:
    lines = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
    return {name: without_seconds(json.loads((path / name).read_text())) for name in ("config.json", "result.json", "tables.json")} | {
        "metrics": without_seconds(lines)}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    done = _cli([*TRAIN, "--out", str(out)])
    assert done.returncode == 0, done.stderr
    assert not checkpoint.partial_dir(out).exists()
    return without_seconds(json.loads(done.stdout)), _folder(out)


def test_sigkill_then_resume_is_bit_for_bit(tmp_path, uninterrupted):
    out = tmp_path / "run"
    partial = checkpoint.partial_dir(out)
    proc = _start([*TRAIN, "--out", str(out)])
    wait_for(partial / "checkpoint.json", proc, "iteration", 10)
    proc.kill()
    proc.wait()
    assert not out.exists()
    assert partial.exists()
    # a resume with other seeds, or another method, is refused with one line
    for other in (["--seeds", "3"], ["--method", "ppo"]):
        refused = _cli([*TRAIN, *other, "--out", str(out), "--resume"])
        assert_one_line_error(refused.stderr, refused.returncode)
        assert "cannot resume" in refused.stderr, refused.stderr
    done = _cli([*TRAIN, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr
    assert not partial.exists()
    result, folder = uninterrupted
    assert without_seconds(json.loads(done.stdout)) == result
    assert _folder(out) == folder


def test_sigint_checkpoints_and_exits_130(tmp_path, uninterrupted):
    out = tmp_path / "run"
    partial = checkpoint.partial_dir(out)
    proc = _start([*TRAIN, "--out", str(out)])
    wait_for(partial / "checkpoint.json", proc, "iteration", 5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert_one_line_error(stderr, proc.returncode, expected_code=130, prefix="recigrad: ")
    assert "--resume" in stderr, stderr
    assert str(out) in stderr, stderr
    assert not out.exists()
    assert json.loads((partial / "checkpoint.json").read_text())["iteration"] < 60
    done = _cli([*TRAIN, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr
    result, folder = uninterrupted
    assert without_seconds(json.loads(done.stdout)) == result
    assert _folder(out) == folder


def test_broken_and_foreign_checkpoints_are_refused(tmp_path):
    out = tmp_path / "run"
    partial = checkpoint.partial_dir(out)
    partial.mkdir()
    (partial / "notes.txt").write_text("mine")
    for resume in (["--resume"], []):  # a folder not ours is neither resumed nor overwritten
        refused = _cli([*TRAIN, "--iterations", "2", "--out", str(out), *resume])
        assert_one_line_error(refused.stderr, refused.returncode)
        assert "not a recigrad checkpoint" in refused.stderr, refused.stderr
    assert (partial / "notes.txt").read_text() == "mine"
    (partial / "notes.txt").unlink()
    (partial / "checkpoint.json").write_bytes(os.urandom(64))
    refused = _cli([*TRAIN, "--out", str(out), "--resume"])
    assert_one_line_error(refused.stderr, refused.returncode)
    assert "not a recigrad checkpoint" in refused.stderr, refused.stderr


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
    module = contract.method(method)
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


# ---------------------------------------------------------------------------
# every field of a checkpoint is checked against the run's own configuration


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A checkpoint of rg at iteration 3 of 6 (degenerate-allc, two seeds)."""
    regime = load_regime("degenerate-allc")
    regime = replace(regime, train=replace(regime.train, interactions=200))
    work = tmp_path_factory.mktemp("written") / "run.partial"
    train.train_seeds(regime, [0, 1], "rg", 6, work=work, checkpoint_every=3)
    assert json.loads((work / "checkpoint.json").read_text())["iteration"] == 3
    return regime, work


def _edit_json(work, edit):
    document = json.loads((work / "checkpoint.json").read_text())
    edit(document)
    (work / "checkpoint.json").write_text(json.dumps(document))


def _edit_tensor(work, name, change):
    """Rewrite the tensor file with ``tensors[name] = change(tensors[name])`` and put its new
    checksum in the JSON, so that the field check (not the checksum) is what refuses."""
    document = json.loads((work / "checkpoint.json").read_text())
    with np.load(work / document["tensors"], allow_pickle=False) as arrays:
        tensors = {k: arrays[k] for k in arrays.files}
    tensors[name] = change(tensors[name])
    buffer = io.BytesIO()
    np.savez(buffer, **tensors)
    (work / document["tensors"]).write_bytes(buffer.getvalue())
    document["tensors_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (work / "checkpoint.json").write_text(json.dumps(document))


def _set_nan(a):
    a = a.copy()
    a[0, 0, 1, 0, 1] = np.nan
    return a


EDITS = {
    "iteration 10**6": (lambda w: _edit_json(w, lambda d: d.update(iteration=10**6)), "iteration is 1000000; allowed"),
    "iteration -5": (lambda w: _edit_json(w, lambda d: d.update(iteration=-5)), "iteration is -5; allowed"),
    "missing driver.curve": (lambda w: _edit_json(w, lambda d: d["driver"].pop("curve")), "driver.curve"),
    "wrong-shaped logits_act": (lambda w: _edit_tensor(w, "logits_act", lambda a: a[:, :, :1]),
                                "tensor logits_act has shape (2, 1, 1, 2); allowed: exactly (2, 1, 2, 2)"),
    "reputation 0.5": (lambda w: _edit_tensor(w, "reputation", lambda a: np.full(a.shape, 0.5)),
                       "tensor reputation has dtype torch.float64; allowed: torch.int64"),
    "reputation 2": (lambda w: _edit_tensor(w, "reputation", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, 2, a)),
                     "tensor reputation holds 2; allowed: only 0, 1"),
    "NaN logits": (lambda w: _edit_tensor(w, "logits_sig", _set_nan), "tensor logits_sig holds a value that is not finite"),
    "interactions": (lambda w: _edit_json(w, lambda d: d["state"].update(interactions=7)),
                     "state.interactions is 7; allowed: an integer in [600, 600]"),
}


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("case", list(EDITS))
def test_every_checkpoint_field_is_checked(tmp_path, written, case):
    """Each edited checkpoint is refused with one line naming the field and what is allowed; nothing is written."""
    regime, source = written
    out = tmp_path / "run"
    work = checkpoint.partial_dir(out)
    shutil.copytree(source, work)
    edit, expected = EDITS[case]
    edit(work)
    before = _files(work)
    with pytest.raises(checkpoint.CheckpointError) as err:
        train.run(regime, [0, 1], "rg", 6, out=out, resume=True)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"cannot resume: checkpoint {work}: "), message
    assert expected in message, message
    assert _files(work) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.partial"]


def _csv(path):
    with open(path) as f:
        return [without_seconds(row) for row in csv.DictReader(f)]


def test_bench_resume_skips_finished_runs(tmp_path):
    bench = ["bench", "--regimes", "degenerate-allc", "--methods", "rg,reinforce", "--seeds", "2", "--iterations", "30",
             "--json"]
    ref = tmp_path / "ref"
    done = _cli([*bench, "--out", str(ref)])
    assert done.returncode == 0, done.stderr
    out = tmp_path / "report"
    partial = checkpoint.partial_dir(out)
    proc = _start([*bench, "--out", str(out), "--checkpoint-every", "5"])
    wait_for(partial / "runs" / "degenerate-allc-reinforce.partial" / "checkpoint.json", proc)
    proc.kill()
    proc.wait()
    finished = partial / "runs" / "degenerate-allc-rg" / "result.json"
    inode = finished.stat().st_ino
    refused = _cli([*bench, "--seeds", "3", "--out", str(out), "--resume"])
    assert_one_line_error(refused.stderr, refused.returncode)
    assert "cannot resume" in refused.stderr, refused.stderr
    done = _cli([*bench, "--out", str(out), "--resume"])
    assert done.returncode == 0, done.stderr
    assert (out / "runs" / "degenerate-allc-rg" / "result.json").stat().st_ino == inode  # not trained again
    assert _csv(out / "runs.csv") == _csv(ref / "runs.csv")
    assert (out / "summary.md").read_text() == (ref / "summary.md").read_text()
    assert without_seconds(json.loads(done.stdout)) == without_seconds(json.loads((ref / "bench.json").read_text()))
    assert not partial.exists()
    assert not (out / checkpoint.SUITE_FILE).exists()

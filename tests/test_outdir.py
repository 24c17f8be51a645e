"""Output folders cannot destroy anything (recigrad.running.outdir, docs/model.md §10): unsafe ``--out``
paths are refused with one line before any work and leave the user's files as they were; a previous
run folder is replaced only with ``--overwrite`` and only when it holds nothing but recigrad's files;
one run at a time per ``--out``; a checkpoint is never discarded silently; SIGKILL then ``--resume``
gives the uninterrupted result."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_one_line_error, wait_for, without_seconds
from recigrad.cli import main
from recigrad.running import outdir

ENV = {**os.environ, "RECIGRAD_PROGRESS": "0", "RECIGRAD_THREADS": "1"}
TINY = ["train", "--regime", "degenerate-allc", "--seeds", "2", "--iterations", "4", "--interactions", "50", "--json"]
RUN_FILES = [".recigrad-run", "config.json", "curve.png", "metrics.jsonl", "result.json", "tables.json"]


def _snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its bytes (folders as None)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A working folder holding the user's own files; the current directory is a folder inside it."""
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "thesis.tex").write_text("years of work")
    (home / "notes.txt").write_text("my notes")
    (home / "work").mkdir()
    (home / "work" / "data.csv").write_text("1,2,3\n")
    (home / "link").symlink_to(home / "docs")
    monkeypatch.chdir(home / "work")
    return home


def _refused(argv, capsys) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    return err


@pytest.mark.parametrize(
    "out, words",
    [
        ("../docs", "recigrad did not create and it is not empty"),
        (".", "current folder or one of its ancestors"),
        ("..", "current folder or one of its ancestors"),
        ("/", "current folder or one of its ancestors"),
        ("../link", "recigrad did not create and it is not empty"),  # a symlink into the user's files
        ("../notes.txt", "is a file, not a folder"),
        ("../notes.txt/run", "notes.txt' is a file"),
        ("data.csv", "is a file, not a folder"),
        ("x" * 300 + "/run", "cannot be used (File name too long)"),
        ("y" * 246, "longer than 245 bytes"),  # no room for its work folder and temporary
    ],
)
@pytest.mark.parametrize("command", ["train", "bench"])
def test_unsafe_out_is_refused_and_nothing_changes(user, capsys, out, words, command):
    before = _snapshot(user)
    argv = TINY if command == "train" else ["bench", "--regimes", "degenerate-allc", "--methods", "rg", "--seeds", "1",
                                            "--iterations", "2"]
    err = _refused([*argv, "--out", out, "--overwrite"], capsys)
    assert words in err
    assert _snapshot(user) == before
    assert (user / "docs" / "thesis.tex").read_text() == "years of work"


def test_path_under_proc_is_refused(user, capsys):
    err = _refused([*TINY, "--out", "/proc/recigrad-nowhere/run"], capsys)
    assert "cannot be created" in err


def test_overwrite_replaces_only_a_run_folder_of_ours(user, capsys):
    assert main([*TINY, "--out", "run"]) == 0
    first = json.loads(capsys.readouterr().out)
    run = user / "work" / "run"
    assert sorted(p.name for p in run.iterdir()) == RUN_FILES
    assert json.loads((run / ".recigrad-run").read_text())["kind"] == "train"
    # again without --overwrite: refused, the folder as it was
    before = _snapshot(run)
    err = _refused([*TINY, "--seed", "7", "--out", "run"], capsys)
    assert "add --overwrite" in err
    assert _snapshot(run) == before
    # a user's file inside the run folder: --overwrite is refused too, and the file survives
    (run / "my-analysis.txt").write_text("keep me")
    err = _refused([*TINY, "--seed", "7", "--out", "run", "--overwrite"], capsys)
    assert "my-analysis.txt" in err
    assert (run / "my-analysis.txt").read_text() == "keep me"
    assert json.loads((run / "result.json").read_text())["runs"][0]["seed"] == first["runs"][0]["seed"]
    (run / "my-analysis.txt").unlink()
    assert main([*TINY, "--seed", "7", "--out", "run", "--overwrite"]) == 0
    capsys.readouterr()
    assert [r["seed"] for r in json.loads((run / "result.json").read_text())["runs"]] == [7, 8]
    assert sorted(p.name for p in run.iterdir()) == RUN_FILES
    assert sorted(p.name for p in (user / "work").iterdir()) == ["data.csv", "run"]  # no lock, no temporary left


def test_empty_folder_is_used(user, capsys):
    (user / "work" / "empty").mkdir()
    assert main([*TINY, "--out", "empty"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (user / "work" / "empty").iterdir()) == RUN_FILES


def test_train_folder_is_not_a_bench_folder(user, capsys):
    assert main([*TINY, "--out", "run"]) == 0
    capsys.readouterr()
    err = _refused(["bench", "--regimes", "degenerate-allc", "--methods", "rg", "--seeds", "1", "--out", "run",
                    "--overwrite"], capsys)
    assert "holds a recigrad train folder, not a bench folder" in err


def test_leftover_temporaries_of_ours_are_cleaned_and_others_kept(user, capsys):
    work = user / "work"
    ours = work / ".run.ab12cd34"  # left by a run killed between removing the old folder and renaming the new one
    ours.mkdir()
    outdir.write_marker(ours, "train")
    (ours / "result.json").write_text("{}")
    empty = work / ".run.zz99yy88"
    empty.mkdir()
    theirs = work / ".run.q1w2e3r4"  # same name pattern, but the user's
    theirs.mkdir()
    (theirs / "diary.txt").write_text("private")
    also_theirs = work / ".run.ab12cd35"  # our marker, but a file we never write
    also_theirs.mkdir()
    outdir.write_marker(also_theirs, "train")
    (also_theirs / "diary.txt").write_text("private")
    assert main([*TINY, "--out", "run"]) == 0
    capsys.readouterr()
    assert not ours.exists()
    assert not empty.exists()
    assert (theirs / "diary.txt").read_text() == "private"
    assert (also_theirs / "diary.txt").read_text() == "private"


def test_remove_ours_checks_bench_runs(tmp_path):
    report = tmp_path / "report"
    (report / "runs" / "a-rg").mkdir(parents=True)
    outdir.write_marker(report, "bench")
    outdir.write_marker(report / "runs" / "a-rg", "train")
    (report / "runs" / "a-rg" / "result.json").write_text("{}")
    (report / "summary.md").write_text("# x")
    (report / "runs" / "a-rg" / "mine.txt").write_text("keep")
    with pytest.raises(outdir.ConfigError, match="runs/a-rg/mine.txt"):
        outdir.remove_ours(report)
    assert (report / "runs" / "a-rg" / "mine.txt").read_text() == "keep"
    (report / "runs" / "a-rg" / "mine.txt").unlink()
    outdir.remove_ours(report)
    assert not report.exists()


def test_stale_lock_is_taken_over(user, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (user / "work" / ".run.lock").write_text(dead.stdout)
    assert main([*TINY, "--out", "run"]) == 0
    capsys.readouterr()
    assert not (user / "work" / ".run.lock").exists()
    assert (user / "work" / "run" / "result.json").exists()







RESUME = ["train", "--regime", "degenerate-allc", "--seeds", "2", "--iterations", "40", "--interactions", "100",
          "--checkpoint-every", "2", "--json"]


def test_second_run_on_one_out_is_refused_with_the_pid(tmp_path, monkeypatch, capsys):
    """While a run holds --out, a second one is refused naming the first one's pid, and changes nothing."""
    endless = ["train", "--regime", "degenerate-allc", "--seeds", "2", "--iterations", "1000000", "--interactions", "50",
               "--checkpoint-every", "1", "--json"]
    proc = subprocess.Popen([sys.executable, "-m", "recigrad.cli", *endless, "--out", "run"], env=ENV, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(tmp_path / "run.partial" / "checkpoint.json", proc, "iteration", 1)
        assert (tmp_path / ".run.lock").read_text().strip() == str(proc.pid)
        monkeypatch.chdir(tmp_path)
        for extra in ([], ["--overwrite"], ["--resume"]):
            err = _refused([*TINY, "--seed", "5", "--out", "run", *extra], capsys)
            assert f"pid {proc.pid}" in err
        assert proc.poll() is None
        assert json.loads((tmp_path / "run.partial" / "checkpoint.json").read_text())["seeds"] == [0, 1]
    finally:
        proc.kill()
        proc.wait()


def test_sigkill_then_rerun_is_refused_and_resume_matches(tmp_path, monkeypatch, capsys):
    """SIGKILL while checkpointing every 2 iterations; a re-run without --resume is refused (the checkpoint
    is kept), and --resume gives the same result as an uninterrupted run."""
    monkeypatch.chdir(tmp_path)
    assert main([*RESUME, "--out", "ref"]) == 0
    reference = json.loads(capsys.readouterr().out)
    proc = subprocess.Popen([sys.executable, "-m", "recigrad.cli", *RESUME, "--out", "run"], env=ENV, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "run.partial"
    wait_for(partial / "checkpoint.json", proc, "iteration", 4)
    proc.kill()
    proc.wait()
    assert not (tmp_path / "run").exists()
    saved = json.loads((partial / "checkpoint.json").read_text())["iteration"]
    # the killed run's stale lock is taken over; its checkpoint is not discarded without --resume
    err = _refused([*RESUME, "--out", "run"], capsys)
    assert "--resume" in err, err
    assert "--overwrite" in err, err
    assert json.loads((partial / "checkpoint.json").read_text())["iteration"] == saved
    assert main([*RESUME, "--out", "run", "--resume"]) == 0
    assert without_seconds(json.loads(capsys.readouterr().out)) == without_seconds(reference)
    assert without_seconds(json.loads((tmp_path / "run" / "result.json").read_text())) == without_seconds(
        json.loads((tmp_path / "ref" / "result.json").read_text()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref", "run"]


def test_bench_report_in_progress_needs_resume_or_overwrite(tmp_path):
    work = tmp_path / "report.partial"
    (work / "runs").mkdir(parents=True)
    (work / "suite.json").write_text("{}")
    with pytest.raises(outdir.ConfigError, match="add --resume to continue it, or --overwrite to start over"):
        outdir.check(tmp_path / "report", "bench")
    assert outdir.check(tmp_path / "report", "bench", resume=True) == tmp_path / "report"
    with outdir.claim(tmp_path / "report", "bench", overwrite=True) as path:
        assert path == tmp_path / "report"
        assert not work.exists()  # --overwrite discarded the report in progress, before any work
        assert (tmp_path / ".report.lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / ".report.lock").exists()


def test_lock_is_released_on_error(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with outdir.claim(tmp_path / "run", "train"):
            assert (tmp_path / ".run.lock").exists()
            raise KeyboardInterrupt
    assert not (tmp_path / ".run.lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []

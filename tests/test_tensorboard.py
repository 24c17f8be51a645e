"""TensorBoard scalars of ``train`` and ``bench`` (``--tensorboard DIR``, recigrad.running.tensorboard,
docs/model.md §10): read back with TensorBoard's own reader, they are the numbers and steps of the run's
``metrics.jsonl``; a resumed run gives the uninterrupted run's scalars; unsafe folders, a missing package
and the Ray backend are refused with one line before any work; a run without the flag imports nothing
of TensorBoard."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_one_line_error
from recigrad.cli import main
from recigrad.game.regime import load_regime
from recigrad.running import train

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from recigrad.running import tensorboard  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--seeds", "2", "--iterations", "4", "--interactions", "50"]
BENCH = ["--methods", "rg", "--seeds", "2", "--iterations", "2"]


def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files of ``folder``: tag -> [(step, value)] in step order."""
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
            for tag in events.Tags()["tensors"]}


def expected_scalars(run_folder: Path, regime: str, method: str, keys) -> dict[str, list[tuple[int, float]]]:
    """The same tags computed independently from ``metrics.jsonl`` and ``result.json``."""
    lines = [json.loads(text) for text in (run_folder / "metrics.jsonl").read_text().splitlines()]
    seeds = [run["seed"] for run in json.loads((run_folder / "result.json").read_text())["runs"]]
    found = {}
    for key in keys:
        for k, seed in enumerate(seeds):
            points = [(line["interactions"], line[key][k]) for line in lines if line.get(key) and line[key][k] is not None]
            if points:
                found[f"{regime}/{method}/seed-{seed}/{key}"] = points
    return found


def test_train_scalars_are_the_metrics_and_overwrite_replaces_them(tmp_path, capsys):
    argv = ["train", "--regime", "discriminative-sj", *TINY, "--out", str(tmp_path / "run"), "--tensorboard",
            str(tmp_path / "tb"), "--json"]
    assert main(argv) == 0
    assert main([*argv, "--overwrite"]) == 0  # the previous event file is removed, not appended to
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1
    expected = expected_scalars(tmp_path / "run", "discriminative-sj", "rg", ["payoff", "percent_of_reference", "adherence"])
    assert len(expected) == 6  # 3 keys x 2 seeds
    assert read_scalars(tmp_path / "tb") == expected  # same numbers (double precision), same steps (interactions)
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["tensorboard"] == str(tmp_path / "tb")


def test_society_scalars_are_the_metrics(tmp_path):
    argv = ["train", "--pop", "learner:L3:2", "--pop", "disc:L6:2", "--seeds", "2", "--iterations", "2",
            "--interactions", "50", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"), "--json"]
    assert main(argv) == 0
    expected = expected_scalars(tmp_path / "run", "custom", "rg", ["mean_payoff", "cooperation", "nashconv"])
    assert len(expected) == 6  # 3 keys x 2 seeds
    assert read_scalars(tmp_path / "tb") == expected


def test_bench_writes_one_folder_for_the_suite(tmp_path):
    code = main(["bench", "--regimes", "degenerate-allc,degenerate-alld", *BENCH, "--out", str(tmp_path / "report"),
                 "--tensorboard", str(tmp_path / "tb"), "--json"])
    assert code == 0
    keys = ["payoff", "percent_of_reference", "adherence"]
    expected = {}
    for name in ("degenerate-allc", "degenerate-alld"):
        expected.update(expected_scalars(tmp_path / "report" / "runs" / f"{name}-rg", name, "rg", keys))
    assert len(expected) == 12  # 2 regimes x 3 keys x 2 seeds
    assert read_scalars(tmp_path / "tb") == expected
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1


class _InterruptAt:
    """Passes evaluations on to ``inner``, and sends this process SIGINT at ``iteration``
    (the training loop checkpoints and stops after it)."""

    def __init__(self, inner, iteration):
        self.inner, self.iteration = inner, iteration

    def for_run(self, regime, method, seeds):
        board, iteration = self.inner.for_run(regime, method, seeds), self.iteration

        class Board:
            def on_evaluation(self, line):
                board.on_evaluation(line)
                if line["iteration"] == iteration:
                    os.kill(os.getpid(), signal.SIGINT)

        return Board()


def test_resumed_run_appends_to_the_uninterrupted_scalars(tmp_path):
    regime = load_regime("degenerate-allc")
    settings = dict(method="rg", iterations=6, eval_every=1)
    regime = regime.__class__(**{**regime.__dict__, "train": regime.train.__class__(**{**regime.train.__dict__,
                                                                                       "interactions": 50})})
    with tensorboard.open_folder(tmp_path / "tb") as scalars, pytest.raises(train.Interrupted):
        train.run(regime, [0, 1], out=tmp_path / "run", checkpoint_every=0, scalars=_InterruptAt(scalars, 3), **settings)
    with tensorboard.open_folder(tmp_path / "tb", resume=True) as scalars:
        train.run(regime, [0, 1], out=tmp_path / "run", resume=True, scalars=scalars, **settings)
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 2  # appended: a second event file
    expected = expected_scalars(tmp_path / "run", regime.name, "rg", ["payoff", "percent_of_reference", "adherence"])
    assert [step for step, _ in expected[f"{regime.name}/rg/seed-1/payoff"]] == [50 * k for k in range(1, 7)]
    assert read_scalars(tmp_path / "tb") == expected


def _refused(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert_one_line_error(err, code, context=argv)
    return err


def test_unsafe_folder_is_refused_before_any_work(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    err = _refused(capsys, ["train", "--regime", "degenerate-allc", *TINY, "--out", str(tmp_path / "run"),
                            "--tensorboard", str(mine)])
    assert "--tensorboard" in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert not (tmp_path / "run").exists()
    err = _refused(capsys, ["train", "--regime", "degenerate-allc", *TINY, "--out", str(tmp_path / "run"),
                            "--tensorboard", str(tmp_path / "run" / "tb")])
    assert "apart from --out" in err
    assert not (tmp_path / "run").exists()


def test_missing_package_is_refused_with_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    err = _refused(capsys, ["train", "--regime", "degenerate-allc", *TINY, "--out", str(tmp_path / "run"),
                            "--tensorboard", str(tmp_path / "tb")])
    assert "recigrad[tensorboard]" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_ray_backend_is_refused(tmp_path, capsys):
    err = _refused(capsys, ["bench", "--regimes", "degenerate-allc", *BENCH, "--backend", "ray",
                            "--out", str(tmp_path / "report"), "--tensorboard", str(tmp_path / "tb")])
    assert "--backend local" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_without_the_flag_nothing_of_tensorboard_is_imported(tmp_path):
    argv = ["train", "--regime", "degenerate-allc", "--seeds", "1", "--iterations", "1", "--out", str(tmp_path / "run"), "--json"]
    code = (f"import sys; from recigrad.cli import main; code = main({argv!r}); "
            "print(sorted(m for m in sys.modules if 'tensorboard' in m), file=sys.stderr); sys.exit(code)")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "RECIGRAD_PROGRESS": "0", "RECIGRAD_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"

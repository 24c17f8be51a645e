"""Results back in Python (``recigrad.results``): a run folder read back, tables re-scored in other
populations against the closed forms (docs/model.md §3) and the exact chain (§4); library calls on the
same threads and with the same numbers as the command line; run folders readable under the user's umask."""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import replace

import pytest
import torch
from tests.helpers import without_seconds

import recigrad
from recigrad.cli import main
from recigrad.dynamics import exact, world
from recigrad.errors import ConfigError
from recigrad.game import DTYPE, Game, observable
from recigrad.game.norms import action_table, signal_table
from recigrad.game.population import parse_pop
from recigrad.game.regime import TrainConfig, load_regime
from recigrad.results import load_run
from recigrad.running import train
from recigrad.util import threads

B, C, E, MU = 5.0, 1.0, 0.01, 0.01
A = (1 - E) * (1 - MU) + E * MU
G_SJ = (1 - MU) / (2 - MU - A)  # docs/model.md §3 (10)
SJ = (action_table("disc", "stern-judging").to(DTYPE), signal_table("stern-judging").to(DTYPE))
TRAIN = ["train", "--regime", "discriminative-sj", "--seeds", "2", "--iterations", "3", "--interactions", "200"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """One small training run written under umask 022, with its JSON summary."""
    out = tmp_path_factory.mktemp("runs") / "sj"
    previous = os.umask(0o022)
    try:
        result = train.run(load_regime("discriminative-sj"), [0, 1], iterations=3, out=out)
    finally:
        os.umask(previous)
    return out, result


def test_load_run_reads_tables_curves_and_metrics(run_folder):
    out, result = run_folder
    run = load_run(out)
    saved = json.loads((out / "tables.json").read_text())
    assert run.seeds == [0, 1]
    assert run.learners == [0]
    torch.testing.assert_close(run.act, torch.tensor([r["act"] for r in saved["runs"]], dtype=DTYPE))
    torch.testing.assert_close(run.sig, torch.tensor([r["sig"] for r in saved["runs"]], dtype=DTYPE))
    assert run.metrics == json.loads(json.dumps(result))
    assert [line["iteration"] for line in run.curves] == [1, 2, 3]
    torch.testing.assert_close(run.curve("payoff")[-1], torch.tensor([r["payoff"] for r in result["runs"]], dtype=DTYPE))
    assert run.regime.population.describe() == "learner:stern-judging:1 disc:stern-judging:7"
    assert run.method == "rg"


def test_rescoring_a_run_in_its_own_regime_gives_its_payoff(run_folder):
    out, result = run_folder
    run = load_run(out)
    scores = recigrad.evaluate((run.act, run.sig), run.regime)
    assert scores.model == "exact"
    torch.testing.assert_close(scores.payoff[:, 0], torch.tensor([r["payoff"] for r in result["runs"]], dtype=DTYPE))
    torch.testing.assert_close(scores.others_payoff, torch.tensor([r["others_payoff"] for r in result["runs"]], dtype=DTYPE))


@pytest.mark.parametrize(("n", "model"), [(8, "exact"), (40, "meanfield")])
def test_norm_tables_in_a_norm_population_give_the_closed_forms(n, model):
    scores = recigrad.evaluate(SJ, [f"disc:stern-judging:{n}"], Game(B, C, E, MU))
    assert scores.model == model
    torch.testing.assert_close(scores.good, torch.full((1, 1), G_SJ, dtype=DTYPE), rtol=0, atol=1e-10)
    torch.testing.assert_close(scores.payoff, torch.full((1, 1), (B - C) * (1 - E) * G_SJ, dtype=DTYPE), rtol=0, atol=1e-10)
    torch.testing.assert_close(scores.cooperation, torch.tensor([(1 - E) * G_SJ], dtype=DTYPE), rtol=0, atol=1e-10)
    torch.testing.assert_close(scores.welfare, torch.tensor([(B - C) * (1 - E) * G_SJ], dtype=DTYPE), rtol=0, atol=1e-10)


def test_tables_placed_in_another_population_match_the_exact_chain():
    generator = torch.Generator().manual_seed(5)
    act, sig = torch.rand(3, 2, 2, 2, generator=generator, dtype=DTYPE), torch.rand(3, 2, 2, 2, 2, generator=generator, dtype=DTYPE)
    pop = parse_pop(["disc:image-scoring:3", "allc:stern-judging:2", "disc:shunning:2"])
    game = Game(4.0, 1.0, 0.02, 0.03)
    scores = recigrad.evaluate((act, sig), pop, game, agents=[1, 5])
    full_act, full_sig = pop.batched_tables(3)
    full_act[:, [1, 5]], full_sig[:, [1, 5]] = act, sig
    solution = exact.solve(*observable(full_act, full_sig, game), game)
    torch.testing.assert_close(scores.payoff, solution.payoff[:, [1, 5]])
    torch.testing.assert_close(scores.good, solution.good[:, [1, 5]])
    torch.testing.assert_close(scores.others_payoff, solution.payoff[:, [0, 2, 3, 4, 6]].mean(1))
    assert scores.model == "exact"


@pytest.mark.parametrize("make", [lambda p: p, lambda p: p / "nothing"])
def test_load_run_refuses_a_folder_that_is_not_a_run(tmp_path, make):
    with pytest.raises(ConfigError) as caught:
        load_run(make(tmp_path))
    assert "is not a recigrad run folder" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_run_refuses_a_run_folder_with_a_file_missing(run_folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_folder[0], copy)
    (copy / "tables.json").unlink()
    with pytest.raises(ConfigError, match="missing tables.json"):
        load_run(copy)


@pytest.mark.parametrize(("tables", "kwargs", "words"), [
    ((torch.zeros(3, 3), SJ[1]), {}, "act has shape"),
    ((SJ[0] * 2, SJ[1]), {}, "outside"),
    (SJ, {"agents": [9]}, "agents"),
    ((torch.zeros(2, 2, 2), SJ[1]), {"agents": [0, 1, 2]}, "tables for 2 agents"),
    (SJ[0], {}, "a pair"),
])
def test_evaluate_refuses_bad_input_with_one_line(tables, kwargs, words):
    with pytest.raises(ConfigError) as caught:
        recigrad.evaluate(tables, ["disc:stern-judging:5"], **kwargs)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


# -- threads: the library as fast as the command line, with the same numbers


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield before
    threads.set_threads(None)
    torch.set_num_threads(before)


def test_configured_uses_the_chosen_count_and_restores(restore_threads, monkeypatch):
    monkeypatch.delenv("RECIGRAD_THREADS", raising=False)
    torch.set_num_threads(3)
    with threads.configured():
        assert torch.get_num_threads() == 1  # the default, as the command line's
    assert torch.get_num_threads() == 3
    recigrad.set_threads(2)
    with threads.configured():
        assert torch.get_num_threads() == 2
    monkeypatch.setenv("RECIGRAD_THREADS", "4")
    recigrad.set_threads(None)
    with threads.configured():
        assert torch.get_num_threads() == 4
    assert torch.get_num_threads() == 3


def test_library_calls_run_on_the_configured_count(restore_threads, monkeypatch):
    monkeypatch.delenv("RECIGRAD_THREADS", raising=False)
    torch.set_num_threads(3)
    seen = []
    monkeypatch.setattr(world, "play", lambda *a, **k: seen.append(torch.get_num_threads()) or (a[2], None, None))
    world.simulate(*observable(*parse_pop(["disc:stern-judging:3"]).batched_tables(1), Game()), [0], 10)
    assert seen == [1]
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("count", [0, -1, 1.5, True, threads.max_threads() + 1])
def test_set_threads_refuses_bad_counts(count):
    with pytest.raises(ConfigError, match="set_threads"):
        recigrad.set_threads(count)


def test_library_and_command_line_give_identical_numbers(capsys, tmp_path, restore_threads):
    torch.set_num_threads(2)  # a library user's torch, not the command line's one thread
    regime = load_regime("discriminative-sj")
    regime = replace(regime, train=TrainConfig(**{**regime.train.__dict__, "interactions": 200, "iterations": 3}))
    library = train.run(regime, [0, 1])
    assert main(TRAIN + ["--json", "--out", str(tmp_path / "cli")]) == 0
    command_line = json.loads(capsys.readouterr().out)
    assert without_seconds(command_line) == without_seconds(json.loads(json.dumps(library)))


def test_library_and_command_line_simulate_identically(capsys, restore_threads):
    torch.set_num_threads(2)
    pop = parse_pop(["disc:stern-judging:4", "alld:stern-judging:1"])
    tally, _ = world.simulate(*observable(*pop.batched_tables(2), Game()), [7, 8], 3000, 100)
    assert main(["simulate", "--pop", "disc:stern-judging:4", "--pop", "alld:stern-judging:1", "--seed", "7", "--batch", "2",
                 "--interactions", "3000", "--burn-in", "100", "--json"]) == 0
    command_line = json.loads(capsys.readouterr().out)
    assert command_line["payoff"] == tally.payoff_per_round(5.0, 1.0).mean(0).tolist()


# -- readable run folders


def test_run_folder_follows_the_umask(run_folder):
    out, _ = run_folder
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()}
    assert modes == {name: 0o644 for name in modes}
    assert "result.json" in modes


def test_run_folder_under_a_stricter_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        train.run(load_regime("discriminative-sj"), [0], iterations=1, out=tmp_path / "strict")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "strict").stat().st_mode) == 0o750

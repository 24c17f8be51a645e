"""The numbers researchers report (docs/model.md §10): cooperation and welfare from ``exact`` and
``simulate`` against the closed forms of a homogeneous stern-judging population (docs/model.md §3),
standard errors over populations, one row per strategy, and ``train``'s others' payoff and change
from the initial tables against the exact chain computed here."""

from __future__ import annotations

import json

import pytest
import torch

from recigrad.cli import main
from recigrad.dynamics import exact
from recigrad.game import Game, observable
from recigrad.game.population import parse_pop
from recigrad.game.regime import Regime, TrainConfig
from recigrad.running import train

B, C, E, MU = 5.0, 1.0, 0.01, 0.01
A = (1 - E) * (1 - MU) + E * MU
G_SJ = (1 - MU) / (2 - MU - A)  # docs/model.md §3 (10): homogeneous disc + stern judging
COOPERATION = (1 - E) * G_SJ  # a donor gives to the good recipients, execution errors lose e
WELFARE = (B - C) * COOPERATION


def _json(argv, capsys) -> dict:
    assert main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("n", "models"), [(8, ("exact", "meanfield")), (13, ("meanfield",))])
def test_exact_cooperation_and_welfare_are_the_closed_forms(capsys, n, models):
    result = _json(["exact", "--pop", f"disc:stern-judging:{n}"], capsys)
    assert ("exact" in result) == (n <= exact.MAX_N)
    for model in models:
        assert result[model]["cooperation"] == pytest.approx(COOPERATION, abs=1e-10)
        assert result[model]["welfare"] == pytest.approx(WELFARE, abs=1e-10)


def test_exact_welfare_is_the_mean_payoff_of_a_mixed_population(capsys):
    result = _json(["exact", "--pop", "disc:stern-judging:4", "--pop", "allc:stern-judging:2", "--pop", "alld:stern-judging:1"],
                   capsys)
    payoff = torch.tensor(result["exact"]["payoff"])
    assert result["exact"]["welfare"] == pytest.approx(float(payoff.mean()), abs=1e-12)
    # every realised C moves b - c of payoff: welfare = (b - c) cooperation in any population
    assert result["exact"]["welfare"] == pytest.approx((B - C) * result["exact"]["cooperation"], abs=1e-12)


def test_simulate_cooperation_and_welfare_within_five_standard_errors(capsys):
    result = _json(["simulate", "--pop", "disc:stern-judging:6", "--batch", "8", "--interactions", "20000"], capsys)
    assert abs(result["cooperation"] - COOPERATION) < 5 * result["cooperation_se"]
    assert abs(result["welfare"] - WELFARE) < 5 * result["welfare_se"]
    assert result["welfare"] == pytest.approx((B - C) * result["cooperation"], abs=1e-12)
    assert len(result["payoff_se"]) == 6
    assert len(result["good_se"]) == 6
    assert 0 < result["cooperation_se"] < 0.01  # 8 populations of 20000 interactions


def test_simulate_standard_errors_are_those_of_the_populations_run_alone(capsys):
    together = _json(["simulate", "--pop", "disc:stern-judging:5", "--batch", "3", "--interactions", "2000"], capsys)
    alone = [_json(["simulate", "--pop", "disc:stern-judging:5", "--seed", str(s), "--interactions", "2000"], capsys)
             for s in range(3)]
    cooperation = torch.tensor([r["cooperation"] for r in alone], dtype=torch.float64)
    assert together["cooperation"] == pytest.approx(float(cooperation.mean()), abs=1e-12)
    assert together["cooperation_se"] == pytest.approx(float(cooperation.std() / 3**0.5), abs=1e-12)
    assert "cooperation_se" not in alone[0]


def test_text_shows_one_row_per_strategy_and_a_summary(capsys):
    assert main(["exact", "--pop", "disc:stern-judging:1000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if "stern-judging" in line]
    assert len(rows) == 1
    assert rows[0].split()[:3] == ["0-999", "1000", "disc"]
    summary = [line for line in lines if line.startswith("meanfield: cooperation")]
    assert float(summary[0].split()[2].rstrip(",")) == pytest.approx(COOPERATION, abs=1e-5)


def test_text_keeps_one_row_per_agent_when_none_repeat(capsys):
    assert main(["simulate", "--pop", "disc:stern-judging:1", "--pop", "allc:stern-judging:1", "--pop", "alld:stern-judging:1",
                 "--interactions", "1000"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["agent", "kind", "norm"]
    assert out.count("stern-judging") == 3


def _small(pop: list[str], iterations: int = 4) -> Regime:
    return Regime("small", "", Game(), parse_pop(pop), TrainConfig(iterations=iterations, interactions=200))


def _initial(regime: Regime, learners: list[int]):
    """Everyone's tables at the start: a learner warm-started at its norm has the norm's tables at logits
    +-3 (docs/model.md §6), the others their own."""
    act, sig = regime.population.batched_tables(1)
    act[:, learners] = torch.sigmoid(3 * (2 * act[:, learners] - 1))
    sig[:, learners] = torch.sigmoid(3 * (2 * sig[:, learners] - 1))
    return act, sig


def test_train_reports_the_others_payoff_and_changes_against_the_exact_chain():
    regime = _small(["learner:stern-judging:1", "disc:stern-judging:5"])  # warm-started at the norm
    record = train.train_seeds(regime, [0, 1])
    act, sig = regime.population.batched_tables(2)
    learned = record.tables["runs"]
    act[:, 0] = torch.tensor([run["act"][0] for run in learned], dtype=act.dtype)
    sig[:, 0] = torch.tensor([run["sig"][0] for run in learned], dtype=sig.dtype)
    solution = exact.solve(*observable(act, sig, regime.game), regime.game)
    start = exact.solve(*observable(*_initial(regime, [0]), regime.game), regime.game).payoff[0]
    for k, run in enumerate(record.result["runs"]):
        assert run["payoff"] == pytest.approx(float(solution.payoff[k, 0]), abs=1e-9)
        assert run["others_payoff"] == pytest.approx(float(solution.payoff[k, 1:].mean()), abs=1e-9)
        assert run["payoff_change"] == pytest.approx(float(solution.payoff[k, 0] - start[0]), abs=1e-9)
        assert run["others_payoff_change"] == pytest.approx(float(solution.payoff[k, 1:].mean() - start[1:].mean()), abs=1e-9)
    assert record.result["effects_model"] == "exact"


def test_train_records_the_game_and_the_population(tmp_path, capsys):
    out = tmp_path / "run"
    result = _json(["train", "--pop", "learner:stern-judging:1", "--pop", "disc:stern-judging:3", "--pop", "alld:stern-judging:1",
                    "--mu", "0.02", "--seeds", "1", "--iterations", "2", "--interactions", "100", "--out", str(out)], capsys)
    assert result["game"] == {"b": 5.0, "c": 1.0, "e": 0.01, "mu": 0.02, "observers": 1, "recipient_observes": True,
                              "aggregation": "single", "quorum": None, "observation": 1.0, "perception_error": 0.0,
                              "assessment": "public", "initial_good": 1.0, "schedule": "uniform", "gossip": 0.0,
                              "gossip_trust": 1.0}
    assert result["population"] == [{"kind": "learner", "norm": "stern-judging", "count": 1},
                                    {"kind": "disc", "norm": "stern-judging", "count": 3},
                                    {"kind": "alld", "norm": "stern-judging", "count": 1}]
    saved = json.loads((out / "result.json").read_text())
    assert saved["game"] == result["game"]
    assert saved["population"] == result["population"]


def test_society_reports_the_change_of_the_learners_mean_payoff():
    regime = _small(["learner:stern-judging:3", "alld:stern-judging:1"], iterations=1)
    record = train.train_seeds(regime, [3])
    act, sig = regime.population.batched_tables(1)
    act[0, :3] = torch.tensor(record.tables["runs"][0]["act"], dtype=act.dtype)
    sig[0, :3] = torch.tensor(record.tables["runs"][0]["sig"], dtype=sig.dtype)
    now = exact.solve(*observable(act, sig, regime.game), regime.game).payoff[0]
    start = exact.solve(*observable(*_initial(regime, [0, 1, 2]), regime.game), regime.game).payoff[0]
    run = record.result["runs"][0]
    assert run["mean_payoff"] == pytest.approx(float(now[:3].mean()), abs=1e-9)
    assert run["mean_payoff_change"] == pytest.approx(float(now[:3].mean() - start[:3].mean()), abs=1e-9)
    assert run["others_payoff"] == pytest.approx(float(now[3]), abs=1e-9)
    assert run["others_payoff_change"] == pytest.approx(float(now[3] - start[3]), abs=1e-9)

"""The scaling study (``bench --suite scaling``): populations and budgets by hand, and the table's
numbers against independent computations (closed forms of the exact chain, the start tables'
payoff, NashConv one learner at a time)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_one_line_error
from recigrad.cli import main
from recigrad.dynamics.streams import Streams
from recigrad.dynamics.world import initial_reputation, play
from recigrad.evaluation import evaluate
from recigrad.evaluation.best_response import best_response
from recigrad.evaluation.candidates import payoff_of
from recigrad.game import DTYPE, observable
from recigrad.game.regime import load_regime
from recigrad.game.scaling import DECISIONS, ITERATIONS, scaled_origin, scaled_population, scaled_regime
from recigrad.learning import contract
from recigrad.learning.baselines import common, ppo, reinforce

SJ = load_regime("discriminative-sj")
GAME = SJ.game
A = (1 - GAME.e) * (1 - GAME.mu) + GAME.e * GAME.mu  # P(assessed good | intended C, C-is-good context)


def counts(population) -> list[tuple[str, int]]:
    out: list[list] = []
    for agent in population.agents:
        if out and out[-1][0] == agent.kind:
            out[-1][1] += 1
        else:
            out.append([agent.kind, 1])
    return [tuple(x) for x in out]


def sj_reference(n: int) -> float:
    """The reference among n - 1 disc + stern judging (docs/model.md §8; derived by hand in
    tests/test_best_response.py): act as disc, always say "bad"; a linear system in (gL, gO)."""
    e, mu, k = GAME.e, GAME.mu, n - 1
    w = (n - 2) / k
    a12, r1 = -(A - (1 - mu)), 1 - mu
    slope = w * (A - 1 + mu) / k
    a21, a22, r2 = -slope, 1.0 - slope * (n - 2), mu / k + w * (1 - mu)
    det = a22 - a12 * a21
    g_l, g_o = (r1 * a22 - a12 * r2) / det, (r2 - a21 * r1) / det
    return GAME.b * (1 - e) * g_l - GAME.c * (1 - e) * g_o


def test_populations_by_hand():
    hybrid = load_regime("hybrid-alld")  # 1 learner, 5 disc, 2 alld
    # 31 others in 5 : 2 -> 22.14 : 8.86, the leftover agent to the larger remainder
    assert counts(scaled_population(hybrid.population, 32)) == [("learner", 1), ("disc", 22), ("alld", 9)]
    assert counts(scaled_population(hybrid.population, 128)) == [("learner", 1), ("disc", 91), ("alld", 36)]
    assert counts(scaled_population(SJ.population, 64)) == [("learner", 1), ("disc", 63)]
    assert counts(scaled_population(load_regime("society-L6").population, 32)) == [("learner", 32)]


def test_budget_per_learner_decision():
    for n in (8, 16, 128):
        regime = scaled_regime(SJ, n)
        assert regime.train.interactions * 2 / n == DECISIONS  # a learner decides in 2/N of the interactions
        assert regime.train.iterations == ITERATIONS
    assert scaled_regime(SJ, 8).train.interactions == 400  # N = 8: the budget the study was measured with


def test_baselines_update_batch_scales_with_n():
    tuned = common.tuned_table()
    for method, defaults in (("reinforce", reinforce.ReinforceConfig()), ("ppo", ppo.PPOConfig())):
        regime = scaled_regime(load_regime("hybrid-alld"), 32)
        settings_n = common.settings_for(defaults, method, regime)
        assert settings_n.interactions == tuned[method]["hybrid-alld"]["interactions"] * 4
        assert settings_n.lr == tuned[method]["hybrid-alld"]["lr"]
    assert scaled_origin(SJ) is None  # a shipped regime is no scaled one


def test_learner_decisions_in_the_world():
    """2/N of the interactions are the learner's decisions (donor 1/N, observer 1/N), counted in the world's records."""
    regime = scaled_regime(SJ, 16)
    seeds, played = [0, 1, 2, 3], scaled_regime(SJ, 16).train.interactions * 10
    pc, so = observable(*regime.population.batched_tables(len(seeds)), GAME)
    _, _, records = play(pc, so, initial_reputation(len(seeds), 16), Streams(seeds, "world"), played, record=True)
    learner = regime.population.learners[0]
    mine = float((records.donor == learner).sum() + (records.observers == learner).sum())
    expected = 2 / 16 * played * len(seeds)
    assert abs(mine - expected) < 4 * expected**0.5  # four standard deviations of a count


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("scaling") / "report"
    argv = ["bench", "--suite", "scaling", "--regimes", "discriminative-sj,society-L6", "--methods", "rg,reinforce",
            "--ns", "4,6", "--society-ns", "4", "--iterations", "4", "--seeds", "2", "--out", str(out), "--json"]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out / "scaling.csv")))
    return out, rows


def test_quick_study_files(quick):
    out, rows = quick
    assert {"scaling.md", "scaling.csv", "scaling.png", "scaling-societies.png", "summary.md", "bench.json"} <= {
        p.name for p in out.iterdir()}
    assert [(r["regime"], r["n"], r["method"]) for r in rows] == [
        ("discriminative-sj", "4", "rg"), ("discriminative-sj", "4", "reinforce"), ("discriminative-sj", "6", "rg"),
        ("discriminative-sj", "6", "reinforce"), ("society-L6", "4", "rg"), ("society-L6", "4", "reinforce")]
    bench = json.loads((out / "bench.json").read_text())
    assert len(bench["scaling"]) == len(rows)


def test_quick_study_budget(quick):
    _, rows = quick
    for r in rows:
        assert int(r["interactions"]) == 4 * DECISIONS * int(r["n"]) // 2
        assert float(r["learner_decisions"]) == 4 * DECISIONS


@pytest.mark.parametrize("n", [4, 6])
def test_reference_and_norm_against_closed_forms(quick, n):
    _, rows = quick
    row = next(r for r in rows if r["regime"] == "discriminative-sj" and r["n"] == str(n))
    assert float(row["reference"]) == pytest.approx(sj_reference(n), abs=1e-9)
    # the learner plays disc + stern judging like everyone: g = (1 - mu) / (2 - mu - A) for all
    g = (1 - GAME.mu) / (2 - GAME.mu - A)
    norm = (GAME.b - GAME.c) * (1 - GAME.e) * g
    assert float(row["norm_percent_of_reference"]) == pytest.approx(100 * norm / sj_reference(n), abs=1e-7)


@pytest.mark.parametrize("method", ["rg", "reinforce"])
def test_share_of_gain_against_start_tables(quick, method):
    """Share of gain from the final tables (tables.json) and the start tables (the method's start),
    both judged on the exact chain here; share over the norm from the norm's closed-form payoff."""
    out, rows = quick
    n, seeds = 6, [0, 1]
    regime = scaled_regime(SJ, n)
    learner = regime.population.learners[0]
    folder = out / "runs" / f"{regime.name}-{method}"
    tables = json.loads((folder / "tables.json").read_text())["runs"]
    act, sig = regime.population.batched_tables(len(seeds))
    act[:, learner] = torch.tensor([t["act"][0] for t in tables], dtype=DTYPE)
    sig[:, learner] = torch.tensor([t["sig"][0] for t in tables], dtype=DTYPE)
    final = evaluate(act, sig, GAME, "exact")[0].payoff[:, learner]
    start = evaluate(*contract.method(method).start(regime, seeds).tables(), GAME, "exact")[0].payoff[:, learner]
    reference = best_response(*regime.population.batched_tables(1), learner, GAME, "exact").payoff
    share = ((final - start) / (reference - start)).mean()
    row = next(r for r in rows if r["regime"] == "discriminative-sj" and r["n"] == str(n) and r["method"] == method)
    assert float(row["share_of_gain_mean"]) == pytest.approx(float(share), abs=1e-9)
    norm = (GAME.b - GAME.c) * (1 - GAME.e) * (1 - GAME.mu) / (2 - GAME.mu - A)  # everyone disc + stern judging
    over = ((final - norm) / (reference - norm)).mean()
    assert float(row["share_over_norm_mean"]) == pytest.approx(float(over), abs=1e-9)


def test_society_nashconv_one_learner_at_a_time(quick):
    """NashConv of the final tables, recomputed one learner at a time (mean field, as the driver)."""
    out, rows = quick
    regime = scaled_regime(load_regime("society-L6"), 4)
    tables = json.loads((out / "runs" / f"{regime.name}-rg" / "tables.json").read_text())["runs"]
    act = torch.tensor([t["act"] for t in tables], dtype=DTYPE)
    sig = torch.tensor([t["sig"] for t in tables], dtype=DTYPE)
    gaps = []
    for j in range(4):
        current = payoff_of(act, sig, j, act[:, j, None], sig[:, j, None], GAME, "meanfield")[:, 0]
        best = best_response(act, sig, j, GAME, "meanfield").payoff
        gaps.append(torch.maximum(best, current) - current)
    row = next(r for r in rows if r["regime"] == "society-L6" and r["method"] == "rg")
    assert float(row["nashconv_mean"]) == pytest.approx(float(torch.stack(gaps).sum(0).mean()), abs=1e-9)


@pytest.mark.parametrize("argv, message", [
    (["--suite", "scaling", "--ns", "2,8"], "--ns: expected comma-separated integers N with 3 <= N <= 10000"),
    (["--ns", "8,16"], "--ns and --society-ns need --suite scaling"),
    (["--suite", "scaling", "--society-ns", "eight"], "--society-ns: expected comma-separated integers"),
    (["--suite", "scaling", "--regimes", "nope"], "--regimes: unknown name 'nope'"),
    (["--suite", "huge"], "--suite: invalid choice"),
])
def test_refusals(argv, message, capsys, tmp_path):
    assert main(["bench", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err)
    assert message in err
    assert not (tmp_path / "x").exists()


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=30))
def test_sizes_refused_or_parsed(text):
    from recigrad.cli import _sizes

    try:
        sizes = _sizes(text)
    except Exception as err:  # argparse turns the error into one line
        assert "expected comma-separated integers N" in str(err)
        return
    assert sizes and all(3 <= n <= 10_000 for n in sizes)

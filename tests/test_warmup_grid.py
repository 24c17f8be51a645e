"""The warm-up grid ships with a perception error (docs/model.md §9), so that the warm-up norm matters:
learners warmed up at L3 and at L6 start from different payoffs (exact chain) and give different runs;
and the suite's warm-up table reports payoffs per round (issue 13, item 6)."""

from dataclasses import replace

import pytest
import torch

from recigrad.evaluation.models import evaluate
from recigrad.game.regime import load_regime
from recigrad.learning import reciprocity_gradient as learner
from recigrad.running import report, stats, train

CELLS = [(o, c) for o in ("L3", "L6") for c in ("action", "signal", "joint")]


def _start_payoff(regime) -> float:
    """The learner's exact payoff per round at its warm-up tables (logits +-3)."""
    act, sig = learner.start(regime, [0]).tables()
    solution, model = evaluate(act, sig, regime.game)
    assert model == "exact"
    return solution.payoff[0, 0].item()


@pytest.mark.parametrize("opponents, components", CELLS)
def test_the_warmup_norm_matters_only_with_the_perception_error(opponents, components):
    l3, l6 = (load_regime(f"warmup-{w}-in-{opponents}-{components}") for w in ("L3", "L6"))
    assert l3.game.perception_error == 0.01 and l6.game.perception_error == 0.01
    gap = _start_payoff(l6) - _start_payoff(l3)
    # a D to a bad recipient is perceived as C one time in a hundred; L6 calls that bad, L3 good
    assert 1e-5 < abs(gap) < 1e-3
    plain = [replace(r, game=replace(r.game, perception_error=0.0)) for r in (l3, l6)]
    assert _start_payoff(plain[0]) == _start_payoff(plain[1])  # the contexts where L3 and L6 differ never occur


def test_l3_and_l6_warmups_give_different_runs():
    """Two iterations of the reciprocity gradient from each warm-up among L6: with the shipped perception
    error the runs differ by about the warm-up starts' exact gap; without it they differ only through the
    learner's estimates of the others (which may cooperate with a bad recipient in its model), by far less."""
    gaps = {}
    for eps in (0.01, 0.0):
        payoffs, starts = [], []
        for w in ("L3", "L6"):
            regime = load_regime(f"warmup-{w}-in-L6-action")
            regime = replace(regime, game=replace(regime.game, perception_error=eps))
            result = train.run(regime, [0, 1], iterations=2, eval_every=2)
            payoffs.append(torch.tensor([r["payoff"] for r in result["runs"]], dtype=torch.float64))
            starts.append(_start_payoff(regime))
        gaps[eps] = payoffs[1] - payoffs[0], starts[1] - starts[0]
    runs, start = gaps[0.01]
    torch.testing.assert_close(runs, torch.full_like(runs, start), rtol=0.1, atol=0)
    runs, start = gaps[0.0]
    assert start == 0.0
    assert runs.abs().max() < 1e-6


def test_warmup_table_reports_payoff_per_round():
    runs = [{"payoff": 3.8, "percent_of_reference": 95.0, "adherence": 0.9, "collapsed": False, "interactions_to_95": 800,
             "interactions_to_99": None, "seconds_to_95": 0.5, "interactions": 1000},
            {"payoff": 3.6, "percent_of_reference": 90.0, "adherence": 0.7, "collapsed": False, "interactions_to_95": None,
             "interactions_to_99": None, "seconds_to_95": None, "interactions": 1000}]
    result = {"regime": "warmup-L3-in-L6-signal", "method": "rg", "seconds": 1.0, "reference": {"payoff": 3.79426}, "runs": runs}
    text = report.markdown_summary([result], [stats.summary_row(result, [0, 1])])
    header = next(line for line in text.splitlines() if line.startswith("| warm-up W"))
    assert [x.strip() for x in header.strip("|").split("|")] == [
        "warm-up W", "opponents O", "components", "method", "payoff", "reference", "% of reference", "adherence"]
    row = next(line for line in text.splitlines() if line.startswith("| L3 "))
    cells = [x.strip() for x in row.strip("|").split("|")]
    mean, half = stats.interval([3.8, 3.6])
    assert cells[4] == f"{mean:.4f} ± {half:.4f}"
    assert cells[5] == "3.7943"
    assert cells[6].startswith("92.50 ± ")
    assert "per interaction: divide by N" in text

"""Every script in ``examples/`` runs to the end and prints the numbers theory gives.

Each example runs as a subprocess with this interpreter and the source tree on
``PYTHONPATH``; the test parses the key figures it prints and checks them against
closed forms (docs/model.md §3), the exact chain (§4) or the reference solver (§8).
"""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
       "RECIGRAD_PROGRESS": "0", "RECIGRAD_THREADS": "1", "OMP_NUM_THREADS": "1"}
NUMBER = r"(-?\d+\.\d+)"

B, C, E, MU = 5.0, 1.0, 0.01, 0.01  # discriminative-sj and society-L6
A = (1 - E) * (1 - MU) + E * MU
G_SJ = (1 - MU) / (2 - MU - A)  # docs/model.md §3: homogeneous disc + stern judging
NORM_PAYOFF = (B - C) * (1 - E) * G_SJ  # everyone gives to the good, execution errors lose e


def run_example(name: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], env=ENV, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def figure(text: str, label: str) -> float:
    """The first number after ``label`` (a regular expression) in ``text``."""
    found = re.search(label + r"[^0-9-]*" + NUMBER, text)
    assert found is not None, f"no {label!r} in the output:\n{text}"
    return float(found.group(1))


def test_every_example_is_tested_and_listed():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    tested = sorted(name for name in globals() if name.startswith("test_example_"))
    assert [f"test_example_{s[:-3]}" for s in scripts] == tested
    readme = (EXAMPLES / "README.md").read_text()
    for script in scripts:
        assert f"`{script}`" in readme, f"{script} is not listed in examples/README.md"


def test_example_stern_judging():
    out = run_example("stern_judging.py")
    assert figure(out, "closed form g") == pytest.approx(G_SJ, abs=1e-12)
    assert figure(out, "exact chain g") == pytest.approx(G_SJ, abs=1e-12)
    assert figure(out, "mean field g") == pytest.approx(G_SJ, abs=1e-12)
    assert figure(out, "playing the norm") == pytest.approx(NORM_PAYOFF, abs=1e-4)
    assert figure(out, "best response") == pytest.approx(4.0253, abs=1e-4)  # the reference solver's answer at N = 8
    assert "everyone is bad" in out


def test_example_rescore():
    out = run_example("rescore.py")
    recorded = [float(x) for x in re.findall(r"recorded payoff " + NUMBER, out)]
    rescored = [float(x) for x in re.findall(r"own regime \(exact\) payoff " + NUMBER, out)]
    assert len(recorded) == 2
    np.testing.assert_allclose(rescored, recorded, rtol=0, atol=1e-6)  # the run's own exact payoff, read back
    assert figure(out, "norm payoff") == pytest.approx(NORM_PAYOFF, abs=1e-6)  # closed form, mean field at N = 100
    assert figure(out, "welfare") == pytest.approx(NORM_PAYOFF, abs=1e-6)
    assert "(meanfield)" in out


def test_example_train_and_inspect():
    out = run_example("train_and_inspect.py")
    assert figure(out, "reference payoff") == pytest.approx(4.0253, abs=1e-4)
    percents = [float(p) for p in re.findall(NUMBER + r" % of reference", out)]
    adherences = [float(a) for a in re.findall(r"adherence " + NUMBER, out)]
    assert len(percents) == 3
    assert len(adherences) == 3
    for percent in percents:  # the reference is the best payoff: at most 100; a short run gets close to it
        assert 95.0 < percent <= 100.0 + 1e-6
    for adherence in adherences:
        assert adherence > 0.95


def test_example_custom_norm():
    out = run_example("custom_norm.py")
    worst = re.search(r"largest exact-closed form difference: (\S+)", out)
    assert worst is not None
    assert float(worst.group(1)) < 1e-12
    rows = re.findall(r"^\s+(\d+)\s+([01]{4})\s+" + NUMBER + r"\s+" + NUMBER + "$", out, flags=re.M)
    assert len(rows) == 16
    assert float(rows[9][2]) == pytest.approx(G_SJ, abs=1e-8)  # rule 9 is stern judging
    assert "identical yes" in out
    b = 0.5  # D to bad assessed good with probability 0.5, flipped with mu: still 0.5
    assert figure(out, r"half-forgiving stern judging \(exact chain\): good") == pytest.approx(b / (1 - A + b), abs=1e-6)


def test_example_custom_population():
    out = run_example("custom_population.py")
    assert "N = 8" in out
    worst = figure(out, "largest world-exact difference")
    assert worst < 5.0, f"the world and the exact chain differ by {worst} standard errors"
    rows = re.findall(r"^\s+(\d)\s+\S+.*?" + r"\s+".join([NUMBER + r" \(\+- " + NUMBER + r"\)", NUMBER, NUMBER, NUMBER]) + r"$",
                      out, flags=re.M)
    assert len(rows) == 8


def test_example_pettingzoo_society():
    pytest.importorskip("pettingzoo")
    out = run_example("pettingzoo_society.py")
    assert figure(out, r"\(b-c\)\(1-e\)g =") == pytest.approx(NORM_PAYOFF, abs=1e-4)
    societies = re.findall(r"society mean: " + NUMBER + r" \(\+- " + NUMBER + r"\), exact chain " + NUMBER, out)
    assert len(societies) == 3
    (mean_sj, se_sj, exact_sj), (mean_mix, se_mix, exact_mix), (mean_k3, se_k3, exact_k3) = [tuple(map(float, s)) for s in societies]
    np.testing.assert_allclose(exact_sj, NORM_PAYOFF, atol=1e-4)  # homogeneous: the exact chain is the closed form
    assert abs(mean_sj - NORM_PAYOFF) < 5 * se_sj
    assert abs(mean_mix - exact_mix) < 5 * se_mix
    assert exact_mix < exact_sj - 1.0  # two defectors cost the society more than one unit per round
    assert abs(mean_k3 - exact_k3) < 5 * se_k3  # three observers, majority, perception error: the exact chain of that rule
    assert math.isfinite(se_mix)


def test_example_tensorboard_scalars():
    pytest.importorskip("tensorboard")
    out = run_example("tensorboard_scalars.py")
    assert out.startswith("6 tags")  # 3 keys x 2 seeds
    pairs = re.findall(r"(\d+) evaluations; at (\d+) interactions TensorBoard payoff " + NUMBER + r", metrics\.jsonl payoff "
                       + NUMBER, out)
    assert len(pairs) == 2  # one per seed
    for evaluations, step, board, metrics in pairs:
        assert int(evaluations) == 4  # 20 iterations, an evaluation every 5
        assert int(step) == 20 * 100  # the x axis: interactions per population (100 per iteration, the default)
        assert board == metrics  # the same number, to the 12 digits printed
        assert float(board) <= 4.0253  # at most the reference (the best response at N = 8)


def test_example_research_numbers():
    out = run_example("research_numbers.py")
    cooperation, welfare = (1 - E) * G_SJ, (B - C) * (1 - E) * G_SJ  # docs/model.md §3
    assert figure(out, "closed form: cooperation") == pytest.approx(cooperation, abs=1e-12)
    assert figure(out, r"exact chain \(exact\): cooperation") == pytest.approx(cooperation, abs=1e-12)
    assert figure(out, r"exact chain \(exact\): cooperation \S+, welfare") == pytest.approx(welfare, abs=1e-12)
    mean = figure(out, "populations: welfare")
    se = figure(out, r"populations: welfare \S+ \+-")
    assert abs(mean - welfare) < 5 * se, f"simulated welfare {mean} +- {se} against {welfare}"
    assert out.count("run folder mode 0o755") == 2  # the umask 022 the example sets
    for start in ("stern-judging", "random"):
        for seed in (0, 1):
            label = rf"learner:{start}:1 seed {seed}: payoff"
            payoff = figure(out, label)
            assert payoff <= 4.0253 + 1e-4, f"{label} {payoff} above the reference"  # docs/model.md §9
            assert payoff > NORM_PAYOFF, f"{label} {payoff} not above playing the norm"
            assert figure(out, label + r" \S+ \(change") > 0.0


def test_example_sweep():
    pytest.importorskip("pandas")
    out = run_example("sweep.py")
    for mu in (0.001, 0.01, 0.05):
        a = (1 - E) * (1 - mu) + E * mu
        assert figure(out, rf"mu = {mu}: exact chain g") == pytest.approx((1 - mu) / (2 - mu - a), abs=1e-12)
    for b in (2.0, 5.0):
        assert figure(out, rf"b = {b}: mean percent of reference over 3 seeds") > 95.0  # rg near the reference in 60 iterations


def test_example_warmup_grid():
    """With a perception error the L3 and L6 warm-ups differ (exact chain), and stern judging's closed form
    with the perception error (docs/model.md (19a), k = 1) equals the exact chain."""
    done = subprocess.run([sys.executable, str(EXAMPLES / "warmup_grid.py"), "0.01", "--components", "action"], env=ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    eps = 0.01
    right = (1 - eps) * (1 - MU) + eps * MU
    g = right / (1 - (1 - E) * right - E * (1 - right) + right)
    assert figure(out, "closed form g") == pytest.approx(g, abs=1e-12)
    assert figure(out, "exact chain g") == pytest.approx(g, abs=1e-9)
    # a learner playing L6 among L6 discriminators is a homogeneous stern-judging population: (b - c)(1 - e) g
    assert figure(out, r"warmup-L6-in-L6-action \|[^|]*\|[^|]*\|[^|]*\|") == pytest.approx((B - C) * (1 - E) * g, abs=1e-6)
    assert 1e-5 < figure(out, "smallest") < figure(out, "largest difference L3 vs L6 warm-up start") < 1e-3


def test_example_neural_baseline():
    out = run_example("neural_baseline.py")
    assert figure(out, "start tables") == 0.0  # the residual's heads start at zero: every method's start, exactly
    gap = re.search(r"read-off tables and the network (\S+)", out)
    assert gap is not None and float(gap.group(1)) < 1e-12  # the read-off is the network, queried layer by layer
    assert figure(out, "reference payoff") == pytest.approx(4.0253, abs=1e-4)
    percents = [float(p) for p in re.findall(NUMBER + r" % of reference", out)]
    assert len(percents) == 3
    for percent in percents:  # the reference is the best payoff: at most 100 (a seed may end far below it)
        assert 0.0 < percent <= 100.0 + 1e-6
    assert out.count("signal collapsed False") == 3  # not measurable here: the reference's signal table is constant


def _sj_reference(n: int) -> float:
    """The reference among n - 1 disc + stern judging (act as disc, always say "bad"), solved by hand:
    second-order tables, so the stationary good probabilities (gL, gO) solve a linear system
    (docs/model.md §8; the exact chain and the mean field agree on it)."""
    k, w = n - 1, (n - 2) / (n - 1)
    a12, r1 = -(A - (1 - MU)), 1 - MU
    slope = w * (A - 1 + MU) / k
    a21, a22, r2 = -slope, 1.0 - slope * (n - 2), MU / k + w * (1 - MU)
    det = a22 - a12 * a21
    g_l, g_o = (r1 * a22 - a12 * r2) / det, (r2 - a21 * r1) / det
    return B * (1 - E) * g_l - C * (1 - E) * g_o


def test_example_scaling_study():
    out = run_example("scaling_study.py")
    for n in (8, 32, 128):
        line = next(x for x in out.splitlines() if x.startswith(f"N = {n:3d}:"))
        assert figure(line, "reference") == pytest.approx(_sj_reference(n), abs=1e-6)
        assert figure(line, "norm") == pytest.approx(NORM_PAYOFF, abs=1e-6)
        assert figure(line, "norm's percent of reference") == pytest.approx(100 * NORM_PAYOFF / _sj_reference(n), abs=1e-4)
        assert f"learner:stern-judging:1 disc:stern-judging:{n - 1}," in line
    for n in (4, 6):
        line = next(x for x in out.splitlines() if x.startswith(f"study N = {n}:"))
        assert f"rg {5 * 50 * n} interactions" in line  # 5 iterations of 50 N: 100 learner decisions per iteration
        assert "500 learner decisions" in line


def test_example_tune_for_population():
    """The tuned run says so (the untuned one: defaults); the reference is the solver's for that population;
    each seed's share of gain is (payoff - start) / (reference - start) from the printed figures."""
    from recigrad.evaluation.best_response import best_response
    from recigrad.game import Game
    from recigrad.game.population import parse_pop

    out = run_example("tune_for_population.py")
    assert "untuned: baseline settings defaults" in out
    assert "tuned: baseline settings tuned" in out
    act, sig = parse_pop(["learner:random:1", "disc:shunning:5"]).batched_tables(1)
    reference = float(best_response(act, sig, 0, Game()).payoff[0])
    assert figure(out, "reference payoff") == pytest.approx(reference, abs=1e-6)
    start = figure(out, "random-start payoff")
    for line in [x for x in out.splitlines() if x.startswith("seed ")]:
        payoff, share = figure(line, "payoff"), figure(line, "share of gain")
        assert share == pytest.approx((payoff - start) / (reference - start), abs=1e-5)
    assert "collapse measurable: action True, signal False" in out

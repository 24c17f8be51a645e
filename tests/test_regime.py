"""Regime files, --pop flags and command-line refusals: one clear line, nothing half-runs."""

import json

import pytest

from helpers import assert_one_line_error
from recigrad.cli import main
from recigrad.game import ConfigError
from recigrad.game.population import parse_pop
from recigrad.game.regime import load_config, load_regime, regime_from_dict, regime_names

GOOD = {
    "name": "t",
    "game": {"benefit": 5.0, "cost": 1.0, "execution_error": 0.01, "assessment_error": 0.01},
    "agents": [{"kind": "learner", "norm": "stern-judging", "warmup": False, "count": 1},
               {"kind": "disc", "norm": "stern-judging", "count": 7}],
    "train": {"components": "joint"},
}


def variant(**changes):
    data = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is ...:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return data


def test_good_regime():
    regime = regime_from_dict(GOOD)
    assert regime.population.n == 8
    assert regime.population.learners == [0]
    assert regime.game.b == 5.0
    assert regime.train.components == "joint"
    assert not regime.population.agents[0].warmup


@pytest.mark.parametrize("name", regime_names())
def test_shipped_regimes_load(name):
    regime = load_regime(name)
    assert regime.name == name
    assert regime.population.learners


def test_suite_is_shipped():
    names = set(regime_names())
    wanted = {"degenerate-allc", "degenerate-alld", "hybrid-alld", "hybrid-allc", "society-L3", "society-L6", "society-L6-alld"}
    wanted |= {f"discriminative-{k}" for k in ("sj", "ss", "sh", "is")} | {f"leading-eight-L{k}" for k in range(1, 9)}
    wanted |= {f"warmup-{w}-in-{o}-{c}" for w in ("L3", "L6") for o in ("L3", "L6") for c in ("action", "signal", "joint")}
    assert wanted <= names


def test_formation_regimes_are_in_the_suite_not_the_quick_list():
    """The formation variants (issue 13): k = 3 and 5 majority and a 3-of-3 quorum for
    discriminative-sj, hybrid-alld and society-L6; in the suite, not in the quick suite."""
    from recigrad.running.suite import QUICK_REGIMES, suite_regimes

    variants = {f"{base}-{rule}" for base in ("discriminative-sj", "hybrid-alld", "society-L6")
                for rule in ("majority3", "majority5", "quorum")}
    assert variants <= set(suite_regimes())
    assert not variants & set(QUICK_REGIMES)
    games = {rule: load_regime(f"discriminative-sj-{rule}").game for rule in ("majority3", "majority5", "quorum")}
    assert (games["majority3"].observers, games["majority3"].aggregation) == (3, "majority")
    assert (games["majority5"].observers, games["majority5"].aggregation) == (5, "majority")
    assert (games["quorum"].observers, games["quorum"].aggregation, games["quorum"].quorum) == (3, "quorum", 3)


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(colour="red"), "unknown key 'colour'"),
        (dict(game__gravity=1.0), "unknown key game.'gravity'"),
        (dict(agents__0__speed=2), "unknown key agents[0].'speed'"),
        (dict(agents__1__kind="tft"), "agents[1].kind = 'tft' is not allowed"),
        (dict(agents__1__norm="kindness"), "agents[1].norm = 'kindness' is not allowed"),
        (dict(agents__1__count=0), "agents[1].count must be a positive integer"),
        (dict(agents__1__count=2.5), "agents[1].count must be a positive integer"),
        (dict(agents__0__warmup="yes"), "agents[0].warmup must be true or false"),
        (dict(agents__1__kind=...), "agents[1].kind is missing"),
        (dict(agents__1__norm=...), "agents[1].norm is missing"),
        (dict(agents=[]), "[[agents]] is missing"),
        (dict(agents__1__count=1), "at least 3 agents"),
        (dict(game__benefit=1.0), "benefit must be greater than cost"),
        (dict(game__cost=0.0), "cost must be > 0"),
        (dict(game__execution_error=0.5), "execution_error must be in [0, 0.5)"),
        (dict(game__assessment_error=-0.01), "assessment_error must be in [0, 0.5)"),
        (dict(game__benefit="five"), "benefit must be a finite number"),
        (dict(train__momentum=0.9), "unknown key train.'momentum'"),
        (dict(train__components="both"), "train.components = 'both' is not allowed"),
        (dict(train__model="quantum"), "train.model = 'quantum' is not allowed"),
        (dict(train__iterations=0), "train.iterations must be a positive integer"),
        (dict(train__lr=-1.0), "train.lr must be a positive number"),
        (dict(train__model="exact", agents__1__count=12), "train.model = 'exact' needs N <= 12"),
        (dict(name=""), "name must be a non-empty string"),
    ],
)
def test_regime_refusals(changes, words):
    with pytest.raises(ConfigError) as err:
        regime_from_dict(variant(**changes), "f.toml")
    message = str(err.value)
    assert words in message
    assert message.startswith("f.toml: ")
    assert "\n" not in message


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown regime"):
        load_regime("discriminative-xx")


@pytest.mark.parametrize(
    "specs, words",
    [
        (["disc:stern-judging"], "expected KIND:NORM:COUNT"),
        (["tft:stern-judging:3"], "unknown kind 'tft'"),
        (["disc:kindness:3"], "unknown norm 'kindness'"),
        (["disc:stern-judging:x"], "COUNT must be a positive integer"),
        (["disc:stern-judging:0"], "COUNT must be a positive integer"),
        (["disc:stern-judging:2"], "at least 3 agents"),
        ([], "no population"),
    ],
)
def test_pop_refusals(specs, words):
    with pytest.raises(ConfigError, match=words):
        parse_pop(specs)


def test_pop_order_and_aliases():
    pop = parse_pop(["learner:L6:1", "disc:stern-judging:5", "alld:L3:2"])
    assert [a.kind for a in pop.agents] == ["learner"] + ["disc"] * 5 + ["alld"] * 2
    assert pop.learners == [0]
    assert pop.n == 8


@pytest.mark.parametrize(
    "argv, words",
    [
        (["simulate", "--pop", "disc:stern-judging:8", "--batch", "0"], "--batch: expected a positive integer"),
        (["simulate", "--pop", "disc:stern-judging:8", "--interactions", "ten"], "--interactions: expected a positive integer"),
        (["simulate", "--pop", "disc:stern-judging:8", "--burn-in", "-5"], "--burn-in: expected a non-negative integer"),
        (["simulate", "--pop", "disc:stern-judging:8", "--seed", "-1"], "--seed: expected a non-negative integer"),
        (["simulate", "--pop", "disc:stern-judging:8", "--e", "0.6"], "execution_error must be in [0, 0.5)"),
        (["simulate", "--pop", "disc:stern-judging:8", "-b", "0.5"], "benefit must be greater than cost"),
        (["simulate", "--pop", "disc:stern-judging:8", "--mu", "abc"], "argument --mu: invalid float value"),
        (["simulate", "--regime", "hybrid-alld", "--pop", "disc:stern-judging:8"], "give one of --regime, --config or --pop"),
        (["simulate", "--regime", "nope"], "unknown regime"),
        (["simulate"], "no population"),
        (["simulate", "--pop", "disc:stern-judging:8", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["teleport"], "invalid choice: 'teleport'"),
        (["reference", "--pop", "disc:stern-judging:8"], "reference needs a learner"),
        (["reference", "--regime", "discriminative-sj", "--order", "4"], "argument --order: invalid choice"),
        (["train", "--pop", "disc:stern-judging:8"], "train needs a learner"),
        (["train", "--regime", "discriminative-sj", "--seeds", "0"], "--seeds: expected a positive integer"),
        (["train", "--regime", "discriminative-sj", "--method", "dqn"], "argument --method: invalid choice"),
        (["train", "--regime", "discriminative-sj", "--lr", "-1"], "train.lr must be a positive number"),
        (["train", "--regime", "discriminative-sj", "--components", "both"], "argument --components: invalid choice"),
        (["train", "--pop", "learner:L6:1", "--pop", "disc:L6:12", "--model", "exact"], "needs N <= 12"),
    ],
)
def test_cli_refusals(argv, words, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    assert words in err, err


def test_cli_config_file(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[[agents]]\nkind = "disc"\nnorm = "shunning"\ncount = 4\n')
    assert main(["exact", "--config", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["exact"]["good"]) == 4
    path.write_text('name = "mine"\n[[agents]]\nkind = "disc"\nnorm = "shunning"\ncount = 4\ncolor = 1\n')
    assert main(["exact", "--config", str(path), "--json"]) == 2
    assert "unknown key agents[0].'color'" in capsys.readouterr().err


def test_exact_skips_chain_above_twelve(capsys):
    assert main(["exact", "--pop", "disc:stern-judging:13", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "exact" not in result
    assert len(result["meanfield"]["payoff"]) == 13


# --- bad input at the boundary: one line, never a traceback (docs/model.md §10) ---


@pytest.mark.parametrize(
    "argv, words",
    [
        (["simulate", "--pop", "disc:stern-judging:²"], "COUNT must be a positive integer, got '²'"),
        (["simulate", "--pop", "disc:stern-judging:8", "--batch", "١٢"], "--batch: expected a positive integer"),
        (["simulate", "--pop", "disc:stern-judging:8", "-b", "1e308"], "benefit must be a finite number in [-1e+12, 1e+12]"),
        (["simulate", "--pop", "disc:stern-judging:8", "-b", "inf"], "argument -b: invalid float value: 'inf'"),
        (["simulate", "--pop", "disc:stern-judging:100000"], "at most 10000 agents"),
        (["train", "--regime", "discriminative-sj", "--lr", "inf"], "argument --lr: invalid float value: 'inf'"),
        (["train", "--regime", "discriminative-sj", "--lr", "1e300"], "train.lr must be a positive number at most 1e+06"),
        (["train", "--regime", "discriminative-sj", "--iterations", "1000000000000"], "train.iterations must be at most"),
        (["train", "--regime", "discriminative-sj", "--seeds", "10000000"], "--seeds: expected a positive integer at most"),
        (["exact", "--config", "/"], "not a regular file"),
        (["simulate", "--pop", "disc:stern-judging:8", "--max-memory", "lots"], "expected a memory size"),
    ],
)
def test_cli_bad_input_is_one_line(argv, words, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    assert words in err, err


def test_memory_estimate_is_refused_against_the_limit(capsys):
    # 400 MiB + 10^6 populations x (26,000 + 200 x 8) bytes = 26.1 GiB, against --max-memory 1G
    assert main(["simulate", "--pop", "disc:stern-judging:8", "--batch", "1000000", "--max-memory", "1G"]) == 2
    err = capsys.readouterr().err
    assert "about 26.1 GiB" in err
    assert "limit of 1.0 GiB" in err


@pytest.mark.parametrize(
    "text, words",
    [
        ("a = " + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('[[agents]]\nkind = "disc"\nnorm = "L6"\ncount = 9223372036854775807\n', "at most 10000 agents"),
        ('[[agents]]\nkind = "disc"\nnorm = "L6"\ncount = 1e9\n', "count must be a positive integer"),
        ('[game]\nbenefit = 99999999999999999999999999999999\n[[agents]]\nkind = "disc"\nnorm = "L6"\ncount = 8\n',
         "benefit must be a finite number"),
        ('[train]\nlr = 1e400\n[[agents]]\nkind = "disc"\nnorm = "L6"\ncount = 8\n', "train.lr must be a positive number"),
    ],
)
def test_config_file_bad_values_are_one_line(tmp_path, text, words):
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_config_that_is_not_utf8_or_a_folder(tmp_path):
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "bin.toml")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(tmp_path)


def test_large_payoffs_print_standard_json(capsys):
    import numpy as np

    assert main(["exact", "--pop", "disc:stern-judging:8", "-b", "1e12", "-c", "1e11", "--json"]) == 0

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    large = json.loads(capsys.readouterr().out, parse_constant=refuse)["exact"]["payoff"]
    # payoffs are linear in (b, c): 1e11 times those of b = 10, c = 1
    assert main(["exact", "--pop", "disc:stern-judging:8", "-b", "10", "-c", "1", "--json"]) == 0
    small = json.loads(capsys.readouterr().out)["exact"]["payoff"]
    np.testing.assert_allclose(large, [1e11 * x for x in small], rtol=1e-9)


def test_closed_pipe_exits_quietly():
    import os
    import subprocess
    import sys

    env = {**os.environ, "RECIGRAD_PROGRESS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "recigrad.cli", "exact", "--pop", "disc:stern-judging:8", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141
    assert err == b""


def test_a_result_that_is_not_finite_is_not_printed(capsys, monkeypatch):
    import argparse

    import recigrad.cli as cli

    build = cli.build_parser

    def parser_with_a_nan_result():
        parser = build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices["exact"].set_defaults(run=lambda args: {"payoff": [float("nan")]})
        return parser

    monkeypatch.setattr(cli, "build_parser", parser_with_a_nan_result)
    assert main(["exact", "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    assert "not finite" in err, err

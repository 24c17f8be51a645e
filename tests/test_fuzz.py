"""Property-based tests (Hypothesis) of everything a user types or edits: the regime loader (random TOML
text, random nested values), ``--pop``, every flag of every command, the checkpoint reader (random bytes
and random JSON).  The only outcomes allowed are a result or the project's own ``ConfigError`` whose
message is one line (docs/model.md §10).  The commands never start work here: the functions that would
(simulate, solve, reference, train, bench) are replaced by a stub that stops at their door."""

import argparse
import copy
import json
import os
import string
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_targets import BASE, STUBS
from helpers import assert_one_line_error
from recigrad import __version__
from recigrad.cli import build_parser, main
from recigrad.errors import ConfigError
from recigrad.game.population import MAX_AGENTS, parse_pop
from recigrad.game.regime import Regime, regime_from_dict, regime_from_text, regime_names
from recigrad.running import checkpoint

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _one_line(err: ConfigError) -> None:
    message = str(err)
    assert message, repr(message)
    assert "\n" not in message, repr(message)
    assert "\r" not in message, repr(message)


def outcome(call):
    """``call()``'s result, or None after a one-line ConfigError; anything else fails the test."""
    try:
        return call()
    except ConfigError as err:
        _one_line(err)
        return None


# ---------------------------------------------------------------------------
# values a user might write

numbers = st.one_of(
    st.integers(), st.integers(min_value=2**60, max_value=2**70), st.just(2**63 - 1), st.just(10**30), st.just(-(10**400)),
    st.floats(allow_nan=True, allow_infinity=True), st.just(1e308), st.just(1e-320))
scalars = st.one_of(numbers, st.booleans(), st.text(max_size=20), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=10)

VALID = {"name": "mine", "description": "d", "game": {"benefit": 5.0, "cost": 1.0, "execution_error": 0.01,
                                                      "assessment_error": 0.01},
         "agents": [{"kind": "learner", "norm": "L6", "warmup": False, "count": 1},
                    {"kind": "disc", "norm": "stern-judging", "count": 7}],
         "train": {"components": "joint", "model": "meanfield", "iterations": 10, "interactions": 10, "lr": 0.2}}
PATHS = [("name",), ("description",), ("game",), ("agents",), ("train",), ("game", "benefit"), ("game", "cost"),
         ("game", "execution_error"), ("game", "assessment_error"), ("agents", 0), ("agents", 0, "kind"),
         ("agents", 0, "norm"), ("agents", 0, "count"), ("agents", 0, "warmup"), ("agents", 1, "count"),
         ("train", "components"), ("train", "model"), ("train", "iterations"), ("train", "interactions"), ("train", "lr"),
         ("game", "extra"), ("agents", 1, "extra"), ("extra",)]


def _replace(data, path, value):
    if not path:
        return value
    data = copy.deepcopy(data)
    target = data
    for key in path:
        fits = (isinstance(target, dict) and isinstance(key, str)) or (
            isinstance(target, list) and isinstance(key, int) and key < len(target))
        if not fits:
            return data  # the path no longer exists after an earlier change
        if key == path[-1]:
            target[key] = value
        else:
            target = target[key]
    return data


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_regime_from_random_values(changes):
    data = VALID
    for path, value in changes:
        data = _replace(data, path, value)
    regime = outcome(lambda: regime_from_dict(data, "f.toml"))
    assert regime is None or isinstance(regime, Regime)


@FUZZ
@given(values)
def test_regime_from_random_documents(data):
    regime = outcome(lambda: regime_from_dict(data, "f.toml"))
    assert regime is None or isinstance(regime, Regime)


def _toml_value(value) -> str:
    return json.dumps(value) if not isinstance(value, float) or value == value and abs(value) != float("inf") else "inf"


toml_lines = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["[game]", "[[agents]]", "[train]", "[agents]", "name = ", 'kind = "disc"', 'norm = "L6"', "count = 7",
                     'kind = "learner"', "count = 1e9", "count = 9223372036854775807", "count = 1000000000000000000000000000000",
                     "benefit = 1e400", "lr = 1e400", "lr = inf", "lr = nan", "iterations = 1000000000000",
                     "benefit = 99999999999999999999999999999999999999", "a = " + "[" * 2000 + "]" * 2000,
                     "a = " + "{b = " * 300 + "1" + "}" * 300]),
    st.builds(lambda k, v: f"{k} = {_toml_value(v)}",
              st.sampled_from(["name", "count", "benefit", "cost", "execution_error", "lr", "iterations", "interactions",
                               "kind", "norm", "warmup", "components", "model"]),
              st.one_of(numbers.filter(lambda v: not isinstance(v, int) or abs(v) < 2**64), st.text(max_size=10),
                        st.booleans())),
)


@FUZZ
@given(st.lists(toml_lines, max_size=12))
def test_regime_from_random_toml(lines):
    regime = outcome(lambda: regime_from_text("\n".join(lines), "f.toml"))
    assert regime is None or isinstance(regime, Regime)


def test_deep_toml_nesting_is_one_line():
    for text in ("a = " + "[" * 100_000 + "]" * 100_000, "a = " + "{b = " * 5000 + "1" + "}" * 5000):
        assert outcome(lambda text=text: regime_from_text(text, "f.toml")) is None


# ---------------------------------------------------------------------------
# --pop

pop_specs = st.one_of(
    st.text(max_size=30),
    st.builds(lambda k, n, c: f"{k}:{n}:{c}", st.sampled_from(["disc", "allc", "learner", "norm", "alld", "x", ""]),
              st.sampled_from(["stern-judging", "L1", "L8", "shunning", "nope", ""]),
              st.one_of(st.text(max_size=6), st.sampled_from(["²", "١٢", "٣", "3", "0", "-3", "+3", " 3", "1e3", "10" * 10,
                                                              "10000", "10001", "9223372036854775807"]))),
)


@FUZZ
@given(st.lists(pop_specs, max_size=4))
def test_pop(specs):
    population = outcome(lambda: parse_pop(specs))
    assert population is None or 3 <= population.n <= MAX_AGENTS


# ---------------------------------------------------------------------------
# every flag of every command


class WorkStarted(Exception):
    """Raised by the stubs in place of the work itself."""


def _stop(*args, **kwargs):
    raise WorkStarted




@contextmanager
def no_work(folder: Path):
    """The commands stop where their work would begin; the current directory is ``folder``."""
    previous = os.getcwd()
    with ExitStack() as stack:
        for target in STUBS:
            stack.enter_context(mock.patch(target, _stop))
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(previous)


def _commands() -> dict[str, list[argparse.Action]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [a for a in p._actions if a.option_strings and "--help" not in a.option_strings]
            for name, p in sub.choices.items()}


COMMANDS = _commands()

safe_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12).filter(
    lambda t: not t.startswith(("/", "~")) and ".." not in t and "\0" not in t)
flag_values = st.one_of(
    safe_text, st.integers().map(str), st.sampled_from(["0", "-1", "1", "10", "1e308", "inf", "nan", "-inf", "1e-400", "²",
                                                        "١٢", "9" * 50, "1_000", " 7", "0x10", "1.5", "", "4G", "1K", "-2G",
                                                        "abc", "10000000000000"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(regime_names()),
    st.sampled_from(["rg", "ppo", "reinforce", "joint", "exact", "meanfield", "auto", "2", "3", "ray", "local"]))


@st.composite
def command_lines(draw):
    name = draw(st.sampled_from(sorted(COMMANDS)))
    argv = [name] + (draw(st.sampled_from([BASE[name], []])))
    for action in draw(st.lists(st.sampled_from(COMMANDS[name]), max_size=4)):
        argv.append(draw(st.sampled_from(action.option_strings)))
        if action.nargs != 0:  # argv holds strings: str() of a choice (--order has int choices)
            argv.append(str(draw(st.sampled_from(action.choices) if action.choices and draw(st.booleans()) else flag_values)))
    return argv


def run_cli(argv: list[str], capsys) -> int | None:
    """``main(argv)``: its exit status, or None where it reached the work; a nonzero status must
    come with one line on stderr and nothing on stdout."""
    try:
        status = main(argv)
    except WorkStarted:
        status = None
    out, err = capsys.readouterr()
    if status:
        assert_one_line_error(err, context=argv)
        assert out == "", (argv, out)
    if status == 0:
        json.loads(out) if "--json" in argv else None
    return status


@settings(FUZZ, max_examples=300, suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture])
@given(command_lines())
def test_every_flag_of_every_command(tmp_path_factory, capsys, argv):
    folder = tmp_path_factory.mktemp("cli")
    with no_work(folder):
        assert run_cli(argv, capsys) in (None, 0, 2)


def test_every_flag_is_reached():
    """The fuzzing above covers every flag of every command (introspected from the parser)."""
    names = {name: {s for a in actions for s in a.option_strings} for name, actions in COMMANDS.items()}
    assert {"--out", "--overwrite", "--max-memory", "--resume"} <= names["train"]
    assert {"--out", "--overwrite", "--max-memory", "--backend"} <= names["bench"]
    assert {"--batch", "--pop", "-b", "--max-memory"} <= names["simulate"]


# ---------------------------------------------------------------------------
# the checkpoint reader

HEADER = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "kind": "train", "regime": "degenerate-allc",
          "regime_hash": "0" * 64, "method": "rg", "seeds": [0, 1], "iterations": 10, "eval_every": 1}
DOCUMENT = {**HEADER, "recigrad": __version__, "iteration": 4, "driver": {"curve": [], "reached": [[None, None]] * 2,
                                                                         "reached_seconds": [[None, None]] * 2, "seconds": 1.0},
            "state": {"kind": "Learners"}, "tensors": "state-000004.npz", "tensors_sha256": "0" * 64}
DOC_KEYS = sorted(DOCUMENT)


@FUZZ
@given(st.binary(max_size=200))
def test_checkpoint_random_bytes(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("ckpt")
    (folder / checkpoint.META_FILE).write_bytes(data)
    assert outcome(lambda: checkpoint.load(folder, HEADER)) is None
    assert outcome(lambda: checkpoint.read_header(folder / checkpoint.META_FILE, "train")) is None


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(DOC_KEYS + ["extra"]), values), max_size=3), st.binary(max_size=64))
def test_checkpoint_random_json(tmp_path_factory, changes, tensor_bytes):
    folder = tmp_path_factory.mktemp("ckpt")
    document = dict(DOCUMENT)
    for key, value in changes:
        document[key] = value
    try:
        text = json.dumps(document)
    except (ValueError, TypeError):
        return
    (folder / checkpoint.META_FILE).write_text(text)
    (folder / "state-000004.npz").write_bytes(tensor_bytes)
    loaded = outcome(lambda: checkpoint.load(folder, HEADER))
    assert loaded is None or isinstance(loaded, dict)


def test_printable_characters_only_in_messages():
    """A path holding a newline is named in one line."""
    with pytest.raises(ConfigError) as err:
        from recigrad.game.regime import load_config

        load_config("no\nsuch" + string.ascii_letters)
    _one_line(err.value)
    assert sys.stdout is not None

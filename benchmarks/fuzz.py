"""A time-bounded fuzz run of everything a user types or edits (outside the test suite).

    python benchmarks/fuzz.py --seconds 120

Random inputs, in this process, for four targets: the regime loader (random TOML text built from
fragments, random nested documents), ``--pop``, the command line (every flag of every command, with
the functions that would start work replaced by a stub that stops at their door, in a temporary
folder) and the checkpoint reader (random bytes, mutated JSON).  Prints the number of inputs tried,
the outcomes by type, and the count of exceptions other than the project's own ``ConfigError`` (must
be 0), of messages longer than one line, and of inputs that took longer than ``--hang`` seconds.
Exit status 1 if any of those counts is not 0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from unittest import mock

os.environ.setdefault("RECIGRAD_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the targets shared with tests/test_fuzz.py

from fuzz_targets import BASE, STUBS  # noqa: E402
from recigrad import __version__  # noqa: E402
from recigrad.cli import build_parser, main  # noqa: E402
from recigrad.errors import ConfigError  # noqa: E402
from recigrad.game.population import parse_pop  # noqa: E402
from recigrad.game.regime import regime_from_dict, regime_from_text, regime_names  # noqa: E402
from recigrad.running import checkpoint  # noqa: E402


class WorkStarted(Exception):
    pass


class Hang(BaseException):
    pass


def _stop(*args, **kwargs):
    raise WorkStarted


# ---------------------------------------------------------------------------
# random values


def number(rng: random.Random):
    return rng.choice([
        lambda: rng.randint(-10, 10), lambda: rng.randint(-(2**70), 2**70), lambda: 2**63 - 1, lambda: 10**30,
        lambda: -(10**400), lambda: rng.uniform(-1e3, 1e3), lambda: 10.0 ** rng.randint(-330, 308),
        lambda: float("inf"), lambda: float("-inf"), lambda: float("nan"), lambda: 0, lambda: 1e308])()


def text(rng: random.Random, size: int = 12) -> str:
    pools = [string_ascii, "0123456789.-+e_ ", "²³¹١٢٣０１２\u00a0\u200b", "[]{}=\"'\n\\#:,./~"]
    pool = rng.choice(pools) + rng.choice(pools)
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, size)))


string_ascii = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def value(rng: random.Random, depth: int = 0):
    kind = rng.randint(0, 7 if depth < 4 else 4)
    if kind <= 1:
        return number(rng)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind <= 4:
        return text(rng)
    if kind == 5:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {text(rng, 6): value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


VALID = {"name": "mine", "game": {"benefit": 5.0, "cost": 1.0, "execution_error": 0.01, "assessment_error": 0.01},
         "agents": [{"kind": "learner", "norm": "L6", "warmup": False, "count": 1}, {"kind": "disc", "norm": "L6", "count": 7}],
         "train": {"components": "joint", "model": "meanfield", "iterations": 10, "interactions": 10, "lr": 0.2}}
FRAGMENTS = ["[game]", "[[agents]]", "[train]", 'kind = "disc"', 'kind = "learner"', 'norm = "L6"', "count = 7", "count = 1e9",
             "count = 9223372036854775807", "count = 1000000000000000000000000000000", "benefit = 1e400", "lr = 1e400",
             "lr = inf", "lr = nan", "iterations = 1000000000000", "interactions = 99999999999", "cost = 1e307",
             "benefit = 99999999999999999999999999999999999999", 'name = "x"', "warmup = 3", 'model = "exact"', "count = 13"]


def toml_text(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.6:
            lines.append(rng.choice(FRAGMENTS))
        elif r < 0.8:
            key = rng.choice(["count", "benefit", "cost", "lr", "iterations", "interactions", "kind", "norm", "name"])
            v = number(rng) if rng.random() < 0.7 else text(rng)
            lines.append(f"{key} = {json.dumps(v) if not isinstance(v, float) or v == v and abs(v) != float('inf') else 'inf'}")
        elif r < 0.95:
            lines.append(text(rng, 40))
        else:
            depth = rng.choice([10, 1000, 100_000])
            lines.append("a = " + "[" * depth + "]" * depth)
    return "\n".join(lines)


def mutated(rng: random.Random, data):
    data = json.loads(json.dumps(data))
    for _ in range(rng.randint(1, 3)):
        target, key = data, None
        while isinstance(target, (dict, list)) and target and rng.random() < 0.7:
            key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
            if not isinstance(target[key], (dict, list)) or rng.random() < 0.4:
                break
            target = target[key]
        if isinstance(target, dict):
            target[key if key is not None and rng.random() < 0.8 else text(rng, 6)] = value(rng)
        elif isinstance(target, list) and target:
            target[rng.randrange(len(target))] = value(rng)
    return data


def pop_specs(rng: random.Random) -> list[str]:
    specs = []
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.3:
            specs.append(text(rng, 20))
        else:
            count = rng.choice(["²", "١٢", "3", "0", "-3", "+3", " 3", "1e3", "10000", "10001", str(2**63 - 1), text(rng, 4),
                                str(rng.randint(1, 50))])
            specs.append(f"{rng.choice(['disc', 'allc', 'learner', 'norm', 'alld', 'x'])}:"
                         f"{rng.choice(['stern-judging', 'L1', 'L8', 'shunning', 'nope'])}:{count}")
    return specs


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [a for a in p._actions if a.option_strings and "--help" not in a.option_strings] for name, p in sub.choices.items()}


COMMANDS = _commands()
FLAG_VALUES = ["0", "-1", "1", "10", "1e308", "inf", "nan", "-inf", "1e-400", "²", "١٢", "9" * 50, "1_000", " 7", "0x10", "1.5",
               "", "4G", "1K", "-2G", "abc", "10000000000000", "rg", "ppo", "exact", "meanfield", "ray", "local", "joint"]


def command_line(rng: random.Random) -> list[str]:
    name = rng.choice(sorted(COMMANDS))
    argv = [name] + (BASE[name] if rng.random() < 0.7 else [])
    for _ in range(rng.randint(0, 4)):
        action = rng.choice(COMMANDS[name])
        argv.append(rng.choice(action.option_strings))
        if action.nargs != 0:
            r = rng.random()
            if action.choices and r < 0.3:
                argv.append(str(rng.choice(list(action.choices))))
            elif r < 0.6:
                argv.append(rng.choice(FLAG_VALUES + regime_names()))
            elif r < 0.8:
                argv.append(repr(number(rng)))
            else:
                t = text(rng)
                argv.append(t if not t.startswith(("/", "~")) and ".." not in t and "\0" not in t else "x")
    return argv


HEADER = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "kind": "train", "regime": "degenerate-allc",
          "regime_hash": "0" * 64, "method": "rg", "seeds": [0, 1], "iterations": 10, "eval_every": 1}
DOCUMENT = {**HEADER, "recigrad": __version__, "iteration": 4,
            "driver": {"curve": [], "reached": [[None, None]] * 2, "reached_seconds": [[None, None]] * 2, "seconds": 1.0},
            "state": {"kind": "Learners"}, "tensors": "state-000004.npz", "tensors_sha256": "0" * 64}


# ---------------------------------------------------------------------------
# targets: each returns an outcome name, or raises


def config_target(rng, work):
    if rng.random() < 0.5:
        regime_from_text(toml_text(rng), "f.toml")
    else:
        regime_from_dict(mutated(rng, VALID) if rng.random() < 0.7 else value(rng), "f.toml")
    return "result"


def pop_target(rng, work):
    parse_pop(pop_specs(rng))
    return "result"


def cli_target(rng, work):
    argv = command_line(rng)
    stdout, stderr = io.StringIO(), io.StringIO()
    folder = Path(tempfile.mkdtemp(dir=work))
    previous = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(argv)
    except WorkStarted:
        return "reached the work"
    finally:
        os.chdir(previous)
    err = stderr.getvalue()
    if status != 0 and not (err.startswith("recigrad: error: ") and err.count("\n") == 1):
        raise AssertionError(f"exit {status} without one line: {argv!r} -> {err!r}")
    return f"exit {status}"


def checkpoint_target(rng, work):
    folder = Path(tempfile.mkdtemp(dir=work))
    if rng.random() < 0.4:
        (folder / checkpoint.META_FILE).write_bytes(rng.randbytes(rng.randint(0, 200)))
    else:
        try:
            text_ = json.dumps(mutated(rng, DOCUMENT))
        except ValueError:
            text_ = "{}"
        (folder / checkpoint.META_FILE).write_text(text_)
        (folder / "state-000004.npz").write_bytes(rng.randbytes(rng.randint(0, 64)))
    checkpoint.load(folder, HEADER)
    return "result"


TARGETS = {"config": config_target, "pop": pop_target, "cli": cli_target, "checkpoint": checkpoint_target}


def _alarm(signum, frame):
    raise Hang


def run(seconds: float, seed: int, hang: float) -> dict:
    rng = random.Random(seed)
    outcomes: Counter = Counter()
    others: Counter = Counter()
    examples: dict[str, str] = {}
    tried = multiline = hangs = 0
    signal.signal(signal.SIGALRM, _alarm)
    end = time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as root, contextlib.ExitStack() as stack:
        for target in STUBS:
            stack.enter_context(mock.patch(target, _stop))
        names = sorted(TARGETS)
        while time.monotonic() < end:
            name = names[tried % len(names)]
            work = Path(root) / name
            work.mkdir(exist_ok=True)
            tried += 1
            signal.setitimer(signal.ITIMER_REAL, hang)
            try:
                outcome = TARGETS[name](rng, work)
                outcomes[f"{name}: {outcome}"] += 1
            except ConfigError as err:
                outcomes[f"{name}: ConfigError"] += 1
                if "\n" in str(err) or "\r" in str(err):
                    multiline += 1
                    examples.setdefault("multi-line ConfigError", repr(str(err))[:300])
            except Hang:
                hangs += 1
                outcomes[f"{name}: hang"] += 1
            except BaseException as err:  # noqa: B036 - counting exactly these is the point
                if isinstance(err, KeyboardInterrupt) and not isinstance(err, Hang):
                    raise
                key = f"{name}: {type(err).__name__}"
                others[key] += 1
                outcomes[key] += 1
                examples.setdefault(key, "".join(traceback.format_exception_only(err)).strip()[:300])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if tried % 200 == 0:  # keep the temporary folder small
                for sub in work.iterdir():
                    if sub.is_dir():
                        import shutil

                        shutil.rmtree(sub, ignore_errors=True)
    return {"seconds": seconds, "seed": seed, "inputs": tried, "outcomes": dict(sorted(outcomes.items())),
            "other_exceptions": sum(others.values()), "multi_line_messages": multiline, "hangs": hangs, "examples": examples}


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang", type=float, default=10.0, help="seconds after which one input counts as a hang")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(args.seconds, args.seed, args.hang)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"{report['inputs']} inputs in {args.seconds:g} s (seed {args.seed})")
        for key, count in report["outcomes"].items():
            print(f"  {key}: {count}")
        print(f"exceptions other than ConfigError: {report['other_exceptions']}; multi-line messages: "
              f"{report['multi_line_messages']}; hangs: {report['hangs']}")
        for key, example in report["examples"].items():
            print(f"  e.g. {key}: {example}")
    return 1 if report["other_exceptions"] or report["multi_line_messages"] or report["hangs"] else 0


if __name__ == "__main__":
    sys.exit(cli())

"""Thread control (recigrad.util.threads): one_thread restores the count, and
RECIGRAD_THREADS is validated into one error line (docs/model.md §10)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from recigrad.cli import main
from recigrad.errors import ConfigError
from recigrad.util import threads

LIMIT = threads.max_threads()
BAD = ["abc", "0", "-1", "1.5", "+2", "2 3", "100000", str(LIMIT + 1)]


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_limit_is_four_per_cpu():
    assert LIMIT == 4 * (os.cpu_count() or 1)


@pytest.mark.parametrize(("text", "count"), [("1", 1), (" 2 ", 2), (str(LIMIT), LIMIT)])
def test_parse_accepts_whole_numbers_in_range(text, count):
    assert threads.parse(text) == count


@pytest.mark.parametrize("text", BAD)
def test_parse_refuses_with_one_line(text):
    expected = f"RECIGRAD_THREADS must be a whole number from 1 to {LIMIT}, got {text!r}"
    with pytest.raises(ConfigError) as caught:
        threads.parse(text)
    assert str(caught.value) == expected


@pytest.mark.parametrize(("environ", "count"), [({}, 1), ({"RECIGRAD_THREADS": ""}, 1), ({"RECIGRAD_THREADS": "3"}, 3)])
def test_from_environment(environ, count):
    assert threads.from_environment(environ) == count


def test_one_thread_restores_count_also_on_error(restore_threads):
    torch.set_num_threads(2)
    with threads.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), threads.one_thread():
        raise RuntimeError("inside")
    assert torch.get_num_threads() == 2


def test_one_thread_as_decorator(restore_threads):
    @threads.one_thread()
    def inside() -> int:
        return torch.get_num_threads()

    torch.set_num_threads(2)
    assert inside() == 1
    assert inside() == 1  # the decorator can be entered again
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("text", ["abc", "0", "-1", "1.5", "100000"])
def test_cli_refuses_bad_value_in_one_line(text, monkeypatch, capsys, restore_threads):
    monkeypatch.setenv("RECIGRAD_THREADS", text)
    code = main(["exact", "--pop", "disc:stern-judging:3", "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == f"recigrad: error: RECIGRAD_THREADS must be a whole number from 1 to {LIMIT}, got {text!r}\n"
    assert captured.out == ""
    assert torch.get_num_threads() == restore_threads


def test_cli_sets_threads_from_environment(monkeypatch, capsys, restore_threads):
    monkeypatch.setenv("RECIGRAD_THREADS", "2")
    assert main(["exact", "--pop", "disc:stern-judging:3", "--json"]) == 0
    assert torch.get_num_threads() == 2
    capsys.readouterr()


def test_cli_process_prints_no_traceback():
    env = {**os.environ, "RECIGRAD_THREADS": "abc", "RECIGRAD_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-m", "recigrad.cli", "exact", "--pop", "disc:stern-judging:3"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == f"recigrad: error: RECIGRAD_THREADS must be a whole number from 1 to {LIMIT}, got 'abc'\n"

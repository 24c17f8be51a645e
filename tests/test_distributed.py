"""The Ray backend of the suite gives the local backend's results (all but wall-clock seconds)."""

import csv
import json
import subprocess
import sys

import pytest

from helpers import without_seconds
from recigrad.running import distributed
from recigrad.running import suite as bench

ray = pytest.importorskip("ray")




def _csv(path):
    with open(path) as f:
        return [without_seconds(row) for row in csv.DictReader(f)]


def _metrics(folder):
    return [without_seconds(json.loads(x)) for x in (folder / "metrics.jsonl").read_text().splitlines()]


def test_seed_blocks():
    assert distributed.seed_blocks([3, 4, 5, 6, 7], 2) == [[3, 4], [5, 6], [7]]
    assert distributed.seed_blocks([3, 4], None) == [[3, 4]]


def test_local_backend_does_not_import_ray():
    code = "import sys, recigrad.running.suite, recigrad.cli, recigrad.running.train; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_ray_backend_equals_local(tmp_path):
    regimes, methods, seeds = ["degenerate-allc", "discriminative-sj"], ["rg", "reinforce"], [3, 4]
    local = bench.run_suite(regimes, methods, seeds, tmp_path / "local", iterations=6)
    remote = bench.run_suite(regimes, methods, seeds, tmp_path / "ray", iterations=6, backend="ray", num_cpus=2,
                             seed_block=1)
    assert without_seconds(remote["rows"]) == without_seconds(local["rows"])
    assert _csv(tmp_path / "ray" / "runs.csv") == _csv(tmp_path / "local" / "runs.csv")
    assert (tmp_path / "ray" / "summary.md").read_text() == (tmp_path / "local" / "summary.md").read_text()
    for name in regimes:
        for method in methods:
            a, b = tmp_path / "local" / "runs" / f"{name}-{method}", tmp_path / "ray" / "runs" / f"{name}-{method}"
            assert _metrics(a) == _metrics(b)
            for part in ("tables.json", "config.json"):
                assert json.loads((a / part).read_text()) == json.loads((b / part).read_text())
    assert not ray.is_initialized()

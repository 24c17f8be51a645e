"""The run folder of a training run (``recigrad train --out``, ``docs/model.md §10``): built under a
temporary name and renamed when complete.

- ``config.json``: the regime, the method, the seeds;
- ``metrics.jsonl``: one line per evaluation;
- ``tables.json``: every learner's final tables per seed;
- ``result.json``: the summary, as ``recigrad train --json`` prints it;
- ``curve.png``: payoff against interactions, with the reference line (``recigrad.running.plots``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from recigrad.running import checkpoint, outdir
from recigrad.running.plots import plot_curve

if TYPE_CHECKING:
    from recigrad.running.train import RunRecord


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n")


def write_run_folder(out: Path, regime, method, seeds, record: RunRecord) -> None:
    """Write the run folder atomically: built under a temporary name, then renamed."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        outdir.write_marker(tmp, "train")  # recognises the folder as ours (and a leftover temporary as ours)
        config = {"regime": checkpoint.regime_dict(regime), "method": method, "seeds": seeds}
        _write_json(tmp / "config.json", config)
        with open(tmp / "metrics.jsonl", "w") as f:
            for line in record.curve:
                f.write(json.dumps(line) + "\n")
        _write_json(tmp / "tables.json", record.tables)
        _write_json(tmp / "result.json", record.result)
        reference_payoff = record.result["reference"]["payoff"] if "reference" in record.result else None
        plot_curve(record.curve, reference_payoff, regime, method, tmp / "curve.png")
        outdir.replace(tmp, out)  # removes only a previous run folder of ours
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

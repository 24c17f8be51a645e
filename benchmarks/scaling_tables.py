"""Re-tabulate a finished scaling study (``recigrad bench --suite scaling``) from its runs.

Reads the report folder's ``bench.json`` and every ``runs/REGIME-METHOD/result.json`` (nothing is
trained again) and writes the study's files with the current code into a new folder ``OUT``:
``scaling.md``, ``scaling.csv``, ``scaling.png``, ``scaling-societies.png`` and ``scaling.json``
(the rows).  Used for ``docs/bench/scaling/`` (README), and to re-tabulate after a metric changes.

    python benchmarks/scaling_tables.py REPORT_FOLDER OUT
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from recigrad.game.regime import load_regime
from recigrad.game.scaling import scaled_regime
from recigrad.running import scaling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a finished report folder of bench --suite scaling")
    parser.add_argument("out", type=Path, help="a new folder for the tables and plots")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; give a new folder")
    bench = json.loads((args.folder / "bench.json").read_text())
    methods = bench["methods"]
    entries = []
    for row in bench["scaling"]:
        key = (row["regime"], row["n"])
        if any((base, n) == key for base, n, _ in entries):
            continue
        base = load_regime(row["regime"])
        base = replace(base, train=replace(base.train, iterations=row["iterations"]))
        entries.append((row["regime"], row["n"], scaled_regime(base, row["n"])))
    results = [json.loads((args.folder / "runs" / f"{regime.name}-{method}" / "result.json").read_text())
               for _, _, regime in entries for method in methods]
    summary = {"seconds": bench["seconds"], "methods": methods, "seeds": bench["seeds"]}
    work = Path(tempfile.mkdtemp(prefix=".scaling-", dir=args.out.parent))
    try:
        scaling.extend(entries, methods)(work, summary, results)
        (work / "scaling.json").write_text(json.dumps(summary, indent=1) + "\n")
        work.rename(args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out}: {', '.join(sorted(p.name for p in args.out.iterdir()))}")


if __name__ == "__main__":
    main()

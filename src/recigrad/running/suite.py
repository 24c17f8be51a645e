"""The benchmark suite (SPEC section 9): methods x regimes x seeds, side by side.

Each (regime, method) is one ``recigrad.running.train.run`` over all seeds at once.  The
report folder holds

- ``runs.csv``: every run (one row per regime, method and seed);
- ``summary.md``: mean and 95% interval over seeds per (regime, method), the
  collapse rate, interactions to 95% of the reference and the baselines'
  interaction ratio to the reciprocity gradient; the warm-up grid and the
  society regimes as tables of their own;
- ``curves-REGIME.png``: payoff against interactions per method, with the
  reference line; ``percent.png``: percent of reference per method and regime;
- ``bench.json``: the rows, as ``recigrad bench --json`` prints them;
- ``runs/``: the run folder of every (regime, method).

The folder is built in ``<out>.partial`` and renamed when complete; finished
(regime, method) runs stay there, so ``--resume`` after an interrupt skips them
and resumes the run in progress from its checkpoint.  ``backend="ray"`` runs the
jobs on a Ray cluster (``recigrad.running.distributed``).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
import time
from pathlib import Path

from recigrad import __version__
from recigrad.game.regime import load_regime, regime_names
from recigrad.running import checkpoint, outdir, train

QUICK_REGIMES = ("discriminative-sj", "hybrid-alld", "degenerate-allc", "society-L6")
METHOD_ORDER = ("rg", "reinforce", "ppo")
RUN_FIELDS = ("regime", "method", "seed", "payoff", "reference", "percent_of_reference", "adherence",
              "action_sensitivity", "signal_sensitivity", "collapsed", "interactions_to_95", "interactions_to_99",
              "mean_payoff", "cooperation", "nashconv", "interactions", "seconds")
# t quantiles (0.975) for 95% intervals over n seeds, n - 1 degrees of freedom
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         15: 2.131, 20: 2.086, 30: 2.042}


def suite_regimes() -> list[str]:
    """Every shipped regime, single-learner ones first, then the warm-up grid and the societies."""
    names = regime_names()
    key = lambda n: (n.startswith("warmup"), n.startswith("society"), n)  # noqa: E731
    return sorted(names, key=key)


def _t975(n: int) -> float:
    if n < 2:
        return math.nan
    df = n - 1
    return _T975.get(df) or _T975[min((d for d in _T975 if d >= df), default=30)]


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    return mean, _t975(len(values)) * statistics.stdev(values) / math.sqrt(len(values))


def median_reached(values: list) -> float | None:
    """Median over seeds of the interactions to a threshold, ``None`` (never) counted as infinite;
    ``None`` when the median itself was not reached."""
    ordered = sorted(math.inf if v is None else v for v in values)
    med = statistics.median(ordered)
    return None if math.isinf(med) else med


def _row(result: dict, seeds: list[int]) -> dict:
    runs = result["runs"]
    mean = lambda key: interval([r.get(key) for r in runs])[0]  # noqa: E731
    row = {"regime": result["regime"], "method": result["method"], "seeds": len(seeds), "seconds": result["seconds"]}
    if "reference" in result:
        row.update(
            payoff_mean=mean("payoff"),
            reference=result["reference"]["payoff"],
            percent_of_reference_mean=mean("percent_of_reference"),
            adherence_mean=mean("adherence"),
            collapse_rate=sum(bool(r["collapsed"]) for r in runs) / len(runs),
            interactions_to_95=median_reached([r["interactions_to_95"] for r in runs]),
            interactions_to_99=median_reached([r["interactions_to_99"] for r in runs]),
            seconds_to_95=median_reached([r["seconds_to_95"] for r in runs]),
        )
    else:
        row.update(
            payoff_mean=mean("mean_payoff"),
            percent_of_reference_mean=None,
            adherence_mean=None,
            collapse_rate=None,
            interactions_to_95=None,
            seconds_to_95=None,
            cooperation_mean=mean("cooperation"),
            nashconv_mean=mean("nashconv"),
        )
    row["interactions"] = runs[0]["interactions"]
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def run_suite(regimes: list[str], methods: list[str], seeds: list[int], out: str | Path,
              iterations: int | None = None, resume: bool = False, checkpoint_every: int | None = None,
              backend: str = "local", address: str | None = None, num_cpus: int | None = None,
              seed_block: int | None = None) -> dict:
    """Train every method on every regime; write the report folder; return ``{"rows": [...]}``.
    ``iterations`` overrides the regimes' own (for smoke runs).

    The report is built in ``<out>.partial``; every finished (regime, method) run folder
    stays there, so ``resume`` skips finished runs and resumes the one in progress from its
    checkpoint.  ``backend="ray"`` trains the (regime, method, block of ``seed_block`` seeds)
    jobs as Ray tasks (``recigrad.running.distributed``; ``address`` of a cluster, else a local Ray
    of ``num_cpus``); the results are the same as the local backend's."""
    out = Path(out).resolve()
    work = checkpoint.partial_dir(out)
    loaded = {name: load_regime(name) for name in regimes}
    header = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "kind": "bench", "regimes": list(regimes),
              "methods": list(methods), "seeds": [int(s) for s in seeds], "iterations": iterations,
              "regime_hashes": [checkpoint.regime_hash(loaded[name]) for name in regimes]}
    _open_work(work, header, resume)
    clock = time.perf_counter()
    folder = lambda name, method: work / "runs" / f"{name}-{method}"  # noqa: E731
    pending = [(name, method) for name in regimes for method in methods
               if not (folder(name, method) / "result.json").exists()]
    if backend == "ray":
        from recigrad.running import distributed

        distributed.run_jobs({job: loaded[job[0]] for job in pending}, seeds, iterations, work / "runs",
                             address=address, num_cpus=num_cpus, seed_block=seed_block)
    elif backend == "local":
        every = train.CHECKPOINT_EVERY if checkpoint_every is None else checkpoint_every
        for name, method in pending:
            train.run(loaded[name], seeds, method=method, iterations=iterations, out=folder(name, method),
                      resume=resume, checkpoint_every=every)
    else:
        raise ValueError(f"unknown backend {backend!r}; allowed: local, ray")
    results, rows = [], []
    for name in regimes:
        for method in methods:
            result = json.loads((folder(name, method) / "result.json").read_text())
            results.append(result)
            rows.append(_row(result, seeds))
    summary = {"rows": rows, "seeds": seeds, "methods": methods, "regimes": regimes,
               "seconds": time.perf_counter() - clock}
    _write_runs_csv(work / "runs.csv", results)
    (work / "bench.json").write_text(json.dumps(summary, indent=1) + "\n")
    (work / "summary.md").write_text(markdown_summary(results, rows))
    _plot_curves(work, regimes, methods)
    _plot_percent(work / "percent.png", rows)
    (work / checkpoint.SUITE_FILE).unlink()
    outdir.write_marker(work, "bench")
    outdir.replace(work, out)  # removes only a previous report folder of ours
    return summary


def _open_work(work: Path, header: dict, resume: bool) -> None:
    """Prepare the work folder: kept (resume, same suite), else started afresh; refuse a folder not
    ours or written for another suite."""
    manifest = work / checkpoint.SUITE_FILE
    if resume and manifest.exists():
        document = checkpoint.read_header(manifest, "bench")
        wrong = checkpoint.mismatch(document, header)
        if wrong:
            raise checkpoint.CheckpointError(f"cannot resume: report in progress {work} is for {wrong}")
        for leftover in (work / "runs").glob(".*"):  # a run folder being written when the suite stopped
            shutil.rmtree(leftover, ignore_errors=True)
        return
    if resume and work.exists() and not checkpoint.is_ours(work):
        raise checkpoint.CheckpointError(f"cannot resume: {work} is not a recigrad report in progress")
    if not resume:
        outdir.refuse_checkpoint(work)  # never discard a report in progress silently
    checkpoint.clear(work)
    (work / "runs").mkdir(parents=True)
    checkpoint.write_json_atomic(manifest, {**header, "recigrad": __version__})


def _write_runs_csv(path: Path, results: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RUN_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for result in results:
            for run in result["runs"]:
                writer.writerow({"regime": result["regime"], "method": result["method"], **run})


def _fmt(mean: float, half: float, digits: int = 3) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    if half is None or math.isnan(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def _int(v) -> str:
    return "not reached" if v is None else f"{int(v):,}"


def _ratio(row: dict, rg: dict | None, key: str) -> str:
    """A method's interactions to a threshold over the reciprocity gradient's (median over seeds);
    a lower bound from the budget where the method's median never got there."""
    if row["method"] == "rg" or not rg or not rg.get(key):
        return "-"
    if row.get(key):
        return f"{row[key] / rg[key]:.1f}x"
    return f"> {row['interactions'] / rg[key]:.1f}x"


def markdown_summary(results: list[dict], rows: list[dict]) -> str:
    """Markdown tables: single-learner regimes, the warm-up grid, the societies."""
    by_key = {(r["regime"], r["method"]): r for r in results}
    lines = ["# recigrad benchmark", "",
             "Mean ± 95% interval over seeds; payoffs per round from the exact chain with everyone's true tables.", ""]
    single = [r for r in rows if r["percent_of_reference_mean"] is not None and not r["regime"].startswith("warmup")]
    if single:
        lines += ["## Single learner against fixed opponents", "",
                  "| regime | method | payoff | reference | % of reference | adherence | collapse rate "
                  "| interactions to 95% | ratio to rg | interactions to 99% | ratio to rg |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in single:
            runs = by_key[(r["regime"], r["method"])]["runs"]
            rg = next((x for x in rows if x["regime"] == r["regime"] and x["method"] == "rg"), None)
            ratio = {key: _ratio(r, rg, key) for key in ("interactions_to_95", "interactions_to_99")}
            lines.append(
                f"| {r['regime']} | {r['method']} | {_fmt(*interval([x['payoff'] for x in runs]))} | {r['reference']:.4f} | "
                f"{_fmt(*interval([x['percent_of_reference'] for x in runs]), digits=2)} | "
                f"{_fmt(*interval([x['adherence'] for x in runs]))} | {r['collapse_rate']:.2f} | "
                f"{_int(r['interactions_to_95'])} | {ratio['interactions_to_95']} | "
                f"{_int(r['interactions_to_99'])} | {ratio['interactions_to_99']} |"
            )
        lines.append("")
    warm = [r for r in rows if r["regime"].startswith("warmup")]
    if warm:
        lines += ["## Warm-up grid (learner warmed up at W among discriminators of norm O)", "",
                  "| warm-up W | opponents O | components | method | % of reference | adherence |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for r in warm:
            _, w, _, o, comp = r["regime"].split("-")
            runs = by_key[(r["regime"], r["method"])]["runs"]
            cell = "diagonal" if w == o else "off-diagonal"
            lines.append(f"| {w} | {o} ({cell}) | {comp} | {r['method']} | "
                         f"{_fmt(*interval([x['percent_of_reference'] for x in runs]), digits=2)} | "
                         f"{_fmt(*interval([x['adherence'] for x in runs]))} |")
        lines.append("")
    society = [r for r in rows if r["percent_of_reference_mean"] is None]
    if society:
        lines += ["## Societies (all agents learn)", "",
                  "| regime | method | mean payoff (b - c = 4) | cooperation | NashConv |", "| --- | --- | --- | --- | --- |"]
        for r in society:
            runs = by_key[(r["regime"], r["method"])]["runs"]
            lines.append(f"| {r['regime']} | {r['method']} | {_fmt(*interval([x['mean_payoff'] for x in runs]))} | "
                         f"{_fmt(*interval([x['cooperation'] for x in runs]))} | {_fmt(*interval([x['nashconv'] for x in runs]))} |")
        lines.append("")
    return "\n".join(lines)


def _curve(folder: Path) -> list[dict]:
    with open(folder / "metrics.jsonl") as f:
        return [json.loads(line) for line in f]


def _plot_curves(tmp: Path, regimes: list[str], methods: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in regimes:
        society = "payoff" not in _curve(tmp / "runs" / f"{name}-{methods[0]}")[0]
        if society:
            fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.0))
        else:
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
        reference = None
        for k, method in enumerate(methods):
            folder = tmp / "runs" / f"{name}-{method}"
            curve = _curve(folder)
            key = "payoff" if "payoff" in curve[0] else "mean_payoff"
            x = [line["interactions"] for line in curve]
            per_seed = [line[key] for line in curve]
            mean = [statistics.fmean(v) for v in per_seed]
            ax.plot(x, mean, color=f"C{k}", label=method)
            ax.fill_between(x, [min(v) for v in per_seed], [max(v) for v in per_seed], color=f"C{k}", alpha=0.2)
            if society:
                points = [(line["interactions"], statistics.fmean(line["nashconv"])) for line in curve if "nashconv" in line]
                ax2.plot(*zip(*points), marker="o", color=f"C{k}", label=method)
            result = json.loads((folder / "result.json").read_text())
            reference = result.get("reference", {}).get("payoff", reference)
            benefit_minus_cost = result.get("benefit_minus_cost")
        if reference is not None:
            ax.axhline(reference, color="k", ls="--", lw=1, label=f"reference {reference:.3f}")
        elif benefit_minus_cost is not None:
            ax.axhline(benefit_minus_cost, color="k", ls="--", lw=1, label="b - c")
        ax.set_xscale("log")
        ax.set_xlabel("interactions per population")
        ax.set_ylabel("payoff per round (exact; mean and range over seeds)")
        ax.set_title(name)
        ax.legend(loc="lower right")
        if society:
            ax.set_ylabel("mean learner payoff per round (exact)")
            ax2.set_xscale("log")
            ax2.set_xlabel("interactions per population")
            ax2.set_ylabel("NashConv (mean over seeds)")
            ax2.set_title(f"{name}: NashConv over training")
            ax2.legend()
        fig.tight_layout()
        fig.savefig(tmp / f"curves-{name}.png", dpi=110)
        plt.close(fig)


def _plot_percent(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["percent_of_reference_mean"] is not None]
    if not rows:
        return
    regimes = list(dict.fromkeys(r["regime"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(regimes) + 2), 4.2))
    for k, method in enumerate(methods):
        values = [next((r["percent_of_reference_mean"] for r in rows if r["regime"] == g and r["method"] == method), 0.0)
                  for g in regimes]
        ax.bar([i + (k - (len(methods) - 1) / 2) * width for i in range(len(regimes))], values, width, label=method,
               color=f"C{k}")
    ax.axhline(100, color="k", lw=1, ls="--")
    ax.set_xticks(range(len(regimes)), regimes, rotation=30, ha="right")
    ax.set_ylabel("% of reference (mean over seeds)")
    ax.set_ylim(min(0, min(r["percent_of_reference_mean"] for r in rows)) - 5, 105)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_table(summary: dict) -> str:
    from recigrad.util.text import table

    header = ["regime", "method", "payoff", "% of ref", "adherence", "collapse", "int. to 95%", "s to 95%", "int. to 99%",
              "seconds"]
    count = lambda v: None if v is None else int(v)  # noqa: E731
    rows = [[r["regime"], r["method"], r["payoff_mean"], r["percent_of_reference_mean"], r["adherence_mean"],
             r["collapse_rate"], count(r["interactions_to_95"]), r.get("seconds_to_95"), count(r.get("interactions_to_99")),
             r["seconds"]]
            for r in summary["rows"]]
    return table(header, rows, digits=3)

"""The suite's report (``docs/model.md §10``): ``runs.csv`` (one row per regime, method and seed),
``summary.md`` (Markdown tables), ``bench.json`` (the rows), the plots (``curves-REGIME.png``,
``percent.png``, drawn by ``recigrad.running.plots``) and the summary table printed by ``recigrad bench``."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from recigrad.running import plots, stats
from recigrad.running.stats import interval
from recigrad.util.text import table

RUN_FIELDS = ("regime", "method", "seed", "payoff", "reference", "percent_of_reference", "adherence",
              "action_sensitivity", "signal_sensitivity", "collapsed", "interactions_to_95", "interactions_to_99",
              "mean_payoff", "cooperation", "nashconv", "interactions", "seconds", "share_of_gain", "table_distance",
              "action_collapsed", "signal_collapsed")


def write(work: Path, summary: dict, results: list[dict]) -> None:
    """Write the report files of ``summary`` (``run_suite``'s) and the runs' ``results`` into ``work``,
    whose ``runs/REGIME-METHOD`` run folders hold the curves."""
    write_runs_csv(work / "runs.csv", results)
    (work / "bench.json").write_text(json.dumps(summary, indent=1) + "\n")
    (work / "summary.md").write_text(markdown_summary(results, summary["rows"]) + _skipped_lines(summary))
    plot_curves(work, summary["regimes"], summary["methods"])
    plots.percent_bars(work / "percent.png", summary["rows"])


def _skipped_lines(summary: dict) -> str:
    """The (regime, method) pairs the suite skipped, with why (``summary["skipped"]``)."""
    skipped = summary.get("skipped") or []
    if not skipped:
        return ""
    lines = ["", "## Skipped", ""] + [f"- {name} / {method}: {why}" for name, method, why in skipped]
    return "\n".join(lines) + "\n"


def write_runs_csv(path: Path, results: list[dict]) -> None:
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
    """``stats.ratio_to_rg`` as text: ``3.2x``, ``> 3.2x`` (a lower bound) or ``-``."""
    ratio = stats.ratio_to_rg(row, rg, key)
    if ratio is None:
        return "-"
    value, lower_bound = ratio
    return f"> {value:.1f}x" if lower_bound else f"{value:.1f}x"


def _collapse(row: dict, head: str) -> str:
    """A head's collapse rate, or ``n/m`` where collapse of that head cannot be measured in the regime."""
    rate, measurable = row.get(f"{head}_collapse_rate"), row.get(f"{head}_collapse_measurable")
    if rate is None:
        return "-"
    return "n/m" if measurable is False else f"{rate:.2f}"


def _measurable_lines(rows: list[dict]) -> list[str]:
    """Per regime and head, whether collapse is measurable (``docs/model.md §8``)."""
    seen: dict[str, dict] = {}
    for r in rows:
        seen.setdefault(r["regime"], r)
    lines = ["### Is collapse measurable?", "", "| regime | action head | signal head |", "| --- | --- | --- |"]
    word = {True: "yes", False: "no (reference constant over its strict contexts, or none is strict)", None: "-"}
    for name, r in seen.items():
        lines.append(f"| {name} | {word[r.get('action_collapse_measurable')]} | {word[r.get('signal_collapse_measurable')]} |")
    return lines + [""]


def markdown_summary(results: list[dict], rows: list[dict]) -> str:
    """Markdown tables: single-learner regimes, the warm-up grid, the societies."""
    by_key = {(r["regime"], r["method"]): r for r in results}
    lines = ["# recigrad benchmark", "",
             "Mean ± 95% interval over seeds; payoffs per round from the exact chain with everyone's true tables.", ""]
    private = sorted({r["regime"] for r in results if r.get("assessment") == "private"})
    if private:
        lines += [f"Under private assessment ({', '.join(private)}): payoffs in the exact chain of private views "
                  "(N <= 4; the private mean field with pairs above), the reference the best of a few candidates "
                  "scored there (a lower bound: a learner may exceed 100%); adherence, collapse, share of gain and "
                  "NashConv are not defined there (`-`); only rg trains there.", ""]
    single = [r for r in rows if r["percent_of_reference_mean"] is not None and not r["regime"].startswith("warmup")]
    if single:
        lines += ["## Single learner against fixed opponents", "",
                  "Share of gain: (payoff - start) / (reference - start), the start being the learner's warm-up tables "
                  "or, from a random start, the mean payoff of random tables. Collapse rates per head; `n/m`: not "
                  "measurable in this regime (the reference head is constant over its strict contexts, so a collapsed "
                  "head cannot be told apart from the optimum).", "",
                  "| regime | method | seeds | payoff | reference | % of reference | share of gain | adherence "
                  "| action collapse | signal collapse | interactions to 95% | ratio to rg | interactions to 99% | ratio to rg |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in single:
            runs = by_key[(r["regime"], r["method"])]["runs"]
            rg = next((x for x in rows if x["regime"] == r["regime"] and x["method"] == "rg"), None)
            ratio = {key: _ratio(r, rg, key) for key in ("interactions_to_95", "interactions_to_99")}
            lines.append(
                f"| {r['regime']} | {r['method']} | {r['seeds']} | {_fmt(*interval([x['payoff'] for x in runs]))} | "
                f"{r['reference']:.4f} | {_fmt(*interval([x['percent_of_reference'] for x in runs]), digits=2)} | "
                f"{_fmt(*interval([x.get('share_of_gain') for x in runs]))} | "
                f"{_fmt(*interval([x['adherence'] for x in runs]))} | {_collapse(r, 'action')} | {_collapse(r, 'signal')} | "
                f"{_int(r['interactions_to_95'])} | {ratio['interactions_to_95']} | "
                f"{_int(r['interactions_to_99'])} | {ratio['interactions_to_99']} |"
            )
        lines.append("")
        lines += _measurable_lines(single)
    warm = [r for r in rows if r["regime"].startswith("warmup")]
    if warm:
        lines += ["## Warm-up grid (learner warmed up at W among discriminators of norm O)", "",
                  "Payoffs per round (per interaction: divide by N).", "",
                  "| warm-up W | opponents O | components | method | payoff | reference | % of reference | adherence |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in warm:
            _, w, _, o, comp = r["regime"].split("-")
            runs = by_key[(r["regime"], r["method"])]["runs"]
            cell = "diagonal" if w == o else "off-diagonal"
            lines.append(f"| {w} | {o} ({cell}) | {comp} | {r['method']} | "
                         f"{_fmt(*interval([x['payoff'] for x in runs]), digits=4)} | {r['reference']:.4f} | "
                         f"{_fmt(*interval([x['percent_of_reference'] for x in runs]), digits=2)} | "
                         f"{_fmt(*interval([x['adherence'] for x in runs]))} |")
        lines.append("")
    society = [r for r in rows if r["percent_of_reference_mean"] is None]
    if society:
        lines += ["## Societies (all agents learn)", "",
                  "| regime | method | mean payoff | b - c | cooperation | NashConv |", "| --- | --- | --- | --- | --- | --- |"]
        for r in society:
            runs = by_key[(r["regime"], r["method"])]["runs"]
            best = by_key[(r["regime"], r["method"])]["benefit_minus_cost"]
            lines.append(f"| {r['regime']} | {r['method']} | {_fmt(*interval([x['mean_payoff'] for x in runs]))} | {best:g} | "
                         f"{_fmt(*interval([x['cooperation'] for x in runs]))} | {_fmt(*interval([x['nashconv'] for x in runs]))} |")
        lines.append("")
    return "\n".join(lines)


def _curve(folder: Path) -> list[dict]:
    with open(folder / "metrics.jsonl") as f:
        return [json.loads(line) for line in f]


def plot_curves(work: Path, regimes: list[str], methods: list[str]) -> None:
    """``curves-REGIME.png`` per regime: every method's learning curve (``plots.learning_curves``); a method
    that did not run on a regime (the quick suite's ``QUICK_ONLY``, a deadline) is left out of its plot."""
    every = methods
    for name in regimes:
        methods = [m for m in every if (work / "runs" / f"{name}-{m}" / "result.json").is_file()]
        if not methods:
            continue
        curves = {method: _curve(work / "runs" / f"{name}-{method}") for method in methods}
        results = [json.loads((work / "runs" / f"{name}-{method}" / "result.json").read_text()) for method in methods]
        reference = next((r["reference"]["payoff"] for r in reversed(results) if "reference" in r), None)
        plots.learning_curves(curves, work / f"curves-{name}.png", name, reference, results[-1].get("benefit_minus_cost"))


def _collapse_cell(row: dict, head: str):
    """The printed table's collapse cell: the rate, ``n/m`` where not measurable, ``None`` for societies."""
    text = _collapse(row, head)
    return None if text == "-" else (text if text == "n/m" else row[f"{head}_collapse_rate"])


def summary_table(summary: dict) -> str:
    """A readable table of a suite's summary, one row per (regime, method)."""
    header = ["regime", "method", "payoff", "% of ref", "share", "adherence", "act coll", "sig coll", "int. to 95%",
              "s to 95%", "int. to 99%", "seconds"]
    count = lambda v: None if v is None else int(v)  # noqa: E731
    rows = [[r["regime"], r["method"], r["payoff_mean"], r["percent_of_reference_mean"], r.get("share_of_gain_mean"),
             r["adherence_mean"], _collapse_cell(r, "action"), _collapse_cell(r, "signal"), count(r["interactions_to_95"]),
             r.get("seconds_to_95"), count(r.get("interactions_to_99")), r["seconds"]]
            for r in summary["rows"]]
    return table(header, rows, digits=3)

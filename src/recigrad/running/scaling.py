"""The scaling study (``recigrad bench --suite scaling``, docs/model.md §9): the suite across N.

One learner among ``N - 1`` fixed agents, ``N`` in ``NS``, in each base regime of ``REGIMES``
(populations from ``recigrad.game.scaling.scaled_regime``: the base's norms, one learner, the
fixed groups in the base's proportions), and the societies of ``SOCIETIES`` (every agent
learns) at ``SOCIETY_NS``, with NashConv.  Budgets are per learner decision: the same
iterations and ``DECISIONS`` learner decisions per iteration at every ``N`` (``N/2`` times as
many interactions), and the baselines' update batch scales with ``N`` (same decisions per
update).  Every (regime, N, method) is one ``recigrad.running.suite`` run, so the folder
holds the suite's report (``summary.md``, ``runs.csv``, ``bench.json``, ``runs/``) and

- ``scaling.md`` / ``scaling.csv``: one row per (base regime, N, method): payoff, reference,
  percent of reference, share of the achievable gain (from the start tables) and share of the
  reference's gain over the norm's own tables, adherence, collapse rate (single learner) and the
  percent of reference of the learner's norm itself; mean payoff,
  cooperation and NashConv (societies); ``bench.json`` holds the same rows under ``scaling``;
- ``scaling.png``: share of gain, share over the norm, adherence and percent of reference against
  ``N``, a row of panels per base regime, one line per method (mean and 95% interval over seeds);
  ``scaling-societies.png``: NashConv and mean payoff against ``N``.

``QUICK`` is a cheap variant (small ``N``, few iterations) for tests and smoke runs.
"""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import torch

from recigrad.evaluation import evaluate
from recigrad.evaluation.metrics import percent_of_reference
from recigrad.game.regime import Regime, load_regime
from recigrad.game.scaling import DECISIONS, decisions, scaled_regime
from recigrad.running import suite
from recigrad.running.stats import interval

NS = (8, 16, 32, 64, 128)
SOCIETY_NS = (8, 32)
REGIMES = ("discriminative-sj", "hybrid-alld")
SOCIETIES = ("society-L6",)
QUICK = {"ns": (4, 6), "society_ns": (4,), "iterations": 6}  # the cheap variant: seconds, not minutes
CSV_FIELDS = ("regime", "n", "method", "seeds", "iterations", "interactions", "learner_decisions", "payoff_mean",
              "reference", "percent_of_reference_mean", "percent_of_reference_half", "share_of_gain_mean",
              "share_of_gain_half", "share_over_norm_mean", "share_over_norm_half", "adherence_mean", "adherence_half",
              "collapse_rate", "norm_percent_of_reference", "mean_payoff_mean", "cooperation_mean", "nashconv_mean",
              "nashconv_half", "seconds")


def study(bases: list[str], ns=NS, society_ns=SOCIETY_NS, iterations: int | None = None) -> list[tuple[str, int, Regime]]:
    """``(base, N, regime)`` of the study: each single-learner base at ``ns``, each society at
    ``society_ns`` (``iterations`` overrides the study's ``scaling.ITERATIONS``)."""
    out = []
    for name in bases:
        base = load_regime(name)
        for n in (ns if len(base.population.learners) == 1 else society_ns):
            regime = scaled_regime(base, n)
            if iterations is not None:
                regime = replace(regime, train=replace(regime.train, iterations=iterations))
            out.append((name, n, regime))
    return out


def share_of_gain(run: dict) -> float | None:
    """PRIVATE STAND-IN, to be replaced at merge by ``recigrad.evaluation.metrics``'s shared
    ``share_of_gain`` (issue 10 item 4; ``train --json`` field ``share_of_gain``).

    ``(payoff - start) / (reference - start)``, ``start`` the learner's payoff with its start
    tables (``payoff - payoff_change`` of the run's summary, same model); ``None`` where the
    start is already within ``1e-12`` of the reference."""
    start = run["payoff"] - run["payoff_change"]
    gap = run["reference"] - start
    return None if abs(gap) < 1e-12 else (run["payoff"] - start) / gap


def norm_payoff(regime: Regime) -> float:
    """The learner's payoff when it plays its norm's own tables (its warm-up tables), from ``evaluate``
    (exact chain when ``N <= 12``, mean field above, as the reference)."""
    learner = regime.population.learners[0]
    solution, _ = evaluate(*regime.population.batched_tables(1), regime.game)
    return float(solution.payoff[0, learner])


def norm_percent(regime: Regime, reference: float) -> float:
    """Percent of ``reference`` (the run's reference payoff) of the learner playing its norm's own tables."""
    payoff = torch.tensor([norm_payoff(regime)], dtype=torch.float64)
    return float(percent_of_reference(payoff, torch.full_like(payoff, reference), regime.game)[0])


def share_over_norm(run: dict, norm: float) -> float | None:
    """``(payoff - norm) / (reference - norm)``: the share of what the reference gains over the norm's own
    tables (``norm_payoff``) that the learner gained; negative below the norm, ``None`` where the norm is
    within ``1e-12`` of the reference."""
    gap = run["reference"] - norm
    return None if abs(gap) < 1e-12 else (run["payoff"] - norm) / gap


def _mean_half(values: list) -> tuple[float | None, float | None]:
    mean, half = interval([v for v in values if v is not None])
    clean = lambda x: None if isinstance(x, float) and math.isnan(x) else x  # noqa: E731
    return clean(mean), clean(half)


def scaling_rows(entries: list[tuple[str, int, Regime]], methods: list[str], results: list[dict]) -> list[dict]:
    """One row per (base, N, method), from the suite's ``results`` (``train.run`` summaries)."""
    by_key = {(r["regime"], r["method"]): r for r in results}
    rows = []
    for base, n, regime in entries:
        single = len(regime.population.learners) == 1
        for method in methods:
            result = by_key[(regime.name, method)]
            norm = norm_payoff(regime) if single else None
            runs = result["runs"]
            interactions = runs[0]["interactions"]
            row = {"regime": base, "n": n, "method": method, "seeds": len(runs), "iterations": regime.train.iterations,
                   "interactions": interactions, "learner_decisions": decisions(interactions, n),
                   "seconds": result["seconds"]}
            if single:
                payoff, _ = _mean_half([r["payoff"] for r in runs])
                percent, percent_half = _mean_half([r["percent_of_reference"] for r in runs])
                share, share_half = _mean_half([share_of_gain(r) for r in runs])
                over, over_half = _mean_half([share_over_norm(r, norm) for r in runs])
                adherence, adherence_half = _mean_half([r["adherence"] for r in runs])
                row.update(payoff_mean=payoff, reference=result["reference"]["payoff"], percent_of_reference_mean=percent,
                           percent_of_reference_half=percent_half, share_of_gain_mean=share, share_of_gain_half=share_half,
                           share_over_norm_mean=over, share_over_norm_half=over_half,
                           adherence_mean=adherence, adherence_half=adherence_half,
                           collapse_rate=sum(bool(r["collapsed"]) for r in runs) / len(runs),
                           norm_percent_of_reference=norm_percent(regime, result["reference"]["payoff"]))
            else:
                nashconv, nashconv_half = _mean_half([r["nashconv"] for r in runs])
                row.update(mean_payoff_mean=_mean_half([r["mean_payoff"] for r in runs])[0],
                           cooperation_mean=_mean_half([r["cooperation"] for r in runs])[0],
                           nashconv_mean=nashconv, nashconv_half=nashconv_half)
            rows.append(row)
    return rows


def _fmt(mean, half=None, digits: int = 3) -> str:
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" if half is None else f"{mean:.{digits}f} ± {half:.{digits}f}"


def markdown(rows: list[dict], seconds: float) -> str:
    """``scaling.md``: the single-learner table and the societies' table."""
    lines = ["# recigrad scaling study", "",
             f"Budgets per learner decision: {DECISIONS} decisions of the learner per iteration in expectation "
             "(N/2 times as many interactions); the baselines' update batch scales with N. Mean ± 95% interval "
             f"over seeds. Exact chain when N <= 12, mean field above. {seconds:.0f} s in all.", ""]
    single = [r for r in rows if "share_of_gain_mean" in r]
    if single:
        lines += ["## One learner among N - 1 fixed agents", "",
                  "| regime | N | method | interactions | learner decisions | payoff | reference | % of reference "
                  "| norm's % of reference | share of gain | share over the norm | adherence | collapse rate |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in single:
            lines.append(f"| {r['regime']} | {r['n']} | {r['method']} | {r['interactions']:,} | {r['learner_decisions']:,.0f} | "
                         f"{_fmt(r['payoff_mean'])} | {r['reference']:.4f} | "
                         f"{_fmt(r['percent_of_reference_mean'], r['percent_of_reference_half'], 2)} | "
                         f"{_fmt(r['norm_percent_of_reference'], digits=2)} | "
                         f"{_fmt(r['share_of_gain_mean'], r['share_of_gain_half'])} | "
                         f"{_fmt(r['share_over_norm_mean'], r['share_over_norm_half'])} | "
                         f"{_fmt(r['adherence_mean'], r['adherence_half'])} | {r['collapse_rate']:.2f} |")
        lines.append("")
    society = [r for r in rows if "nashconv_mean" in r]
    if society:
        lines += ["## Societies (every agent learns), NashConv in the mean-field model", "",
                  "| regime | N | method | interactions | learner decisions | mean payoff | cooperation | NashConv |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in society:
            lines.append(f"| {r['regime']} | {r['n']} | {r['method']} | {r['interactions']:,} | {r['learner_decisions']:,.0f} | "
                         f"{_fmt(r['mean_payoff_mean'])} | {_fmt(r['cooperation_mean'])} | "
                         f"{_fmt(r['nashconv_mean'], r['nashconv_half'], 4)} |")
        lines.append("")
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def plot(path: Path, rows: list[dict], panels: tuple[tuple[str, str], ...]) -> None:
    """One column per panel ``(key, label)``, one row of panels per base regime; a line per method
    (mean over seeds, 95% interval as error bars where the row has one), log-2 ``N`` axis."""
    from recigrad.running.plots import _pyplot

    plt = _pyplot()
    bases = list(dict.fromkeys(r["regime"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(len(bases), len(panels), figsize=(4.2 * len(panels), 3.4 * len(bases)), squeeze=False)
    for i, base in enumerate(bases):
        for j, (key, label) in enumerate(panels):
            ax = axes[i][j]
            for k, method in enumerate(methods):
                line = sorted((r for r in rows if r["regime"] == base and r["method"] == method), key=lambda r: r["n"])
                points = [(r["n"], r[f"{key}_mean"], r.get(f"{key}_half") or 0.0) for r in line if r[f"{key}_mean"] is not None]
                if points:
                    xs, ys, hs = zip(*points)
                    ax.errorbar(xs, ys, yerr=hs, marker="o", capsize=3, color=f"C{k}", label=method)
            ax.set_xscale("log", base=2)
            sizes = sorted({r["n"] for r in rows})
            ax.set_xticks(sizes, [str(n) for n in sizes])
            ax.minorticks_off()
            ax.set_xlabel("N (agents)")
            ax.set_ylabel(label)
            ax.set_title(f"{base}: {label}")
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def extend(entries: list[tuple[str, int, Regime]], methods: list[str]):
    """The suite's ``extend`` hook: the scaling rows into the summary and their files into the folder."""

    def write(work: Path, summary: dict, results: list[dict]) -> None:
        rows = scaling_rows(entries, methods, results)
        summary["scaling"] = rows
        summary["decisions_per_iteration"] = DECISIONS
        write_csv(work / "scaling.csv", rows)
        (work / "scaling.md").write_text(markdown(rows, summary["seconds"]))
        single = [r for r in rows if "share_of_gain_mean" in r]
        if single:
            plot(work / "scaling.png", single, (("share_of_gain", "share of gain"), ("share_over_norm", "share over the norm"),
                                                ("adherence", "adherence"), ("percent_of_reference", "% of reference")))
        society = [r for r in rows if "nashconv_mean" in r]
        if society:
            plot(work / "scaling-societies.png", society, (("nashconv", "NashConv"), ("mean_payoff", "mean payoff")))

    return write


def run_scaling(bases: list[str], methods: list[str], seeds: list[int], out: str | Path, ns=NS, society_ns=SOCIETY_NS,
                iterations: int | None = None, **options) -> dict:
    """Run the study (``study``) as one suite into the report folder ``out``; returns the suite's
    summary with ``scaling`` rows (``scaling_rows``).  ``options`` go to ``suite.run_suite``
    (``resume``, ``checkpoint_every``, ``backend``, ...).

    Args:
        bases: shipped regime names (single learner: scaled over ``ns``; societies: over ``society_ns``).
        methods: names of ``recigrad.learning.contract.METHODS``.
        seeds: the seeds of every (regime, N, method).
        out: the report folder.
        ns: the population sizes of single-learner regimes.
        society_ns: the population sizes of societies.
        iterations: overrides the study's iterations (``scaling.ITERATIONS``; the cheap variant).

    Returns:
        The suite's summary (``bench.json``) with ``scaling`` rows.
    """
    entries = study(bases, ns, society_ns, iterations)
    loaded = {regime.name: regime for _, _, regime in entries}
    return suite.run_suite(list(loaded), methods, seeds, out, loaded=loaded, extend=extend(entries, methods), **options)


def summary_table(summary: dict) -> str:
    """A readable table of the study's rows (what ``recigrad bench --suite scaling`` prints)."""
    from recigrad.util.text import table

    header = ["regime", "N", "method", "% of ref", "share of gain", "over norm", "adherence", "norm % of ref", "NashConv",
              "seconds"]
    rows = [[r["regime"], r["n"], r["method"], r.get("percent_of_reference_mean"), r.get("share_of_gain_mean"),
             r.get("share_over_norm_mean"), r.get("adherence_mean"), r.get("norm_percent_of_reference"), r.get("nashconv_mean"),
             r["seconds"]]
            for r in summary["scaling"]]
    return table(header, rows, digits=3)


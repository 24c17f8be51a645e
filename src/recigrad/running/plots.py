"""Plots of training runs: one learning-curve figure for a run folder's ``curve.png`` and the
report's ``curves-REGIME.png`` (one method or several), and the report's ``percent.png``.
matplotlib is imported on first use, with the Agg backend."""

from __future__ import annotations

import statistics
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(curves: dict[str, list[dict]], path: Path, title: str, reference: float | None = None,
                    benefit_minus_cost: float | None = None) -> None:
    """Payoff per round against interactions, one colour per method of ``curves`` (``{method: the
    evaluation lines of metrics.jsonl}``): the mean over seeds and the range over seeds, with the
    reference line (single learner) or ``b - c`` (societies, which get a NashConv panel too)."""
    plt = _pyplot()
    society = "payoff" not in next(iter(curves.values()))[0]
    if society:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.0))
    else:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, (method, curve) in enumerate(curves.items()):
        key = "payoff" if "payoff" in curve[0] else "mean_payoff"
        x = [line["interactions"] for line in curve]
        per_seed = [line[key] for line in curve]
        ax.plot(x, [statistics.fmean(v) for v in per_seed], color=f"C{k}", label=method)
        ax.fill_between(x, [min(v) for v in per_seed], [max(v) for v in per_seed], color=f"C{k}", alpha=0.2)
        if society:
            points = [(line["interactions"], statistics.fmean(line["nashconv"])) for line in curve if "nashconv" in line]
            ax2.plot(*zip(*points), marker="o", color=f"C{k}", label=method)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label=f"reference {reference:.3f}")
    elif benefit_minus_cost is not None:
        ax.axhline(benefit_minus_cost, color="k", ls="--", lw=1, label="b - c")
    ax.set_xscale("log")
    ax.set_xlabel("interactions per population")
    ax.set_ylabel("payoff per round (exact; mean and range over seeds)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    if society:
        ax.set_ylabel("mean learner payoff per round (exact)")
        ax2.set_xscale("log")
        ax2.set_xlabel("interactions per population")
        ax2.set_ylabel("NashConv (mean over seeds)")
        ax2.set_title(f"{title}: NashConv over training")
        ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curve(curve: list[dict], reference_payoff: float | None, regime, method: str, path: Path) -> None:
    """A run folder's ``curve.png``: ``learning_curves`` of one method."""
    benefit_minus_cost = None if reference_payoff is not None else regime.game.b - regime.game.c
    learning_curves({method: curve}, path, f"{regime.name}: {method}", reference_payoff, benefit_minus_cost)


def percent_bars(path: Path, rows: list[dict]) -> None:
    """The report's ``percent.png``: percent of reference per method and regime (rows with a reference)."""
    rows = [r for r in rows if r["percent_of_reference_mean"] is not None]
    if not rows:
        return
    plt = _pyplot()
    regimes = list(dict.fromkeys(r["regime"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(regimes) + 2), 4.2))
    for k, method in enumerate(methods):
        values = [next((r["percent_of_reference_mean"] for r in rows if r["regime"] == g and r["method"] == method),
                       float("nan")) for g in regimes]  # a method not run on a regime: no bar
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

"""Statistics over seeds for the suite (``docs/model.md §8``, ``§10``): the 95% t-interval, the median
interactions to a threshold, ratios to the reciprocity gradient, and the row of a (regime, method)."""

from __future__ import annotations

import math
import statistics

# t quantiles (0.975) for 95% intervals over n seeds, n - 1 degrees of freedom
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         15: 2.131, 20: 2.086, 30: 2.042}


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


def ratio_to_rg(row: dict, rg: dict | None, key: str) -> tuple[float, bool] | None:
    """A method's interactions to a threshold over the reciprocity gradient's (median over seeds), and
    whether it is a lower bound (from the budget, where the method's median never got there); ``None``
    for rg itself or where rg has no figure."""
    if row["method"] == "rg" or not rg or not rg.get(key):
        return None
    if row.get(key):
        return row[key] / rg[key], False
    return row["interactions"] / rg[key], True


def _rate(runs: list[dict], key: str) -> float | None:
    """The fraction of runs where ``key`` is true (``None`` where no run has it)."""
    values = [bool(r[key]) for r in runs if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def summary_row(result: dict, seeds: list[int]) -> dict:
    """The row of ``bench.json`` for one (regime, method): means over seeds, collapse rate, medians to thresholds."""
    runs = result["runs"]
    mean = lambda key: interval([r.get(key) for r in runs])[0]  # noqa: E731
    row = {"regime": result["regime"], "method": result["method"], "seeds": len(seeds), "seconds": result["seconds"]}
    if "reference" in result:
        row.update(
            payoff_mean=mean("payoff"),
            reference=result["reference"]["payoff"],
            percent_of_reference_mean=mean("percent_of_reference"),
            adherence_mean=mean("adherence"),
            collapse_rate=_rate(runs, "collapsed"),  # None under private assessment (no collapse measure)
            interactions_to_95=median_reached([r["interactions_to_95"] for r in runs]),
            interactions_to_99=median_reached([r["interactions_to_99"] for r in runs]),
            seconds_to_95=median_reached([r["seconds_to_95"] for r in runs]),
        )
        # docs/model.md §8: share of gain, table distance, collapse per head and whether it can be seen
        measurable = result.get("collapse_measurable", {})
        row.update(
            share_of_gain_mean=mean("share_of_gain"),
            table_distance_mean=mean("table_distance"),
            action_collapse_rate=_rate(runs, "action_collapsed"),
            signal_collapse_rate=_rate(runs, "signal_collapsed"),
            action_collapse_measurable=measurable.get("action"),
            signal_collapse_measurable=measurable.get("signal"),
            start_payoff=(result.get("start") or {}).get("payoff"),
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
            share_of_gain_mean=None,
            table_distance_mean=None,
            action_collapse_rate=None,
            signal_collapse_rate=None,
            action_collapse_measurable=None,
            signal_collapse_measurable=None,
            start_payoff=None,
        )
    row["interactions"] = runs[0]["interactions"]
    provenance = result.get("baseline_settings") or {}  # docs/model.md §7: tuned for this population, another, defaults
    row["baseline_settings"] = provenance.get("source")
    row["baseline_tuned_for"] = provenance.get("tuned_for")
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}

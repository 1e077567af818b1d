"""Statistics of an ensemble's columns: percentiles, the interval of the mean, exceedance with a
Wilson interval, the fan chart's rolling percentiles, and thresholds given with units.

Percentiles use numpy's default "linear" method (Hyndman & Fan type 7) over the replications where
a metric is defined (NaN left out). ``sim.ensemble`` re-exports all of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.series import rolling_mean
from sim.units import Grade, UnitError, parse_quantity

__all__ = [
    "FAN_PERCENTILES",
    "PERCENTILES",
    "PERCENTILE_METHOD",
    "PRECISION",
    "describe",
    "exceedance",
    "fan_percentiles",
    "parse_threshold",
    "wilson_interval",
]

PERCENTILES = (5, 10, 50, 90, 95)
"""Percentiles reported per metric."""

FAN_PERCENTILES = (10, 50, 90)
"""Percentiles of the daily-shortfall fan chart."""

PERCENTILE_METHOD = "linear"
"""numpy.percentile's method (its default; Hyndman & Fan type 7)."""

PRECISION = 0.01
"""Default target precision: the 95 % interval of the mean within ±1 % of the mean."""


def describe(values: np.ndarray, precision: float | None = None) -> dict[str, Any]:
    """Mean, std (ddof 1), min, P5/P10/P50/P90/P95, max, a 95 % interval of the mean, its half-width
    relative to the mean, and (with ``precision``) the N whose interval would be ±precision x mean.

    NaN marks a replication where the metric is undefined; ``defined`` counts the others.
    Statistics that need more values than there are are None.
    """
    values = np.asarray(values, dtype=float)
    defined = values[~np.isnan(values)]
    out: dict[str, Any] = {"n": int(values.size), "defined": int(defined.size)}
    keys = ("mean", "std", "min", *[f"p{q}" for q in PERCENTILES], "max", "mean_ci95", "rel_half_width")
    if defined.size == 0:
        out |= dict.fromkeys(keys)
        if precision is not None:
            out["n_for_precision"] = None
        return out
    mean = float(defined.mean())
    std = float(defined.std(ddof=1)) if defined.size > 1 else None
    quantiles = np.percentile(defined, PERCENTILES, method=PERCENTILE_METHOD)
    out |= {"mean": mean, "std": std, "min": float(defined.min())}
    out |= {f"p{q}": float(v) for q, v in zip(PERCENTILES, quantiles, strict=True)}
    out["max"] = float(defined.max())
    if std is None:
        out["mean_ci95"] = None
        out["rel_half_width"] = None
    else:
        half = 1.96 * std / math.sqrt(defined.size)
        out["mean_ci95"] = [mean - half, mean + half]
        out["rel_half_width"] = None if mean == 0 else half / abs(mean)
    if precision is not None:
        rel = out["rel_half_width"]
        if std == 0.0:
            out["n_for_precision"] = int(values.size)  # no spread: any N is exact
        elif rel is None:
            out["n_for_precision"] = None
        else:  # the half-width shrinks as 1/sqrt(N) at the same share of defined values
            out["n_for_precision"] = math.ceil(values.size * (rel / precision) ** 2)
    return out


def parse_threshold(text: str, metrics: Sequence[str], units: dict[str, str], grade: Grade) -> tuple[str, float]:
    """Read ``METRIC=VALUE`` (e.g. ``lost_export_t=1Mt``) as the metric and the value in its unit.

    Masses take mass units (t, kt, Mt, bbl, m3), durations time units, barrels barrel units;
    other metrics a bare number in their unit. Raises ValueError saying what was expected.
    """
    metric, sep, value = text.partition("=")
    metric, value = metric.strip(), value.strip()
    if not sep or not metric or not value:
        raise ValueError(f"{text!r} is not METRIC=VALUE (e.g. lost_export_t=1Mt)")
    if metric not in metrics:
        raise ValueError(f"{metric!r} is not a metric; expected one of {', '.join(metrics)}")
    unit = units.get(metric, "1")
    try:
        bare = float(value.replace("_", "").replace(",", ""))  # a bare number: in the metric's unit
    except ValueError:
        bare = None
    if bare is not None and math.isfinite(bare):
        return metric, bare
    try:
        if unit == "t":
            return metric, parse_quantity(value, "mass", grade)
        if unit == "d":
            return metric, parse_quantity(value, "duration", grade)
        if unit == "bbl":
            if "bbl" in value or value.endswith("b"):  # barrels as barrels (exact), not through tonnes
                return metric, parse_quantity(value, "mass", Grade(bbl_per_t=1.0, t_per_m3=grade.t_per_m3))
            return metric, parse_quantity(value, "mass", grade) * grade.bbl_per_t
        number = float(value.replace("_", "").replace(",", ""))
    except UnitError as exc:
        raise ValueError(f"{metric}: {exc}") from None
    except ValueError:
        raise ValueError(f"{metric}: {value!r} is not a number (in {unit})") from None
    if not math.isfinite(number):
        raise ValueError(f"{metric}: {value!r} is not a finite number")
    return metric, number


def wilson_interval(k: int, m: int, z: float = 1.96) -> list[float] | None:
    """Wilson score interval of a proportion ``k`` of ``m`` (95 % for z = 1.96); None when m = 0."""
    if m <= 0:
        return None
    p = k / m
    denominator = 1.0 + z * z / m
    centre = (p + z * z / (2 * m)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / m + z * z / (4.0 * m * m)) / denominator
    return [max(0.0, centre - half), min(1.0, centre + half)]


def exceedance(values: np.ndarray, threshold: float) -> dict[str, Any]:
    """P(value > threshold) over the defined values, with its Wilson 95 % interval."""
    values = np.asarray(values, dtype=float)
    defined = values[~np.isnan(values)]
    k = int((defined > threshold).sum())
    m = int(defined.size)
    return {
        "threshold": float(threshold),
        "exceeding": k,
        "defined": m,
        "probability": k / m if m else None,
        "wilson95": wilson_interval(k, m),
    }


def fan_percentiles(
    shortfall: np.ndarray, quantiles: Sequence[float] = FAN_PERCENTILES, window: int = 7, block: int = 16
) -> dict[str, np.ndarray]:
    """Per day: mean and percentiles over replications of the trailing ``window``-day mean shortfall.

    Works through ``block`` days at a time, so the working memory is replications x
    (block + window) floats however long the horizon (cargoes arrive in lumps, hence the mean).
    """
    shortfall = np.asarray(shortfall, dtype=float)
    n, days = shortfall.shape
    window = max(1, int(window))
    out = {"mean": np.empty(days), **{f"p{q:g}": np.empty(days) for q in quantiles}}
    if n == 0:
        return {k: np.full(days, np.nan) for k in out}
    for a in range(0, days, block):
        b = min(days, a + block)
        rolling = rolling_mean(shortfall, window, first=a, stop=b)
        out["mean"][a:b] = rolling.mean(axis=0)
        quantile_rows = np.percentile(rolling, list(quantiles), axis=0, method=PERCENTILE_METHOD)
        for q, v in zip(quantiles, quantile_rows, strict=True):
            out[f"p{q:g}"][a:b] = v
    return out

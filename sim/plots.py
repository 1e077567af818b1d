"""Disruption curves: daily exports against the baseline, and the cumulative loss.

Plot functions take plain columns (as ``results.timeseries_columns`` builds them, or as
``results.read_run`` reads them back) and return a matplotlib ``Figure``; they never
touch global pyplot state, so they work the same in a script, a test and a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

__all__ = ["compare_figure", "disruption_figure", "ensemble_figure", "rolling_mean"]


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` days (shorter at the start): cargoes arrive in lumps."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or values.size == 0:
        return values
    csum = np.concatenate(([0.0], np.cumsum(values)))
    ends = np.arange(1, values.size + 1)
    begins = np.maximum(0, ends - window)
    return (csum[ends] - csum[begins]) / (ends - begins)


def _routes(columns: Mapping[str, Any]) -> list[str]:
    return [k[len("exports.") : -2] for k in columns if k.startswith("exports.") and k.endswith("_t")]


def disruption_figure(
    columns: Mapping[str, Any],
    shocks: Sequence[Mapping[str, Any]] = (),
    title: str = "",
    window: int = 7,
) -> Figure:
    """Two panels: daily exports by route vs baseline (shocks shaded), cumulative loss."""
    day = np.asarray(columns["day"], dtype=float)
    routes = _routes(columns)
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    colors = matplotlib.colormaps["tab20"].colors
    stacks = [rolling_mean(np.asarray(columns[f"exports.{r}_t"]), window) / 1e3 for r in routes]
    active = [(r, s) for r, s in zip(routes, stacks, strict=True) if np.any(s > 0)]
    if active:
        top.stackplot(
            day,
            *[s for _, s in active],
            labels=[r for r, _ in active],
            colors=[colors[i % len(colors)] for i in range(len(active))],
            alpha=0.9,
        )
    baseline = rolling_mean(np.asarray(columns["baseline_exports_t"]), window) / 1e3
    top.plot(day, baseline, color="black", linestyle="--", linewidth=1.4, label="baseline (all routes)")
    top.set_ylabel(f"exports, kt/d ({window}-day mean)")
    top.set_title(title or "Daily exports by route vs baseline")
    # Background shocks (in the baseline too) are not the scenario's disruption: not shaded.
    for k, shock in enumerate(s for s in shocks if s.get("happened", True) and not s.get("background", False)):
        start, end = float(shock["start_d"]), float(shock["end_d"])
        for axis in (top, bottom):
            axis.axvspan(
                start, end, color="tab:red", alpha=0.12, label=("shock window" if k == 0 and axis is top else None)
            )
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="route", title_fontsize=8)
    top.grid(alpha=0.3)

    deficit = np.cumsum(np.asarray(columns["baseline_exports_t"]) - np.asarray(columns["exports_t"])) / 1e6
    shut = np.cumsum(np.asarray(columns["shut_in_t"]) - np.asarray(columns["baseline_shut_in_t"])) / 1e6
    bottom.plot(day, deficit, color="tab:red", linewidth=2, label="cumulative export deficit vs baseline")
    bottom.plot(day, shut, color="tab:purple", linewidth=1.5, linestyle=":", label="cumulative extra shut-in")
    bottom.axhline(0, color="grey", linewidth=0.8)
    bottom.set_ylabel("Mt")
    dates = columns.get("date")
    if dates is not None and len(dates):
        ticks = np.linspace(0, len(dates) - 1, num=min(8, len(dates))).astype(int)
        bottom.set_xticks(ticks, [str(dates[i]) for i in ticks], rotation=30, ha="right", fontsize=8)
    bottom.set_xlabel("day")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    bottom.grid(alpha=0.3)
    return fig


def compare_figure(runs: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Cumulative export deficit of several runs (name -> columns) on one chart."""
    fig = Figure(figsize=(10, 5), layout="constrained")
    axis = fig.subplots()
    for name, columns in runs.items():
        deficit = np.cumsum(np.asarray(columns["baseline_exports_t"]) - np.asarray(columns["exports_t"])) / 1e6
        axis.plot(np.asarray(columns["day"]), deficit, label=name, linewidth=1.8)
    axis.set_xlabel("day")
    axis.set_ylabel("cumulative export deficit vs baseline, Mt")
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return fig


ECDF_POINTS = 5000
"""Most points of the ECDF drawn (a 10^5-replication ECDF is drawn through 5,000 of its ranks)."""


def ensemble_figure(
    lost_t: np.ndarray,
    fan: Mapping[str, np.ndarray],
    dates: Sequence[str] = (),
    title: str = "",
    window: int = 7,
) -> Figure:
    """Two panels: the ECDF of lost export volume over replications, and the P10-P90 fan of daily shortfall.

    ``lost_t`` holds one lost volume per replication (t); ``fan`` holds ``mean``, ``p10``,
    ``p50`` and ``p90`` per day of the export shortfall vs baseline (t/d, a ``window``-day
    trailing mean), as ``Ensemble.fan()`` returns them.
    """
    lost = np.sort(np.asarray(lost_t, dtype=float)[~np.isnan(np.asarray(lost_t, dtype=float))]) / 1e6
    fig = Figure(figsize=(13, 5.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(2, 3))
    if lost.size:
        share = np.arange(1, lost.size + 1) / lost.size
        if lost.size > ECDF_POINTS:  # drawn through evenly spaced ranks: the same picture, bounded memory
            keep = np.unique(np.linspace(0, lost.size - 1, ECDF_POINTS).round().astype(int))
            left.step(lost[keep], share[keep], where="post", color="tab:red", linewidth=1.8)
        else:
            left.step(lost, share, where="post", color="tab:red", linewidth=1.8)
        for q, style in ((10, ":"), (50, "--"), (90, ":")):
            value = float(np.percentile(lost, q))
            left.axvline(value, color="black", linestyle=style, linewidth=1, label=f"P{q} {value:,.2f} Mt")
        left.legend(fontsize=8, loc="lower right")
    left.set_xlabel("lost export volume, Mt")
    left.set_ylabel("share of replications ≤ x")
    left.set_ylim(0, 1.02)
    left.set_title(f"Lost export volume over {np.asarray(lost_t).size:,} replications (ECDF)", fontsize=10)
    left.grid(alpha=0.3)

    day = np.arange(len(fan["p50"]))
    right.fill_between(day, fan["p10"] / 1e3, fan["p90"] / 1e3, color="tab:red", alpha=0.25, label="P10–P90")
    right.plot(day, fan["p50"] / 1e3, color="tab:red", linewidth=1.8, label="P50")
    right.plot(day, fan["mean"] / 1e3, color="black", linewidth=1.2, linestyle="--", label="mean")
    right.axhline(0, color="grey", linewidth=0.8)
    right.set_ylabel(f"export shortfall vs baseline, kt/d ({window}-day mean)")
    right.set_title("Daily export shortfall vs baseline", fontsize=10)
    if len(dates):
        ticks = np.linspace(0, len(dates) - 1, num=min(8, len(dates))).astype(int)
        right.set_xticks(ticks, [str(dates[i]) for i in ticks], rotation=30, ha="right", fontsize=8)
    right.set_xlabel("day")
    right.legend(fontsize=8, loc="upper right")
    right.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig

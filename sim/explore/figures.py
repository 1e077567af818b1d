"""Plots of the studies: a metric against a swept parameter (percentile bands) or a heatmap of two,
the curve around a stress test's break, survival times by route, and sensitivity indices.

Like ``sim.plots``, every function takes a study's DataFrame and returns a matplotlib ``Figure``
without touching pyplot's global state.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.engine.metrics import _unit_of
from sim.explore.sweep import stat_column

__all__ = [
    "discovery_figure",
    "scale_of",
    "sensitivity_figure",
    "stress_figure",
    "study_figure",
    "survival_figure",
    "sweep_figure",
]


def scale_of(unit: str, values: np.ndarray) -> tuple[float, str]:
    """A divisor and a display unit for a metric's values (t -> Mt or kt, USD -> bn USD)."""
    top = float(np.nanmax(np.abs(values))) if np.size(values) and np.isfinite(values).any() else 0.0
    if unit == "t":
        return (1e6, "Mt") if top >= 1e6 else ((1e3, "kt") if top >= 1e3 else (1.0, "t"))
    if unit == "USD":
        return (1e9, "bn USD") if top >= 1e9 else ((1e6, "M USD") if top >= 1e6 else (1.0, "USD"))
    if unit == "bbl":
        return (1e6, "Mbbl") if top >= 1e6 else (1.0, "bbl")
    if unit == "t*d":
        return 1e6, "Mt·d"
    return 1.0, unit


def _bands(table: pd.DataFrame, metric: str) -> tuple[str, str, str] | None:
    """The lowest, middle and highest percentile columns of ``metric`` present in the table."""
    qs = sorted(
        float(c[len(metric) + 2 :])
        for c in table.columns
        if c.startswith(f"{metric}_p") and c[len(metric) + 2 :].replace(".", "", 1).isdigit()
    )
    if not qs:
        return None
    mid = min(qs, key=lambda q: abs(q - 50))
    return tuple(stat_column(metric, f"p{q:g}") for q in (qs[0], mid, qs[-1]))  # type: ignore[return-value]


def sweep_figure(table: pd.DataFrame, metric: str = "lost_export_t") -> Figure:
    """One numeric parameter: the metric's median with its lowest-highest percentile band and mean.
    Two: a heatmap of the median. More: the median against the first, one line per combination
    of the others (at most 12)."""
    attrs = table.attrs
    params = [p for p in attrs.get("params", [])]
    unit = attrs.get("units", {}).get(metric, "1")
    bands = _bands(table, metric)
    if bands is None:
        raise ValueError(f"the table has no percentiles of {metric}")
    low, mid, high = bands
    scale, shown = scale_of(unit, table[mid].to_numpy(dtype=float))
    title = (
        f"{attrs.get('scenario', '')}: {metric} over {len(table):,} points, "
        f"{attrs.get('replications', 1):,} replication(s) each, seed {attrs.get('seed')}"
    )
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    axis = fig.subplots()
    first = params[0]
    label = f"{first['path']} ({first['unit']})" if first.get("unit") else first["path"]
    if len(params) == 2:
        second = params[1]
        pivot = table.pivot_table(index=second["path"], columns=first["path"], values=mid, sort=False)
        cells = pivot.to_numpy(dtype=float) / scale
        image = axis.imshow(cells, origin="lower", aspect="auto", cmap="magma_r")
        if cells.size <= 150:  # the value in each cell, where it stays legible
            middle = np.nanmean(cells) if np.isfinite(cells).any() else 0.0
            for (row, col), value in np.ndenumerate(cells):
                color = "white" if value > middle else "black"
                axis.text(col, row, f"{value:.3g}", ha="center", va="center", fontsize=7, color=color)
        axis.set_xticks(range(pivot.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in pivot.columns])
        axis.set_yticks(range(pivot.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in pivot.index])
        axis.tick_params(axis="x", labelrotation=45)
        axis.set_xlabel(label)
        axis.set_ylabel(f"{second['path']} ({second['unit']})" if second.get("unit") else second["path"])
        fig.colorbar(image, ax=axis, label=f"{metric} {mid.rsplit('_', 1)[-1].upper()}, {shown}")
        axis.set_title(title, fontsize=10)
        return fig
    x = table[first["path"]]
    positions = x.to_numpy(dtype=float) if first.get("numeric") else np.arange(len(x))
    if len(params) == 1:
        axis.fill_between(
            positions,
            table[low] / scale,
            table[high] / scale,
            color="tab:red",
            alpha=0.25,
            label=f"{low.rsplit('_', 1)[-1].upper()}–{high.rsplit('_', 1)[-1].upper()}",
        )
        axis.plot(
            positions,
            table[mid] / scale,
            color="tab:red",
            marker="o",
            markersize=3,
            label=mid.rsplit("_", 1)[-1].upper(),
        )
        mean = stat_column(metric, "mean")
        if mean in table:
            axis.plot(positions, table[mean] / scale, color="black", linestyle="--", linewidth=1, label="mean")
    else:
        others = [p["path"] for p in params[1:]]
        for k, (key, group) in enumerate(table.groupby(others, sort=False)):
            if k >= 12:
                break
            where = ", ".join(
                f"{o}={v}" for o, v in zip(others, key if isinstance(key, tuple) else (key,), strict=True)
            )
            xs = group[first["path"]].to_numpy(dtype=float) if first.get("numeric") else np.arange(len(group))
            axis.plot(xs, group[mid] / scale, marker="o", markersize=3, label=where)
    if not first.get("numeric"):
        axis.set_xticks(positions, [str(v) for v in x])
    axis.set_xlabel(label)
    axis.set_ylabel(f"{metric}, {shown}")
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title, fontsize=10)
    return fig


def stress_figure(table: pd.DataFrame) -> Figure:
    """The metric's percentile at every evaluated value, the threshold, and the break."""
    attrs = table.attrs
    param, metric, unit = attrs["param"], attrs["metric"], attrs.get("metric_unit", "1")
    values = table["metric_value"].to_numpy(dtype=float)
    scale, shown = scale_of(unit, np.append(values, attrs["threshold"]))
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    axis = fig.subplots()
    x = table[param].to_numpy(dtype=float)
    colors = np.where(table["phase"] == "curve", "tab:blue", "tab:orange")
    axis.plot(x, values / scale, color="grey", linewidth=1)
    axis.scatter(x, values / scale, c=list(colors), s=18, zorder=3)
    axis.axhline(
        attrs["threshold"] / scale, color="tab:red", linestyle="--", label=f"threshold {attrs['threshold_text']}"
    )
    if attrs.get("crossed"):
        lo, hi = attrs["bracket"]
        axis.axvspan(lo, hi, color="tab:red", alpha=0.2)
        axis.axvline(
            hi, color="tab:red", linewidth=1.2, label=f"break at {hi:g} {attrs.get('unit', '')} (bracket {lo:g}–{hi:g})"
        )
    label = f"{param} ({attrs['unit']})" if attrs.get("unit") else param
    axis.set_xlabel(label)
    axis.set_ylabel(f"{metric} P{attrs['percentile']:g}, {shown}")
    axis.set_title(
        f"{attrs.get('scenario', '')}: reverse stress test, {attrs['replications']:,} replication(s) per point "
        "(orange: bisection, blue: curve)",
        fontsize=10,
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return fig


def survival_figure(table: pd.DataFrame) -> Figure:
    """Days each route can be lost before shut-in starts (a bar per route; bars at the horizon mean never)."""
    attrs = table.attrs
    horizon = float(attrs.get("horizon_d", np.nanmax(table["survival_d"].replace(math.inf, np.nan)) or 1.0))
    days = table["survival_d"].to_numpy(dtype=float)
    shown = np.where(np.isinf(days), horizon, days)
    fig = Figure(figsize=(10, 0.4 * len(table) + 1.8), layout="constrained")
    axis = fig.subplots()
    order = np.argsort(shown)
    colors = ["lightgrey" if np.isinf(days[i]) else "tab:red" for i in order]
    axis.barh(np.arange(len(order)), shown[order], color=colors)
    axis.set_yticks(np.arange(len(order)), [str(table["route"].iloc[i]) for i in order], fontsize=8)
    for row, i in enumerate(order):
        text = f"> {horizon:g} d (no shut-in)" if np.isinf(days[i]) else f"{days[i]:g} d"
        axis.text(shown[i], row, " " + text, va="center", fontsize=8)
    axis.set_xlabel(f"days from the route's closure to the first shut-in (P{attrs.get('percentile', 50):g})")
    axis.set_title(f"{attrs.get('scenario', '')}: how long each route can be lost, given the others", fontsize=10)
    axis.set_xlim(0, horizon * 1.35)
    axis.grid(alpha=0.3, axis="x")
    return fig


def sensitivity_figure(table: pd.DataFrame) -> Figure:
    """Sobol: first-order and total indices per input with their intervals (a tornado, largest on
    top). Morris: mu* with its interval against sigma."""
    attrs = table.attrs
    fig = Figure(figsize=(10, 0.5 * len(table) + 2), layout="constrained")
    axis = fig.subplots()
    names = list(table["input"])[::-1]
    rows = np.arange(len(names))
    if attrs.get("method") == "morris":
        scale, shown = scale_of(_unit_of(str(attrs.get("metric", ""))), table["mu_star"].to_numpy(dtype=float))
        axis.barh(
            rows,
            table["mu_star"][::-1] / scale,
            xerr=table["mu_star_conf"][::-1] / scale,
            color="tab:red",
            alpha=0.7,
            label="μ*",
        )
        axis.scatter(table["sigma"][::-1] / scale, rows, color="black", zorder=3, label="σ")
        axis.set_xlabel(f"elementary effect of {attrs.get('metric')} across the input's range, {shown}")
    else:
        height = 0.38
        axis.barh(
            rows + height / 2,
            table["ST"][::-1],
            height,
            xerr=table["ST_conf"][::-1],
            color="tab:red",
            alpha=0.8,
            label="total ST",
        )
        axis.barh(
            rows - height / 2,
            table["S1"][::-1],
            height,
            xerr=table["S1_conf"][::-1],
            color="tab:blue",
            alpha=0.8,
            label="first-order S1",
        )
        axis.set_xlabel(
            f"Sobol index of {attrs.get('metric')} (share of its variance; bars: {attrs.get('conf_level', 0.95):.0%} interval)"
        )
        top = float(np.nanmax(np.append((table["ST"] + table["ST_conf"]).to_numpy(dtype=float), 1.0)))
        axis.set_xlim(min(0.0, float(np.nanmin(table["S1"])) - 0.05), top + 0.05)
    axis.set_yticks(rows, names, fontsize=8)
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(alpha=0.3, axis="x")
    axis.set_title(
        f"{attrs.get('scenario', '')}: {attrs.get('method', '')} over {attrs.get('samples_run', 0):,} samples "
        f"x {attrs.get('replications', 1):,} replication(s), seed {attrs.get('seed')}",
        fontsize=10,
    )
    return fig


def discovery_figure(table: pd.DataFrame) -> Figure:
    """Left: PRIM's peeling trajectory (coverage against density, coloured by restricted inputs).
    Right: the box on each input, as a share of its sampled range (restricted inputs in red)."""
    attrs = table.attrs
    fig = Figure(figsize=(12, 0.45 * len(table) + 3), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(2, 3))
    trajectory = pd.DataFrame(attrs.get("trajectory", []))
    if len(trajectory):
        points = left.scatter(
            trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"], cmap="viridis", s=14
        )
        fig.colorbar(points, ax=left, label="inputs restricted")
        box = attrs["box"]
        left.scatter([box["coverage"]], [box["density"]], s=90, facecolors="none", edgecolors="tab:red", label="box")
        left.legend(fontsize=8)
    left.set_xlabel("coverage (share of the cases of interest inside)")
    left.set_ylabel("density (share of the box that is of interest)")
    left.set_xlim(0, 1.02)
    left.set_ylim(0, 1.02)
    left.grid(alpha=0.3)
    left.set_title("PRIM peeling trajectory", fontsize=10)
    rows = np.arange(len(table))[::-1]
    span = (table["sampled_high"] - table["sampled_low"]).replace(0, np.nan)
    start = ((table["low"] - table["sampled_low"]) / span).fillna(0)
    width = ((table["high"] - table["low"]) / span).fillna(1)
    colors = ["tab:red" if r else "lightgrey" for r in table["restricted"]]
    right.barh(rows, width, left=start, color=colors)
    for row, (_, item) in zip(rows, table.iterrows(), strict=True):
        if item["restricted"]:
            right.text(1.01, row, f"{item['low']:.4g} to {item['high']:.4g}", va="center", fontsize=8)
    right.set_yticks(rows, list(table["input"]), fontsize=8)
    right.set_xlim(0, 1.3)
    right.set_xlabel("the box on each input, as a share of its sampled range")
    right.grid(alpha=0.3, axis="x")
    box = attrs.get("box", {})
    summary = (
        f"coverage {box['coverage']:.2f}, density {box['density']:.2f}, mass {box['mass']:.2f}"
        if box.get("coverage") is not None
        else "no box (no case, or every case, passes the threshold)"
    )
    fig.suptitle(
        f"{attrs.get('scenario', '')}: where {attrs.get('metric')} ≥ {attrs.get('threshold_text')} — "
        f"{attrs.get('cases_of_interest', 0):,} of {attrs.get('samples_run', 0):,} points; {summary}",
        fontsize=10,
    )
    return fig


def study_figure(table: pd.DataFrame, metric: str = "lost_export_t") -> Figure:
    """The figure of any study, by its ``attrs['kind']``."""
    kind = table.attrs.get("kind")
    if kind == "sweep":
        return sweep_figure(table, metric)
    if kind == "stress":
        return stress_figure(table)
    if kind == "survival":
        return survival_figure(table)
    if kind == "sensitivity":
        return sensitivity_figure(table)
    if kind == "discovery":
        return discovery_figure(table)
    raise ValueError(f"not a study table (attrs kind {kind!r})")

"""The backtest's picture: model / reported for every figure (rows as ``sim.backtest.BacktestRow``, read by attribute)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sim.textsafe import figure_text
from sim.units import format_quantity

if TYPE_CHECKING:  # matplotlib is imported by the function that draws
    from matplotlib.figure import Figure

__all__ = ["GRADES", "backtest_figure"]


def _accepted(row: Any) -> tuple[float, float] | None:
    """The band of model / reference ratios that agree, or None if the reference is zero."""
    tol = row.tolerance
    if row.reported is not None:
        return None if row.reported == 0 else (1 - tol, 1 + tol)
    ref = (row.low + row.high) / 2 if row.low is not None and row.high is not None else (row.low or row.high)
    if not ref:
        return None
    low = 0.0 if row.low is None else (row.low - tol * abs(row.low)) / ref
    high = math.inf if row.high is None else (row.high + tol * abs(row.high)) / ref
    return low, high


GRADES = {"H": "high", "M": "medium", "L": "low", "D": "derived", "U": "unverified"}
"""Confidence grades of reported figures."""


def _position(value: float | None, row: Any, left: float, right: float) -> tuple[float, str]:
    """Where a model value (or P10/P90) sits on the ratio axis, and '' or '<' / '>' when it is off the scale.

    A reported zero has no ratio: a value that matches it sits on 1, any other beyond the right edge.
    """
    if value is None:
        return left, "<"
    ref = row.reported
    if ref is None:
        ref = (row.low + row.high) / 2 if row.low is not None and row.high is not None else (row.low or row.high)
    if not ref:
        matched = abs(value) <= 1e-9 or value == 0  # the judge's rounding allowance at zero
        return (1.0, "") if matched else (right, ">")
    ratio = value / ref
    if ratio < left:
        return left, "<"
    if ratio > right:
        return right, ">"
    return ratio, ""


def backtest_figure(rows: Sequence[Any], title: str = "") -> Figure:
    """Model / reported for every figure (log scale) with a legend.

    Shape and colour say whether the figure agrees (circle, blue) or not (cross, vermilion); a
    hollow marker is a figure graded L, D or U (weaker sources); the grade is printed beside
    each label; the grey band is what the tolerance accepts; an ensemble (replications > 1)
    has its P10–P90 bar; values off the scale (a ratio beyond the axis, a reported zero missed,
    no model value) sit on the edge as a triangle pointing outwards, with the value in the label.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(rows)
    fig = Figure(figsize=(12, 1.9 + 0.34 * max(n, 1)), layout="constrained")
    ax = fig.subplots()
    left, right = 0.05, 20.0
    agree, disagree = "#0072B2", "#D55E00"
    for i, row in enumerate(rows):
        y = n - 1 - i
        band = _accepted(row)
        if band is not None:
            lo, hi = max(band[0], left), min(band[1], right)
            ax.fill_betweenx([y - 0.35, y + 0.35], lo, hi, color="0.87", linewidth=0)
        elif row.reported == 0:
            ax.fill_betweenx([y - 0.35, y + 0.35], 1 / 1.08, 1.08, color="0.87", linewidth=0)
        color = agree if row.inside else disagree
        x, off = _position(row.model, row, left, right)
        if row.ensemble and row.model_p10 is not None and row.model_p90 is not None:
            (lo, _), (hi, off_hi) = (
                _position(row.model_p10, row, left, right),
                _position(row.model_p90, row, left, right),
            )
            ax.plot([lo, hi], [y, y], color=color, linewidth=2.2, alpha=0.6, solid_capstyle="butt")
            ax.plot([lo], [y], marker="|", color=color, markersize=10)
            ax.plot([hi], [y], marker=">" if off_hi else "|", color=color, markersize=8 if off_hi else 10)
        weak = row.confidence in ("L", "D", "U")
        marker = {"<": "<", ">": ">"}.get(off, "o" if row.inside else "X")
        ax.plot(
            [x],
            [y],
            marker=marker,
            linestyle="none",
            markersize=8,
            markerfacecolor="white" if weak else color,
            markeredgecolor=color,
            markeredgewidth=1.6,
        )
        label = f"{format_quantity(row.model, row.unit, missing='none')} vs {row.reported_text()}"
        if row.model is None:
            label = f"no model value vs {row.reported_text()}"
        if row.ensemble:
            p10, p90 = (
                format_quantity(row.model_p10, row.unit, missing="none"),
                format_quantity(row.model_p90, row.unit, missing="none"),
            )
            share = "—" if row.share_agreeing is None else f"{row.share_agreeing:.0%}"
            label = f"P50 {label} (P10–P90 {p10} – {p90}; {share} of {row.replications} agree)"
        if off:
            label += " (off scale)"
        ax.annotate(
            figure_text(label, None),
            (x, y),
            xytext=(-7 if off == ">" else 7, 0),
            textcoords="offset points",
            va="center",
            ha="right" if off == ">" else "left",
            fontsize=7,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.3},
        )
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlim(left / 1.3, right * 1.3)
    ax.set_yticks(range(n))
    ax.set_yticklabels(
        [f"{figure_text(r.episode)}: {figure_text(r.figure)}  [{r.confidence}]" for r in reversed(rows)], fontsize=8
    )
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("model ÷ reported (log scale); 1 = the model gives what was reported")
    handles = [
        Line2D([], [], marker="o", color=agree, linestyle="none", markersize=8, label="agrees within tolerance"),
        Line2D([], [], marker="X", color=disagree, linestyle="none", markersize=8, label="disagrees"),
        Line2D(
            [],
            [],
            marker="o",
            color=agree,
            markerfacecolor="white",
            linestyle="none",
            markersize=8,
            label="hollow: source graded L, D or U",
        ),
        Line2D([], [], marker=">", color="0.3", linestyle="none", markersize=8, label="off scale (value in label)"),
        Patch(facecolor="0.87", label="accepted by the tolerance"),
    ]
    if any(r.ensemble for r in rows):
        handles.append(Line2D([], [], color="0.3", linewidth=2.2, alpha=0.6, label="ensemble: P10–P90 (marker: P50)"))
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.07 - 0.6 / max(n, 1)),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    inside = sum(r.inside for r in rows)
    grades = ", ".join(f"{k} {v}" for k, v in GRADES.items())
    ax.set_title(title or f"Backtest: {inside} of {n} reported figures inside tolerance", loc="left", fontsize=11)
    fig.supxlabel(
        f"Confidence grades of the reported figures: {grades}. Source: routesim backtest of "
        "scenarios/history/*.yaml against the figures in each file's observed block.",
        fontsize=7,
        color="0.35",
        x=0.01,
        ha="left",
    )
    ax.grid(axis="x", which="both", alpha=0.3)
    return fig

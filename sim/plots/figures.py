"""Runs on dates: disruption curves by corridor, several runs, an ensemble's fan, a comparison of scenarios."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.series import rolling_mean

if TYPE_CHECKING:  # matplotlib is imported by the functions that draw (the CLI starts faster)
    from matplotlib.figure import Figure

__all__ = [
    "CORRIDORS",
    "PALETTE",
    "compare_figure",
    "comparison_figure",
    "corridor_of",
    "disruption_figure",
    "ensemble_figure",
    "network_corridors",
    "rolling_mean",
]


def _routes(columns: Mapping[str, Any]) -> list[str]:
    return [k[len("exports.") : -2] for k in columns if k.startswith("exports.") and k.endswith("_t")]


CORRIDORS: dict[str, tuple[str, str]] = {
    "CPC": ("#0072B2", ""),
    "Atyrau–Samara": ("#E69F00", "//"),
    "Trans-Caspian": ("#009E73", ""),
    "Rail": ("#D55E00", ".."),
    "China": ("#56B4E9", "\\\\"),
    "Other": ("#999999", "xx"),
}
"""Export corridors in stacking order, each with an Okabe–Ito colour and a hatch so it reads in grey too."""


def corridor_of(
    route: str, legs: Sequence[str] = (), leg_kinds: Mapping[str, str] | None = None, market: str = ""
) -> str:
    """The corridor a route belongs to, from its legs (names and kinds) and market, else from its name."""
    kinds = leg_kinds or {}
    names = [*legs, route] if legs else [route]
    text = " ".join(names).lower()
    if "cpc" in text:
        return "CPC"
    if any(kinds.get(leg) == "sea" for leg in legs) or any(k in text for k in ("baku", "btc", "makhachkala")):
        return "Trans-Caspian"  # across the Caspian, whatever brings the oil to Aktau (rail or pipeline)
    if any(kinds.get(leg) == "rail" for leg in legs) or "rail" in text or "kti" in text:
        return "Rail"
    if "china" in market.lower() or "kcp" in text:
        return "China"
    if "samara" in text or "druzhba" in market.lower():
        return "Atyrau–Samara"
    return "Other"


def network_corridors(network: Any) -> dict[str, tuple[str, str]]:
    """Route name -> (corridor, source) for a validated network (``sim.scenario.schema.Network``)."""
    kinds = {name: getattr(spec, "kind", "") for name, spec in network.legs.items()}
    return {
        name: (corridor_of(name, list(spec.legs), kinds, str(spec.market)), str(spec.source))
        for name, spec in network.routes.items()
    }


def _corridor_stacks(
    columns: Mapping[str, Any], corridors: Mapping[str, tuple[str, str]] | None, window: int
) -> list[tuple[str, str, np.ndarray]]:
    """(corridor, legend label, trailing-mean exports in kt/d) for each corridor that exported anything."""
    groups: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for route in _routes(columns):
        corridor, source = (corridors or {}).get(route, (corridor_of(route), route.split("_")[0]))
        groups.setdefault(corridor, []).append(route)
        if source not in sources.setdefault(corridor, []):
            sources[corridor].append(source)
    out = []
    for corridor in CORRIDORS:
        if corridor not in groups:
            continue
        total = sum(np.asarray(columns[f"exports.{r}_t"], dtype=float) for r in groups[corridor])
        base = sum(np.asarray(columns.get(f"baseline_exports.{r}_t", 0.0), dtype=float) for r in groups[corridor])
        if not (np.any(np.asarray(total) > 0) or np.any(np.asarray(base) > 0)):
            continue
        label = f"{corridor} ({', '.join(sources[corridor])})"
        out.append((corridor, label, rolling_mean(np.asarray(total, dtype=float), window, centred=True) / 1e3))
    return out


def _x(columns: Mapping[str, Any]) -> np.ndarray:
    """Dates (datetime64[D]) if the columns have them, else day numbers."""
    if columns.get("date") is not None and len(columns["date"]):
        return _dates(columns)
    return np.asarray(columns["day"], dtype=float)


def _shock_marks(axes: Sequence[Any], x: np.ndarray, shocks: Sequence[Mapping[str, Any]], label_axis: Any) -> None:
    """Shock windows as dashed edges and a hatched strip along the top, named: the data stay untinted."""
    from matplotlib.transforms import blended_transform_factory

    shown = [s for s in shocks if s.get("happened", True) and not s.get("background", False)]
    if not shown or x.size == 0:
        return
    dated = np.issubdtype(x.dtype, np.datetime64)

    def at(day: float) -> Any:
        if not dated:
            return day
        return x[0] + np.timedelta64(round(day * 24), "h")

    strip = blended_transform_factory(label_axis.transData, label_axis.transAxes)
    for k, shock in enumerate(shown[:12]):
        start, end = at(float(shock["start_d"])), at(float(shock["end_d"]))
        for axis in axes:
            for edge in (start, end):
                axis.axvline(edge, color="0.25", linestyle=(0, (4, 3)), linewidth=0.9, zorder=3)
        label_axis.axvspan(
            start,
            end,
            ymin=0.965 - 0.035 * (k % 3),
            ymax=0.995 - 0.035 * (k % 3),
            facecolor="white",
            edgecolor="0.25",
            hatch="////",
            linewidth=0.6,
            zorder=4,
        )
        name = str(shock.get("name") or shock.get("kind", "shock"))
        label_axis.text(
            start,
            0.955 - 0.035 * (k % 3),
            f" {name}",
            transform=strip,
            fontsize=7.5,
            va="top",
            ha="left",
            color="0.15",
            zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
        )
    if len(shown) > 12:
        label_axis.text(
            0.99, 0.86, f"+{len(shown) - 12} more shocks", transform=label_axis.transAxes, ha="right", fontsize=7
        )


def disruption_figure(
    columns: Mapping[str, Any],
    shocks: Sequence[Mapping[str, Any]] = (),
    title: str = "",
    window: int = 7,
    *,
    corridors: Mapping[str, tuple[str, str]] | None = None,
    headline: str = "",
    source: str = "",
) -> Figure:
    """Two panels on dates: daily exports by corridor vs the baseline (shocks outlined), and the cumulative loss.

    ``corridors`` maps a route to (corridor, source) as ``network_corridors`` gives it (else guessed
    from route names); ``headline`` is printed under the title (lost Mt, Mbbl, USD, days) and
    ``source`` along the bottom.
    """
    from matplotlib.figure import Figure

    x = _x(columns)
    fig = Figure(figsize=(12, 7.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    stacks = _corridor_stacks(columns, corridors, window)
    if stacks:
        polys = top.stackplot(
            x,
            *[s for _, _, s in stacks],
            labels=[label for _, label, _ in stacks],
            colors=[CORRIDORS[c][0] for c, _, _ in stacks],
            edgecolor="white",
            linewidth=0.4,
        )
        for poly, (corridor, _, _) in zip(polys, stacks, strict=True):
            poly.set_hatch(CORRIDORS[corridor][1])
    baseline = rolling_mean(np.asarray(columns["baseline_exports_t"]), window, centred=True) / 1e3
    top.plot(x, baseline, color="black", linestyle="--", linewidth=1.4, label="baseline, all corridors")
    top.set_ylabel(f"exports, kt/d ({window}-day centred mean)\ncounted where the oil leaves: loading, border")
    top.set_ylim(0, max(float(np.nanmax(baseline)) if baseline.size else 1.0, 1e-9) * 1.3)
    top.set_title(headline or "Daily exports by corridor against the baseline", fontsize=10, loc="left")
    if title:
        fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="corridor (fields)", title_fontsize=8)
    top.grid(alpha=0.3)

    deficit = np.cumsum(np.asarray(columns["baseline_exports_t"]) - np.asarray(columns["exports_t"])) / 1e6
    shut = np.cumsum(np.asarray(columns["shut_in_t"]) - np.asarray(columns["baseline_shut_in_t"])) / 1e6
    bottom.plot(x, deficit, color="#D55E00", linewidth=2, label="cumulative export deficit vs baseline")
    bottom.plot(x, shut, color="#0072B2", linewidth=1.5, linestyle=":", label="cumulative extra shut-in")
    if "cut_t" in columns:  # what the operators chose not to produce (drawn when they cut at all)
        cut = np.cumsum(np.asarray(columns["cut_t"]) - np.asarray(columns["baseline_cut_t"])) / 1e6
        if np.any(cut != 0):
            bottom.plot(
                x, cut, color="#009E73", linewidth=1.5, linestyle="--", label="cumulative extra cut by operators"
            )
    bottom.axhline(0, color="grey", linewidth=0.8)
    bottom.set_ylabel("Mt")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    bottom.grid(alpha=0.3)
    _shock_marks((top, bottom), x, shocks, top)
    if np.issubdtype(x.dtype, np.datetime64):
        _month_axis(bottom)
    else:
        bottom.set_xlabel("day")
    if source:
        fig.supxlabel(source, fontsize=7, color="0.35", x=0.01, ha="left")
    return fig


def compare_figure(runs: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Cumulative export deficit of several runs (name -> columns) on one chart."""
    from matplotlib.figure import Figure

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


def ensemble_figure(
    lost_t: np.ndarray,
    fan: Mapping[str, np.ndarray],
    dates: Sequence[str] = (),
    title: str = "",
    window: int = 7,
    *,
    happened: np.ndarray | None = None,
    shortfall: np.ndarray | None = None,
    source: str = "",
    probability: str = "",
) -> Figure:
    """Two panels: the lost export volume over replications, and the fan of the loss over time.

    With ``happened`` (shocks that happened, per replication) the left panel is the distribution
    *given that a shock happened*, with the share of replications in which it did (and ``probability``,
    the probability the scenario gives it, as text); else the ECDF
    over all. With ``shortfall`` (replications x days, t/d) the right panel is the P10–P90 fan of
    the *cumulative* export deficit in Mt — the same units as the left — else the fan of the daily
    shortfall (``fan``: ``mean``, ``p10``, ``p50``, ``p90`` in t/d, a ``window``-day trailing mean).
    """
    from matplotlib.figure import Figure

    values = np.asarray(lost_t, dtype=float)
    n = values.size
    fig = Figure(figsize=(12.5, 5.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(2, 3))
    if happened is not None:
        mask = np.asarray(happened) > 0
        given = values[mask & ~np.isnan(values)] / 1e6
        k = int(mask.sum())
        if given.size:
            left.hist(given, bins=min(40, max(10, given.size // 5)), color="#0072B2", edgecolor="white")
            for q, style in ((10, ":"), (50, "--"), (90, ":")):
                value = float(np.percentile(given, q))
                left.axvline(value, color="black", linestyle=style, linewidth=1, label=f"P{q} {value:,.2f} Mt")
            left.legend(fontsize=8, loc="upper right")
        else:
            left.text(0.5, 0.5, "the shock happened in no replication", transform=left.transAxes, ha="center")
        left.set_ylabel("replications")
        stated = f"; {probability}" if probability else ""
        left.set_title(
            f"Lost export volume given that the shock happened\n(in {k:,} of {n:,} replications, "
            f"{k / max(n, 1):.0%}{stated})",
            fontsize=10,
        )
    else:
        lost = np.sort(values[~np.isnan(values)]) / 1e6
        if lost.size:
            left.step(lost, np.arange(1, lost.size + 1) / lost.size, where="post", color="#D55E00", linewidth=1.8)
            for q, style in ((10, ":"), (50, "--"), (90, ":")):
                value = float(np.percentile(lost, q))
                left.axvline(value, color="black", linestyle=style, linewidth=1, label=f"P{q} {value:,.2f} Mt")
            left.legend(fontsize=8, loc="lower right")
        left.set_ylabel("share of replications ≤ x")
        left.set_ylim(0, 1.02)
        left.set_title(f"Lost export volume over {n:,} replications (ECDF)", fontsize=10)
    left.set_xlabel("lost export volume, Mt")
    left.grid(alpha=0.3)

    x = np.asarray(list(dates), dtype="datetime64[D]") if len(dates) else None
    if shortfall is not None and np.asarray(shortfall).size:
        cumulative = np.cumsum(np.asarray(shortfall, dtype=float), axis=1) / 1e6
        p10, p50, p90 = np.percentile(cumulative, [10, 50, 90], axis=0)
        mean = cumulative.mean(axis=0)
        unit = "cumulative export deficit vs baseline, Mt"
        heading = "Cumulative lost exports over time (same units as the left)"
    else:
        p10, p50, p90, mean = (np.asarray(fan[k]) / 1e3 for k in ("p10", "p50", "p90", "mean"))
        unit = f"export shortfall vs baseline, kt/d ({window}-day mean)"
        heading = "Daily export shortfall vs baseline"
    xs = x if x is not None and x.size == p50.size else np.arange(p50.size)
    right.fill_between(xs, p10, p90, color="#0072B2", alpha=0.25, label="P10–P90", linewidth=0)
    right.plot(xs, p50, color="#0072B2", linewidth=1.8, label="P50")
    right.plot(xs, mean, color="black", linewidth=1.2, linestyle="--", label="mean")
    right.axhline(0, color="grey", linewidth=0.8)
    right.set_ylabel(unit)
    right.set_title(heading, fontsize=10)
    if np.issubdtype(np.asarray(xs).dtype, np.datetime64):
        _month_axis(right)
    else:
        right.set_xlabel("day")
    right.legend(fontsize=8, loc="upper left")
    right.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    if source:
        fig.supxlabel(source, fontsize=7, color="0.35", x=0.01, ha="left")
    return fig


def _wrap(name: str, width: int = 22) -> str:
    """A long scenario name broken at underscores or spaces into lines of about ``width`` characters."""
    import textwrap

    return "\n".join(textwrap.wrap(name.replace("_", "_\u200b"), width)).replace("\u200b", "")


def _dates(columns: Mapping[str, Any]) -> np.ndarray:
    """The series' dates as numpy datetime64[D] (for date axes)."""
    return np.asarray(list(columns["date"]), dtype="datetime64[D]")


def _month_axis(axis: Any) -> None:
    """Month ticks on a date axis ('Jul 2022'), at most about eight labels."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def comparison_figure(
    runs: Mapping[str, Mapping[str, Any]],
    lost: Mapping[str, np.ndarray | None] | None = None,
    title: str = "",
    shortfall: Mapping[str, np.ndarray | None] | None = None,
) -> Figure:
    """Cumulative export deficit of several runs on dates; with ensembles, lost volume per scenario.

    ``runs`` maps a scenario's name to its daily columns; ``lost`` maps it to one lost volume (t)
    per replication (None for a single run). The distribution panel appears when any is given.
    ``shortfall`` (replications x days, t/d, per scenario) draws an ensemble's median cumulative
    deficit with its P10–P90 band instead of replication 0's curve.
    """
    from matplotlib.figure import Figure

    lost = {k: v for k, v in (lost or {}).items() if v is not None and len(v) > 1}
    fig = Figure(figsize=(12 if lost else 9, 4.8), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=(3, 2)) if lost else [fig.subplots()]
    curves = axes[0]
    styles = ("-", "--", "-.", ":")
    for k, (name, columns) in enumerate(runs.items()):
        color = PALETTE[k % len(PALETTE)]
        matrix = None if shortfall is None else shortfall.get(name)
        x = _dates(columns)
        if matrix is not None and np.asarray(matrix).shape[0] > 1 and np.asarray(matrix).shape[1] == x.size:
            cumulative = np.cumsum(np.asarray(matrix, dtype=float), axis=1) / 1e6
            p10, p50, p90 = np.percentile(cumulative, [10, 50, 90], axis=0)
            curves.fill_between(x, p10, p90, color=color, alpha=0.18, linewidth=0)
            curves.plot(x, p50, label=f"{name} (P50, band P10–P90)", linewidth=2, color=color, linestyle=styles[k % 4])
            continue
        deficit = np.cumsum(np.asarray(columns["baseline_exports_t"]) - np.asarray(columns["exports_t"])) / 1e6
        curves.plot(x, deficit, label=name, linewidth=2, color=color, linestyle=styles[k % 4])
    curves.set_ylabel("cumulative export deficit vs baseline, Mt")
    curves.axhline(0, color="grey", linewidth=0.8)
    curves.grid(alpha=0.3)
    curves.legend(fontsize=8, loc="upper left")
    _month_axis(curves)
    heading = "Disruption curves"
    if lost:
        heading += " (ensembles: median and P10–P90)" if shortfall else " (replication 0 of each)"
    curves.set_title(heading, fontsize=10)
    if lost:
        box = axes[1]
        names = list(lost)
        data = [np.asarray(lost[n], dtype=float)[~np.isnan(np.asarray(lost[n], dtype=float))] / 1e6 for n in names]
        import matplotlib

        major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
        horizontal = {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}
        parts = box.boxplot(data, whis=(10, 90), showfliers=False, patch_artist=True, widths=0.5, **horizontal)
        for k, patch in enumerate(parts["boxes"]):
            patch.set_facecolor(PALETTE[list(runs).index(names[k]) % len(PALETTE)] if names[k] in runs else "0.7")
            patch.set_alpha(0.6)
        rng = np.random.default_rng(0)  # jitter only; not a model draw
        for k, values in enumerate(data):
            box.scatter(values, k + 1 + rng.uniform(-0.15, 0.15, values.size), s=6, color="black", alpha=0.4)
        box.set_yticks(range(1, len(names) + 1), [_wrap(n) for n in names], fontsize=8)
        box.invert_yaxis()
        box.set_xlabel("lost export volume, Mt")
        box.set_title("Lost volume per replication\n(box P25–P75, whiskers P10–P90, dots: replications)", fontsize=10)
        box.grid(alpha=0.3, axis="x")
    if title:
        fig.suptitle(title)
    return fig


PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Okabe–Ito colour-blind-safe colours (blue, orange, green, purple, sky, vermilion, yellow, black)."""

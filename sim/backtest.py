"""Backtests: run the history scenarios and compare the model with what was reported.

Each file in ``scenarios/history/`` replays a disruption episode (its shocks as reported)
and lists, under ``observed:``, figures reported at the time: a lost volume, days without
loading, a field's output on the worst day. ``run_backtest`` runs every file once (its
seed, replication 0, via ``sim.engine.runner.run_replication``; a stochastic episode N
times, see Ensembles below), measures each figure's metric on the run and its baseline,
and says whether the model is inside the figure's tolerance. ``save_backtest`` writes ``backtest.csv``, ``backtest.png`` and ``manifest.json``
into a run folder, atomically (``sim.results.write_run_folder``).

Ensembles (stochastic episodes). The rule is the file's ``replications:`` key: a file with
``replications: N`` and N > 1 is backtested on replications 0..N-1 of its seed; any other
file (the key absent or 1) is run once, exactly as above, even if it has random elements
(its author then compares one draw). So the file says both that the episode is uncertain and
how many draws the comparison needs. Each replication is reduced at once to the values of
the file's figures (``figure_values``; NaN where a figure has no value), so memory is N x
figures floats plus replication 0, kept whole for the manifest. Per figure the row reports:

* ``model``: the P50 of the replications where the figure has a value, with ``model_p10`` and
  ``model_p90`` (percentiles as ``sim.ensemble.describe``: numpy "linear", undefined values
  left out; none if no replication has a value) and ``replications`` = N;
* ``share_agreeing``: the share of the N replications that agree with the figure, each judged
  exactly as a single run is (``judge``; a replication without a value does not agree);
* agreement (``inside``): ``share_agreeing >= ENSEMBLE_AGREEMENT`` (0.10). The real outcome
  is one draw; the model agrees with history when it gives what happened at least a
  1-in-10 chance, the same tail that the P10-P90 band leaves out on either side. Counting
  agreeing replications (rather than asking whether the reported band overlaps P10-P90)
  stays right when the outcome is bimodal (a shock that is or is not enforced: a band can
  span a gap where no replication lands) and treats zeros, ranges and undefined values as
  the single-run rule does; with N = 1 it is that rule (share 0 or 1). The ratio is
  P50 / reported. One episode cannot pin a probability: it can only reject a model that
  gives the real outcome less than a 10 % chance.

A file run once has no ensemble values (the CSV's ensemble columns are empty; the table has
no band column unless another file is an ensemble) and its rows and plot are as before.

Metric kinds (defined in ``sim.scenario.schema``: ``IMPACT_METRICS``, ``WINDOW_METRICS``):

* whole-run metrics are read from ``Impact.values`` (scenario against its baseline);
* windowed metrics are computed here from the daily series over the figure's window
  (both dates included). Tonnes *loaded* at a sea leg on day d are what went aboard its
  tankers: the change in oil aboard from day d to d+1 plus what they delivered on day d
  (so the leg must deliver to a market, and the last simulated day has no value).

Agreement: a reported ``value`` agrees when |model - value| <= tolerance x |value|; a range
``low``/``high`` (either may be absent) is widened by the tolerance on each side. A
reported zero cannot be matched relatively: the model must be within a rounding allowance
of it (1 t, 1 t/d, 0.001, or exactly 0 days). The ratio is model / value (for a range:
model / its middle, or / the one bound given); none when the reference is zero.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim import results
from sim.engine.record import RunRecord
from sim.engine.runner import Replication, run_replication
from sim.ensemble import describe
from sim.scenario.loader import LoadedScenario, load_scenario
from sim.scenario.schema import (
    CHANGE_METRICS,
    OBSERVED_METRICS,
    WINDOW_METRICS,
    ObservedFigure,
    ObservedWindow,
    Scenario,
)
from sim.textsafe import figure_text
from sim.units import format_quantity

if TYPE_CHECKING:  # matplotlib is imported where the plot is drawn
    from matplotlib.figure import Figure

__all__ = [
    "ENSEMBLE_AGREEMENT",
    "HISTORY_GLOB",
    "Backtest",
    "BacktestRow",
    "Episode",
    "backtest_csv",
    "backtest_figure",
    "backtest_manifest",
    "ensemble_rows",
    "ensemble_text",
    "ensemble_values",
    "figure_values",
    "format_value",
    "history_files",
    "judge",
    "load_episodes",
    "loadings",
    "measure",
    "run_backtest",
    "save_backtest",
]

HISTORY_GLOB = "scenarios/history/*.yaml"
"""The files ``routesim backtest`` runs when none are given."""

ZERO_ALLOWANCE = {"mass": 1.0, "rate": 1.0, "fraction": 1e-3, "duration": 1e-9}
"""How close the model must be to a reported zero, per dimension (t, t/d, 1, d)."""

TANK_FULL = 0.99
"""Tanks count as full at this share of their capacity."""

UNITS = {"mass": "t", "rate": "t/d", "fraction": "1", "duration": "d"}

ENSEMBLE_AGREEMENT = 0.10
"""An ensemble figure agrees when at least this share of its replications agrees (module docstring)."""


@dataclass(frozen=True)
class BacktestRow:
    """One reported figure against the model: values in t, t/d, d or plain numbers."""

    episode: str
    figure: str
    metric: str
    unit: str
    model: float | None
    reported: float | None
    low: float | None
    high: float | None
    ratio: float | None
    tolerance: float
    inside: bool
    why: str
    confidence: str
    source: str
    file: str
    replications: int | None = None  # N for an ensemble figure (model = P50); None for a single run
    model_p10: float | None = None
    model_p90: float | None = None
    share_agreeing: float | None = None

    @property
    def ensemble(self) -> bool:
        """Whether the row sums up several replications (the file's ``replications`` > 1)."""
        return self.replications is not None

    def reported_text(self) -> str:
        """The reported value or range, formatted with its unit."""
        if self.reported is not None:
            return format_value(self.reported, self.unit)
        if self.low is not None and self.high is not None:
            return f"{format_value(self.low, self.unit)} – {format_value(self.high, self.unit)}"
        if self.low is not None:
            return f"≥ {format_value(self.low, self.unit)}"
        return f"≤ {format_value(self.high, self.unit)}"


@dataclass
class Episode:
    """One history file: the loaded scenario, its run, and the rows of its figures."""

    loaded: LoadedScenario
    replication: Replication  # replication 0, kept whole
    rows: list[BacktestRow]
    values: np.ndarray | None = None  # ensembles: (replications, figures) figure values, NaN = none

    @property
    def replications(self) -> int:
        """Replications compared (1 for a single run)."""
        return 1 if self.values is None else int(self.values.shape[0])


@dataclass
class Backtest:
    """Every episode run, with all rows in file order."""

    episodes: list[Episode] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def rows(self) -> list[BacktestRow]:
        """All figures of all episodes."""
        return [row for episode in self.episodes for row in episode.rows]

    @property
    def disagreements(self) -> list[BacktestRow]:
        """Figures the model does not match within their tolerance."""
        return [row for row in self.rows if not row.inside]


def history_files(pattern: str = HISTORY_GLOB) -> list[Path]:
    """The history scenario files, sorted."""
    return [Path(p) for p in sorted(glob.glob(pattern))]


def format_value(value: float | None, unit: str) -> str:
    """A compact form of a value in a canonical unit ("3.41 Mt", "102.0 kt/d", "5 d", "0.71"; "none")."""
    return format_quantity(value, unit, missing="none")


def ensemble_text(row: BacktestRow) -> str:
    """The P10-P90 band, N and the share agreeing ("0 t – 4.06 Mt · 200 · 70 %"); "" for a single run."""
    if not row.ensemble:
        return ""
    share = "—" if row.share_agreeing is None else f"{row.share_agreeing:.0%}"
    band = f"{format_value(row.model_p10, row.unit)} – {format_value(row.model_p90, row.unit)}"
    return f"{band} · {row.replications} · {share}"


# -- measuring -----------------------------------------------------------------------


def loadings(record: RunRecord, scenario: Scenario, leg: str) -> np.ndarray:
    """Tonnes loaded aboard ``leg``'s tankers each day (NaN on the last day, which has no next day)."""
    j = record.leg_names.index(leg)
    aboard = record.leg_transit[:, j]
    routes = [i for i, name in enumerate(record.route_names) if scenario.network.routes[name].legs[-1] == leg]
    delivered = record.arrivals[:, routes].sum(axis=1)  # discharged at the market
    loaded = np.full(record.days, np.nan)
    loaded[:-1] = np.clip(aboard[1:] - aboard[:-1] + delivered[:-1], 0.0, None)
    return loaded


def _window(scenario: Scenario, window: ObservedWindow | None) -> slice:
    """The days of a window (both dates included) as a slice of the daily series."""
    assert window is not None
    first = (window.start - scenario.start_date).days
    last = (window.end - scenario.start_date).days
    return slice(first, last + 1)


def _routes(record: RunRecord, figure: ObservedFigure) -> list[int]:
    return [record.route_names.index(n) for n in figure.targets()]


def _mean_rate(kind: str, figure: ObservedFigure, record: RunRecord, scenario: Scenario, days: slice) -> float | None:
    """Mean t/d over ``days`` of the run: loaded aboard a leg, produced by sources, or sent into routes."""
    if kind == "loading":
        series = loadings(record, scenario, figure.targets()[0])[days]
        series = series[~np.isnan(series)]
    elif kind == "route":
        series = record.intake[days][:, _routes(record, figure)].sum(axis=1)
    else:
        series = record.produced[days][:, _sources(record, figure)].sum(axis=1)
    return float(series.mean()) if series.size else None


def _sources(record: RunRecord, figure: ObservedFigure) -> list[int]:
    names = figure.targets()
    return [record.source_names.index(n) for n in names] if names else list(range(len(record.source_names)))


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for hit in mask:
        run = run + 1 if hit else 0
        best = max(best, run)
    return best


def measure(figure: ObservedFigure, rep: Replication, scenario: Scenario) -> float | None:
    """The model's value of ``figure.metric`` (canonical units), or None if it does not exist (e.g. never full)."""
    metric = figure.metric
    if metric not in WINDOW_METRICS:
        value = rep.impact.values[metric]
        return None if value is None else float(value)
    kind = WINDOW_METRICS[metric][1]
    days = _window(scenario, figure.window)
    s, b = rep.scenario, rep.baseline
    if metric in CHANGE_METRICS:
        now = _mean_rate(kind, figure, s, scenario, days)
        before = _mean_rate(kind, figure, s, scenario, _window(scenario, figure.versus))
        return None if now is None or not before else now / before
    if kind == "route":
        sent = s.intake[days][:, _routes(s, figure)].sum(axis=1)
        if metric == "intake_t":
            return float(sent.sum())
        if metric == "intake_rate":
            return float(sent.mean())
        return float(_longest_run(sent <= 1.0))  # intake_stop_d
    if kind == "loading":
        leg = figure.targets()[0]
        ls, lb = loadings(s, scenario, leg)[days], loadings(b, scenario, leg)[days]
        keep = ~np.isnan(ls)
        ls, lb = ls[keep], lb[keep]
        if ls.size == 0:
            return None
        if metric == "loaded_t":
            return float(ls.sum())
        if metric == "loading_rate":
            return float(ls.mean())
        if metric == "loading_ratio":
            return float(ls.sum() / lb.sum()) if lb.sum() > 0 else None
        if metric == "loading_loss_t":
            return float(lb.sum() - ls.sum())
        return float(_longest_run(ls <= 1.0))  # loading_stop_d
    if kind == "tank":
        name = f"{figure.targets()[0]}.inlet"
        k = s.tank_names.index(name)
        level = s.tank_level[days, k]
        full = np.flatnonzero(level >= TANK_FULL * s.storage_capacity_t[name])
        return float(full[0]) if full.size else None
    cols = _sources(s, figure)
    ps, pb = s.produced[days][:, cols].sum(axis=1), b.produced[days][:, cols].sum(axis=1)
    if metric == "production_rate":
        return float(ps.mean())
    if metric == "production_loss_t":
        return float(pb.sum() - ps.sum())
    if metric == "min_production_ratio":
        ok = pb > 0
        return float((ps[ok] / pb[ok]).min()) if ok.any() else None
    extra = s.shut_in[days][:, cols].sum(axis=1) - b.shut_in[days][:, cols].sum(axis=1)
    return float(extra.sum())  # shut_in_window_t


def _slack(bound: float) -> float:
    """Float rounding allowance at a bound (a model value equal to it must count as inside)."""
    return 1e-9 * max(1.0, abs(bound))


def judge(model: float | None, figure: ObservedFigure) -> tuple[float | None, bool]:
    """(model / reported, whether the model is inside the tolerance); see the module docstring."""
    if model is None or not math.isfinite(model):
        return None, False
    tol = figure.tolerance
    if figure.value is not None:
        ref = figure.value
        if ref == 0:
            return None, abs(model) <= ZERO_ALLOWANCE[OBSERVED_METRICS[figure.metric]]
        return model / ref, abs(model - ref) <= tol * abs(ref) + _slack(ref)
    low = -math.inf if figure.low is None else figure.low - tol * abs(figure.low) - _slack(figure.low)
    high = math.inf if figure.high is None else figure.high + tol * abs(figure.high) + _slack(figure.high)
    inside = low <= model <= high
    if figure.low is not None and figure.high is not None:
        ref = (figure.low + figure.high) / 2
    else:
        ref = figure.low if figure.low is not None else figure.high
    assert ref is not None
    return (model / ref if ref != 0 else None), inside


def _row(
    loaded: LoadedScenario,
    name: str,
    figure: ObservedFigure,
    model: float | None,
    ratio: float | None,
    inside: bool,
    **ensemble: Any,
) -> BacktestRow:
    return BacktestRow(
        episode=loaded.scenario.name,
        figure=name,
        metric=figure.metric,
        unit=UNITS[OBSERVED_METRICS[figure.metric]],
        model=model,
        reported=figure.value,
        low=figure.low,
        high=figure.high,
        ratio=ratio,
        tolerance=figure.tolerance,
        inside=inside,
        why=figure.why,
        confidence=figure.confidence,
        source=figure.source,
        file=str(loaded.path),
        **ensemble,
    )


def _rows(loaded: LoadedScenario, rep: Replication) -> list[BacktestRow]:
    scenario = loaded.scenario
    rows = []
    for name, figure in scenario.observed.items():
        model = measure(figure, rep, scenario)
        rows.append(_row(loaded, name, figure, model, *judge(model, figure)))
    return rows


def figure_values(scenario: Scenario, rep: Replication) -> np.ndarray:
    """The model's value of each observed figure on one replication, in file order (NaN = none)."""
    values = [measure(figure, rep, scenario) for figure in scenario.observed.values()]
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def ensemble_values(scenario: Scenario, n: int, first: Replication | None = None) -> np.ndarray:
    """Figure values of replications 0..n-1 of the scenario's seed: shape (n, figures), NaN = none.

    Each run is reduced to its figure values before the next starts. ``first`` is
    replication 0 if the caller has already run it. Depends on (scenario, seed, n) only.
    """
    if n < 1:
        raise ValueError(f"an ensemble needs at least one replication, got {n}")
    if first is None:
        first = run_replication(scenario, scenario.seed, 0)
    if first.replication != 0 or first.seed != scenario.seed:
        raise ValueError("first must be replication 0 of the scenario's seed")
    values = np.empty((n, len(scenario.observed)))
    values[0] = figure_values(scenario, first)
    for r in range(1, n):
        values[r] = figure_values(scenario, run_replication(scenario, scenario.seed, r))
    return values


def _defined(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def ensemble_rows(loaded: LoadedScenario, values: np.ndarray) -> list[BacktestRow]:
    """One row per figure from its values over N replications (see the module docstring)."""
    scenario = loaded.scenario
    n = int(values.shape[0])
    rows = []
    for j, (name, figure) in enumerate(scenario.observed.items()):
        column = values[:, j]
        stats = describe(column)
        agreeing = sum(judge(_defined(v), figure)[1] for v in column)
        share = agreeing / n
        model = stats["p50"]
        ratio = judge(model, figure)[0]
        rows.append(
            _row(
                loaded,
                name,
                figure,
                model,
                ratio,
                share >= ENSEMBLE_AGREEMENT,
                replications=n,
                model_p10=stats["p10"],
                model_p90=stats["p90"],
                share_agreeing=share,
            )
        )
    return rows


def load_episodes(paths: Sequence[str | Path]) -> list[LoadedScenario]:
    """Load every file first (raises ScenarioError on the first bad one; nothing is run)."""
    return [load_scenario(path) for path in paths]


def run_backtest(
    episodes: Sequence[str | Path | LoadedScenario], progress: Callable[[int, int], None] | None = None
) -> Backtest:
    """Run each history scenario (its own seed) and compare it with its observed figures.

    A file with ``replications`` > 1 runs replications 0..N-1 (an ensemble, see the module
    docstring); any other runs once. ``progress(done, total)`` is called after each file
    (counted in replications).
    """
    started = time.perf_counter()
    loaded = [e if isinstance(e, LoadedScenario) else load_scenario(e) for e in episodes]
    out = Backtest()
    total = sum(max(item.scenario.replications, 1) for item in loaded)
    done = 0
    for item in loaded:
        if progress is not None:
            progress(done, total)
        done += max(item.scenario.replications, 1)
        rep = run_replication(item.scenario)
        n = item.scenario.replications
        if n > 1:
            values = ensemble_values(item.scenario, n, first=rep)
            out.episodes.append(Episode(item, rep, ensemble_rows(item, values), values))
        else:
            out.episodes.append(Episode(item, rep, _rows(item, rep)))
    if progress is not None:
        progress(total, total)
    out.wall_time_s = time.perf_counter() - started
    return out


# -- writing -------------------------------------------------------------------------

CSV_COLUMNS = (
    "episode",
    "figure",
    "metric",
    "unit",
    "model",
    "reported",
    "low",
    "high",
    "ratio",
    "tolerance",
    "inside",
    "why",
    "confidence",
    "source",
    "file",
    "replications",
    "model_p10",
    "model_p90",
    "share_agreeing",
)


def backtest_csv(rows: Sequence[BacktestRow]) -> str:
    """The rows as CSV text (numbers in canonical units, full precision; empty = none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = asdict(row)
        writer.writerow(
            ["" if data[c] is None else (repr(data[c]) if isinstance(data[c], float) else data[c]) for c in CSV_COLUMNS]
        )
    return buffer.getvalue()


def _accepted(row: BacktestRow) -> tuple[float, float] | None:
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


def _ratio_band(row: BacktestRow) -> tuple[float, float] | None:
    """An ensemble row's P10 and P90 as model / reported (None for a single run or a zero reference)."""
    if not row.ensemble or row.model_p10 is None or row.model_p90 is None:
        return None
    if row.reported is not None:
        ref = row.reported
    elif row.low is not None and row.high is not None:
        ref = (row.low + row.high) / 2
    else:
        ref = row.low if row.low is not None else row.high
    if not ref:
        return None
    return row.model_p10 / ref, row.model_p90 / ref


GRADES = {"H": "high", "M": "medium", "L": "low", "D": "derived", "U": "unverified"}
"""Confidence grades of reported figures."""


def _position(value: float | None, row: BacktestRow, left: float, right: float) -> tuple[float, str]:
    """Where a model value (or P10/P90) sits on the ratio axis, and '' or '<' / '>' when it is off the scale.

    A reported zero has no ratio: a value that matches it sits on 1, any other beyond the right edge.
    """
    if value is None:
        return left, "<"
    ref = row.reported
    if ref is None:
        ref = (row.low + row.high) / 2 if row.low is not None and row.high is not None else (row.low or row.high)
    if not ref:
        matched = abs(value) <= _slack(0.0 if ref is None else ref) or value == 0
        return (1.0, "") if matched else (right, ">")
    ratio = value / ref
    if ratio < left:
        return left, "<"
    if ratio > right:
        return right, ">"
    return ratio, ""


def backtest_figure(rows: Sequence[BacktestRow], title: str = "") -> Figure:
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
        label = f"{format_value(row.model, row.unit)} vs {row.reported_text()}"
        if row.model is None:
            label = f"no model value vs {row.reported_text()}"
        if row.ensemble:
            p10, p90 = format_value(row.model_p10, row.unit), format_value(row.model_p90, row.unit)
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


def backtest_manifest(backtest: Backtest, command: list[str] | None = None) -> dict[str, Any]:
    """Provenance: the files, their hashes and seeds, versions, and each episode's run manifest."""
    episodes = []
    for episode in backtest.episodes:
        rep = episode.replication
        manifest = results.manifest_dict(episode.loaded, rep, command, rep.wall_time_s)
        entry: dict[str, Any] = {
            "scenario": episode.loaded.scenario.name,
            "file": str(episode.loaded.path),
            "scenario_sha256": episode.loaded.sha256,
            "seed": rep.seed,
            "replication": rep.replication,
        }
        if episode.values is not None:  # an ensemble: replications 0..N-1 (manifest: replication 0's run)
            entry |= {"replications": episode.replications, "agreement_share": ENSEMBLE_AGREEMENT}
        entry |= {
            "figures": len(episode.rows),
            "inside": sum(r.inside for r in episode.rows),
            "manifest": manifest,
        }
        episodes.append(entry)
    first = episodes[0]["manifest"] if episodes else {}
    return {
        "routesim_backtest": 1,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "versions": first.get("versions", {}),
        "git_commit": first.get("git_commit"),
        "wall_time_s": backtest.wall_time_s,
        "figures": len(backtest.rows),
        "inside": sum(r.inside for r in backtest.rows),
        "seeds": {e["scenario"]: e["seed"] for e in episodes},
        "episodes": episodes,
    }


def _run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")[:-4] + "Z"


def save_backtest(
    backtest: Backtest,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    command: list[str] | None = None,
) -> Path:
    """Write ``<root>/backtest/<run-id>/`` (or ``out``): backtest.csv, backtest.png, manifest.json."""
    figure = backtest_figure(backtest.rows)
    files: dict[str, Any] = {
        "backtest.csv": backtest_csv(backtest.rows),
        "backtest.png": lambda path: figure.savefig(path, dpi=110),
        "manifest.json": json.dumps(backtest_manifest(backtest, command), indent=2, default=str) + "\n",
    }
    if out is None:
        return results.write_run_folder(Path(root) / "backtest" / _run_id(), files, unique=True)
    return results.write_run_folder(Path(out), files, force=force)

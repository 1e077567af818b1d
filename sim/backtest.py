"""Backtests: run the history scenarios and compare the model with what was reported.

Each file in ``scenarios/history/`` replays a disruption episode (its shocks as reported)
and lists, under ``observed:``, figures reported at the time: a lost volume, days without
loading, a field's output on the worst day. ``run_backtest`` runs every file once (its
seed, replication 0, via ``sim.engine.runner.run_replication``; a stochastic episode N
times, see Ensembles below), measures each figure's metric on the run and its baseline,
and says whether the model is inside the figure's tolerance. Writing is not done here:
``sim.results`` gives the contents of ``backtest.csv`` and ``manifest.json`` (``backtest_csv``,
``backtest_manifest``, re-exported here), ``sim.plots.backtest_figure`` draws ``backtest.png`` and
``sim.api.save_backtest`` writes the three into a run folder, atomically.

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

import glob
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.engine.record import RunRecord
from sim.engine.runner import Replication, run_replication
from sim.ensemble import describe, run_ensemble
from sim.results import backtest_csv, backtest_manifest
from sim.scenario.loader import LoadedScenario, load_scenario
from sim.scenario.schema import (
    CHANGE_METRICS,
    OBSERVED_METRICS,
    WINDOW_METRICS,
    ObservedFigure,
    ObservedWindow,
    Scenario,
)
from sim.units import format_quantity

__all__ = [
    "ENSEMBLE_AGREEMENT",
    "HISTORY_GLOB",
    "Backtest",
    "BacktestRow",
    "Episode",
    "backtest_csv",
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

    def band_text(self) -> str:
        """The P10-P90 band, N and the share agreeing ("0 t – 4.06 Mt · 200 · 70 %"); "" for a single run."""
        if not self.ensemble:
            return ""
        share = "—" if self.share_agreeing is None else f"{self.share_agreeing:.0%}"
        band = f"{format_value(self.model_p10, self.unit)} – {format_value(self.model_p90, self.unit)}"
        return f"{band} · {self.replications} · {share}"

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
    def agreement_share(self) -> float:
        """The share of agreeing replications an ensemble figure needs (``ENSEMBLE_AGREEMENT``)."""
        return ENSEMBLE_AGREEMENT

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
    return row.band_text()


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


def ensemble_values(scenario: Scenario, n: int, first: Replication | None = None, jobs: int = 1) -> np.ndarray:
    """Figure values of replications 0..n-1 of the scenario's seed: shape (n, figures), NaN = none.

    An ensemble (``sim.ensemble.run_ensemble``: its executors, ``jobs`` processes, the baseline
    shared when it is fixed) that keeps of each replication only its figure values. ``first`` is
    replication 0 if the caller has already run it. Depends on (scenario, seed, n) only.
    """
    if n < 1:
        raise ValueError(f"an ensemble needs at least one replication, got {n}")
    if first is not None and (first.replication != 0 or first.seed != scenario.seed):
        raise ValueError("first must be replication 0 of the scenario's seed")
    ensemble = run_ensemble(scenario, n, seed=scenario.seed, jobs=jobs, first=first, reduce=figure_values)
    assert ensemble.reduced is not None
    return ensemble.reduced


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

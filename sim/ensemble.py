"""Ensembles: N replications of a scenario, run by an evaluator (``sim.executors``), then aggregated.

Replication ``r`` draws every shock from its own stream keyed ``(seed, r, 1, shock)`` (see
``sim.engine.shocks.shock_rng``) and its baseline uses the same random numbers, so a
replication's result depends on ``(scenario, seed, r)`` only: whichever process or Dask worker
runs it, in whatever batch and order, the ensemble is bit-for-bit the same.

What is kept of each replication is one row: its scalar metrics (the ``Impact`` values), how
many declared shocks happened, and every drawn input (per declared shock: whether it happened,
its occurrences, start, duration, factor, multiplier; ``sim.executors.input_columns``). Rows live
in memory (``run_ensemble``) or in ``ensemble.parquet`` read back a column at a time (a streamed
run folder, ``sim.streaming``): statistics never need more than one column at once.

The daily export shortfall (for the fan chart) is kept only for the first ``fan_rows(n, days)``
replications (at most FAN_BYTES of floats: a few thousand replications of a year), so memory
stays flat however large N is; the fan's percentiles are those of that deterministic subset.

Statistics: mean, sample standard deviation (ddof 1), min, P5/P10/P50/P90/P95 and max per metric,
percentiles by numpy's default "linear" method (Hyndman & Fan type 7), over the replications
where the metric is defined (time to survive and time to recover are undefined when storage
never fills or exports do not recover within the horizon); the 95 % interval of the mean, its
half-width relative to the mean and the N that would bring it to a target precision;
exceedance probabilities P(metric > threshold) with a Wilson 95 % interval; and statistics
conditional on each declared shock having happened.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.batches import (
    FAULT_ENV,
    BatchContext,
    BatchResult,
    BatchTask,
    batch_size,
    input_columns,
    input_names,
    metric_row,
    plan_batches,
    prime_baseline,
)
from sim.engine.metrics import METRICS, Impact
from sim.engine.runner import Replication, run_replication
from sim.executors import Evaluator, ExecutorError, evaluator
from sim.limits import FAN_BYTES
from sim.scenario.schema import ENSEMBLE_SCALARS, Scenario
from sim.stats import (
    FAN_PERCENTILES,
    PERCENTILE_METHOD,
    PERCENTILES,
    PRECISION,
    describe,
    exceedance,
    fan_percentiles,
    parse_threshold,
    wilson_interval,
)

__all__ = [
    "CONDITIONAL_KEYS",
    "FAN_BYTES",
    "FAN_PERCENTILES",
    "PERCENTILES",
    "PERCENTILE_METHOD",
    "PRECISION",
    "Ensemble",
    "EnsembleError",
    "Row",
    "column_names",
    "describe",
    "exceedance",
    "fan_percentiles",
    "fan_rows",
    "metric_names",
    "parse_threshold",
    "row_of",
    "run_ensemble",
    "shock_names",
    "wilson_interval",
]

CONDITIONAL_KEYS = ("n", "defined", "mean", "p5", "p50", "p95")
"""What the statistics conditional on a shock having happened report per metric."""

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of replications."""

MAX_CHUNK = 50
"""Most replications one worker task runs (kept for compatibility: ``sim.executors.MAX_BATCH``)."""

EnsembleError = ExecutorError
"""The ensemble could not run to the end (workers kept dying); an alias of ExecutorError."""


@dataclass(frozen=True)
class Row:
    """What an ensemble keeps of one replication: metric values, shocks that happened, daily shortfall."""

    replication: int
    values: np.ndarray  # float64 per metric (NaN where the metric is undefined)
    happened: np.ndarray  # bool per declared shock (a recurring one: at least one occurrence)
    occurrences: np.ndarray  # int per declared shock: occurrences that happened (0 or 1 for a one-off shock)
    shortfall: np.ndarray  # float64 per day: baseline exports minus scenario exports, t


def metric_names(impact: Impact) -> list[str]:
    """The metrics an ensemble keeps: every metric of the registry, in its order."""
    return [name for name in METRICS if name in impact.values]


def row_of(rep: Replication, names: Sequence[str], declared: int) -> Row:
    """Reduce a replication to one row (counts per declared shock, by index: a recurring shock
    realises a varying number of occurrences)."""
    occurrences = np.zeros(declared, dtype=np.int64)
    for shock in rep.shocks:
        if shock.happened:
            occurrences[shock.index] += 1
    return Row(
        replication=rep.replication,
        values=metric_row(rep, names),
        happened=occurrences > 0,
        occurrences=occurrences,
        shortfall=rep.baseline.daily_exports() - rep.scenario.daily_exports(),
    )


def shock_names(scenario: Scenario) -> list[str]:
    """The declared shocks' names, in file order (one per shock, however often it recurs)."""
    return [shock.name or f"{shock.kind} {shock.target}" for shock in scenario.shocks]


def column_names(metrics: Sequence[str], declared: int) -> list[str]:
    """The columns of an ensemble table (ensemble.parquet), in order."""
    return ["replication", "seed", "shocks_happened", *metrics, *input_names(declared)]


def fan_rows(n: int, days: int) -> int:
    """How many replications (the first ones) keep their daily shortfall for the fan chart."""
    return int(min(n, max(1, FAN_BYTES // (8 * max(1, days)))))


@dataclass
class Ensemble:
    """The kept results of N replications: one row per replication (in memory, or read from
    ensemble.parquet a column at a time), and the daily shortfall of the first ``fan_rows``.

    ``table`` is a pandas-free table (dict of equal-length numpy arrays: replication, seed,
    shocks_happened, each metric, each drawn input); ``stats`` aggregates each metric.
    """

    seed: int
    metrics: list[str]
    units: dict[str, str]
    shock_names: list[str]  # one per declared shock
    happened_by_shock: np.ndarray  # (shocks,) replications in which each declared shock happened
    shortfall: np.ndarray  # (fan rows, days): replications 0..fan rows-1
    n_replications: int
    columns: dict[str, np.ndarray] | None = field(default=None, repr=False)
    reader: Callable[[str], np.ndarray] | None = field(default=None, repr=False)
    """Reads one column (when the rows are on disk, not in ``columns``)."""
    executor: dict[str, Any] = field(default_factory=lambda: {"executor": "serial", "workers": 1})
    wall_time_s: float = 0.0
    thresholds: dict[str, float] = field(default_factory=dict)
    """Exceedance thresholds per metric (canonical units), for ``exceedance()`` and the summary."""
    precision: float = PRECISION
    reduced: np.ndarray | None = field(default=None, repr=False)
    """(n, width): what ``run_ensemble(reduce=...)`` kept of each replication, by replication number."""
    _stats: dict[str, dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of replications."""
        return self.n_replications

    @property
    def jobs(self) -> int:
        """Workers that ran the ensemble (1 for serial)."""
        return int(self.executor.get("workers", 1))

    @property
    def column_names(self) -> list[str]:
        """The table's columns, in order."""
        return column_names(self.metrics, len(self.shock_names))

    def column(self, name: str) -> np.ndarray:
        """One column of the table (a copy when read from disk)."""
        if name not in self.column_names:
            raise KeyError(name)
        if self.columns is not None:
            return self.columns[name]
        if self.reader is None:
            raise RuntimeError("this ensemble has neither its columns nor a reader")
        return self.reader(name)

    @property
    def table(self) -> dict[str, np.ndarray]:
        """Every column as named numpy arrays (all in memory: for large N prefer ``column``)."""
        return {name: np.array(self.column(name), copy=True) for name in self.column_names}

    @property
    def values(self) -> np.ndarray:
        """The metric values, shape (n, metrics)."""
        return np.column_stack([self.column(name) for name in self.metrics])

    @property
    def happened(self) -> np.ndarray:
        """Declared shocks that happened, per replication."""
        return self.column("shocks_happened")

    def __getitem__(self, metric: str) -> np.ndarray:
        """The values of one metric across replications (NaN where undefined)."""
        if metric not in self.metrics:
            raise KeyError(metric)
        return self.column(metric)

    @property
    def stats(self) -> dict[str, dict[str, Any]]:
        """Per metric: unit, n, defined, mean, std, min, p5 .. p95, max, mean_ci95, rel_half_width,
        n_for_precision (at ``precision``)."""
        if self._stats is None:
            self._stats = {
                name: {"unit": self.units.get(name, "1"), **describe(self.column(name), self.precision)}
                for name in self.metrics
            }
        return self._stats

    def exceedance(self) -> dict[str, dict[str, Any]]:
        """Per threshold metric: P(metric > threshold) with its Wilson 95 % interval."""
        return {name: exceedance(self.column(name), value) for name, value in self.thresholds.items()}

    def conditional(self) -> list[dict[str, Any]]:
        """Per declared shock: statistics of each metric over the replications where it happened."""
        masks = [self.column(f"shocks.{i}.happened").astype(bool) for i in range(len(self.shock_names))]
        out: list[dict[str, Any]] = [
            {"name": name, "happened": int(mask.sum()), "metrics": {}}
            for name, mask in zip(self.shock_names, masks, strict=True)
        ]
        for metric in self.metrics:
            values = self.column(metric)
            for entry, mask in zip(out, masks, strict=True):
                stats = describe(values[mask])
                entry["metrics"][metric] = {k: stats[k] for k in CONDITIONAL_KEYS}
        return out

    def fan(self, quantiles: Sequence[float] = FAN_PERCENTILES, window: int = 7) -> dict[str, np.ndarray]:
        """Mean and percentiles per day of the trailing-mean daily export shortfall (t/d), over the
        first ``fan_rows`` replications (all of them unless N is large)."""
        return fan_percentiles(self.shortfall, quantiles, window)

    def shock_shares(self) -> list[dict[str, Any]]:
        """Per shock: its name, in how many replications it happened, and the share."""
        return [
            {"name": name, "happened": int(k), "share": float(k) / self.n if self.n else math.nan}
            for name, k in zip(self.shock_names, self.happened_by_shock, strict=True)
        ]


# --- running -------------------------------------------------------------------------------------


class TableBuilder:
    """Collects batch results into the columns of an in-memory table, by replication number."""

    def __init__(self, n: int, seed: int, metrics: Sequence[str], declared: int, days: int) -> None:
        self.metrics = list(metrics)
        self.declared = declared
        self.columns: dict[str, np.ndarray] = {
            "replication": np.arange(n, dtype=np.int64),
            "seed": np.full(n, seed, dtype=np.int64),
            "shocks_happened": np.zeros(n, dtype=np.int64),
        }
        self.values = np.empty((n, len(self.metrics)))
        self.inputs: dict[str, np.ndarray] = {}
        self.shortfall = np.empty((fan_rows(n, days), days))
        self.reduced: np.ndarray | None = None

    def add(self, result: BatchResult) -> None:
        """Store one batch's rows (and its fan rows)."""
        a, b = result.start, result.stop
        self.values[a:b] = result.values
        self.columns["shocks_happened"][a:b] = result.shocks_happened
        for name, column in result.inputs.items():
            if name not in self.inputs:
                self.inputs[name] = np.zeros(self.values.shape[0], dtype=column.dtype)
            self.inputs[name][a:b] = column
        k = result.shortfall.shape[0]
        if k:
            self.shortfall[a : a + k] = result.shortfall
        if result.reduced is not None:
            if self.reduced is None:
                self.reduced = np.full((self.values.shape[0], result.reduced.shape[1]), np.nan)
            self.reduced[a:b] = result.reduced

    def table(self) -> dict[str, np.ndarray]:
        """The finished columns, in table order."""
        out = dict(self.columns)
        for j, name in enumerate(self.metrics):
            out[name] = self.values[:, j]
        for name in input_names(self.declared):
            out[name] = self.inputs[name]
        return out


def result_of(
    first: Replication,
    metrics: Sequence[str],
    declared: int,
    fan: int,
    reduce: Callable[[Scenario, Replication], np.ndarray] | None = None,
    scenario: Scenario | None = None,
) -> BatchResult:
    """Replication 0, already run whole by the caller, as a one-row batch result (``reduce``: of ``scenario``)."""
    return BatchResult(
        start=first.replication,
        stop=first.replication + 1,
        values=metric_row(first, metrics)[None, :],
        inputs=input_columns([first.shocks], declared),
        shortfall=(first.baseline.daily_exports() - first.scenario.daily_exports())[None, :]
        if first.replication < fan
        else np.empty((0, first.scenario.days)),
        shocks_happened=np.array([len({s.index for s in first.shocks if s.happened})], dtype=np.int64),
        reduced=None if reduce is None or scenario is None else np.array([reduce(scenario, first)]),
    )


def tasks_for(seed: int, ranges: Iterable[tuple[int, int]], fan: int, fault: str | None = None) -> Iterable[BatchTask]:
    """The batch tasks of ``ranges`` of replications."""
    for a, b in ranges:
        yield BatchTask(seed, a, b, fan, fault)


def run_ensemble(
    scenario: Scenario,
    n: int,
    seed: int | None = None,
    jobs: int = 1,
    first: Replication | None = None,
    progress: Progress | None = None,
    *,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    batch: int | None = None,
    evaluator_: Evaluator | None = None,
    thresholds: dict[str, float] | None = None,
    precision: float = PRECISION,
    reduce: Callable[[Scenario, Replication], np.ndarray] | None = None,
) -> Ensemble:
    """Run replications 0..n-1 of ``scenario`` and keep their rows in memory.

    ``executor`` is ``serial``, ``processes`` or ``dask`` (default: processes when ``jobs`` > 1),
    with ``workers`` workers (default ``jobs``; Dask: ``scheduler`` or a LocalCluster), in batches
    of ``batch`` replications; or pass a started ``evaluator_``. ``first`` is replication 0 if the
    caller has already run it (it keeps that one whole). The result depends on none of these:
    each replication's numbers come from its own seed streams, and rows are stored by index.
    ``reduce(scenario, replication)`` (a module-level function) gives values to keep of each
    replication besides its row, in ``Ensemble.reduced`` (a backtest keeps its figures' values).
    """
    if n < 1:
        raise ValueError(f"an ensemble needs at least one replication, got {n}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    seed = scenario.seed if seed is None else seed
    started = time.perf_counter()
    if first is None:
        first = run_replication(scenario, seed, 0)
    if first.replication != 0 or first.seed != seed:
        raise ValueError("first must be replication 0 of the same seed")
    names = metric_names(first.impact)
    if len(names) + 1 > ENSEMBLE_SCALARS:
        raise RuntimeError(f"{len(names)} metrics per replication exceed ENSEMBLE_SCALARS={ENSEMBLE_SCALARS}")
    declared = len(scenario.shocks)
    days = first.scenario.days
    fan = fan_rows(n, days)
    builder = TableBuilder(n, seed, names, declared, days)
    builder.add(result_of(first, names, declared, fan, reduce, scenario))
    done = 1
    if progress:
        progress(done, n)
    context = BatchContext.of(scenario, names, reduce)
    prime_baseline(context, first.baseline)  # serial batches reuse replication 0's baseline
    executor = executor or ("processes" if jobs > 1 else "serial")
    workers = workers or jobs
    if executor == "processes" and (n <= 2 or workers == 1):
        executor = "serial"  # not worth starting processes
    size = batch or batch_size(n - 1, workers)
    tasks = tasks_for(seed, plan_batches(1, n, size), fan, os.environ.get(FAULT_ENV))
    ev = evaluator_ or evaluator(executor, workers, scheduler)
    described = ev.describe()
    if evaluator_ is not None:
        results = evaluator_.imap(context, tasks)
        done = _collect(results, builder, progress, done, n)
    else:
        with ev:
            described = ev.describe()
            done = _collect(ev.imap(context, tasks), builder, progress, done, n)
    table = builder.table()
    by_shock = np.array([int(table[f"shocks.{i}.happened"].sum()) for i in range(declared)], dtype=np.int64)
    return Ensemble(
        seed=seed,
        metrics=names,
        units={k: first.impact.units[k] for k in names},
        shock_names=shock_names(scenario),
        happened_by_shock=by_shock,
        shortfall=builder.shortfall,
        n_replications=n,
        columns=table,
        executor=described,
        wall_time_s=time.perf_counter() - started,
        thresholds=dict(thresholds or {}),
        precision=precision,
        reduced=builder.reduced,
    )


def _collect(
    results: Iterable[BatchResult], builder: TableBuilder, progress: Progress | None, done: int, n: int
) -> int:
    for result in results:
        builder.add(result)
        done += result.stop - result.start
        if progress:
            progress(done, n)
    return done

"""Ensembles: N replications of a scenario, run serially or in local processes, then aggregated.

Replication ``r`` draws every shock from its own stream keyed ``(seed, r, 1, shock)`` (see
``sim.engine.shocks.shock_rng``) and its baseline uses the same random numbers, so a
replication's result depends on ``(scenario, seed, r)`` only: whichever process runs it,
in whatever order, the ensemble is bit-for-bit the same for any number of jobs.

Memory stays bounded: each replication's full run record is dropped as soon as its
scalar metrics (the ``Impact`` values), which shocks happened, and its daily export
shortfall against the baseline (for the fan chart) are taken from it. Replication 0 is
kept whole by the caller (its summary, series and disruption plot are written as for a
single run). ``sim.scenario.schema.ensemble_estimate`` bounds what this keeps.

Statistics: mean, sample standard deviation (ddof 1), min, P10/P50/P90 and max per metric,
percentiles by numpy's default "linear" method (Hyndman & Fan type 7), over the
replications where the metric is defined (time to survive and time to recover are
undefined when storage never fills or exports do not recover within the horizon).
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.engine.metrics import METRICS, Impact
from sim.engine.runner import Replication, fixed_baseline, run_replication
from sim.scenario.schema import ENSEMBLE_SCALARS, Scenario

__all__ = [
    "PERCENTILES",
    "PERCENTILE_METHOD",
    "Ensemble",
    "EnsembleError",
    "Row",
    "describe",
    "fan_percentiles",
    "metric_names",
    "row_of",
    "run_ensemble",
    "shock_names",
]

PERCENTILES = (10, 50, 90)
"""Percentiles reported per metric."""

PERCENTILE_METHOD = "linear"
"""numpy.percentile's method (its default; Hyndman & Fan type 7)."""

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of replications."""

MAX_CHUNK = 50
"""Most replications one worker task runs (smaller chunks: smoother progress, more overhead)."""


class EnsembleError(RuntimeError):
    """The ensemble could not run to the end (a worker process died)."""


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
    """Reduce a replication to what the ensemble keeps (the run records can then be freed).

    ``declared`` is the number of shocks in the scenario file: a recurring shock realises a
    varying number of occurrences, so what happened is counted per declared shock, by index.
    """
    values = np.array([math.nan if rep.impact.values[k] is None else float(rep.impact.values[k]) for k in names])
    occurrences = np.zeros(declared, dtype=np.int64)
    for shock in rep.shocks:
        if shock.happened:
            occurrences[shock.index] += 1
    return Row(
        replication=rep.replication,
        values=values,
        happened=occurrences > 0,
        occurrences=occurrences,
        shortfall=rep.baseline.daily_exports() - rep.scenario.daily_exports(),
    )


def shock_names(scenario: Scenario) -> list[str]:
    """The declared shocks' names, in file order (one per shock, however often it recurs)."""
    return [shock.name or f"{shock.kind} {shock.target}" for shock in scenario.shocks]


def describe(values: np.ndarray) -> dict[str, Any]:
    """Mean, std (ddof 1), min, P10/P50/P90, max and a 95 % interval of the mean, over defined values.

    NaN marks a replication where the metric is undefined; ``defined`` counts the others.
    Statistics that need more values than there are are None.
    """
    values = np.asarray(values, dtype=float)
    defined = values[~np.isnan(values)]
    out: dict[str, Any] = {"n": int(values.size), "defined": int(defined.size)}
    if defined.size == 0:
        return out | dict.fromkeys(("mean", "std", "min", *[f"p{q}" for q in PERCENTILES], "max", "mean_ci95"))
    mean = float(defined.mean())
    std = float(defined.std(ddof=1)) if defined.size > 1 else None
    quantiles = np.percentile(defined, PERCENTILES, method=PERCENTILE_METHOD)
    out |= {"mean": mean, "std": std, "min": float(defined.min())}
    out |= {f"p{q}": float(v) for q, v in zip(PERCENTILES, quantiles, strict=True)}
    out["max"] = float(defined.max())
    if std is None:
        out["mean_ci95"] = None
    else:
        half = 1.96 * std / math.sqrt(defined.size)
        out["mean_ci95"] = [mean - half, mean + half]
    return out


def fan_percentiles(
    shortfall: np.ndarray, quantiles: Sequence[float] = PERCENTILES, window: int = 7, block: int = 64
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
        lo = max(0, a - window + 1)
        cs = np.zeros((n, b - lo + 1))
        np.cumsum(shortfall[:, lo:b], axis=1, out=cs[:, 1:])
        day = np.arange(a, b)
        ends = day + 1 - lo
        begins = np.maximum(0, day - window + 1) - lo
        rolling = (cs[:, ends] - cs[:, begins]) / (ends - begins)
        out["mean"][a:b] = rolling.mean(axis=0)
        quantile_rows = np.percentile(rolling, list(quantiles), axis=0, method=PERCENTILE_METHOD)
        for q, v in zip(quantiles, quantile_rows, strict=True):
            out[f"p{q:g}"][a:b] = v
    return out


@dataclass
class Ensemble:
    """The kept results of N replications: one row per replication, and the daily shortfall.

    ``table`` is a pandas-free table (dict of equal-length numpy arrays: replication, seed,
    shocks_happened, then each metric); ``stats`` aggregates each metric.
    """

    seed: int
    metrics: list[str]
    units: dict[str, str]
    values: np.ndarray  # (n, metrics)
    happened: np.ndarray  # (n,) declared shocks that happened per replication
    shock_names: list[str]  # one per declared shock
    happened_by_shock: np.ndarray  # (shocks,) replications in which each declared shock happened
    shortfall: np.ndarray  # (n, days)
    jobs: int = 1
    wall_time_s: float = 0.0
    _stats: dict[str, dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of replications."""
        return int(self.values.shape[0])

    @property
    def table(self) -> dict[str, np.ndarray]:
        """One row per replication (the content of ensemble.csv) as named numpy columns."""
        cols: dict[str, np.ndarray] = {
            "replication": np.arange(self.n),
            "seed": np.full(self.n, self.seed, dtype=np.int64),
            "shocks_happened": self.happened.copy(),
        }
        for j, name in enumerate(self.metrics):
            cols[name] = self.values[:, j].copy()
        return cols

    def __getitem__(self, metric: str) -> np.ndarray:
        """The values of one metric across replications (NaN where undefined)."""
        return self.values[:, self.metrics.index(metric)]

    @property
    def stats(self) -> dict[str, dict[str, Any]]:
        """Per metric: unit, n, defined, mean, std, min, p10, p50, p90, max, mean_ci95."""
        if self._stats is None:
            self._stats = {
                name: {"unit": self.units.get(name, "1"), **describe(self.values[:, j])}
                for j, name in enumerate(self.metrics)
            }
        return self._stats

    def fan(self, quantiles: Sequence[float] = PERCENTILES, window: int = 7) -> dict[str, np.ndarray]:
        """Mean and percentiles per day of the trailing-mean daily export shortfall (t/d)."""
        return fan_percentiles(self.shortfall, quantiles, window)

    def shock_shares(self) -> list[dict[str, Any]]:
        """Per shock: its name, in how many replications it happened, and the share."""
        return [
            {"name": name, "happened": int(k), "share": float(k) / self.n if self.n else math.nan}
            for name, k in zip(self.shock_names, self.happened_by_shock, strict=True)
        ]


# --- running -------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}
"""A worker process's scenario and metric names, set once by its initializer."""


def _init_worker(scenario: Scenario, names: list[str]) -> None:
    _exit_with_parent()
    _WORKER["scenario"] = scenario
    _WORKER["names"] = names


PARENT_POLL_S = 1.0
"""How often a worker checks its parent when it cannot wait on it (no multiprocessing parent handle)."""


def _exit_with_parent() -> None:
    """Make this worker exit as soon as the process that started it is gone (kill -9, kill -TERM, a crash).

    Otherwise a killed ``routesim run`` would leave its workers (and the resource tracker they keep
    open) blocked for good. A daemon thread waits on the parent's sentinel (a pipe that closes when
    the parent dies), or polls ``os.getppid()`` where there is none, then ends the process at once.
    """
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    parent_pid = os.getppid()

    def watch() -> None:
        if sentinel is not None:
            multiprocessing.connection.wait([sentinel])
        else:
            while os.getppid() == parent_pid:
                time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="routesim-exit-with-parent", daemon=True).start()


def _run_chunk(seed: int, replications: list[int]) -> list[Row]:
    """Run replications in a worker process; return only what the ensemble keeps."""
    scenario, names = _WORKER["scenario"], _WORKER["names"]
    declared = len(scenario.shocks)
    rows = []
    for r in replications:
        rep = run_replication(scenario, seed, r, _WORKER.get("baseline"))
        if fixed_baseline(scenario):
            _WORKER["baseline"] = rep.baseline  # the same run in every replication: make it once
        rows.append(row_of(rep, names, declared))
    return rows


def _chunks(first: int, n: int, size: int) -> Iterator[list[int]]:
    for start in range(first, n, size):
        yield list(range(start, min(n, start + size)))


def run_ensemble(
    scenario: Scenario,
    n: int,
    seed: int | None = None,
    jobs: int = 1,
    first: Replication | None = None,
    progress: Progress | None = None,
) -> Ensemble:
    """Run replications 0..n-1 of ``scenario`` (``jobs`` processes) and keep their rows.

    ``first`` is replication 0 if the caller has already run it (it keeps that one whole).
    The result does not depend on ``jobs``: each replication's numbers come from its own
    seed streams, and rows are stored by replication index.
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
    row0 = row_of(first, names, declared)
    days = row0.shortfall.size
    values = np.empty((n, len(names)))
    happened = np.zeros(n, dtype=np.int64)
    shortfall = np.empty((n, days))
    by_shock = np.zeros(declared, dtype=np.int64)

    def keep(row: Row) -> None:
        values[row.replication] = row.values
        happened[row.replication] = int(row.happened.sum())
        by_shock[:] += row.happened
        shortfall[row.replication] = row.shortfall

    keep(row0)
    done = 1
    if progress:
        progress(done, n)
    size = max(1, min(MAX_CHUNK, math.ceil((n - 1) / (jobs * 4)))) if n > 1 else 1
    # Without background shocks the baseline is the same run in every replication: make it once.
    baseline = first.baseline if fixed_baseline(scenario) else None
    if jobs == 1 or n <= 2:
        for chunk in _chunks(1, n, size):
            for r in chunk:
                keep(row_of(run_replication(scenario, seed, r, baseline), names, declared))
            done += len(chunk)
            if progress:
                progress(done, n)
    else:
        try:
            done = _run_in_processes(scenario, names, seed, n, jobs, size, keep, progress, done)
        except BrokenProcessPool:
            raise EnsembleError(
                "a worker process died (out of memory, or killed); in a script, start ensembles with jobs > 1 "
                "under `if __name__ == '__main__':` (worker processes import the main module)"
            ) from None
    return Ensemble(
        seed=seed,
        metrics=names,
        units={k: first.impact.units[k] for k in names},
        values=values,
        happened=happened,
        shock_names=shock_names(scenario),
        happened_by_shock=by_shock,
        shortfall=shortfall,
        jobs=jobs,
        wall_time_s=time.perf_counter() - started,
    )


@contextmanager
def _stderr_to_devnull() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment (what a child started now inherits)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (now, and when it is relaunched) with no stderr.

    The tracker is a helper process that unlinks the pool's semaphores. When it is killed, the one
    multiprocessing relaunches prints a traceback for every semaphore it never saw registered; after
    a killed run it warns of "leaked" semaphores it then cleans up. Neither is ours to report, so its
    output goes to /dev/null. POSIX only (Windows has no tracker); a no-op if the internals differ.
    """
    if os.name != "posix":
        return
    try:
        from multiprocessing import resource_tracker

        tracker = resource_tracker._resource_tracker
    except (ImportError, AttributeError):
        return
    if getattr(tracker, "_routesim_quiet", False) or not callable(getattr(tracker, "ensure_running", None)):
        return
    start = tracker.ensure_running

    def ensure_running() -> None:
        with _stderr_to_devnull():
            start()

    tracker.ensure_running = ensure_running
    tracker._routesim_quiet = True


def _run_in_processes(
    scenario: Scenario,
    names: list[str],
    seed: int,
    n: int,
    jobs: int,
    size: int,
    keep: Callable[[Row], None],
    progress: Progress | None,
    done: int,
) -> int:
    """Run replications 1..n-1 in ``jobs`` fresh processes, at most 2 x jobs chunks in flight."""
    chunks = _chunks(1, n, size)
    workers = min(jobs, math.ceil((n - 1) / size))
    # "spawn": fresh interpreters, safe with the threads a caller may run (a progress bar),
    # and the same on Linux, macOS and Windows.
    context = multiprocessing.get_context("spawn")
    _quiet_resource_tracker()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(scenario, names)
    ) as pool:
        pending: set[Future] = set()
        try:
            while True:
                while len(pending) < 2 * workers:
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    pending.add(pool.submit(_run_chunk, seed, chunk))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    rows = future.result()
                    for row in rows:
                        keep(row)
                    done += len(rows)
                if progress:
                    progress(done, n)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return done

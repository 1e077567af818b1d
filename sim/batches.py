"""Batches of replications: what travels to a worker (``BatchTask``), what every batch of one
ensemble shares (``BatchContext``), what comes back (``BatchResult``), and running one batch.

Replications travel in batches (a seed and a range of replication numbers) and come back as
compact arrays: one row of metric values and drawn inputs per replication (and, if the caller
asked, a reducer's values), and the daily shortfall of the first few replications for the fan
chart. A replication's numbers depend on ``(scenario, seed, replication)`` only, so whichever
evaluator (``sim.executors``) runs a batch, with whatever batch size, its rows are the same.
Where the baseline is the same in every replication (``fixed_baseline``), each worker process
makes it once and keeps it for the batches it runs after.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.engine.record import RunRecord
from sim.engine.runner import Replication, fixed_baseline, run_replication
from sim.engine.shocks import RealizedShock
from sim.scenario.schema import Scenario

__all__ = [
    "FAULT_ENV",
    "INPUT_FIELDS",
    "MAX_BATCH",
    "BatchContext",
    "BatchResult",
    "BatchTask",
    "batch_size",
    "input_columns",
    "input_names",
    "metric_row",
    "plan_batches",
    "prime_baseline",
    "run_batch",
]


MAX_BATCH = 50
"""Most replications in one task (a Dask task costs a few ms; a replication ~10-40 ms)."""

FAULT_ENV = "ROUTESIM_TEST_KILL_WORKER"
"""Test hook: ``REPLICATION:MARKER``. The process that runs the batch holding REPLICATION exits at
once (``os._exit``) unless the file MARKER exists, which it creates first: the batch fails once
and its retry succeeds. Read in the parent when tasks are made, so it reaches any worker."""

INPUT_FIELDS = ("happened", "occurrences", "start_d", "duration_d", "factor", "multiplier")
"""What is recorded of each declared shock per replication (columns ``shocks.<index>.<field>``)."""


@dataclass(frozen=True)
class BatchContext:
    """What every batch of one ensemble shares: sent once to each worker."""

    scenario: Scenario
    metrics: tuple[str, ...]
    token: str = ""
    """Identifies the scenario (and so its baseline) in a worker's cache."""
    reduce: Callable[[Scenario, Replication], np.ndarray] | None = None
    """A caller's values of each replication, kept beside its row (a module-level function: it travels to workers)."""

    @staticmethod
    def of(
        scenario: Scenario,
        metrics: Iterable[str],
        reduce: Callable[[Scenario, Replication], np.ndarray] | None = None,
    ) -> BatchContext:
        """The context of ``scenario``'s ensemble keeping ``metrics`` (token: the scenario's hash)."""
        token = hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()
        return BatchContext(scenario, tuple(metrics), token, reduce)


@dataclass(frozen=True)
class BatchTask:
    """Replications ``start..stop-1`` of ``seed``; those below ``fan_rows`` return their daily shortfall."""

    seed: int
    start: int
    stop: int
    fan_rows: int = 0
    fault: str | None = None


@dataclass
class BatchResult:
    """One batch's rows: metric values and drawn inputs per replication, and the fan rows' shortfall."""

    start: int
    stop: int
    values: np.ndarray  # (k, metrics) float64, NaN where undefined
    inputs: dict[str, np.ndarray]  # column name -> (k,) array (see input_names)
    shortfall: np.ndarray  # (replications below fan_rows, days) float64
    shocks_happened: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    reduced: np.ndarray | None = None  # (k, width): BatchContext.reduce of each replication, if it has one

    @property
    def replications(self) -> np.ndarray:
        """The replication numbers of the rows."""
        return np.arange(self.start, self.stop, dtype=np.int64)


def input_names(declared: int) -> list[str]:
    """The drawn-input columns of a scenario with ``declared`` shocks: ``shocks.<i>.<field>``."""
    return [f"shocks.{i}.{name}" for i in range(declared) for name in INPUT_FIELDS]


def metric_row(rep: Replication, metrics: Iterable[str]) -> np.ndarray:
    """A replication's metric values as float64 (NaN where a metric is undefined)."""
    return np.array([math.nan if rep.impact.values[k] is None else float(rep.impact.values[k]) for k in metrics])


def input_columns(drawn: list[list[RealizedShock]], declared: int) -> dict[str, np.ndarray]:
    """What each replication drew, per declared shock: whether it happened, how often, start, duration,
    factor and multiplier.

    A one-off shock records its draws even when it did not happen (its probability draw failed).
    A recurring shock records its number of occurrences, the first one's start (NaN if none), the
    total duration of its occurrences, and the smallest factor and largest multiplier (NaN if none).
    """
    k = len(drawn)
    out: dict[str, np.ndarray] = {}
    for i in range(declared):
        out[f"shocks.{i}.happened"] = np.zeros(k, dtype=bool)
        out[f"shocks.{i}.occurrences"] = np.zeros(k, dtype=np.int64)
        for name in ("start_d", "duration_d", "factor", "multiplier"):
            out[f"shocks.{i}.{name}"] = np.full(k, math.nan)
    for row, shocks in enumerate(drawn):
        seen: set[int] = set()
        for shock in shocks:
            i = shock.index
            prefix = f"shocks.{i}."
            if shock.occurrence == 0:  # a one-off shock: its draws, whether or not it happened
                out[prefix + "happened"][row] = shock.happened
                out[prefix + "occurrences"][row] = int(shock.happened)
                out[prefix + "start_d"][row] = shock.start_d
                out[prefix + "duration_d"][row] = shock.duration_d
                out[prefix + "factor"][row] = shock.factor
                out[prefix + "multiplier"][row] = shock.multiplier
                continue
            if i not in seen:  # the first occurrence of a recurring shock
                seen.add(i)
                out[prefix + "start_d"][row] = shock.start_d
                out[prefix + "duration_d"][row] = 0.0
                out[prefix + "factor"][row] = shock.factor
                out[prefix + "multiplier"][row] = shock.multiplier
            out[prefix + "happened"][row] = True
            out[prefix + "occurrences"][row] += 1
            out[prefix + "duration_d"][row] += shock.duration_d
            out[prefix + "factor"][row] = min(out[prefix + "factor"][row], shock.factor)
            out[prefix + "multiplier"][row] = max(out[prefix + "multiplier"][row], shock.multiplier)
        for i in range(declared):  # a recurring shock that never occurred: no start, 0 days
            if np.isnan(out[f"shocks.{i}.start_d"][row]):
                out[f"shocks.{i}.duration_d"][row] = 0.0
    return out


# --- running a batch (in whatever process) ---------------------------------------------------------

_CONTEXT: dict[str, Any] = {}
"""This process's cached baseline run (keyed by the context's token)."""


def _baseline(context: BatchContext) -> RunRecord | None:
    cached = _CONTEXT.get("baseline")
    return cached[1] if cached is not None and cached[0] == context.token else None


def prime_baseline(context: BatchContext, baseline: RunRecord) -> None:
    """Give this process the baseline run of ``context`` (a caller that has already made it)."""
    if fixed_baseline(context.scenario):
        _CONTEXT["baseline"] = (context.token, baseline)


def _fault(task: BatchTask) -> None:
    if not task.fault:
        return
    replication, _, marker = task.fault.partition(":")
    if task.start <= int(replication) < task.stop and marker and not Path(marker).exists():
        Path(marker).write_text(f"killed the process running replications {task.start}..{task.stop - 1}\n")
        os._exit(70)


HOLD_ENV = "ROUTESIM_TEST_HOLD_BATCH"
"""Test hook: ``REPLICATION:MARKER``. The process that runs the batch holding REPLICATION creates the file
MARKER and then waits (at most ten minutes), so that a test can interrupt a run that is surely unfinished."""


def _hold(task: BatchTask) -> None:
    hold = os.environ.get(HOLD_ENV)
    if not hold:
        return
    replication, _, marker = hold.partition(":")
    if task.start <= int(replication) < task.stop and marker:
        Path(marker).write_text(f"holding replications {task.start}..{task.stop - 1}\n")
        time.sleep(600)


def run_batch(context: BatchContext, task: BatchTask) -> BatchResult:
    """Run one batch of replications and return what the ensemble keeps of each."""
    _fault(task)
    _hold(task)
    scenario = context.scenario
    fixed = fixed_baseline(scenario)
    baseline = _baseline(context) if fixed else None
    declared = len(scenario.shocks)
    k = task.stop - task.start
    values = np.empty((k, len(context.metrics)))
    happened = np.zeros(k, dtype=np.int64)
    fan: list[np.ndarray] = []
    drawn: list[list[RealizedShock]] = []
    reduced: list[np.ndarray] = []
    for row, r in enumerate(range(task.start, task.stop)):
        rep = run_replication(scenario, task.seed, r, baseline)
        if fixed and baseline is None:
            baseline = rep.baseline  # the same run in every replication: make it once per process
            _CONTEXT["baseline"] = (context.token, baseline)
        values[row] = metric_row(rep, context.metrics)
        happened[row] = len({s.index for s in rep.shocks if s.happened})
        if r < task.fan_rows:
            fan.append(rep.baseline.daily_exports() - rep.scenario.daily_exports())
        drawn.append(rep.shocks)  # the drawn shocks are small; the run records are dropped here
        if context.reduce is not None:
            reduced.append(context.reduce(scenario, rep))
    days = fan[0].size if fan else 0
    return BatchResult(
        start=task.start,
        stop=task.stop,
        values=values,
        inputs=input_columns(drawn, declared),
        shortfall=np.array(fan) if fan else np.empty((0, days)),
        shocks_happened=happened,
        reduced=np.array(reduced) if context.reduce is not None else None,
    )


def batch_size(n: int, workers: int) -> int:
    """Replications per task: about four tasks per worker, at most MAX_BATCH."""
    return max(1, min(MAX_BATCH, math.ceil(n / (4 * max(1, workers)))))


def plan_batches(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    """Replications ``start..stop-1`` cut into ranges of ``size`` (aligned on multiples of ``size``)."""
    out = []
    a = start
    while a < stop:
        b = min(stop, (a // size + 1) * size)
        out.append((a, b))
        a = b
    return out

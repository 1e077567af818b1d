"""Where an ensemble's replications run: this process, local worker processes, or a Dask cluster.

Replications travel in batches (``BatchTask``: a seed and a range of replication numbers) and
come back as compact arrays (``BatchResult``: one row of metric values and drawn inputs per
replication, and the daily shortfall of the first few replications for the fan chart). A
replication's numbers depend on ``(scenario, seed, replication)`` only, so whichever evaluator
runs it, with whatever number of workers and batch size, its row is bit for bit the same.

Evaluators are context managers (as in the EMA Workbench)::

    with evaluator("processes", workers=2) as ev:
        for result in ev.imap(context, tasks):   # in completion order
            ...

* ``SerialEvaluator``: in this process.
* ``ProcessEvaluator``: ``workers`` fresh ("spawn") local processes; a worker that dies (killed,
  out of memory) breaks the pool: a new pool is started and the unfinished batches run again.
* ``DaskEvaluator``: a Dask ``LocalCluster`` of ``workers`` single-threaded processes, or an
  existing cluster at ``scheduler``; Dask reschedules the tasks of a worker that dies. Dask is
  the optional extra ``routesim[dask]``, imported only here, when such an evaluator starts.

Where the baseline is the same in every replication (``fixed_baseline``), each worker process
makes it once and keeps it for the batches it runs after.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from sim.engine.record import RunRecord
from sim.engine.runner import Replication, fixed_baseline, run_replication
from sim.engine.shocks import RealizedShock
from sim.scenario.schema import Scenario

__all__ = [
    "DASK_INSTALL",
    "EXECUTORS",
    "FAULT_ENV",
    "INPUT_FIELDS",
    "MAX_BATCH",
    "BatchContext",
    "BatchResult",
    "BatchTask",
    "DaskEvaluator",
    "Evaluator",
    "ExecutorError",
    "MissingDependencyError",
    "ProcessEvaluator",
    "SerialEvaluator",
    "batch_size",
    "check_available",
    "evaluator",
    "input_columns",
    "input_names",
    "metric_row",
    "plan_batches",
    "prime_baseline",
    "run_batch",
]

EXECUTORS = ("serial", "processes", "dask")
"""The evaluators ``--executor`` names."""

DASK_INSTALL = 'pip install "routesim[dask]"'
"""How to install the optional Dask support."""

MAX_BATCH = 50
"""Most replications in one task (a Dask task costs a few ms; a replication ~10-40 ms)."""

FAULT_ENV = "ROUTESIM_TEST_KILL_WORKER"
"""Test hook: ``REPLICATION:MARKER``. The process that runs the batch holding REPLICATION exits at
once (``os._exit``) unless the file MARKER exists, which it creates first: the batch fails once
and its retry succeeds. Read in the parent when tasks are made, so it reaches any worker."""

INPUT_FIELDS = ("happened", "occurrences", "start_d", "duration_d", "factor", "multiplier")
"""What is recorded of each declared shock per replication (columns ``shocks.<index>.<field>``)."""


class ExecutorError(RuntimeError):
    """An ensemble could not run to the end (workers kept dying, or a cluster was unreachable)."""


class MissingDependencyError(ExecutorError):
    """An optional package an executor needs is not installed."""


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


def run_batch(context: BatchContext, task: BatchTask) -> BatchResult:
    """Run one batch of replications and return what the ensemble keeps of each."""
    _fault(task)
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


# --- evaluators ------------------------------------------------------------------------------------


class Evaluator(ABC):
    """Runs batches somewhere; use as a context manager, then ``imap``."""

    name: str = ""
    workers: int = 1

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the evaluator started (processes, a cluster)."""

    @abstractmethod
    def imap(self, context: BatchContext, tasks: Iterable[BatchTask]) -> Iterator[BatchResult]:
        """Run ``tasks``; yield their results as they finish (any order)."""

    def describe(self) -> dict[str, Any]:
        """What ran the ensemble (for the manifest)."""
        return {"executor": self.name, "workers": self.workers}


class SerialEvaluator(Evaluator):
    """Every batch in this process, in order."""

    name = "serial"

    def imap(self, context: BatchContext, tasks: Iterable[BatchTask]) -> Iterator[BatchResult]:
        for task in tasks:
            yield run_batch(context, task)


def _init_process() -> None:
    """Initializer of a local worker process: it exits with its parent; Ctrl-C is the parent's to handle."""
    _exit_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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


def _warm() -> int:
    """A no-op task that makes a worker start and import routesim before the first batch."""
    return os.getpid()


class ProcessEvaluator(Evaluator):
    """Batches in ``workers`` fresh local processes, at most two per worker in flight.

    The pool starts (and its workers import routesim) on entering; each task carries the small
    context (~10 kB pickled). A worker that dies breaks the pool: the batches not yet returned
    are run again in a new pool, up to ``max_restarts`` times (their results do not depend on
    where they run).
    """

    name = "processes"

    def __init__(self, workers: int = 2, max_restarts: int = 3) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.max_restarts = max_restarts
        self.restarts = 0
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        # "spawn": fresh interpreters, safe with a caller's threads, the same on every OS.
        _quiet_resource_tracker()
        pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_process
        )
        for future in [pool.submit(_warm) for _ in range(self.workers)]:
            future.result()
        return pool

    def __enter__(self) -> ProcessEvaluator:
        self._pool = self._new_pool()
        return self

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def imap(self, context: BatchContext, tasks: Iterable[BatchTask]) -> Iterator[BatchResult]:
        if self._pool is None:
            self._pool = self._new_pool()
        source = iter(tasks)
        retry: deque[BatchTask] = deque()
        pending: dict[Future, BatchTask] = {}
        try:
            while True:
                while len(pending) < 2 * self.workers:
                    task = retry.popleft() if retry else next(source, None)
                    if task is None:
                        break
                    pending[self._pool.submit(run_batch, context, task)] = task
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    task = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        retry.append(task)
                        broken = True
                        continue
                    yield result
                if broken:
                    self.restarts += 1
                    if self.restarts > self.max_restarts:
                        raise ExecutorError(
                            f"worker processes died {self.restarts} times (out of memory, or killed); giving up. "
                            "In a script, start ensembles in processes under `if __name__ == '__main__':`"
                        )
                    retry.extend(pending.values())
                    pending.clear()
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
        finally:
            for future in pending:
                future.cancel()


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(
            f"the dask executor needs Dask, which is not installed; install it with: {DASK_INSTALL}"
        ) from None
    return distributed


class DaskEvaluator(Evaluator):
    """Batches on a Dask cluster: an existing one at ``scheduler``, else a ``LocalCluster`` of
    ``workers`` single-threaded processes started here (and closed on exit).

    The context is sent once to every worker (scattered, broadcast); a worker that dies has its
    tasks rescheduled by Dask on the others (up to the scheduler's ``allowed-failures``).
    """

    name = "dask"

    def __init__(self, workers: int = 2, scheduler: str | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskEvaluator:
        distributed = _import_distributed()
        try:
            if self.scheduler:
                self._client = distributed.Client(self.scheduler, set_as_default=False, timeout="20s")
                self._client.wait_for_workers(1, timeout="60s")
                self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",  # scheduler and workers on loopback only
                    dashboard_address="127.0.0.1:0",  # its HTTP server on a free loopback port (8787 may be taken)
                    silence_logs=logging.ERROR,
                )
                self._client = distributed.Client(self._cluster, set_as_default=False)
                self._client.wait_for_workers(self.workers, timeout="60s")
            self._client.run(_warm)  # every worker imports routesim now, not inside the first batches
        except (OSError, TimeoutError) as exc:
            self.close()
            where = self.scheduler or "a local cluster"
            raise ExecutorError(f"cannot reach the Dask scheduler at {where}: {exc}") from None
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def imap(self, context: BatchContext, tasks: Iterable[BatchTask]) -> Iterator[BatchResult]:
        if self._client is None:
            raise RuntimeError("use the DaskEvaluator as a context manager")
        distributed = _import_distributed()
        client = self._client
        shared = client.scatter(context, broadcast=True, hash=False)
        source = iter(tasks)
        running = distributed.as_completed(loop=client.loop)
        in_flight = 0  # at most two tasks per worker queued: the parent's memory stays flat

        def submit() -> bool:
            task = next(source, None)
            if task is None:
                return False
            running.add(client.submit(run_batch, shared, task, pure=False, retries=2))
            return True

        try:
            while in_flight < 2 * self.workers and submit():
                in_flight += 1
            for future in running:
                result = future.result()
                future.release()
                yield result
                submit()
        finally:
            left = list(running.futures)
            running.clear()
            if left:
                client.cancel(left)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.scheduler:
            out["scheduler"] = "external"  # not its address: a manifest should not hold host names
        return out


def check_available(executor: str) -> None:
    """Raise MissingDependencyError (with the install command) if ``executor`` cannot start here."""
    if executor == "dask":
        _import_distributed()


def evaluator(executor: str = "serial", workers: int = 1, scheduler: str | None = None) -> Evaluator:
    """The evaluator ``executor`` names (``serial``, ``processes``, ``dask``), not yet started."""
    if executor == "serial":
        return SerialEvaluator()
    if executor == "processes":
        return ProcessEvaluator(workers)
    if executor == "dask":
        return DaskEvaluator(workers, scheduler)
    raise ValueError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")

"""Where an ensemble's replications run: this process, local worker processes, or a Dask cluster.

Replications travel in batches (``BatchTask``: a seed and a range of replication numbers) and
come back as compact arrays (``BatchResult``: one row of metric values and drawn inputs per
replication, and the daily shortfall of the first few replications for the fan chart; both, and
running a batch, are in ``sim.batches``, re-exported here). A
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

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from sim.batches import (
    FAULT_ENV,
    INPUT_FIELDS,
    MAX_BATCH,
    BatchContext,
    BatchResult,
    BatchTask,
    batch_size,
    input_columns,
    input_names,
    metric_row,
    plan_batches,
    prime_baseline,
    run_batch,
)

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


class ExecutorError(RuntimeError):
    """An ensemble could not run to the end (workers kept dying, or a cluster was unreachable)."""


class MissingDependencyError(ExecutorError):
    """An optional package an executor needs is not installed."""


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

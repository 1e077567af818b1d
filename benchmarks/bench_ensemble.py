"""Ensemble speed and memory: serial vs 2 processes vs a 2-worker Dask LocalCluster, and the parent's
peak memory of a streamed run folder as N grows.

Usage:
    python benchmarks/bench_ensemble.py                      # timing (1,000 replications) + memory at 10^3, 10^4
    python benchmarks/bench_ensemble.py --memory 1000 10000 100000   # add 10^5 (minutes)
    python benchmarks/bench_ensemble.py --skip-timing --memory 1000

Timing: N replications of the headline scenario (``scenarios/cpc_court_suspension_2022.yaml``) with
its baseline, in memory (``run_ensemble``), wall time. Parallel efficiency = serial time / (2 x parallel
time). The start of the process pool and of the Dask LocalCluster (2 interpreters that import
routesim) is reported apart: the parallel figures count from the first batch sent. On a shared
host the measured efficiency says how many cores were free; the second figure, serial CPU time /
(2 x the busiest worker's CPU time, from psutil), is what 2 free cores would give. Measure on 2 free cores: the load average printed
first says how free they were.

Memory: each N runs in a fresh interpreter as ``routesim run -n N`` does (a streamed run folder in
a temporary directory, 2 worker processes), and reports the parent's peak resident set size
(``ru_maxrss``, the parent only: workers are other processes). Growth from 10^3 is the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ROOT / "scenarios" / "cpc_court_suspension_2022.yaml"


def _worker_cpu() -> dict[int, float]:
    """CPU seconds used so far by each process below this one (pool workers, Dask nannies and workers)."""
    import psutil  # a dependency of distributed

    out = {}
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        out[child.pid] = times.user + times.system
    return out


def _busy(before: dict[int, float], after: dict[int, float]) -> list[float]:
    return sorted((after[pid] - before.get(pid, 0.0) for pid in after), reverse=True)


def timing(n: int, workers: int) -> dict[str, float]:
    """Wall seconds of N replications: serial, processes, Dask (pool and cluster start apart), and each
    worker's CPU seconds (what the run would take on free cores: the busiest worker's CPU time)."""
    import logging

    import numpy as np
    from distributed import LocalCluster

    from sim.ensemble import run_ensemble
    from sim.executors import DaskEvaluator, ProcessEvaluator
    from sim.scenario.loader import load_scenario

    scenario = load_scenario(HEADLINE).scenario
    out: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    serial = run_ensemble(scenario, n)
    out["serial_s"] = time.perf_counter() - started
    out["serial_cpu_s"] = time.process_time() - cpu
    started = time.perf_counter()
    with ProcessEvaluator(workers) as ev:
        out["processes_pool_start_s"] = time.perf_counter() - started
        before, started = _worker_cpu(), time.perf_counter()
        processes = run_ensemble(scenario, n, evaluator_=ev)
        out["processes_s"] = time.perf_counter() - started
        busy = _busy(before, _worker_cpu())
    out["processes_busiest_cpu_s"] = busy[0]
    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        ) as cluster,
        DaskEvaluator(workers, cluster.scheduler_address) as ev,  # waits for the workers, imports routesim
    ):
        out["dask_cluster_start_s"] = time.perf_counter() - started
        before, started = _worker_cpu(), time.perf_counter()
        dask = run_ensemble(scenario, n, evaluator_=ev)
        out["dask_s"] = time.perf_counter() - started
        busy = _busy(before, _worker_cpu())
    out["dask_busiest_cpu_s"] = busy[0]
    for other in (processes, dask):
        for key, column in serial.table.items():
            assert np.array_equal(column, other.table[key], equal_nan=True), key
    for name in ("processes", "dask"):
        out[f"{name}_efficiency"] = out["serial_s"] / (workers * out[f"{name}_s"])
        # on free cores the run lasts about as long as its busiest worker computes
        out[f"{name}_efficiency_free"] = out["serial_cpu_s"] / (workers * out[f"{name}_busiest_cpu_s"])
    return out


def memory_one(n: int, executor: str, workers: int) -> None:
    """Run a streamed ensemble of N into a temporary folder; print the parent's peak RSS (JSON)."""
    from sim import streaming
    from sim.scenario.loader import load_scenario

    loaded = load_scenario(HEADLINE)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        options = streaming.EnsembleOptions(executor=executor, workers=workers)
        outcome, folder = streaming.run_streamed(loaded, n, out=Path(tmp) / "run", options=options, command=[])
        outcome.ensemble.stats  # noqa: B018 - what the CLI prints
        size = (folder / "ensemble.parquet").stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "n": n,
                "peak_rss_mib": peak / 1024,
                "rss_after_imports_mib": before / 1024,
                "wall_s": time.perf_counter() - started,
                "parquet_bytes": size,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="replications for the timing (default 1000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", type=int, nargs="*", default=[1000, 10000], help="N values for the memory runs")
    parser.add_argument("--executor", default="processes", help="executor of the memory runs")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--one-memory", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_memory is not None:
        memory_one(args.one_memory, args.executor, args.workers)
        return
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if not args.skip_timing:
        t = timing(args.n, args.workers)
        print(f"{args.n:,} replications of {HEADLINE.name} (with its baseline), {args.workers} workers:")
        print(f"  serial     {t['serial_s']:7.2f} s  ({t['serial_s'] / args.n * 1e3:.1f} ms per replication)")
        for name, start in (("processes", "processes_pool_start_s"), ("dask", "dask_cluster_start_s")):
            print(
                f"  {name:10s} {t[f'{name}_s']:7.2f} s  efficiency {t[f'{name}_efficiency']:.2f} measured, "
                f"{t[f'{name}_efficiency_free']:.2f} on free cores (serial CPU {t['serial_cpu_s']:.2f} s / "
                f"{args.workers} x busiest worker's CPU {t[f'{name}_busiest_cpu_s']:.2f} s); start {t[start]:.1f} s, apart"
            )
    rows = []
    for n in args.memory:
        cmd = [sys.executable, __file__, "--one-memory", str(n), "--executor", args.executor]
        cmd += ["--workers", str(args.workers)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        growth = r["peak_rss_mib"] - rows[0]["peak_rss_mib"]
        print(
            f"  memory N={n:>7,}: parent peak RSS {r['peak_rss_mib']:6.1f} MiB (+{growth:.1f} MiB vs N={rows[0]['n']:,}), "
            f"{r['wall_s']:.0f} s, ensemble.parquet {r['parquet_bytes'] / 2**20:.2f} MiB"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""Engine speed: milliseconds and events per 365-day replication of the reference network, beside a
bare SimPy loop of the same number of events timed in the same run (the ratio holds on any machine).

Usage: python benchmarks/bench_engine.py [SCENARIO ...] [--repeat N] [--plain]

Scenario and baseline runs are timed separately (one ``simulate`` call each), in-process, best and
median of N repeats, in CPU time (process_time: steadier than wall time on a shared machine). The
bare loop is one SimPy process yielding that many timeouts: what the events alone cost. ``--plain``
also times ``simulate(fast=False)`` (a process per tanker). A benchmark, never a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import simpy

from sim.engine import realize_shocks, simulate
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT / "scenarios" / "baseline_2022.yaml", ROOT / "scenarios" / "cpc_court_suspension_2022.yaml"]


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best and median CPU seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return min(times), statistics.median(times)


def bare_simpy(events: int) -> None:
    """A SimPy process that yields ``events`` timeouts: the cost of the events and nothing else."""
    env = simpy.Environment()

    def loop():
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(loop())
    env.run()


def bench(path: Path, repeat: int, plain: bool) -> None:
    """Time ``simulate`` for the scenario's shocks and for no shocks, over a 365-day horizon."""
    scenario = load_scenario(path, overrides=["horizon=365 d"]).scenario
    shocks = realize_shocks(scenario)
    runs = [("scenario", shocks, True), ("baseline", [], True)]
    if plain:
        runs += [("scen/plain", shocks, False), ("base/plain", [], False)]
    for label, drawn, fast in runs:
        events = simulate(scenario.network, drawn, scenario.horizon, fast=fast).events
        best, median = timed(
            lambda drawn=drawn, fast=fast: simulate(scenario.network, drawn, scenario.horizon, fast=fast), repeat
        )
        bare, _ = timed(lambda events=events: bare_simpy(events), repeat)
        print(
            f"{path.name:34s} {label:10s} best {best * 1e3:6.2f} ms  median {median * 1e3:6.2f} ms  "
            f"events {events:6,}  bare SimPy loop {bare * 1e3:5.2f} ms  ratio {best / bare:5.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--plain", action="store_true", help="also time simulate(fast=False)")
    args = parser.parse_args()
    for path in args.scenarios:
        bench(path, args.repeat, args.plain)


if __name__ == "__main__":
    main()

"""Engine speed: milliseconds and events per 365-day replication of the reference network.

Usage: python benchmarks/bench_engine.py [SCENARIO ...] [--repeat N]

Scenario and baseline runs are timed separately (one ``simulate`` call each), in-process,
best and median of N repeats, in CPU time (process_time: steadier than wall time on a shared
machine). The target is <= 20 ms per replication (issue 2).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sim.engine import realize_shocks, simulate
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT / "scenarios" / "baseline_2022.yaml", ROOT / "scenarios" / "cpc_court_suspension_2022.yaml"]


def bench(path: Path, repeat: int) -> None:
    """Time ``simulate`` for the scenario's shocks and for no shocks, over a 365-day horizon."""
    scenario = load_scenario(path, overrides=["horizon=365 d"]).scenario
    shocks = realize_shocks(scenario)
    for label, drawn in (("scenario", shocks), ("baseline", [])):
        times, events = [], 0
        for _ in range(repeat):
            started = time.process_time()
            record = simulate(scenario.network, drawn, scenario.horizon)
            times.append(time.process_time() - started)
            events = record.events
        print(
            f"{path.name:40s} {label:9s} best {min(times) * 1e3:6.2f} ms  "
            f"median {statistics.median(times) * 1e3:6.2f} ms  events {events:,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for path in args.scenarios:
        bench(path, args.repeat)


if __name__ == "__main__":
    main()

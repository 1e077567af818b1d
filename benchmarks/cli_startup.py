"""Whole-process times of the command line: ``routesim --version`` and ``routesim run --no-plot`` of the headline.

    .venv/bin/python benchmarks/cli_startup.py [repeats]

Prints, per command, the minimum and median wall time and the median CPU time (user + sys of the
child process, less sensitive to other jobs on a shared host). Writes a run folder into a
temporary directory. The target is 0.5 s for both.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUTESIM = str(Path(sys.executable).with_name("routesim"))


def measure(command: list[str], repeats: int) -> tuple[float, float, float]:
    """Minimum and median wall time and median CPU time of ``command`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), statistics.median(walls), statistics.median(cpus)


def main() -> None:
    """Time both commands and print one line each."""
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    out = Path(tempfile.mkdtemp()) / "run"
    commands = {
        "routesim --version": [ROUTESIM, "--version"],
        "routesim run --no-plot (headline)": [
            ROUTESIM,
            "run",
            "scenarios/cpc_court_suspension_2022.yaml",
            "--no-plot",
            "--out",
            str(out),
            "--force",
        ],
    }
    for name, command in commands.items():
        low, median, cpu = measure(command, repeats)
        print(f"{name:36s} wall min {low:.3f} s, median {median:.3f} s; CPU median {cpu:.3f} s ({repeats} runs)")


if __name__ == "__main__":
    main()

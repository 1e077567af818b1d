"""Backtests through the api: history scenarios against their reported figures (``sim.backtest``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim import backtest as bt
from sim import plots, results
from sim.backtest import HISTORY_GLOB, Backtest
from sim.scenario.loader import LoadedScenario

# --- backtests: history scenarios against reported figures (sim.backtest) --------------------------


def history_files(pattern: str | None = None) -> list[Path]:
    """The history scenario files (default: ``scenarios/history/*.yaml``), sorted."""
    return bt.history_files(HISTORY_GLOB if pattern is None else pattern)


def load_history(paths: list[str | Path] | tuple[str | Path, ...]) -> list[LoadedScenario]:
    """Load every history file first (raises ScenarioError on the first bad one; nothing is run)."""
    return bt.load_episodes(paths)


def backtest(
    episodes: list[str | Path | LoadedScenario] | tuple[str | Path | LoadedScenario, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Backtest:
    """Run history scenarios (default: every file of ``history_files()``) against their reported figures.

    A file with ``replications`` > 1 runs replications 0..N-1 of its seed; ``progress(done, total)``
    counts replications. See ``sim.backtest`` for how figures are measured and judged.
    """
    return bt.run_backtest(history_files() if episodes is None else list(episodes), progress=progress)


def save_backtest(
    result: Backtest,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    command: list[str] | None = None,
) -> Path:
    """Write ``<root>/backtest/<run-id>/`` (or ``out``): backtest.csv, backtest.png, manifest.json, atomically."""
    figure = plots.backtest_figure(result.rows)
    files: dict[str, Any] = {
        "backtest.csv": results.backtest_csv(result.rows),
        "backtest.png": lambda path: figure.savefig(path, dpi=110),
        "manifest.json": json.dumps(results.backtest_manifest(result, command), indent=2, default=str) + "\n",
    }
    if out is None:
        return results.write_run_folder(Path(root) / "backtest" / results.new_run_id(), files, unique=True)
    return results.write_run_folder(Path(out), files, force=force)

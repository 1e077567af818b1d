"""Result files: the summary, the daily series, the provenance manifest, written atomically.

A run folder ``results/<scenario>/<run-id>/`` holds:

* ``summary.json``  every metric with its unit, the shocks as drawn, both mass balances;
* ``timeseries.csv`` one row per day: exports (where the oil leaves), arrivals at the market, intake,
  production, shut-in, storage, transit;
* ``manifest.json`` what is needed to reproduce the run (scenario hash, resolved scenario,
  seed, versions, git commit, command line, wall time, events);
* ``ensemble.csv`` (ensembles of more than one replication) one row per replication:
  replication, seed, how many shocks happened, every impact metric (exact: repr of floats);
* ``ensemble.parquet`` the same rows plus every drawn input per declared shock (``sim.store``);
* anything else the caller adds (the API adds ``disruption.png``, and ``ensemble.png``).

For an ensemble, ``summary.json``, ``timeseries.csv`` and the disruption plot describe
replication 0, and ``summary.json`` gains an ``ensemble`` section with per-metric statistics.

Files are written into a hidden staging folder beside the target, which is renamed into
place at the end, so a folder that exists is always complete (``sim.folders``, re-exported
here: ``write_run_folder``, ``new_run_id``, ``replaceable``, ``OutputError``). A streamed ensemble
(``sim.streaming``) instead fills its folder batch by batch under an ``INCOMPLETE`` marker;
``read_run`` refuses a folder so marked. An existing run folder is
never replaced unless the caller asks (``force``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from sim import runfolder
from sim.engine.record import RunRecord
from sim.engine.runner import Replication
from sim.ensemble import PERCENTILE_METHOD, PERCENTILES, Ensemble
from sim.folders import (
    MAX_FOLDER_NAME_BYTES,
    RESULT_FILES,
    STUDY_KINDS,
    OutputError,
    Writer,
    clean_stale_staging,
    folder_name,
    new_run_id,
    not_replaceable_message,
    replaceable,
    write_run_folder,
)
from sim.scenario.loader import LoadedScenario
from sim.store import PARQUET, IncompleteRunError, incomplete_reason

__all__ = [
    "BACKTEST_CSV_COLUMNS",
    "DEPENDENCIES",
    "MAX_FOLDER_NAME_BYTES",
    "RESULT_FILES",
    "STUDY_KINDS",
    "OutputError",
    "Writer",
    "backtest_csv",
    "backtest_manifest",
    "clean_stale_staging",
    "ensemble_csv_writer",
    "ensemble_summary",
    "folder_name",
    "git_commit",
    "manifest_dict",
    "new_run_id",
    "not_replaceable_message",
    "package_versions",
    "read_ensemble_csv",
    "read_run",
    "replaceable",
    "summary_dict",
    "timeseries_columns",
    "timeseries_csv",
    "write_run_folder",
]

DEPENDENCIES = ("simpy", "numpy", "scipy", "matplotlib", "pydantic", "PyYAML", "click", "rich")
"""Packages whose versions a manifest records (a result may depend on any of them)."""


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, infinities to strings."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def summary_dict(loaded: LoadedScenario, rep: Replication) -> dict[str, Any]:
    """Everything a reader needs about one replication's impact, as plain data."""
    scenario = loaded.scenario
    return _clean(
        {
            "scenario": scenario.name,
            "description": scenario.description,
            "start_date": scenario.start_date,
            "horizon_d": scenario.horizon,
            "seed": rep.seed,
            "replication": rep.replication,
            "bbl_per_t": scenario.network.grade.bbl_per_t,
            **rep.impact.as_dict(),
            "shocks": [s.as_dict() for s in rep.shocks],
            "balance": {
                "scenario": vars(rep.scenario.balance()) | {"residual_t": rep.scenario.balance().residual_t},
                "baseline": vars(rep.baseline.balance()) | {"residual_t": rep.baseline.balance().residual_t},
            },
            "peak_storage_by_tank_t": rep.scenario.peak_storage_t,
            "cargoes": rep.scenario.cargoes,
            "events": {"scenario": rep.scenario.events, "baseline": rep.baseline.events},
        }
    )


def _cut(record: RunRecord) -> np.ndarray:
    """The operators' cuts per day and field (zeros for a record made without them)."""
    return np.zeros_like(record.shut_in) if record.cut is None else record.cut


def timeseries_columns(loaded: LoadedScenario, rep: Replication) -> dict[str, np.ndarray | list[str]]:
    """The daily series as named columns (t or t/d), scenario and baseline side by side."""
    s, b = rep.scenario, rep.baseline
    start = loaded.scenario.start_date
    cols: dict[str, np.ndarray | list[str]] = {
        "day": np.arange(s.days),
        "date": [(start + dt.timedelta(days=int(d))).isoformat() for d in range(s.days)],
        "exports_t": s.daily_exports(),
        "baseline_exports_t": b.daily_exports(),
        "arrivals_t": s.arrivals.sum(axis=1),  # at the market (exports count where the oil leaves)
        "baseline_arrivals_t": b.arrivals.sum(axis=1),
        "shut_in_t": s.shut_in.sum(axis=1),
        "baseline_shut_in_t": b.shut_in.sum(axis=1),
        "cut_t": _cut(s).sum(axis=1),
        "baseline_cut_t": _cut(b).sum(axis=1),
    }
    for i, name in enumerate(s.route_names):
        cols[f"exports.{name}_t"] = s.exports[:, i]
        cols[f"baseline_exports.{name}_t"] = b.exports[:, i]
        cols[f"intake.{name}_t"] = s.intake[:, i]
        cols[f"baseline_intake.{name}_t"] = b.intake[:, i]
    for i, name in enumerate(s.source_names):
        cols[f"produced.{name}_t"] = s.produced[:, i]
        cols[f"shut_in.{name}_t"] = s.shut_in[:, i]
        cols[f"cut.{name}_t"] = _cut(s)[:, i]
        cols[f"outage.{name}_t"] = s.outage[:, i]
        cols[f"storage.{name}_t"] = s.source_level[:, i]
        cols[f"baseline_storage.{name}_t"] = b.source_level[:, i]
    for i, name in enumerate(s.tank_names):
        cols[f"tank.{name}_t"] = s.tank_level[:, i]
        cols[f"baseline_tank.{name}_t"] = b.tank_level[:, i]
    for i, name in enumerate(s.leg_names):
        cols[f"in_transit.{name}_t"] = s.leg_transit[:, i]
    return cols


def timeseries_csv(columns: dict[str, np.ndarray | list[str]]) -> str:
    """The columns as CSV text (full float precision, so a rerun compares bit for bit)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    rows = len(columns["day"])
    data = [columns[n] for n in names]
    for i in range(rows):
        writer.writerow(
            [repr(float(col[i])) if isinstance(col, np.ndarray) and col.dtype.kind == "f" else col[i] for col in data]
        )
    return buffer.getvalue()


def ensemble_summary(ens: Ensemble) -> dict[str, Any]:
    """The ``ensemble`` section of summary.json: size, method, per-metric statistics, shock shares.

    Deterministic (no wall time or job count), so the same seed gives the same file.
    """
    return _clean(
        {
            "n": ens.n,
            "seed": ens.seed,
            "replications": f"0..{ens.n - 1}, shocks drawn from SeedSequence(seed, spawn_key=(replication, 1, shock))",
            "statistics": (
                f"over replications where the metric is defined; std with ddof=1; percentiles "
                f"{', '.join(f'P{q}' for q in PERCENTILES)} by numpy.percentile method={PERCENTILE_METHOD!r} "
                "(Hyndman & Fan type 7); mean_ci95 = mean ± 1.96 std/sqrt(defined); rel_half_width = "
                "1.96 std/sqrt(defined)/|mean|; n_for_precision = N whose rel_half_width would be precision_target"
            ),
            "precision_target": ens.precision,
            "metrics": ens.stats,
            "shocks": ens.shock_shares(),
            "exceedance": ens.exceedance(),
            "exceedance_method": "P(metric > threshold) over defined values; Wilson score 95 % interval",
            "conditional": ens.conditional(),
            "conditional_method": "per declared shock: statistics over the replications where it happened",
            "fan_replications": int(ens.shortfall.shape[0]),
        }
    )


def _cell(value: float) -> str:
    """A metric value as CSV text: exact (repr) so a rerun compares bit for bit; empty if undefined."""
    return "" if math.isnan(value) else repr(float(value))


def ensemble_csv_writer(ens: Ensemble) -> Callable[[Path], None]:
    """A writer of ensemble.csv that streams its rows (one per replication) to the file."""

    def write(path: Path) -> None:
        names = ["replication", "seed", "shocks_happened", *ens.metrics]
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(names)
            for r in range(ens.n):
                row = ens.values[r]
                writer.writerow([r, ens.seed, int(ens.happened[r]), *[_cell(v) for v in row]])

    return write


def read_ensemble_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read ensemble.csv back as named columns (integers for the first three, NaN for empty cells).

    Every cell is checked (RunFolderError naming the file, line and column otherwise).
    """
    return runfolder.read_ensemble_csv(path)


def package_versions() -> dict[str, str]:
    """Python's and every recorded package's version (what a manifest's ``versions`` holds)."""
    out = {"python": platform.python_version()}
    for name in ("routesim", *DEPENDENCIES):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


GIT_SAFE = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "protocol.allow=never",
)
"""Options that stop git from running any program a repository's config names (fsmonitor, hooks)."""


def git_commit(folder: Path | None = None) -> str | None:
    """The git commit of the checkout the user runs from (``folder``, default the working directory), or None.

    '+dirty' is added if tracked files are modified. Git is told to run no fsmonitor and no hooks and
    to ignore the system config; a rerun never calls this, so a manifest never chooses where git runs.
    """
    folder = Path.cwd() if folder is None else folder
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *GIT_SAFE, *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            env=env,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all")
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None
    return commit + ("+dirty" if dirty else "")


def manifest_dict(
    loaded: LoadedScenario,
    rep: Replication,
    command: list[str] | None,
    wall_time_s: float,
    ensemble: Ensemble | None = None,
) -> dict[str, Any]:
    """Provenance: enough to rerun and check the result (``routesim rerun manifest.json``).

    An ensemble adds ``replications`` (n) and ``jobs``; a single run's manifest has neither.
    """
    extra: dict[str, Any] = {}
    if ensemble is not None:
        extra = {"replications": ensemble.n, "jobs": ensemble.jobs, "executor": ensemble.executor}
        if ensemble.thresholds:
            extra["thresholds"] = ensemble.thresholds
        extra["precision"] = ensemble.precision
    return _clean(
        {
            "routesim_manifest": 1,
            "scenario_file": str(loaded.path),
            "scenario_files": [str(p) for p in loaded.files],
            "scenario_sha256": loaded.sha256,
            "overrides": loaded.overrides,
            "resolved_scenario": loaded.resolved,
            "validated_scenario": loaded.scenario.model_dump(mode="json"),
            "seed": rep.seed,
            "replication": rep.replication,
            **extra,
            "versions": package_versions(),
            "git_commit": git_commit(),
            "command": command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]],
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "wall_time_s": wall_time_s,
            "events": {"scenario": rep.scenario.events, "baseline": rep.baseline.events},
        }
    )


def read_run(folder: str | Path) -> dict[str, Any]:
    """Read a run folder: ``summary`` and ``manifest`` dicts, ``timeseries`` (and ``ensemble``) as columns.

    The folder is input from whoever wrote it: every file is checked (sim.runfolder), and a
    missing or invalid one raises RunFolderError naming it.
    """
    reason = incomplete_reason(folder)
    if reason:  # an unfinished streamed ensemble (sim.streaming): never read as a finished run
        raise IncompleteRunError(reason)
    out = runfolder.read_run(folder)
    if (Path(folder) / PARQUET).is_file():
        out["ensemble_parquet"] = Path(folder) / PARQUET
    return out


# -- backtests (``sim.backtest``): rows and episodes read by attribute ----------------------------------

BACKTEST_CSV_COLUMNS = (
    "episode",
    "figure",
    "metric",
    "unit",
    "model",
    "reported",
    "low",
    "high",
    "ratio",
    "tolerance",
    "inside",
    "why",
    "confidence",
    "source",
    "file",
    "replications",
    "model_p10",
    "model_p90",
    "share_agreeing",
)


def backtest_csv(rows: Sequence[Any]) -> str:
    """The rows as CSV text (numbers in canonical units, full precision; empty = none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BACKTEST_CSV_COLUMNS)
    for row in rows:
        data = asdict(row)
        writer.writerow(
            [
                "" if data[c] is None else (repr(data[c]) if isinstance(data[c], float) else data[c])
                for c in BACKTEST_CSV_COLUMNS
            ]
        )
    return buffer.getvalue()


def backtest_manifest(backtest: Any, command: list[str] | None = None) -> dict[str, Any]:
    """Provenance: the files, their hashes and seeds, versions, and each episode's run manifest."""
    episodes = []
    for episode in backtest.episodes:
        rep = episode.replication
        manifest = manifest_dict(episode.loaded, rep, command, rep.wall_time_s)
        entry: dict[str, Any] = {
            "scenario": episode.loaded.scenario.name,
            "file": str(episode.loaded.path),
            "scenario_sha256": episode.loaded.sha256,
            "seed": rep.seed,
            "replication": rep.replication,
        }
        if episode.values is not None:  # an ensemble: replications 0..N-1 (manifest: replication 0's run)
            entry |= {"replications": episode.replications, "agreement_share": backtest.agreement_share}
        entry |= {
            "figures": len(episode.rows),
            "inside": sum(r.inside for r in episode.rows),
            "manifest": manifest,
        }
        episodes.append(entry)
    first = episodes[0]["manifest"] if episodes else {}
    return {
        "routesim_backtest": 1,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "versions": first.get("versions", {}),
        "git_commit": first.get("git_commit"),
        "wall_time_s": backtest.wall_time_s,
        "figures": len(backtest.rows),
        "inside": sum(r.inside for r in backtest.rows),
        "seeds": {e["scenario"]: e["seed"] for e in episodes},
        "episodes": episodes,
    }

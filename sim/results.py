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
place at the end, so a folder that exists is always complete. A streamed ensemble
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
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from sim import runfolder
from sim.engine.record import RunRecord
from sim.engine.runner import Replication
from sim.ensemble import PERCENTILE_METHOD, PERCENTILES, Ensemble
from sim.scenario.loader import LoadedScenario
from sim.store import PARQUET, IncompleteRunError, incomplete_reason

__all__ = [
    "DEPENDENCIES",
    "OutputError",
    "clean_stale_staging",
    "ensemble_csv_writer",
    "ensemble_summary",
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


class OutputError(Exception):
    """Results could not be written (folder exists, disk full, no permission)."""


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
    try:
        commit = subprocess.run(
            ["git", *GIT_SAFE, "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            env=env,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", *GIT_SAFE, "status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            env=env,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()
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


def new_run_id(seed: int) -> str:
    """A run id that sorts by time: ``20260128T101500Z-seed42``."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")[:-4] + f"Z-seed{seed}"


Writer = Callable[[Path], None]


STALE_AFTER_S = 24 * 3600.0
"""Age after which a staging folder is stale whoever made it (a write takes seconds to minutes)."""

_STAGING = re.compile(r"^\..*\.pid(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)\.[^.]+\.(?:partial|old)$")
"""Names of our staging and trash folders: ``.<name>.pid<pid>@<host>.<random>.partial`` (or ``.old``)."""

_LEGACY_STAGING = re.compile(r"^\..+\.[a-z0-9_]{8}\.(?:partial|old)$")
"""Names of staging folders from before they recorded their process: removed only when old."""


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", platform.node())[:32]


def _temp_folder(target: Path, suffix: str) -> Path:
    """A new hidden folder beside ``target`` whose name says which process on which host made it."""
    prefix = f".{target.name}.pid{os.getpid()}@{_host()}."
    return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=target.parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def clean_stale_staging(folder: Path) -> list[Path]:
    """Remove staging folders in ``folder`` left by a killed run; return those removed.

    A staging folder is stale when the process that made it on this host has exited, or when
    it is older than STALE_AFTER_S (the only test for folders named before names held the
    process). Only our own folders (by name pattern and owner) are touched.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _STAGING.match(entry.name)
        if match is None and not (_LEGACY_STAGING.match(entry.name) and _holds_only_results(Path(entry.path))):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            continue
        dead = match is not None and os.name == "posix" and match["host"] == _host() and not _alive(int(match["pid"]))
        if dead or now - info.st_mtime > STALE_AFTER_S:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


STUDY_KINDS = ("sweep", "stress", "survival", "sensitivity", "discovery")
"""The studies of ``sim.explore``; their folders are run folders too (``routesim_study_manifest: 1``)."""

RESULT_FILES = frozenset(
    {
        "summary.json",
        "timeseries.csv",
        "manifest.json",
        "ensemble.csv",
        "disruption.png",
        "ensemble.png",
        "backtest.csv",
        "backtest.png",
        "run",
        # studies (sim.explore): <kind>.csv/.parquet/.png and the samples of sensitivity and discovery
        *(f"{kind}.{ext}" for kind in STUDY_KINDS for ext in ("csv", "parquet", "png")),
        "samples.csv",
    }
)
"""Names a staging or trash folder holds (``run``: a replaced run folder in the trash)."""


def _holds_only_results(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but result files (so it is ours to remove)."""
    try:
        return all(entry.name in RESULT_FILES for entry in os.scandir(folder))
    except OSError:
        return False


def replaceable(folder: Path) -> bool:
    """Whether ``force`` may replace ``folder``: an empty folder, or recognisably a routesim run folder.

    A routesim run or backtest folder holds a valid manifest.json; anything else (the scenarios
    folder, a home directory) is never deleted.
    """
    folder = Path(folder)
    try:
        if folder.is_dir() and not any(folder.iterdir()):
            return True
    except OSError:
        return False
    return runfolder.is_run_folder(folder)


def not_replaceable_message(folder: Path) -> str:
    """Why ``--force`` does not replace ``folder``."""
    return (
        f"{folder} is not a routesim run folder (no valid manifest.json in it); --force replaces only "
        "a run folder or an empty folder: choose another --out"
    )


def _umask() -> int:
    """The process's umask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_run_folder(
    target: Path, files: dict[str, str | bytes | Writer], force: bool = False, unique: bool = False
) -> Path:
    """Write ``files`` into a new folder ``target`` atomically and return its path.

    Values are text, bytes, or a function that writes the file at the path it is given.
    With ``unique``, a taken name gets a suffix (-2, -3, ...) instead of an error; with
    ``force``, an existing run folder (or empty folder) is replaced, never anything else.
    Stale staging folders of killed runs beside ``target`` are removed first. The folder
    gets the user's usual permissions (umask). Raises OutputError, leaving nothing behind.
    """
    target = Path(target)
    if target.exists() and not (force or unique):
        raise OutputError(f"{target} already exists; choose another --out, or pass --force to replace it")
    if force and target.exists() and not replaceable(target):
        raise OutputError(not_replaceable_message(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_staging(target.parent)
        staging = _temp_folder(target, ".partial")
    except OSError as exc:
        raise OutputError(f"cannot create the results folder {target.parent}: {exc.strerror or exc}") from None
    try:
        for name, content in files.items():
            path = staging / name
            if callable(content):
                content(path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        _fsync_dir(staging)
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp made it 0700
        return _place(staging, target, force, unique)
    except OutputError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write results into {target.parent}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _fsync_dir(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _place(staging: Path, target: Path, force: bool, unique: bool) -> Path:
    """Rename the staging folder into place without ever clobbering a finished run."""
    if force and target.exists():
        if not replaceable(target):
            raise OutputError(not_replaceable_message(target))
        trash = _temp_folder(target, ".old")
        os.rename(target, trash / "run")
        os.rename(staging, target)
        shutil.rmtree(trash, ignore_errors=True)
        return target
    candidate = target
    for attempt in range(2, 1000):
        try:
            os.mkdir(candidate)  # claim the name; fails if another run holds it
        except FileExistsError:
            if not unique:
                raise OutputError(f"{target} already exists; choose another --out, or pass --force") from None
            candidate = target.with_name(f"{target.name}-{attempt}")
            continue
        os.rename(staging, candidate)  # replaces the empty folder we just claimed
        return candidate
    raise OutputError(f"could not find a free folder name next to {target}")


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

"""Run folders on disk: their names (run ids), atomic writing, and what may be replaced.

Files are written into a hidden staging folder beside the target, which is renamed into place at
the end, so a folder that exists is always complete; a folder is replaced only when the caller
asks (``force``) and only if it holds nothing but result files. Runs, studies and backtests all
write through ``write_run_folder`` and name their folders with ``new_run_id``. ``sim.results``
re-exports all of it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sim import runfolder

__all__ = [
    "MAX_FOLDER_NAME_BYTES",
    "RESULT_FILES",
    "STUDY_KINDS",
    "OutputError",
    "Writer",
    "clean_stale_staging",
    "folder_name",
    "new_run_id",
    "not_replaceable_message",
    "replaceable",
    "write_run_folder",
]


class OutputError(Exception):
    """Results could not be written (folder exists, disk full, no permission)."""


def new_run_id(seed: int | None = None) -> str:
    """A run id that sorts by time: ``20260128T10150012Z-seed42`` (hundredths of a second; no seed part without one).

    The one maker of run ids: runs, studies and backtests name their folders with it.
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")[:-4] + "Z"
    return stamp if seed is None else f"{stamp}-seed{seed}"


MAX_FOLDER_NAME_BYTES = 100
"""Longest folder name made from a scenario name (UTF-8 bytes; file systems allow 255)."""


def folder_name(name: str) -> str:
    """A folder name from a scenario name: letters, digits, '-', '_', '.'; never '.', '..' or hidden; short."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    safe = "_" * (len(safe) - len(safe.lstrip("."))) + safe.lstrip(".")  # no '.', '..' or hidden folder
    while len(safe.encode("utf-8")) > MAX_FOLDER_NAME_BYTES:
        safe = safe[:-1]
    return safe or "scenario"


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

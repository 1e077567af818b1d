"""Run folders of the studies, written as ``routesim run`` writes its own (``sim.results``):
atomically, never over an existing folder unless asked, with a manifest.

``<root>/<scenario>/<kind>-<run-id>/`` holds ``<kind>.csv`` (and ``<kind>.parquet`` when pyarrow
is installed), ``<kind>.png``, ``manifest.json`` and, for a sensitivity or discovery study,
``samples.csv`` (each sample's inputs and output). The manifest records the command,
seed, replications, the study's settings, the resolved scenario and the versions; its marker is
``routesim_study_manifest: 1`` (``routesim rerun`` reruns single runs and ensembles, not studies).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from sim import results
from sim.explore.figures import study_figure

__all__ = ["save_study", "study_files", "study_manifest"]

_NOT_IN_MANIFEST = ("samples",)


def study_manifest(table: pd.DataFrame, command: list[str] | None = None) -> dict[str, Any]:
    """Provenance of a study: its settings (the table's attrs), versions, git commit, command, time."""
    attrs = {k: v for k, v in table.attrs.items() if k not in _NOT_IN_MANIFEST}
    return results._clean(
        {
            "routesim_study_manifest": 1,
            **attrs,
            "rows": len(table),
            "columns": list(map(str, table.columns)),
            "versions": results.package_versions() | {"pandas": pd.__version__, **_optional_versions()},
            "git_commit": results.git_commit(),
            "command": command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]],
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )


def _optional_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("SALib", "pyarrow", "ema_workbench"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    out.attrs = {}
    return out


def study_files(
    table: pd.DataFrame, plot: bool = True, command: list[str] | None = None, metric: str = "lost_export_t"
) -> dict[str, Any]:
    """The files of a study's folder: name -> text or a writer (as ``results.write_run_folder`` takes)."""
    kind = str(table.attrs.get("kind", "study"))
    plain = _plain(table)
    files: dict[str, Any] = {f"{kind}.csv": plain.to_csv(index=False, lineterminator="\n")}
    try:
        import pyarrow  # noqa: F401

        files[f"{kind}.parquet"] = lambda path: plain.to_parquet(path, index=False)
    except ImportError:
        pass
    samples = table.attrs.get("samples")
    if samples:
        files["samples.csv"] = pd.DataFrame(samples).to_csv(index=False, lineterminator="\n")
    if plot:
        figure = study_figure(table, metric)
        files[f"{kind}.png"] = lambda path: figure.savefig(path, dpi=110)
    files["manifest.json"] = json.dumps(study_manifest(table, command), indent=2) + "\n"
    return files


def save_study(
    table: pd.DataFrame,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    plot: bool = True,
    command: list[str] | None = None,
    metric: str = "lost_export_t",
) -> Path:
    """Write a study's run folder atomically and return its path (``results.OutputError`` if it cannot).

    Without ``out``: ``<root>/<scenario>/<kind>-<run-id>`` (a taken name gets a suffix); with ``out``:
    that folder, which must not exist unless ``force``.
    """
    files = study_files(table, plot, command, metric)
    if out is None:
        kind = str(table.attrs.get("kind", "study"))
        run_id = f"{kind}-{results.new_run_id(int(table.attrs.get('seed', 0)))}"
        target = Path(root) / results.folder_name(str(table.attrs.get("scenario", "scenario"))) / run_id
        return results.write_run_folder(target, files, unique=True)
    return results.write_run_folder(Path(out), files, force=force)

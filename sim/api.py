"""The functions a notebook (or the CLI) calls: load -> run -> save, and read back.

>>> from sim import api
>>> outcome = api.run("scenarios/cpc_court_suspension_2022.yaml")   # doctest: +SKIP
>>> outcome.impact["lost_export_t"]                                   # doctest: +SKIP
>>> folder = api.save(outcome)                                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim import plots, results
from sim.engine.metrics import Impact
from sim.engine.runner import Replication, run_replication
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_resolved, load_scenario, resolved_sha256

__all__ = ["Outcome", "RerunReport", "load", "read", "rerun", "run", "save", "validate"]


@dataclass
class Outcome:
    """A finished scenario run: the loaded scenario, the replication, the wall time."""

    loaded: LoadedScenario
    replication: Replication
    wall_time_s: float
    command: list[str] | None = None

    @property
    def impact(self) -> Impact:
        """The metrics against the baseline."""
        return self.replication.impact

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.loaded.scenario.name

    def summary(self) -> dict[str, Any]:
        """The content of summary.json."""
        return results.summary_dict(self.loaded, self.replication)

    def timeseries(self) -> dict[str, Any]:
        """The daily series as columns (the content of timeseries.csv)."""
        return results.timeseries_columns(self.loaded, self.replication)

    def manifest(self) -> dict[str, Any]:
        """The content of manifest.json."""
        manifest = results.manifest_dict(self.loaded, self.replication, self.command, self.wall_time_s)
        manifest["resolved_sha256"] = resolved_sha256(manifest["resolved_scenario"])
        return manifest

    def figure(self):
        """The disruption-curve figure (matplotlib Figure)."""
        return plots.disruption_figure(
            self.timeseries(), [s.as_dict() for s in self.replication.shocks], title=_title(self)
        )


def _title(outcome: Outcome) -> str:
    lost = outcome.impact["lost_export_t"]
    return f"{outcome.name}: lost export volume {lost / 1e6:,.2f} Mt (seed {outcome.replication.seed})"


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedScenario:
    """Read and validate a scenario file (raises ScenarioError with file, line and key)."""
    return load_scenario(path, overrides)


def run(
    scenario: str | Path | LoadedScenario,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    replication: int = 0,
    command: list[str] | None = None,
) -> Outcome:
    """Run a scenario (a path or a loaded scenario) and its baseline; return the outcome."""
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario, overrides)
    started = time.perf_counter()
    rep = run_replication(loaded.scenario, seed=seed, replication=replication)
    return Outcome(loaded, rep, time.perf_counter() - started, command)


def default_folder(outcome: Outcome, root: str | Path = "results") -> Path:
    """``<root>/<scenario>/<run-id>``."""
    return Path(root) / _safe(outcome.name) / results.new_run_id(outcome.replication.seed)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "scenario"


def save(
    outcome: Outcome,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    plot: bool = True,
) -> Path:
    """Write the run folder atomically; return its path. Raises results.OutputError."""
    files: dict[str, Any] = {
        "summary.json": json.dumps(outcome.summary(), indent=2) + "\n",
        "timeseries.csv": results.timeseries_csv(outcome.timeseries()),
        "manifest.json": json.dumps(outcome.manifest(), indent=2) + "\n",
    }
    if plot:
        figure = outcome.figure()
        files["disruption.png"] = lambda path: figure.savefig(path, dpi=110)
    if out is None:
        return results.write_run_folder(default_folder(outcome, root), files, unique=True)
    return results.write_run_folder(Path(out), files, force=force)


def read(folder: str | Path) -> dict[str, Any]:
    """Read a run folder back: summary, manifest and timeseries columns."""
    return results.read_run(folder)


@dataclass
class RerunReport:
    """What a rerun found: the new outcome, whether it matches, and version differences."""

    outcome: Outcome
    identical: bool | None
    differences: list[str] = field(default_factory=list)
    version_changes: dict[str, tuple[str, str]] = field(default_factory=dict)


def rerun(manifest_path: str | Path) -> RerunReport:
    """Run again from a manifest and compare with the stored summary and series, bit for bit."""
    manifest_path = Path(manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError.single(manifest_path, f"cannot read the manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("routesim_manifest") != 1:
        raise ScenarioError.single(manifest_path, "not a routesim manifest (no 'routesim_manifest: 1')")
    loaded = load_resolved(manifest["resolved_scenario"], manifest_path)
    loaded.overrides = list(manifest.get("overrides", []))
    if manifest.get("resolved_sha256") and loaded.sha256 != manifest["resolved_sha256"]:
        raise ScenarioError.single(manifest_path, "the resolved scenario does not match its recorded hash")
    outcome = run(loaded, seed=int(manifest["seed"]), replication=int(manifest.get("replication", 0)))
    outcome.loaded.path = Path(manifest.get("scenario_file", manifest_path))
    outcome.loaded.files = [Path(p) for p in manifest.get("scenario_files", [])]
    outcome.loaded.sha256 = manifest.get("scenario_sha256", loaded.sha256)
    now = results.manifest_dict(outcome.loaded, outcome.replication, [], 0.0)["versions"]
    then = manifest.get("versions", {})
    changes = {k: (then.get(k, "?"), v) for k, v in now.items() if then.get(k) != v}
    folder = manifest_path.parent
    identical: bool | None = None
    differences: list[str] = []
    if (folder / "summary.json").exists() and (folder / "timeseries.csv").exists():
        stored = results.read_run(folder)
        differences = _compare(stored, outcome)
        identical = not differences
    return RerunReport(outcome, identical, differences, changes)


def _compare(stored: dict[str, Any], outcome: Outcome) -> list[str]:
    """Differences between a stored run and a new outcome (metrics exactly, series bitwise)."""
    out = []
    old_metrics = stored["summary"].get("metrics", {})
    new_metrics = outcome.summary()["metrics"]
    for key in sorted(set(old_metrics) | set(new_metrics)):
        a = old_metrics.get(key, {}).get("value")
        b = new_metrics.get(key, {}).get("value")
        if a != b:
            out.append(f"metric {key}: stored {a!r}, now {b!r}")
    new_cols = outcome.timeseries()
    old_cols = stored["timeseries"]
    for key in sorted(set(old_cols) | set(new_cols)):
        if key not in old_cols or key not in new_cols:
            out.append(f"series {key}: only in {'the new run' if key in new_cols else 'the stored run'}")
            continue
        if key == "date":
            if list(old_cols[key]) != list(new_cols[key]):
                out.append("series date differs")
            continue
        if not np.array_equal(np.asarray(old_cols[key], dtype=float), np.asarray(new_cols[key], dtype=float)):
            out.append(f"series {key} differs")
    return out


def validate(paths: list[str | Path], overrides: list[str] | tuple[str, ...] = ()) -> dict[str, ScenarioError | None]:
    """Validate files without running them: path -> None if valid, else the error."""
    out: dict[str, ScenarioError | None] = {}
    for path in paths:
        try:
            load_scenario(path, overrides)
            out[str(path)] = None
        except ScenarioError as exc:
            out[str(path)] = exc
    return out

"""The functions a notebook (or the CLI) calls: load -> run -> save, and read back.

>>> from sim import api
>>> outcome = api.run("scenarios/cpc_court_suspension_2022.yaml")   # doctest: +SKIP
>>> outcome.impact["lost_export_t"]                                   # doctest: +SKIP
>>> folder = api.save(outcome)                                        # doctest: +SKIP

An ensemble (N replications, optionally in J processes) is the same call:

>>> outcome = api.run("scenarios/e.yaml", replications=200, jobs=2)  # doctest: +SKIP
>>> outcome.ensemble.stats["lost_export_t"]["p90"]                   # doctest: +SKIP
>>> outcome.ensemble.table["lost_export_t"]    # numpy array, one value per replication  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim import plots, results, runfolder, store
from sim.engine.metrics import Impact
from sim.engine.runner import Replication, run_replication
from sim.ensemble import PRECISION, Ensemble, run_ensemble
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_resolved, load_scenario, resolved_sha256
from sim.scenario.schema import replications_problem

__all__ = [
    "MAX_JOBS",
    "Ensemble",
    "Outcome",
    "RerunReport",
    "check_ensemble",
    "check_jobs",
    "load",
    "read",
    "rerun",
    "run",
    "save",
    "validate",
]

MAX_JOBS = 64
"""Most worker processes an ensemble may start."""


@dataclass
class Outcome:
    """A finished scenario run: the loaded scenario, the replication, the wall time."""

    loaded: LoadedScenario
    replication: Replication
    wall_time_s: float
    command: list[str] | None = None
    ensemble: Ensemble | None = None
    """For more than one replication: every replication's metrics (``replication`` is number 0)."""

    @property
    def impact(self) -> Impact:
        """The metrics against the baseline."""
        return self.replication.impact

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.loaded.scenario.name

    @property
    def stats(self) -> dict[str, dict[str, Any]] | None:
        """Per-metric ensemble statistics (mean, std, min, p10, p50, p90, max), or None for one run."""
        return None if self.ensemble is None else self.ensemble.stats

    def summary(self) -> dict[str, Any]:
        """The content of summary.json (replication 0, plus an ``ensemble`` section for an ensemble)."""
        summary = results.summary_dict(self.loaded, self.replication)
        if self.ensemble is not None:
            summary["ensemble"] = results.ensemble_summary(self.ensemble)
        return summary

    def timeseries(self) -> dict[str, Any]:
        """The daily series as columns (the content of timeseries.csv)."""
        return results.timeseries_columns(self.loaded, self.replication)

    def manifest(self) -> dict[str, Any]:
        """The content of manifest.json."""
        manifest = results.manifest_dict(
            self.loaded, self.replication, self.command, self.wall_time_s, ensemble=self.ensemble
        )
        manifest["resolved_sha256"] = resolved_sha256(manifest["resolved_scenario"])
        return manifest

    def figure(self):
        """The disruption-curve figure (matplotlib Figure)."""
        return plots.disruption_figure(
            self.timeseries(), [s.as_dict() for s in self.replication.shocks], title=_title(self)
        )

    def ensemble_figure(self):
        """The ensemble figure (ECDF of lost volume, fan of daily shortfall), or None for one run."""
        if self.ensemble is None:
            return None
        dates = self.timeseries()["date"]
        lost = self.ensemble["lost_export_t"]
        title = (
            f"{self.name}: {self.ensemble.n:,} replications, seed {self.ensemble.seed} — lost export volume "
            f"P50 {np.nanpercentile(lost, 50) / 1e6:,.2f} Mt (P10 {np.nanpercentile(lost, 10) / 1e6:,.2f}, "
            f"P90 {np.nanpercentile(lost, 90) / 1e6:,.2f})"
        )
        return plots.ensemble_figure(lost, self.ensemble.fan(), dates, title=title)


def _title(outcome: Outcome) -> str:
    lost = outcome.impact["lost_export_t"]
    return f"{outcome.name}: lost export volume {lost / 1e6:,.2f} Mt (seed {outcome.replication.seed})"


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedScenario:
    """Read and validate a scenario file (raises ScenarioError with file, line and key)."""
    return load_scenario(path, overrides)


def check_ensemble(
    loaded: LoadedScenario, replications: int, jobs: int = 1, names: tuple[str, str] = ("replications", "jobs")
) -> None:
    """Refuse an ensemble size or job count before anything runs (ScenarioError naming ``names``).

    The size limit and its message (memory and time estimate) are those of the scenario key
    ``replications``; ``names`` say how the caller spells the two settings (the CLI: its options).
    """
    problem = replications_problem(replications, loaded.scenario.horizon)
    if problem:
        raise ScenarioError.single(names[0], problem)
    check_jobs(jobs, names[1])


def check_jobs(jobs: int, name: str = "jobs") -> None:
    """Refuse a worker-process count out of range (ScenarioError naming the setting as the caller spells it)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise ScenarioError.single(name, f"{jobs!r} is not a number of processes; expected 1 to {MAX_JOBS}")


def run(
    scenario: str | Path | LoadedScenario,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    replication: int = 0,
    command: list[str] | None = None,
    replications: int | None = None,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    *,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    batch: int | None = None,
    thresholds: dict[str, float] | None = None,
    precision: float = PRECISION,
) -> Outcome:
    """Run a scenario (a path or a loaded scenario) and its baseline; return the outcome.

    ``replications`` (default: the file's ``replications``, itself 1 by default) > 1 runs an
    ensemble of replications 0..N-1 in ``jobs`` processes (identical results for any
    ``jobs``); ``outcome.ensemble`` then holds ``table`` (numpy columns, one row per
    replication) and ``stats`` (mean, std, min, P10, P50, P90, max per metric), and
    ``outcome.replication`` is replication 0 in full. ``replication`` picks the one
    replication of a single run. ``progress(done, total)`` is called as replications finish.
    Raises ScenarioError (bad file, or a replication count over the limit) before running.
    With ``jobs`` > 1 from a script, call this under ``if __name__ == "__main__":``.
    ``executor`` (serial, processes, dask), ``workers``, ``scheduler`` and ``batch`` say where the
    replications run (``sim.executors``; default: ``jobs`` processes); ``thresholds`` (metric ->
    value in its unit) add exceedance probabilities and ``precision`` sets the target of
    ``n_for_precision``. None of them changes any replication's numbers.
    """
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario, overrides)
    n = loaded.scenario.replications if replications is None else replications
    check_ensemble(loaded, n, jobs)
    started = time.perf_counter()
    if n == 1:
        rep = run_replication(loaded.scenario, seed=seed, replication=replication)
        return Outcome(loaded, rep, time.perf_counter() - started, command)
    rep = run_replication(loaded.scenario, seed=seed, replication=0)
    ensemble = run_ensemble(
        loaded.scenario,
        n,
        seed=rep.seed,
        jobs=jobs,
        first=rep,
        progress=progress,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        batch=batch,
        thresholds=thresholds,
        precision=precision,
    )
    return Outcome(loaded, rep, time.perf_counter() - started, command, ensemble)


def default_folder(outcome: Outcome, root: str | Path = "results") -> Path:
    """``<root>/<scenario>/<run-id>`` (the run id ends in ``-n<N>`` for an ensemble)."""
    run_id = results.new_run_id(outcome.replication.seed)
    if outcome.ensemble is not None:
        run_id += f"-n{outcome.ensemble.n}"
    return Path(root) / _safe(outcome.name) / run_id


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "scenario"


def save(
    outcome: Outcome,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    plot: bool = True,
) -> Path:
    """Write the run folder atomically; return its path. Raises results.OutputError.

    An ensemble adds ensemble.csv, ensemble.parquet (rows and drawn inputs; ``sim.store``) and,
    with ``plot``, ensemble.png.
    """
    files: dict[str, Any] = {
        "summary.json": json.dumps(outcome.summary(), indent=2) + "\n",
        "timeseries.csv": results.timeseries_csv(outcome.timeseries()),
        "manifest.json": json.dumps(outcome.manifest(), indent=2) + "\n",
    }
    if outcome.ensemble is not None:
        files["ensemble.csv"] = results.ensemble_csv_writer(outcome.ensemble)
        files[store.PARQUET] = _parquet_writer(outcome.ensemble)
    if plot:
        figure = outcome.figure()
        files["disruption.png"] = lambda path: figure.savefig(path, dpi=110)
        if outcome.ensemble is not None:
            fan = outcome.ensemble_figure()
            files["ensemble.png"] = lambda path: fan.savefig(path, dpi=110)
    if out is None:
        return results.write_run_folder(default_folder(outcome, root), files, unique=True)
    return results.write_run_folder(Path(out), files, force=force)


def _parquet_writer(ens: Ensemble) -> Callable[[Path], None]:
    """A writer of ensemble.parquet from an ensemble's columns (the bytes a streamed run writes)."""

    def write(path: Path) -> None:
        schema = store.arrow_schema(ens.metrics, ens.shock_names, ens.units)
        store.write_parquet(path, schema, store.table_batches(ens.table, schema))

    return write


def read(folder: str | Path) -> dict[str, Any]:
    """Read a run folder back: summary, manifest and timeseries columns."""
    return results.read_run(folder)


@dataclass
class RerunReport:
    """What a rerun found: the new outcome, whether it matches, and version differences."""

    outcome: Outcome
    identical: bool
    differences: list[str] = field(default_factory=list)
    version_changes: dict[str, tuple[str, str]] = field(default_factory=dict)


def rerun(
    manifest_path: str | Path,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    jobs_name: str = "jobs",
) -> RerunReport:
    """Run again from a manifest and compare with the stored run folder, bit for bit.

    The manifest and its folder are input from a stranger: every file is checked before
    anything runs (RunFolderError, a ScenarioError, naming the file), the folder must hold
    summary.json and timeseries.csv, and nothing the manifest names is executed or read
    (its scenario files are not opened: the resolved scenario inside it is what runs; git is
    not called). Besides the outputs, the recorded inputs (seed, replication, count, the
    validated scenario) are compared with what the rerun used. An ensemble is rerun with
    the manifest's replication count (in ``jobs`` processes: the result does not depend on it).
    """
    manifest_path = Path(manifest_path)
    reason = store.incomplete_reason(manifest_path.parent)
    if reason:
        raise ScenarioError.single(manifest_path.parent, reason.removeprefix(f"{manifest_path.parent} "))
    check_jobs(jobs, jobs_name)
    manifest = runfolder.read_manifest(manifest_path)
    folder = manifest_path.parent
    stored = results.read_run(folder)
    try:
        loaded = load_resolved(manifest.resolved_scenario, manifest_path)
    except ScenarioError as exc:  # name the keys where they are: inside the manifest's resolved_scenario
        raise ScenarioError(
            [replace(p, key=".".join(filter(None, ("resolved_scenario", p.key)))) for p in exc.problems]
        ) from None
    loaded.overrides = list(manifest.overrides)
    if manifest.resolved_sha256 and loaded.sha256 != manifest.resolved_sha256:
        raise ScenarioError.single(
            manifest_path, "the resolved scenario does not match its recorded hash", None, "resolved_sha256"
        )
    n, seed, replication = manifest.replications, manifest.seed, manifest.replication
    problem = replications_problem(n, loaded.scenario.horizon)
    if problem:
        raise ScenarioError.single(manifest_path, problem, None, "replications")
    if n > 1 and replication != 0:
        raise ScenarioError.single(manifest_path, "an ensemble's manifest records replication 0", None, "replication")
    try:  # what the summary reports besides the rows (thresholds, precision): as recorded
        thresholds = {str(k): float(v) for k, v in (stored["manifest"].get("thresholds") or {}).items()}
        precision = float(stored["manifest"].get("precision", PRECISION))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ScenarioError.single(
            manifest_path, f"unusable thresholds or precision: {exc}", None, "thresholds"
        ) from None
    outcome = run(
        loaded,
        seed=seed,
        replication=replication,
        replications=n,
        jobs=jobs,
        progress=progress,
        thresholds=thresholds,
        precision=precision,
    )
    outcome.loaded.path = Path(manifest.scenario_file)
    outcome.loaded.files = [Path(p) for p in manifest.scenario_files]
    outcome.loaded.sha256 = manifest.scenario_sha256 or loaded.sha256
    now = results.package_versions()
    then = manifest.versions
    changes = {k: (then.get(k, "?"), v) for k, v in now.items() if then.get(k) != v}
    differences = _compare_inputs(manifest, stored, outcome) + _compare(stored, outcome)
    return RerunReport(outcome, not differences, differences, changes)


def _compare_inputs(manifest: runfolder.Manifest, stored: dict[str, Any], outcome: Outcome) -> list[str]:
    """Differences between the inputs the folder records and those the rerun used.

    A scenario without random draws gives the same outputs for any seed, so the outputs alone
    would not show a seed edited in the manifest: the summary's seed and replication, the
    ensemble size and seed column, and the manifest's validated scenario must all agree.
    """
    out = []
    summary = stored["summary"]
    for key, used in (("seed", outcome.replication.seed), ("replication", outcome.replication.replication)):
        if summary.get(key) != used:
            out.append(f"input {key}: the manifest says {used!r}, summary.json {summary.get(key)!r}")
    table = stored.get("ensemble")
    if table is not None and table["seed"].size and not np.all(table["seed"] == outcome.replication.seed):
        out.append(f"input seed: the manifest says {outcome.replication.seed!r}, ensemble.csv has other seeds")
    if manifest.validated_scenario is not None:
        now = json.loads(json.dumps(outcome.loaded.scenario.model_dump(mode="json")))
        if manifest.validated_scenario != now:
            keys = sorted(
                k
                for k in set(now) | set(manifest.validated_scenario)
                if manifest.validated_scenario.get(k) != now.get(k)
            )
            out.append(
                f"input validated_scenario: differs from the resolved scenario validated now (keys {', '.join(keys)})"
            )
    return out


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
    new_summary = json.loads(json.dumps(outcome.summary()))
    for key in sorted(set(stored["summary"]) | set(new_summary)):
        if key not in ("metrics", "ensemble") and stored["summary"].get(key) != new_summary.get(key):
            out.append(f"summary.json {key} differs")
    out += _compare_ensemble(stored, outcome)
    return out


def _compare_ensemble(stored: dict[str, Any], outcome: Outcome) -> list[str]:
    """Differences in the ensemble: statistics in summary.json, and ensemble.csv column by column."""
    old_table = stored.get("ensemble")
    if outcome.ensemble is None:
        return [] if old_table is None else ["ensemble.csv is stored but the manifest asks for one replication"]
    if old_table is None:
        return ["ensemble.csv is missing from the run folder"]
    out = []
    if stored["summary"].get("ensemble") != json.loads(json.dumps(outcome.summary()["ensemble"])):
        out.append("ensemble statistics in summary.json differ")
    new_table = outcome.ensemble.table
    stored_parquet = stored.get("ensemble_parquet")
    if stored_parquet is not None:
        meta = store.read_meta(stored_parquet)
        for key in meta["columns"]:
            if key not in new_table:
                out.append(f"ensemble.parquet column {key}: only in the stored run")
            elif not np.array_equal(store.read_column(stored_parquet, key), new_table[key], equal_nan=True):
                out.append(f"ensemble.parquet column {key} differs")
        out += [f"ensemble.parquet column {k}: only in the new run" for k in new_table if k not in meta["columns"]]
    new_table = {k: v for k, v in new_table.items() if k in old_table or not k.startswith("shocks.")}
    for key in sorted(set(old_table) | set(new_table)):
        if key not in old_table or key not in new_table:
            out.append(f"ensemble column {key}: only in {'the new run' if key in new_table else 'the stored run'}")
        elif old_table[key].shape != new_table[key].shape:
            out.append(f"ensemble column {key}: {old_table[key].size} rows stored, {new_table[key].size} now")
        elif not np.array_equal(old_table[key], new_table[key], equal_nan=True):
            old, new = old_table[key].astype(float), new_table[key].astype(float)
            first = int(np.flatnonzero(~((old == new) | (np.isnan(old) & np.isnan(new))))[0])
            out.append(f"ensemble column {key} differs (first at replication {first})")
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

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim import data, plots, results, runfolder, store
from sim.data import ImpactMapping, RunData
from sim.engine.runner import Replication, run_replication
from sim.ensemble import PRECISION, Ensemble, run_ensemble
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_network, load_resolved, load_scenario, resolved_sha256
from sim.scenario.schema import replications_problem
from sim.scenario.yamlio import read_yaml
from sim.textsafe import figure_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_JOBS",
    "Ensemble",
    "ImpactMapping",
    "Outcome",
    "RerunReport",
    "RunData",
    "check_ensemble",
    "check_jobs",
    "compare",
    "headline",
    "is_network_file",
    "load",
    "network_of",
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
    def impact(self) -> ImpactMapping:
        """The metrics against the baseline, as a mapping metric -> value (``.units``: their units)."""
        return ImpactMapping(self.replication.impact)

    @property
    def data(self) -> RunData:
        """The results as pandas DataFrames (``daily``, ``daily_long``, ``summary``, ``ensemble``), as api.read gives."""
        return RunData(
            self.name,
            results.summary_dict(self.loaded, self.replication)
            | ({} if self.ensemble is None else {"ensemble": results.ensemble_summary(self.ensemble)}),
            {},
            self.timeseries(),
            None if self.ensemble is None else self.ensemble.table,
        )

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

    def figure(self, replication: Replication | None = None):
        """The disruption-curve figure (matplotlib Figure): corridors, shock windows, headline numbers, source.

        For an ensemble it shows the median-loss replication (``median_replication``), not replication 0.
        """
        rep = replication or (self.median_replication() if self.ensemble is not None else self.replication)
        columns = results.timeseries_columns(self.loaded, rep)
        which = ""
        if self.ensemble is not None:
            which = f", replication {rep.replication} of {self.ensemble.n:,} (the median loss)"
        return plots.disruption_figure(
            columns,
            [s.as_dict() for s in rep.shocks],
            title=figure_text(f"{self.name}{which}"),
            corridors=plots.network_corridors(self.loaded.scenario.network),
            headline=headline(ImpactMapping(rep.impact)),
            source=figure_text(self.source_line(rep.seed), None),
        )

    def median_replication(self) -> Replication:
        """For an ensemble, the replication whose lost export volume is the median (the lowest such index);
        for a single run, the run itself. Reruns that replication when it is not number 0."""
        if self.ensemble is None:
            return self.replication
        lost = np.asarray(self.ensemble["lost_export_t"], dtype=float)
        if not np.any(~np.isnan(lost)):
            return self.replication
        median = float(np.nanpercentile(lost, 50, method="lower"))
        r = int(np.flatnonzero(lost == median)[0])
        if r == self.replication.replication:
            return self.replication
        return run_replication(self.loaded.scenario, seed=self.ensemble.seed, replication=r)

    def source_line(self, seed: int | None = None) -> str:
        """'Source: routesim 0.1.0, scenario ... (seed ...), network ...; baseline: ...' for the bottom of a chart."""
        from sim import __version__

        networks = ", ".join(Path(f).stem for f in self.loaded.files[1:]) or "inline"
        seed = self.replication.seed if seed is None else seed
        return (
            f"Source: routesim {__version__} model run; scenario {self.name} ({Path(self.loaded.path).name}, "
            f"seed {seed}), network {networks}; each against the same network without the shocks."
        )

    def ensemble_figure(self):
        """The ensemble figure (the loss given that a shock happened, and the fan of the cumulative loss), or None."""
        if self.ensemble is None:
            return None
        dates = self.timeseries()["date"]
        lost = self.ensemble["lost_export_t"]
        title = (
            f"{figure_text(self.name)}: {self.ensemble.n:,} replications, seed {self.ensemble.seed} — lost export volume "
            f"P50 {np.nanpercentile(lost, 50) / 1e6:,.2f} Mt (P10 {np.nanpercentile(lost, 10) / 1e6:,.2f}, "
            f"P90 {np.nanpercentile(lost, 90) / 1e6:,.2f}), mean {np.nanmean(lost) / 1e6:,.2f} Mt"
        )
        return plots.ensemble_figure(
            lost,
            self.ensemble.fan(),
            dates,
            title=title,
            happened=self.ensemble.happened,
            shortfall=self.ensemble.shortfall,
            source=figure_text(self.source_line(self.ensemble.seed), None),
            probability=_probabilities(self.loaded),
        )


def _probabilities(loaded: LoadedScenario) -> str:
    """'probability 0.3 in the scenario' (or each shock's) for shocks that may not happen; '' if all happen."""
    shocks = [s for s in loaded.scenario.shocks if not s.background and s.probability < 1.0]
    if not shocks:
        return ""
    if len(shocks) == 1:
        return f"probability {shocks[0].probability:g} in the scenario"
    return "probabilities " + ", ".join(f"{s.probability:g}" for s in shocks) + " in the scenario"


def headline(impact: Mapping[str, Any]) -> str:
    """The headline numbers of a run in one line: lost Mt, Mbbl, USD, days to survive and to recover."""
    lost, bbl, usd = impact["lost_export_t"] or 0.0, impact["lost_export_bbl"] or 0.0, impact["revenue_lost_usd"] or 0.0
    survive, recover = impact["time_to_survive_d"], impact["time_to_recover_d"]
    parts = [
        f"Lost exports {lost / 1e6:,.2f} Mt ({bbl / 1e6:,.1f} Mbbl, {usd / 1e9:,.2f} bn USD at "
        f"{impact['price_usd_per_bbl']:,.0f} USD/bbl)",
        "storage never full" if survive is None else f"storage full after {survive:g} d",
        "not recovered within the horizon" if recover is None else f"recovered after {recover:g} d",
    ]
    return " · ".join(parts)


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


MAX_FOLDER_NAME_BYTES = 100
"""Longest folder name made from a scenario name (UTF-8 bytes; file systems allow 255)."""


def _safe(name: str) -> str:
    """A folder name from a scenario name: letters, digits, '-', '_', '.'; never '.', '..' or hidden; short."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    safe = "_" * (len(safe) - len(safe.lstrip("."))) + safe.lstrip(".")  # no '.', '..' or hidden folder
    while len(safe.encode("utf-8")) > MAX_FOLDER_NAME_BYTES:
        safe = safe[:-1]
    return safe or "scenario"


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
    columns = outcome.timeseries()
    files: dict[str, Any] = {
        "summary.json": json.dumps(outcome.summary(), indent=2) + "\n",
        "timeseries.csv": results.timeseries_csv(columns),
        "manifest.json": json.dumps(outcome.manifest(), indent=2) + "\n",
    }
    parquet = data.parquet_writer(columns)
    if parquet is not None:
        files["timeseries.parquet"] = parquet
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


def read(folder: str | Path) -> RunData:
    """Read a run folder back as DataFrames: ``daily`` (DatetimeIndex), ``daily_long``, ``summary``, ``ensemble``.

    ``run["summary"]``, ``run["manifest"]``, ``run["timeseries"]`` still give the plain data.
    """
    raw = results.read_run(folder)
    return RunData(
        str(raw["summary"].get("scenario", Path(folder).parent.name)),
        raw["summary"],
        raw["manifest"],
        raw["timeseries"],
        raw.get("ensemble"),
        Path(folder),
    )


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
    rows = None if stored.get("ensemble") is None else len(next(iter(stored["ensemble"].values()), []))
    if (n > 1) != (rows is not None) or (rows is not None and rows != n):
        held = "no ensemble.csv" if rows is None else f"an ensemble.csv of {rows:,} rows"
        raise ScenarioError.single(
            manifest_path,
            f"records {n:,} replication(s) but its folder holds {held}; refusing to rerun",
            None,
            "replications",
        )
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
    seeds = None if table is None else table.get("seed")
    if seeds is not None and seeds.size and not np.all(seeds == outcome.replication.seed):
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


def compare(
    items: list[str | Path | LoadedScenario | Outcome] | tuple[str | Path | LoadedScenario | Outcome, ...],
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    normalise: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Compare scenario files, loaded scenarios, run folders or outcomes side by side; return a pandas DataFrame.

    Rows: horizon, start, price, network, replications, seed, then the headline metrics; columns:
    ``label``, ``unit``, one per scenario (the value, or the ensemble mean), and ``Δ <name>`` (with
    ``low``/``high`` 95 % bounds for ensembles, paired on common random numbers) against the first.
    Files with different horizons or prices are run with the longest horizon and the first's price
    (``attrs["notes"]`` says which); with ``normalise=False``, or for saved runs, a mismatch raises
    ScenarioError. See ``sim.compare``.
    """
    from sim.compare import compare as compare_items

    return compare_items(list(items), replications, seed, jobs, normalise, progress)


def is_network_file(path: str | Path) -> bool:
    """Whether ``path`` holds a network (legs, sources, ... or ``extends``) rather than a scenario (``network:``)."""
    try:
        data = read_yaml(Path(path)).data
    except (ScenarioError, OSError):
        return False  # validation reports why
    return isinstance(data, dict) and "network" not in data and bool({"legs", "sources", "extends"} & set(data))


def network_of(path: str | Path) -> Any:
    """The validated network of a scenario or network file (raises ScenarioError)."""
    return load_network(path) if is_network_file(path) else load_scenario(path).scenario.network


def validate(paths: list[str | Path], overrides: list[str] | tuple[str, ...] = ()) -> dict[str, ScenarioError | None]:
    """Validate scenario or network files without running them: path -> None if valid, else the error."""
    out: dict[str, ScenarioError | None] = {}
    for path in paths:
        try:
            if is_network_file(path):
                load_network(path)
            else:
                load_scenario(path, overrides)
            out[str(path)] = None
        except ScenarioError as exc:
            out[str(path)] = exc
    return out


# --- studies: sweeps, reverse stress tests, sensitivity (sim.explore) ------------------------------
# Imported lazily: they need pandas (and SALib for sensitivity), which a plain run does not.


def _study_input(
    scenario: str | Path | LoadedScenario, overrides: list[str] | tuple[str, ...], replications: int | None, jobs: int
) -> tuple[LoadedScenario, int]:
    """The loaded scenario and the replications per point, both checked (ScenarioError)."""
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario, overrides)
    n = loaded.scenario.replications if replications is None else replications
    check_ensemble(loaded, n, jobs, names=("-n/--replications", "-j/--jobs"))
    return loaded, n


def _executor_options(executor: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """Options for ``run_ensemble`` beyond ``jobs`` (an ``executor`` name once it takes one)."""
    return options if executor is None else {"executor": executor, **options}


def sweep(
    scenario: str | Path | LoadedScenario,
    params: list[str] | tuple[str, ...],
    replications: int | None = None,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
    metrics: list[str] | tuple[str, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
    executor: str | None = None,
    journal: str | Path | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """A grid of ensembles on common random numbers: one row per point (a pandas DataFrame).

    ``params`` are ``PATH=SPEC`` strings: ``shocks.0.duration=10d:180d:10d`` (a range with units,
    both ends included) or ``network.legs.aktau_baku.fleet=2,4,8`` (a list). Each point runs
    replications 0..N-1 of the same seed (N: ``replications``, default the file's). Columns: the
    parameters, then per metric its mean, P10/P50/P90 and how many replications define it;
    ``attrs`` describe the study (``api.save_study`` writes it). Raises ScenarioError first.
    ``journal`` (a file) records finished points: a sweep stopped half-way, run again with the
    same settings, resumes where it was (delete the file when the study is saved).

    >>> table = api.sweep("scenarios/cpc_full_closure_90d_2025.yaml",
    ...                   ["shocks.0.duration=30d:120d:30d"])          # doctest: +SKIP
    """
    from sim.explore.params import parse_param
    from sim.explore.sweep import run_sweep

    parsed = [parse_param(p) for p in params]
    loaded, n = _study_input(scenario, overrides, replications, jobs)
    return run_sweep(
        loaded,
        parsed,
        n,
        seed,
        jobs,
        metrics,
        progress=progress,
        journal=journal,
        **_executor_options(executor, ensemble_options),
    )


def stress(
    scenario: str | Path | LoadedScenario,
    param: str,
    threshold: str | float,
    metric: str = "lost_export_t",
    interval: str | None = None,
    percentile: float = 50,
    replications: int | None = None,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
    tol: str | float | None = None,
    progress: Callable[[int, int], None] | None = None,
    executor: str | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """The reverse stress test: the smallest value of ``param`` in ``interval`` (``"10d:365d"``;
    default 0 d to the horizon for a shock's duration) at which the ``percentile`` of ``metric``
    crosses ``threshold`` (``"1Mt"``), by bisection on common random numbers.

    Returns every evaluation (a DataFrame sorted by the parameter); ``attrs`` hold ``crossed``,
    ``break``, ``bracket`` (the last bracket), ``precision`` (its width) and the study.
    """
    from sim.explore.stress import run_stress

    loaded, n = _study_input(scenario, overrides, replications, jobs)
    return run_stress(
        loaded,
        param,
        metric,
        threshold,
        interval,
        percentile,
        n,
        seed,
        jobs,
        tol,
        progress=progress,
        **_executor_options(executor, ensemble_options),
    )


def survival(
    scenario: str | Path | LoadedScenario,
    percentile: float = 50,
    routes: list[str] | tuple[str, ...] | None = None,
    replications: int | None = None,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    executor: str | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """For each route: days it can be closed (from day 0, the others open, the scenario's own shocks
    removed) before shut-in starts. One row per route (a DataFrame); inf: no shut-in in the horizon."""
    from sim.explore.stress import run_survival

    loaded, n = _study_input(scenario, overrides, replications, jobs)
    return run_survival(
        loaded, n, seed, jobs, percentile, routes, progress=progress, **_executor_options(executor, ensemble_options)
    )


def sensitivity(
    scenario: str | Path | LoadedScenario,
    method: str = "sobol",
    samples: int | None = None,
    bounds: list[str] | tuple[str, ...] = (),
    metric: str = "lost_export_t",
    replications: int | None = None,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
    second_order: bool = False,
    progress: Callable[[int, int], None] | None = None,
    executor: str | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """Global sensitivity of ``metric`` to the scenario's uncertain inputs (fields given as
    distributions, and ``bounds`` such as ``"shocks.0.duration=10d:90d"``): Sobol first-order and
    total indices with intervals, or Morris mu*/sigma; one row per input (a DataFrame), most
    influential first. ``samples`` is SALib's N (Sobol: a power of 2). Needs SALib
    (``routesim[sensitivity]``): raises sim.explore.sensitivity.MissingDependencyError without it.
    """
    from sim.explore.params import parse_bound
    from sim.explore.sensitivity import require_salib, run_sensitivity

    require_salib()
    parsed = [parse_bound(b) for b in bounds]
    loaded, n = _study_input(scenario, overrides, replications, jobs)
    return run_sensitivity(
        loaded,
        method,
        samples,
        parsed,
        metric,
        n,
        seed,
        jobs,
        second_order,
        progress=progress,
        **_executor_options(executor, ensemble_options),
    )


def discover(
    scenario: str | Path | LoadedScenario,
    threshold: str | float,
    bounds: list[str] | tuple[str, ...] = (),
    metric: str = "lost_export_t",
    samples: int = 256,
    replications: int | None = None,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
    density: float = 0.8,
    progress: Callable[[int, int], None] | None = None,
    executor: str | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """Scenario discovery: a Latin hypercube of the uncertain inputs (as for ``sensitivity``), then
    PRIM (the EMA Workbench's) for the box where ``metric`` reaches ``threshold``; one row per input
    (restricted or not, the box's low/high). Needs ``routesim[discovery]``."""
    from sim.explore.discovery import require_prim, run_discovery
    from sim.explore.params import parse_bound

    require_prim()
    parsed = [parse_bound(b) for b in bounds]
    loaded, n = _study_input(scenario, overrides, replications, jobs)
    return run_discovery(
        loaded,
        threshold,
        parsed,
        metric,
        samples,
        n,
        seed,
        jobs,
        density,
        progress=progress,
        **_executor_options(executor, ensemble_options),
    )


def save_study(
    table: pd.DataFrame,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    plot: bool = True,
    command: list[str] | None = None,
    metric: str = "lost_export_t",
) -> Path:
    """Write a study's run folder (table as CSV and Parquet, plot, manifest) atomically; return its path."""
    from sim.explore.output import save_study as write

    return write(table, out, root, force, plot, command, metric)


def study_figure(table: pd.DataFrame, metric: str = "lost_export_t"):
    """The figure of a study's table (sweep, stress, survival, sensitivity or discovery)."""
    from sim.explore.figures import study_figure as figure

    return figure(table, metric)


__all__ += ["discover", "save_study", "sensitivity", "stress", "study_figure", "survival", "sweep"]

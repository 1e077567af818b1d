"""Load -> run -> save -> read, and the checks and file helpers around them (validate)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim import data, results, runfolder, store
from sim.api.outcome import Outcome
from sim.data import RunData
from sim.engine.runner import run_replication
from sim.ensemble import PRECISION, Ensemble, metric_names, parse_threshold, run_ensemble
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_network, load_scenario
from sim.scenario.schema import replications_problem
from sim.scenario.yamlio import read_yaml

MAX_JOBS = 64
"""Most worker processes an ensemble may start."""


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
    return Path(root) / results.folder_name(outcome.name) / run_id


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


def thresholds(
    loaded: LoadedScenario, texts: list[str] | tuple[str, ...], seed: int | None = None, name: str = "thresholds"
) -> dict[str, float]:
    """Exceedance thresholds ``METRIC=VALUE`` (a value with its unit) as metric -> value in canonical units.

    Runs one replication to learn the metric names and units; ScenarioError (naming ``name``) for a bad one.
    """
    if not texts:
        return {}
    rep = run(loaded, seed=seed, replications=1).replication
    metrics = metric_names(rep.impact)
    out = {}
    for text in texts:
        try:
            metric, value = parse_threshold(text, metrics, rep.impact.units, loaded.scenario.network.grade.as_grade())
        except ValueError as exc:
            raise ScenarioError.single(name, str(exc)) from None
        out[metric] = value
    return out


def manifest_replications(path: str | Path) -> int:
    """The replication count a run folder's manifest records (1 if it is not valid: ``rerun`` reports why)."""
    try:
        return runfolder.read_manifest(Path(path)).replications
    except ScenarioError:
        return 1


def targets(path: str | Path) -> list[Any]:
    """What a shock in a scenario or network file can target (``sim.scenario.targets.TargetInfo``; ScenarioError)."""
    from sim.scenario.targets import list_targets

    return list_targets(network_of(path))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (for editor completion and checks)."""
    from sim.scenario.jsonschema import scenario_schema

    return scenario_schema()

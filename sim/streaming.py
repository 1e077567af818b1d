"""An ensemble run folder written as its batches finish, which survives Ctrl-C and crashes.

``run_streamed`` creates the run folder at once with an ``INCOMPLETE`` marker (the plan: the
resolved scenario, seed, N, batch size, thresholds, ...), stores each finished batch under
``parts/`` (``sim.store``), then finishes the folder: ``ensemble.parquet`` (the parts in
replication order), ``ensemble.csv``, ``summary.json`` and ``timeseries.csv`` (replication 0, run
again in this process, with the ensemble statistics read back a column at a time), the plots,
and ``manifest.json`` last; only then is the marker removed and ``parts/`` deleted. The parent
holds one batch at a time, so its memory does not grow with N.

Interrupted or crashed, the folder keeps every finished batch and its marker: ``read`` and
``rerun`` refuse it, and ``resume`` (``routesim run --resume DIR``) runs only the missing
batches and finishes it. Because a replication's row depends on (scenario, seed, replication)
only, the finished folder is bit for bit the one an uninterrupted run writes (the manifest's
times and command aside).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim import api, data, results
from sim.batches import FAULT_ENV, BatchContext, batch_size, prime_baseline
from sim.engine.runner import run_replication
from sim.ensemble import PRECISION, Ensemble, fan_rows, metric_names, result_of, shock_names, tasks_for
from sim.executors import Evaluator, evaluator
from sim.results import OutputError
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_resolved
from sim.store import (
    MARKER,
    PARQUET,
    PARTS,
    arrow_schema,
    done_ranges,
    ensemble_csv_from_parquet,
    merged_parts,
    missing_ranges,
    read_column,
    read_fan,
    write_parquet,
    write_part,
)

__all__ = ["EnsembleOptions", "read_plan", "resume", "run_streamed", "start_streamed"]

Progress = Callable[[int, int], None]


@dataclass
class EnsembleOptions:
    """How a streamed ensemble runs (where) and what its summary reports (thresholds, precision)."""

    executor: str = "serial"
    workers: int = 1
    scheduler: str | None = None
    batch: int | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    precision: float = PRECISION
    plot: bool = True

    def evaluator(self) -> Evaluator:
        """The evaluator to start."""
        return evaluator(self.executor, self.workers, self.scheduler)


def _write_text(folder: Path, name: str, text: str) -> None:
    tmp = folder / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, folder / name)


def _claim(target: Path, force: bool, unique: bool) -> Path:
    """Create the run folder (a free name with ``unique``; replacing an old one with ``force``)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if force and target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.rename(target, trash / "run")
            shutil.rmtree(trash, ignore_errors=True)
        candidate = target
        for attempt in range(2, 1000):
            try:
                os.mkdir(candidate)
                return candidate
            except FileExistsError:
                if not unique:
                    raise OutputError(
                        f"{target} already exists; choose another --out, or pass --force to replace it"
                    ) from None
                candidate = target.with_name(f"{target.name}-{attempt}")
    except OSError as exc:
        raise OutputError(f"cannot create the results folder {target}: {exc.strerror or exc}") from None
    raise OutputError(f"could not find a free folder name next to {target}")


def run_streamed(
    loaded: LoadedScenario,
    n: int,
    seed: int | None = None,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    options: EnsembleOptions | None = None,
    command: list[str] | None = None,
    progress: Progress | None = None,
) -> tuple[api.Outcome, Path]:
    """Run an ensemble of ``n`` replications into a new run folder, batch by batch; return the
    outcome (its ensemble read back from ensemble.parquet) and the folder.

    Raises OutputError if the folder cannot be made; KeyboardInterrupt leaves it resumable.
    """
    options = options or EnsembleOptions()
    folder = start_streamed(loaded, n, seed, out, root, force, options, command)
    return resume(folder, options, progress)


def start_streamed(
    loaded: LoadedScenario,
    n: int,
    seed: int | None = None,
    out: str | Path | None = None,
    root: str | Path = "results",
    force: bool = False,
    options: EnsembleOptions | None = None,
    command: list[str] | None = None,
) -> Path:
    """Create the run folder of a streamed ensemble with its INCOMPLETE marker (the plan); run
    nothing yet (``resume`` runs it). Raises OutputError if the folder cannot be made."""
    options = options or EnsembleOptions()
    seed = loaded.scenario.seed if seed is None else seed
    if out is None:
        name = results.folder_name(loaded.scenario.name)
        folder = _claim(Path(root) / name / f"{results.new_run_id(seed)}-n{n}", False, True)
    else:
        folder = _claim(Path(out), force, False)
    plan = {
        "routesim_incomplete": 1,
        "message": f"unfinished ensemble: finish it with `routesim run --resume {folder}`",
        "scenario_file": str(loaded.path),
        "scenario_files": [str(p) for p in loaded.files],
        "scenario_sha256": loaded.sha256,
        "overrides": loaded.overrides,
        "resolved_scenario": loaded.resolved,
        "seed": seed,
        "replications": n,
        "batch": options.batch or batch_size(n - 1, options.workers),
        "thresholds": options.thresholds,
        "precision": options.precision,
        "plot": options.plot,
        "command": command,
    }
    _write_text(folder, MARKER, json.dumps(results._clean(plan), indent=2) + "\n")
    return folder


def read_plan(folder: str | Path) -> dict[str, Any]:
    """The plan an unfinished run folder's marker holds (ScenarioError if there is none)."""
    folder = Path(folder)
    marker = folder / MARKER
    try:
        plan = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if (folder / "manifest.json").exists():
            raise ScenarioError.single(folder, "this run is already finished: nothing to resume") from None
        raise ScenarioError.single(folder, f"not an unfinished run folder (no {MARKER} file)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError.single(marker, f"cannot read the unfinished run's plan: {exc}") from None
    if not isinstance(plan, dict) or plan.get("routesim_incomplete") != 1:
        raise ScenarioError.single(marker, "not a routesim plan (no 'routesim_incomplete: 1')")
    return plan


def resume(
    folder: str | Path, options: EnsembleOptions | None = None, progress: Progress | None = None
) -> tuple[api.Outcome, Path]:
    """Finish an interrupted or crashed run folder: run its missing batches, then write its files.

    ``options`` say where to run (executor, workers); what the run computes comes from its plan.
    """
    folder = Path(folder)
    plan = read_plan(folder)
    loaded = load_resolved(plan["resolved_scenario"], folder / MARKER)
    loaded.overrides = list(plan.get("overrides", []))
    loaded.path = Path(plan.get("scenario_file", folder))
    loaded.files = [Path(p) for p in plan.get("scenario_files", [])]
    loaded.sha256 = plan.get("scenario_sha256", loaded.sha256)
    options = options or EnsembleOptions()
    options.thresholds = {k: float(v) for k, v in plan.get("thresholds", {}).items()}
    options.precision = float(plan.get("precision", PRECISION))
    options.plot = bool(plan.get("plot", True))
    return _execute(folder, plan, loaded, options, progress), folder


def _execute(
    folder: Path, plan: dict[str, Any], loaded: LoadedScenario, options: EnsembleOptions, progress: Progress | None
) -> api.Outcome:
    started = time.perf_counter()
    scenario = loaded.scenario
    seed, n, size = int(plan["seed"]), int(plan["replications"]), int(plan["batch"])
    first = run_replication(scenario, seed, 0)
    metrics = metric_names(first.impact)
    names = shock_names(scenario)
    units = {k: first.impact.units[k] for k in metrics}
    schema = arrow_schema(metrics, names, units)
    days = first.scenario.days
    fan = fan_rows(n, days)
    declared = len(scenario.shocks)
    done = done_ranges(folder)
    if not any(a == 0 for a, _ in done):
        write_part(folder, result_of(first, metrics, declared, fan), seed, metrics, schema)
        done = done_ranges(folder)
    todo = missing_ranges(done, n, size)
    finished = n - sum(b - a for a, b in todo)
    if progress:
        progress(finished, n)
    context = BatchContext.of(scenario, metrics)
    prime_baseline(context, first.baseline)
    described = {"executor": options.executor, "workers": options.workers}
    if todo:
        executor = options.executor
        if executor == "processes" and (len(todo) == 1 or options.workers == 1):
            executor = "serial"
        with evaluator(executor, options.workers, options.scheduler) as ev:
            described = ev.describe()
            for result in ev.imap(context, tasks_for(seed, todo, fan, os.environ.get(FAULT_ENV))):
                write_part(folder, result, seed, metrics, schema)
                finished += result.stop - result.start
                if progress:
                    progress(finished, n)
    return _finish(folder, plan, loaded, first, schema, metrics, units, names, fan, described, started)


def _finish(
    folder: Path,
    plan: dict[str, Any],
    loaded: LoadedScenario,
    first: Any,
    schema: Any,
    metrics: list[str],
    units: dict[str, str],
    names: list[str],
    fan: int,
    described: dict[str, Any],
    started: float,
) -> api.Outcome:
    """Merge the parts into ensemble.parquet and write the run's files; the manifest last."""
    seed, n = int(plan["seed"]), int(plan["replications"])
    parquet = folder / PARQUET
    write_parquet(parquet, schema, merged_parts(folder, n))
    happened = [int(read_column(parquet, f"shocks.{i}.happened").sum()) for i in range(len(names))]
    ensemble = Ensemble(
        seed=seed,
        metrics=metrics,
        units=units,
        shock_names=names,
        happened_by_shock=np.array(happened, dtype=np.int64),
        shortfall=read_fan(folder, fan, first.scenario.days),
        n_replications=n,
        reader=lambda name: read_column(parquet, name),
        executor=described,
        thresholds={k: float(v) for k, v in plan.get("thresholds", {}).items()},
        precision=float(plan.get("precision", PRECISION)),
    )
    command = plan.get("command")
    outcome = api.Outcome(loaded, first, 0.0, command, ensemble)
    _write_text(folder, "summary.json", json.dumps(outcome.summary(), indent=2) + "\n")
    columns = outcome.timeseries()
    _write_text(folder, "timeseries.csv", results.timeseries_csv(columns))
    parquet_writer = data.parquet_writer(columns)
    if parquet_writer is not None:  # as api.save writes it
        tmp = folder / ".timeseries.parquet.tmp"
        parquet_writer(tmp)
        os.replace(tmp, folder / "timeseries.parquet")
    tmp = folder / ".ensemble.csv.tmp"
    ensemble_csv_from_parquet(parquet, tmp, metrics)
    os.replace(tmp, folder / "ensemble.csv")
    if plan.get("plot", True):
        for name, figure in (("disruption.png", outcome.figure()), ("ensemble.png", outcome.ensemble_figure())):
            tmp = folder / f".{name}.tmp.png"
            figure.savefig(tmp, dpi=110)
            os.replace(tmp, folder / name)
    outcome.wall_time_s = time.perf_counter() - started
    ensemble.wall_time_s = outcome.wall_time_s
    manifest = outcome.manifest()
    manifest["batch"] = int(plan["batch"])
    if ensemble.thresholds:
        manifest["thresholds"] = ensemble.thresholds
    manifest["precision"] = ensemble.precision
    _write_text(folder, "manifest.json", json.dumps(manifest, indent=2) + "\n")
    (folder / MARKER).unlink()
    shutil.rmtree(folder / PARTS, ignore_errors=True)
    return outcome

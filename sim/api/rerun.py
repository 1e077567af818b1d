"""``rerun``: run again from a run folder's manifest and compare with what the folder holds, bit for bit."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim import results, runfolder, store
from sim.api.outcome import Outcome
from sim.api.runs import check_jobs, run
from sim.ensemble import PRECISION
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_resolved
from sim.scenario.schema import replications_problem


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

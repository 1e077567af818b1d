"""Parameter sweeps: a grid of scenario points, an ensemble at each, metric percentiles per point.

Every point runs replications 0..N-1 of the same seed (common random numbers): a shock drawn at
one point is drawn with the same random numbers at every other, so the curve of a metric against
a parameter is smooth where the model is, and a deterministic scenario gives its exact curve.

The table has one row per point: the parameters' values (numbers in the unit of their spec, or
the text of a listed value), ``replications``, ``seed``, then per metric its mean, its
percentiles (numpy "linear", over the replications where it is defined) and ``defined``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import results
from sim.engine.metrics import _unit_of
from sim.engine.runner import run_replication
from sim.ensemble import PERCENTILE_METHOD, PERCENTILES, Ensemble, run_ensemble
from sim.explore.params import Point, SweepParam, assignments, grid, with_overrides
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, resolved_sha256

__all__ = [
    "Journal",
    "check_metrics",
    "evaluate",
    "metric_names",
    "point_stats",
    "run_sweep",
    "stat_column",
    "study_attrs",
    "study_key",
    "validate_points",
]

Progress = Callable[[int, int], None]


def stat_column(metric: str, stat: str) -> str:
    """The table column of one statistic of a metric: ``lost_export_t_p50``."""
    return f"{metric}_{stat}"


def evaluate(loaded: LoadedScenario, n: int, seed: int, jobs: int = 1, **ensemble_options: Any) -> Ensemble:
    """Replications 0..n-1 of ``seed`` at one point (``ensemble_options`` go to ``run_ensemble``)."""
    return run_ensemble(loaded.scenario, n, seed=seed, jobs=jobs, **ensemble_options)


def point_stats(
    ens: Ensemble, metrics: Sequence[str], percentiles: Sequence[float] = PERCENTILES
) -> dict[str, float | int]:
    """Per metric: mean, the percentiles and how many replications define it (NaN if none)."""
    out: dict[str, float | int] = {}
    for metric in metrics:
        values = np.asarray(ens[metric], dtype=float)
        defined = values[~np.isnan(values)]
        out[stat_column(metric, "mean")] = float(defined.mean()) if defined.size else np.nan
        quantiles = (
            np.percentile(defined, list(percentiles), method=PERCENTILE_METHOD)
            if defined.size
            else [np.nan] * len(percentiles)
        )
        for q, value in zip(percentiles, quantiles, strict=True):
            out[stat_column(metric, f"p{q:g}")] = float(value)
        out[stat_column(metric, "defined")] = int(defined.size)
    return out


def metric_names(loaded: LoadedScenario) -> list[str]:
    """The metrics every run reports (the impact's scalars, in order), from one short run of the scenario."""
    brief = loaded.scenario.model_copy(update={"horizon": min(float(loaded.scenario.horizon), 2.0)})
    return list(run_replication(brief, loaded.scenario.seed, 0).impact.values)


def check_metrics(loaded: LoadedScenario, metrics: Sequence[str]) -> None:
    """Raise ScenarioError (option ``--metric``) for a name that is not a metric, before anything runs."""
    known = metric_names(loaded)
    for metric in metrics:
        if metric not in known:
            raise ScenarioError.single("<--metric>", f"unknown metric {metric!r}; expected one of: {', '.join(known)}")


def validate_points(loaded: LoadedScenario, params: Sequence[SweepParam]) -> None:
    """Load every value of every parameter once (the others at their first value): a bad value
    raises ScenarioError before anything runs, at the cost of one load per value, not per point."""
    first = [assignments(p.path, p.texts[0]) for p in params]
    for k, param in enumerate(params):
        for text in param.texts:
            chosen = [*first[:k], assignments(param.path, text), *first[k + 1 :]]
            with_overrides(loaded, [a for group in chosen for a in group])


def study_attrs(loaded: LoadedScenario, kind: str, seed: int, n: int, **extra: Any) -> dict[str, Any]:
    """What a study's DataFrame carries in ``attrs``: enough to save it with a manifest."""
    return {
        "kind": kind,
        "scenario": loaded.scenario.name,
        "scenario_file": str(loaded.path),
        "scenario_files": [str(p) for p in loaded.files],
        "scenario_sha256": loaded.sha256,
        "overrides": list(loaded.overrides),
        "resolved_scenario": loaded.resolved,
        "seed": int(seed),
        "replications": int(n),
        "percentile_method": PERCENTILE_METHOD,
        **extra,
    }


def study_key(
    loaded: LoadedScenario,
    params: Sequence[SweepParam],
    n: int,
    seed: int,
    metrics: Sequence[str] | None,
    percentiles: Sequence[float],
) -> str:
    """A hash of everything a sweep's rows depend on (the resolved scenario, the parameters, N, the
    seed, the metrics, the code's version and commit): a journal is reused only for the same key."""
    from sim import __version__

    what = {
        "resolved": resolved_sha256(loaded.resolved),
        "params": [(p.path, list(p.texts)) for p in params],
        "n": int(n),
        "seed": int(seed),
        "metrics": None if metrics is None else list(metrics),
        "percentiles": [float(q) for q in percentiles],
        "routesim": __version__,
        "commit": results.git_commit(Path(__file__).resolve().parent),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


class Journal:
    """Finished points of a sweep, one JSON line each, appended and synced as they finish, so a sweep
    that was stopped (killed, out of time) resumes where it was: ``run_sweep(..., journal=path)`` again.

    The first line holds the study's key; a journal with another key (other settings or code) is
    started afresh. Floats are written by ``repr`` (exact), so resumed rows are bit for bit the rows.
    """

    def __init__(self, path: str | Path, key: str):
        self.path = Path(path)
        self.rows: dict[int, dict[str, Any]] = {}
        if self.path.exists():
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines()
                if lines and json.loads(lines[0]).get("key") == key:
                    for line in lines[1:]:
                        entry = json.loads(line)
                        self.rows[int(entry["point"])] = entry["row"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self.rows = {}  # a torn or foreign file: start again
        if not self.rows:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"key": key}) + "\n", encoding="utf-8")

    def add(self, point: int, row: dict[str, Any]) -> None:
        """Record a finished point (appended and synced to disk)."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"point": point, "row": row}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.rows[point] = row

    def remove(self) -> None:
        """Delete the journal (the study's folder is written)."""
        self.path.unlink(missing_ok=True)


def run_sweep(
    loaded: LoadedScenario,
    params: Sequence[SweepParam],
    n: int = 1,
    seed: int | None = None,
    jobs: int = 1,
    metrics: Sequence[str] | None = None,
    percentiles: Sequence[float] = PERCENTILES,
    progress: Progress | None = None,
    journal: str | Path | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """Run an ensemble of ``n`` replications of ``seed`` (default: the file's) at every point of the
    grid of ``params``; return one row per point (parameters, then each metric's statistics).

    ``metrics`` (default: all) picks the metrics; ``progress(done, total)`` is called per point.
    With ``journal`` (a file), finished points are recorded there and a rerun with the same settings
    skips them (``attrs['resumed']`` counts them); the caller removes it when done. The DataFrame's
    ``attrs`` hold the study's description (see ``study_attrs``).
    """
    if not params:
        raise ValueError("a sweep needs at least one parameter")
    seed = loaded.scenario.seed if seed is None else int(seed)
    points: list[Point] = grid(params)
    validate_points(loaded, params)
    if metrics is not None:
        check_metrics(loaded, metrics)
    names = list(metrics) if metrics is not None else metric_names(loaded)
    units = {m: _unit_of(m) for m in names}
    book = None if journal is None else Journal(journal, study_key(loaded, params, n, seed, metrics, percentiles))
    resumed = 0 if book is None else len(book.rows)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for index, point in enumerate(points):
        if book is not None and index in book.rows:
            rows.append(book.rows[index])
            continue
        ens = evaluate(with_overrides(loaded, point.overrides), n, seed, jobs, **ensemble_options)
        row: dict[str, Any] = {}
        for param, value, text in zip(params, point.values, point.texts, strict=True):
            row[param.path] = (int(value) if param.whole else value) if param.numeric else text
        row["replications"] = n
        row["seed"] = seed
        row |= point_stats(ens, names, percentiles)
        rows.append(row)
        if book is not None:
            book.add(index, row)
        if progress:
            progress(index + 1, len(points))
    table = pd.DataFrame(rows)
    table.attrs = study_attrs(
        loaded,
        "sweep",
        seed,
        n,
        params=[{"path": p.path, "spec": p.spec, "unit": p.unit, "numeric": p.numeric} for p in params],
        metrics=names,
        units=units,
        percentiles=[float(q) for q in percentiles],
        points=len(points),
        resumed=resumed,
        wall_time_s=time.perf_counter() - started,
    )
    return table

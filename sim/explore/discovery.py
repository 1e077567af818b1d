"""Scenario discovery: the box of input space where a metric passes a threshold (PRIM).

The inputs are those of a sensitivity study (fields given as distributions, and ``--bound``
ranges). A Latin hypercube of ``samples`` points (scipy's, seeded) is mapped through each input's
quantile function as in ``sim.explore.sensitivity``; each point runs replications 0..N-1 of the
same seed and its output is the metric's mean. The cases of interest are the points where the
output reaches the threshold. The EMA Workbench's PRIM (Friedman and Fisher's Patient Rule
Induction Method; ``ema_workbench.analysis.prim``, used as it is) peels the input space down to the
box whose density (share of cases of interest inside it) reaches ``density``, and reports the box's
limits on the inputs it restricts, with its coverage (share of all cases of interest it holds),
density and mass (share of points inside it), and the peeling trajectory.

The EMA Workbench is the optional extra ``routesim[discovery]``, imported only when a study runs.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.explore.params import Bound
from sim.explore.sensitivity import MAX_RUNS, MissingDependencyError, checked_inputs, run_samples
from sim.explore.stress import parse_threshold
from sim.explore.sweep import check_metrics, study_attrs
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario

__all__ = ["DISCOVERY_INSTALL", "MAX_SAMPLES", "check_sizes", "require_prim", "run_discovery"]

DISCOVERY_INSTALL = 'pip install "routesim[discovery]"'
"""How to install the EMA Workbench for scenario discovery."""

MAX_SAMPLES = 100_000
"""Most Latin-hypercube points one discovery may ask for."""

Progress = Callable[[int, int], None]


def require_prim() -> Any:
    """Import the EMA Workbench's PRIM, or raise MissingDependencyError saying how to install it."""
    try:
        with warnings.catch_warnings():  # it warns about optional parallel back-ends at import
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim
    except ImportError:
        raise MissingDependencyError(f"scenario discovery needs the EMA Workbench: {DISCOVERY_INSTALL}") from None
    return prim


def check_sizes(samples: int, n: int, density: float) -> None:
    """Refuse (ScenarioError) a point count, run count or PRIM density out of range, before anything runs."""
    if isinstance(samples, bool) or not isinstance(samples, int) or not 10 <= samples <= MAX_SAMPLES:
        raise ScenarioError.single("<-N>", f"{samples!r} points; expected a whole number from 10 to {MAX_SAMPLES:,}")
    if samples * n > MAX_RUNS:
        raise ScenarioError.single(
            "<-N>", f"{samples:,} points x {n:,} replications is over {MAX_RUNS:,} runs; expected a smaller -N or -n"
        )
    if not 0 < density <= 1:
        raise ScenarioError.single("<--density>", f"{density!r} is not a share; expected a number in (0, 1]")


def run_discovery(
    loaded: LoadedScenario,
    threshold: str | float,
    bounds: Sequence[Bound] = (),
    metric: str = "lost_export_t",
    samples: int = 256,
    n: int = 1,
    seed: int | None = None,
    jobs: int = 1,
    density: float = 0.8,
    progress: Progress | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """Find the box of inputs where the mean of ``metric`` over ``n`` replications reaches ``threshold``.

    Returns one row per input: whether the box restricts it, the box's ``low``/``high`` on it, the
    sampled range, and PRIM's quasi-p-value of each restriction. ``attrs`` hold the box's coverage,
    density, mass, the number of cases of interest, the peeling trajectory and (under ``samples``)
    every point's inputs and output. Raises MissingDependencyError or ScenarioError before running.
    """
    prim = require_prim()
    check_sizes(samples, n, density)
    check_metrics(loaded, [metric])
    grade = loaded.scenario.network.grade.as_grade()
    limit = parse_threshold(threshold, metric, grade)
    inputs = checked_inputs(loaded, bounds)
    seed = loaded.scenario.seed if seed is None else int(seed)
    unit = qmc.LatinHypercube(d=len(inputs), seed=np.random.default_rng(seed)).random(samples)
    started = time.perf_counter()
    _, outputs = run_samples(loaded, inputs, unit, metric, n, seed, jobs, progress, **ensemble_options)
    names = [item.path for item in inputs]
    x = pd.DataFrame(
        {
            name: [item.number(float(u)) for u in unit[:, j]]
            for j, (name, item) in enumerate(zip(names, inputs, strict=True))
        }
    )
    y = outputs >= limit
    interesting = int(y.sum())
    rows = {
        name: {
            "input": name,
            "restricted": False,
            "low": float(x[name].min()),
            "high": float(x[name].max()),
            "qp": np.nan,
        }
        for name in names
    }
    stats: dict[str, Any] = {"coverage": None, "density": None, "mass": None, "res_dim": 0}
    trajectory: list[dict[str, Any]] = []
    if 0 < interesting < samples:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box = prim.Prim(x, y, threshold=density).find_box()
            found, limits = box.inspect(style="data")[0]
        stats = {k: float(found[k]) for k in ("coverage", "density", "mass")} | {"res_dim": int(found["res_dim"])}
        for name in limits.index:
            qp = [v for v in np.asarray(limits.loc[name].iloc[2:], dtype=float) if np.isfinite(v)]
            rows[str(name)] |= {
                "restricted": True,
                "low": float(limits.loc[name].iloc[0]),
                "high": float(limits.loc[name].iloc[1]),
                "qp": min(qp) if qp else np.nan,
            }
        trajectory = box.peeling_trajectory[["coverage", "density", "mass", "res_dim"]].to_dict("records")
    table = pd.DataFrame(list(rows.values()))
    table.insert(2, "law", [item.description for item in inputs])
    table["sampled_low"] = [float(x[name].min()) for name in names]
    table["sampled_high"] = [float(x[name].max()) for name in names]
    table = table.sort_values("restricted", ascending=False, kind="stable").reset_index(drop=True)
    points = {"sample": list(range(samples))} | {name: list(map(float, x[name])) for name in names}
    points[metric] = list(map(float, outputs))
    table.attrs = study_attrs(
        loaded,
        "discovery",
        seed,
        n,
        metric=metric,
        threshold=limit,
        threshold_text=str(threshold),
        samples_run=samples,
        cases_of_interest=interesting,
        density_threshold=density,
        box=stats,
        trajectory=trajectory,
        inputs=[{"path": i.path, "kind": i.kind, "law": i.description} for i in inputs],
        samples=points,
        wall_time_s=time.perf_counter() - started,
    )
    return table

"""Studies through the api: sweeps, reverse stress tests, survival, sensitivity, discovery (``sim.explore``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.api.runs import check_ensemble
from sim.scenario.loader import LoadedScenario, load_scenario

if TYPE_CHECKING:
    import pandas as pd

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


# --- checks before a study runs: every bad input refused before anything is estimated or run -------


def plan_sweep(
    scenario: str | Path | LoadedScenario,
    params: list[str] | tuple[str, ...],
    replications: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
    metrics: list[str] | tuple[str, ...] = (),
) -> tuple[LoadedScenario, int, int]:
    """Check a sweep (ScenarioError): the loaded scenario, replications per point, and the number of points."""
    from sim.explore.params import grid, parse_param
    from sim.explore.sweep import check_metrics, validate_points

    parsed = [parse_param(p) for p in params]
    points = len(grid(parsed))
    loaded, n = _study_input(scenario, overrides, replications, jobs)
    validate_points(loaded, parsed)
    check_metrics(loaded, metrics)
    return loaded, n, points


def plan_sensitivity(
    scenario: str | Path | LoadedScenario,
    method: str = "sobol",
    samples: int | None = None,
    bounds: list[str] | tuple[str, ...] = (),
    metric: str = "lost_export_t",
    replications: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
    second_order: bool = False,
) -> tuple[LoadedScenario, int, Any]:
    """Check a sensitivity analysis (ScenarioError; StudyDependencyError without SALib): the loaded
    scenario, replications per sample, and the plan (its inputs, samples and runs)."""
    from sim.explore.params import parse_bound
    from sim.explore.sensitivity import plan_sensitivity as plan_of
    from sim.explore.sensitivity import require_salib
    from sim.explore.sweep import check_metrics

    require_salib()
    loaded, n = _study_input(scenario, overrides, replications, jobs)
    plan = plan_of(loaded, method, samples, [parse_bound(b) for b in bounds], n, second_order)
    check_metrics(loaded, [metric])
    return loaded, n, plan


def plan_discovery(
    scenario: str | Path | LoadedScenario,
    threshold: str,
    metric: str = "lost_export_t",
    samples: int = 256,
    bounds: list[str] | tuple[str, ...] = (),
    density: float = 0.8,
    replications: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    jobs: int = 1,
) -> tuple[LoadedScenario, int]:
    """Check a scenario discovery (ScenarioError; StudyDependencyError without the EMA Workbench): the
    loaded scenario and the replications per point."""
    from sim.explore.discovery import check_sizes, require_prim
    from sim.explore.params import parse_bound
    from sim.explore.sensitivity import checked_inputs
    from sim.explore.stress import parse_threshold
    from sim.explore.sweep import check_metrics

    require_prim()
    loaded, n = _study_input(scenario, overrides, replications, jobs)
    check_sizes(samples, n, density)
    checked_inputs(loaded, [parse_bound(b) for b in bounds])
    check_metrics(loaded, [metric])
    parse_threshold(threshold, metric)
    return loaded, n

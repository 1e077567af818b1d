"""Studies of the uncertain inputs: ``sensitivity`` (Sobol, Morris) and ``discover`` (PRIM)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from sim import api
from sim.api import ScenarioError, ensemble_estimate
from sim.cli.output import (
    EXIT_INPUT,
    SafePath,
    check_out,
    console,
    err,
    fail_input,
    rough_duration,
    safe,
    study_number,
)
from sim.cli.studies import run_study, save_study_folder, study_options


@click.command()
@click.argument("scenario_file", type=SafePath(dir_okay=False, path_type=Path))
@click.option("--method", type=click.Choice(["sobol", "morris"]), default="sobol", show_default=True)
@click.option(
    "-N",
    "samples",
    type=int,
    default=None,
    metavar="N",
    help="SALib's N: Sobol base samples (a power of 2; default 64), Morris trajectories (default 10).",
)
@click.option(
    "--bound",
    "bounds",
    multiple=True,
    metavar="PATH=LOW:HIGH",
    help="An input, uniform between two values with units: shocks.0.duration=10d:90d.",
)
@click.option("--metric", default="lost_export_t", show_default=True, help="The output whose variance is split.")
@click.option("--second-order", is_flag=True, help="Sobol: also second-order indices (more samples).")
@study_options
def sensitivity(
    scenario_file: Path,
    method: str,
    samples: int | None,
    bounds: tuple[str, ...],
    metric: str,
    second_order: bool,
    seed: int | None,
    overrides: tuple[str, ...],
    replications: int | None,
    jobs: int,
    out: Path | None,
    results_root: Path,
    force: bool,
    no_plot: bool,
    no_save: bool,
) -> None:
    """Global sensitivity of a metric to the scenario's uncertain inputs (fields given as
    distributions, and --bound ranges): Sobol first-order and total indices with intervals, or
    Morris mu*/sigma. Needs SALib: pip install "routesim[sensitivity]".

    \b
    Examples:
      routesim sensitivity scenarios/bosporus_slowdown_2025.yaml -N 64
      routesim sensitivity scenarios/cpc_full_closure_90d_2025.yaml --method morris \\
          --bound shocks.0.duration=30d:120d --bound network.legs.aktau_baku.fleet=2:8
    """
    check_out(out, force, no_save)
    try:
        loaded, n, plan = api.plan_sensitivity(
            scenario_file, method, samples, bounds, metric, replications, overrides, jobs, second_order
        )
    except ScenarioError as exc:
        fail_input(exc)
        return
    except api.StudyDependencyError as exc:
        err.print(f"[bold red]error:[/] {safe(str(exc))}", emoji=False)
        sys.exit(EXIT_INPUT)
    for item in plan.inputs:
        err.print(f"[dim]input {safe(item.path)}: {safe(item.description)} ({item.kind})[/]")
    seconds = ensemble_estimate(plan.runs, loaded.scenario.horizon).seconds / min(jobs, max(1, n))
    err.print(
        f"{method}: N = {plan.base:,}, {len(plan.inputs)} input(s) -> {plan.samples:,} samples x {n:,} replication(s) "
        f"= {plan.runs:,} runs; about {rough_duration(seconds)} at the reference network's speed"
    )
    table = run_study(
        lambda progress, **where: api.sensitivity(
            loaded, method, plan.base, list(bounds), metric, n, seed, (), jobs, second_order, progress=progress, **where
        ),
        plan.samples,
        "sensitivity",
    )
    attrs = table.attrs
    shown = Table(
        title=(
            f"{safe(attrs['scenario'])}: {method} indices of {safe(metric)} "
            f"({attrs['samples_run']:,} samples x {n:,}, seed {attrs['seed']})"
        ),
        title_justify="left",
    )
    columns = ["S1", "S1_conf", "ST", "ST_conf"] if method == "sobol" else ["mu_star", "mu_star_conf", "sigma", "mu"]
    shown.add_column("input")
    for column in columns:
        shown.add_column(column.replace("_conf", " ±"), justify="right")
    munit = "t" if metric.endswith("safe") else ("d" if metric.endswith("_d") else "1")
    for i in range(len(table)):
        row = table.iloc[i]
        cells = (
            [f"{row[c]:.3f}" for c in columns] if method == "sobol" else [study_number(row[c], munit) for c in columns]
        )
        shown.add_row(safe(str(row["input"])), *cells)
    console.print(shown)
    save_study_folder(table, out, results_root, force, no_plot, no_save, metric)


@click.command()
@click.argument("scenario_file", type=SafePath(dir_okay=False, path_type=Path))
@click.option(
    "--threshold", required=True, metavar="VALUE", help="Cases of interest: the metric at or above this (1Mt)."
)
@click.option("--metric", default="lost_export_t", show_default=True, help="The output the threshold applies to.")
@click.option("-N", "samples", type=int, default=256, show_default=True, metavar="N", help="Latin-hypercube points.")
@click.option(
    "--bound",
    "bounds",
    multiple=True,
    metavar="PATH=LOW:HIGH",
    help="An input, uniform between two values with units: shocks.0.duration=10d:90d.",
)
@click.option(
    "--density", type=click.FloatRange(0, 1, min_open=True), default=0.8, show_default=True, help="PRIM's box density."
)
@study_options
def discover(
    scenario_file: Path,
    threshold: str,
    metric: str,
    samples: int,
    bounds: tuple[str, ...],
    density: float,
    seed: int | None,
    overrides: tuple[str, ...],
    replications: int | None,
    jobs: int,
    out: Path | None,
    results_root: Path,
    force: bool,
    no_plot: bool,
    no_save: bool,
) -> None:
    """Scenario discovery: where in the uncertain inputs (fields given as distributions, and --bound
    ranges) does the metric pass the threshold? A Latin hypercube of N points, then PRIM (the EMA
    Workbench's) for the box. Needs pip install "routesim[discovery]".

    \b
    Example:
      routesim discover scenarios/cpc_full_closure_90d_2025.yaml --threshold 10Mt -N 200 \\
          --bound shocks.0.duration+shocks.1.duration=30d:120d --bound network.legs.rail_aktau.trains_per_day=2:16
    """
    check_out(out, force, no_save)
    try:
        loaded, n = api.plan_discovery(
            scenario_file, threshold, metric, samples, bounds, density, replications, overrides, jobs
        )
    except ScenarioError as exc:
        fail_input(exc)
        return
    except api.StudyDependencyError as exc:
        err.print(f"[bold red]error:[/] {safe(str(exc))}", emoji=False)
        sys.exit(EXIT_INPUT)
    seconds = ensemble_estimate(max(1, n), loaded.scenario.horizon).seconds * samples / min(jobs, max(1, n))
    err.print(
        f"[dim]{samples:,} points x {n:,} replication(s) = {samples * n:,} runs, then PRIM at density {density:g}; "
        f"about {rough_duration(seconds)} at the reference network's speed[/]"
    )
    table = run_study(
        lambda progress, **where: api.discover(
            loaded,
            threshold,
            list(bounds),
            metric,
            samples,
            n,
            seed,
            (),
            jobs,
            density,
            progress=progress,
            **where,
        ),
        samples,
        "discover",
    )
    attrs = table.attrs
    box = attrs["box"]
    console.print(
        f"[bold]{safe(attrs['scenario'])}[/]: {attrs['cases_of_interest']:,} of {attrs['samples_run']:,} points have "
        f"{safe(metric)} ≥ {safe(threshold)}"
        + (
            f"; box: coverage {box['coverage']:.2f}, density {box['density']:.2f}, mass {box['mass']:.2f}"
            if box["coverage"] is not None
            else "; no box (no point, or every point, passes)"
        )
    )
    shown = Table(title="The box (restricted inputs first)", title_justify="left")
    for name in ("input", "restricted", "low", "high", "sampled"):
        shown.add_column(name, justify="left" if name == "input" else "right")
    for i in range(len(table)):
        row = table.iloc[i]
        shown.add_row(
            safe(str(row["input"])),
            "yes" if row["restricted"] else "",
            f"{row['low']:.4g}",
            f"{row['high']:.4g}",
            f"{row['sampled_low']:.4g} to {row['sampled_high']:.4g}",
        )
    console.print(shown)
    save_study_folder(table, out, results_root, force, no_plot, no_save, metric)

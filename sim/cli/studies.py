"""Studies over a scenario's parameters: the options and saving they share, ``sweep`` and ``stress``."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from sim import api
from sim.api import EnsembleError, MassBalanceError, OutputError, ScenarioError, ensemble_estimate
from sim.cli.output import (
    EXIT_INPUT,
    SafePath,
    check_out,
    command_line,
    console,
    err,
    fail_input,
    fail_output,
    jobs_option,
    output_options,
    progress_bar,
    rough_duration,
    safe,
    study_number,
)

_WHERE: dict[str, Any] = {}
"""Where the current study's ensembles run (set by study_options from --executor/--workers/--scheduler)."""


def study_options(func: Callable) -> Callable:
    """Options every study takes: seed, overrides, replications per point, jobs, where its ensembles run
    (one evaluator started for the whole study), and where to write."""

    @functools.wraps(func)
    def choose_executor(
        *args: Any, executor: str | None, workers: int | None, scheduler: str | None, **kwargs: Any
    ) -> Any:
        from sim.cli.run import _executor_options

        try:
            where = _executor_options(executor, workers, scheduler, kwargs.get("jobs", 1), None)
        except ScenarioError as exc:
            fail_input(exc)
            return None
        _WHERE.clear()
        _WHERE.update(executor=where.executor, workers=where.workers, scheduler=where.scheduler)
        return func(*args, **kwargs)

    options = [
        click.option(
            "--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Root seed (default: the file's)."
        ),
        click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a key first."),
        click.option(
            "-n",
            "--replications",
            type=int,
            default=None,
            metavar="N",
            help="Replications per point, same seed at every point (default: the file's, else 1).",
        ),
        jobs_option("Worker processes per ensemble (results are identical for any J)."),
        click.option(
            "--executor",
            type=click.Choice(list(api.EXECUTORS)),
            default=None,
            help="Where the study's replications run (default: processes with -j > 1, dask with --scheduler, "
            "else serial); one evaluator serves every point.",
        ),
        click.option("--workers", type=int, default=None, metavar="K", help="Worker processes or Dask workers."),
        click.option("--scheduler", default=None, metavar="ADDRESS", help="An existing Dask scheduler."),
        *output_options("Folder to create.", "Where folders go when --out is not given."),
        click.option("--no-plot", is_flag=True, help="Do not draw the plot."),
        click.option("--no-save", is_flag=True, help="Print the table only; write nothing."),
    ]
    wrapped: Callable = choose_executor
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


def run_study(run: Callable[..., Any], total: int, label: str) -> Any:
    """Run a study with a progress bar and one started evaluator for all its ensembles, passed to ``run``
    as ``run(progress, evaluator_=...)``; bad input exits 2, a missing extra exits 2, internal errors 1."""
    try:
        where = _WHERE or {"executor": "serial", "workers": 1, "scheduler": None}
        with api.evaluator(**where) as started, progress_bar(total, label) as progress:
            return run(progress, evaluator_=started)
    except api.MissingDependencyError as exc:
        fail_input(ScenarioError.single("--executor", str(exc)))
    except ScenarioError as exc:
        fail_input(exc)
    except api.StudyDependencyError as exc:  # SALib or the EMA Workbench missing
        err.print(f"[bold red]error:[/] {safe(str(exc))}", emoji=False)
        sys.exit(EXIT_INPUT)
    except (MassBalanceError, EnsembleError) as exc:
        fail_output(f"internal error (please report): {exc}")
    return None


def save_study_folder(
    table: Any, out: Path | None, root: Path, force: bool, no_plot: bool, no_save: bool, metric: str
) -> None:
    if no_save:
        return
    check_out(out, force, no_save)  # again: the folder may have appeared while the study ran
    command = command_line()
    try:
        folder = api.save_study(
            table, out=out, root=root, force=force, plot=not no_plot, command=command, metric=metric
        )
    except OutputError as exc:
        fail_output(str(exc))
        return
    except ValueError as exc:  # a table the plot cannot draw (e.g. no percentiles of the metric)
        fail_output(str(exc))
        return
    console.print(f"Results written to [bold]{safe(str(folder))}[/]")


def _digest(value: Any) -> str:
    """A short stable hash of plain data (names a sweep's journal after its command)."""
    import hashlib

    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()[:16]


@click.command()
@click.argument("scenario_file", type=SafePath(dir_okay=False, path_type=Path))
@click.option(
    "--param",
    "params",
    multiple=True,
    required=True,
    metavar="PATH=SPEC",
    help="A swept key: a range start:stop:step with units (shocks.0.duration=10d:180d:10d) or a list (a,b,c).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="Metrics in the table (default: all); the first is printed and plotted (default lost_export_t).",
)
@study_options
def sweep(
    scenario_file: Path,
    params: tuple[str, ...],
    metrics: tuple[str, ...],
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
    """Run an ensemble at every point of a grid of parameters, on common random numbers.

    Writes sweep.csv (sweep.parquet with pyarrow): per point, each metric's mean and P10/P50/P90;
    and sweep.png: the metric against one parameter with its P10-P90 band, or a heatmap of two.

    \b
    Examples:
      routesim sweep scenarios/cpc_full_closure_90d_2025.yaml --param shocks.0.duration=10d:180d:10d
      routesim sweep scenarios/cpc_full_closure_90d_2025.yaml --param shocks.0.duration=30d:120d:30d \\
          --param network.legs.aktau_baku.fleet=2,4,8 -n 20
    """
    check_out(out, force, no_save)
    metric = metrics[0] if metrics else "lost_export_t"
    try:  # every bad input is refused before the estimate is printed and anything runs
        loaded, n, points = api.plan_sweep(scenario_file, params, replications, overrides, jobs, metrics)
    except ScenarioError as exc:
        fail_input(exc)
        return
    seconds = ensemble_estimate(max(1, n), loaded.scenario.horizon).seconds * points / min(jobs, max(1, n))
    err.print(
        f"[dim]{points:,} points x {n:,} replication(s) = {points * n:,} runs; "
        f"about {rough_duration(seconds)} at the reference network's speed[/]"
    )
    # Finished points are journalled under the results root: the same command run again resumes.
    what = [str(scenario_file.resolve()), params, overrides, replications, seed, metrics]
    journal = None if no_save else results_root / ".journal" / f"sweep-{_digest(what)}.jsonl"
    table = run_study(
        lambda progress, **where: api.sweep(
            scenario_file,
            list(params),
            replications,
            seed,
            overrides,
            jobs,
            list(metrics) or None,
            progress=progress,
            **where,
            journal=journal,
        ),
        points,
        "sweep",
    )
    attrs = table.attrs
    if attrs.get("resumed"):
        err.print(f"[dim]resumed {attrs['resumed']:,} of {len(table):,} points from {safe(str(journal))}[/]")
    unit = attrs["units"].get(metric, "1")
    shown = Table(
        title=(
            f"{safe(attrs['scenario'])}: {safe(metric)} over {len(table):,} points, "
            f"{attrs['replications']:,} replication(s) each, seed {attrs['seed']} (common random numbers)"
        ),
        title_justify="left",
    )
    names = [p["path"] for p in attrs["params"]]
    for p in attrs["params"]:
        shown.add_column(safe(f"{p['path']} ({p['unit']})" if p["unit"] else p["path"]), justify="right")
    stats = ["mean", *[f"p{q:g}" for q in attrs["percentiles"]]]
    for stat in stats:
        shown.add_column(stat.upper() if stat != "mean" else "mean", justify="right")
    rows = list(range(len(table)))
    if len(rows) > 40:  # the rest is in sweep.csv
        rows = rows[:20] + rows[-20:]
        shown.caption = f"{len(table) - 40:,} rows between these two halves are in the table (sweep.csv)"
    for k, i in enumerate(rows):
        row = table.iloc[i]
        cells = [safe(f"{row[n]:g}" if isinstance(row[n], float) else str(row[n])) for n in names]
        shown.add_row(*cells, *[study_number(row[f"{metric}_{stat}"], unit) for stat in stats], end_section=k == 19)
    console.print(shown)
    save_study_folder(table, out, results_root, force, no_plot, no_save, metric)
    if journal is not None:
        journal.unlink(missing_ok=True)
    console.print(f"[dim]{len(table):,} points in {attrs['wall_time_s']:,.1f} s[/]")


@click.command()
@click.argument("scenario_file", type=SafePath(dir_okay=False, path_type=Path))
@click.option("--param", default=None, metavar="PATH", help="The key to stress, e.g. shocks.0.duration.")
@click.option(
    "--metric", default="lost_export_t", show_default=True, help="The metric that must stay under the threshold."
)
@click.option("--threshold", default=None, metavar="VALUE", help="The limit, with a unit: 1Mt, 30d, 2 bnUSD.")
@click.option(
    "--range",
    "interval",
    default=None,
    metavar="LOW:HIGH",
    help="Where to look, with units (default for a shock's duration or start: 0 d to the horizon).",
)
@click.option(
    "--percentile", type=click.FloatRange(0, 100), default=50, show_default=True, help="Of the metric over N."
)
@click.option("--tol", default=None, metavar="WIDTH", help="Stop when the bracket is this narrow (default range/1000).")
@click.option("--survival", is_flag=True, help="Instead: for each route, days it can be lost before shut-in starts.")
@study_options
def stress(
    scenario_file: Path,
    param: str | None,
    metric: str,
    threshold: str | None,
    interval: str | None,
    percentile: float,
    tol: str | None,
    survival: bool,
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
    """Reverse stress test: the smallest value of --param at which the metric's percentile crosses
    --threshold, by bisection on common random numbers; prints the bracket, the precision reached
    and the metric around the break. With --survival: how long each route can be lost, given the
    others, before production is shut in.

    \b
    Examples:
      routesim stress scenarios/cpc_full_closure_90d_2025.yaml --param shocks.0.duration --threshold 10Mt
      routesim stress scenarios/cpc_full_closure_90d_2025.yaml --param shocks.0.duration \\
          --set shocks.1.duration="1 d" --threshold 1Mt --range 0d:60d --tol 0.5d
      routesim stress scenarios/cpc_full_closure_90d_2025.yaml --survival
    """
    check_out(out, force, no_save)
    if survival:
        table = run_study(
            lambda progress, **where: api.survival(
                scenario_file, percentile, None, replications, seed, overrides, jobs, progress=progress, **where
            ),
            0,
            "survival",
        )
        attrs = table.attrs
        shown = Table(
            title=(
                f"{safe(attrs['scenario'])}: days each route can be closed before shut-in starts (the others open; "
                f"P{percentile:g} over {attrs['replications']:,} replication(s), seed {attrs['seed']})"
            ),
            title_justify="left",
        )
        for name in ("route", "normal flow", "survives", "shut-in in", "lost if closed all horizon (P50)"):
            shown.add_column(name, justify="left" if name == "route" else "right")
        for i in range(len(table)):
            row = table.iloc[i]
            days = row["survival_d"]
            shown.add_row(
                safe(str(row["route"])),
                f"{row['normal_t_per_d'] / 1e3:,.1f} kt/d",
                f"> {attrs['horizon_d']:g} d" if days == float("inf") else f"{days:g} d",
                f"{row['share_shut_in']:.0%}",
                study_number(row["lost_export_t_p50"], "t"),
            )
        console.print(shown)
        save_study_folder(table, out, results_root, force, no_plot, no_save, metric)
        return
    missing = [name for name, value in (("--param", param), ("--threshold", threshold)) if value is None]
    if missing:
        fail_input(ScenarioError.single(f"<{missing[0]}>", f"{missing[0]} is required; expected it (or --survival)"))
        return
    table = run_study(
        lambda progress, **where: api.stress(
            scenario_file,
            str(param),
            str(threshold),
            metric,
            interval,
            percentile,
            replications,
            seed,
            overrides,
            jobs,
            tol,
            progress=progress,
            **where,
        ),
        0,
        "stress",
    )
    attrs = table.attrs
    unit = attrs["unit"]
    munit = attrs["metric_unit"]
    where = f"{safe(param or '')}" + (f" ({safe(unit)})" if unit else "")
    console.print(
        f"[bold]{safe(attrs['scenario'])}[/]: P{percentile:g} of {safe(metric)} over {attrs['replications']:,} "
        f"replication(s) (seed {attrs['seed']}) against {safe(str(threshold))} "
        f"({study_number(attrs['threshold'], munit)}), {where} from {attrs['range'][0]:g} to {attrs['range'][1]:g}"
    )
    if attrs["crossed"]:
        lo, hi = attrs["bracket"]
        console.print(
            f"Break: {safe(metric)} {attrs['direction']} the threshold at [bold]{hi:g} {safe(unit)}[/] "
            f"(bracket {lo:g}–{hi:g}, precision {attrs['precision']:.3g} {safe(unit)}, "
            f"{attrs['evaluations']} ensembles)"
        )
    else:
        side = "above" if attrs["at_low"] >= attrs["threshold"] else "below"
        console.print(
            f"No break in the range: {safe(metric)} is {side} the threshold at both ends "
            f"({study_number(attrs['at_low'], munit)} and {study_number(attrs['at_high'], munit)}); widen --range"
        )
    if not attrs["monotone"]:
        err.print(
            f"[yellow]warning:[/] {safe(metric)} rises and falls as {safe(param or '')} grows: bisection assumes one "
            "crossing, so a smaller break may exist; read the curve (or run routesim sweep over the range)"
        )
    shown = Table(
        title="The metric around the break" if attrs["crossed"] else "The metric over the range", title_justify="left"
    )
    shown.add_column(where, justify="right")
    shown.add_column(f"P{percentile:g}", justify="right")
    shown.add_column("beyond", justify="center")
    shown.add_column("phase")
    for i in range(len(table)):
        row = table.iloc[i]
        shown.add_row(
            f"{row[str(param)]:g}",
            study_number(row["metric_value"], munit),
            "yes" if row["at_or_above_threshold"] == (attrs["direction"] != "falls below") else "",
            str(row["phase"]),
        )
    console.print(shown)
    save_study_folder(table, out, results_root, force, no_plot, no_save, metric)

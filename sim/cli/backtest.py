"""``routesim backtest``: history scenarios against their reported figures, as a table."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from sim import api
from sim.api import MassBalanceError, OutputError, ScenarioError
from sim.cli.output import (
    EXIT_INPUT,
    EXIT_OUTPUT,
    SafePath,
    check_out,
    command_line,
    console,
    err,
    fail_input,
    fail_output,
    output_options,
    progress_bar,
    safe,
)
from sim.units import format_quantity

_out_option, _results_root_option, _force_option = output_options(
    "Folder to create (default: <results-root>/backtest/<run-id>).",
    "Where the backtest folder goes when --out is not given.",
)


@click.command()
@click.argument("files", nargs=-1, type=SafePath(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Exit 1 if any reported figure is outside its tolerance.")
@_out_option
@_results_root_option
@_force_option
@click.option("--no-save", is_flag=True, help="Print the table only; write nothing.")
def backtest(
    files: tuple[Path, ...], strict: bool, out: Path | None, results_root: Path, force: bool, no_save: bool
) -> None:
    """Run history scenario FILES and compare the model with their reported figures.

    FILES default to scenarios/history/*.yaml. Prints one row per reported figure and
    writes backtest.csv, backtest.png and manifest.json. A file with replications: N > 1
    runs N replications: model = P50, with the P10-P90 band and the share agreeing (it
    agrees when at least 10 % do). Exit 0 whatever the agreement (1 with --strict if any
    figure disagrees); 2 for a bad file.

    \b
    Examples:
      routesim backtest
      routesim backtest scenarios/history/e02_storm_spm_damage_2022.yaml --no-save
      routesim backtest --strict
    """
    check_out(out, force, no_save)
    command = command_line()
    paths = list(files) or api.history_files()
    if not paths:
        err.print(f"[bold red]error:[/] no history files given and none match {api.HISTORY_GLOB}", emoji=False)
        sys.exit(EXIT_INPUT)
    try:
        episodes = api.load_history(paths)
    except ScenarioError as exc:
        fail_input(exc)
        return
    try:
        total = sum(max(e.scenario.replications, 1) for e in episodes)
        with progress_bar(total, "backtest") as progress:
            result = api.backtest(episodes, progress=progress)
    except MassBalanceError as exc:
        fail_output(f"internal error (please report): {exc}")
        return
    folder = None
    if not no_save:
        if out is not None and out.exists() and not force:
            fail_output(f"{out} already exists; choose another --out, or pass --force to replace it")
        try:
            folder = api.save_backtest(result, out=out, root=results_root, force=force, command=command)
        except OutputError as exc:
            fail_output(str(exc))
            return
    rows = result.rows
    table = Table(
        title=f"Backtest: model vs reported figures ({sum(r.inside for r in rows)} of {len(rows)} inside tolerance)",
        title_justify="left",
    )
    for name, justify in (
        ("episode", "left"),
        ("figure", "left"),
        ("model", "right"),
        ("reported", "right"),
        ("ratio", "right"),
        ("tol", "right"),
        ("conf", "center"),
        ("ok", "center"),
    ):
        table.add_column(name, justify=justify)
    ensembles = any(row.ensemble for row in rows)  # files with replications > 1: model = P50
    if ensembles:
        table.add_column("P10–P90 · N · agreeing", justify="right", no_wrap=True)
        table.caption = (
            f"Files with replications N > 1: model = P50; ok when ≥ {api.ENSEMBLE_AGREEMENT:.0%} of the N agree."
        )
        table.caption_justify = "left"
    for row in rows:
        table.add_row(
            safe(row.episode),
            safe(row.figure),
            format_quantity(row.model, row.unit, missing="none"),
            safe(row.reported_text()),
            "—" if row.ratio is None else f"{row.ratio:.2f}",
            f"±{row.tolerance:.0%}",
            row.confidence,
            "[green]yes[/]" if row.inside else "[red]no[/]",
            *([safe(row.band_text())] if ensembles else []),
        )
    console.print(table)
    if folder is not None:
        console.print(f"Results written to [bold]{safe(folder, None)}[/] (backtest.csv, backtest.png, manifest.json)")
    console.print(f"[dim]{len(result.episodes)} episode(s), {result.wall_time_s * 1e3:,.0f} ms[/]")
    if strict and result.disagreements:
        err.print(f"{len(result.disagreements)} figure(s) outside tolerance (--strict)")
        sys.exit(EXIT_OUTPUT)

"""``routesim compare``: scenario files or run folders side by side, and the comparison table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from sim.api import EnsembleError, MassBalanceError, ScenarioError
from sim.cli.output import (
    SafePath,
    console,
    fail_input,
    fail_output,
    jobs_option,
    progress_bar,
    safe,
)
from sim.units import format_quantity


@click.command()
@click.argument("items", nargs=-1, required=True, type=SafePath(path_type=Path))
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=None,
    help="Seed for every file (default: the first file's): common random numbers.",
)
@click.option(
    "-n",
    "--replications",
    type=int,
    default=None,
    metavar="N",
    help="Run each file as an ensemble of N replications on common random numbers (default: 1 each).",
)
@jobs_option("Worker processes for ensembles (results are identical for any J).")
@click.option(
    "--strict", is_flag=True, help="Refuse files with different horizons or prices instead of normalising them."
)
@click.option("--csv", "csv_file", type=SafePath(dir_okay=False, path_type=Path), default=None, help="Write the table.")
@click.option(
    "--plot", "plot_file", type=SafePath(dir_okay=False, path_type=Path), default=None, help="Draw the curves (PNG)."
)
def compare(
    items: tuple[Path, ...],
    seed: int | None,
    replications: int | None,
    jobs: int,
    strict: bool,
    csv_file: Path | None,
    plot_file: Path | None,
) -> None:
    """Compare scenario files or run folders ITEMS side by side, each against its own baseline.

    Rows give each scenario's horizon, start, price and network, then the headline metrics;
    columns after the first scenario give the difference from it. Files with different
    horizons or prices are run with the longest horizon (beside saved runs: theirs) and the
    first item's price (a note says which; --strict refuses instead); saved runs must
    already match each other. With -n N every
    file runs N replications on common random numbers (replication r of each uses the same
    random streams) and the differences are paired, with 95 % intervals. Writes nothing
    unless --csv or --plot is given.

    \b
    Examples:
      routesim compare scenarios/baseline_2022.yaml scenarios/cpc_court_suspension_2022.yaml
      routesim compare scenarios/history/e04_*.yaml -n 200 --plot e04.png --csv e04.csv
      routesim compare results/cpc_court_suspension_2022/<run-a> results/cpc_court_suspension_2022/<run-b>
    """
    from sim.api import comparison as cmp

    files = [i for i in items if not i.is_dir()]
    n_each = replications or 1
    try:
        with progress_bar(len(items) * n_each if files else 1, "compare") as progress:
            compared, notes = cmp.prepare(
                list(items), replications=n_each, seed=seed, jobs=jobs, normalise=not strict, progress=progress
            )
    except ScenarioError as exc:
        fail_input(exc)
        return
    except (MassBalanceError, EnsembleError) as exc:
        fail_output(f"internal error (please report): {exc}")
        return
    table = cmp.frame(compared, notes)
    console.print(comparison_table(table))
    for note in notes:
        console.print(f"[yellow]normalised:[/] {safe(note, 1000)}")
    if csv_file is not None:
        try:
            table.to_csv(csv_file)
        except OSError as exc:
            fail_output(f"cannot write {csv_file}: {exc.strerror or exc}")
        console.print(f"Table written to [bold]{safe(csv_file)}[/]")
    if plot_file is not None:
        try:
            cmp.comparison_figure(compared).savefig(plot_file, dpi=110)
        except OSError as exc:
            fail_output(f"cannot write {plot_file}: {exc.strerror or exc}")
        console.print(f"Plot written to [bold]{safe(plot_file)}[/]")


def _cell(value: Any, unit: str) -> str:
    """A comparison cell: a quantity with its unit ('—' if undefined); days to one decimal."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if unit == "d":
        return f"{float(value):,.1f} d".replace(".0 d", " d")
    return format_quantity(value, unit)


def _signed(value: float, unit: str) -> str:
    """A difference with its sign ('+1.20 Mt', '−3 d'); no sign on what rounds to zero."""
    if value != value:  # NaN
        return "—"
    text = _cell(abs(value), unit)
    if text.startswith(("0 ", "0.0 ", "0.00 ")):
        return text
    return ("−" if value < 0 else "+") + text


def comparison_table(table: Any) -> Table:
    """A comparison DataFrame (``api.compare``) as a rich table: settings, metrics, differences."""
    names = [c for c in table.columns if c not in ("label", "unit") and not str(c).startswith("Δ ")]
    reference = table.attrs.get("reference", names[0] if names else "")
    ensembles = table.attrs.get("ensembles", False)
    out = Table(
        title=(
            "Scenario comparison (each against its own baseline"
            + ("; ensemble means, Δ with 95 % intervals on common random numbers" if ensembles else "")
            + f"; Δ against {safe(reference)})"
        ),
        title_justify="left",
    )
    out.add_column("")
    for name in names:
        out.add_column(safe(name), justify="right")
    for name in names[1:]:
        out.add_column(f"Δ {safe(name)}", justify="right")
    for key, row in table.iterrows():
        unit = row["unit"]
        cells = []
        for name in names:
            value = row[name]
            if key in ("start", "network", "seed", "replications"):
                cells.append(safe(value))
            elif key == "price":
                cells.append(f"{float(value):,.2f} USD/bbl")
            else:
                cells.append(_cell(value, unit))
        for name in names[1:]:
            if key in cmp_settings():
                cells.append("" if row[names[0]] == row[name] else "[yellow]differs[/]")
                continue
            text = _signed(float(row[f"Δ {name}"]), unit)
            if ensembles and f"Δ {name} low" in row and row[f"Δ {name} low"] == row[f"Δ {name} low"]:
                text += (
                    f" [{_signed(float(row[f'Δ {name} low']), unit)}, {_signed(float(row[f'Δ {name} high']), unit)}]"
                )
            cells.append(safe(text, None))
        out.add_row(safe(row["label"]), *cells)
    return out


def cmp_settings() -> tuple[str, ...]:
    """The setting rows of a comparison (not metrics)."""
    from sim.api.comparison import SETTINGS

    return SETTINGS

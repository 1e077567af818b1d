"""Commands about files rather than runs: ``validate``, ``schema``, ``targets`` and ``new``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from sim import api
from sim.api import ScenarioError
from sim.cli.output import (
    EXIT_INPUT,
    SafePath,
    console,
    err,
    fail_input,
    fail_output,
    print_problems,
    safe,
)


@click.command()
@click.argument("files", nargs=-1, required=True, type=SafePath(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Check with these overrides applied.")
def validate(files: tuple[Path, ...], overrides: tuple[str, ...]) -> None:
    """Check scenario or network FILES without running them (exit 2 if any is invalid).

    \b
    Examples:
      routesim validate scenarios/*.yaml
      routesim validate scenarios/network/kazakhstan_2025.yaml
    """
    results = api.validate(list(files), overrides)
    bad = 0
    for path, error in results.items():
        if error is None:
            console.print(f"[green]ok[/]    {safe(path, None)}")
        else:
            bad += 1
            print_problems(error)
    if bad:
        err.print(f"{bad} of {len(results)} file(s) invalid")
        sys.exit(EXIT_INPUT)


@click.command()
@click.option(
    "--output",
    "-o",
    type=SafePath(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of scenario files (for editor completion and checks).

    \b
    Example:
      routesim schema -o scenario.schema.json
    """
    text = json.dumps(api.json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@click.command()
@click.argument("file", type=SafePath(dir_okay=False, path_type=Path))
def targets(file: Path) -> None:
    """List what a shock in FILE (a scenario or a network file) can target, with the shock kinds each accepts.

    \b
    Example:
      routesim targets scenarios/cpc_court_suspension_2022.yaml
    """
    try:
        found = api.targets(file)
    except ScenarioError as exc:
        fail_input(exc)
        return
    table = Table(title=f"Shock targets in {safe(file)}", title_justify="left")
    for name in ("target", "what", "shock kinds", "description"):
        table.add_column(name, overflow="fold")
    for info in found:
        short = info.description.split(". ")[0]
        short = short if len(short) <= 90 else short[:89] + "…"
        table.add_row(safe(info.name), info.component, ", ".join(info.shocks), safe(short))
    console.print(table)


TEMPLATE = """\
# {name}: a scenario for routesim (check it with `routesim validate {file}`, run it with `routesim run {file}`).
# Every value carries a unit: 67 Mt/yr, 180 kt/d, 30 d, 0.8 Mt, 100 USD/bbl. A bare number is an error.
# `routesim targets {file}` lists what a shock can target; `routesim schema` gives the full JSON Schema.
name: {name}
description: >-
  The question this scenario answers, in one or two sentences (printed with the results).

# A shipped network by name (kazakhstan_2022, kazakhstan_2023, kazakhstan_2025), or a path to a network
# file inside the scenarios folder, or an inline network.
network: kazakhstan_2025
# overrides:                                  # change the network by dotted paths, e.g.
#   legs.cpc_pipeline.capacity: 60 Mt/yr

start_date: 2026-01-01        # the first simulated day
horizon: 180 d                # long enough for the shock, the fields' restart ramp and a margin
seed: 1                       # fixes every random draw
price: 65 USD/bbl             # for revenue lost
# replications: 200           # an ensemble (or routesim run -n 200)

shocks:
  - name: CPC terminal closed
    kind: outage              # outage | closure | slowdown | production | weather | derate
    target: novorossiysk      # a leg, port, pump station, source, route or market
    start: 2026-01-15         # a date, or a day offset such as "14 d"
    duration: 30 d            # or a distribution: {{dist: lognormal, median: 30 d, sigma: 0.5}}
    factor: 0                 # capacity left: 0 = closed, 0.5 = half
    # probability: 0.3        # the shock happens in this share of replications
    description: What happens and why (a source, or "assumption").
"""


@click.command(name="new")
@click.argument("name")
@click.option(
    "--out",
    type=SafePath(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: NAME.yaml in the current folder).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def new_scenario(name: str, out: Path | None, force: bool) -> None:
    """Write a commented scenario template NAME.yaml on a shipped network (a 30-day CPC terminal closure).

    \b
    Example:
      routesim new my_closure && routesim run my_closure.yaml
    """
    clean = "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "scenario"
    path = out or Path(f"{clean}.yaml")
    if path.exists() and not force:
        fail_output(f"{path} already exists; choose another name or --out, or pass --force to replace it")
    try:
        path.write_text(TEMPLATE.format(name=clean, file=path.name), encoding="utf-8")
    except OSError as exc:
        fail_output(f"cannot write {path}: {exc.strerror or exc}")
    console.print(f"Wrote [bold]{safe(path)}[/]: edit it, then `routesim validate {safe(path)}`")


# --- studies: sweep, stress, sensitivity (sim.explore through sim.api) ------------------------------

"""The ``routesim`` command: a thin layer over ``sim.api`` that parses, prints and exits.

Exit codes: 0 success; 1 results could not be written or an internal error; 2 bad input
(a scenario file, an option, a manifest) — with one line per problem and no traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim import __version__, api
from sim.engine.record import MassBalanceError
from sim.ensemble import EnsembleError
from sim.results import OutputError, not_replaceable_message, replaceable
from sim.runfolder import read_manifest
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import ensemble_estimate
from sim.textsafe import MAX_SHOWN, plain
from sim.units import format_quantity

__all__ = ["cli", "main"]

console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 4096)  # piped: never cut
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OUTPUT = 1
EXIT_INPUT = 2


def _t(value: object, limit: int | None = MAX_SHOWN) -> str:
    """Text from a file or the user (a name, path, key, value) as console text: data, never markup.

    One printable line (control characters escaped), shortened to about ``limit`` characters,
    with rich markup escaped, so that ``[/]`` or an escape sequence in a name prints as itself.
    """
    return escape(plain(value, limit))


class SafePath(click.Path):
    """click.Path whose refusals print the path as text: control characters escaped, long paths shortened."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            raise click.BadParameter(plain(exc.message, 1000), ctx, param) from None


MAX_PROBLEMS_SHOWN = 50
"""Most problems printed for one file (a stranger's file may hold a million)."""


def _print_problems(exc: ScenarioError) -> None:
    """One line per problem (at most MAX_PROBLEMS_SHOWN, then how many more)."""
    for problem in exc.problems[:MAX_PROBLEMS_SHOWN]:
        err.print(f"[bold red]error:[/] {escape(str(problem))}", emoji=False)
    if len(exc.problems) > MAX_PROBLEMS_SHOWN:
        err.print(f"[bold red]error:[/] … and {len(exc.problems) - MAX_PROBLEMS_SHOWN:,} more problems", emoji=False)


def _fail_input(exc: ScenarioError) -> None:
    _print_problems(exc)
    sys.exit(EXIT_INPUT)


def _check_out(out: Path | None, force: bool, no_save: bool) -> None:
    """Refuse before running: an --out that exists without --force (exit 1), or that --force must not replace (exit 2)."""
    if no_save or out is None or not out.exists():
        return
    if not force:
        _fail_output(f"{out} already exists; choose another --out, or pass --force to replace it")
    if not replaceable(out):
        err.print(f"[bold red]error:[/] {_t(not_replaceable_message(out), 1000)}", emoji=False)
        sys.exit(EXIT_INPUT)


def _fail_output(message: str) -> None:
    err.print(f"[bold red]error:[/] {_t(message, 1000)}", emoji=False)
    sys.exit(EXIT_OUTPUT)


def _duration(seconds: float) -> str:
    """A rough duration for an estimate: '3 s', '4.2 min', '1.5 h'."""
    if seconds < 1:
        return "a second"
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("t", "USD", "bbl"):
        return format_quantity(float(value), unit)
    if unit == "d":
        return f"{value:g} d"
    if unit == "t*d":
        return f"{float(value) / 1e6:,.1f} Mt·d"
    if unit == "USD/bbl":
        return f"{float(value):,.2f} USD/bbl"
    return f"{value}"


ROWS = [
    ("Exports, baseline", "baseline_exported_t"),
    ("Exports, scenario", "exported_t"),
    ("Lost export volume", "lost_export_t"),
    ("  in barrels", "lost_export_bbl"),
    ("  of which shut-in production", "lost_shut_in_t"),
    ("  of which production outage", "lost_production_outage_t"),
    ("  of which left in storage/transit", "lost_inventory_t"),
    ("Deferred (exported late)", "deferred_t"),
    ("Rerouted to other routes", "rerouted_t"),
    ("Peak storage (fields + terminals)", "peak_storage_t"),
    ("Days with field storage full", "days_storage_full_d"),
    ("Time to survive (to first shut-in)", "time_to_survive_d"),
    ("Time to recover", "time_to_recover_d"),
    ("Resilience-triangle area", "resilience_area_td"),
    ("Extra transport cost", "extra_transport_cost_usd"),
    ("Revenue lost", "revenue_lost_usd"),
]


def impact_table(outcome: api.Outcome) -> Table:
    """The headline metrics as a rich table."""
    sc = outcome.loaded.scenario
    metrics = outcome.summary()["metrics"]
    table = Table(
        title=(
            f"Impact of {_t(sc.name)} vs baseline — {sc.start_date} + {sc.horizon:g} d, seed {outcome.replication.seed}"
        ),
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in ROWS:
        entry = metrics[key]
        text = _fmt(entry["value"], entry["unit"])
        if key == "revenue_lost_usd":
            text += f" at {metrics['price_usd_per_bbl']['value']:,.0f} USD/bbl"
        table.add_row(label, text)
    return table


def routes_table(outcome: api.Outcome) -> Table:
    """Exports per route, baseline vs scenario."""
    impact = outcome.impact
    table = Table(title="Exports by route within the horizon", title_justify="left")
    for name, justify in (("route", "left"), ("baseline", "right"), ("scenario", "right"), ("change", "right")):
        table.add_column(name, justify=justify)
    for route, base in impact.baseline_exports_by_route_t.items():
        now = impact.exports_by_route_t[route]
        if base == 0 and now == 0:
            continue
        table.add_row(
            _t(route), format_quantity(base, "t"), format_quantity(now, "t"), f"{(now - base) / 1e3:+,.0f} kt"
        )
    return table


def ensemble_table(outcome: api.Outcome) -> Table:
    """The headline metrics over an ensemble: mean and P10/P50/P90 (and how many replications define them)."""
    ens = outcome.ensemble
    assert ens is not None
    sc = outcome.loaded.scenario
    table = Table(
        title=(
            f"Impact of {_t(sc.name)} vs baseline over {ens.n:,} replications — {sc.start_date} + {sc.horizon:g} d, "
            f"seed {ens.seed}"
        ),
        title_justify="left",
        caption=(
            "percentiles: numpy 'linear' (type 7); 'defined': replications where the metric has a value "
            "(time to survive: storage filled; time to recover: recovered within the horizon)"
        ),
        caption_justify="left",
    )
    stats = ens.stats
    partial = any(stats[key]["defined"] != ens.n for _, key in ROWS)
    table.add_column("metric", no_wrap=True, overflow="ellipsis")
    for name in ("mean", "P10", "P50", "P90", *(["defined"] if partial else [])):
        table.add_column(name, justify="right", no_wrap=True)
    for label, key in ROWS:
        entry = stats[key]
        cells = [_fmt(entry[k], entry["unit"]) for k in ("mean", "p10", "p50", "p90")]
        if partial:
            cells.append("all" if entry["defined"] == ens.n else f"{entry['defined']:,}")
        table.add_row(label, *cells)
    return table


def _ensemble_shocks_line(outcome: api.Outcome) -> str:
    ens = outcome.ensemble
    assert ens is not None
    parts = [f"{_t(s['name'])}: happened in {s['happened']:,} of {ens.n:,}" for s in ens.shock_shares()]
    return "; ".join(parts) or "no shocks"


@contextmanager
def _progress_bar(total: int, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr for ``total`` replications (none unless stderr is a terminal)."""
    if total <= 1 or not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done, _total: bar.update(task, completed=done)


def _shocks_line(outcome: api.Outcome) -> str:
    parts = []
    recurring: dict[int, list] = {}
    for s in outcome.replication.shocks:
        if s.occurrence:
            recurring.setdefault(s.index, []).append(s)
            continue
        state = "" if s.happened else " (did not happen: probability draw)"
        extra = " (background: in the baseline too)" if s.background else ""
        parts.append(f"{_t(s.name)}: day {s.start_d:g} for {s.duration_d:g} d{state}{extra}")
    for occurrences in recurring.values():
        first = occurrences[0]
        extra = " (background: in the baseline too)" if first.background else ""
        total = sum(s.duration_d for s in occurrences)
        parts.append(f"{_t(first.name)}: {len(occurrences)} occurrences, {total:.1f} d in all{extra}")
    return "; ".join(parts) or "no shocks"


def jobs_option(help_text: str) -> Callable:
    """The ``-j/--jobs J`` option (worker processes), shared by the commands that run ensembles."""
    return click.option("-j", "--jobs", type=int, default=1, show_default=True, metavar="J", help=help_text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="routesim")
def cli() -> None:
    """routesim: what a disruption of Kazakhstan's crude-export routes costs.

    \b
    Examples:
      routesim run scenarios/cpc_court_suspension_2022.yaml
      routesim run scenarios/cpc_court_suspension_2022.yaml --seed 7 --set horizon="180 d"
      routesim validate scenarios/*.yaml
      routesim compare scenarios/baseline_2022.yaml scenarios/cpc_court_suspension_2022.yaml
      routesim targets scenarios/cpc_court_suspension_2022.yaml
      routesim new my_closure
      routesim rerun results/cpc_court_suspension_2022/<run-id>/manifest.json
    """


@cli.command()
@click.argument("scenario_file", type=SafePath(path_type=Path))
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Root seed (default: the file's).")
@click.option(
    "--out",
    type=SafePath(file_okay=False, path_type=Path),
    default=None,
    help="Run folder to create (must not exist).",
)
@click.option(
    "--results-root",
    type=SafePath(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Where run folders go when --out is not given.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help=(
        "Override any key by its dotted path, e.g. --set shocks.0.duration='60 d'; network keys as in a "
        "file's overrides: (legs.cpc_pipeline.capacity='40 Mt/yr', or with network. in front)."
    ),
)
@click.option("--force", is_flag=True, help="Replace the --out folder if it exists.")
@click.option("--no-plot", is_flag=True, help="Do not draw disruption.png.")
@click.option("--no-save", is_flag=True, help="Print the impact only; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@click.option(
    "-n",
    "--replications",
    type=int,
    default=None,
    metavar="N",
    help="Run an ensemble of N replications (default: the file's 'replications', else 1).",
)
@jobs_option("Worker processes for an ensemble (results are identical for any J).")
def run(
    scenario_file: Path,
    seed: int | None,
    out: Path | None,
    results_root: Path,
    overrides: tuple[str, ...],
    force: bool,
    no_plot: bool,
    no_save: bool,
    as_json: bool,
    replications: int | None,
    jobs: int,
) -> None:
    """Run SCENARIO_FILE and its baseline; print the impact; write a run folder.

    With -n N > 1, run an ensemble of replications 0..N-1 (each draws its shocks from
    its own streams of the seed), print mean and P10/P50/P90 per metric, and also write
    ensemble.csv (one row per replication) and ensemble.png. An absurd N is refused
    before anything runs (exit 2).

    \b
    Examples:
      routesim run scenarios/cpc_court_suspension_2022.yaml
      routesim run scenarios/cpc_court_suspension_2022.yaml --out /tmp/court --force
      routesim run scenarios/cpc_court_suspension_2022.yaml --set shocks.0.duration="60 d"
      routesim run scenarios/history/e04_court_suspension_stochastic_2022.yaml -n 1000 --jobs 2
    """
    command = ["routesim", *sys.argv[1:]] if sys.argv else None
    try:
        loaded = api.load(scenario_file, overrides)
        n = loaded.scenario.replications if replications is None else replications
        api.check_ensemble(loaded, n, jobs, names=("-n/--replications", "-j/--jobs"))
    except ScenarioError as exc:
        _fail_input(exc)
        return
    _check_out(out, force, no_save)
    if n > 1:
        seconds = ensemble_estimate(n, loaded.scenario.horizon).seconds / min(jobs, n)
        err.print(
            f"[dim]{n:,} replications of {loaded.scenario.horizon:g} d in {min(jobs, n):,} process(es); "
            f"about {_duration(seconds)} at the reference network's speed[/]"
        )
    try:
        with _progress_bar(n, _t(loaded.scenario.name, 40)) as progress:
            outcome = api.run(loaded, seed=seed, command=command, replications=n, jobs=jobs, progress=progress)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    except (MassBalanceError, EnsembleError) as exc:
        _fail_output(f"internal error (please report): {exc}")
        return
    folder = None
    if not no_save:
        if out is not None and out.exists() and not force:
            _fail_output(f"{out} already exists; choose another --out, or pass --force to replace it")
        try:
            folder = api.save(outcome, out=out, root=results_root, force=force, plot=not no_plot)
        except OutputError as exc:
            _fail_output(str(exc))
            return
    if as_json:
        click.echo(json.dumps(outcome.summary(), indent=2))
    elif outcome.ensemble is not None:
        ens = outcome.ensemble
        console.print(f"[bold]{_t(outcome.name)}[/]: {_ensemble_shocks_line(outcome)}")
        console.print(ensemble_table(outcome))
        lost0 = outcome.impact["lost_export_t"]
        console.print(
            f"Replication 0{'' if folder is None else ' (in summary.json, timeseries.csv)'}: "
            f"lost {format_quantity(float(lost0 or 0.0), 't')}; {_shocks_line(outcome)}"
        )
        if folder is not None:
            console.print(
                f"Results written to [bold]{_t(folder, None)}[/] (summary.json, timeseries.csv, manifest.json, ensemble.csv"
                + ("" if no_plot else ", disruption.png, ensemble.png")
                + ")"
            )
        console.print(
            f"[dim]{ens.n:,} replications in {ens.jobs} process(es), {outcome.wall_time_s:,.1f} s "
            f"({outcome.wall_time_s / ens.n * 1e3:,.0f} ms per replication)[/]"
        )
    else:
        console.print(f"[bold]{_t(outcome.name)}[/]: {_shocks_line(outcome)}")
        console.print(impact_table(outcome))
        console.print(routes_table(outcome))
        if folder is not None:
            console.print(
                f"Results written to [bold]{_t(folder, None)}[/] (summary.json, timeseries.csv, manifest.json"
                + ("" if no_plot else ", disruption.png")
                + ")"
            )
        console.print(
            f"[dim]{outcome.replication.scenario.events:,} + {outcome.replication.baseline.events:,} events, "
            f"{outcome.wall_time_s * 1e3:,.0f} ms[/]"
        )


@cli.command()
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
            console.print(f"[green]ok[/]    {_t(path, None)}")
        else:
            bad += 1
            _print_problems(error)
    if bad:
        err.print(f"{bad} of {len(results)} file(s) invalid")
        sys.exit(EXIT_INPUT)


@cli.command()
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
    from sim.scenario.jsonschema import scenario_schema

    text = json.dumps(scenario_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@cli.command()
@click.argument("manifest", type=SafePath(path_type=Path))
@jobs_option("Worker processes to rerun an ensemble (results are identical for any J).")
def rerun(manifest: Path, jobs: int) -> None:
    """Run again from a run folder's MANIFEST and check the result is identical.

    An ensemble is rerun with all its replications and ensemble.csv is compared too.
    The manifest and its folder are checked first (a run folder from someone else is
    untrusted input); nothing the manifest names is run or read. Exit 0 when identical,
    1 when it differs, 2 when the manifest or its folder is not valid.

    \b
    Example:
      routesim rerun results/cpc_court_suspension_2022/<run-id>/manifest.json
    """
    try:
        with _progress_bar(_manifest_replications(manifest), "rerun") as progress:
            report = api.rerun(manifest, jobs=jobs, progress=progress, jobs_name="-j/--jobs")
    except ScenarioError as exc:
        _fail_input(exc)
        return
    except (MassBalanceError, EnsembleError) as exc:
        _fail_output(f"internal error (please report): {exc}")
        return
    for name, (then, now) in report.version_changes.items():
        err.print(
            f"[yellow]warning:[/] {_t(name)} was {_t(then)} when the run was made, now {_t(now)}; results may differ"
        )
    console.print(impact_table(report.outcome))
    if report.outcome.ensemble is not None:
        console.print(ensemble_table(report.outcome))
    what = "summary metrics and every daily series"
    if report.outcome.ensemble is not None:
        what = "summary metrics, every daily series and every row of ensemble.csv"
    if report.identical:
        console.print(f"[green]identical[/]: {what} match bit for bit.")
    else:
        for line in report.differences[:20]:
            err.print(f"[red]differs:[/] {_t(line, 500)}")
        sys.exit(EXIT_OUTPUT)


def _manifest_replications(path: Path) -> int:
    """The replication count a manifest records (1 if it is not valid: api.rerun reports why)."""
    try:
        return read_manifest(path).replications
    except ScenarioError:
        return 1


@cli.command()
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
@click.option(
    "--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the table."
)
@click.option(
    "--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Draw the curves (PNG)."
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
    from sim import compare as cmp

    files = [i for i in items if not i.is_dir()]
    n_each = replications or 1
    try:
        with _progress_bar(len(items) * n_each if files else 1, "compare") as progress:
            compared, notes = cmp.prepare(
                list(items), replications=n_each, seed=seed, jobs=jobs, normalise=not strict, progress=progress
            )
    except ScenarioError as exc:
        _fail_input(exc)
        return
    except (MassBalanceError, EnsembleError) as exc:
        _fail_output(f"internal error (please report): {exc}")
        return
    table = cmp.frame(compared, notes)
    console.print(comparison_table(table))
    for note in notes:
        console.print(f"[yellow]normalised:[/] {_t(note, 1000)}")
    if csv_file is not None:
        try:
            table.to_csv(csv_file)
        except OSError as exc:
            _fail_output(f"cannot write {csv_file}: {exc.strerror or exc}")
        console.print(f"Table written to [bold]{_t(csv_file)}[/]")
    if plot_file is not None:
        try:
            cmp.comparison_figure(compared).savefig(plot_file, dpi=110)
        except OSError as exc:
            _fail_output(f"cannot write {plot_file}: {exc.strerror or exc}")
        console.print(f"Plot written to [bold]{_t(plot_file)}[/]")


def _cell(value: Any, unit: str) -> str:
    """A comparison cell: a quantity with its unit ('—' if undefined); days to one decimal."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if unit == "d":
        return f"{float(value):,.1f} d".replace(".0 d", " d")
    return _fmt(value, unit)


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
            + f"; Δ against {_t(reference)})"
        ),
        title_justify="left",
    )
    out.add_column("")
    for name in names:
        out.add_column(_t(name), justify="right")
    for name in names[1:]:
        out.add_column(f"Δ {_t(name)}", justify="right")
    for key, row in table.iterrows():
        unit = row["unit"]
        cells = []
        for name in names:
            value = row[name]
            if key in ("start", "network", "seed", "replications"):
                cells.append(_t(value))
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
            cells.append(_t(text, None))
        out.add_row(_t(row["label"]), *cells)
    return out


def cmp_settings() -> tuple[str, ...]:
    """The setting rows of a comparison (not metrics)."""
    from sim.compare import SETTINGS

    return SETTINGS


@cli.command()
@click.argument("files", nargs=-1, type=SafePath(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Exit 1 if any reported figure is outside its tolerance.")
@click.option(
    "--out",
    type=SafePath(file_okay=False, path_type=Path),
    default=None,
    help="Folder to create (default: <results-root>/backtest/<run-id>).",
)
@click.option(
    "--results-root",
    type=SafePath(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Where the backtest folder goes when --out is not given.",
)
@click.option("--force", is_flag=True, help="Replace the --out folder if it exists.")
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
    from sim import backtest as bt

    _check_out(out, force, no_save)
    command = ["routesim", *sys.argv[1:]] if sys.argv else None
    paths = list(files) or bt.history_files()
    if not paths:
        err.print(f"[bold red]error:[/] no history files given and none match {bt.HISTORY_GLOB}", emoji=False)
        sys.exit(EXIT_INPUT)
    try:
        episodes = bt.load_episodes(paths)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    try:
        total = sum(max(e.scenario.replications, 1) for e in episodes)
        with _progress_bar(total, "backtest") as progress:
            result = bt.run_backtest(episodes, progress=progress)
    except MassBalanceError as exc:
        _fail_output(f"internal error (please report): {exc}")
        return
    folder = None
    if not no_save:
        if out is not None and out.exists() and not force:
            _fail_output(f"{out} already exists; choose another --out, or pass --force to replace it")
        try:
            folder = bt.save_backtest(result, out=out, root=results_root, force=force, command=command)
        except OutputError as exc:
            _fail_output(str(exc))
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
            f"Files with replications N > 1: model = P50; ok when ≥ {bt.ENSEMBLE_AGREEMENT:.0%} of the N agree."
        )
        table.caption_justify = "left"
    for row in rows:
        table.add_row(
            _t(row.episode),
            _t(row.figure),
            bt.format_value(row.model, row.unit),
            _t(row.reported_text()),
            "—" if row.ratio is None else f"{row.ratio:.2f}",
            f"±{row.tolerance:.0%}",
            row.confidence,
            "[green]yes[/]" if row.inside else "[red]no[/]",
            *([_t(bt.ensemble_text(row))] if ensembles else []),
        )
    console.print(table)
    if folder is not None:
        console.print(f"Results written to [bold]{_t(folder, None)}[/] (backtest.csv, backtest.png, manifest.json)")
    console.print(f"[dim]{len(result.episodes)} episode(s), {result.wall_time_s * 1e3:,.0f} ms[/]")
    if strict and result.disagreements:
        err.print(f"{len(result.disagreements)} figure(s) outside tolerance (--strict)")
        sys.exit(EXIT_OUTPUT)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def targets(file: Path) -> None:
    """List what a shock in FILE (a scenario or a network file) can target, with the shock kinds each accepts.

    \b
    Example:
      routesim targets scenarios/cpc_court_suspension_2022.yaml
    """
    from sim.scenario.targets import list_targets

    try:
        network = api.network_of(file)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    table = Table(title=f"Shock targets in {_t(file)}", title_justify="left")
    for name in ("target", "what", "shock kinds", "description"):
        table.add_column(name, overflow="fold")
    for info in list_targets(network):
        short = info.description.split(". ")[0]
        short = short if len(short) <= 90 else short[:89] + "…"
        table.add_row(_t(info.name), info.component, ", ".join(info.shocks), _t(short))
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


@cli.command(name="new")
@click.argument("name")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
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
        _fail_output(f"{path} already exists; choose another name or --out, or pass --force to replace it")
    try:
        path.write_text(TEMPLATE.format(name=clean, file=path.name), encoding="utf-8")
    except OSError as exc:
        _fail_output(f"cannot write {path}: {exc.strerror or exc}")
    console.print(f"Wrote [bold]{_t(path)}[/]: edit it, then `routesim validate {_t(path)}`")


def main() -> None:
    """Entry point of the ``routesim`` console script."""
    cli(prog_name="routesim")

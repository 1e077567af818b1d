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

from sim import __version__, api, streaming
from sim.engine.record import MassBalanceError
from sim.ensemble import PRECISION, EnsembleError, metric_names, parse_threshold
from sim.executors import EXECUTORS, MissingDependencyError, check_available
from sim.results import OutputError
from sim.runfolder import read_manifest
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import ensemble_estimate
from sim.store import IncompleteRunError
from sim.textsafe import MAX_SHOWN, plain
from sim.units import Grade, format_quantity

__all__ = ["cli", "main"]

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OUTPUT = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def _t(value: object, limit: int | None = MAX_SHOWN) -> str:
    """Text from a file or the user (a name, path, key, value) as console text: data, never markup.

    One printable line (control characters escaped), shortened to about ``limit`` characters,
    with rich markup escaped, so that ``[/]`` or an escape sequence in a name prints as itself.
    """
    return escape(plain(value, limit))


def _fail_input(exc: ScenarioError) -> None:
    for problem in exc.problems:
        err.print(f"[bold red]error:[/] {escape(str(problem))}", emoji=False)
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
    for name in ("mean", "P5", "P10", "P50", "P90", "P95", *(["defined"] if partial else [])):
        table.add_column(name, justify="right", no_wrap=True)
    for label, key in ROWS:
        entry = stats[key]
        cells = [_fmt(entry[k], entry["unit"]) for k in ("mean", "p5", "p10", "p50", "p90", "p95")]
        if partial:
            cells.append("all" if entry["defined"] == ens.n else f"{entry['defined']:,}")
        table.add_row(label, *cells)
    return table


def _ensemble_extra_lines(ens: Any) -> list[str]:
    """Exceedance probabilities, and the precision of the headline mean."""
    lines = []
    for metric, entry in ens.exceedance().items():
        unit = ens.units.get(metric, "1")
        if entry["probability"] is None:
            lines.append(f"P({metric} > {_fmt(entry['threshold'], unit)}): undefined (no replication defines it)")
            continue
        low, high = entry["wilson95"]
        lines.append(
            f"P({metric} > {_fmt(entry['threshold'], unit)}) = {entry['probability']:.3f} "
            f"(95 % Wilson interval {low:.3f}–{high:.3f}; {entry['exceeding']:,} of {entry['defined']:,})"
        )
    stats = ens.stats.get("lost_export_t", {})
    if stats.get("rel_half_width") is not None:
        lines.append(
            f"Mean lost export volume ±{stats['rel_half_width']:.1%} (95 % interval); "
            f"±{ens.precision:.1%} would take about {stats['n_for_precision']:,} replications"
        )
    return lines


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
      routesim rerun results/cpc_court_suspension_2022/<run-id>/manifest.json
    """


@cli.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Root seed (default: the file's).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run folder to create (must not exist).",
)
@click.option(
    "--results-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Where run folders go when --out is not given.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override any key, e.g. --set network.legs.cpc_pipeline.capacity='40 Mt/yr'.",
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
@jobs_option(
    "Worker processes for an ensemble (results are identical for any J); same as --executor processes --workers J."
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default=None,
    help="Where an ensemble's replications run (default: processes with -j > 1, dask with --scheduler, else serial).",
)
@click.option(
    "--workers", type=int, default=None, metavar="K", help="Worker processes or Dask workers (default: J, or 2)."
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="An existing Dask scheduler, e.g. tcp://127.0.0.1:8786 (default: a local cluster of --workers).",
)
@click.option("--batch-size", type=int, default=None, metavar="B", help="Replications per task (default: up to 50).")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="METRIC=VALUE",
    help="Report P(METRIC > VALUE) with a Wilson 95 %% interval, e.g. --threshold lost_export_t=1Mt.",
)
@click.option(
    "--precision",
    type=float,
    default=PRECISION,
    show_default=True,
    help="Target 95 %% half-width relative to the mean, for the N each metric would need.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="RUN_DIR",
    help="Finish an interrupted ensemble run folder (no SCENARIO_FILE then).",
)
def run(
    scenario_file: Path | None,
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
    executor: str | None,
    workers: int | None,
    scheduler: str | None,
    batch_size: int | None,
    thresholds: tuple[str, ...],
    precision: float,
    resume_dir: Path | None,
) -> None:
    """Run SCENARIO_FILE and its baseline; print the impact; write a run folder.

    With -n N > 1, run an ensemble of replications 0..N-1 (each draws its shocks from
    its own streams of the seed), print mean and P5..P95 per metric, and also write
    ensemble.parquet (one row per replication with its drawn inputs), ensemble.csv and
    ensemble.png. The folder fills batch by batch: Ctrl-C or a crash keeps the finished
    batches, and --resume RUN_DIR finishes it. An absurd N is refused before anything
    runs (exit 2).

    \b
    Examples:
      routesim run scenarios/cpc_court_suspension_2022.yaml
      routesim run scenarios/cpc_court_suspension_2022.yaml --out /tmp/court --force
      routesim run scenarios/cpc_court_suspension_2022.yaml --set shocks.0.duration="60 d"
      routesim run scenarios/history/e04_court_suspension_stochastic_2022.yaml -n 1000 --jobs 2
      routesim run FILE -n 10000 --executor dask --workers 2 --threshold lost_export_t=1Mt
      routesim run --resume results/<scenario>/<run-id>
    """
    command = ["routesim", *sys.argv[1:]] if sys.argv else None
    try:
        where = _executor_options(executor, workers, scheduler, jobs, batch_size)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    if resume_dir is not None:
        if scenario_file is not None:
            _fail_input(ScenarioError.single("--resume", "give either SCENARIO_FILE or --resume RUN_DIR, not both"))
        _resume(resume_dir, where, as_json)
        return
    if scenario_file is None:
        _fail_input(ScenarioError.single("SCENARIO_FILE", "missing: give a scenario file (or --resume RUN_DIR)"))
        return
    try:
        loaded = api.load(scenario_file, overrides)
        n = loaded.scenario.replications if replications is None else replications
        api.check_ensemble(loaded, n, jobs, names=("-n/--replications", "-j/--jobs"))
        where.thresholds = _thresholds(loaded, thresholds, seed) if n > 1 else {}
        where.precision = _precision(precision)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    where.plot = not no_plot
    if not no_save and out is not None and out.exists() and not force:
        _fail_output(f"{out} already exists; choose another --out, or pass --force to replace it")
    if n > 1:
        seconds = ensemble_estimate(n, loaded.scenario.horizon).seconds / min(where.workers, n)
        err.print(
            f"[dim]{n:,} replications of {loaded.scenario.horizon:g} d, {where.executor} executor with "
            f"{min(where.workers, n):,} worker(s); about {_duration(seconds)} at the reference network's speed[/]"
        )
    if n > 1 and not no_save:
        try:
            folder = streaming.start_streamed(loaded, n, seed, out, results_root, force, where, command)
        except OutputError as exc:
            _fail_output(str(exc))
            return
        outcome = _run_folder(folder, where, loaded.scenario.name, n)
        _print_outcome(outcome, folder, no_plot, as_json)
        return
    try:
        with _progress_bar(n, _t(loaded.scenario.name, 40)) as progress:
            outcome = api.run(
                loaded,
                seed=seed,
                command=command,
                replications=n,
                jobs=jobs,
                progress=progress,
                executor=where.executor,
                workers=where.workers,
                scheduler=where.scheduler,
                batch=where.batch,
                thresholds=where.thresholds,
                precision=where.precision,
            )
    except ScenarioError as exc:
        _fail_input(exc)
        return
    except MissingDependencyError as exc:
        _fail_input(ScenarioError.single("--executor", str(exc)))
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
    _print_outcome(outcome, folder, no_plot, as_json)


def _executor_options(
    executor: str | None, workers: int | None, scheduler: str | None, jobs: int, batch: int | None
) -> streaming.EnsembleOptions:
    """Where an ensemble runs, from the options (ScenarioError naming the bad one)."""
    if executor is None:
        executor = "dask" if scheduler else ("processes" if jobs > 1 or (workers or 1) > 1 else "serial")
    if scheduler and executor != "dask":
        raise ScenarioError.single("--scheduler", f"is a Dask scheduler; it needs --executor dask, not {executor}")
    if workers is None:
        workers = jobs if jobs > 1 else (1 if executor == "serial" else 2)
    if isinstance(workers, bool) or not 1 <= workers <= api.MAX_JOBS:
        raise ScenarioError.single("--workers", f"{workers!r} is not a number of workers; expected 1 to {api.MAX_JOBS}")
    if batch is not None and not 1 <= batch <= 100_000:
        raise ScenarioError.single("--batch-size", f"{batch!r} is not a batch size; expected 1 to 100,000")
    if executor == "dask":
        try:
            check_available(executor)
        except MissingDependencyError as exc:
            raise ScenarioError.single("--executor", str(exc)) from None
    return streaming.EnsembleOptions(executor=executor, workers=workers, scheduler=scheduler, batch=batch)


def _thresholds(loaded: Any, texts: tuple[str, ...], seed: int | None) -> dict[str, float]:
    """The --threshold options as metric -> value (canonical units); needs the metric names."""
    if not texts:
        return {}
    rep = api.run(loaded, seed=seed, replications=1).replication
    metrics = metric_names(rep.impact)
    out = {}
    for text in texts:
        try:
            metric, value = parse_threshold(
                text,
                metrics,
                rep.impact.units,
                Grade(loaded.scenario.network.grade.bbl_per_t, loaded.scenario.network.grade.t_per_m3),
            )
        except ValueError as exc:
            raise ScenarioError.single("--threshold", str(exc)) from None
        out[metric] = value
    return out


def _precision(value: float) -> float:
    if not (0.0 < value < 1.0):
        raise ScenarioError.single("--precision", f"{value!r} is not a relative precision; expected between 0 and 1")
    return value


def _run_folder(folder: Path, where: streaming.EnsembleOptions, label: str, n: int) -> api.Outcome:
    """Run (or finish) a streamed run folder; Ctrl-C and failures leave it resumable."""
    try:
        with _progress_bar(n, label) as progress:
            outcome, _ = streaming.resume(folder, where, progress=progress)
    except KeyboardInterrupt:
        err.print(
            f"[yellow]interrupted:[/] the finished batches are kept in {folder}; "
            f"finish with: routesim run --resume {folder}",
            emoji=False,
        )
        sys.exit(EXIT_INTERRUPTED)
    except ScenarioError as exc:
        _fail_input(exc)
        raise
    except MissingDependencyError as exc:
        _fail_input(ScenarioError.single("--executor", str(exc)))
        raise
    except (MassBalanceError, EnsembleError, IncompleteRunError) as exc:
        _fail_output(f"{exc}; the finished batches are kept in {folder}: finish with routesim run --resume {folder}")
        raise
    except OutputError as exc:
        _fail_output(str(exc))
        raise
    return outcome


def _resume(folder: Path, where: streaming.EnsembleOptions, as_json: bool) -> None:
    """``run --resume RUN_DIR``: finish an unfinished run folder and print it as a finished run."""
    try:
        plan = streaming.read_plan(folder)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    n = int(plan.get("replications", 1))
    err.print(f"[dim]resuming {folder}: {n:,} replications, {where.executor} executor[/]")
    outcome = _run_folder(folder, where, "resume", n)
    _print_outcome(outcome, folder, not plan.get("plot", True), as_json)


def _print_outcome(outcome: api.Outcome, folder: Path | None, no_plot: bool, as_json: bool) -> None:
    """Print a finished run: the summary as JSON, or tables."""
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
                f"Results written to [bold]{_t(folder, None)}[/] (summary.json, timeseries.csv, manifest.json, "
                "ensemble.parquet, ensemble.csv" + ("" if no_plot else ", disruption.png, ensemble.png") + ")"
            )
        for line in _ensemble_extra_lines(ens):
            console.print(line)
        console.print(
            f"[dim]{ens.n:,} replications, {ens.executor.get('executor', 'serial')} executor with {ens.jobs} "
            f"worker(s), {outcome.wall_time_s:,.1f} s ({outcome.wall_time_s / ens.n * 1e3:,.0f} ms per replication)[/]"
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
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Check with these overrides applied.")
def validate(files: tuple[Path, ...], overrides: tuple[str, ...]) -> None:
    """Check scenario FILES without running them (exit 2 if any is invalid).

    \b
    Example:
      routesim validate scenarios/*.yaml
    """
    results = api.validate(list(files), overrides)
    bad = 0
    for path, error in results.items():
        if error is None:
            console.print(f"[green]ok[/]    {_t(path, None)}")
        else:
            bad += 1
            for problem in error.problems:
                err.print(f"[bold red]error:[/] {escape(str(problem))}", emoji=False)
    if bad:
        err.print(f"{bad} of {len(results)} file(s) invalid")
        sys.exit(EXIT_INPUT)


@cli.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
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
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
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
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Seed for every file (default: each file's)."
)
def compare(files: tuple[Path, ...], seed: int | None) -> None:
    """Run several scenario FILES and print their impacts side by side (writes nothing).

    Each file runs one replication (replication 0), whatever its 'replications' key.

    \b
    Example:
      routesim compare scenarios/baseline_2022.yaml scenarios/cpc_court_suspension_2022.yaml
    """
    outcomes = []
    for path in files:
        try:
            outcomes.append(api.run(path, seed=seed, replications=1))
        except ScenarioError as exc:
            _fail_input(exc)
            return
    table = Table(title="Scenario comparison (each against its own baseline)", title_justify="left")
    table.add_column("metric")
    for outcome in outcomes:
        table.add_column(_t(outcome.name), justify="right")
    summaries = [o.summary()["metrics"] for o in outcomes]
    for label, key in ROWS:
        table.add_row(label, *[_fmt(s[key]["value"], s[key]["unit"]) for s in summaries])
    console.print(table)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Exit 1 if any reported figure is outside its tolerance.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to create (default: <results-root>/backtest/<run-id>).",
)
@click.option(
    "--results-root",
    type=click.Path(file_okay=False, path_type=Path),
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
        result = bt.run_backtest(episodes)
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


def main() -> None:
    """Entry point of the ``routesim`` console script."""
    cli(prog_name="routesim")

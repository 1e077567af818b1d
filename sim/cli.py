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
from sim.engine.metrics import headline_rows
from sim.engine.record import MassBalanceError
from sim.ensemble import PRECISION, EnsembleError, metric_names, parse_threshold
from sim.executors import EXECUTORS, MissingDependencyError, check_available
from sim.results import OutputError, not_replaceable_message, replaceable
from sim.runfolder import read_manifest
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import ensemble_estimate
from sim.store import IncompleteRunError
from sim.textsafe import MAX_SHOWN, plain
from sim.units import Grade, format_quantity

__all__ = ["cli", "main"]

console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 4096)  # piped: never cut
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
    return format_quantity(value, unit)


ROWS = headline_rows()
"""(label, metric) of the tables' rows: the headline metrics of the registry (sim/engine/metrics.py)."""


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
      routesim targets scenarios/cpc_court_suspension_2022.yaml
      routesim new my_closure
      routesim rerun results/cpc_court_suspension_2022/<run-id>/manifest.json
    """


@cli.command()
@click.argument("scenario_file", type=SafePath(path_type=Path), required=False)
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
    _check_out(out, force, no_save)
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


# --- studies: sweep, stress, sensitivity (sim.explore through sim.api) ------------------------------


def study_options(func: Callable) -> Callable:
    """Options every study takes: seed, overrides, replications per point, jobs, and where to write."""
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
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder to create."),
        click.option(
            "--results-root",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("results"),
            show_default=True,
            help="Where folders go when --out is not given.",
        ),
        click.option("--force", is_flag=True, help="Replace the --out folder if it exists."),
        click.option("--no-plot", is_flag=True, help="Do not draw the plot."),
        click.option("--no-save", is_flag=True, help="Print the table only; write nothing."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_study(run: Callable[[Callable[[int, int], None] | None], Any], total: int, label: str) -> Any:
    """Run a study with a progress bar; bad input exits 2, a missing extra exits 2, internal errors 1."""
    from sim.explore.sensitivity import MissingDependencyError  # also what discovery raises

    try:
        with _progress_bar(total, label) as progress:
            return run(progress)
    except ScenarioError as exc:
        _fail_input(exc)
    except MissingDependencyError as exc:
        err.print(f"[bold red]error:[/] {_t(str(exc))}", emoji=False)
        sys.exit(EXIT_INPUT)
    except (MassBalanceError, EnsembleError) as exc:
        _fail_output(f"internal error (please report): {exc}")
    return None


def _save_study(
    table: Any, out: Path | None, root: Path, force: bool, no_plot: bool, no_save: bool, metric: str
) -> None:
    if no_save:
        return
    _check_out(out, force, no_save)  # again: the folder may have appeared while the study ran
    command = ["routesim", *sys.argv[1:]] if sys.argv else None
    try:
        folder = api.save_study(
            table, out=out, root=root, force=force, plot=not no_plot, command=command, metric=metric
        )
    except OutputError as exc:
        _fail_output(str(exc))
        return
    except ValueError as exc:  # a table the plot cannot draw (e.g. no percentiles of the metric)
        _fail_output(str(exc))
        return
    console.print(f"Results written to [bold]{_t(str(folder))}[/]")


def _digest(value: Any) -> str:
    """A short stable hash of plain data (names a sweep's journal after its command)."""
    import hashlib

    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()[:16]


def _number(value: Any, unit: str) -> str:
    """A study's value for a table: as the run tables show it (Mt, bn USD), else 4 significant digits."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float) and value == float("inf"):
        return "∞"
    if unit in ("t", "USD", "bbl", "t*d", "USD/bbl"):
        return _fmt(value, unit)
    return f"{value:,.4g}" if unit in ("", "1") else f"{value:,.4g} {unit}"


@cli.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
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
    from sim.explore.params import grid, parse_param
    from sim.explore.sweep import check_metrics, validate_points

    _check_out(out, force, no_save)
    metric = metrics[0] if metrics else "lost_export_t"
    try:  # every bad input is refused before the estimate is printed and anything runs
        parsed = [parse_param(p) for p in params]
        points = len(grid(parsed))
        loaded = api.load(scenario_file, overrides)
        n = loaded.scenario.replications if replications is None else replications
        api.check_ensemble(loaded, n, jobs, names=("-n/--replications", "-j/--jobs"))
        validate_points(loaded, parsed)
        check_metrics(loaded, metrics)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    seconds = ensemble_estimate(max(1, n), loaded.scenario.horizon).seconds * points / min(jobs, max(1, n))
    err.print(
        f"[dim]{points:,} points x {n:,} replication(s) = {points * n:,} runs; "
        f"about {_duration(seconds)} at the reference network's speed[/]"
    )
    # Finished points are journalled under the results root: the same command run again resumes.
    what = [str(scenario_file.resolve()), params, overrides, replications, seed, metrics]
    journal = None if no_save else results_root / ".journal" / f"sweep-{_digest(what)}.jsonl"
    table = _run_study(
        lambda progress: api.sweep(
            scenario_file,
            list(params),
            replications,
            seed,
            overrides,
            jobs,
            list(metrics) or None,
            progress=progress,
            journal=journal,
        ),
        points,
        "sweep",
    )
    attrs = table.attrs
    if attrs.get("resumed"):
        err.print(f"[dim]resumed {attrs['resumed']:,} of {len(table):,} points from {_t(str(journal))}[/]")
    unit = attrs["units"].get(metric, "1")
    shown = Table(
        title=(
            f"{_t(attrs['scenario'])}: {_t(metric)} over {len(table):,} points, "
            f"{attrs['replications']:,} replication(s) each, seed {attrs['seed']} (common random numbers)"
        ),
        title_justify="left",
    )
    names = [p["path"] for p in attrs["params"]]
    for p in attrs["params"]:
        shown.add_column(_t(f"{p['path']} ({p['unit']})" if p["unit"] else p["path"]), justify="right")
    stats = ["mean", *[f"p{q:g}" for q in attrs["percentiles"]]]
    for stat in stats:
        shown.add_column(stat.upper() if stat != "mean" else "mean", justify="right")
    rows = list(range(len(table)))
    if len(rows) > 40:  # the rest is in sweep.csv
        rows = rows[:20] + rows[-20:]
        shown.caption = f"{len(table) - 40:,} rows between these two halves are in the table (sweep.csv)"
    for k, i in enumerate(rows):
        row = table.iloc[i]
        cells = [_t(f"{row[n]:g}" if isinstance(row[n], float) else str(row[n])) for n in names]
        shown.add_row(*cells, *[_number(row[f"{metric}_{stat}"], unit) for stat in stats], end_section=k == 19)
    console.print(shown)
    _save_study(table, out, results_root, force, no_plot, no_save, metric)
    if journal is not None:
        journal.unlink(missing_ok=True)
    console.print(f"[dim]{len(table):,} points in {attrs['wall_time_s']:,.1f} s[/]")


@cli.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
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
    _check_out(out, force, no_save)
    if survival:
        table = _run_study(
            lambda progress: api.survival(
                scenario_file, percentile, None, replications, seed, overrides, jobs, progress=progress
            ),
            0,
            "survival",
        )
        attrs = table.attrs
        shown = Table(
            title=(
                f"{_t(attrs['scenario'])}: days each route can be closed before shut-in starts (the others open; "
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
                _t(str(row["route"])),
                f"{row['normal_t_per_d'] / 1e3:,.1f} kt/d",
                f"> {attrs['horizon_d']:g} d" if days == float("inf") else f"{days:g} d",
                f"{row['share_shut_in']:.0%}",
                _number(row["lost_export_t_p50"], "t"),
            )
        console.print(shown)
        _save_study(table, out, results_root, force, no_plot, no_save, metric)
        return
    missing = [name for name, value in (("--param", param), ("--threshold", threshold)) if value is None]
    if missing:
        _fail_input(ScenarioError.single(f"<{missing[0]}>", f"{missing[0]} is required; expected it (or --survival)"))
        return
    table = _run_study(
        lambda progress: api.stress(
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
        ),
        0,
        "stress",
    )
    attrs = table.attrs
    unit = attrs["unit"]
    munit = attrs["metric_unit"]
    where = f"{_t(param or '')}" + (f" ({_t(unit)})" if unit else "")
    console.print(
        f"[bold]{_t(attrs['scenario'])}[/]: P{percentile:g} of {_t(metric)} over {attrs['replications']:,} "
        f"replication(s) (seed {attrs['seed']}) against {_t(str(threshold))} "
        f"({_number(attrs['threshold'], munit)}), {where} from {attrs['range'][0]:g} to {attrs['range'][1]:g}"
    )
    if attrs["crossed"]:
        lo, hi = attrs["bracket"]
        console.print(
            f"Break: {_t(metric)} {attrs['direction']} the threshold at [bold]{hi:g} {_t(unit)}[/] "
            f"(bracket {lo:g}–{hi:g}, precision {attrs['precision']:.3g} {_t(unit)}, "
            f"{attrs['evaluations']} ensembles)"
        )
    else:
        side = "above" if attrs["at_low"] >= attrs["threshold"] else "below"
        console.print(
            f"No break in the range: {_t(metric)} is {side} the threshold at both ends "
            f"({_number(attrs['at_low'], munit)} and {_number(attrs['at_high'], munit)}); widen --range"
        )
    if not attrs["monotone"]:
        err.print(
            f"[yellow]warning:[/] {_t(metric)} rises and falls as {_t(param or '')} grows: bisection assumes one "
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
            _number(row["metric_value"], munit),
            "yes" if row["at_or_above_threshold"] == (attrs["direction"] != "falls below") else "",
            str(row["phase"]),
        )
    console.print(shown)
    _save_study(table, out, results_root, force, no_plot, no_save, metric)


@cli.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
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
    from sim.explore.params import parse_bound
    from sim.explore.sensitivity import MissingDependencyError, plan_sensitivity, require_salib
    from sim.explore.sweep import check_metrics

    _check_out(out, force, no_save)
    try:
        require_salib()
        loaded = api.load(scenario_file, overrides)
        n = loaded.scenario.replications if replications is None else replications
        api.check_ensemble(loaded, n, jobs, names=("-n/--replications", "-j/--jobs"))
        plan = plan_sensitivity(loaded, method, samples, [parse_bound(b) for b in bounds], n, second_order)
        check_metrics(loaded, [metric])
    except ScenarioError as exc:
        _fail_input(exc)
        return
    except MissingDependencyError as exc:
        err.print(f"[bold red]error:[/] {_t(str(exc))}", emoji=False)
        sys.exit(EXIT_INPUT)
    for item in plan.inputs:
        err.print(f"[dim]input {_t(item.path)}: {_t(item.description)} ({item.kind})[/]")
    seconds = ensemble_estimate(plan.runs, loaded.scenario.horizon).seconds / min(jobs, max(1, n))
    err.print(
        f"{method}: N = {plan.base:,}, {len(plan.inputs)} input(s) -> {plan.samples:,} samples x {n:,} replication(s) "
        f"= {plan.runs:,} runs; about {_duration(seconds)} at the reference network's speed"
    )
    table = _run_study(
        lambda progress: api.sensitivity(
            loaded, method, plan.base, list(bounds), metric, n, seed, (), jobs, second_order, progress=progress
        ),
        plan.samples,
        "sensitivity",
    )
    attrs = table.attrs
    shown = Table(
        title=(
            f"{_t(attrs['scenario'])}: {method} indices of {_t(metric)} "
            f"({attrs['samples_run']:,} samples x {n:,}, seed {attrs['seed']})"
        ),
        title_justify="left",
    )
    columns = ["S1", "S1_conf", "ST", "ST_conf"] if method == "sobol" else ["mu_star", "mu_star_conf", "sigma", "mu"]
    shown.add_column("input")
    for column in columns:
        shown.add_column(column.replace("_conf", " ±"), justify="right")
    munit = "t" if metric.endswith("_t") else ("d" if metric.endswith("_d") else "1")
    for i in range(len(table)):
        row = table.iloc[i]
        cells = [f"{row[c]:.3f}" for c in columns] if method == "sobol" else [_number(row[c], munit) for c in columns]
        shown.add_row(_t(str(row["input"])), *cells)
    console.print(shown)
    _save_study(table, out, results_root, force, no_plot, no_save, metric)


@cli.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
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
    from sim.explore.discovery import check_sizes, require_prim
    from sim.explore.params import parse_bound
    from sim.explore.sensitivity import MissingDependencyError, checked_inputs
    from sim.explore.stress import parse_threshold
    from sim.explore.sweep import check_metrics

    _check_out(out, force, no_save)
    try:
        require_prim()
        loaded = api.load(scenario_file, overrides)
        n = loaded.scenario.replications if replications is None else replications
        api.check_ensemble(loaded, n, jobs, names=("-n/--replications", "-j/--jobs"))
        check_sizes(samples, n, density)
        checked_inputs(loaded, [parse_bound(b) for b in bounds])
        check_metrics(loaded, [metric])
        parse_threshold(threshold, metric)
    except ScenarioError as exc:
        _fail_input(exc)
        return
    except MissingDependencyError as exc:
        err.print(f"[bold red]error:[/] {_t(str(exc))}", emoji=False)
        sys.exit(EXIT_INPUT)
    seconds = ensemble_estimate(max(1, n), loaded.scenario.horizon).seconds * samples / min(jobs, max(1, n))
    err.print(
        f"[dim]{samples:,} points x {n:,} replication(s) = {samples * n:,} runs, then PRIM at density {density:g}; "
        f"about {_duration(seconds)} at the reference network's speed[/]"
    )
    table = _run_study(
        lambda progress: api.discover(
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
        ),
        samples,
        "discover",
    )
    attrs = table.attrs
    box = attrs["box"]
    console.print(
        f"[bold]{_t(attrs['scenario'])}[/]: {attrs['cases_of_interest']:,} of {attrs['samples_run']:,} points have "
        f"{_t(metric)} ≥ {_t(threshold)}"
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
            _t(str(row["input"])),
            "yes" if row["restricted"] else "",
            f"{row['low']:.4g}",
            f"{row['high']:.4g}",
            f"{row['sampled_low']:.4g} to {row['sampled_high']:.4g}",
        )
    console.print(shown)
    _save_study(table, out, results_root, force, no_plot, no_save, metric)


def main() -> None:
    """Entry point of the ``routesim`` console script."""
    cli(prog_name="routesim")

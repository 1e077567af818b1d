"""``routesim run`` (one replication, an ensemble, a streamed run folder, --resume) and ``routesim rerun``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sim import api, streaming
from sim.api import (
    EXECUTORS,
    PRECISION,
    EnsembleError,
    IncompleteRunError,
    MassBalanceError,
    MissingDependencyError,
    OutputError,
    ScenarioError,
    check_available,
    ensemble_estimate,
)
from sim.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_OUTPUT,
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
)
from sim.cli.tables import ensemble_table, impact_table, print_outcome

_out_option, _results_root_option, _force_option = output_options(
    "Run folder to create (must not exist).", "Where run folders go when --out is not given."
)


@click.command()
@click.argument("scenario_file", type=SafePath(path_type=Path), required=False)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Root seed (default: the file's).")
@_out_option
@_results_root_option
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
@_force_option
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
    type=SafePath(file_okay=False, path_type=Path),
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
    command = command_line()
    try:
        where = _executor_options(executor, workers, scheduler, jobs, batch_size)
    except ScenarioError as exc:
        fail_input(exc)
        return
    if resume_dir is not None:
        if scenario_file is not None:
            fail_input(ScenarioError.single("--resume", "give either SCENARIO_FILE or --resume RUN_DIR, not both"))
        _resume(resume_dir, where, as_json)
        return
    if scenario_file is None:
        fail_input(ScenarioError.single("SCENARIO_FILE", "missing: give a scenario file (or --resume RUN_DIR)"))
        return
    try:
        loaded = api.load(scenario_file, overrides)
        n = loaded.scenario.replications if replications is None else replications
        api.check_ensemble(loaded, n, jobs, names=("-n/--replications", "-j/--jobs"))
        where.thresholds = api.thresholds(loaded, thresholds, seed, name="--threshold") if n > 1 else {}
        where.precision = _precision(precision)
    except ScenarioError as exc:
        fail_input(exc)
        return
    where.plot = not no_plot
    check_out(out, force, no_save)
    if n > 1:
        seconds = ensemble_estimate(n, loaded.scenario.horizon).seconds / min(where.workers, n)
        err.print(
            f"[dim]{n:,} replications of {loaded.scenario.horizon:g} d, {where.executor} executor with "
            f"{min(where.workers, n):,} worker(s); about {rough_duration(seconds)} at the reference network's speed[/]"
        )
    if n > 1 and not no_save:
        try:
            folder = streaming.start_streamed(loaded, n, seed, out, results_root, force, where, command)
        except OutputError as exc:
            fail_output(str(exc))
            return
        outcome = _run_folder(folder, where, loaded.scenario.name, n)
        print_outcome(outcome, folder, no_plot, as_json)
        return
    try:
        with progress_bar(n, safe(loaded.scenario.name, 40)) as progress:
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
        fail_input(exc)
        return
    except MissingDependencyError as exc:
        fail_input(ScenarioError.single("--executor", str(exc)))
        return
    except (MassBalanceError, EnsembleError) as exc:
        fail_output(f"internal error (please report): {exc}")
        return
    folder = None
    if not no_save:
        if out is not None and out.exists() and not force:
            fail_output(f"{out} already exists; choose another --out, or pass --force to replace it")
        try:
            folder = api.save(outcome, out=out, root=results_root, force=force, plot=not no_plot)
        except OutputError as exc:
            fail_output(str(exc))
            return
    print_outcome(outcome, folder, no_plot, as_json)


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


def _precision(value: float) -> float:
    if not (0.0 < value < 1.0):
        raise ScenarioError.single("--precision", f"{value!r} is not a relative precision; expected between 0 and 1")
    return value


def _run_folder(folder: Path, where: streaming.EnsembleOptions, label: str, n: int) -> api.Outcome:
    """Run (or finish) a streamed run folder; Ctrl-C and failures leave it resumable."""
    try:
        with progress_bar(n, label) as progress:
            outcome, _ = streaming.resume(folder, where, progress=progress)
    except KeyboardInterrupt:
        err.print(
            f"[yellow]interrupted:[/] the finished batches are kept in {folder}; "
            f"finish with: routesim run --resume {folder}",
            emoji=False,
        )
        sys.exit(EXIT_INTERRUPTED)
    except ScenarioError as exc:
        fail_input(exc)
        raise
    except MissingDependencyError as exc:
        fail_input(ScenarioError.single("--executor", str(exc)))
        raise
    except (MassBalanceError, EnsembleError, IncompleteRunError) as exc:
        fail_output(f"{exc}; the finished batches are kept in {folder}: finish with routesim run --resume {folder}")
        raise
    except OutputError as exc:
        fail_output(str(exc))
        raise
    return outcome


def _resume(folder: Path, where: streaming.EnsembleOptions, as_json: bool) -> None:
    """``run --resume RUN_DIR``: finish an unfinished run folder and print it as a finished run."""
    try:
        plan = streaming.read_plan(folder)
    except ScenarioError as exc:
        fail_input(exc)
        return
    n = int(plan.get("replications", 1))
    err.print(f"[dim]resuming {folder}: {n:,} replications, {where.executor} executor[/]")
    outcome = _run_folder(folder, where, "resume", n)
    print_outcome(outcome, folder, not plan.get("plot", True), as_json)


@click.command()
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
        with progress_bar(api.manifest_replications(manifest), "rerun") as progress:
            report = api.rerun(manifest, jobs=jobs, progress=progress, jobs_name="-j/--jobs")
    except ScenarioError as exc:
        fail_input(exc)
        return
    except (MassBalanceError, EnsembleError) as exc:
        fail_output(f"internal error (please report): {exc}")
        return
    for name, (then, now) in report.version_changes.items():
        err.print(
            f"[yellow]warning:[/] {safe(name)} was {safe(then)} when the run was made, now {safe(now)}; results may differ"
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
            err.print(f"[red]differs:[/] {safe(line, 500)}")
        sys.exit(EXIT_OUTPUT)

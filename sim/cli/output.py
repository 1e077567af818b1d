"""What every command shares: the two consoles, safe text, refusals and exit codes, progress bars, numbers.

Exit codes: 0 success; 1 results could not be written or an internal error; 2 bad input
(a scenario file, an option, a manifest) — with one line per problem and no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sim.api import ScenarioError, not_replaceable_message, replaceable
from sim.textsafe import MAX_SHOWN, plain
from sim.units import format_quantity

console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 4096)  # piped: never cut
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OUTPUT = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def safe(value: object, limit: int | None = MAX_SHOWN) -> str:
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


def print_problems(exc: ScenarioError) -> None:
    """One line per problem (at most MAX_PROBLEMS_SHOWN, then how many more)."""
    for problem in exc.problems[:MAX_PROBLEMS_SHOWN]:
        err.print(f"[bold red]error:[/] {escape(str(problem))}", emoji=False)
    if len(exc.problems) > MAX_PROBLEMS_SHOWN:
        err.print(f"[bold red]error:[/] … and {len(exc.problems) - MAX_PROBLEMS_SHOWN:,} more problems", emoji=False)


def fail_input(exc: ScenarioError) -> None:
    print_problems(exc)
    sys.exit(EXIT_INPUT)


def check_out(out: Path | None, force: bool, no_save: bool) -> None:
    """Refuse before running: an --out that exists without --force (exit 1), or that --force must not replace (exit 2)."""
    if no_save or out is None or not out.exists():
        return
    if not force:
        fail_output(f"{out} already exists; choose another --out, or pass --force to replace it")
    if not replaceable(out):
        err.print(f"[bold red]error:[/] {safe(not_replaceable_message(out), 1000)}", emoji=False)
        sys.exit(EXIT_INPUT)


def fail_output(message: str) -> None:
    err.print(f"[bold red]error:[/] {safe(message, 1000)}", emoji=False)
    sys.exit(EXIT_OUTPUT)


def rough_duration(seconds: float) -> str:
    """A rough duration for an estimate: '3 s', '4.2 min', '1.5 h'."""
    if seconds < 1:
        return "a second"
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int, int], None] | None]:
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


def output_options(out_help: str, root_help: str) -> tuple[Callable, Callable, Callable]:
    """The ``--out``, ``--results-root`` and ``--force`` options of the commands that write a folder (in that order)."""
    return (
        click.option("--out", type=SafePath(file_okay=False, path_type=Path), default=None, help=out_help),
        click.option(
            "--results-root",
            type=SafePath(file_okay=False, path_type=Path),
            default=Path("results"),
            show_default=True,
            help=root_help,
        ),
        click.option("--force", is_flag=True, help="Replace the --out folder if it exists."),
    )


def jobs_option(help_text: str) -> Callable:
    """The ``-j/--jobs J`` option (worker processes), shared by the commands that run ensembles."""
    return click.option("-j", "--jobs", type=int, default=1, show_default=True, metavar="J", help=help_text)


def study_number(value: Any, unit: str) -> str:
    """A study's value for a table: as the run tables show it (Mt, bn USD), else 4 significant digits."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float) and value == float("inf"):
        return "∞"
    if unit in ("t", "USD", "bbl", "t*d", "USD/bbl"):
        return format_quantity(value, unit)
    return f"{value:,.4g}" if unit in ("", "1") else f"{value:,.4g} {unit}"


def command_line() -> list[str] | None:
    """The command as typed (for a manifest), or None when there is no ``sys.argv``."""
    return ["routesim", *sys.argv[1:]] if sys.argv else None

"""Run the routesim command in-process (click's CliRunner) or, for a few smoke tests, as a process.

In-process runs cost milliseconds instead of an interpreter start and imports (about 1.5 s each on a
busy host); they see the same exit codes, stdout and stderr. The smoke tests that go through a real
``python -m sim`` process check what only a process shows (the entry point, a traceback on stderr).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from sim.cli import cli

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Finished:
    """What a finished command left: its exit code and its two output streams."""

    returncode: int
    stdout: str
    stderr: str


def routesim(*args: str, cwd: Path | None = None) -> Finished:
    """Run ``routesim args`` in this process, as a user would in ``cwd`` (the checkout by default).

    An exception that escapes the command becomes exit 1 with its traceback on stderr, as it would
    in a process, so tests that refuse tracebacks still see them.
    """
    argv = sys.argv
    sys.argv = ["routesim", *args]  # the manifest records the command from sys.argv
    try:
        with contextlib.chdir(cwd or ROOT):
            result = CliRunner().invoke(cli, list(args), prog_name="routesim", catch_exceptions=True)
    finally:
        sys.argv = argv
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(*result.exc_info))
        code = 1
    return Finished(code, result.stdout, stderr)


def routesim_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m sim args`` as a separate process; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=600
    )

"""Hostile input, round two: text that reaches the terminal, special files, manifests and run
folders from strangers, results that must stay where they belong, processes left behind.

Every refusal is exit 2 with one line per problem naming the file, no traceback, and nothing
written or deleted. The CLI runs in-process (click's runner) unless a case needs a real process.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sim.cli import cli

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters that must never reach the terminal (newline and tab are the console's own)."""


def routesim(*args: str) -> Result:
    """Run the CLI in-process; a traceback (any exception but SystemExit) fails the test."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback: {result.exception!r}\n{result.stdout}\n{result.stderr}")
    return result


def refused(result: Result, file: str | Path | None = None) -> str:
    """Assert an input refusal: exit 2, an 'error:' line (naming ``file``), no traceback; return it.

    ('Error:' is click's own refusal of an option or argument, e.g. a directory given as a file.)
    """
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "Error:"))]
    assert lines, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not CONTROL.search(result.stderr + result.stdout)
    if file is not None:
        assert any(str(file) in line for line in lines), (file, lines)
    return lines[0]


def toy_text(**replace: str) -> str:
    """The toy scenario's text with whole lines starting ``key:`` replaced by ``key: value``."""
    lines = TOY.read_text().splitlines()
    for key, value in replace.items():
        lines = [f"{key}: {value}" if line.startswith(f"{key}:") else line for line in lines]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- 3. text from files is data -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "text", "shown"),
    [
        ("key", toy_text(seed='1\n"[/x]": 1'), "[/x]"),
        ("target", toy_text().replace("target: novo", 'target: "[/]"'), "'[/]'"),
        ("long_value", toy_text(seed='1\n"k": "' + "v" * 400_000 + '"'), "unknown key 'k'"),
    ],
)
def test_markup_and_long_values_in_a_file_print_as_text(tmp_path, case, text, shown):
    path = write(tmp_path / f"{case}.yaml", text)
    line = refused(routesim("run", str(path), "--no-save"), path)
    assert shown in line
    assert len(line) < 2_000


def test_markup_in_a_name_runs_and_prints_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "ok.yaml", toy_text(name='"ok[/]"'))
    result = routesim("run", str(path), "--no-plot")
    assert result.exit_code == 0, result.stderr
    assert "ok[/]" in result.stdout
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["ok___"]


def test_escape_sequences_in_a_name_never_reach_the_terminal(tmp_path):
    path = write(tmp_path / "esc.yaml", toy_text(name=r'"\e]0;PWNED\a\e[2J"'))
    result = routesim("run", str(path), "--no-save")
    out = result.stdout + result.stderr
    assert not CONTROL.search(out)
    assert "\x1b" not in out and "\x07" not in out
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        refused(result, path)


def test_a_path_with_markup_or_a_newline_is_one_line(tmp_path):
    for folder in ("x[/b]", "new\nline"):
        path = write(tmp_path / folder / "bad.yaml", toy_text(seed="1\nzzz: 1"))
        result = routesim("validate", str(path))
        line = refused(result)
        assert "zzz" in line and ("[/b]" in line or "new\\nline" in line)
        assert len([x for x in result.stderr.splitlines() if x.startswith("error:")]) == 1


def test_markup_in_a_set_override():
    line = refused(routesim("run", str(TOY), "--no-save", "--set", "foo[/]=1"), "<--set>")
    assert "foo[/]" in line


# --- 4. only regular files, only up to the limit ------------------------------------------------


def special_file(tmp_path: Path, kind: str, name: str) -> Path:
    """A path that is not a regular file: a symlink to /dev/zero or /dev/urandom, a FIFO, a directory."""
    path = tmp_path / name
    if kind in ("zero", "urandom"):
        path.symlink_to(f"/dev/{kind}")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "huge":
        with open(path, "wb") as handle:
            handle.truncate(200 * 2**20)  # 200 MB, sparse: refused by its size, never read
    return path


SPECIAL = ["zero", "urandom", "fifo", "directory", "huge"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs /dev/zero and FIFOs")
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_scenario_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    path = special_file(tmp_path, kind, "scenario.yaml")
    line = refused(routesim("run", str(path), "--no-save"), path)
    assert "directory" in line or "regular file" in line or "bytes" in line


def test_the_readme_and_the_code_state_the_same_size_limit():
    from sim.scenario.yamlio import MAX_FILE_BYTES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{MAX_FILE_BYTES:,} bytes" in readme
    assert "2 MB" not in readme

"""Hostile input, round two: text that reaches the terminal, special files, manifests and run
folders from strangers, results that must stay where they belong, processes left behind.

Every refusal is exit 2 with one line per problem naming the file, no traceback, and nothing
written or deleted. The CLI runs in-process (click's runner) unless a case needs a real process.
"""

from __future__ import annotations

import json
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


# --- 1 and 2. manifests and run folders from strangers --------------------------------------------


@pytest.fixture(scope="module")
def good_runs(tmp_path_factory) -> dict[str, Path]:
    """Two valid run folders of the toy scenario: a single run and an ensemble of 3."""
    from sim import api

    root = tmp_path_factory.mktemp("runs")
    single = api.save(api.run(TOY), out=root / "single", plot=False)
    ensemble = api.save(api.run(TOY, replications=3), out=root / "ensemble", plot=False)
    return {"single": single, "ensemble": ensemble}


def copy_run(good_runs: dict[str, Path], tmp_path: Path, which: str = "single") -> Path:
    import shutil

    return Path(shutil.copytree(good_runs[which], tmp_path / which))


def edit_manifest(folder: Path, change) -> Path:
    path = folder / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


BAD_MANIFESTS = {
    # case: (change to the manifest's data, or raw text, substring of the one error line)
    "resolved_scenario_missing": (lambda m: m.pop("resolved_scenario"), "resolved_scenario: required key is missing"),
    "resolved_scenario_a_string": (lambda m: m.update(resolved_scenario="x"), "resolved_scenario"),
    "resolved_scenario_a_list": (lambda m: m.update(resolved_scenario=[1]), "resolved_scenario"),
    "resolved_scenario_invalid": (lambda m: m["resolved_scenario"].update(horizon="-3 d"), "horizon"),
    "resolved_scenario_network_path": (
        lambda m: m["resolved_scenario"].update(network="/etc/passwd"),
        "network",
    ),
    "seed_negative": (lambda m: m.update(seed=-1), "seed"),
    "seed_2_64": (lambda m: m.update(seed=2**64), "seed"),
    "seed_a_string": (lambda m: m.update(seed="7"), "seed"),
    "seed_a_boolean": (lambda m: m.update(seed=True), "seed"),
    "seed_a_float": (lambda m: m.update(seed=7.0), "seed"),
    "overrides_a_number": (lambda m: m.update(overrides=5), "overrides"),
    "versions_a_string": (lambda m: m.update(versions="x"), "versions"),
    "versions_values_numbers": (lambda m: m.update(versions={"numpy": 2}), "versions"),
    "scenario_file_a_number": (lambda m: m.update(scenario_file=5), "scenario_file"),
    "scenario_files_a_string": (lambda m: m.update(scenario_files="abc"), "scenario_files"),
    "replications_zero": (lambda m: m.update(replications=0), "replications"),
    "replications_huge": (lambda m: m.update(replications=10**12), "replications"),
    "replication_negative": (lambda m: m.update(replication=-1), "replication"),
    "marker_missing": (lambda m: m.pop("routesim_manifest"), "not a routesim run manifest"),
    "marker_two": (lambda m: m.update(routesim_manifest=2), "not a routesim run manifest"),
    "hash_mismatch": (lambda m: m["resolved_scenario"].update(seed=2), "does not match its recorded hash"),
    "not_json": ("{not json", "not valid JSON"),
    "a_list": ("[1, 2]", "top level is a list"),
    "nan": ('{"routesim_manifest": 1, "seed": NaN}', "not valid JSON"),
    "deep": ("[" * 100_000 + "]" * 100_000, "nests 100,000 levels deep"),
    "deep_object": ('{"a":' * 100_000 + "1" + "}" * 100_000, "nests 100,000 levels deep"),
    "deep_inside_scenario": (None, "nests"),
    "huge_integer": ('{"routesim_manifest": 1, "seed": ' + "9" * 5000 + "}", "not valid JSON"),
    "not_utf8": (b'{"routesim_manifest": 1, "x": "\xff"}', "not UTF-8"),
    "empty": ("", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_bad_manifest_is_refused_with_one_line(good_runs, tmp_path, case):
    change, expected = BAD_MANIFESTS[case]
    folder = copy_run(good_runs, tmp_path)
    path = folder / "manifest.json"
    if case == "deep_inside_scenario":
        edit_manifest(folder, lambda m: m["resolved_scenario"].update(description="[" * 50_000))
        data = path.read_text(encoding="utf-8").replace('"' + "[" * 50_000 + '"', "[" * 50_000 + "]" * 50_000)
        path.write_text(data, encoding="utf-8")
    elif callable(change):
        edit_manifest(folder, change)
    elif isinstance(change, bytes):
        path.write_bytes(change)
    else:
        path.write_text(change, encoding="utf-8")
    before = snapshot(tmp_path)
    line = refused(routesim("rerun", str(path)), path)
    assert expected in line, line
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs /dev/zero and FIFOs")
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_manifest_that_is_not_a_regular_file_is_refused(good_runs, tmp_path, kind):
    folder = copy_run(good_runs, tmp_path)
    (folder / "manifest.json").unlink()
    path = special_file(folder, kind, "manifest.json")
    line = refused(routesim("rerun", str(path)), path)
    assert "directory" in line or "regular file" in line or "bytes" in line


def break_csv(path: Path, row: int, column: int, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[row].split(",")
    cells[column] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


BAD_RUN_FOLDERS = {
    # case: (which run, file, how to break it, substring of the one error line)
    "summary_deleted": ("single", "summary.json", lambda p: p.unlink(), "missing"),
    "timeseries_deleted": ("single", "timeseries.csv", lambda p: p.unlink(), "missing"),
    "summary_broken": ("single", "summary.json", lambda p: p.write_text('{"metrics": '), "not valid JSON"),
    "summary_a_list": ("single", "summary.json", lambda p: p.write_text("[]"), "top level is a list"),
    "summary_no_metrics": ("single", "summary.json", lambda p: p.write_text('{"seed": 1}'), "metrics"),
    "summary_metric_a_number": (
        "single",
        "summary.json",
        lambda p: p.write_text('{"seed": 1, "metrics": {"lost_export_t": 5}}'),
        "metrics.lost_export_t",
    ),
    "summary_deep": ("single", "summary.json", lambda p: p.write_text("[" * 100_000), "nests"),
    "summary_is_a_directory": ("single", "summary.json", lambda p: (p.unlink(), p.mkdir()), "directory"),
    "summary_to_dev_zero": ("single", "summary.json", lambda p: (p.unlink(), p.symlink_to("/dev/zero")), "regular"),
    "timeseries_text_cell": ("single", "timeseries.csv", lambda p: break_csv(p, 3, 2, "abc"), "'abc' is not a number"),
    "timeseries_short_row": ("single", "timeseries.csv", lambda p: break_csv(p, 3, 2, "1\n2"), "cells; expected"),
    "timeseries_empty": ("single", "timeseries.csv", lambda p: p.write_text(""), "empty"),
    "timeseries_nul": ("single", "timeseries.csv", lambda p: break_csv(p, 3, 2, "\x00"), "timeseries.csv"),
    "timeseries_fifo": ("single", "timeseries.csv", lambda p: (p.unlink(), os.mkfifo(p)), "regular"),
    "ensemble_text_cell": ("ensemble", "ensemble.csv", lambda p: break_csv(p, 2, 5, "x1"), "'x1' is not a number"),
    "ensemble_float_seed": ("ensemble", "ensemble.csv", lambda p: break_csv(p, 2, 1, "1.5"), "not a whole number"),
    "ensemble_not_utf8": ("ensemble", "ensemble.csv", lambda p: p.write_bytes(b"replication\n\xff\n"), "UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUN_FOLDERS))
def test_a_bad_run_folder_is_refused_before_running(good_runs, tmp_path, case):
    which, name, breaks, expected = BAD_RUN_FOLDERS[case]
    folder = copy_run(good_runs, tmp_path, which)
    breaks(folder / name)
    line = refused(routesim("rerun", str(folder / "manifest.json")), folder / name)
    assert expected in line, line


def test_an_edited_seed_is_noticed_even_without_random_draws(good_runs, tmp_path):
    folder = copy_run(good_runs, tmp_path)
    assert routesim("rerun", str(folder / "manifest.json")).exit_code == 0
    edit_manifest(folder, lambda m: m.update(seed=8))
    result = routesim("rerun", str(folder / "manifest.json"))
    assert result.exit_code == 1
    assert "input seed" in result.stderr


def test_an_ensemble_rerun_notices_an_edited_seed(good_runs, tmp_path):
    folder = copy_run(good_runs, tmp_path, "ensemble")
    edit_manifest(folder, lambda m: m.update(seed=8))
    result = routesim("rerun", str(folder / "manifest.json"))
    assert result.exit_code == 1 and "input seed" in result.stderr


def test_rerun_names_the_jobs_option_as_typed(good_runs):
    line = refused(routesim("rerun", str(good_runs["single"] / "manifest.json"), "--jobs", "0"))
    assert "-j/--jobs" in line


def test_markup_and_escapes_in_a_manifest_print_as_text(good_runs, tmp_path):
    folder = copy_run(good_runs, tmp_path)
    edit_manifest(folder, lambda m: m["versions"].update({"numpy": "[/]\x1b[2J", "[/x]": "1"}))
    result = routesim("rerun", str(folder / "manifest.json"))
    assert result.exit_code == 0, result.stderr
    assert "[/]\\x1b[2J" in result.stderr
    assert not CONTROL.search(result.stderr + result.stdout)


def init_hostile_repo(folder: Path, sentinel: Path) -> None:
    """A git checkout whose config runs a script (touching ``sentinel``) from fsmonitor and hooks."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    script = folder / "hook.sh"
    script.write_text(f"#!/bin/sh\ntouch '{sentinel}'\n", encoding="utf-8")
    script.chmod(0o755)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(folder)}
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "core.fsmonitor", str(script)],
        ["git", "config", "core.hooksPath", str(folder)],
        ["git", "add", "hook.sh"],
        ["git", "-c", "user.name=a", "-c", "user.email=a@b", "-c", "core.fsmonitor=false", "commit", "-qm", "x"],
    ):
        subprocess.run(command, cwd=folder, check=True, capture_output=True, env=env)
    sentinel.unlink(missing_ok=True)


def test_rerun_never_runs_git_in_the_manifests_folder(good_runs, tmp_path, monkeypatch):
    evil = tmp_path / "evil"
    evil.mkdir()
    sentinel = tmp_path / "PWNED"
    init_hostile_repo(evil, sentinel)
    folder = copy_run(good_runs, evil)
    (evil / "scenario.yaml").write_text(TOY.read_text(), encoding="utf-8")
    edit_manifest(folder, lambda m: m.update(scenario_file=str(evil / "scenario.yaml")))
    monkeypatch.chdir(tmp_path)
    result = routesim("rerun", str(folder / "manifest.json"))
    assert result.exit_code == 0, result.stderr
    assert not sentinel.exists()
    monkeypatch.chdir(evil)  # even run from inside that checkout
    assert routesim("rerun", str(folder / "manifest.json")).exit_code == 0
    assert not sentinel.exists()


def test_run_records_the_commit_of_the_checkout_without_running_its_fsmonitor(tmp_path, monkeypatch):
    evil = tmp_path / "evil"
    evil.mkdir()
    sentinel = tmp_path / "PWNED"
    init_hostile_repo(evil, sentinel)
    (evil / "hook.sh").write_text("#!/bin/sh\ntouch '" + str(sentinel) + "'\n# modified\n", encoding="utf-8")
    monkeypatch.chdir(evil)
    result = routesim("run", str(TOY), "--out", str(tmp_path / "out"), "--no-plot")
    assert result.exit_code == 0, result.stderr
    assert not sentinel.exists()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["git_commit"] is None or manifest["git_commit"].endswith("+dirty")

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
        ("long_horizon", toy_text(horizon='"' + "d" * 400_000 + '"'), " … "),
        ("long_target", toy_text().replace("target: novo", "target: " + "n" * 400_000), " … "),
        ("long_key", toy_text(seed="1\n" + "k" * 1_000 + ": 1"), " … "),
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


def test_a_name_that_looks_like_mathtext_still_draws(tmp_path):
    path = write(tmp_path / "m.yaml", toy_text(name=json.dumps("a$\\frac{b$ ^_\\x")))
    for extra in ((), ("-n", "3")):
        out = tmp_path / f"run{len(extra)}"
        result = routesim("run", str(path), "--out", str(out), *extra)
        assert result.exit_code == 0, result.stderr
        assert (out / "disruption.png").stat().st_size > 0


@pytest.mark.parametrize("command", ["run", "rerun", "validate"])
def test_a_directory_with_escapes_in_its_name_is_refused_as_text(tmp_path, command):
    folder = tmp_path / "dir\x1b[2J\x07"
    folder.mkdir()
    line = refused(routesim(command, str(folder)))
    assert "directory" in line and "\\x1b[2J" in line


def test_click_refusals_print_paths_as_text(tmp_path):
    path = write(tmp_path / "file\x1b[2J", "")
    line = refused(routesim("run", str(TOY), "--out", str(path)))
    assert "\\x1b[2J" in line


def test_a_file_name_that_is_not_utf8_runs_and_reruns(tmp_path):
    try:
        path = Path(os.fsdecode(bytes(tmp_path) + b"/\xff\x1b[2J.yaml"))
        path.write_text(TOY.read_text(), encoding="utf-8")
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses names that are not UTF-8")
    out = Path(os.fsdecode(bytes(tmp_path) + b"/out\xff"))
    for args in (("validate", str(path)), ("run", str(path), "--out", str(out), "--no-plot")):
        result = routesim(*args)
        assert result.exit_code == 0, result.stderr
        assert "\\udcff" in result.stdout and not CONTROL.search(result.stdout)
    result = routesim("rerun", str(out / "manifest.json"))
    assert result.exit_code == 0, result.stderr
    assert "identical" in result.stdout


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


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_network_include_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    special_file(folder, kind, "net.yaml")
    text = TOY.read_text().split("network:")[0] + "network: net.yaml\nshocks: []\n"
    path = write(folder / "s.yaml", text)
    line = refused(routesim("validate", str(path)), path)
    assert "not a regular file" in line


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


BAD_MANIFESTS = {  # the hostile manifest corpus: add a case for every new probe
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
    "five_million_values": ('{"routesim_manifest": 1, "x": [' + "0," * 5_000_000 + "0]}", "holds about 5,000,00"),
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


BAD_RUN_FOLDERS = {  # the hostile run-folder corpus: add a case for every new probe
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
    "timeseries_too_many_rows": (
        "single",
        "timeseries.csv",
        lambda p: p.write_text("\n".join(p.read_text().splitlines()[:1] + p.read_text().splitlines()[1:2] * 20_000)),
        "rows of",
    ),
    "timeseries_too_many_columns": (
        "single",
        "timeseries.csv",
        lambda p: p.write_text("a," * 200_000 + "\n"),
        "columns",
    ),
    "summary_five_million_values": (
        "single",
        "summary.json",
        lambda p: p.write_text('{"metrics": {}, "x": [' + "{}," * 5_000_000 + "{}]}"),
        "holds about",
    ),
    "ensemble_not_utf8": ("ensemble", "ensemble.csv", lambda p: p.write_bytes(b"replication\n\xff\n"), "UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUN_FOLDERS))
def test_a_bad_run_folder_is_refused_before_running(good_runs, tmp_path, case):
    which, name, breaks, expected = BAD_RUN_FOLDERS[case]
    folder = copy_run(good_runs, tmp_path, which)
    breaks(folder / name)
    line = refused(routesim("rerun", str(folder / "manifest.json")), folder / name)
    assert expected in line, line


def drop_column(path: Path, name: str) -> None:
    rows = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]
    j = rows[0].index(name)
    path.write_text("\n".join(",".join(r[:j] + r[j + 1 :]) for r in rows) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("which", "file", "column"), [("ensemble", "ensemble.csv", "seed"), ("single", "timeseries.csv", "day")]
)
def test_a_run_folder_missing_a_column_differs(good_runs, tmp_path, which, file, column):
    folder = copy_run(good_runs, tmp_path, which)
    drop_column(folder / file, column)
    result = routesim("rerun", str(folder / "manifest.json"))
    assert result.exit_code == 1, result.stderr
    assert column in result.stderr


@pytest.mark.parametrize(
    ("which", "breaks", "expected"),
    [
        ("single", lambda f: edit_manifest(f, lambda m: m.update(replications=500_000)), "no ensemble.csv"),
        ("ensemble", lambda f: (f / "ensemble.csv").unlink(), "no ensemble.csv"),
        ("ensemble", lambda f: edit_manifest(f, lambda m: m.update(replications=4)), "ensemble.csv of 3 rows"),
        ("ensemble", lambda f: edit_manifest(f, lambda m: m.pop("replications")), "ensemble.csv of 3 rows"),
    ],
)
def test_a_manifest_that_disagrees_with_its_folder_is_refused_before_running(
    good_runs, tmp_path, which, breaks, expected
):
    folder = copy_run(good_runs, tmp_path, which)
    breaks(folder)
    line = refused(routesim("rerun", str(folder / "manifest.json")), folder / "manifest.json")
    assert expected in line


def test_a_manifest_with_thousands_of_problems_prints_a_bounded_report(good_runs, tmp_path):
    folder = copy_run(good_runs, tmp_path)
    edit_manifest(folder, lambda m: m["resolved_scenario"].update(shocks=[{}] * 5_000))
    result = routesim("rerun", str(folder / "manifest.json"))
    refused(result, folder / "manifest.json")
    lines = result.stderr.splitlines()
    assert 2 <= len(lines) <= 60
    assert "more problems" in lines[-1]


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


# --- fuzzing manifests and run folders: exit 0, 1 or 2, never a traceback --------------------------


def _json_values():
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    )


MANIFEST_KEYS = [
    "routesim_manifest",
    "scenario_file",
    "scenario_files",
    "scenario_sha256",
    "overrides",
    "resolved_scenario",
    "validated_scenario",
    "resolved_sha256",
    "seed",
    "replication",
    "replications",
    "jobs",
    "versions",
    "git_commit",
]


def check_rerun(manifest: Path) -> None:
    """The property: a report, or a ScenarioError with usable problems naming a file; nothing else."""
    from sim import api
    from sim.scenario.errors import ScenarioError

    try:
        api.rerun(manifest)
    except ScenarioError as exc:
        assert exc.problems and all(p.file for p in exc.problems)
        assert len(str(exc).splitlines()) == len(exc.problems)


def test_fuzzed_manifests_never_raise_anything_but_a_scenario_error(good_runs, tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    folder = copy_run(good_runs, tmp_path_factory.mktemp("fuzz"))
    original = (folder / "manifest.json").read_text(encoding="utf-8")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(changes=st.dictionaries(st.sampled_from(MANIFEST_KEYS), _json_values(), min_size=1, max_size=3))
    def property_holds(changes):
        data = json.loads(original)
        data.update(changes)
        (folder / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
        check_rerun(folder / "manifest.json")

    property_holds()


def test_fuzzed_run_folder_cells_never_raise_anything_but_a_scenario_error(good_runs, tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    folder = copy_run(good_runs, tmp_path_factory.mktemp("fuzz"), "ensemble")
    originals = {name: (folder / name).read_text(encoding="utf-8") for name in ("timeseries.csv", "ensemble.csv")}
    summary = (folder / "summary.json").read_text(encoding="utf-8")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        name=st.sampled_from(sorted(originals)),
        row=st.integers(0, 3),
        column=st.integers(0, 30),
        cell=st.text(max_size=10),
        metric=_json_values(),
    )
    def property_holds(name, row, column, cell, metric):
        lines = originals[name].splitlines()
        cells = lines[row].split(",")
        cells[column % len(cells)] = cell
        lines[row] = ",".join(cells)
        for other, text in originals.items():
            (folder / other).write_text(text, encoding="utf-8")
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        data = json.loads(summary)
        data["metrics"]["lost_export_t"] = metric
        (folder / "summary.json").write_text(json.dumps(data), encoding="utf-8")
        check_rerun(folder / "manifest.json")

    property_holds()


# --- 6. results stay where they belong ----------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", "../up", "...", ".hidden", "a/b", "é" * 100])
def test_a_name_never_leads_out_of_the_results_root(tmp_path, name):
    root = tmp_path / "deep" / "root"
    path = write(tmp_path / "s.yaml", toy_text(name=json.dumps(name)))
    result = routesim("run", str(path), "--results-root", str(root), "--no-plot")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["root"]
    (folder,) = root.iterdir()
    assert not folder.name.startswith(".") and folder.name not in (".", "..")
    assert len(folder.name.encode()) <= 100
    (run,) = folder.iterdir()
    assert (run / "manifest.json").is_file()


def test_force_replaces_only_a_run_folder(tmp_path):
    precious = tmp_path / "scenarios"
    write(precious / "keep.yaml", "name: keep\n")
    write(precious / "manifest.json", '{"not": "a routesim manifest"}')
    before = snapshot(precious)
    line = refused(routesim("run", str(TOY), "--out", str(precious), "--force", "--no-plot"), precious)
    assert "not a routesim run folder" in line
    assert snapshot(precious) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    run = tmp_path / "run"
    assert routesim("run", str(TOY), "--out", str(run), "--no-plot").exit_code == 0
    assert routesim("run", str(TOY), "--out", str(run), "--force", "--no-plot", "--seed", "3").exit_code == 0
    assert json.loads((run / "manifest.json").read_text())["seed"] == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    assert routesim("run", str(TOY), "--out", str(empty), "--force", "--no-plot").exit_code == 0
    assert (empty / "manifest.json").is_file()


def test_backtest_force_replaces_only_a_run_folder(tmp_path):
    precious = write(tmp_path / "notes" / "notes.txt", "mine").parent
    history = ROOT / "scenarios" / "history" / "e02_storm_spm_damage_2022.yaml"
    line = refused(routesim("backtest", str(history), "--out", str(precious), "--force"), precious)
    assert "not a routesim run folder" in line
    assert (precious / "notes.txt").read_text() == "mine"


def dead_pid() -> int:
    """The pid of a process that has exited."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_staging_left_by_a_killed_run_is_cleaned_up_on_the_next_run(tmp_path):
    import time

    from sim.folders import _host

    root = tmp_path / "results"
    folder = root / "toy"
    stale = folder / f".20260101T000000Z-seed1.pid{dead_pid()}@{_host()}.abc123.partial"
    old = folder / ".20260101T000000Z-seed1.pid1@elsewhere.def456.partial"
    live = folder / f".20260101T000000Z-seed1.pid{os.getpid()}@{_host()}.ghi789.partial"
    other = folder / ".my.own.partial"
    legacy_old = folder / ".20250101T000000Z-seed1.k2j4_x9q.partial"
    legacy_new = folder / ".20250101T000000Z-seed1.a2j4_x9q.partial"
    legacy_not_ours = folder / ".downloads.k2j4_x9q.partial"
    for path in (stale, old, live, other, legacy_old, legacy_new):
        write(path / "summary.json", "{}")
    write(legacy_not_ours / "movie.mkv", "")
    week_ago = time.time() - 7 * 86400
    for path in (old, legacy_old, other, legacy_not_ours):
        os.utime(path, (week_ago, week_ago))
    result = routesim("run", str(TOY), "--results-root", str(root), "--no-plot")
    assert result.exit_code == 0, result.stderr
    assert not stale.exists() and not old.exists() and not legacy_old.exists()
    assert live.exists() and other.exists() and legacy_new.exists() and legacy_not_ours.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_run_folder_gets_the_users_usual_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        assert routesim("run", str(TOY), "--out", str(tmp_path / "run"), "--no-plot").exit_code == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "run" / "summary.json").stat().st_mode & 0o777 == 0o644


# --- 7. no process left behind ------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc; zombies count as gone)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return [c for c in found if alive(c)]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


SPAWN_BOOTSTRAP_FAILURE = re.compile(
    r'Traceback \(most recent call last\):\n  File "<string>", line 1, in <module>\n'
    r"(?: .*\n)*?EOFError: Ran out of input\n?"
)
"""What a worker still reading its start-up data prints when its parent is killed outright (SIGKILL): Python's
multiprocessing writes it before any of the package's code runs in the worker, so nothing can silence it;
the worker then exits, which is what the test checks."""


def without_bootstrap_failures(stderr: str) -> str:
    """``stderr`` without the start-up failures of workers whose parent was killed (SPAWN_BOOTSTRAP_FAILURE)."""
    return SPAWN_BOOTSTRAP_FAILURE.sub("", stderr)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(
    ("signal_name", "executor"),
    [
        ("SIGKILL", ("--jobs", "2")),
        ("SIGTERM", ("--jobs", "2")),
        ("SIGKILL", ("--executor", "dask", "--workers", "2")),  # a LocalCluster's workers too
    ],
    ids=["processes-SIGKILL", "processes-SIGTERM", "dask-SIGKILL"],
)
def test_killing_the_parent_leaves_no_worker_behind(tmp_path, signal_name, executor):
    import signal
    import subprocess
    import sys
    import time

    scenario = ROOT / "scenarios" / "history" / "e04_court_suspension_stochastic_2022.yaml"
    if "dask" in executor:
        pytest.importorskip("distributed")
    command = [sys.executable, "-m", "sim", "run", str(scenario), "-n", "100000", *executor, "--no-save"]
    parent = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started: list[int] = []
    try:
        deadline = time.monotonic() + 300  # generous: waits for the workers to start, asserts no speed
        while time.monotonic() < deadline and parent.poll() is None:
            started = children(parent.pid)
            if sum("spawn_main" in cmdline(c) for c in started) >= 2:
                break
            time.sleep(0.2)
        if sum("spawn_main" in cmdline(c) for c in started) < 2:
            ended = parent.poll()
            stderr = parent.stderr.read().decode(errors="replace")[-2000:] if ended is not None else ""
            pytest.fail(f"the workers never started (parent exit {ended}): {stderr}")
        parent.send_signal(getattr(signal, signal_name))
        parent.wait(timeout=600)
        deadline = time.monotonic() + 60  # generous: the workers notice at once; this only bounds the wait
        while time.monotonic() < deadline and any(alive(c) for c in started):
            time.sleep(0.2)
        left = [f"{c}: {cmdline(c)}" for c in started if alive(c)]
        assert not left, f"processes left behind after {signal_name}: {left}"
        stderr = parent.stderr.read().decode(errors="replace") if parent.stderr else ""
        assert "Traceback" not in without_bootstrap_failures(stderr)
    finally:
        for pid in [parent.pid, *started]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_killing_the_resource_tracker_prints_no_traceback(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    scenario = ROOT / "scenarios" / "history" / "e04_court_suspension_stochastic_2022.yaml"
    command = [sys.executable, "-m", "sim", "run", str(scenario), "-n", "400", "--jobs", "2", "--no-save"]
    parent = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        tracker = None
        while time.monotonic() < deadline and parent.poll() is None and tracker is None:
            kids = children(parent.pid)
            if sum("spawn_main" in cmdline(c) for c in kids) >= 2:
                tracker = next((c for c in kids if "resource_tracker" in cmdline(c)), None)
            time.sleep(0.1)
        if tracker is None:
            pytest.skip("the run ended before its workers could be seen")
        os.kill(tracker, signal.SIGKILL)
        out, err = parent.communicate(timeout=600)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert parent.returncode == 0, err
    assert "Traceback" not in err.decode(errors="replace")
    assert b"400 replications" in out

"""Run folders are complete or absent: atomic writes, no silent overwrite, clean failures."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from sim import api, results
from sim.results import OutputError, write_run_folder

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"


@pytest.fixture(scope="module")
def outcome() -> api.Outcome:
    return api.run(TOY)


def test_folder_appears_complete_with_no_staging_left(tmp_path, outcome):
    folder = api.save(outcome, out=tmp_path / "run", plot=False)
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "summary.json",
        "timeseries.csv",
        "timeseries.parquet",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_existing_folder_is_never_overwritten_without_force(tmp_path, outcome):
    target = tmp_path / "run"
    target.mkdir()
    (target / "precious.txt").write_text("keep me")
    with pytest.raises(OutputError, match="already exists"):
        api.save(outcome, out=target, plot=False)
    assert (target / "precious.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_force_replaces_the_folder_whole(tmp_path, outcome):
    target = tmp_path / "run"
    api.save(outcome, out=target, plot=False)  # a run folder (--force replaces nothing else)
    (target / "stale.txt").write_text("old")
    api.save(outcome, out=target, plot=False, force=True)
    assert not (target / "stale.txt").exists()
    assert (target / "summary.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_force_never_replaces_a_folder_that_is_not_a_run_folder(tmp_path, outcome):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    with pytest.raises(OutputError, match="not a routesim run folder"):
        api.save(outcome, out=target, plot=False, force=True)
    assert (target / "mine.txt").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["notes"]


def test_disk_full_leaves_nothing_behind(tmp_path):
    def fill_disk(path: Path) -> None:
        path.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="No space left on device"):
        write_run_folder(tmp_path / "run", {"a.json": "{}", "b.bin": fill_disk})
    assert list(tmp_path.iterdir()) == []


def test_output_under_a_file_is_a_clean_error(tmp_path, outcome):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError):
        api.save(outcome, out=blocker / "run", plot=False)
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(TOY), "--out", str(blocker / "run"), "--no-plot"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_unique_names_never_collide(tmp_path):
    first = write_run_folder(tmp_path / "run", {"x.txt": "1"}, unique=True)
    second = write_run_folder(tmp_path / "run", {"x.txt": "2"}, unique=True)
    assert first != second
    assert (first / "x.txt").read_text() == "1" and (second / "x.txt").read_text() == "2"


def test_two_runs_started_together_both_land_in_different_folders(tmp_path):
    command = [sys.executable, "-m", "sim", "run", str(TOY), "--results-root", str(tmp_path), "--no-plot"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    codes = [p.wait(timeout=600) for p in procs]
    assert codes == [0, 0, 0], [p.stderr.read() for p in procs]
    folders = sorted((tmp_path / "toy").iterdir())
    assert len(folders) == 3
    for folder in folders:
        assert (folder / "summary.json").exists()


def test_saved_run_reads_back_identically(tmp_path, outcome):
    folder = api.save(outcome, out=tmp_path / "run", plot=False)
    stored = api.read(folder)
    assert stored["summary"] == outcome.summary()
    for name, column in outcome.timeseries().items():
        if name == "date":
            assert stored["timeseries"][name] == column
        else:
            assert (stored["timeseries"][name] == column).all(), name


def test_manifest_is_enough_to_rerun(tmp_path, outcome):
    folder = api.save(outcome, out=tmp_path / "run", plot=False)
    report = api.rerun(folder / "manifest.json")
    assert report.identical is True
    assert report.differences == []
    assert report.version_changes == {}


def test_rerun_warns_when_versions_differ(tmp_path, outcome):
    import json

    folder = api.save(outcome, out=tmp_path / "run", plot=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["versions"]["numpy"] = "0.0.1"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = api.rerun(folder / "manifest.json")
    assert "numpy" in report.version_changes
    assert report.identical is True


def test_timeseries_csv_keeps_full_precision(outcome):
    columns = outcome.timeseries()
    lines = results.timeseries_csv(columns).splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["day", "date", "exports_t"]
    assert len(lines) == outcome.replication.scenario.days + 1
    storage = header.index("storage.field_t")
    parsed = [float(line.split(",")[storage]) for line in lines[1:]]
    assert parsed == list(columns["storage.field_t"])  # repr round-trips every float exactly

"""The routesim command, run as a user would, checking exit codes, output and files.

Most tests run the command in-process (``run_cli.routesim``); the smoke tests marked so run it as
a real ``python -m sim`` process.
"""

from __future__ import annotations

import json
from pathlib import Path

from run_cli import routesim, routesim_process

__all__ = ["routesim"]

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"
HEADLINE = ROOT / "scenarios" / "cpc_court_suspension_2022.yaml"


def test_run_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = routesim("run", str(TOY), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Lost export volume" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "disruption.png",
        "manifest.json",
        "summary.json",
        "timeseries.csv",
        "timeseries.parquet",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["lost_export_t"]["unit"] == "t"
    assert summary["metrics"]["lost_export_t"]["value"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1
    assert len(manifest["scenario_sha256"]) == 64
    assert manifest["command"][:2] == ["routesim", "run"]
    assert manifest["versions"]["simpy"]
    assert not list(tmp_path.glob(".*partial"))


def test_run_refuses_to_overwrite_an_existing_folder(tmp_path):
    out = tmp_path / "run"
    assert routesim("run", str(TOY), "--out", str(out), "--no-plot").returncode == 0
    before = (out / "summary.json").read_bytes()
    proc = routesim("run", str(TOY), "--out", str(out), "--seed", "5", "--no-plot")
    assert proc.returncode == 1
    assert "already exists" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "summary.json").read_bytes() == before
    forced = routesim("run", str(TOY), "--out", str(out), "--seed", "5", "--no-plot", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5


def test_default_folders_are_distinct_for_repeated_runs(tmp_path):
    for _ in range(2):
        assert routesim("run", str(TOY), "--results-root", str(tmp_path), "--no-plot").returncode == 0
    folders = list((tmp_path / "toy").iterdir())
    assert len(folders) == 2


def test_validate_accepts_good_and_rejects_bad_files_with_exit_2(tmp_path):
    good = routesim("validate", str(TOY))
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(TOY.read_text().replace("capacity: 120 kt/d", "capacty: 120 kt/d"))
    proc = routesim("validate", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}:13: network.legs.pipe.capacty: unknown key 'capacty'; did you mean 'capacity'?" in proc.stderr


def test_bad_file_on_run_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TOY.read_text().replace("horizon: 60 d", "horizon: 60 kt"))
    proc = routesim_process("run", str(bad), "--results-root", str(tmp_path / "results"))
    assert proc.returncode == 2
    assert "horizon" in proc.stderr and ":3:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


def test_set_overrides_any_key_and_refuses_unknown_ones(tmp_path):
    proc = routesim("run", str(TOY), "--no-save", "--json", "--set", "shocks.0.duration=0 d")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["metrics"]["lost_export_t"]["value"] == 0
    proc = routesim("run", str(TOY), "--no-save", "--set", "network.legs.pipe.capacityy=3")
    assert proc.returncode == 2
    assert "did you mean 'capacity'" in proc.stderr


def test_rerun_reproduces_a_run_bit_for_bit(tmp_path):
    out = tmp_path / "run"
    assert routesim("run", str(TOY), "--out", str(out), "--no-plot", "--seed", "3").returncode == 0
    proc = routesim("rerun", str(out / "manifest.json"))
    assert proc.returncode == 0, proc.stderr
    assert "identical" in proc.stdout


def test_rerun_reports_a_tampered_result(tmp_path):
    out = tmp_path / "run"
    assert routesim("run", str(TOY), "--out", str(out), "--no-plot").returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    summary["metrics"]["lost_export_t"]["value"] += 1
    (out / "summary.json").write_text(json.dumps(summary))
    proc = routesim("rerun", str(out / "manifest.json"))
    assert proc.returncode == 1
    assert "lost_export_t" in proc.stderr


def test_schema_command_matches_the_committed_schema():
    proc = routesim("schema")
    assert proc.returncode == 0
    committed = (ROOT / "sim" / "schema" / "scenario.schema.json").read_text()
    assert json.loads(proc.stdout) == json.loads(committed), "run `make schema` and commit the result"


def test_help_shows_examples_for_every_command():
    for command in ("run", "validate", "schema", "rerun", "compare", "backtest", "targets", "new"):
        proc = routesim(command, "--help")
        assert proc.returncode == 0
        assert "Example" in proc.stdout


def test_headline_scenario_runs_from_the_cli_as_a_process(tmp_path):
    assert HEADLINE.exists(), "the headline scenario (make run's) is missing or was renamed"
    proc = routesim_process("run", str(HEADLINE), "--out", str(tmp_path / "headline"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "headline" / "summary.json").read_text())
    assert summary["metrics"]["lost_export_t"]["value"] > 0
    assert (tmp_path / "headline" / "disruption.png").stat().st_size > 10_000


def test_same_seed_gives_identical_summary_files(tmp_path):
    for name in ("a", "b"):
        assert routesim("run", str(TOY), "--out", str(tmp_path / name), "--no-plot", "--seed", "11").returncode == 0
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()
    assert (tmp_path / "a" / "timeseries.csv").read_bytes() == (tmp_path / "b" / "timeseries.csv").read_bytes()

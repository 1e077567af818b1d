"""Ensembles at scale: executors give bit-identical rows, ensemble.parquet records drawn inputs,
statistics (P5/P95, exceedance, conditional, precision), interrupt/crash/resume, killed workers.

One 2-worker Dask LocalCluster serves the Dask tests of this module (small N throughout)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import routesim

from sim import api, results, store
from sim.batches import HOLD_ENV
from sim.engine.shocks import realize_shocks
from sim.ensemble import describe, exceedance, parse_threshold, run_ensemble, wilson_interval
from sim.executors import FAULT_ENV, input_names
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.units import Grade

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"
COIN = ("shocks.0.probability=0.5", "shocks.0.duration={dist: uniform, low: 4 d, high: 16 d}")
RECURRING = ROOT / "scenarios" / "novorossiysk_winter_storms_2025.yaml"
SET = [f"--set={s}" for s in COIN]


@pytest.fixture(scope="module")
def coin():
    return load_scenario(TOY, list(COIN))


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    ) as local:
        yield local


def _same_tables(a, b) -> None:
    assert list(a.table) == list(b.table)
    for key, column in a.table.items():
        np.testing.assert_array_equal(column, b.table[key], err_msg=key)
    np.testing.assert_array_equal(a.shortfall, b.shortfall)


# -- executors ---------------------------------------------------------------------------------------


def test_serial_processes_and_dask_give_identical_rows_for_any_workers_and_batch_size(coin, cluster):
    serial = run_ensemble(coin.scenario, 23, seed=4)
    processes = run_ensemble(coin.scenario, 23, seed=4, executor="processes", workers=2, batch=3)
    dask = run_ensemble(coin.scenario, 23, seed=4, executor="dask", scheduler=cluster.scheduler_address, batch=5)
    dask_one = run_ensemble(coin.scenario, 23, seed=4, executor="dask", scheduler=cluster.scheduler_address, batch=22)
    for other in (processes, dask, dask_one):
        _same_tables(serial, other)
        assert other.stats == serial.stats
    assert processes.executor == {"executor": "processes", "workers": 2}
    assert dask.executor["executor"] == "dask" and dask.executor["workers"] == 2


def test_parquet_bytes_depend_on_the_rows_only_not_on_batches_or_executor(coin, tmp_path):
    folders = []
    for batch, executor in ((3, "serial"), (11, "processes")):
        outcome = api.run(coin, seed=4, replications=17, executor=executor, workers=2, batch=batch)
        folders.append(api.save(outcome, out=tmp_path / f"b{batch}", plot=False))
    for name in ("ensemble.parquet", "ensemble.csv", "summary.json"):
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name


def test_the_package_imports_and_runs_serially_without_dask():
    code = (
        "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
        "import sim.cli, sim.api, sim.streaming, sim.executors\n"
        "from sim import api\n"
        f"o = api.run({str(TOY)!r}, replications=3)\n"
        "print(o.ensemble.n)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "3"


def test_the_dask_executor_without_dask_installed_is_one_line_and_exit_2(tmp_path):
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from sim.cli import main\n"
        f"sys.argv = ['routesim', 'run', {str(TOY)!r}, '-n', '4', '--executor', 'dask', '--out', {str(tmp_path / 'x')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert 'pip install "routesim[dask]"' in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


# -- ensemble.parquet: rows with their inputs ---------------------------------------------------------


def test_parquet_rows_hold_every_metric_and_each_shocks_drawn_inputs(coin, tmp_path):
    outcome = api.run(coin, seed=4, replications=12)
    folder = api.save(outcome, out=tmp_path / "run", plot=False)
    parquet = folder / "ensemble.parquet"
    meta = store.read_meta(parquet)
    assert meta["rows"] == 12 and meta["shock_names"] == ["weather novo"]
    assert meta["columns"] == ["replication", "seed", "shocks_happened", *outcome.ensemble.metrics, *input_names(1)]
    duration = store.read_column(parquet, "shocks.0.duration_d")
    happened = store.read_column(parquet, "shocks.0.happened")
    assert ((duration >= 4) & (duration <= 16)).all()
    assert happened.dtype == bool and 0 < happened.sum() < 12
    np.testing.assert_array_equal(happened.astype(int), store.read_column(parquet, "shocks_happened"))
    lost = store.read_column(parquet, "lost_export_t")
    assert (lost[~happened] == 0).all()
    for r in (0, 5):  # each row is what that replication drew
        [shock] = realize_shocks(coin.scenario, 4, r)
        assert duration[r] == shock.duration_d and happened[r] == shock.happened
        assert store.read_column(parquet, "shocks.0.start_d")[r] == shock.start_d
    # ensemble.csv stays exact: the same floats as the Parquet file
    csv = results.read_ensemble_csv(folder / "ensemble.csv")
    np.testing.assert_array_equal(csv["lost_export_t"], lost)


def test_a_recurring_shock_records_its_occurrences_and_total_duration():
    scenario = load_scenario(RECURRING).scenario
    ens = run_ensemble(scenario, 6)
    for i, shock in enumerate(scenario.shocks):
        if shock.recurring is None:
            continue
        for r in range(6):
            drawn = [s for s in realize_shocks(scenario, ens.seed, r) if s.index == i]
            assert ens.column(f"shocks.{i}.occurrences")[r] == len(drawn)
            assert ens.column(f"shocks.{i}.duration_d")[r] == pytest.approx(sum(s.duration_d for s in drawn))
            start = ens.column(f"shocks.{i}.start_d")[r]
            assert (math.isnan(start) and not drawn) or start == drawn[0].start_d


# -- statistics ---------------------------------------------------------------------------------------


def test_describe_adds_p5_p95_relative_half_width_and_the_n_for_a_target_precision():
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])
    stats = describe(values, precision=0.05)
    assert stats["p5"] == np.percentile(values, 5) and stats["p95"] == np.percentile(values, 95)
    half = 1.96 * np.std(values, ddof=1) / math.sqrt(10)
    assert stats["rel_half_width"] == pytest.approx(half / 3.9)
    # the half-width shrinks as 1/sqrt(N): N = 10 (rel / 0.05)^2 reaches ±5 %
    assert stats["n_for_precision"] == math.ceil(10 * (half / 3.9 / 0.05) ** 2)
    assert describe(np.full(4, 2.0), precision=0.01)["n_for_precision"] == 4  # no spread


def test_exceedance_has_a_wilson_interval():
    # Wilson 95 % for 0 of 10 is [0, 0.2775] and for 5 of 10 [0.2366, 0.7634] (textbook values)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx([0.2366, 0.7634], abs=1e-4)
    entry = exceedance(np.array([1.0, 2.0, 3.0, np.nan, 5.0]), 2.0)
    assert (entry["exceeding"], entry["defined"], entry["probability"]) == (2, 4, 0.5)
    assert entry["wilson95"] == wilson_interval(2, 4)


def test_thresholds_take_units_and_unknown_metrics_are_refused():
    metrics, units = ["lost_export_t", "time_to_survive_d"], {"lost_export_t": "t", "time_to_survive_d": "d"}
    assert parse_threshold("lost_export_t=1Mt", metrics, units, Grade()) == ("lost_export_t", 1e6)
    assert parse_threshold("time_to_survive_d=2 wk", metrics, units, Grade()) == ("time_to_survive_d", 14.0)
    with pytest.raises(ValueError, match="not a metric"):
        parse_threshold("lost_t=1Mt", metrics, units, Grade())
    with pytest.raises(ValueError, match="not a mass"):
        parse_threshold("lost_export_t=3 d", metrics, units, Grade())


def test_summary_holds_exceedance_and_statistics_conditional_on_each_shock(coin):
    ens = run_ensemble(coin.scenario, 16, seed=4, thresholds={"lost_export_t": 1e5})
    lost, happened = ens["lost_export_t"], ens.column("shocks.0.happened")
    [entry] = ens.exceedance().values()
    assert entry["exceeding"] == int((lost > 1e5).sum())
    [given] = ens.conditional()
    assert given["happened"] == int(happened.sum())
    assert given["metrics"]["lost_export_t"]["mean"] == pytest.approx(lost[happened].mean())
    assert given["metrics"]["lost_export_t"]["p95"] == np.percentile(lost[happened], 95)
    summary = results.ensemble_summary(ens)
    assert summary["exceedance"]["lost_export_t"]["threshold"] == 1e5
    assert summary["conditional"][0]["name"] == "weather novo"


def test_the_cli_threshold_option_reports_an_exceedance_probability(tmp_path):
    out = tmp_path / "run"
    proc = routesim(
        "run", str(TOY), "-n", "8", *SET, "--out", str(out), "--no-plot", "--threshold", "lost_export_t=0.1Mt"
    )
    assert proc.returncode == 0, proc.stderr
    assert "P(lost_export_t > 100.00 kt) = " in proc.stdout and "Wilson" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ensemble"]["exceedance"]["lost_export_t"]["threshold"] == 1e5
    bad = routesim("run", str(TOY), "-n", "8", "--out", str(tmp_path / "bad"), "--threshold", "nope=1")
    assert bad.returncode == 2 and "--threshold" in bad.stderr and not (tmp_path / "bad").exists()


# -- interrupt, crash, resume ------------------------------------------------------------------------

N = 240
RUN = ("run", str(TOY), "-n", str(N), "--seed", "4", "--batch-size", "10", "--no-plot", *SET)
SAME = ("ensemble.parquet", "ensemble.csv", "summary.json", "timeseries.csv")
VOLATILE = {"created_utc", "wall_time_s", "command", "executor", "jobs", "batch"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    proc = routesim(*RUN, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def _assert_same_run(folder: Path, reference: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in reference.iterdir())
    for name in SAME:
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    a, b = (json.loads((f / "manifest.json").read_text()) for f in (folder, reference))
    assert {k: v for k, v in a.items() if k not in VOLATILE} == {k: v for k, v in b.items() if k not in VOLATILE}


def _refused_as_unfinished(folder: Path) -> None:
    assert (folder / store.MARKER).exists() and not (folder / "manifest.json").exists()
    with pytest.raises(store.IncompleteRunError, match="--resume"):
        results.read_run(folder)
    with pytest.raises(ScenarioError, match="--resume"):
        api.rerun(folder / "manifest.json")
    proc = routesim("rerun", str(folder / "manifest.json"))
    assert proc.returncode == 2 and "routesim run --resume" in proc.stderr


def test_ctrl_c_keeps_finished_batches_and_resume_gives_the_uninterrupted_folder(tmp_path, uninterrupted):
    out = tmp_path / "run"
    holding = tmp_path / "holding"
    # the (serial) run holds at the batch of replication 125, so Ctrl-C surely finds it unfinished
    env = dict(os.environ, **{HOLD_ENV: f"125:{holding}"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *RUN, "--out", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600  # a guard against a hung test, not a speed check
    while time.monotonic() < deadline and proc.poll() is None and not holding.exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "--resume" in stderr and "Traceback" not in stderr
    kept = store.done_ranges(out)
    assert any(a > 0 for a, _ in kept) and sum(b - a for a, b in kept) < N
    _refused_as_unfinished(out)

    resumed = routesim("run", "--resume", str(out), "--executor", "processes", "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert not (out / store.MARKER).exists() and not (out / store.PARTS).exists()
    _assert_same_run(out, uninterrupted)
    again = routesim("run", "--resume", str(out))
    assert again.returncode == 2 and "already finished" in again.stderr


def test_a_crash_keeps_finished_batches_and_resume_gives_the_uninterrupted_folder(tmp_path, uninterrupted):
    out = tmp_path / "run"
    env = dict(os.environ, **{FAULT_ENV: f"125:{tmp_path / 'crashed'}"})  # serial: the run itself dies
    proc = subprocess.run(
        [sys.executable, "-m", "sim", *RUN, "--out", str(out)], cwd=ROOT, env=env, capture_output=True, timeout=300
    )
    assert proc.returncode == 70 and (tmp_path / "crashed").exists()
    kept = store.done_ranges(out)
    assert (120, 130) not in kept and (110, 120) in kept
    _refused_as_unfinished(out)
    resumed = routesim("run", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_run(out, uninterrupted)


# -- killed workers -----------------------------------------------------------------------------------


def test_a_killed_worker_process_is_retried_and_changes_nothing(coin, tmp_path, monkeypatch):
    reference = run_ensemble(coin.scenario, 30, seed=4)
    monkeypatch.setenv(FAULT_ENV, f"17:{tmp_path / 'killed'}")
    ens = run_ensemble(coin.scenario, 30, seed=4, executor="processes", workers=2, batch=4)
    assert (tmp_path / "killed").exists()  # a worker did die on the batch holding replication 17
    _same_tables(reference, ens)


def test_a_killed_dask_worker_is_retried_and_changes_nothing(coin, cluster, tmp_path, monkeypatch):
    reference = run_ensemble(coin.scenario, 30, seed=4)
    monkeypatch.setenv(FAULT_ENV, f"17:{tmp_path / 'killed'}")
    ens = run_ensemble(coin.scenario, 30, seed=4, executor="dask", scheduler=cluster.scheduler_address, batch=4)
    assert (tmp_path / "killed").exists()
    _same_tables(reference, ens)

"""Sweeps: grids of ensembles on common random numbers, their table, plot and run folder."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from run_cli import routesim
from study_cases import hand_loss_t, line_file

from sim import api
from sim.ensemble import run_ensemble
from sim.explore.figures import sweep_figure
from sim.explore.params import grid, parse_param
from sim.results import OutputError
from sim.scenario.errors import ScenarioError


def test_sweep_of_outage_length_reproduces_the_hand_computed_piecewise_linear_loss(tmp_path):
    table = api.sweep(line_file(tmp_path), ["shocks.0.duration=0d:60d:1d"], replications=1)
    durations = table["shocks.0.duration"].to_numpy()
    np.testing.assert_array_equal(durations, np.arange(61.0))
    expected = np.array([hand_loss_t(d) for d in durations])
    for stat in ("mean", "p10", "p50", "p90"):
        np.testing.assert_allclose(table[f"lost_export_t_{stat}"], expected, rtol=0, atol=1e-6, err_msg=stat)
    # The kinks where the formula says: storage full at 4 d, drain cut by the horizon at 42 d,
    # the cut reaching the horizon at 50 d (slopes 0, 80, 120, 0 kt per day of outage).
    slopes = np.diff(table["lost_export_t_p50"].to_numpy()) / 1e3
    np.testing.assert_allclose(slopes[:4], 0, atol=1e-9)
    np.testing.assert_allclose(slopes[4:42], 80, atol=1e-9)
    np.testing.assert_allclose(slopes[42:50], 120, atol=1e-9)
    np.testing.assert_allclose(slopes[50:], 0, atol=1e-9)


def test_every_point_uses_the_same_draws(tmp_path):
    # A random outage length and a parameter (the price) that cannot change the lost volume: on
    # common random numbers every point has the same lost volumes, replication by replication.
    path = line_file(tmp_path, duration={"dist": "uniform", "low": "5 d", "high": "40 d"})
    table = api.sweep(path, ["price=40 USD/bbl,80 USD/bbl,120 USD/bbl"], replications=5)
    assert table["lost_export_t_p50"].nunique() == 1 and table["lost_export_t_p10"].nunique() == 1
    assert table["lost_export_t_p10"].iloc[0] < table["lost_export_t_p90"].iloc[0]  # the draws do differ
    assert list(table["revenue_lost_usd_mean"]) == sorted(table["revenue_lost_usd_mean"])


def test_a_seed_fixes_the_table_and_jobs_do_not_change_it(tmp_path):
    path = line_file(tmp_path, duration={"dist": "uniform", "low": "5 d", "high": "40 d"})
    spec = ["network.sources.field.storage.capacity=100kt:300kt:200kt"]
    serial = api.sweep(path, spec, replications=4, seed=3)
    again = api.sweep(path, spec, replications=4, seed=3)
    other = api.sweep(path, spec, replications=4, seed=4)
    pd.testing.assert_frame_equal(serial, again, check_exact=True)
    assert not serial["lost_export_t_mean"].equals(other["lost_export_t_mean"])
    # Worker processes (one point only: each point starts its own pool today).
    parallel = api.sweep(path, ["network.sources.field.storage.capacity=300kt"], replications=4, seed=3, jobs=2)
    pd.testing.assert_frame_equal(serial.iloc[[1]].reset_index(drop=True), parallel, check_exact=True)


def test_param_specs_read_ranges_with_units_and_lists():
    days = parse_param("shocks.0.duration=10d:180d:10d")
    assert days.values[0] == 10 and days.values[-1] == 180 and len(days.values) == 18
    assert days.texts[:2] == ("10 d", "20 d") and days.unit == "d" and days.numeric
    fleet = parse_param("network.legs.aktau_baku.fleet=2,4,8")
    assert fleet.texts == ("2", "4", "8") and fleet.values == (2, 4, 8) and fleet.unit == ""
    rates = parse_param("network.legs.cpc_pipeline.capacity=40 Mt/yr, 50 Mt/yr")
    assert rates.values == (40, 50) and rates.unit == "Mt/yr"
    words = parse_param("shocks.0.kind=outage,closure")
    assert not words.numeric and words.texts == ("outage", "closure")
    unitless_step = parse_param("shocks.0.duration=0.5 wk:1.5wk:0.5")
    assert unitless_step.texts == ("0.5 wk", "1 wk", "1.5 wk")


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("shocks.0.duration=10d:5d:1d", "below start"),
        ("shocks.0.duration=10d:50d:0d", "step must be > 0"),
        ("shocks.0.duration=10d:50wk:1d", "mixes units"),
        ("shocks.0.duration=10d:50d", "start:stop:step"),
        ("shocks.0.duration=1d:1e9d:1d", "at most"),
        ("shocks.0.duration=10 parsecs:20 parsecs:1 parsecs", "unknown unit"),
        ("shocks.0.duration", "expected KEY.PATH=SPEC"),
        ("shocks.0.duration=1,,2", "empty value"),
    ],
)
def test_bad_param_specs_are_refused_naming_the_option_and_key(spec, says):
    with pytest.raises(ScenarioError) as info:
        parse_param(spec)
    assert says in str(info.value)
    assert str(info.value).startswith("<--param>")


def test_plots_draw_bands_for_one_parameter_and_a_heatmap_for_two(tmp_path):
    path = line_file(tmp_path)
    one = api.sweep(path, ["shocks.0.duration=0d:20d:10d"], metrics=["lost_export_t"])
    axis = sweep_figure(one).axes[0]
    assert axis.collections  # the percentile band
    two = api.sweep(path, ["shocks.0.duration=0d:20d:10d", "network.legs.alt.capacity=10 kt/d,20 kt/d"])
    figure = sweep_figure(two)
    assert figure.axes[0].images and len(figure.axes) == 2  # heatmap and its colour bar


def test_cli_sweep_writes_table_plot_and_manifest_and_never_overwrites(tmp_path):
    path = line_file(tmp_path)
    out = tmp_path / "sweep"
    args = ("sweep", str(path), "--param", "shocks.0.duration=0d:50d:25d", "-n", "2", "--seed", "5")
    proc = routesim(*args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} >= {"sweep.csv", "sweep.png", "manifest.json"}
    table = pd.read_csv(out / "sweep.csv")
    np.testing.assert_allclose(table["lost_export_t_p50"], [hand_loss_t(d) for d in (0, 25, 50)], atol=1e-6)
    if (out / "sweep.parquet").exists():
        pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), table, check_exact=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["routesim_study_manifest"] == 1 and manifest["kind"] == "sweep"
    assert manifest["seed"] == 5 and manifest["replications"] == 2
    assert manifest["command"][:2] == ["routesim", "sweep"] and manifest["versions"]["routesim"]
    assert manifest["params"][0]["spec"] == "0d:50d:25d" and manifest["resolved_scenario"]["name"] == "line"
    before = (out / "sweep.csv").read_bytes()
    again = routesim(*args, "--out", str(out))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert (out / "sweep.csv").read_bytes() == before
    nothing = tmp_path / "nothing"
    assert routesim(*args, "--no-save", "--results-root", str(nothing)).returncode == 0
    assert not nothing.exists()


def test_cli_sweep_refuses_bad_input_in_one_line_with_exit_2(tmp_path):
    path = line_file(tmp_path)
    for args, says in (
        (("--param", "shocks.0.duratio=1d:2d:1d"), "<--set>: shocks.0.duratio: unknown key 'duratio'"),
        (("--param", "shocks.0.duration=1d:2d:x"), "<--param>: shocks.0.duration: cannot read 'x'"),
        (("--param", "shocks.0.duration=1d,2d", "--metric", "lost_volume"), "unknown metric 'lost_volume'"),
        (("--param", "shocks.0.duration=1 d,-3 d"), "shocks.0.duration"),
    ):
        proc = routesim("sweep", str(path), *args, "--no-save")
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], proc.stderr


def test_study_folders_are_atomic_and_never_replaced_silently(tmp_path):
    table = api.sweep(line_file(tmp_path), ["shocks.0.duration=0d:10d:10d"])
    first = api.save_study(table, root=tmp_path / "r", plot=False)
    second = api.save_study(table, root=tmp_path / "r", plot=False)
    assert first != second and first.parent == second.parent
    assert first.name.startswith("sweep-")
    with pytest.raises(OutputError):
        api.save_study(table, out=first, plot=False)
    assert api.save_study(table, out=first, plot=False, force=True) == first
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_tied_keys_take_the_same_value_at_every_point():
    tied = parse_param("shocks.0.duration + shocks.1.duration=30d:60d:30d")
    assert tied.path == "shocks.0.duration+shocks.1.duration"
    points = grid([tied, parse_param("price=50,60")])
    assert points[0].overrides == ("shocks.0.duration=30 d", "shocks.1.duration=30 d", "price=50")
    assert len(points) == 4 and points[-1].values == (60, 60)
    with pytest.raises(ScenarioError, match="empty key"):
        parse_param("shocks.0.duration+=1d:2d:1d")


def test_help_of_the_study_commands_shows_examples():
    for command in ("sweep", "stress", "sensitivity", "discover"):
        proc = routesim(command, "--help")
        assert proc.returncode == 0 and "Example" in proc.stdout, command


def test_values_in_tonnes_stay_exact_in_the_table(tmp_path):
    # A bare number where a quantity is expected is refused (it would be read in canonical units
    # silently); written with its unit, the swept value is kept exactly.
    table = api.sweep(line_file(tmp_path), ["network.sources.field.storage.capacity=160000 t,320000 t"])
    column = table["network.sources.field.storage.capacity"]
    assert column.tolist() == [160_000, 320_000]
    assert table["lost_export_t_p50"].tolist() == [hand_loss_t(20) + 160e3, hand_loss_t(20)]


def test_a_stopped_sweep_resumes_from_its_journal_with_identical_rows(tmp_path, monkeypatch):
    from sim.explore import sweep as sweep_module

    path = line_file(tmp_path, duration={"dist": "uniform", "low": "5 d", "high": "40 d"})
    spec = ["network.sources.field.storage.capacity=100kt:500kt:100kt"]
    fresh = api.sweep(path, spec, replications=3)
    journal = tmp_path / "sweep.jsonl"

    class Stop(Exception):
        pass

    def stop_after_two(done, total):
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        api.sweep(path, spec, replications=3, journal=journal, progress=stop_after_two)
    calls = []
    real = sweep_module.evaluate
    monkeypatch.setattr(sweep_module, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = api.sweep(path, spec, replications=3, journal=journal)
    assert resumed.attrs["resumed"] == 2 and len(calls) == 3
    pd.testing.assert_frame_equal(resumed, fresh, check_exact=True)
    # Other settings do not reuse it.
    other = api.sweep(path, spec, replications=3, seed=99, journal=journal)
    assert other.attrs["resumed"] == 0


def test_cli_sweep_journal_is_removed_once_the_folder_is_written(tmp_path):
    root = tmp_path / "results"
    proc = routesim(
        "sweep", str(line_file(tmp_path)), "--param", "shocks.0.duration=0d:10d:10d", "--results-root", str(root)
    )
    assert proc.returncode == 0, proc.stderr
    assert not list((root / ".journal").glob("*.jsonl"))
    assert len(list((root / "line").glob("sweep-*"))) == 1


def test_every_study_hands_jobs_and_executor_options_to_run_ensemble(tmp_path, monkeypatch):
    # The executor is run_ensemble's business: each study passes jobs and any executor option through.
    from sim.explore import sensitivity, stress, sweep

    seen = []

    def recording(scenario, n, seed=None, jobs=1, **options):
        seen.append((jobs, options))
        return run_ensemble(scenario, n, seed=seed)

    for module in (sweep, stress, sensitivity):
        monkeypatch.setattr(module, "run_ensemble", recording)
    path = line_file(tmp_path, duration={"dist": "uniform", "low": "5 d", "high": "40 d"})
    options = {"jobs": 2, "executor": "dask", "batch": 7}
    api.sweep(path, ["shocks.0.duration=5d:10d:5d"], **options)
    api.stress(path, "shocks.0.duration", "1Mt", tol="5d", **options)
    api.survival(path, **options)
    pytest.importorskip("SALib")
    api.sensitivity(path, "morris", 2, **options)
    assert len(seen) > 10
    assert all(entry == (2, {"executor": "dask", "batch": 7}) for entry in seen)


STUDIES = {
    "sweep": ("--param", "network.sources.field.storage.capacity=100kt:300kt:100kt", "-n", "3"),
    "stress": ("--param", "shocks.0.duration", "--threshold", "2Mt", "--tol", "1d", "-n", "2"),
    "sensitivity": ("-N", "4", "--bound", "price=40 USD/bbl:120 USD/bbl"),
}
"""One of each kind of study, small (the sensitivity study needs SALib)."""


@pytest.mark.parametrize("study", list(STUDIES))
@pytest.mark.parametrize(
    "where",
    [("--executor", "processes", "--workers", "2"), ("--executor", "dask", "--workers", "2")],
    ids=["processes", "dask"],
)
def test_cli_studies_give_the_same_table_on_every_executor(tmp_path, study, where):
    """One evaluator serves every point of a study; its table does not depend on where the points ran."""
    if "dask" in where:
        pytest.importorskip("distributed")
    if study == "sensitivity":
        pytest.importorskip("SALib")
    path = line_file(tmp_path, duration={"dist": "uniform", "low": "5 d", "high": "40 d"})
    args = (study, str(path), *STUDIES[study], "--no-save")
    serial, elsewhere = routesim(*args), routesim(*args, *where)
    assert serial.returncode == elsewhere.returncode == 0, elsewhere.stderr
    untimed = [re.sub(r" in [\d.,]+ (ms|s)$", "", line) for line in serial.stdout.splitlines()]
    assert untimed == [re.sub(r" in [\d.,]+ (ms|s)$", "", line) for line in elsewhere.stdout.splitlines()]


def test_a_study_of_a_scenario_named_dot_dot_stays_under_the_results_root(tmp_path):
    """Study folders are named as run folders are: never '.', '..' or hidden (hostile input)."""
    path = line_file(tmp_path, name="..")
    table = api.sweep(path, ["shocks.0.duration=10d,20d"])
    root = tmp_path / "results"
    folder = api.save_study(table, root=root, plot=False)
    assert root.resolve() in folder.resolve().parents
    assert folder.parent.name == "__"

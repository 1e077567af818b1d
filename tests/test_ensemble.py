"""Ensembles: aggregation against numpy, determinism (same seed, any number of jobs), stochastic
shocks across replications, the replication-count limit, files written and rerun."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import routesim

from sim import api, results
from sim.engine.runner import run_replication
from sim.ensemble import ENSEMBLE_SCALARS, describe, fan_percentiles, run_ensemble
from sim.plots import rolling_mean
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import MAX_REPLICATIONS, ensemble_estimate, max_replications, replications_problem

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"

COIN = ("shocks.0.probability=0.5", "shocks.0.duration={dist: uniform, low: 4 d, high: 16 d}")
"""The toy's weather shock made stochastic: happens with probability 0.5, for a drawn length."""


@pytest.fixture(scope="module")
def coin():
    return load_scenario(TOY, list(COIN))


# -- aggregation -----------------------------------------------------------------------------------


def test_describe_matches_numpy_on_known_numbers():
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])
    stats = describe(values)
    assert stats["n"] == stats["defined"] == 10
    assert stats["mean"] == 3.9
    assert stats["min"] == 1.0 and stats["max"] == 9.0
    assert stats["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-15)
    # numpy "linear" (type 7) by hand on the sorted values 1 1 2 3 3 4 5 5 6 9: position (n-1)p from 0,
    # P10 at 0.9 (between 1 and 1), P50 at 4.5 (between 3 and 4), P90 at 8.1 (6 + 0.1 x (9 - 6)).
    assert stats["p10"] == pytest.approx(1.0)
    assert stats["p50"] == pytest.approx(3.5)
    assert stats["p90"] == pytest.approx(6.3)
    half = 1.96 * np.std(values, ddof=1) / np.sqrt(10)
    assert stats["mean_ci95"] == pytest.approx([3.9 - half, 3.9 + half])


def test_describe_leaves_out_undefined_values():
    stats = describe(np.array([np.nan, 2.0, np.nan, 4.0]))
    assert (stats["n"], stats["defined"], stats["mean"], stats["p50"]) == (4, 2, 3.0, 3.0)
    one = describe(np.array([7.0, np.nan]))
    assert one["mean"] == one["p10"] == one["p90"] == 7.0 and one["std"] is None and one["mean_ci95"] is None
    none = describe(np.array([np.nan, np.nan]))
    assert none["defined"] == 0 and none["mean"] is None and none["p50"] is None


def test_fan_matches_a_direct_computation():
    rng = np.random.default_rng(5)
    shortfall = rng.normal(50_000, 20_000, size=(37, 150))
    fan = fan_percentiles(shortfall, window=7, block=16)  # several blocks, windows across block edges
    rolled = np.array([rolling_mean(row, 7) for row in shortfall])
    np.testing.assert_allclose(fan["mean"], rolled.mean(axis=0), rtol=1e-9)
    for q in (10, 50, 90):
        np.testing.assert_allclose(fan[f"p{q}"], np.percentile(rolled, q, axis=0), rtol=1e-9)


def test_ensemble_stats_and_table_agree_with_numpy(coin):
    ens = run_ensemble(coin.scenario, 12)
    lost = ens.table["lost_export_t"]
    assert lost.shape == (12,)
    stats = ens.stats["lost_export_t"]
    assert stats["unit"] == "t"
    assert stats["mean"] == pytest.approx(lost.mean(), rel=1e-12)
    for q in (10, 50, 90):
        assert stats[f"p{q}"] == np.percentile(lost, q)
    assert list(ens.table["replication"]) == list(range(12))
    assert set(ens.table["seed"]) == {1}


def test_what_an_ensemble_keeps_fits_the_estimate(coin):
    ens = run_ensemble(coin.scenario, 5)
    assert len(ens.metrics) + 1 <= ENSEMBLE_SCALARS
    kept = ens.values.nbytes + ens.shortfall.nbytes + ens.happened.nbytes
    assert kept <= ensemble_estimate(5, coin.scenario.horizon).memory_bytes


# -- determinism and stochastic shocks -------------------------------------------------------------


def test_a_probability_half_shock_happens_in_some_replications_only(coin):
    ens = run_ensemble(coin.scenario, 16)
    happened = ens.table["shocks_happened"]
    assert 0 < happened.sum() < 16
    lost = ens.table["lost_export_t"]
    assert (lost[happened == 0] == 0).all()
    assert lost[happened == 1].max() > 0  # a short closure may cost nothing: tanks absorb it
    assert ens.shock_shares()[0]["happened"] == happened.sum()
    # Replications where it did not happen define no time to survive.
    assert ens.stats["time_to_survive_d"]["defined"] <= happened.sum()


def test_same_seed_same_ensemble_and_jobs_do_not_matter(coin, tmp_path):
    serial = api.run(coin, replications=6, jobs=1)
    again = api.run(coin, replications=6, jobs=1)
    parallel = api.run(coin, replications=6, jobs=2)
    for other in (again, parallel):
        for key, column in serial.ensemble.table.items():
            np.testing.assert_array_equal(column, other.ensemble.table[key], err_msg=key)
        np.testing.assert_array_equal(serial.ensemble.shortfall, other.ensemble.shortfall)
    folders = [api.save(o, out=tmp_path / name, plot=False) for name, o in (("a", serial), ("b", parallel))]
    for name in ("ensemble.csv", "summary.json", "timeseries.csv"):
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    other_seed = api.run(coin, seed=2, replications=6)
    assert not np.array_equal(serial.ensemble["lost_export_t"], other_seed.ensemble["lost_export_t"])


def test_replication_zero_is_the_single_run(coin):
    single = api.run(coin)
    ens = api.run(coin, replications=3)
    assert single.ensemble is None and single.stats is None
    assert ens.replication.replication == 0
    assert dict(ens.impact) == dict(single.impact)
    assert ens.ensemble["lost_export_t"][0] == single.impact["lost_export_t"]
    # Replication r of the ensemble is api.run(..., replication=r).
    third = api.run(coin, replication=2)
    assert ens.ensemble["lost_export_t"][2] == third.impact["lost_export_t"]


# -- the limit -------------------------------------------------------------------------------------


def test_limit_message_and_bounds():
    assert replications_problem(1, 60.0) is None
    assert replications_problem(MAX_REPLICATIONS, 60.0) is None
    assert "cannot run" in replications_problem(0, 60.0)
    message = replications_problem(MAX_REPLICATIONS + 1, 60.0)
    assert "1,000,001 replications of 60 d" in message and "MiB in memory" in message and " h on one core" in message
    # kept in memory: the metrics and drawn inputs (2 x ENSEMBLE_SCALARS floats each) and a bounded fan
    assert ensemble_estimate(10**6, 3650.0).memory_bytes < 600 * 2**20
    limit = max_replications(3650.0)
    assert replications_problem(limit, 3650.0) is None
    assert f"expected at most {limit:,}" in replications_problem(limit + 1, 3650.0)


def test_api_refuses_before_running(coin, monkeypatch):
    def never(*_args, **_kwargs):
        raise AssertionError("a replication ran before the count was checked")

    monkeypatch.setattr("sim.engine.runner.run_replication", never)
    monkeypatch.setattr("sim.ensemble.run_replication", never)
    monkeypatch.setattr("sim.api.runs.run_replication", never)
    with pytest.raises(ScenarioError) as info:
        api.run(coin, replications=10**9)
    [problem] = info.value.problems
    assert problem.file == "replications" and "1,000,000,000 replications" in problem.message
    with pytest.raises(ScenarioError, match="not a number of processes"):
        api.run(coin, replications=2, jobs=0)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-n", "5000000"), "-n/--replications: 5,000,000 replications of 60 d would keep about"),
        (("--replications", "0"), "-n/--replications: 0 replications cannot run"),
        (("-n", "-3"), "-n/--replications: -3 replications cannot run"),
        (("-n", "4", "--jobs", "0"), "-j/--jobs: 0 is not a number of processes"),
    ],
)
def test_cli_refuses_a_bad_count_up_front(tmp_path, args, expected):
    out = tmp_path / "run"
    proc = routesim("run", str(TOY), *args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert proc.stdout == ""
    assert not out.exists() and not list(tmp_path.iterdir())


def test_file_key_runs_an_ensemble_and_n_overrides_it(tmp_path):
    path = tmp_path / "coin.yaml"
    path.write_text(
        TOY.read_text()
        .replace("seed: 1", "seed: 1\nreplications: 3")
        .replace("duration: 10 d}", "duration: 10 d, probability: 0.5}")
    )
    proc = routesim("run", str(path), "--out", str(tmp_path / "three"), "--no-plot", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)  # stdout is JSON only: no progress bar or estimate there
    assert summary["ensemble"]["n"] == 3
    assert json.loads((tmp_path / "three" / "manifest.json").read_text())["replications"] == 3
    single = routesim("run", str(path), "-n", "1", "--out", str(tmp_path / "one"), "--no-plot")
    assert single.returncode == 0, single.stderr
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [
        "manifest.json",
        "summary.json",
        "timeseries.csv",
        "timeseries.parquet",
    ]
    assert "replications" not in json.loads((tmp_path / "one" / "manifest.json").read_text())


# -- files and rerun -------------------------------------------------------------------------------


def test_ensemble_run_folder_and_rerun(tmp_path):
    out = tmp_path / "ens"
    proc = routesim("run", str(TOY), "-n", "5", "--seed", "4", "--out", str(out), *[f"--set={s}" for s in COIN])
    assert proc.returncode == 0, proc.stderr
    assert "P50" in proc.stdout and "P90" in proc.stdout and "happened in" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "disruption.png",
        "ensemble.csv",
        "ensemble.parquet",
        "ensemble.png",
        "manifest.json",
        "summary.json",
        "timeseries.csv",
        "timeseries.parquet",
    ]
    assert (out / "ensemble.png").stat().st_size > 10_000
    run = results.read_run(out)
    table = run["ensemble"]
    assert list(table["replication"]) == [0, 1, 2, 3, 4] and set(table["seed"]) == {4}
    section = run["summary"]["ensemble"]
    assert section["n"] == 5
    lost = section["metrics"]["lost_export_t"]
    assert lost["unit"] == "t" and lost["p50"] == np.percentile(table["lost_export_t"], 50)
    assert run["manifest"]["replications"] == 5
    assert run["summary"]["metrics"]["lost_export_t"]["value"] == table["lost_export_t"][0]

    rerun = routesim("rerun", str(out / "manifest.json"), "--jobs", "2")
    assert rerun.returncode == 0, rerun.stderr
    assert "identical" in rerun.stdout and "ensemble.csv" in rerun.stdout

    text = (out / "ensemble.csv").read_text().splitlines()
    cells = text[3].split(",")
    cells[7] = repr(float(cells[7]) + 1.0)  # lost_export_t of replication 2
    (out / "ensemble.csv").write_text("\n".join([*text[:3], ",".join(cells), *text[4:]]) + "\n")
    tampered = routesim("rerun", str(out / "manifest.json"))
    assert tampered.returncode == 1
    assert "ensemble column lost_export_t differs (first at replication 2)" in tampered.stderr


def test_a_reused_baseline_is_the_run_the_replication_would_make():
    # No background shocks: the baseline is the same run in every replication, so ensembles make it once.
    from helpers import make_scenario, outage

    from sim.engine.runner import fixed_baseline, run_replication

    scenario = make_scenario([outage("pipe", "5 d", {"dist": "uniform", "low": "5 d", "high": "20 d"})])
    assert fixed_baseline(scenario)
    first = run_replication(scenario, 3, 0)
    for r in (1, 2):
        fresh = run_replication(scenario, 3, r)
        reused = run_replication(scenario, 3, r, first.baseline)
        assert fresh.impact.values == reused.impact.values
        np.testing.assert_array_equal(fresh.baseline.exports, reused.baseline.exports)
    background = make_scenario(
        [{"kind": "weather", "target": "novo", "start": "5 d", "duration": "2 d", "background": True}]
    )
    assert not fixed_baseline(background)
    with pytest.raises(ValueError, match="background"):
        run_replication(background, 3, 1, first.baseline)


# -- recurring shocks -------------------------------------------------------------------------------

RECURRING = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml") if "recurring:" in p.read_text())


def test_there_is_a_scenario_with_a_recurring_shock():
    assert RECURRING, "the ensemble tests below need at least one scenario with a recurring shock"


@pytest.mark.parametrize("path", RECURRING, ids=lambda p: p.name)
def test_ensemble_of_a_recurring_shock_counts_declared_shocks(path):
    scenario = load_scenario(path).scenario
    ens = run_ensemble(scenario, 8)
    declared = len(scenario.shocks)
    assert len(ens.shock_names) == declared and ens.happened_by_shock.shape == (declared,)
    assert ens.happened.max() <= declared
    # per replication, a declared shock "happened" when at least one of its occurrences did
    for r in range(ens.n):
        rep = run_replication(scenario, ens.seed, r)
        indices = {s.index for s in rep.shocks if s.happened}
        assert ens.happened[r] == len(indices)
    assert all(0 <= s["happened"] <= ens.n for s in ens.shock_shares())


def test_occurrence_counts_vary_between_replications_without_breaking_the_ensemble():
    """Draws of 0, 1 and several occurrences in one ensemble: once broadcast silently or a ValueError."""
    scenario = load_scenario(RECURRING[0]).scenario
    counts = {len(run_replication(scenario, scenario.seed, r).shocks) for r in range(8)}
    assert len(counts) > 1
    ens = run_ensemble(scenario, 8)
    assert ens.n == 8

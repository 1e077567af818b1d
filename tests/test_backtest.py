"""Backtests against reported CPC disruptions: the files, the comparison, the command."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import TOY, make_scenario, run
from run_cli import routesim

from sim import backtest, plots
from sim.engine.runner import run_replication
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import IMPACT_METRICS, ObservedFigure

ROOT = Path(__file__).resolve().parents[1]
HISTORY = sorted((ROOT / "scenarios" / "history").glob("*.yaml"))
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
STOCHASTIC = ROOT / "scenarios" / "history" / "e04_court_suspension_stochastic_2022.yaml"

AGREE = {
    ("e02_storm_spm_damage_2022", "tanks_full_after_stop"),
    ("e02_storm_spm_damage_2022", "march_output_loss_all"),
    ("e02_storm_spm_damage_2022", "march_output_loss_tengiz"),
    ("e02_storm_spm_damage_2022", "export_loss_upper_bound"),
    ("e02_storm_spm_damage_2022", "march_output_change_tengiz"),
    ("e02_storm_spm_damage_2022", "cpc_intake_stopped"),
    ("e03_ordnance_search_2022", "requests_met_no_cut"),
    ("e03_ordnance_search_2022", "loadings_continued"),
    ("e04_court_suspension_as_happened_2022", "no_export_lost"),
    ("e04_court_suspension_as_happened_2022", "loadings_never_stopped"),
    ("e04_court_suspension_as_happened_2022", "loading_as_normal"),
    ("e04_court_suspension_as_ordered_2022", "monthly_loadings_at_stake"),
    ("e04_court_suspension_stochastic_2022", "no_export_lost"),
    ("e04_court_suspension_stochastic_2022", "loadings_never_stopped"),
    ("e06_e07_spm_repairs_kashagan_leak_2022", "september_loadings"),
    ("e06_e07_spm_repairs_kashagan_leak_2022", "kashagan_full_by_6_november"),
    ("e06_e07_spm_repairs_kashagan_leak_2022", "no_production_impact_after_spm1"),
    ("e08_black_sea_storms_2023", "first_stop_days"),
    ("e08_black_sea_storms_2023", "tanks_full_in_first_storm"),
    ("e08_black_sea_storms_2023", "tengiz_intake_stopped"),
    ("e11_november_storm_2023", "stop_days"),
    ("e11_november_storm_2023", "tanks_virtually_full"),
    ("e11_november_storm_2023", "tengiz_cut"),
    ("e11_november_storm_2023", "kashagan_cut"),
    ("e11_november_storm_2023", "big_three_cut"),
    ("e11_november_storm_2023", "national_output_drop_26_november"),
}
"""(episode, figure) pairs inside their tolerance today: each must stay inside (README lists the rest)."""


@pytest.fixture(scope="module")
def result() -> backtest.Backtest:
    return backtest.run_backtest(HISTORY)


@pytest.mark.parametrize("path", SCENARIOS + HISTORY, ids=lambda p: p.name)
def test_every_scenario_file_validates(path):
    loaded = load_scenario(path)
    assert loaded.scenario.description.strip(), "each file states the question it answers"


def test_history_files_cover_the_episodes_and_each_has_observed_figures():
    names = {p.name.split("_")[0] for p in HISTORY}
    assert {"e02", "e03", "e04", "e06", "e08", "e11"} <= names
    for path in HISTORY:
        scenario = load_scenario(path).scenario
        assert scenario.observed, f"{path.name} has no observed figures"
        for figure in scenario.observed.values():
            assert figure.why and figure.source


def test_backtest_runs_every_history_file(result):
    assert [e.loaded.path for e in result.episodes] == HISTORY
    rows = result.rows
    assert len(rows) == sum(len(load_scenario(p).scenario.observed) for p in HISTORY)
    for row in rows:
        assert row.unit in ("t", "t/d", "d", "1")
        assert row.inside == _inside_by_hand(row), row


def _inside_by_hand(row) -> bool:
    """Agreement recomputed from the row's own figures (not through ``judge``)."""
    if row.ensemble:
        return row.share_agreeing >= 0.10
    if row.model is None:
        return False
    slack = 1e-6 * max(1.0, abs(row.reported if row.reported is not None else row.low or row.high or 0.0))
    if row.reported is not None:
        if row.reported == 0:
            return row.inside  # judged against a unit's zero allowance, checked in the judge tests
        return abs(row.model - row.reported) <= row.tolerance * abs(row.reported) + slack
    low = -math.inf if row.low is None else row.low * (1 - row.tolerance) - slack
    high = math.inf if row.high is None else row.high * (1 + row.tolerance) + slack
    return low <= row.model <= high


def test_pinned_figures_stay_inside_tolerance(result):
    inside = {(r.episode, r.figure) for r in result.rows if r.inside}
    known = {(r.episode, r.figure) for r in result.rows}
    assert known >= AGREE, f"pinned figures no longer exist: {sorted(AGREE - known)}"
    lost = sorted(AGREE - inside)
    assert not lost, f"figures that agreed with history no longer do: {lost}"


def test_the_three_readings_of_the_court_order(result):
    by_name = {e.loaded.scenario.name: e for e in result.episodes}
    happened = by_name["e04_court_suspension_as_happened_2022"].replication
    ordered = by_name["e04_court_suspension_as_ordered_2022"].replication
    assert happened.impact["lost_export_t"] == 0
    assert ordered.impact["lost_export_t"] > 3e6
    stochastic = load_scenario(ROOT / "scenarios/history/e04_court_suspension_stochastic_2022.yaml").scenario
    assert 0 < stochastic.shocks[0].probability < 1


def test_impact_metrics_named_in_the_schema_exist():
    values = run(make_scenario()).impact.values
    assert set(IMPACT_METRICS) <= set(values)


def _figure(**fields) -> ObservedFigure:
    base = {"tolerance": 0.5, "why": "w", "source": "s", "confidence": "H"}
    return ObservedFigure.model_validate(base | fields)


def test_judge_values_ranges_bounds_and_zero():
    assert backtest.judge(3.0, _figure(metric="lost_export_t", value="2 t")) == (1.5, True)
    assert backtest.judge(3.1, _figure(metric="lost_export_t", value="2 t"))[1] is False
    ratio, inside = backtest.judge(3.0, _figure(metric="time_to_survive_d", low="3 d", high="4 d", tolerance=0))
    assert inside and ratio == pytest.approx(3 / 3.5)
    assert backtest.judge(5.0, _figure(metric="time_to_survive_d", low="2 d"))[1] is True
    assert backtest.judge(0.9, _figure(metric="time_to_survive_d", low="2 d"))[1] is False
    assert backtest.judge(0.5, _figure(metric="lost_export_t", value=0, tolerance=0)) == (None, True)
    assert backtest.judge(2.0, _figure(metric="lost_export_t", value=0, tolerance=0)) == (None, False)
    assert backtest.judge(None, _figure(metric="time_to_survive_d", high="4 d")) == (None, False)


def test_observed_figures_read_units_with_the_metrics_dimension():
    figure = _figure(metric="lost_export_t", value="30 Mbbl")
    assert figure.value == pytest.approx(30e6 / 7.5)  # default grade without a network
    with pytest.raises(ValueError, match="is a rate"):
        _figure(
            metric="loading_rate",
            target="cpc_loading",
            window={"start": "2022-01-01", "end": "2022-01-02"},
            value="3 d",
        )
    with pytest.raises(ValueError, match="did you mean 'lost_export_t'"):
        _figure(metric="lost_exprt_t", value=1)
    with pytest.raises(ValueError, match="measured over a window"):
        _figure(metric="loading_rate", target="cpc_loading", value="1 kt/d")


def test_bad_observed_figures_are_reported_with_file_and_line(tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    data = copy.deepcopy(TOY)
    data["observed"] = {
        "x": {
            "metric": "loading_rate",
            "target": "pipe",
            "window": {"start": "2021-01-01", "end": "2022-07-05"},
            "value": "100 kt/d",
            "tolerance": 0.2,
            "why": "w",
            "source": "s",
            "confidence": "H",
        }
    }
    path = scenarios / "bad.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "observed.x.window.start" in text and "outside the run" in text
    assert "observed.x.target" in text and "not a sea leg" in text
    assert "bad.yaml:1:" in text


def test_loadings_add_up_to_what_tankers_carried(result):
    episode = result.episodes[0]
    rep, scenario = episode.replication, episode.loaded.scenario
    loaded = backtest.loadings(rep.baseline, scenario, "cpc_loading")
    # Baseline: loadings over the run equal the CPC flow, to within a cargo or two in the tanks and at sea.
    flow = sum(scenario.network.routes[r].normal for r in ("tengiz_cpc", "kashagan_cpc", "karachaganak_cpc"))
    assert loaded[:-1].sum() == pytest.approx(flow * (rep.baseline.days - 1), abs=3 * 108e3)


def test_csv_and_figure(result):
    text = backtest.backtest_csv(result.rows)
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == len(result.rows)
    assert set(rows[0]) >= {
        "episode",
        "figure",
        "model",
        "reported",
        "low",
        "high",
        "ratio",
        "tolerance",
        "inside",
        "why",
    }
    fig = plots.backtest_figure(result.rows)
    assert len(fig.axes) == 1


# -- ensembles (files with replications > 1) ----------------------------------------------


def test_the_stochastic_file_is_backtested_as_an_ensemble(result):
    (episode,) = [e for e in result.episodes if e.loaded.path == STOCHASTIC]
    n = episode.loaded.scenario.replications
    assert n > 1 and episode.replications == n
    assert episode.values is not None and episode.values.shape == (n, len(episode.rows))
    for j, row in enumerate(episode.rows):
        assert row.ensemble and row.replications == n
        assert row.model_p10 is not None and row.model is not None and row.model_p90 is not None
        assert row.model_p10 <= row.model <= row.model_p90
        assert row.share_agreeing is not None and 0 <= row.share_agreeing <= 1
        assert row.inside == (row.share_agreeing >= backtest.ENSEMBLE_AGREEMENT)
        column = episode.values[:, j]
        assert row.model == pytest.approx(np.percentile(column, 50))
        figure = episode.loaded.scenario.observed[row.figure]
        assert row.share_agreeing == sum(backtest.judge(float(v), figure)[1] for v in column) / n
    # The shock is enforced in some replications and not in others: the band spans both outcomes.
    lost = next(r for r in episode.rows if r.figure == "no_export_lost")
    assert lost.model_p10 == 0 and lost.model_p90 > 1e6
    assert 0.5 < lost.share_agreeing < 0.9  # about 1 - probability 0.3
    # Replication 0 is kept whole (for the manifest) and is the first row of the values.
    assert episode.replication.replication == 0
    assert np.array_equal(episode.values[0], backtest.figure_values(episode.loaded.scenario, episode.replication))


def test_deterministic_files_keep_single_run_rows(result):
    singles = [e for e in result.episodes if e.loaded.scenario.replications == 1]
    assert len(singles) == len(result.episodes) - 1
    for episode in singles:
        scenario = episode.loaded.scenario
        assert episode.values is None and episode.replications == 1
        rep = run_replication(scenario)
        for row, (name, figure) in zip(episode.rows, scenario.observed.items(), strict=True):
            assert not row.ensemble
            assert (row.replications, row.model_p10, row.model_p90, row.share_agreeing) == (None, None, None, None)
            model = backtest.measure(figure, rep, scenario)
            assert (row.figure, row.model) == (name, model)
            assert (row.ratio, row.inside) == backtest.judge(model, figure)
    rows = list(csv.DictReader(backtest.backtest_csv(result.rows).splitlines()))
    for row in rows:
        ensemble = row["episode"] == "e04_court_suspension_stochastic_2022"
        fields = [row[c] for c in ("replications", "model_p10", "model_p90", "share_agreeing")]
        assert all(fields) if ensemble else not any(fields)
    manifest = backtest.backtest_manifest(result)
    assert [e.get("replications") for e in manifest["episodes"]] == [
        e.replications if e.values is not None else None for e in result.episodes
    ]


def test_ensemble_backtest_is_deterministic_and_depends_on_seed_and_replication_only(result):
    small = [load_scenario(STOCHASTIC, overrides=["replications=20"])]
    first, second = backtest.run_backtest(small), backtest.run_backtest(small)
    assert first.rows == second.rows
    assert np.array_equal(first.episodes[0].values, second.episodes[0].values)
    (full,) = [e for e in result.episodes if e.loaded.path == STOCHASTIC]
    assert np.array_equal(first.episodes[0].values, full.values[:20])  # replication r is the same in any N
    other = backtest.run_backtest([load_scenario(STOCHASTIC, overrides=["replications=20", "seed=1"])])
    assert not np.array_equal(other.episodes[0].values, first.episodes[0].values)


def test_ensemble_rows_percentiles_share_and_threshold():
    loaded = load_scenario(STOCHASTIC, overrides=["replications=10"])
    figures = list(loaded.scenario.observed)  # no_export_lost (0 t, ±1 t), loadings_never_stopped (0 d)
    values = np.array([[0.0, 0.0]] + [[5e6, np.nan]] * 9)  # 1 of 10 agree; NaN = no value
    lost, stop = backtest.ensemble_rows(loaded, values)
    assert [lost.figure, stop.figure] == figures
    assert (lost.replications, lost.share_agreeing, lost.inside) == (10, 0.1, True)  # the threshold is inclusive
    assert lost.model_p10 == pytest.approx(np.percentile(values[:, 0], 10)) and lost.model == 5e6
    assert lost.ratio is None  # a reported zero has no ratio
    assert stop.model == stop.model_p10 == stop.model_p90 == 0.0  # over the one defined value
    assert (stop.share_agreeing, stop.inside) == (0.1, True)
    values[0, 0] = 2.0  # outside the 1 t allowance: none agree
    values[0, 1] = np.nan  # no replication has a value
    lost, stop = backtest.ensemble_rows(loaded, values)
    assert (lost.share_agreeing, lost.inside) == (0.0, False)
    assert (stop.model, stop.model_p10, stop.model_p90, stop.share_agreeing, stop.inside) == (
        None,
        None,
        None,
        0.0,
        False,
    )
    assert backtest.ensemble_text(stop) == "none – none · 10 · 0%"
    with pytest.raises(ValueError, match="at least one"):
        backtest.ensemble_values(loaded.scenario, 0)


def test_ensemble_rows_in_the_csv_table_and_figure(result):
    rows = [r for r in result.rows if r.ensemble]
    assert rows
    text = backtest.backtest_csv(rows)
    (parsed, *_) = list(csv.DictReader(text.splitlines()))
    assert int(parsed["replications"]) == rows[0].replications
    assert float(parsed["model_p90"]) == rows[0].model_p90
    assert float(parsed["share_agreeing"]) == rows[0].share_agreeing
    assert backtest.ensemble_text(rows[0]).endswith(f" · {rows[0].replications} · {rows[0].share_agreeing:.0%}")
    assert backtest.ensemble_text(result.episodes[0].rows[0]) == ""
    # A non-zero reference: the P10-P90 band is drawn as a bar with its two ends (three more lines than a single run).
    band = dataclasses.replace(rows[0], reported=1e6, ratio=rows[0].model / 1e6)
    single = dataclasses.replace(band, replications=None, model_p10=None, model_p90=None, share_agreeing=None)
    lines = len(plots.backtest_figure([band]).axes[0].lines)
    assert lines == len(plots.backtest_figure([single]).axes[0].lines) + 3


def _history(name: str) -> Path:
    return ROOT / "scenarios" / "history" / f"{name}.yaml"


def test_cli_backtest_writes_csv_png_and_manifest(tmp_path):
    proc = routesim("backtest", "--results-root", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "inside tolerance" in proc.stdout
    assert "P10–P90" in proc.stdout and "model = P50" in proc.stdout  # the stochastic E4 file is an ensemble
    (folder,) = (tmp_path / "backtest").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["backtest.csv", "backtest.png", "manifest.json"]
    rows = list(csv.DictReader((folder / "backtest.csv").read_text().splitlines()))
    assert {r["episode"] for r in rows} == {load_scenario(p).scenario.name for p in HISTORY}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["routesim_backtest"] == 1
    assert manifest["versions"]["simpy"]
    assert set(manifest["seeds"]) == {r["episode"] for r in rows}
    assert (folder / "backtest.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_backtest_strict_fails_on_disagreement_and_bad_files_exit_2(tmp_path, result):
    disagreeing = sorted({row.file for row in result.disagreements})
    if disagreeing:  # one file is enough to see --strict fail (the whole backtest runs in another test)
        strict = routesim("backtest", disagreeing[0], "--strict", "--no-save")
        assert strict.returncode == 1, strict.stderr
        assert "outside tolerance" in strict.stderr
    else:
        assert routesim("backtest", "--strict", "--no-save").returncode == 0
    agreeing = routesim("backtest", str(_history("e04_court_suspension_as_happened_2022")), "--strict", "--no-save")
    assert agreeing.returncode == 0, agreeing.stderr
    assert "P10–P90" not in agreeing.stdout  # deterministic files only: the table is as before
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnetwork: nowhere.yaml\n")
    proc = routesim("backtest", str(bad), "--results-root", str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "backtest").exists()


def test_ensemble_values_are_an_ensemble_that_keeps_figure_values_whatever_runs_it():
    """The backtest's ensemble is run_ensemble with a reducer: the same values serially, in processes
    and one replication at a time (each run on its own, with its own baseline)."""
    scenario = load_scenario(STOCHASTIC).scenario
    serial = backtest.ensemble_values(scenario, 5)
    by_hand = np.array(
        [backtest.figure_values(scenario, run_replication(scenario, scenario.seed, r)) for r in range(5)]
    )
    assert serial.shape == (5, len(scenario.observed))
    assert serial.tobytes() == by_hand.tobytes()
    assert backtest.ensemble_values(scenario, 5, jobs=2).tobytes() == serial.tobytes()

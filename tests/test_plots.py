"""Pictures: a few image comparisons against committed baselines, and what each chart must show.

Baselines live in ``tests/baseline_images/`` and are drawn with matplotlib's default style and
its bundled DejaVu font on the Agg backend. After an intended change to a plot, regenerate them
with ``ROUTESIM_UPDATE_BASELINES=1 .venv/bin/python -m pytest tests/test_plots.py`` and look at them.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib import style
from matplotlib.testing.compare import compare_images

from sim import api, plots
from sim.backtest import BacktestRow
from sim.plots import backtest_figure

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "toy.yaml"
BASELINES = ROOT / "tests" / "baseline_images"
COIN = ["shocks.0.probability=0.5", "shocks.0.duration={dist: uniform, low: 4 d, high: 16 d}"]
TOLERANCE = 6.0  # RMS over 0-255 grey levels: text antialiasing may differ a little between FreeType builds


def check(figure, name: str, tmp_path: Path) -> None:
    """Save ``figure`` at a small size and compare it with the baseline (or write it when updating)."""
    actual = tmp_path / name
    with style.context("default"):
        figure.savefig(actual, dpi=50, metadata={"Software": None})
    expected = BASELINES / name
    if os.environ.get("ROUTESIM_UPDATE_BASELINES"):
        BASELINES.mkdir(exist_ok=True)
        expected.write_bytes(actual.read_bytes())
        pytest.skip(f"baseline {name} written")
    assert expected.exists(), f"no baseline {expected}; run with ROUTESIM_UPDATE_BASELINES=1"
    problem = compare_images(str(expected), str(actual), tol=TOLERANCE)
    assert problem is None, problem


@pytest.fixture(scope="module")
def toy():
    with style.context("default"):
        return api.run(TOY)


def test_disruption_figure_image(toy, tmp_path):
    with style.context("default"):
        check(toy.figure(), "disruption.png", tmp_path)


def test_ensemble_figure_image(tmp_path):
    outcome = api.run(TOY, overrides=COIN, replications=12)
    with style.context("default"):
        check(outcome.ensemble_figure(), "ensemble.png", tmp_path)


ROWS = [
    BacktestRow("e1", "agrees", "lost_export_t", "t", 1.1e6, 1e6, None, None, 1.1, 0.2, True, "", "H", "", ""),
    BacktestRow("e1", "disagrees", "lost_export_t", "t", 3e6, 1e6, None, None, 3.0, 0.2, False, "", "M", "", ""),
    BacktestRow("e2", "weak_source", "loading_stop_d", "d", 2.0, None, 1.0, 3.0, 1.0, 0.0, True, "", "L", "", ""),
    BacktestRow("e2", "missed_zero", "lost_export_t", "t", 5e3, 0.0, None, None, None, 0.0, False, "", "H", "", ""),
    BacktestRow(
        "e3",
        "ensemble",
        "lost_export_t",
        "t",
        0.9e6,
        1e6,
        None,
        None,
        0.9,
        0.25,
        True,
        "",
        "H",
        "",
        "",
        replications=200,
        model_p10=0.5e6,
        model_p90=1.6e6,
        share_agreeing=0.4,
    ),
]


def test_backtest_figure_image_and_legend(tmp_path):
    with style.context("default"):
        figure = backtest_figure(ROWS)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "agrees within tolerance" in legend and "disagrees" in legend
    assert any("P10–P90" in t for t in legend)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert any(label.endswith("[L]") for label in labels)  # confidence grades shown
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert any("off scale" in t for t in texts)  # the missed zero sits on the edge, marked
    with style.context("default"):
        check(figure, "backtest.png", tmp_path)


def test_disruption_figure_shows_corridors_headline_and_source(toy):
    figure = toy.figure()
    top = figure.axes[0]
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert legend[-1] == "baseline, all corridors" and all("(" in label for label in legend[:-1])
    assert "Lost exports" in top.get_title("left") and "Mbbl" in top.get_title("left")
    assert "Source: routesim" in figure._supxlabel.get_text()
    # shock windows are outlined, not filled over the data: no translucent coloured span
    spans = [p for p in top.patches if p.get_facecolor()[3] not in (0.0, 1.0)]
    assert not spans
    assert np.issubdtype(np.asarray(top.lines[0].get_xdata()).dtype, np.datetime64)  # dates on the axis


def test_corridors_from_the_network():
    network = api.load(ROOT / "scenarios" / "cpc_court_suspension_2022.yaml").scenario.network
    corridors = {route: corridor for route, (corridor, _) in plots.network_corridors(network).items()}
    assert corridors["tengiz_cpc"] == "CPC"
    assert corridors["tengiz_samara"] == "Atyrau–Samara"
    assert corridors["tengiz_aktau_btc"] == "Trans-Caspian"
    assert corridors["tengiz_kti"] == "Rail"
    assert corridors["other_kcp"] == "China"


def test_an_ensembles_disruption_plot_is_its_median_replication():
    outcome = api.run(TOY, overrides=COIN, replications=9)
    rep = outcome.median_replication()
    lost = outcome.ensemble["lost_export_t"]
    assert rep.impact["lost_export_t"] == np.percentile(lost, 50, method="lower")
    assert f"replication {rep.replication} of 9 (the median loss)" in outcome.figure()._suptitle.get_text()


def test_rolling_means_trailing_and_centred():
    values = np.array([0.0, 7.0, 0.0, 0.0, 7.0, 0.0, 0.0, 7.0])
    np.testing.assert_allclose(plots.rolling_mean(values, 3), [0, 3.5, 7 / 3, 7 / 3, 7 / 3, 7 / 3, 7 / 3, 7 / 3])
    centred = plots.rolling_mean(values, 3, centred=True)
    np.testing.assert_allclose(centred, [3.5, 7 / 3, 7 / 3, 7 / 3, 7 / 3, 7 / 3, 7 / 3, 3.5])

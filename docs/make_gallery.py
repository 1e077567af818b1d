"""Regenerate the README's gallery in docs/gallery/ (``make figures``): the pictures routesim draws.

Run from the repository's root: ``.venv/bin/python docs/make_gallery.py``. Draws with matplotlib's
default style on the Agg backend; takes about ten seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import style

from sim import api, backtest, plots
from sim.api import comparison as cmp

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"
SCENARIOS = ROOT / "scenarios"


def main() -> None:
    """Draw every gallery picture into docs/gallery/."""
    OUT.mkdir(parents=True, exist_ok=True)
    with style.context("default"):
        headline = api.run(SCENARIOS / "cpc_court_suspension_2022.yaml")
        headline.figure().savefig(OUT / "disruption.png", dpi=80)
        stochastic = api.run(SCENARIOS / "history" / "e04_court_suspension_stochastic_2022.yaml", replications=400)
        stochastic.ensemble_figure().savefig(OUT / "ensemble.png", dpi=80)
        expanded = api.load(
            SCENARIOS / "cpc_closure_180d_transcaspian_2025.yaml",
            ["shocks.0.duration=90 d", "shocks.1.duration=90 d", "name=cpc_closure_90d_transcaspian_expanded_2025"],
        )
        compared, _ = cmp.prepare(
            [
                SCENARIOS / "cpc_full_closure_90d_network_2022.yaml",
                SCENARIOS / "cpc_full_closure_90d_2025.yaml",
                expanded,
            ]
        )
        cmp.comparison_figure(compared, title="A 90-day CPC closure").savefig(OUT / "compare.png", dpi=80)
        court, _ = cmp.prepare(
            [
                SCENARIOS / "history" / "e04_court_suspension_stochastic_2022.yaml",
                SCENARIOS / "history" / "e04_court_suspension_as_ordered_2022.yaml",
            ],
            replications=200,
        )
        cmp.comparison_figure(court, title="The court order: uncertain vs as ordered (200 replications each)").savefig(
            OUT / "compare_ensembles.png", dpi=80
        )
        result = backtest.run_backtest(
            backtest.load_episodes(backtest.history_files(str(SCENARIOS / "history" / "*.yaml")))
        )
        plots.backtest_figure(result.rows).savefig(OUT / "backtest.png", dpi=80)
    for path in sorted(OUT.glob("*.png")):
        sys.stdout.write(f"{path.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()

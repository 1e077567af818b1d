"""Pictures for a briefing: disruption curves, ensembles and comparisons on dates, and the backtest.

Exports are stacked by corridor (CPC, Atyrau–Samara, Trans-Caspian, rail, China) in the
Okabe–Ito colour-blind-safe palette with a hatch each, so a chart also reads in grey; shock
windows are drawn as dashed edges and a hatched, named strip along the top, never as a tint
over the data; date axes carry month ticks; the caller adds headline numbers and a source line.

Plot functions take plain columns (as ``results.timeseries_columns`` builds them, or as
``results.read_run`` reads them back) and return a matplotlib ``Figure``; they never
touch global pyplot state, so they work the same in a script, a test and a notebook.
``figures`` draws runs, ``backtest`` the backtest's rows; both are re-exported here.
"""

from __future__ import annotations

from sim.plots.backtest import GRADES, backtest_figure
from sim.plots.figures import (
    CORRIDORS,
    PALETTE,
    compare_figure,
    comparison_figure,
    corridor_of,
    disruption_figure,
    ensemble_figure,
    network_corridors,
)
from sim.series import rolling_mean

__all__ = [
    "CORRIDORS",
    "GRADES",
    "PALETTE",
    "backtest_figure",
    "compare_figure",
    "comparison_figure",
    "corridor_of",
    "disruption_figure",
    "ensemble_figure",
    "network_corridors",
    "rolling_mean",
]

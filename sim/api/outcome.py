"""What ``run`` returns: ``Outcome`` (the loaded scenario, replication 0 in full, an ensemble), and the headline line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim import plots, results
from sim.data import ImpactMapping, RunData
from sim.engine.runner import Replication, run_replication
from sim.ensemble import Ensemble
from sim.scenario.loader import LoadedScenario, resolved_sha256
from sim.textsafe import figure_text


@dataclass
class Outcome:
    """A finished scenario run: the loaded scenario, the replication, the wall time."""

    loaded: LoadedScenario
    replication: Replication
    wall_time_s: float
    command: list[str] | None = None
    ensemble: Ensemble | None = None
    """For more than one replication: every replication's metrics (``replication`` is number 0)."""

    @property
    def impact(self) -> ImpactMapping:
        """The metrics against the baseline, as a mapping metric -> value (``.units``: their units)."""
        return ImpactMapping(self.replication.impact)

    @property
    def data(self) -> RunData:
        """The results as pandas DataFrames (``daily``, ``daily_long``, ``summary``, ``ensemble``), as api.read gives."""
        return RunData(
            self.name,
            results.summary_dict(self.loaded, self.replication)
            | ({} if self.ensemble is None else {"ensemble": results.ensemble_summary(self.ensemble)}),
            {},
            self.timeseries(),
            None if self.ensemble is None else self.ensemble.table,
        )

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.loaded.scenario.name

    @property
    def stats(self) -> dict[str, dict[str, Any]] | None:
        """Per-metric ensemble statistics (mean, std, min, p10, p50, p90, max), or None for one run."""
        return None if self.ensemble is None else self.ensemble.stats

    def summary(self) -> dict[str, Any]:
        """The content of summary.json (replication 0, plus an ``ensemble`` section for an ensemble)."""
        summary = results.summary_dict(self.loaded, self.replication)
        if self.ensemble is not None:
            summary["ensemble"] = results.ensemble_summary(self.ensemble)
        return summary

    def timeseries(self) -> dict[str, Any]:
        """The daily series as columns (the content of timeseries.csv)."""
        return results.timeseries_columns(self.loaded, self.replication)

    def manifest(self) -> dict[str, Any]:
        """The content of manifest.json."""
        manifest = results.manifest_dict(
            self.loaded, self.replication, self.command, self.wall_time_s, ensemble=self.ensemble
        )
        manifest["resolved_sha256"] = resolved_sha256(manifest["resolved_scenario"])
        return manifest

    def figure(self, replication: Replication | None = None):
        """The disruption-curve figure (matplotlib Figure): corridors, shock windows, headline numbers, source.

        For an ensemble it shows the median-loss replication (``median_replication``), not replication 0.
        """
        rep = replication or (self.median_replication() if self.ensemble is not None else self.replication)
        columns = results.timeseries_columns(self.loaded, rep)
        which = ""
        if self.ensemble is not None:
            which = f", replication {rep.replication} of {self.ensemble.n:,} (the median loss)"
        return plots.disruption_figure(
            columns,
            [s.as_dict() for s in rep.shocks],
            title=figure_text(f"{self.name}{which}"),
            corridors=plots.network_corridors(self.loaded.scenario.network),
            headline=headline(ImpactMapping(rep.impact)),
            source=figure_text(self.source_line(rep.seed), None),
        )

    def median_replication(self) -> Replication:
        """For an ensemble, the replication whose lost export volume is the median (the lowest such index);
        for a single run, the run itself. Reruns that replication when it is not number 0."""
        if self.ensemble is None:
            return self.replication
        lost = np.asarray(self.ensemble["lost_export_t"], dtype=float)
        if not np.any(~np.isnan(lost)):
            return self.replication
        median = float(np.nanpercentile(lost, 50, method="lower"))
        r = int(np.flatnonzero(lost == median)[0])
        if r == self.replication.replication:
            return self.replication
        return run_replication(self.loaded.scenario, seed=self.ensemble.seed, replication=r)

    def source_line(self, seed: int | None = None) -> str:
        """'Source: routesim 0.1.0, scenario ... (seed ...), network ...; baseline: ...' for the bottom of a chart."""
        from sim import __version__

        networks = ", ".join(Path(f).stem for f in self.loaded.files[1:]) or "inline"
        seed = self.replication.seed if seed is None else seed
        return (
            f"Source: routesim {__version__} model run; scenario {self.name} ({Path(self.loaded.path).name}, "
            f"seed {seed}), network {networks}; each against the same network without the shocks."
        )

    def ensemble_figure(self):
        """The ensemble figure (the loss given that a shock happened, and the fan of the cumulative loss), or None."""
        if self.ensemble is None:
            return None
        dates = self.timeseries()["date"]
        lost = self.ensemble["lost_export_t"]
        title = (
            f"{figure_text(self.name)}: {self.ensemble.n:,} replications, seed {self.ensemble.seed} — lost export volume "
            f"P50 {np.nanpercentile(lost, 50) / 1e6:,.2f} Mt (P10 {np.nanpercentile(lost, 10) / 1e6:,.2f}, "
            f"P90 {np.nanpercentile(lost, 90) / 1e6:,.2f}), mean {np.nanmean(lost) / 1e6:,.2f} Mt"
        )
        return plots.ensemble_figure(
            lost,
            self.ensemble.fan(),
            dates,
            title=title,
            happened=self.ensemble.happened,
            shortfall=self.ensemble.shortfall,
            source=figure_text(self.source_line(self.ensemble.seed), None),
            probability=_probabilities(self.loaded),
        )


def _probabilities(loaded: LoadedScenario) -> str:
    """'probability 0.3 in the scenario' (or each shock's) for shocks that may not happen; '' if all happen."""
    shocks = [s for s in loaded.scenario.shocks if not s.background and s.probability < 1.0]
    if not shocks:
        return ""
    if len(shocks) == 1:
        return f"probability {shocks[0].probability:g} in the scenario"
    return "probabilities " + ", ".join(f"{s.probability:g}" for s in shocks) + " in the scenario"


def headline(impact: Mapping[str, Any]) -> str:
    """The headline numbers of a run in one line: lost Mt, Mbbl, USD, days to survive and to recover."""
    lost, bbl, usd = impact["lost_export_t"] or 0.0, impact["lost_export_bbl"] or 0.0, impact["revenue_lost_usd"] or 0.0
    survive, recover = impact["time_to_survive_d"], impact["time_to_recover_d"]
    parts = [
        f"Lost exports {lost / 1e6:,.2f} Mt ({bbl / 1e6:,.1f} Mbbl, {usd / 1e9:,.2f} bn USD at "
        f"{impact['price_usd_per_bbl']:,.0f} USD/bbl)",
        "storage never full" if survive is None else f"storage full after {survive:g} d",
        "not recovered within the horizon" if recover is None else f"recovered after {recover:g} d",
    ]
    return " · ".join(parts)

"""Impact of a shocked run against its baseline (same network, same random numbers).

Definitions (all within the horizon; tonnes unless said otherwise):

* exports are counted where the oil leaves the system (loading at the export terminal, the border for
  a route without a sea leg; ``RunRecord``), not on arrival at the market.
* lost export volume = baseline exports - scenario exports. It splits exactly into
  extra shut-in production (no room: forced) + extra output cut by the operators (their
  response to the outlet) + extra production outage + extra oil left in storage or
  transit at the horizon (minus the extra initial inventory, which is zero).
* deferred volume = the largest cumulative export deficit at any time minus the deficit
  at the horizon: tonnes that were exported, but later than in the baseline.
* time to survive = days from the first shock that changes a capacity (``first_capacity_change_d``:
  from the effective timelines, so a standby mooring out does not start the clock) until shut-in
  first exceeds the baseline's (None if it never does).
* time to recover = days from that same start until windowed daily exports are
  back within the tolerance of the baseline's and stay there. Exports arrive in whole
  cargoes, so the comparison allows one cargo of the largest tanker on top of the
  relative tolerance (None if not recovered by the horizon).
* extra transport cost = rerouted tonnes times what their route costs above the
  baseline's average cost per tonne.
* resilience-triangle area = the sum over days of the cumulative export deficit (t*d):
  how much was missing and for how long.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.model import port_terms, pump_stations
from sim.engine.record import RunRecord
from sim.engine.shocks import RealizedShock, Timelines
from sim.scenario.schema import Network, SeaLeg

__all__ = [
    "ENSEMBLE_SCALARS",
    "METRICS",
    "Impact",
    "MetricSpec",
    "headline_rows",
    "impact",
    "observable_metrics",
    "unit_of",
]


@dataclass(frozen=True)
class MetricSpec:
    """What the reports need to know about one impact metric."""

    name: str
    unit: str
    """``t``, ``bbl``, ``d``, ``t*d``, ``USD``, ``USD/bbl`` or ``1``."""
    label: str
    """How tables name it (indented labels are parts of the row above)."""
    headline: bool = False
    """Shown in the CLI's impact and ensemble tables."""
    observable: str | None = None
    """The dimension an ``observed:`` figure of a backtest reads it in, if backtests may observe it."""


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("exported_t", "t", "Exports, scenario", True, "mass"),
        MetricSpec("baseline_exported_t", "t", "Exports, baseline", True, "mass"),
        MetricSpec("exported_bbl", "bbl", "Exports, scenario, in barrels"),
        MetricSpec("baseline_exported_bbl", "bbl", "Exports, baseline, in barrels"),
        MetricSpec("lost_export_t", "t", "Lost export volume", True, "mass"),
        MetricSpec("lost_export_bbl", "bbl", "  in barrels", True),
        MetricSpec("lost_shut_in_t", "t", "  of which shut-in production", True, "mass"),
        MetricSpec("lost_cut_t", "t", "  of which cut by the operators", True, "mass"),
        MetricSpec("lost_production_outage_t", "t", "  of which production outage", True, "mass"),
        MetricSpec("lost_inventory_t", "t", "  of which left in storage/transit", True, "mass"),
        MetricSpec("deferred_t", "t", "Deferred (exported late)", True, "mass"),
        MetricSpec("peak_deficit_t", "t", "Peak cumulative export deficit", False, "mass"),
        MetricSpec("shut_in_t", "t", "Shut-in production, scenario", False, "mass"),
        MetricSpec("baseline_shut_in_t", "t", "Shut-in production, baseline"),
        MetricSpec("cut_t", "t", "Output cut by the operators, scenario", False, "mass"),
        MetricSpec("rerouted_t", "t", "Rerouted to other routes", True, "mass"),
        MetricSpec("peak_storage_t", "t", "Peak storage (fields + terminals)", True, "mass"),
        MetricSpec("days_storage_full_d", "d", "Days with field storage full", True, "duration"),
        MetricSpec("time_to_survive_d", "d", "Time to survive (to first shut-in)", True, "duration"),
        MetricSpec("time_to_recover_d", "d", "Time to recover", True, "duration"),
        MetricSpec("resilience_area_td", "t*d", "Resilience-triangle area", True),
        MetricSpec("transport_cost_usd", "USD", "Transport cost, scenario"),
        MetricSpec("baseline_transport_cost_usd", "USD", "Transport cost, baseline"),
        MetricSpec("extra_transport_cost_usd", "USD", "Extra transport cost", True),
        MetricSpec("revenue_lost_usd", "USD", "Revenue lost", True),
        MetricSpec("price_usd_per_bbl", "USD/bbl", "Oil price"),
    )
}
"""Every scalar ``impact`` reports, in the order it reports them (the CLI's rows, the summary's
units, the ensemble's columns and which metrics an ``observed:`` figure may name read it)."""

ENSEMBLE_SCALARS = len(METRICS) + 1
"""Numbers an ensemble keeps per replication besides its daily series: the metrics and the count of
shocks that happened."""


def headline_rows() -> list[tuple[str, str]]:
    """(label, name) of the headline metrics, in the tables' order: the baseline's exports first."""
    rows = [(m.label, m.name) for m in METRICS.values() if m.headline]
    first = [r for r in rows if r[1] == "baseline_exported_t"]
    return first + [r for r in rows if r[1] != "baseline_exported_t"]


def unit_of(name: str) -> str:
    """A metric's unit: from the registry; for a name it does not hold (a study's derived quantity),
    the unit its suffix names (``_t``, ``_bbl``, ``_d``, ``_td``, ``_usd``, ``_usd_per_bbl``), else ``1``."""
    spec = METRICS.get(name)
    if spec is not None:
        return spec.unit
    for suffix, unit in (("_usd_per_bbl", "USD/bbl"), ("_usd", "USD"), ("_bbl", "bbl"), ("_td", "t*d"), ("_t", "t")):
        if name.endswith(suffix):
            return unit
    return "d" if name.endswith("_d") else "1"


_unit_of = unit_of
"""The name ``sim/explore`` (on main) imports; new code calls ``unit_of``."""


def observable_metrics() -> dict[str, str]:
    """Whole-run metrics a backtest's ``observed:`` figure may name, with the dimension it is read in."""
    return {m.name: m.observable for m in METRICS.values() if m.observable is not None}


@dataclass(frozen=True)
class Impact:
    """Every metric of a scenario against its baseline, in t, bbl, d and USD."""

    values: dict[str, float | int | None]
    units: dict[str, str]
    rerouted_t: dict[str, float]
    exports_by_route_t: dict[str, float]
    baseline_exports_by_route_t: dict[str, float]

    def __getitem__(self, key: str) -> float | int | None:
        return self.values[key]

    def as_dict(self) -> dict:
        """Plain data: each metric as {value, unit}, plus per-route tables."""
        return {
            "metrics": {k: {"value": v, "unit": self.units[k]} for k, v in self.values.items()},
            "rerouted_t": self.rerouted_t,
            "exports_by_route_t": self.exports_by_route_t,
            "baseline_exports_by_route_t": self.baseline_exports_by_route_t,
        }


def _first_day(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _recovery_day(
    scenario: np.ndarray, baseline: np.ndarray, start: int, window: int, tolerance: float, slack_t: float
) -> int | None:
    """First day >= start after which windowed exports stay within tolerance of the baseline."""
    days = len(scenario)
    if start >= days:
        return None
    cs = np.concatenate(([0.0], np.cumsum(scenario)))
    cb = np.concatenate(([0.0], np.cumsum(baseline)))
    ends = np.arange(1, days + 1)
    begins = np.maximum(0, ends - window)
    ws = cs[ends] - cs[begins]
    wb = cb[ends] - cb[begins]
    ok = np.abs(ws - wb) <= tolerance * np.abs(wb) + slack_t + 1e-6
    # A window ending on day d covers days d-window+1..d; we need every window from the
    # recovery day on to be within tolerance.
    bad = np.flatnonzero(~ok[start:])
    if bad.size == 0:
        return start
    last_bad = start + int(bad[-1])
    if last_bad >= days - 1:
        return None
    return last_bad + 1


def first_capacity_change_d(network: Network, shocks: list[RealizedShock], days: int) -> float | None:
    """When the first shock that changes a capacity takes effect (days from the start), from the
    effective timelines rather than the shock list: a shock with no effect (a standby mooring out, a
    factor of 1) does not count. None if no shock changes anything within ``days``."""
    timelines = Timelines(days, shocks, pump_stations(network))
    return timelines.first_capacity_change_d({name: port_terms(spec) for name, spec in network.ports.items()})


def impact(
    scenario: RunRecord,
    baseline: RunRecord,
    network: Network,
    shocks: list[RealizedShock],
    price_usd_per_t: float,
    tolerance: float,
    window_d: float,
) -> Impact:
    """Compare a shocked run with its baseline; see the module docstring for definitions."""
    bbl_per_t = network.grade.bbl_per_t
    days = scenario.days
    exp_s, exp_b = scenario.daily_exports(), baseline.daily_exports()
    cum_s, cum_b = np.cumsum(exp_s), np.cumsum(exp_b)
    deficit = cum_b - cum_s
    bal_s, bal_b = scenario.balance(), baseline.balance()
    lost = bal_b.exported_t - bal_s.exported_t
    shut_in_extra = bal_s.shut_in_t - bal_b.shut_in_t
    cut_extra = bal_s.cut_t - bal_b.cut_t
    outage_extra = bal_s.outage_t - bal_b.outage_t
    inventory_extra = (bal_s.stored_t + bal_s.in_transit_t) - (bal_b.stored_t + bal_b.in_transit_t)
    peak_deficit = float(max(0.0, deficit.max())) if days else 0.0
    first_start = first_capacity_change_d(network, shocks, days)
    start_day = int(first_start) if first_start is not None else None

    shut_s = scenario.shut_in.sum(axis=1)
    shut_b = baseline.shut_in.sum(axis=1)
    survive = None
    if start_day is not None:
        day = _first_day(shut_s[start_day:] > shut_b[start_day:] + 1.0)
        survive = None if day is None else day
    recover = None
    if start_day is not None:
        slack = max((leg.cargo for leg in network.legs.values() if isinstance(leg, SeaLeg)), default=0.0)
        window = max(1, round(window_d))
        day = _recovery_day(exp_s, exp_b, start_day, window, tolerance, slack)
        recover = None if day is None else day - start_day
    elif days:
        recover = 0

    storage_total_s = scenario.source_level.sum(axis=1) + scenario.tank_level.sum(axis=1)
    source_full = np.zeros(days, dtype=bool)
    for k, name in enumerate(scenario.source_names):
        cap = scenario.storage_capacity_t.get(name, np.inf)
        if np.isfinite(cap) and cap > 0:
            source_full |= scenario.source_level[:, k] >= cap * 0.999
        elif cap == 0:
            source_full |= scenario.shut_in[:, k] > baseline.shut_in[:, k] + 1.0

    route_cost = np.array([network.routes[r].cost for r in scenario.route_names])
    by_route_s = scenario.exports.sum(axis=0)
    by_route_b = baseline.exports.sum(axis=0)
    intake_s = scenario.intake.sum(axis=0)
    intake_b = baseline.intake.sum(axis=0)
    cost_s = float((intake_s * route_cost).sum())
    cost_b = float((intake_b * route_cost).sum())
    usual_cost = cost_b / intake_b.sum() if intake_b.sum() > 0 else 0.0
    extra_cost = float((np.clip(intake_s - intake_b, 0.0, None) * (route_cost - usual_cost)).sum())
    rerouted = {name: float(max(0.0, intake_s[i] - intake_b[i])) for i, name in enumerate(scenario.route_names)}

    values: dict[str, float | int | None] = {
        "exported_t": bal_s.exported_t,
        "baseline_exported_t": bal_b.exported_t,
        "exported_bbl": bal_s.exported_t * bbl_per_t,
        "baseline_exported_bbl": bal_b.exported_t * bbl_per_t,
        "lost_export_t": lost,
        "lost_export_bbl": lost * bbl_per_t,
        "lost_shut_in_t": shut_in_extra,
        "lost_cut_t": cut_extra,
        "lost_production_outage_t": outage_extra,
        "lost_inventory_t": inventory_extra,
        "deferred_t": max(0.0, peak_deficit - max(0.0, lost)),
        "peak_deficit_t": peak_deficit,
        "shut_in_t": bal_s.shut_in_t,
        "baseline_shut_in_t": bal_b.shut_in_t,
        "cut_t": bal_s.cut_t,
        "rerouted_t": float(sum(rerouted.values())),
        "peak_storage_t": float(storage_total_s.max()) if days else 0.0,
        "days_storage_full_d": int(source_full.sum()),
        "time_to_survive_d": survive,
        "time_to_recover_d": recover,
        "resilience_area_td": float(np.clip(deficit, 0.0, None).sum()),
        "transport_cost_usd": cost_s,
        "baseline_transport_cost_usd": cost_b,
        "extra_transport_cost_usd": extra_cost,
        "revenue_lost_usd": lost * price_usd_per_t,
        "price_usd_per_bbl": price_usd_per_t / bbl_per_t,
    }
    units = {k: METRICS[k].unit for k in values}
    return Impact(
        values=values,
        units=units,
        rerouted_t=rerouted,
        exports_by_route_t={n: float(by_route_s[i]) for i, n in enumerate(scenario.route_names)},
        baseline_exports_by_route_t={n: float(by_route_b[i]) for i, n in enumerate(scenario.route_names)},
    )

"""Plain builders shared by the engine tests (no fixtures: call them).

Scenarios are written as the plain dicts a YAML file would hold, with units, and validated
with the network's crude grade in the context, exactly as ``load_scenario`` does (a bare
``Scenario.model_validate(data)`` would convert barrels with the default 7.5 bbl/t).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from sim.engine.runner import Replication, run_replication
from sim.scenario.schema import Scenario

KT = 1e3
"""Tonnes in a kilotonne: hand computations below are written in kt."""

TOY: dict[str, Any] = {
    "name": "toy",
    "start_date": "2022-07-01",
    "horizon": "60 d",
    "seed": 1,
    "price": "100 USD/bbl",
    "network": {
        "grade": {"bbl_per_t": 7.9},
        "sources": {
            "field": {
                "production": "100 kt/d",
                "storage": {"capacity": "300 kt", "initial": 0},
                "ramp_up": "10 d",
                "restart_delay": "2 d",
            }
        },
        "ports": {"novo": {"berths": 3, "active_berths": 2}},
        "legs": {
            "pipe": {"kind": "pipeline", "capacity": "120 kt/d", "transit": "5 d"},
            "load": {
                "kind": "sea",
                "port": "novo",
                "fleet": 12,
                "cargo": "100 kt",
                "load_rate": "12000 t/h",
                "laden_voyage": "3 d",
                "ballast_voyage": "3 d",
                "inlet_storage": {"capacity": "500 kt", "initial": "200 kt"},
            },
            "alt": {"kind": "pipeline", "capacity": "20 kt/d", "transit": "2 d"},
        },
        "routes": {
            "main": {
                "source": "field",
                "legs": ["pipe", "load"],
                "market": "med",
                "normal": "100 kt/d",
                "cost": "38 USD/t",
                "priority": 1,
            },
            "bypass": {
                "source": "field",
                "legs": ["alt"],
                "market": "europe",
                "capacity": "20 kt/d",
                "cost": "60 USD/t",
                "lead_time": "5 d",
            },
        },
        "markets": {"med": {}, "europe": {}},
    },
    "shocks": [],
}
"""The toy network of the brief (one field, a pipeline to a tanker port, a bypass), without shocks."""

TOY_CARGO_T = 100 * KT
"""One tanker cargo of the toy: the granularity of what can be stranded at a port at the horizon."""


def deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``: mappings merge key by key, anything else (lists too) replaces."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate(data: dict) -> Scenario:
    """Validate scenario data with its network's grade, as the file loader does."""
    return Scenario.model_validate(data)  # the grade goes into the context there (network.grade_context)


def toy_data(**overrides: Any) -> dict:
    """The toy scenario as plain data, with ``overrides`` deep-merged on top."""
    return deep_merge(TOY, overrides)


def make_scenario(shocks: list[dict] | None = None, **overrides: Any) -> Scenario:
    """The toy scenario (validated) with ``shocks`` and deep-merged ``overrides``."""
    data = toy_data(**overrides)
    if shocks is not None:
        data["shocks"] = shocks
    return validate(data)


def line_data(
    *,
    production: str = "100 kt/d",
    storage: dict | None = None,
    capacity: str = "120 kt/d",
    transit: str = "0 d",
    normal: str = "100 kt/d",
    bypass: dict | None = None,
    source_extra: dict | None = None,
    shocks: list[dict] | None = None,
    horizon: str = "60 d",
    price: str = "100 USD/bbl",
    initial_linefill: str = "full",
) -> dict:
    """One field, one pipeline ``main`` straight to a market, and optionally a bypass pipeline.

    ``bypass`` (if given) holds the bypass pipeline's capacity/transit and its route's
    capacity/cost/lead_time: ``{"capacity": "20 kt/d", "lead_time": "5 d", ...}``.
    """
    source = {"production": production, "storage": storage or {"capacity": 0}}
    source.update(source_extra or {})
    legs: dict[str, Any] = {
        "main": {"kind": "pipeline", "capacity": capacity, "transit": transit, "initial_linefill": initial_linefill}
    }
    routes: dict[str, Any] = {
        "main": {
            "source": "field",
            "legs": ["main"],
            "market": "med",
            "normal": normal,
            "cost": "38 USD/t",
            "priority": 1,
        }
    }
    markets: dict[str, Any] = {"med": {}}
    if bypass is not None:
        legs["alt"] = {
            "kind": "pipeline",
            "capacity": bypass.get("capacity", "20 kt/d"),
            "transit": bypass.get("transit", "0 d"),
        }
        routes["bypass"] = {
            "source": "field",
            "legs": ["alt"],
            "market": "europe",
            "capacity": bypass.get("route_capacity", bypass.get("capacity", "20 kt/d")),
            "cost": bypass.get("cost", "60 USD/t"),
            "lead_time": bypass.get("lead_time", "0 d"),
            **({"contracted": bypass["contracted"]} if "contracted" in bypass else {}),
        }
        markets["europe"] = {}
    return {
        "name": "line",
        "start_date": "2022-07-01",
        "horizon": horizon,
        "seed": 7,
        "price": price,
        "network": {"sources": {"field": source}, "legs": legs, "routes": routes, "markets": markets},
        "shocks": shocks or [],
    }


def line_scenario(**kwargs: Any) -> Scenario:
    """``line_data(**kwargs)`` validated."""
    return validate(line_data(**kwargs))


def outage(target: str, start: str, duration: str, factor: float = 0.0, **extra: Any) -> dict:
    """An outage shock as scenario data."""
    return {"kind": "outage", "target": target, "start": start, "duration": duration, "factor": factor, **extra}


def run(scenario: Scenario, seed: int | None = None, replication: int = 0) -> Replication:
    """One replication (shocked run, baseline, impact)."""
    return run_replication(scenario, seed=seed, replication=replication)


def never_produced_t(rep: Replication) -> float:
    """Extra oil that was never produced because of the shocks: shut-in plus production outage."""
    values = rep.impact.values
    return float(values["lost_shut_in_t"]) + float(values["lost_production_outage_t"])


def series(days: int, segments: list[tuple[int, int, float]], default: float = 0.0) -> np.ndarray:
    """A daily series of ``days`` values: ``default`` except ``value`` on days [start, stop)."""
    out = np.full(days, float(default))
    for start, stop, value in segments:
        out[start:stop] = value
    return out

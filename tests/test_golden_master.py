"""Golden master: every scenario file gives the daily series it gave when the fixture was written.

A refactor of the engine must not change a single tonne. For each file in ``scenarios/`` and
``scenarios/history/`` and replications 0 and 1, the shocked run and its baseline are reduced to a
fingerprint per daily series and column (sum, sum of squares, sum of day x value, sum of magnitudes)
plus the end-of-run inventories and cargo counts, compared to the committed fixture at a relative 1e-9
(floats, not hashes, so that platform float noise does not break it).

Regenerate after a deliberate change of meaning: ``ROUTESIM_UPDATE_GOLDEN=1 pytest tests/test_golden_master.py``,
and say in the commit which scenarios changed and by how much.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from sim.engine import realize_shocks, simulate
from sim.engine.record import RunRecord
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "golden" / "fingerprints.json"
FILES = sorted([*ROOT.glob("scenarios/*.yaml"), *ROOT.glob("scenarios/history/*.yaml")])
REPLICATIONS = (0, 1)
SERIES = ("exports", "arrivals", "intake", "produced", "shut_in", "source_level", "tank_level", "leg_transit")
RTOL = 1e-9


def fingerprint(record: RunRecord) -> dict:
    """Compact floats that change if any daily value of any series changes."""
    out: dict = {}
    days = np.arange(record.days, dtype=float)
    for name in SERIES:
        arr = np.asarray(getattr(record, name), dtype=float)
        out[name] = {
            "sum": arr.sum(axis=0).tolist(),
            "sumsq": (arr * arr).sum(axis=0).tolist(),
            "isum": (days[:, None] * arr).sum(axis=0).tolist(),
            "abs": np.abs(arr).sum(axis=0).tolist(),
        }
    out["initial_inventory_t"] = record.initial_inventory_t
    out["final_stored_t"] = record.final_stored_t
    out["final_in_transit_t"] = record.final_in_transit_t
    out["cargoes"] = dict(sorted(record.cargoes.items()))
    return out


def runs(path: Path, **simulate_options) -> dict:
    """Fingerprints of the shocked and baseline runs of replications 0 and 1 of one file."""
    scenario = load_scenario(path).scenario
    out = {}
    for replication in REPLICATIONS:
        shocks = realize_shocks(scenario, scenario.seed, replication)
        background = [s for s in shocks if s.background]
        for label, drawn in (("scenario", shocks), ("baseline", background)):
            record = simulate(scenario.network, drawn, scenario.horizon, **simulate_options)
            out[f"{replication}/{label}"] = fingerprint(record)
    return out


def key(path: Path) -> str:
    return str(path.relative_to(ROOT))


def assert_same(actual, expected, where: str, scale: float = 0.0) -> None:
    """Equal to a relative ``RTOL`` (of the value, or of ``scale``: the series' magnitude)."""
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for k, v in expected.items():
            assert_same(actual[k], v, f"{where}.{k}", scale)
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for i, v in enumerate(expected):
            assert_same(actual[i], v, f"{where}[{i}]", scale)
    elif isinstance(expected, int) and not isinstance(expected, bool) and "cargoes" in where:
        assert actual == expected, where
    else:
        tol = RTOL * max(abs(expected), scale, 1.0)
        assert abs(actual - expected) <= tol, f"{where}: {actual!r} != {expected!r}"


def compare(actual: dict, expected: dict, where: str) -> None:
    """Compare fingerprints series by series, each to a relative 1e-9 of its own magnitude."""
    assert set(actual) == set(expected), where
    for name, value in expected.items():
        if name in SERIES:
            for stat in ("sum", "sumsq", "isum", "abs"):
                for col, v in enumerate(value[stat]):
                    magnitude = value["abs"][col]
                    scale = {"sumsq": magnitude * magnitude, "isum": magnitude * 400.0}.get(stat, magnitude)
                    assert_same(actual[name][stat][col], v, f"{where}.{name}.{stat}[{col}]", scale)
        else:
            assert_same(actual[name], value, f"{where}.{name}")


def load_fixture() -> dict:
    return json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}


@pytest.mark.parametrize("path", FILES, ids=key)
def test_every_scenario_gives_the_recorded_daily_series(path):
    actual = runs(path)
    if os.environ.get("ROUTESIM_UPDATE_GOLDEN"):
        fixture = load_fixture()
        fixture[key(path)] = actual
        FIXTURE.parent.mkdir(exist_ok=True)
        lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(fixture.items())]  # a line per file
        FIXTURE.write_text("{\n" + ",\n".join(lines) + "\n}\n")
        return
    expected = load_fixture().get(key(path))
    assert expected is not None, f"no golden fingerprint for {key(path)}: run with ROUTESIM_UPDATE_GOLDEN=1"
    compare(actual, expected, key(path))


def test_the_fixture_covers_exactly_the_scenario_files():
    assert sorted(load_fixture()) == sorted(key(p) for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=key)
def test_the_plain_path_gives_the_recorded_daily_series_too(path):
    # a process per tanker, no fast path: the same fingerprints (the fast paths change nothing)
    expected = load_fixture().get(key(path))
    assert expected is not None
    compare(runs(path, fast=False), expected, key(path))

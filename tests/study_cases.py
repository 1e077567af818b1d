"""Scenario files for the study tests (sweeps, stress tests, sensitivity), small enough to work out by hand.

The line: one field of P = 100 kt/d with storage S = 320 kt (empty at the start), a main line of
120 kt/d straight to a market, and a bypass of A = 20 kt/d ready at once (lead time 0). The main
line is cut from day 10 for D days; the horizon is 60 days.

By hand (kt): while the line is cut, P - A = 80 kt/d goes into storage, which is full after
S / 80 = 4 days; from then on 80 kt/d is shut in. When the line is back, 120 + 20 - 100 = 40 kt/d
of storage drains, so S drains in 8 days. Within the horizon:

    loss(D) = 80 D - min(80 D, S, 40 (60 - 10 - D))    for D <= 50,   loss(D) = loss(50) for D >= 50

which is 0 up to D = 4, then 80 D - 320 (storage fills), then from D = 42 (the drain no longer
ends by the horizon) 120 D - 2000, then flat at 4000 kt from D = 50 (the cut reaches the horizon).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from helpers import line_data, outage

PRODUCTION_KT, BYPASS_KT, STORAGE_KT, DRAIN_KT = 100.0, 20.0, 320.0, 40.0
CUT_START_D, HORIZON_D = 10.0, 60.0


def hand_loss_t(duration_d: float) -> float:
    """Lost export volume (t) for a cut of ``duration_d`` whole days, by the formula above."""
    d = min(duration_d, HORIZON_D - CUT_START_D)
    into_storage = (PRODUCTION_KT - BYPASS_KT) * d
    drained = min(into_storage, STORAGE_KT, DRAIN_KT * (HORIZON_D - CUT_START_D - d))
    return (into_storage - drained) * 1e3


def line_file(folder: Path, duration: object = "20 d", extra_shocks: list[dict] | None = None, **top: object) -> Path:
    """The line scenario as a YAML file in ``folder``; ``duration`` may be a distribution mapping."""
    data = line_data(
        storage={"capacity": f"{STORAGE_KT:g} kt", "initial": 0},
        bypass={"capacity": f"{BYPASS_KT:g} kt/d", "lead_time": "0 d"},
        shocks=[outage("main", f"{CUT_START_D:g} d", "20 d"), *(extra_shocks or [])],
        horizon=f"{HORIZON_D:g} d",
    )
    data["shocks"][0]["duration"] = duration
    data.update(top)
    path = folder / "line.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path

"""One replication of a scenario: draw its shocks, run it and its baseline, compare.

The baseline is the same network without the scenario's shocks, run with the same
random numbers (common random numbers), so the difference is the shock's effect alone.
Background shocks (``background: true``, e.g. seasonal weather) are part of the world: the
baseline gets them too, with the same draws, so they shape both runs and the reported
loss is the other shocks' effect alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sim.engine.metrics import Impact, impact
from sim.engine.model import simulate
from sim.engine.record import RunRecord
from sim.engine.shocks import RealizedShock, realize_shocks
from sim.scenario.schema import Scenario

__all__ = ["Replication", "fixed_baseline", "run_replication"]


@dataclass
class Replication:
    """A scenario run, its baseline, the shocks as drawn, and the impact."""

    scenario: RunRecord
    baseline: RunRecord
    shocks: list[RealizedShock]
    impact: Impact
    seed: int
    replication: int
    wall_time_s: float


def fixed_baseline(scenario: Scenario) -> bool:
    """Whether the baseline is the same in every replication: the engine draws no random numbers of
    its own, so it is unless a background shock (which the baseline shares) is drawn anew each time."""
    return not any(shock.background for shock in scenario.shocks)


def run_replication(
    scenario: Scenario, seed: int | None = None, replication: int = 0, baseline: RunRecord | None = None
) -> Replication:
    """Run ``scenario`` and its baseline for one replication of ``seed`` (default: the file's).

    ``baseline`` reuses another replication's baseline run (ensembles), which is only allowed when
    ``fixed_baseline(scenario)``: it is then the very run this replication would make.
    """
    seed = scenario.seed if seed is None else seed
    started = time.perf_counter()
    shocks = realize_shocks(scenario, seed, replication)
    shocked = simulate(scenario.network, shocks, scenario.horizon, start_date=scenario.start_date)
    background = [s for s in shocks if s.background]
    if baseline is None:
        baseline = simulate(scenario.network, background, scenario.horizon, start_date=scenario.start_date)
    elif not fixed_baseline(scenario):
        raise ValueError("a baseline can be reused only when the scenario has no background shocks")
    result = impact(
        shocked,
        baseline,
        scenario.network,
        [s for s in shocks if not s.background],  # the scenario's own shocks: when the disruption starts
        scenario.price,
        scenario.recovery.tolerance,
        scenario.recovery.window,
    )
    return Replication(
        scenario=shocked,
        baseline=baseline,
        shocks=shocks,
        impact=result,
        seed=seed,
        replication=replication,
        wall_time_s=time.perf_counter() - started,
    )

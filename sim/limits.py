"""Limits on what a run may cost, checked before anything runs.

An ensemble's memory and time are estimated from its replication count and horizon, so an absurd
count is refused up front with the estimate. These are limits of the machine and the engine's
speed, not of the file format; the scenario schema and the CLI both ask them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = [
    "ENSEMBLE_SCALARS",
    "FAN_BYTES",
    "MAX_ENSEMBLE_BYTES",
    "MAX_REPLICATIONS",
    "SECONDS_PER_REPLICATION_DAY",
    "EnsembleEstimate",
    "ensemble_estimate",
    "max_replications",
    "replications_problem",
]

MAX_REPLICATIONS = 1_000_000
"""Most replications an ensemble may run: beyond that a count is a typo (and days of computing)."""

MAX_ENSEMBLE_BYTES = 2 * 2**30
"""Largest estimated memory an ensemble may keep (per-replication metrics and daily shortfall)."""

ENSEMBLE_SCALARS = 32
"""Numbers an ensemble keeps per replication besides its daily series (the impact metrics, the
count of shocks that happened); an upper bound, checked by the tests against the real count."""

FAN_BYTES = 2 * 2**20
"""Most bytes of daily export shortfall an ensemble keeps for its fan chart, however many replications
(the first replications up to this size; see sim/ensemble.py)."""

SECONDS_PER_REPLICATION_DAY = 0.045 / 365
"""Serial cost of one replication per simulated day, an upper estimate: ~20 ms each for the scenario
and the baseline run over 365 days of the 2022 reference network on the 2-core development machine
(the baseline is made once when no background shock is drawn); smaller networks are faster."""


class EnsembleEstimate(NamedTuple):
    """What an ensemble would cost before it runs: memory kept (bytes) and serial wall time (s)."""

    memory_bytes: float
    seconds: float


def ensemble_estimate(n: int, horizon_d: float) -> EnsembleEstimate:
    """Memory and serial time of ``n`` replications of ``horizon_d`` days, before running any.

    Per replication an ensemble held in memory (``api.run``) keeps its metrics and at most as many
    drawn inputs (2 x ENSEMBLE_SCALARS floats); the daily shortfall for the fan chart is bounded by
    FAN_BYTES whatever the count, and twice that while its percentiles are computed. A run streamed
    to disk (``routesim run -n``) keeps less. Time is SECONDS_PER_REPLICATION_DAY per simulated day.
    """
    days = max(1, math.ceil(horizon_d - 1e-9))
    per_replication = 8 * 2 * ENSEMBLE_SCALARS
    fan = min(2 * FAN_BYTES, float(n) * 8 * 2 * days)
    return EnsembleEstimate(float(n) * per_replication + fan, float(n) * days * SECONDS_PER_REPLICATION_DAY)


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.1f} s"


def _bytes_text(size: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size:,.0f} B"


def replications_problem(n: int, horizon_d: float | None) -> str | None:
    """Why ``n`` replications (of ``horizon_d`` days, if known) cannot run, with the estimate; else None.

    One message for the scenario key ``replications`` and the ``-n/--replications`` option, so an
    absurd count is refused the same way, before anything runs.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        return f"{n!r} is not a replication count; expected a whole number from 1 to {MAX_REPLICATIONS:,}"
    if n < 1:
        return f"{n:,} replications cannot run; expected a whole number from 1 to {MAX_REPLICATIONS:,} (1 = one run)"
    if horizon_d is None:
        if n > MAX_REPLICATIONS:
            return f"{n:,} replications is too many; expected at most {MAX_REPLICATIONS:,}"
        return None
    estimate = ensemble_estimate(n, horizon_d)
    if n > MAX_REPLICATIONS or estimate.memory_bytes > MAX_ENSEMBLE_BYTES:
        days = max(1, math.ceil(horizon_d - 1e-9))
        return (
            f"{n:,} replications of {days:,} d would keep about {_bytes_text(estimate.memory_bytes)} in memory "
            f"and run about {_duration_text(estimate.seconds)} on one core; expected at most "
            f"{max_replications(horizon_d):,} for this horizon (limits: {_bytes_text(MAX_ENSEMBLE_BYTES)} kept, "
            f"{MAX_REPLICATIONS:,} replications)"
        )
    return None


def max_replications(horizon_d: float) -> int:
    """The largest replication count accepted for a horizon of ``horizon_d`` days."""
    per = 8 * 2 * ENSEMBLE_SCALARS  # the fan's share is bounded (FAN_BYTES), whatever the count
    return int(min(MAX_REPLICATIONS, (MAX_ENSEMBLE_BYTES - 2 * FAN_BYTES) // per))

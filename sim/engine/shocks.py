"""Shocks drawn for one replication, and the capacity timelines they imply.

A scenario's shocks may hold distributions and probabilities. ``realize_shocks`` draws
them with one random stream per shock (spawned from the root seed), so that adding a
shock never changes another shock's draws and a seed fixes every number. ``Timelines``
turns the drawn shocks into hourly factor arrays per component, which the engine reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np

from sim.engine.rounding import half_up, half_up_array
from sim.engine.shock_kinds import SHOCK_KINDS
from sim.scenario.distributions import draw
from sim.scenario.schema import PortSpec, RecurringSpec, Scenario, Shock
from sim.scenario.targets import Target, resolve_target

__all__ = ["STEPS_PER_DAY", "RealizedShock", "Timelines", "occurrence_times", "realize_shocks", "shock_rng"]

STEPS_PER_DAY = 24
"""Resolution of the factor timelines (hours)."""


@dataclass(frozen=True)
class RealizedShock:
    """A shock with every number drawn: times in days from the start, factors as numbers."""

    index: int
    name: str
    kind: str
    target: Target
    start_d: float
    duration_d: float
    factor: float
    multiplier: float
    ramp_d: float
    happened: bool
    occurrence: int = 0
    """0 for a one-off shock; 1, 2, ... for the occurrences of a recurring shock, in time order."""
    background: bool = False
    """Applied to the baseline too (same draws): part of the world, not of the scenario."""
    berths_out: int | None = None
    """Moorings or berths out of service (a port outage given as a count): counts on one port add up."""
    notice_d: float = 0.0
    """Days before the start that the operators know of it (0: it comes unannounced)."""

    @property
    def end_d(self) -> float:
        """Day the shock ends (exclusive)."""
        return self.start_d + self.duration_d

    def as_dict(self) -> dict:
        """A plain mapping for summaries and manifests."""
        out = asdict(self)
        out["target"] = self.target.name + (f".{self.target.station}" if self.target.station else "")
        out["target_kind"] = self.target.kind
        out["end_d"] = self.end_d
        return out


def shock_rng(seed: int, replication: int, index: int) -> np.random.Generator:
    """The random stream of shock ``index`` in ``replication``: independent of every other."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(replication, 1, index)))


def realize_shocks(scenario: Scenario, seed: int | None = None, replication: int = 0) -> list[RealizedShock]:
    """Draw every shock of ``scenario`` for one replication (probability, start, duration, ...).

    A recurring shock gives one RealizedShock per occurrence (none if it does not occur).
    """
    seed = scenario.seed if seed is None else seed
    realized = []
    for index, shock in enumerate(scenario.shocks):
        rng = shock_rng(seed, replication, index)
        target = resolve_target(scenario.network, shock)
        if shock.recurring is not None:
            starts = occurrence_times(shock.recurring, scenario.start_date, scenario.horizon, rng)
            for k, start in enumerate(starts, start=1):
                duration = draw(shock.recurring.duration, rng)
                realized.append(_realized(scenario, shock, index, target, float(start), duration, True, rng, k))
            continue
        # Fixed draw order, one uniform first, so that changing a parameter of a
        # distribution never shifts the random numbers other draws see.
        happened = bool(rng.uniform() < shock.probability)
        start = draw(scenario.start_offset(shock), rng)
        duration = draw(scenario.duration_of(shock), rng)
        realized.append(_realized(scenario, shock, index, target, float(start), duration, happened, rng, 0))
    return realized


def _realized(
    scenario: Scenario,
    shock: Shock,
    index: int,
    target: Target,
    start: float,
    duration: float,
    happened: bool,
    rng: np.random.Generator,
    occurrence: int,
) -> RealizedShock:
    """Draw the factor and multiplier of one shock (or occurrence) and assemble it."""
    fixed = SHOCK_KINDS[shock.kind].fixed_factor
    if fixed is not None:
        factor = fixed
    elif shock.berths_out is not None:
        port: PortSpec = scenario.network.ports[target.name]
        factor = max(0.0, (port.berths - shock.berths_out) / port.berths)
    else:
        factor = draw(shock.factor, rng) if shock.factor is not None else 0.0
    multiplier = draw(shock.multiplier, rng) if shock.multiplier is not None else 1.0
    return RealizedShock(
        index=index,
        name=shock.name or f"{shock.kind} {shock.target}",
        kind=shock.kind,
        target=target,
        start_d=start,
        duration_d=float(duration),
        factor=float(factor),
        multiplier=float(multiplier),
        ramp_d=float(shock.ramp),
        happened=happened,
        occurrence=occurrence,
        background=shock.background,
        berths_out=shock.berths_out,
        notice_d=float(shock.notice),
    )


def occurrence_times(
    recurring: RecurringSpec, start_date: dt.date, horizon_d: float, rng: np.random.Generator
) -> np.ndarray:
    """Start days of a recurring shock's occurrences: a Poisson process whose rate changes by calendar
    month, drawn by thinning (candidates at the peak rate over the horizon, each kept with probability
    rate(t) / peak), so months with rate 0 never get an occurrence."""
    segments = recurring.segments(start_date, horizon_d)
    peak = max((per_day for _, _, per_day in segments), default=0.0)
    if peak <= 0.0:
        return np.empty(0)
    count = int(rng.poisson(peak * horizon_d))
    candidates = np.sort(rng.uniform(0.0, horizon_d, count))
    keep = rng.uniform(0.0, peak, count)
    bounds = np.array([end for _, end, _ in segments])
    rates = np.array([per_day for _, _, per_day in segments])
    month = np.minimum(np.searchsorted(bounds, candidates, side="right"), len(rates) - 1)
    return candidates[keep < rates[month]]


class Timelines:
    """Hourly capacity factors (and transit multipliers) per component over the horizon.

    Overlapping shocks on one component combine by the smallest factor (largest
    multiplier). Components without shocks have no array: their factor is 1. Which timeline a
    shock writes comes from its kind's entry in ``SHOCK_KINDS`` (``sim/engine/shock_kinds.py``).

    Port outages given as a count of moorings (``berths_out``) are units, not factors: they add up
    (two one-mooring outages leave two out) and are kept as intervals, which ``usable_berths``
    combines with the port's factor timeline (weather, factor outages) and its standby moorings.
    """

    def __init__(self, horizon_d: int, shocks: list[RealizedShock], pump_stations: dict[tuple[str, str], float]):
        self.horizon_d = horizon_d
        self.steps = horizon_d * STEPS_PER_DAY
        self.factor: dict[tuple[str, str], np.ndarray] = {}
        self.multiplier: dict[str, np.ndarray] = {}
        self._behaviours: dict[tuple[str, str], set[str]] = {}
        self.berth_outages: dict[str, list[tuple[int, int, int]]] = {}
        """Per port, (first hour, end hour, moorings out) of each ``berths_out`` outage."""
        for shock in shocks:
            if not shock.happened or shock.duration_d <= 0:
                continue
            lo = half_up(shock.start_d * STEPS_PER_DAY)
            hi = half_up(shock.end_d * STEPS_PER_DAY)
            lo, hi = max(0, lo), min(self.steps, hi)
            effect = SHOCK_KINDS[shock.kind].effects[shock.target.kind]
            self._behaviours.setdefault((effect.timeline, shock.target.name), set()).add(effect.behaviour)
            if effect.timeline == "transit":
                arr = self.multiplier.setdefault(shock.target.name, np.ones(self.steps))
                if hi > lo:
                    np.maximum(arr[lo:hi], shock.multiplier, out=arr[lo:hi])
                continue
            if shock.berths_out is not None and effect.timeline == "port":
                if hi > lo and shock.berths_out > 0:
                    self.berth_outages.setdefault(shock.target.name, []).append((lo, hi, shock.berths_out))
                continue
            factor = shock.factor
            if shock.target.kind == "pump_station":
                left = pump_stations[(shock.target.name, shock.target.station)]
                factor = 1.0 - (1.0 - shock.factor) * (1.0 - left)
            arr = self.factor.setdefault((effect.timeline, shock.target.name), np.ones(self.steps))
            if hi > lo:
                np.minimum(arr[lo:hi], factor, out=arr[lo:hi])
            if shock.ramp_d > 0 and hi < self.steps and SHOCK_KINDS[shock.kind].ramps:
                ramp_steps = max(1, half_up(shock.ramp_d * STEPS_PER_DAY))
                end = min(self.steps, hi + ramp_steps)
                ramp = factor + (1.0 - factor) * (np.arange(1, end - hi + 1) / ramp_steps)
                np.minimum(arr[hi:end], ramp, out=arr[hi:end])

    def usable_berths(self, name: str, berths: int, active: int, standby_delay_d: float = 0.0) -> np.ndarray | None:
        """Hourly count of a port's moorings in use (None if no shock touches the port).

        ``out`` moorings out of service (``berths_out`` outages, added up) are taken to be active ones;
        a standby mooring takes over from one once its outage has lasted ``standby_delay_d``. A factor
        (weather, an outage given as a factor) leaves ``berths x factor`` moorings, rounded half up.
        usable = min(active, berths - out, active - out + standby covering, what the factor leaves).
        """
        factor = self.factor.get(("port", name))
        outages = self.berth_outages.get(name)
        if factor is None and outages is None:
            return None
        usable = np.full(self.steps, active, dtype=np.int64)
        if factor is not None:
            np.minimum(usable, half_up_array(berths * factor).astype(np.int64), out=usable)
        if outages:
            out = np.zeros(self.steps, dtype=np.int64)
            settled = np.zeros(self.steps, dtype=np.int64)  # out long enough for a standby to take over
            delay = half_up(standby_delay_d * STEPS_PER_DAY)
            for lo, hi, count in outages:
                out[lo:hi] += count
                settled[min(hi, lo + delay) : hi] += count
            covered = np.minimum(berths - active, settled)
            by_count = np.minimum(berths - out, active - out + covered)
            np.minimum(usable, by_count, out=usable)
        np.maximum(usable, 0, out=usable)
        return usable

    def first_capacity_change_d(self, ports: dict[str, tuple[int, int, float]]) -> float | None:
        """Time (days) of the first hour at which any capacity differs from normal: a factor below 1
        (legs, cargoes, sources, routes, markets), a transit multiplier above 1, or a port with fewer
        moorings in use than its active count (``ports``: name -> (berths, active, standby delay)).
        None if no shock changes anything (a standby mooring out, a factor of 1)."""
        first = self.steps
        for (timeline, _name), arr in self.factor.items():
            if timeline == "port":
                continue
            hits = np.flatnonzero(arr < 1.0 - 1e-12)
            if hits.size:
                first = min(first, int(hits[0]))
        for arr in self.multiplier.values():
            hits = np.flatnonzero(arr > 1.0 + 1e-12)
            if hits.size:
                first = min(first, int(hits[0]))
        for name, (berths, active, delay) in ports.items():
            usable = self.usable_berths(name, berths, active, delay)
            if usable is not None:
                hits = np.flatnonzero(usable < active)
                if hits.size:
                    first = min(first, int(hits[0]))
        return None if first >= self.steps else first / STEPS_PER_DAY

    def behaviours(self, timeline: str, name: str) -> set[str]:
        """What the shocks that wrote a component's timeline change (empty if none did): fast paths
        compare it with what they handle."""
        return self._behaviours.get((timeline, name), set())

    def daily_factor(self, kind: str, name: str) -> np.ndarray | None:
        """Mean factor per day for a component, or None if no shock touches it."""
        arr = self.factor.get((kind, name))
        if arr is None:
            return None
        return arr.reshape(self.horizon_d, STEPS_PER_DAY).mean(axis=1)

    def daily_multiplier(self, name: str) -> np.ndarray | None:
        """Mean transit multiplier per day for a leg, or None."""
        arr = self.multiplier.get(name)
        if arr is None:
            return None
        return arr.reshape(self.horizon_d, STEPS_PER_DAY).mean(axis=1)

    def hourly_factor(self, kind: str, name: str) -> np.ndarray | None:
        """The hourly factor array of a component, or None."""
        return self.factor.get((kind, name))

    def hourly_multiplier(self, name: str) -> np.ndarray | None:
        """The hourly multiplier array of a leg, or None."""
        return self.multiplier.get(name)

"""The scenario file: a network, a horizon from a start date, a seed, a price, shocks and observed figures."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.limits import MAX_ENSEMBLE_BYTES, MAX_REPLICATIONS, replications_problem
from sim.scenario.distributions import Distribution
from sim.scenario.network import Network, SeaLeg, grade_context
from sim.scenario.observed import WINDOW_METRICS, ObservedFigure
from sim.scenario.quantities import Date, Fraction, Horizon, PositiveDuration, Price, _Model, timezone_offset
from sim.scenario.shocks import MAX_OCCURRENCES, Shock
from sim.scenario.targets import resolve_target

__all__ = ["DEFAULT_TIMEZONE", "MAX_HORIZON_D", "MAX_NAME_CHARS", "MAX_SERIES_BYTES", "RecoverySpec", "Scenario"]

DEFAULT_TIMEZONE = "+03:00"
"""The run's clock when a file names none: Moscow time, in which CPC and the Russian authorities report."""

MAX_NAME_CHARS = 100
"""Longest scenario name (it names the results folder)."""

MAX_HORIZON_D = 50 * 365.0
"""Longest horizon accepted (50 years): longer runs are a typo or would exhaust memory."""

MAX_SERIES_BYTES = 2 * 2**30
"""Largest estimated size of a run's daily series."""


class RecoverySpec(_Model):
    """How 'recovered' is judged: daily exports within a tolerance of the baseline."""

    tolerance: Fraction = Field(0.02, description="Relative tolerance on windowed exports (default 2 %).")
    window: PositiveDuration = Field(7.0, description="Window over which daily exports are compared.")


class Scenario(_Model):
    """A run: a network, a horizon from a start date, a seed, a price and shocks."""

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        description=f"Scenario name (used for the results folder): at most {MAX_NAME_CHARS} characters, no control characters.",
    )
    description: str = Field("", description="The question this scenario answers.")
    network: Network = Field(description="The network, inline or as a path to a network file (with overrides).")
    start_date: Date = Field(description="First simulated day.")
    horizon: Horizon = Field(description="Simulated length (e.g. '365 d'), at least 1 d.")
    timezone: str = Field(
        DEFAULT_TIMEZONE,
        description=(
            "The clock of the run: days start at midnight in this zone, and a shock's start or end given as a "
            "date and time without an offset is read in it. A UTC offset ('+03:00') or 'UTC'. The default, "
            "+03:00, is Moscow time, in which CPC and the Russian authorities report."
        ),
    )
    seed: int = Field(0, strict=True, ge=0, lt=2**63, description="Root seed; fixes every random draw.")
    replications: int = Field(
        1,
        strict=True,
        description=(
            "Replications to run (an ensemble when more than 1): each draws its shocks from its own "
            "streams of the seed; results give mean, P10/P50/P90 per metric. 'routesim run -n' overrides it. "
            f"At most {MAX_REPLICATIONS:,} and about {MAX_ENSEMBLE_BYTES // 2**30} GiB of kept results."
        ),
    )
    price: Price = Field(0.0, description="Crude price for revenue (e.g. '100 USD/bbl').")
    recovery: RecoverySpec = Field(default_factory=RecoverySpec, description="Recovery criterion.")
    shocks: list[Shock] = Field(default_factory=list, description="Shocks injected into the network.")
    observed: dict[str, ObservedFigure] = Field(
        default_factory=dict,
        description="Reported figures a backtest compares with the model (routesim backtest), by figure name.",
    )

    @classmethod
    def model_validate(cls, obj: Any, *, context: dict | None = None, **kwargs: Any) -> Scenario:
        """Validate, converting barrels with the grade the scenario's network declares."""
        return super().model_validate(obj, context=grade_context(obj, context, "network"), **kwargs)

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("the name holds control characters; expected printable text (it names a folder)")
        return value

    @field_validator("replications")
    @classmethod
    def _replications_fit(cls, value: int, info: ValidationInfo) -> int:
        horizon = info.data.get("horizon")
        problem = replications_problem(value, horizon if isinstance(horizon, float) else None)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _shocks_fit(self) -> Scenario:
        problems = []
        net = self.network
        columns = 4 * len(net.routes) + 5 * len(net.sources) + 2 * len(net.legs) + 6
        estimate = self.horizon * columns * 8 * 3  # float64 series, scenario + baseline + CSV text
        if self.horizon > MAX_HORIZON_D or estimate > MAX_SERIES_BYTES:
            problems.append(
                f"@horizon: {self.horizon:g} d would need about {estimate / 2**20:,.0f} MiB of daily series "
                f"and a run of {self.horizon / 365:,.0f} years; refusing (at most {MAX_HORIZON_D:g} d)"
            )
        occurrences = 0.0
        for i, shock in enumerate(self.shocks):
            where = f"shocks.{i}"
            try:
                target = resolve_target(self.network, shock)
            except ValueError as exc:
                problems.append(f"@{where}.target: {exc}")
            else:
                port = net.ports.get(target.name) if target.kind == "port" else None
                if shock.berths_out is not None and port is not None and shock.berths_out > port.berths:
                    problems.append(
                        f"@{where}.berths_out: {shock.berths_out} berths out, but {target.name} has "
                        f"{port.berths}; expected at most {port.berths}"
                    )
            if isinstance(shock.start, dt.date):
                offset = self.days_after_start(shock.start)
                if offset < 0:
                    problems.append(f"@{where}.start: {shock.start} is before start_date {self.start_date}")
                elif offset >= self.horizon:
                    problems.append(f"@{where}.start: {shock.start} is after the horizon ends")
                elif shock.end is not None and self.days_after_start(shock.end) <= offset:
                    problems.append(f"@{where}.end: {shock.end} is not after the start ({shock.start})")
            elif isinstance(shock.start, float) and shock.start >= self.horizon:
                problems.append(f"@{where}.start: day {shock.start:g} is not inside the horizon ({self.horizon:g} d)")
            if shock.recurring is not None and self.horizon <= MAX_HORIZON_D:
                expected = shock.recurring.expected(self.start_date, self.horizon)
                occurrences += expected
                if occurrences > MAX_OCCURRENCES:
                    problems.append(
                        f"@{where}.recurring.rate: the recurring shocks would have about {occurrences:,.0f} "
                        f"occurrences over the horizon ({expected:,.0f} from this one); refusing more than "
                        f"{MAX_OCCURRENCES:,} (a rate is per calendar month)"
                    )
                    occurrences = -math.inf  # report once
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _observed_fit(self) -> Scenario:
        problems = []
        net = self.network
        last_legs = {route.legs[-1] for route in net.routes.values()}
        end = self.start_date + dt.timedelta(days=math.ceil(self.horizon - 1e-9) - 1)
        for name, figure in self.observed.items():
            where = f"observed.{name}"
            for name_of, window in (("window", figure.window), ("versus", figure.versus)):
                if window is None:
                    continue
                for key in ("start", "end"):
                    day = getattr(window, key)
                    if not self.start_date <= day <= end:
                        problems.append(
                            f"@{where}.{name_of}.{key}: {day} is outside the run ({self.start_date} to {end})"
                        )
            kind = WINDOW_METRICS.get(figure.metric, ("", ""))[1]
            for target in figure.targets():
                if kind == "production" and target not in net.sources:
                    known = ", ".join(sorted(net.sources))
                    problems.append(f"@{where}.target: no source named {target!r}; known: {known}")
                elif kind == "loading" and not (isinstance(net.legs.get(target), SeaLeg) and target in last_legs):
                    known = ", ".join(
                        sorted(n for n, leg in net.legs.items() if isinstance(leg, SeaLeg) and n in last_legs)
                    )
                    problems.append(
                        f"@{where}.target: {target!r} is not a sea leg that delivers to a market; known: {known}"
                    )
                elif kind == "route" and target not in net.routes:
                    known = ", ".join(sorted(net.routes))
                    problems.append(f"@{where}.target: no route named {target!r}; known: {known}")
                elif kind == "tank" and (target not in net.legs or net.legs[target].inlet_storage is None):
                    known = ", ".join(sorted(n for n, leg in net.legs.items() if leg.inlet_storage is not None))
                    problems.append(f"@{where}.target: {target!r} is not a leg with inlet tanks; known: {known}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        timezone_offset(value)
        return value

    def days_after_start(self, moment: dt.date | dt.datetime) -> float:
        """Days from midnight of start_date (in the scenario's timezone) to a date or a date and time."""
        if not isinstance(moment, dt.datetime):
            return float((moment - self.start_date).days)
        zone = timezone_offset(self.timezone)
        local = moment.astimezone(zone).replace(tzinfo=None) if moment.tzinfo is not None else moment
        return (local - dt.datetime.combine(self.start_date, dt.time())) / dt.timedelta(days=1)

    def start_offset(self, shock: Shock) -> float | Distribution:
        """The shock's start as days after start_date (a number or a distribution)."""
        if shock.start is None:
            raise ValueError(f"shock {shock.name or shock.kind!r} recurs: it has no single start")
        if isinstance(shock.start, dt.date):
            return self.days_after_start(shock.start)
        return shock.start

    def duration_of(self, shock: Shock) -> float | Distribution:
        """How long a one-off shock lasts, in days: its duration, or from its start to its end."""
        if shock.end is not None:
            return self.days_after_start(shock.end) - self.days_after_start(shock.start)
        if shock.duration is None:
            raise ValueError(f"shock {shock.name or shock.kind!r} recurs: it has no single duration")
        return shock.duration

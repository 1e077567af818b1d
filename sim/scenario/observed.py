"""Observed figures: what a history file reports, for the backtest to compare with the model.

``IMPACT_METRICS`` are whole-run metrics (keys of the impact table); ``WINDOW_METRICS`` are measured
on the daily series over a window of dates.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim.scenario.quantities import Date, _Model, quantity

__all__ = [
    "CHANGE_METRICS",
    "IMPACT_METRICS",
    "OBSERVED_METRICS",
    "WINDOW_METRICS",
    "Confidence",
    "ObservedFigure",
    "ObservedWindow",
    "Tolerance",
]

# --- observed figures (backtests) --------------------------------------------------------

IMPACT_METRICS: dict[str, str] = {
    "exported_t": "mass",
    "baseline_exported_t": "mass",
    "lost_export_t": "mass",
    "lost_shut_in_t": "mass",
    "lost_cut_t": "mass",
    "lost_production_outage_t": "mass",
    "lost_inventory_t": "mass",
    "deferred_t": "mass",
    "peak_deficit_t": "mass",
    "shut_in_t": "mass",
    "cut_t": "mass",
    "rerouted_t": "mass",
    "peak_storage_t": "mass",
    "days_storage_full_d": "duration",
    "time_to_survive_d": "duration",
    "time_to_recover_d": "duration",
}
"""Whole-run metrics (keys of ``Impact.values``) an observed figure may name, with their dimension.

Barrel metrics are not listed: write a figure reported in barrels on the tonne metric with a
barrel unit (``lost_export_t: "30 Mbbl"``); it is converted with the network's grade.
"""

WINDOW_METRICS: dict[str, tuple[str, str]] = {
    "loaded_t": ("mass", "loading"),
    "loading_rate": ("rate", "loading"),
    "loading_ratio": ("fraction", "loading"),
    "loading_loss_t": ("mass", "loading"),
    "loading_stop_d": ("duration", "loading"),
    "tank_full_after_d": ("duration", "tank"),
    "production_rate": ("rate", "production"),
    "production_loss_t": ("mass", "production"),
    "min_production_ratio": ("fraction", "production"),
    "shut_in_window_t": ("mass", "production"),
    "intake_t": ("mass", "route"),
    "intake_rate": ("rate", "route"),
    "intake_stop_d": ("duration", "route"),
    "loading_change": ("fraction", "loading"),
    "production_change": ("fraction", "production"),
    "intake_change": ("fraction", "route"),
}
"""Metrics of the daily series over a ``window`` (dates, both included): name -> (dimension, target kind).

loading (``target``: a sea leg that delivers to a market; tonnes loaded per day are what
goes aboard its tankers): ``loaded_t`` total loaded; ``loading_rate`` mean t/d loaded;
``loading_ratio`` loaded / the baseline's loaded; ``loading_loss_t`` baseline's loaded -
loaded; ``loading_stop_d`` longest run of consecutive days with nothing loaded.
tank (``target``: a leg with inlet tanks): ``tank_full_after_d`` days from the window's
start to the first day the tanks are at least 99 % full (none if they never are).
production (``target``: a source, a list of sources, or omitted for all):
``production_rate`` mean t/d produced; ``production_loss_t`` baseline's produced - produced;
``min_production_ratio`` lowest daily produced / baseline's produced; ``shut_in_window_t``
shut-in above the baseline's (production held back for lack of an outlet, not outages).
route (``target``: a route or a list of routes; what a shipper sends into the first leg, e.g. one
field's CPC intake): ``intake_t`` total; ``intake_rate`` mean t/d; ``intake_stop_d`` longest run of
consecutive days with nothing sent.
changes (``versus``: a second window, e.g. the month before): ``loading_change``,
``production_change``, ``intake_change`` = mean daily rate over ``window`` / mean daily rate over
``versus``, as month-on-month figures are reported (0.97 = down 3 %).
"""

CHANGE_METRICS = frozenset({"loading_change", "production_change", "intake_change"})
"""Windowed metrics that compare two windows of the same run (they need ``versus``)."""

OBSERVED_METRICS: dict[str, str] = {**IMPACT_METRICS, **{k: v[0] for k, v in WINDOW_METRICS.items()}}
"""Every metric an observed figure may name, with the dimension its value is read in."""

_OBSERVED_QUANTITIES = {dimension: quantity(dimension) for dimension in set(OBSERVED_METRICS.values())}

Confidence = Literal["H", "M", "L", "D", "U"]
Tolerance = quantity("fraction", minimum=0)


class ObservedWindow(_Model):
    """The days a windowed metric covers (both dates included)."""

    start: Date = Field(description="First day of the window.")
    end: Date = Field(description="Last day of the window (included).")

    @model_validator(mode="after")
    def _ordered(self) -> ObservedWindow:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


_REPORTED_JSON = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "description": "a quantity with a unit, in the metric's dimension (e.g. '3.5 Mt', '5 d')"},
        {"type": "null"},
    ]
}


class ObservedFigure(_Model):
    """A reported figure a backtest compares with the model's value of ``metric``."""

    metric: str = Field(
        description=(
            "What is compared: a whole-run metric (a key of the impact table: lost_export_t, "
            "time_to_survive_d, ...) or a windowed metric of the daily series (loaded_t, loading_rate, "
            "loading_ratio, loading_loss_t, loading_stop_d, tank_full_after_d, production_rate, "
            "production_loss_t, min_production_ratio, shut_in_window_t, intake_t, intake_rate, intake_stop_d, "
            "loading_change, production_change, intake_change); see sim/scenario/observed.py."
        ),
        json_schema_extra={"enum": sorted(OBSERVED_METRICS)},
    )
    target: str | list[str] | None = Field(
        None,
        description=(
            "For windowed metrics: the sea leg (loading metrics), the leg with inlet tanks (tank metric), "
            "the source(s) (production metrics; omitted = all sources), or the route(s) (intake metrics)."
        ),
    )
    window: ObservedWindow | None = Field(None, description="Days a windowed metric covers; required for those.")
    versus: ObservedWindow | None = Field(
        None,
        description=(
            "For the change metrics (loading_change, production_change, intake_change): the window compared "
            "with, e.g. the month before; the value is the ratio of the mean daily rates."
        ),
    )
    value: Annotated[float | None, WithJsonSchema(_REPORTED_JSON)] = Field(
        None, description="The reported value, with a unit of the metric's dimension (or give low/high)."
    )
    low: Annotated[float | None, WithJsonSchema(_REPORTED_JSON)] = Field(
        None, description="Lower end of a reported range (alone: 'at least')."
    )
    high: Annotated[float | None, WithJsonSchema(_REPORTED_JSON)] = Field(
        None, description="Upper end of a reported range (alone: 'at most')."
    )
    tolerance: Tolerance = Field(
        description="Relative tolerance: the model agrees if within value x (1 +/- tolerance), or the range widened so."
    )
    why: str = Field(min_length=1, description="One line justifying the tolerance.")
    source: str = Field(min_length=1, description="URL of the report (or 'D: ...' for a derived figure).")
    date: Date | None = Field(None, description="Date of the report.")
    confidence: Confidence = Field(
        description="Confidence grade of the figure as in the reference: H, M, L, D (derived) or U (unverified)."
    )
    note: str = Field("", description="Quote, derivation, or caveat.")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in OBSERVED_METRICS:
            from difflib import get_close_matches

            near = get_close_matches(metric, list(OBSERVED_METRICS), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"expected one of: {', '.join(sorted(OBSERVED_METRICS))}"
            raise ValueError(f"unknown metric {metric!r}; {hint}")
        return metric

    @field_validator("value", "low", "high", mode="plain")
    @classmethod
    def _reported_quantity(cls, raw: Any, info: ValidationInfo) -> float | None:
        if raw is None:
            return None
        metric = info.data.get("metric")
        if metric is None:
            return None  # the metric's own error is reported; the value cannot be read without it
        dimension = OBSERVED_METRICS[metric]
        try:
            return TypeAdapter(_OBSERVED_QUANTITIES[dimension]).validate_python(raw, context=info.context)
        except ValidationError as exc:
            message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"{message} ({metric} is a {dimension})") from None

    @model_validator(mode="after")
    def _consistent(self) -> ObservedFigure:
        if self.value is None and self.low is None and self.high is None:
            raise ValueError("give the reported value, or low and/or high")
        if self.value is not None and (self.low is not None or self.high is not None):
            raise ValueError("give either value or low/high, not both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is above high ({self.high:g})")
        windowed = self.metric in WINDOW_METRICS
        if windowed and self.window is None:
            raise ValueError(f"{self.metric} is measured over a window: give window.start and window.end")
        if not windowed and (self.window is not None or self.target is not None):
            raise ValueError(f"{self.metric} covers the whole run: it takes no window or target")
        kind = WINDOW_METRICS[self.metric][1] if windowed else ""
        if kind == "route" and not self.targets():
            raise ValueError(f"{self.metric} needs a target: a route name or a list of route names")
        if kind in ("loading", "tank") and not isinstance(self.target, str):
            raise ValueError(f"{self.metric} needs a target: one leg name")
        if self.metric in CHANGE_METRICS and self.versus is None:
            raise ValueError(f"{self.metric} compares two windows: give versus (e.g. the month before) as well")
        if self.metric not in CHANGE_METRICS and self.versus is not None:
            raise ValueError(f"versus applies to {', '.join(sorted(CHANGE_METRICS))}, not {self.metric}")
        return self

    def targets(self) -> list[str]:
        """The target as a list of names (empty: all sources)."""
        if self.target is None:
            return []
        return [self.target] if isinstance(self.target, str) else list(self.target)

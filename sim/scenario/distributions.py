"""Uncertain numbers: a fixed registry of distributions, never ``eval``.

A shock field may hold a plain quantity or a mapping such as
``{dist: lognormal, median: "30 d", sigma: 0.5}``. Parameters carry the field's unit and
are converted like any other quantity. Draws use a ``numpy.random.Generator`` that the
caller owns, so a seed fixes every draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from sim.units import Grade, UnitError, parse_quantity

__all__ = ["DISTRIBUTION_JSON_SCHEMA", "REGISTRY", "Distribution", "draw", "parse_distribution", "truncated_normal_ppf"]


@dataclass(frozen=True)
class Distribution:
    """A named distribution with parameters in canonical units (t, d, t/d, ...)."""

    dist: str
    params: tuple[tuple[str, float], ...] = ()
    values: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()

    @property
    def p(self) -> dict[str, float]:
        """The parameters as a dict."""
        return dict(self.params)

    def frozen(self) -> Any:
        """The equivalent frozen ``scipy.stats`` distribution (for quantiles and plots)."""
        from scipy import stats  # imported here: scipy.stats costs ~0.5 s, and most runs draw nothing

        p = self.p
        if self.dist == "lognormal":
            return stats.lognorm(s=p["sigma"], scale=p["median"])
        if self.dist == "uniform":
            return stats.uniform(loc=p["low"], scale=p["high"] - p["low"])
        if self.dist == "triangular":
            width = p["high"] - p["low"]
            c = 0.5 if width == 0 else (p["mode"] - p["low"]) / width
            return stats.triang(c=c, loc=p["low"], scale=width)
        if self.dist == "normal":
            sd = p["sd"]
            a = (p["low"] - p["mean"]) / sd
            b = (p["high"] - p["mean"]) / sd
            return stats.truncnorm(a=a, b=b, loc=p["mean"], scale=sd)
        if self.dist == "discrete":
            return stats.rv_discrete(values=(np.arange(len(self.values)), np.array(self.weights)))
        raise KeyError(self.dist)

    def support(self) -> tuple[float, float]:
        """The lowest and highest values a draw can take."""
        p = self.p
        if self.dist == "discrete":
            return min(self.values), max(self.values)
        if self.dist == "lognormal":
            return 0.0, math.inf
        return p["low"], p["high"]

    def draw(self, rng: np.random.Generator) -> float:
        """One draw, using ``rng`` only (no global state)."""
        p = self.p
        if self.dist == "lognormal":
            return float(p["median"] * math.exp(p["sigma"] * rng.standard_normal()))
        if self.dist == "uniform":
            return float(rng.uniform(p["low"], p["high"]))
        if self.dist == "triangular":
            if p["low"] == p["high"]:
                return float(p["low"])
            return float(rng.triangular(p["low"], p["mode"], p["high"]))
        if self.dist == "normal":
            # Truncated normal by inversion: one uniform per draw, monotone in the uniform.
            return truncated_normal_ppf(float(rng.uniform()), p["mean"], p["sd"], p["low"], p["high"])
        if self.dist == "discrete":
            index = rng.choice(len(self.values), p=np.array(self.weights))
            return float(self.values[int(index)])
        raise KeyError(self.dist)

    def describe(self) -> dict[str, Any]:
        """A plain mapping for manifests (canonical units)."""
        out: dict[str, Any] = {"dist": self.dist, **self.p}
        if self.values:
            out["values"] = list(self.values)
            out["weights"] = list(self.weights)
        return out


REGISTRY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (required parameters with the field's unit, parameters that are plain numbers)
    "lognormal": (("median",), ("sigma",)),
    "uniform": (("low", "high"), ()),
    "triangular": (("low", "mode", "high"), ()),
    "normal": (("mean", "sd"), ()),
    "discrete": ((), ()),
}
"""The distributions a scenario may name, with their parameters."""


DISTRIBUTION_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "An uncertain number drawn per replication. Parameters carry the field's unit. "
        "lognormal(median, sigma), uniform(low, high), triangular(low, mode, high), "
        "normal(mean, sd[, low, high]) truncated, discrete(values[, weights])."
    ),
    "properties": {
        "dist": {"enum": sorted(REGISTRY)},
        "median": {},
        "sigma": {"type": "number"},
        "low": {},
        "high": {},
        "mode": {},
        "mean": {},
        "sd": {},
        "values": {"type": "array"},
        "weights": {"type": "array", "items": {"type": "number"}},
    },
    "required": ["dist"],
    "additionalProperties": False,
}
"""JSON Schema of a distribution mapping (used in the scenario schema)."""


def parse_distribution(raw: dict, dimension: str, grade: Grade) -> Distribution:
    """Validate a ``{dist: ..., ...}`` mapping; raise UnitError/ValueError with a clear cause."""
    name = raw.get("dist")
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"unknown distribution {name!r}; expected one of {', '.join(sorted(REGISTRY))}")
    unit_params, plain_params = REGISTRY[name]
    allowed = set(unit_params) | set(plain_params) | {"dist"}
    if name == "normal":
        allowed |= {"low", "high"}
    if name == "discrete":
        allowed |= {"values", "weights"}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ValueError(f"{name} does not take {', '.join(extra)}; it takes {', '.join(sorted(allowed - {'dist'}))}")
    missing = [k for k in (*unit_params, *plain_params) if k not in raw]
    if missing:
        raise ValueError(f"{name} needs {', '.join(missing)}")

    def quantity(key: str) -> float:
        try:
            return parse_quantity(raw[key], dimension, grade)
        except UnitError as exc:
            raise ValueError(f"{name}.{key}: {exc}") from None

    params: dict[str, float] = {k: quantity(k) for k in unit_params}
    for key in plain_params:
        try:
            params[key] = parse_quantity(raw[key], "fraction", grade)
        except UnitError as exc:
            raise ValueError(f"{name}.{key}: {exc}") from None

    if name == "lognormal":
        if params["median"] <= 0:
            raise ValueError("lognormal median must be > 0")
        if params["sigma"] < 0:
            raise ValueError("lognormal sigma must be >= 0")
    elif name in ("uniform", "triangular"):
        if params["low"] > params["high"]:
            raise ValueError(f"{name} needs low <= high")
        if name == "triangular" and not params["low"] <= params["mode"] <= params["high"]:
            raise ValueError("triangular needs low <= mode <= high")
    elif name == "normal":
        if params["sd"] <= 0:
            raise ValueError("normal sd must be > 0")
        params["low"] = quantity("low") if "low" in raw else 0.0
        params["high"] = quantity("high") if "high" in raw else math.inf
        if params["low"] >= params["high"]:
            raise ValueError("normal needs low < high")
        sd = params["sd"]
        if _phi((params["high"] - params["mean"]) / sd) - _phi((params["low"] - params["mean"]) / sd) < 1e-9:
            raise ValueError("normal: almost no probability lies between low and high")
    elif name == "discrete":
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise ValueError("discrete needs a non-empty list of values")
        parsed_values = []
        for v in values:
            try:
                parsed_values.append(parse_quantity(v, dimension, grade))
            except UnitError as exc:
                raise ValueError(f"discrete.values: {exc}") from None
        weights = raw.get("weights", [1.0] * len(values))
        if not isinstance(weights, list) or len(weights) != len(values):
            raise ValueError("discrete weights must be a list as long as values")
        try:
            parsed_weights = [float(w) for w in weights]
        except (TypeError, ValueError, OverflowError):
            raise ValueError("discrete weights must be numbers") from None
        if any(not math.isfinite(w) or w < 0 for w in parsed_weights) or not 0 < sum(parsed_weights) < math.inf:
            raise ValueError("discrete weights must be finite, >= 0, and not all zero")
        total = sum(parsed_weights)
        return Distribution(
            name,
            values=tuple(parsed_values),
            weights=tuple(w / total for w in parsed_weights),
        )
    return Distribution(name, params=tuple(sorted(params.items())))


_STANDARD = NormalDist()
_TINY = math.ulp(0.0) * 2**52  # the smallest normal float: inv_cdf needs 0 < p < 1


def _phi(x: float) -> float:
    """The standard normal CDF, by erfc: accurate far into the lower tail (erf would cancel)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _standard_ppf(u: float, a: float, b: float) -> float:
    """Inverse CDF of the standard normal truncated to [a, b] (a <= 0 here) at ``u`` in [0, 1)."""
    if u <= 0.0:
        return a
    lo, hi = _phi(a), _phi(b)
    p = min(max(lo + u * (hi - lo), _TINY), 1.0 - 2**-53)
    return min(max(_STANDARD.inv_cdf(p), a), b)


def truncated_normal_ppf(u: float, mean: float, sd: float, low: float, high: float) -> float:
    """The value at ``u`` in [0, 1) of a normal(mean, sd) truncated to [low, high], by inversion.

    Pure Python (``statistics.NormalDist``): no scipy import for a draw. Bounds in the upper
    tail are reflected into the lower one, where the CDF's differences keep their precision.
    Agrees with ``scipy.stats.truncnorm.ppf`` to about 1e-9 of ``sd`` (tested), not bit for bit:
    runs that drew a normal with earlier versions (through scipy) differ in the last digits.
    """
    a, b = (low - mean) / sd, (high - mean) / sd
    if a > 0:
        return mean - sd * _standard_ppf(1.0 - u, -b, -a)
    return mean + sd * _standard_ppf(u, a, b)


def draw(value: float | Distribution, rng: np.random.Generator) -> float:
    """A fixed number as it is, or one draw of a distribution."""
    if isinstance(value, Distribution):
        return value.draw(rng)
    return value

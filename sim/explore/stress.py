"""Reverse stress tests: how bad before a limit is passed.

``run_stress`` finds the smallest value of one parameter (an outage's length, moorings lost, a
capacity) at which a percentile of a metric crosses a threshold, by bisection on common random
numbers (every evaluation runs replications 0..N-1 of the same seed). It evaluates both ends of
the range; if the metric is on the same side of the threshold at both, there is no break in the
range and it says so. Otherwise it halves the bracket until it is narrower than ``tol`` (for a
whole-number parameter: until its ends are neighbours), then evaluates the metric's curve around
the break. The break is the upper end of the final bracket: the smallest value tried at which the
metric is on the far side of the threshold. Bisection assumes one crossing in the range (a
metric monotone in the parameter, as lost volume is in an outage's length); ``attrs['monotone']``
says whether the points it tried bear that out, and the command warns when they do not.

A parameter that lowers the metric (a bypass capacity against lost volume) works the same way:
the break is then the smallest value at which the metric has fallen below the threshold.

``run_survival`` closes each route in turn from the first day to the horizon (the scenario's own
shocks removed, its background shocks kept) and reports the time to survive: days until
shut-in starts, given the other routes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.metrics import _unit_of
from sim.ensemble import PERCENTILE_METHOD, PERCENTILES, run_ensemble
from sim.explore.params import assignments, get_path, parse_interval, quantity_text, split_quantity, with_overrides
from sim.explore.sweep import check_metrics, evaluate, point_stats, study_attrs
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_resolved
from sim.units import Grade, UnitError, parse_quantity

__all__ = ["monotone", "parse_threshold", "run_stress", "run_survival"]

Progress = Callable[[int, int], None]

MAX_EVALUATIONS = 60
"""Most ensembles one stress test runs during bisection (each halves the bracket)."""

_SCALES: dict[str, dict[str, float]] = {
    "bbl": {"bbl": 1.0, "kbbl": 1e3, "Mbbl": 1e6},
    "USD": {"USD": 1.0, "kUSD": 1e3, "MUSD": 1e6, "bnUSD": 1e9},
    "t*d": {"t*d": 1.0, "kt*d": 1e3, "Mt*d": 1e6},
    "USD/bbl": {"USD/bbl": 1.0},
    "1": {},
}


def parse_threshold(text: str | float, metric: str, grade: Grade | None = None) -> float:
    """A threshold in the metric's canonical unit: ``1Mt`` for a tonnes metric, ``30d`` for days,
    ``2 bnUSD`` for dollars; a bare number is in the canonical unit. Raises ScenarioError."""
    unit = _unit_of(metric)
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    try:
        if unit == "t":
            return parse_quantity(str(text), "mass", grade)
        if unit == "d":
            return parse_quantity(str(text), "duration")
        number, given = _split(str(text))
        scales = _SCALES.get(unit, {})
        if not given:
            return number
        if given.replace(" ", "") not in scales:
            raise UnitError(f"unit {given!r} is not one of {', '.join(scales) or 'none (a plain number)'}")
        return number * scales[given.replace(" ", "")]
    except (UnitError, ValueError) as exc:
        raise ScenarioError.single(
            "<--threshold>", f"{exc}; expected a value in {unit} such as 1Mt, 30d or 2 bnUSD", None, metric
        ) from None


def _split(text: str) -> tuple[float, str]:
    text = text.strip()
    for suffix in ("bn USD", "bnUSD"):
        if text.endswith(suffix):
            number, _ = split_quantity(text[: -len(suffix)])
            return number, "bnUSD"
    head = text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ*/ ")
    return float(head.replace("_", "")), text[len(head) :].strip()


def _default_interval(loaded: LoadedScenario, param: str) -> tuple[float, float, str]:
    if param.rsplit(".", 1)[-1] in ("duration", "start"):
        return 0.0, float(loaded.scenario.horizon), "d"
    raise ScenarioError.single(
        "<--range>",
        "no range given; expected --range low:high for a parameter other than a shock's duration",
        None,
        param,
    )


def _integer_parameter(loaded: LoadedScenario, param: str, low: float, high: float, unit: str) -> bool:
    """Whether the parameter takes whole numbers: given as one in the file, and the range is whole."""
    try:
        current = get_path(loaded.resolved, param.split("+")[0])
    except ScenarioError:
        return False
    return (
        not unit
        and isinstance(current, int)
        and not isinstance(current, bool)
        and float(low).is_integer()
        and float(high).is_integer()
    )


NEVER_METRICS = ("time_to_survive_d", "time_to_recover_d")
"""Metrics undefined when the event never happens within the horizon: read as infinitely late."""


def _percentile(values: np.ndarray, metric: str, q: float) -> float:
    """The ``q`` percentile of a metric over replications. A time to survive or recover that is undefined
    (never within the horizon) counts as infinite, and the percentile is then numpy's "lower" (an observed
    value, never inf - inf); other undefined values are left out."""
    if metric in NEVER_METRICS and np.isnan(values).any():
        return float(np.percentile(np.where(np.isnan(values), math.inf, values), q, method="lower"))
    defined = values[~np.isnan(values)]
    return float(np.percentile(defined, q, method=PERCENTILE_METHOD)) if defined.size else math.nan


def monotone(values: Sequence[float]) -> bool:
    """Whether ``values`` (in the parameter's order) never rise and fall both, ignoring undefined ones:
    bisection's premise. Equal neighbours are allowed."""
    steps = np.diff([v for v in values if not math.isnan(v)])
    return not (np.any(steps > 0) and np.any(steps < 0))


def run_stress(
    loaded: LoadedScenario,
    param: str,
    metric: str,
    threshold: str | float,
    interval: str | None = None,
    percentile: float = 50,
    n: int = 1,
    seed: int | None = None,
    jobs: int = 1,
    tol: str | float | None = None,
    curve_points: int = 9,
    progress: Progress | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """Find the smallest value of ``param`` in ``interval`` ("low:high" with units; default 0 d to the
    horizon for a shock's duration or start) at which the ``percentile`` of ``metric`` over ``n``
    replications crosses ``threshold``; return every evaluation (value, the percentile, mean,
    P10/P50/P90, which side, phase) sorted by value. ``attrs`` hold ``crossed``, ``break``,
    ``bracket``, ``precision`` and the rest of the study. ``tol`` (default: range / 1000) is the
    width at which bisection stops, in the range's unit.
    """
    if not 0 <= percentile <= 100:
        raise ScenarioError.single("<--percentile>", f"{percentile!r} is not a percentile; expected 0 to 100")
    check_metrics(loaded, [metric])
    seed = loaded.scenario.seed if seed is None else int(seed)
    grade = loaded.scenario.network.grade.as_grade()
    limit = parse_threshold(threshold, metric, grade)
    low, high, unit = parse_interval(interval, param, "--range") if interval else _default_interval(loaded, param)
    integer = _integer_parameter(loaded, param, low, high, unit)
    if tol is None:
        step = 1.0 if integer else (high - low) / 1000
    elif isinstance(tol, str):
        try:
            step, tol_unit = split_quantity(tol)
        except ValueError as exc:
            raise ScenarioError.single("<--tol>", f"{exc}; expected a width such as 0.5d", None, param) from None
        if tol_unit and tol_unit != unit:
            raise ScenarioError.single("<--tol>", f"give the tolerance in the range's unit {unit!r}", None, param)
    else:
        step = float(tol)
    if not step > 0:
        raise ScenarioError.single("<--tol>", f"the tolerance must be > 0, got {tol!r}", None, param)
    for x in (low, high):  # bad values fail here, before anything runs
        with_overrides(loaded, assignments(param, quantity_text(x, unit)))
    started = time.perf_counter()
    evaluated: dict[float, dict[str, Any]] = {}
    budget = MAX_EVALUATIONS + curve_points + 2

    def f(x: float, phase: str) -> float:
        x = float(round(x)) if integer else float(f"{x:.12g}")
        if x not in evaluated:
            point = with_overrides(loaded, assignments(param, quantity_text(x, unit)))
            ens = evaluate(point, n, seed, jobs, **ensemble_options)
            value = _percentile(np.asarray(ens[metric], dtype=float), metric, percentile)
            evaluated[x] = {
                param: x,
                "phase": phase,
                "metric_value": value,
                "at_or_above_threshold": bool(value >= limit),
                **point_stats(ens, [metric], PERCENTILES),
            }
            if progress:
                progress(len(evaluated), budget)
        return evaluated[x]["metric_value"]

    def side(x: float, phase: str) -> bool:
        return bool(f(x, phase) >= limit)

    at_low, at_high = side(low, "end"), side(high, "end")
    crossed = at_low != at_high
    lo, hi = low, high
    evaluations = 0
    if crossed:
        while evaluations < MAX_EVALUATIONS and (hi - lo > 1 if integer else hi - lo > step):
            mid = math.floor((lo + hi) / 2) if integer else (lo + hi) / 2
            if side(mid, "bisection") == at_high:
                hi = mid
            else:
                lo = mid
            evaluations += 1
        width = max((high - low) / 10, 5 * step)
        centre = hi
    else:
        width, centre = (high - low) / 2, (low + high) / 2
    grid = np.linspace(max(low, centre - width), min(high, centre + width), max(2, curve_points))
    for x in grid:
        f(float(x), "curve")
    table = pd.DataFrame(sorted(evaluated.values(), key=lambda row: row[param])).reset_index(drop=True)
    table.insert(0, "metric", metric)
    ordered = monotone(list(table["metric_value"]))
    table.attrs = study_attrs(
        loaded,
        "stress",
        seed,
        n,
        param=param,
        unit=unit,
        range=[low, high],
        integer=integer,
        metric=metric,
        metric_unit=_unit_of(metric),
        threshold=limit,
        threshold_text=str(threshold),
        percentile=float(percentile),
        direction=("rises to or above" if at_high else "falls below") if crossed else None,
        crossed=crossed,
        at_low=f(low, "end"),
        at_high=f(high, "end"),
        **{"break": hi if crossed else None},
        bracket=[lo, hi] if crossed else None,
        precision=(hi - lo) if crossed else None,
        tolerance=step,
        monotone=ordered,
        evaluations=len(evaluated),
        bisection_steps=evaluations,
        wall_time_s=time.perf_counter() - started,
    )
    return table


def run_survival(
    loaded: LoadedScenario,
    n: int = 1,
    seed: int | None = None,
    jobs: int = 1,
    percentile: float = 50,
    routes: Sequence[str] | None = None,
    progress: Progress | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """For each route (default: all), close it from day 0 to the horizon with the scenario's own
    shocks removed (background shocks kept) and report the days until shut-in starts.

    Columns: route, its normal flow (t/d), ``survival_d`` (the ``percentile`` over replications of
    the time to survive, numpy's "lower" method: an observed value, the pessimistic neighbour;
    inf where production is never shut in within the horizon), the share of
    replications with any shut-in, and the lost export volume's mean and P10/P50/P90.
    """
    seed = loaded.scenario.seed if seed is None else int(seed)
    network = loaded.scenario.network
    names = list(network.routes) if routes is None else list(routes)
    for name in names:
        if name not in network.routes:
            raise ScenarioError.single(
                "<--route>", f"no route named {name!r}; expected one of: {', '.join(network.routes)}"
            )
    horizon = float(loaded.scenario.horizon)
    background = [
        shock
        for shock, spec in zip(loaded.resolved.get("shocks", []), loaded.scenario.shocks, strict=True)
        if spec.background
    ]
    started = time.perf_counter()
    rows = []
    for done, name in enumerate(names, start=1):
        data = dict(loaded.resolved)
        closure = {
            "name": f"{name} closed",
            "kind": "closure",
            "target": name,
            "start": "0 d",
            "duration": quantity_text(horizon, "d"),
        }
        data["shocks"] = [*background, closure]
        point = load_resolved(data, loaded.path)
        ens = run_ensemble(point.scenario, n, seed=seed, jobs=jobs, **ensemble_options)
        survive = np.asarray(ens["time_to_survive_d"], dtype=float)
        survive = np.where(np.isnan(survive), math.inf, survive)
        value = float(
            np.percentile(survive, percentile, method="lower")  # an observed value, never inf - inf
        )
        rows.append(
            {
                "route": name,
                "normal_t_per_d": float(network.routes[name].normal),
                "survival_d": value,
                "share_shut_in": float(np.mean(np.isfinite(survive))),
                **point_stats(ens, ["lost_export_t"], PERCENTILES),
            }
        )
        if progress:
            progress(done, len(names))
    table = pd.DataFrame(rows)
    table.attrs = study_attrs(
        loaded,
        "survival",
        seed,
        n,
        percentile=float(percentile),
        horizon_d=horizon,
        routes=names,
        wall_time_s=time.perf_counter() - started,
    )
    return table

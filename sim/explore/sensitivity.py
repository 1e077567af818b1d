"""Global sensitivity: which uncertain input drives a metric (Sobol indices or Morris screening).

Inputs are the scenario's fields given as distributions (``duration: {dist: uniform, ...}``) and
any bounds given on the command line (``--bound shocks.0.duration=10d:90d``, uniform between the
two; a bound replaces a distribution on the same field). SALib samples the unit cube; each
coordinate u becomes a value through the input's quantile function (a bound: low + u (high -
low)); unbounded distributions (lognormal, normal without bounds) are cut at their 0.1 % and
99.9 % quantiles so that a sample is always finite. Whole-number fields are rounded.

Each sample fixes its inputs and runs replications 0..N-1 of the same seed (common random
numbers: anything still random is drawn the same way for every sample); the metric's mean over
them is the sample's output. Sobol (Saltelli's scheme, SALib ``sobol``): N (D + 2) samples
without second-order indices, N (2D + 2) with; first-order ``S1`` and total ``ST`` indices with
their bootstrap confidence half-widths. Morris (SALib ``morris``): N trajectories of D + 1
samples; ``mu_star`` (mean absolute elementary effect, in the metric's unit per move across the
input's range) and ``sigma``.

SALib is the optional extra ``routesim[sensitivity]``, imported only when a study runs.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.ensemble import run_ensemble
from sim.explore.params import (
    Bound,
    assignments,
    distribution_fields,
    get_path,
    quantity_text,
    set_resolved,
    with_overrides,
)
from sim.explore.sweep import check_metrics, study_attrs
from sim.scenario.distributions import Distribution
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_resolved

__all__ = [
    "METHODS",
    "SALIB_INSTALL",
    "Input",
    "MissingDependencyError",
    "Plan",
    "checked_inputs",
    "inputs_of",
    "plan_sensitivity",
    "require_salib",
    "run_samples",
    "run_sensitivity",
]

METHODS = ("sobol", "morris")
"""The methods ``--method`` names."""

SALIB_INSTALL = 'pip install "routesim[sensitivity]"'
"""How to install SALib for sensitivity studies."""

DEFAULT_N = {"sobol": 64, "morris": 10}
"""Default base sample size (Sobol) or number of trajectories (Morris)."""

TAIL = 0.001
"""Unbounded distributions are cut at this quantile and 1 - this."""

MAX_RUNS = 1_000_000
"""Most replications a study may ask for."""

Progress = Callable[[int, int], None]


class MissingDependencyError(ImportError):
    """An optional dependency a study needs is not installed."""


def require_salib() -> Any:
    """Import SALib, or raise MissingDependencyError saying how to install it."""
    try:
        import SALib  # noqa: F401
        from SALib.analyze import morris as morris_analyze
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import morris as morris_sample
        from SALib.sample import sobol as sobol_sample
    except ImportError:
        raise MissingDependencyError(f"sensitivity analysis needs SALib: {SALIB_INSTALL}") from None
    return {
        "sobol": (sobol_sample, sobol_analyze),
        "morris": (morris_sample, morris_analyze),
    }


@dataclass(frozen=True)
class Input:
    """One uncertain input: its key path, and a distribution or a uniform bound."""

    path: str
    distribution: Distribution | None = None
    bound: Bound | None = None
    integer: bool = False

    @property
    def kind(self) -> str:
        """``distribution`` (from the file) or ``bound`` (from the command line)."""
        return "bound" if self.bound is not None else "distribution"

    @property
    def description(self) -> str:
        """The input's law in words: ``uniform 10 d to 90 d`` or ``lognormal(median=30, sigma=0.5)``."""
        if self.bound is not None:
            b = self.bound
            return f"uniform {quantity_text(b.low, b.unit)} to {quantity_text(b.high, b.unit)}"
        assert self.distribution is not None
        d = self.distribution
        if d.dist == "discrete":
            return f"discrete {list(d.values)} weights {[round(w, 4) for w in d.weights]} (canonical units)"
        return f"{d.dist}({', '.join(f'{k}={v:g}' for k, v in d.params)}) (canonical units)"

    def number(self, u: float) -> float:
        """The input's value at ``u`` as a number: in the bound's unit, or the field's canonical unit."""
        if self.bound is not None:
            x = self.bound.low + u * (self.bound.high - self.bound.low)
            return float(round(x)) if self.integer else x
        return float(self.value(u))

    def value(self, u: float) -> Any:
        """The input's value at unit-cube coordinate ``u``: scenario data for its field."""
        if self.bound is not None:
            b = self.bound
            x = b.low + u * (b.high - b.low)
            return round(x) if self.integer else quantity_text(x, b.unit)
        assert self.distribution is not None
        d = self.distribution
        if d.dist == "discrete":
            cumulative = np.cumsum(d.weights)
            index = int(np.searchsorted(cumulative, u * cumulative[-1], side="left"))
            return float(d.values[min(index, len(d.values) - 1)])
        low, high = d.support()
        q = u if math.isfinite(low) and math.isfinite(high) else min(max(u, TAIL), 1 - TAIL)
        x = float(d.frozen().ppf(q))
        return round(x) if self.integer else x


@dataclass(frozen=True)
class Plan:
    """What a study will cost: its inputs, SALib samples, and replications (samples x N)."""

    method: str
    inputs: list[Input]
    base: int
    samples: int
    replications: int

    @property
    def runs(self) -> int:
        """Replications run in all (each one a scenario run and, unless shared, its baseline)."""
        return self.samples * self.replications


def inputs_of(loaded: LoadedScenario, bounds: Sequence[Bound]) -> list[Input]:
    """The uncertain inputs: fields given as distributions, and ``bounds`` (which replace a distribution)."""
    found = distribution_fields(loaded)
    by_path: dict[str, Input] = {path: Input(path, distribution=d) for path, d in found.items()}
    for bound in bounds:
        try:
            current = get_path(loaded.resolved, bound.path.split("+")[0])
        except ScenarioError:
            current = None
        integer = not bound.unit and isinstance(current, int) and not isinstance(current, bool)
        by_path[bound.path] = Input(bound.path, bound=bound, integer=integer)
    return list(by_path.values())


def checked_inputs(loaded: LoadedScenario, bounds: Sequence[Bound]) -> list[Input]:
    """``inputs_of``, refusing (ScenarioError) a study without inputs and a bound whose ends do not make a
    valid scenario (an unknown key, a negative duration), before anything runs."""
    inputs = inputs_of(loaded, bounds)
    if not inputs:
        raise ScenarioError.single(
            str(loaded.path),
            "no uncertain inputs: no field is given as a distribution; expected some, "
            "or bounds such as --bound shocks.0.duration=10d:90d",
        )
    for item in inputs:
        if item.bound is not None:
            for u in (0.0, 1.0):
                with_overrides(loaded, assignments(item.path, str(item.value(u))))
    return inputs


def plan_sensitivity(
    loaded: LoadedScenario,
    method: str = "sobol",
    base: int | None = None,
    bounds: Sequence[Bound] = (),
    n: int = 1,
    second_order: bool = False,
) -> Plan:
    """The inputs and sample sizes of a study, checked before anything runs (ScenarioError)."""
    if method not in METHODS:
        raise ScenarioError.single("<--method>", f"unknown method {method!r}; expected one of: {', '.join(METHODS)}")
    base = DEFAULT_N[method] if base is None else base
    if isinstance(base, bool) or not isinstance(base, int) or base < 2:
        raise ScenarioError.single("<-N>", f"{base!r} is not a sample size; expected a whole number >= 2")
    if method == "sobol" and base & (base - 1):
        raise ScenarioError.single(
            "<-N>", f"{base} is not a power of 2; expected a power of 2 for Sobol' sequences (e.g. 64, 128, 256)"
        )
    inputs = checked_inputs(loaded, bounds)
    d = len(inputs)
    samples = base * (2 * d + 2 if second_order else d + 2) if method == "sobol" else base * (d + 1)
    if samples * n > MAX_RUNS:
        raise ScenarioError.single(
            "<-N>", f"{samples:,} samples x {n:,} replications is over {MAX_RUNS:,} runs; expected a smaller -N or -n"
        )
    return Plan(method, inputs, base, samples, n)


def run_samples(
    loaded: LoadedScenario,
    inputs: Sequence[Input],
    unit: np.ndarray,
    metric: str,
    n: int,
    seed: int,
    jobs: int = 1,
    progress: Progress | None = None,
    **ensemble_options: Any,
) -> tuple[list[list[Any]], np.ndarray]:
    """Run every row of ``unit`` (unit-cube coordinates, one column per input): the inputs' values as
    scenario data, and the mean of ``metric`` over replications 0..n-1 of ``seed`` per row."""
    outputs = np.empty(unit.shape[0])
    values: list[list[Any]] = []
    for k, row in enumerate(unit):
        data = copy.deepcopy(loaded.resolved)
        point = [item.value(float(u)) for item, u in zip(inputs, row, strict=True)]
        for item, value in zip(inputs, point, strict=True):
            for key in item.path.split("+"):
                set_resolved(data, key, value)
        scenario = load_resolved(data, loaded.path).scenario
        ens = run_ensemble(scenario, n, seed=seed, jobs=jobs, **ensemble_options)
        result = np.asarray(ens[metric], dtype=float)
        if np.isnan(result).all():
            raise ScenarioError.single(
                "<--metric>",
                f"{metric} is undefined in sample {k} (e.g. no shut-in, no recovery); expected a metric every run defines",
            )
        outputs[k] = float(np.nanmean(result))
        values.append(point)
        if progress:
            progress(k + 1, unit.shape[0])
    return values, outputs


def run_sensitivity(
    loaded: LoadedScenario,
    method: str = "sobol",
    base: int | None = None,
    bounds: Sequence[Bound] = (),
    metric: str = "lost_export_t",
    n: int = 1,
    seed: int | None = None,
    jobs: int = 1,
    second_order: bool = False,
    conf_level: float = 0.95,
    num_levels: int = 4,
    progress: Progress | None = None,
    plan: Plan | None = None,
    **ensemble_options: Any,
) -> pd.DataFrame:
    """Run a Sobol or Morris study of ``metric`` (the mean over ``n`` replications of ``seed`` per
    sample); return one row per input with its indices, most influential first.

    Sobol columns: ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; Morris: ``mu``, ``mu_star``,
    ``sigma``, ``mu_star_conf``. ``attrs`` hold the study (method, sizes, inputs) and, under
    ``samples``, every sample's input values and output. Raises MissingDependencyError without
    SALib and ScenarioError for bad input, both before anything runs.
    """
    salib = require_salib()
    plan = plan or plan_sensitivity(loaded, method, base, bounds, n, second_order)
    check_metrics(loaded, [metric])
    seed = loaded.scenario.seed if seed is None else int(seed)
    inputs = plan.inputs
    problem = {"num_vars": len(inputs), "names": [i.path for i in inputs], "bounds": [[0.0, 1.0]] * len(inputs)}
    sampler, analyzer = salib[plan.method]
    if plan.method == "sobol":
        unit = sampler.sample(problem, plan.base, calc_second_order=second_order, seed=seed)
    else:
        unit = sampler.sample(problem, plan.base, num_levels=num_levels, seed=seed)
    started = time.perf_counter()
    values, outputs = run_samples(loaded, inputs, unit, metric, n, seed, jobs, progress, **ensemble_options)
    if plan.method == "sobol":
        si = analyzer.analyze(
            problem, outputs, calc_second_order=second_order, conf_level=conf_level, seed=seed, print_to_console=False
        )
        table = pd.DataFrame(
            {
                "input": problem["names"],
                "kind": [i.kind for i in inputs],
                "law": [i.description for i in inputs],
                "S1": si["S1"],
                "S1_conf": si["S1_conf"],
                "ST": si["ST"],
                "ST_conf": si["ST_conf"],
            }
        ).sort_values("ST", ascending=False, kind="stable")
    else:
        si = analyzer.analyze(problem, unit, outputs, conf_level=conf_level, num_levels=num_levels, seed=seed)
        table = pd.DataFrame(
            {
                "input": problem["names"],
                "kind": [i.kind for i in inputs],
                "law": [i.description for i in inputs],
                "mu": np.asarray(si["mu"], dtype=float),
                "mu_star": np.asarray(si["mu_star"], dtype=float),
                "sigma": np.asarray(si["sigma"], dtype=float),
                "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float),
            }
        ).sort_values("mu_star", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    samples = {"sample": list(range(len(values)))}
    for j, item in enumerate(inputs):
        samples[item.path] = [v[j] for v in values]
        samples[f"u.{item.path}"] = [float(u) for u in unit[:, j]]
    samples[metric] = [float(y) for y in outputs]
    table.attrs = study_attrs(
        loaded,
        "sensitivity",
        seed,
        n,
        method=plan.method,
        metric=metric,
        base_samples=plan.base,
        samples_run=len(values),
        runs=plan.runs,
        second_order=second_order,
        conf_level=conf_level,
        num_levels=num_levels if plan.method == "morris" else None,
        inputs=[{"path": i.path, "kind": i.kind, "law": i.description} for i in inputs],
        output_mean=float(np.mean(outputs)),
        output_std=float(np.std(outputs, ddof=1)) if len(outputs) > 1 else None,
        samples=samples,
        wall_time_s=time.perf_counter() - started,
    )
    return table

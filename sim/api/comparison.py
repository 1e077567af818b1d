"""Compare scenarios side by side: settings, metrics, and paired differences on common random numbers.

``compare(items)`` takes scenario files, loaded scenarios (``load(path, overrides)``), run
folders (``results/<scenario>/<run-id>/``) or outcomes of ``api.run`` and returns a pandas DataFrame: one row per setting (horizon, start,
price, network, replications, seed) and per headline metric, a ``unit`` column, one column per
scenario (the value, or the ensemble mean) and, for every scenario after the first (the
reference), its difference from the reference (``Δ <name>``), with a 95 % interval for
ensembles (``Δ <name> low`` / ``high``: mean of the paired differences ± 1.96 standard errors;
replication r of every scenario uses the same seed and the same random streams, so the
differences are paired on common random numbers).

Scenarios must be comparable: scenario files with different horizons or prices are normalised
(every file is run with the saved runs' horizon, else the longest, and the first item's price, via
overrides) and the frame's ``attrs["notes"]`` says which were changed; with ``normalise=False``, or
between saved runs (which cannot be rerun with other settings here), a mismatch is refused with a
ScenarioError naming the scenarios and the values. Every file runs with the first item's seed
(or ``seed``): common random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim import results
from sim.api.outcome import Outcome
from sim.api.runs import check_ensemble, load, run
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["METRICS", "Compared", "compare", "comparison_figure", "prepare"]

METRICS: tuple[tuple[str, str], ...] = (
    ("lost_export_t", "Lost export volume"),
    ("lost_export_bbl", "  in barrels"),
    ("lost_shut_in_t", "  of which shut-in production"),
    ("lost_inventory_t", "  of which left in storage/transit"),
    ("deferred_t", "Deferred (exported late)"),
    ("rerouted_t", "Rerouted to other routes"),
    ("peak_storage_t", "Peak storage (fields + terminals)"),
    ("time_to_survive_d", "Time to survive (to first shut-in)"),
    ("time_to_recover_d", "Time to recover"),
    ("extra_transport_cost_usd", "Extra transport cost"),
    ("revenue_lost_usd", "Revenue lost"),
    ("baseline_exported_t", "Exports, baseline"),
    ("exported_t", "Exports, scenario"),
)
"""Metrics a comparison shows, in order, with their labels."""

SETTINGS = ("horizon", "start", "price", "network", "replications", "seed")


@dataclass
class Compared:
    """One scenario of a comparison: its name, settings, metric values, ensemble columns and daily series."""

    name: str
    horizon_d: float
    start: str
    price_usd_per_bbl: float
    network: str
    seed: int
    metrics: dict[str, tuple[float, str]]
    columns: dict[str, Any]
    ensemble: dict[str, np.ndarray] | None = None
    source: str = ""
    shortfall: np.ndarray | None = None
    """An ensemble's daily export shortfall (replications x days, t/d), when it was run here."""

    @property
    def replications(self) -> int:
        """1 for a single run, else the ensemble's size."""
        return 1 if self.ensemble is None else len(self.ensemble["replication"])


def _value(x: Any) -> float:
    return math.nan if x is None else float(x)


def _network_label(files: Sequence[str | Path], overrides: int) -> str:
    nets = [Path(f).stem for f in list(files)[1:]]
    label = " + ".join(nets) if nets else "inline"
    return label + (f" ({overrides} override{'s' if overrides != 1 else ''})" if overrides else "")


def _file_overrides(path: Path) -> int:
    """How many ``overrides:`` a scenario file sets (for the network row)."""
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return 0
    return len(data.get("overrides") or {}) if isinstance(data, dict) else 0


def _is_network_override(assignment: str) -> bool:
    """Whether a --set assignment changes the network (``network.legs.x=...`` or ``legs.x=...``)."""
    from sim.scenario.loader import network_path_of

    return network_path_of(assignment.partition("=")[0].strip()).startswith("network.")


def _from_outcome(outcome: Outcome) -> Compared:
    summary = outcome.summary()
    loaded = outcome.loaded
    # Network overrides: the file's ``overrides:`` and --set paths into the network (not name, shocks, ...).
    overrides = _file_overrides(Path(loaded.path)) + sum(_is_network_override(o) for o in loaded.overrides)
    return Compared(
        name=outcome.name,
        horizon_d=float(loaded.scenario.horizon),
        start=str(loaded.scenario.start_date),
        price_usd_per_bbl=_value(summary["metrics"]["price_usd_per_bbl"]["value"]),
        network=_network_label(loaded.files, overrides),
        seed=outcome.replication.seed,
        metrics={k: (_value(v["value"]), v["unit"]) for k, v in summary["metrics"].items()},
        columns=outcome.timeseries(),
        ensemble=None if outcome.ensemble is None else outcome.ensemble.table,
        source=str(loaded.path),
        shortfall=None if outcome.ensemble is None else outcome.ensemble.shortfall,
    )


def _from_folder(folder: Path) -> Compared:
    try:
        run = results.read_run(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise ScenarioError.single(folder, f"not a readable run folder: {exc}") from None
    summary, manifest = run["summary"], run["manifest"]
    overrides = len((manifest.get("resolved_scenario") or {}).get("overrides") or {}) + sum(
        _is_network_override(str(o)) for o in manifest.get("overrides") or []
    )
    metrics = {k: (_value(v["value"]), v["unit"]) for k, v in summary["metrics"].items()}
    return Compared(
        name=str(summary.get("scenario", folder.name)),
        horizon_d=float(summary["horizon_d"]),
        start=str(summary["start_date"]),
        price_usd_per_bbl=metrics["price_usd_per_bbl"][0],
        network=_network_label(manifest.get("scenario_files", []), overrides),
        seed=int(summary["seed"]),
        metrics=metrics,
        columns=run["timeseries"],
        ensemble=run.get("ensemble"),
        source=str(folder),
    )


def _is_folder(item: Any) -> bool:
    return isinstance(item, str | Path) and Path(item).is_dir()


def prepare(
    items: Sequence[str | Path | LoadedScenario | Outcome],
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    normalise: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Compared], list[str]]:
    """Load or run every item (files run on common random numbers); return them and the notes on what was changed.

    Raises ScenarioError for a bad file or folder, or for settings that differ and cannot be normalised.
    """
    if len(items) < 1:
        raise ScenarioError.single("compare", "nothing to compare; give scenario files or run folders")
    notes: list[str] = []
    loaded: dict[int, Any] = {}
    fixed: dict[int, Compared] = {}  # saved runs and finished outcomes: their settings cannot change
    for i, item in enumerate(items):
        if isinstance(item, LoadedScenario):
            loaded[i] = item
        elif isinstance(item, Outcome):
            fixed[i] = _from_outcome(item)
        elif _is_folder(item):
            fixed[i] = _from_folder(Path(item))
        else:
            loaded[i] = load(item)
    # The reference: the horizon of the saved runs (else the longest file's), the first item's price.
    first = min([*loaded, *fixed])
    if loaded:
        horizons = {i: loaded[i].scenario.horizon for i in loaded}
        prices = {i: loaded[i].scenario.price / loaded[i].scenario.network.grade.bbl_per_t for i in loaded}
        target_horizon = next(iter(fixed.values())).horizon_d if fixed else max(horizons.values())
        why_horizon = "as the saved runs" if fixed else "the longest"
        reference = fixed.get(first)
        reference_price = reference.price_usd_per_bbl if reference is not None else prices[first]
        reference_name = reference.name if reference is not None else loaded[first].scenario.name
        differ = any(h != target_horizon for h in horizons.values()) or any(
            round(p, 9) != round(reference_price, 9) for p in prices.values()
        )
        if differ:
            if not normalise:
                raise ScenarioError.single("compare", _mismatch(loaded, horizons, prices))
            for i, lo in loaded.items():
                changes = []
                if horizons[i] != target_horizon:
                    changes.append(f"horizon={target_horizon!r} d")
                    notes.append(
                        f"{lo.scenario.name}: horizon {horizons[i]:g} d → {target_horizon:g} d ({why_horizon})"
                    )
                if round(prices[i], 9) != round(reference_price, 9):
                    changes.append(f"price={reference_price!r} USD/bbl")
                    notes.append(
                        f"{lo.scenario.name}: price {prices[i]:,.2f} → {reference_price:,.2f} USD/bbl (as {reference_name})"
                    )
                if changes:
                    loaded[i] = load(lo.path, [*lo.overrides, *changes])
        if seed is None:
            seed = fixed[first].seed if first in fixed else loaded[min(loaded)].scenario.seed
    out: list[Compared] = []
    n_items = len(items)
    for i in range(n_items):
        if i in fixed:
            out.append(fixed[i])
        else:
            n = loaded[i].scenario.replications if replications is None else replications
            check_ensemble(loaded[i], n, jobs, names=("-n/--replications", "-j/--jobs"))

            def step(done: int, total: int, i: int = i) -> None:
                if progress is not None:
                    progress(i * total + done, n_items * total)

            outcome = run(loaded[i], seed=seed, replications=n, jobs=jobs, progress=step)
            if progress is not None:
                progress((i + 1) * max(n, 1), n_items * max(n, 1))
            out.append(_from_outcome(outcome))
    # Saved runs cannot be normalised here: refuse a mismatch.
    names = _unique_names(out)
    horizons = [c.horizon_d for c in out]
    prices = [round(c.price_usd_per_bbl, 6) for c in out]
    if len(set(horizons)) > 1 or len(set(prices)) > 1:
        parts = []
        if len(set(horizons)) > 1:
            parts.append(
                "horizons differ (" + ", ".join(f"{k}: {v:g} d" for k, v in zip(names, horizons, strict=True)) + ")"
            )
        if len(set(prices)) > 1:
            parts.append(
                "prices differ ("
                + ", ".join(f"{k}: {v:,.2f} USD/bbl" for k, v in zip(names, prices, strict=True))
                + ")"
            )
        raise ScenarioError.single(
            "compare",
            "; ".join(parts) + "; expected runs made with the same horizon and price "
            "(compare the scenario files instead: they are normalised)",
        )
    return out, notes


def _mismatch(loaded: dict[int, Any], horizons: dict[int, float], prices: dict[int, float]) -> str:
    parts = []
    if len(set(horizons.values())) > 1:
        parts.append(
            "horizons differ (" + ", ".join(f"{loaded[i].scenario.name}: {h:g} d" for i, h in horizons.items()) + ")"
        )
    if len({round(p, 9) for p in prices.values()}) > 1:
        parts.append(
            "prices differ ("
            + ", ".join(f"{loaded[i].scenario.name}: {p:,.2f} USD/bbl" for i, p in prices.items())
            + ")"
        )
    return (
        "; ".join(parts)
        + "; expected the same horizon and price (without --strict, or with normalise=True, files are normalised)"
    )


def _unique_names(compared: list[Compared]) -> list[str]:
    names: list[str] = []
    for c in compared:
        name, k = c.name, 2
        while name in names:
            name, k = f"{c.name} ({k})", k + 1
        names.append(name)
    return names


def _metric(c: Compared, key: str) -> float:
    if c.ensemble is not None and key in c.ensemble:
        return float(np.nanmean(c.ensemble[key])) if np.any(~np.isnan(c.ensemble[key])) else math.nan
    return c.metrics.get(key, (math.nan, ""))[0]


def _paired(a: Compared, b: Compared, key: str) -> tuple[float, float, float]:
    """Mean of b - a over replications where both are defined, and its 95 % interval (normal, 1.96 s.e.)."""
    if a.ensemble is None or b.ensemble is None or key not in a.ensemble or key not in b.ensemble:
        diff = _metric(b, key) - _metric(a, key)
        return diff, math.nan, math.nan
    n = min(len(a.ensemble[key]), len(b.ensemble[key]))
    d = b.ensemble[key][:n] - a.ensemble[key][:n]
    d = d[~np.isnan(d)]
    if d.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan, math.nan
    half = 1.96 * float(d.std(ddof=1)) / math.sqrt(d.size)
    return mean, mean - half, mean + half


def frame(compared: list[Compared], notes: Sequence[str] = ()) -> pd.DataFrame:
    """The comparison table of prepared scenarios (see the module docstring)."""
    import pandas as pd

    names = _unique_names(compared)
    ref = compared[0]
    rows: dict[str, dict[str, Any]] = {}
    settings = {
        "horizon": ("d", [c.horizon_d for c in compared]),
        "start": ("", [c.start for c in compared]),
        "price": ("USD/bbl", [c.price_usd_per_bbl for c in compared]),
        "network": ("", [c.network for c in compared]),
        "replications": ("", [c.replications for c in compared]),
        "seed": ("", [c.seed for c in compared]),
    }
    for key, (unit, values) in settings.items():
        rows[key] = {"label": key, "unit": unit, **dict(zip(names, values, strict=True))}
    ensembles = all(c.ensemble is not None for c in compared)
    for key, label in METRICS:
        unit = ref.metrics.get(key, (0, ""))[1]
        row: dict[str, Any] = {"label": label.strip(), "unit": unit}
        for name, c in zip(names, compared, strict=True):
            row[name] = _metric(c, key)
        for name, c in zip(names[1:], compared[1:], strict=True):
            mean, low, high = _paired(ref, c, key)
            row[f"Δ {name}"] = mean
            if ensembles:
                row[f"Δ {name} low"], row[f"Δ {name} high"] = low, high
        rows[key] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "quantity"
    out.attrs["notes"] = list(notes)
    out.attrs["reference"] = names[0]
    out.attrs["ensembles"] = ensembles
    return out


def compare(
    items: Sequence[str | Path | LoadedScenario | Outcome],
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    normalise: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Compare scenario files, run folders or outcomes; return the table (see the module docstring)."""
    compared, notes = prepare(items, replications, seed, jobs, normalise, progress)
    return frame(compared, notes)


def comparison_figure(compared: list[Compared], title: str = "") -> Figure:
    """Disruption curves overlaid on dates and, for ensembles, the distribution of lost volume per scenario."""
    from sim import plots
    from sim.textsafe import figure_text

    named = [(figure_text(name), c) for name, c in zip(_unique_names(compared), compared, strict=True)]
    return plots.comparison_figure(
        {name: c.columns for name, c in named},
        {name: (None if c.ensemble is None else c.ensemble["lost_export_t"]) for name, c in named},
        title=figure_text(title, None),
        shortfall={name: c.shortfall for name, c in named} if any(c.shortfall is not None for _, c in named) else None,
    )

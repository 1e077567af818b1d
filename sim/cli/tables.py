"""A run as rich tables and lines: the impact, the routes, an ensemble's percentiles, the shocks drawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from sim import api
from sim.api import headline_rows
from sim.cli.output import (
    console,
    safe,
)
from sim.units import format_quantity

ROWS = headline_rows()
"""(label, metric) of the tables' rows: the headline metrics of the registry (sim/engine/metrics.py)."""


def impact_table(outcome: api.Outcome) -> Table:
    """The headline metrics as a rich table."""
    sc = outcome.loaded.scenario
    metrics = outcome.summary()["metrics"]
    table = Table(
        title=(
            f"Impact of {safe(sc.name)} vs baseline — {sc.start_date} + {sc.horizon:g} d, seed {outcome.replication.seed}"
        ),
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in ROWS:
        entry = metrics[key]
        text = format_quantity(entry["value"], entry["unit"])
        if key == "revenue_lost_usd":
            text += f" at {metrics['price_usd_per_bbl']['value']:,.0f} USD/bbl"
        table.add_row(label, text)
    return table


def routes_table(outcome: api.Outcome) -> Table:
    """Exports per route, baseline vs scenario."""
    impact = outcome.impact
    table = Table(title="Exports by route within the horizon", title_justify="left")
    for name, justify in (("route", "left"), ("baseline", "right"), ("scenario", "right"), ("change", "right")):
        table.add_column(name, justify=justify)
    for route, base in impact.baseline_exports_by_route_t.items():
        now = impact.exports_by_route_t[route]
        if base == 0 and now == 0:
            continue
        table.add_row(
            safe(route), format_quantity(base, "t"), format_quantity(now, "t"), f"{(now - base) / 1e3:+,.0f} kt"
        )
    return table


def ensemble_table(outcome: api.Outcome) -> Table:
    """The headline metrics over an ensemble: mean and P10/P50/P90 (and how many replications define them)."""
    ens = outcome.ensemble
    assert ens is not None
    sc = outcome.loaded.scenario
    table = Table(
        title=(
            f"Impact of {safe(sc.name)} vs baseline over {ens.n:,} replications — {sc.start_date} + {sc.horizon:g} d, "
            f"seed {ens.seed}"
        ),
        title_justify="left",
        caption=(
            "percentiles: numpy 'linear' (type 7); 'defined': replications where the metric has a value "
            "(time to survive: storage filled; time to recover: recovered within the horizon)"
        ),
        caption_justify="left",
    )
    stats = ens.stats
    partial = any(stats[key]["defined"] != ens.n for _, key in ROWS)
    table.add_column("metric", no_wrap=True, overflow="ellipsis")
    for name in ("mean", "P5", "P10", "P50", "P90", "P95", *(["defined"] if partial else [])):
        table.add_column(name, justify="right", no_wrap=True)
    for label, key in ROWS:
        entry = stats[key]
        cells = [format_quantity(entry[k], entry["unit"]) for k in ("mean", "p5", "p10", "p50", "p90", "p95")]
        if partial:
            cells.append("all" if entry["defined"] == ens.n else f"{entry['defined']:,}")
        table.add_row(label, *cells)
    return table


def _ensemble_extra_lines(ens: Any) -> list[str]:
    """Exceedance probabilities, and the precision of the headline mean."""
    lines = []
    for metric, entry in ens.exceedance().items():
        unit = ens.units.get(metric, "1")
        if entry["probability"] is None:
            lines.append(
                f"P({metric} > {format_quantity(entry['threshold'], unit)}): undefined (no replication defines it)"
            )
            continue
        low, high = entry["wilson95"]
        lines.append(
            f"P({metric} > {format_quantity(entry['threshold'], unit)}) = {entry['probability']:.3f} "
            f"(95 % Wilson interval {low:.3f}–{high:.3f}; {entry['exceeding']:,} of {entry['defined']:,})"
        )
    stats = ens.stats.get("lost_export_t", {})
    if stats.get("rel_half_width") is not None:
        lines.append(
            f"Mean lost export volume ±{stats['rel_half_width']:.1%} (95 % interval); "
            f"±{ens.precision:.1%} would take about {stats['n_for_precision']:,} replications"
        )
    return lines


def _ensemble_shocks_line(outcome: api.Outcome) -> str:
    ens = outcome.ensemble
    assert ens is not None
    parts = [f"{safe(s['name'])}: happened in {s['happened']:,} of {ens.n:,}" for s in ens.shock_shares()]
    return "; ".join(parts) or "no shocks"


def _shocks_line(outcome: api.Outcome) -> str:
    parts = []
    recurring: dict[int, list] = {}
    for s in outcome.replication.shocks:
        if s.occurrence:
            recurring.setdefault(s.index, []).append(s)
            continue
        state = "" if s.happened else " (did not happen: probability draw)"
        extra = " (background: in the baseline too)" if s.background else ""
        parts.append(f"{safe(s.name)}: day {s.start_d:g} for {s.duration_d:g} d{state}{extra}")
    for occurrences in recurring.values():
        first = occurrences[0]
        extra = " (background: in the baseline too)" if first.background else ""
        total = sum(s.duration_d for s in occurrences)
        parts.append(f"{safe(first.name)}: {len(occurrences)} occurrences, {total:.1f} d in all{extra}")
    return "; ".join(parts) or "no shocks"


def print_outcome(outcome: api.Outcome, folder: Path | None, no_plot: bool, as_json: bool) -> None:
    """Print a finished run: the summary as JSON, or tables."""
    if as_json:
        click.echo(json.dumps(outcome.summary(), indent=2))
    elif outcome.ensemble is not None:
        ens = outcome.ensemble
        console.print(f"[bold]{safe(outcome.name)}[/]: {_ensemble_shocks_line(outcome)}")
        console.print(ensemble_table(outcome))
        lost0 = outcome.impact["lost_export_t"]
        console.print(
            f"Replication 0{'' if folder is None else ' (in summary.json, timeseries.csv)'}: "
            f"lost {format_quantity(float(lost0 or 0.0), 't')}; {_shocks_line(outcome)}"
        )
        if folder is not None:
            console.print(
                f"Results written to [bold]{safe(folder, None)}[/] (summary.json, timeseries.csv, manifest.json, "
                "ensemble.parquet, ensemble.csv" + ("" if no_plot else ", disruption.png, ensemble.png") + ")"
            )
        for line in _ensemble_extra_lines(ens):
            console.print(line)
        console.print(
            f"[dim]{ens.n:,} replications, {ens.executor.get('executor', 'serial')} executor with {ens.jobs} "
            f"worker(s), {outcome.wall_time_s:,.1f} s ({outcome.wall_time_s / ens.n * 1e3:,.0f} ms per replication)[/]"
        )
    else:
        console.print(f"[bold]{safe(outcome.name)}[/]: {_shocks_line(outcome)}")
        console.print(impact_table(outcome))
        console.print(routes_table(outcome))
        if folder is not None:
            console.print(
                f"Results written to [bold]{safe(folder, None)}[/] (summary.json, timeseries.csv, manifest.json"
                + ("" if no_plot else ", disruption.png")
                + ")"
            )
        console.print(
            f"[dim]{outcome.replication.scenario.events:,} + {outcome.replication.baseline.events:,} events, "
            f"{outcome.wall_time_s * 1e3:,.0f} ms[/]"
        )

"""Results as data: pandas DataFrames of a run's daily series, summary and ensemble table.

``RunData`` is what ``api.read(folder)`` returns (and ``Outcome.data`` for a run in memory):

* ``daily``: the daily series, wide, one row per day on a ``DatetimeIndex`` named ``date``
  (columns as in ``timeseries.csv``: ``exports_t``, ``exports.<route>_t``, ...);
* ``daily_long``: the same series tidy, one row per day and series, with columns ``date``,
  ``run`` (``scenario`` or ``baseline``), ``quantity`` (``exports``, ``intake``, ``produced``,
  ``shut_in``, ``outage``, ``storage``, ``tank``, ``in_transit``), ``route`` (the route, field,
  tank or leg the series belongs to; ``all`` for a total), ``value`` and ``unit`` (``t/d``
  for flows, ``t`` for what is held at the end of the day);
* ``summary``: every metric as a tidy frame (``metric``, ``value``, ``unit``);
* ``ensemble``: one row per replication (``ensemble.csv``), or None for a single run;
  ``ensemble_stats``: per metric and statistic (mean, p10, ...), or None.

pandas is imported when a frame is first built, so the command line does not pay for it.
Parquet copies of the daily series and the ensemble table (``timeseries.parquet``,
``ensemble.parquet``) are written beside the CSVs when pyarrow is installed; the CSVs stay
the record that ``rerun`` compares bit for bit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from sim.engine.metrics import Impact

__all__ = [
    "FLOW_QUANTITIES",
    "ImpactMapping",
    "RunData",
    "ensemble_frame",
    "ensemble_stats_frame",
    "parquet_writer",
    "summary_frame",
    "timeseries_frame",
    "timeseries_long",
]

FLOW_QUANTITIES = ("exports", "intake", "produced", "shut_in", "cut", "outage")
"""Series that are tonnes per day; the others (storage, tank, in_transit) are tonnes held."""

_SERIES = re.compile(r"^(?P<base>baseline_)?(?P<quantity>[a-z_]+?)(?:\.(?P<name>.+))?_t$")


class ImpactMapping(Mapping[str, Any]):
    """A run's metrics as a read-only mapping (metric -> value), with units and per-route tables.

    ``dict(outcome.impact)``, ``list(outcome.impact)`` and ``outcome.impact.items()`` work as
    for any mapping; ``units[metric]`` gives a metric's unit and ``frame()`` a tidy DataFrame.
    """

    def __init__(self, impact: Impact) -> None:
        self._impact = impact

    def __getitem__(self, key: str) -> Any:
        return self._impact.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._impact.values)

    def __len__(self) -> int:
        return len(self._impact.values)

    def __repr__(self) -> str:
        return f"ImpactMapping({dict(self)!r})"

    @property
    def values(self) -> _Values:  # type: ignore[override]
        """``impact.values()`` as for any mapping; ``impact.values[key]`` (the plain dict of earlier versions) still works."""
        return _Values(self._impact.values)

    @property
    def units(self) -> dict[str, str]:
        """Each metric's unit (t, bbl, d, USD, USD/bbl, t*d)."""
        return self._impact.units

    @property
    def rerouted_t(self) -> dict[str, float]:
        """Tonnes each route carried above its baseline."""
        return self._impact.rerouted_t

    @property
    def exports_by_route_t(self) -> dict[str, float]:
        """Tonnes exported per route in the scenario."""
        return self._impact.exports_by_route_t

    @property
    def baseline_exports_by_route_t(self) -> dict[str, float]:
        """Tonnes exported per route in the baseline."""
        return self._impact.baseline_exports_by_route_t

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as in summary.json."""
        return self._impact.as_dict()

    def frame(self) -> pd.DataFrame:
        """The metrics as a tidy DataFrame (metric, value, unit)."""
        return summary_frame({"metrics": self._impact.as_dict()["metrics"]})


class _Values(dict):
    """The metrics as a dict that can also be called like ``Mapping.values()`` (old and new spellings both work)."""

    def __call__(self) -> Any:
        return super().values()


def timeseries_frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """The daily series (``timeseries.csv`` columns) as a wide DataFrame on a DatetimeIndex ``date``."""
    import pandas as pd

    data = {k: np.asarray(v) for k, v in columns.items() if k != "date"}
    index = pd.DatetimeIndex(pd.to_datetime(list(columns["date"])), name="date")
    frame = pd.DataFrame(data, index=index)
    if "day" in frame:
        frame["day"] = frame["day"].astype(np.int64)
    return frame


def _parse_series(name: str) -> tuple[str, str, str] | None:
    """``baseline_exports.cpc_t`` -> (baseline, exports, cpc); ``exports_t`` -> (scenario, exports, all)."""
    match = _SERIES.match(name)
    if not match:
        return None
    return ("baseline" if match["base"] else "scenario", match["quantity"], match["name"] or "all")


def timeseries_long(columns: Mapping[str, Any]) -> pd.DataFrame:
    """The daily series tidy: date, run, quantity, route, value, unit (one row per day and series)."""
    import pandas as pd

    dates = pd.to_datetime(list(columns["date"]))
    parts = []
    for name, values in columns.items():
        parsed = None if name in ("day", "date") else _parse_series(name)
        if parsed is None:
            continue
        run, quantity, route = parsed
        unit = "t/d" if quantity in FLOW_QUANTITIES else "t"
        parts.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "run": run,
                    "quantity": quantity,
                    "route": route,
                    "value": np.asarray(values, dtype=float),
                    "unit": unit,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    for key in ("run", "quantity", "route", "unit"):
        out[key] = out[key].astype("category")
    return out


def summary_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """summary.json's metrics as a tidy frame: metric, value (float, NaN if undefined), unit."""
    import pandas as pd

    metrics = summary.get("metrics", {})
    rows = [
        {"metric": k, "value": np.nan if v.get("value") is None else float(v["value"]), "unit": v.get("unit", "")}
        for k, v in metrics.items()
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "unit"])


def ensemble_frame(table: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The ensemble table (one row per replication) indexed by ``replication``."""
    import pandas as pd

    frame = pd.DataFrame({k: np.asarray(v) for k, v in table.items()})
    return frame.set_index("replication") if "replication" in frame else frame


def ensemble_stats_frame(section: Mapping[str, Any]) -> pd.DataFrame:
    """summary.json's ``ensemble`` statistics tidy: metric, statistic, value, unit."""
    import pandas as pd

    rows = []
    for metric, stats in section.get("metrics", {}).items():
        unit = stats.get("unit", "")
        for stat, value in stats.items():
            if stat == "unit":
                continue
            if isinstance(value, list | tuple):  # an interval: lo, hi
                for suffix, item in zip(("_lo", "_hi"), value, strict=False):
                    rows.append({"metric": metric, "statistic": stat + suffix, "value": _num(item), "unit": unit})
            else:
                rows.append({"metric": metric, "statistic": stat, "value": _num(value), "unit": unit})
    return pd.DataFrame(rows, columns=["metric", "statistic", "value", "unit"])


def _num(value: Any) -> float:
    try:
        return np.nan if value is None else float(value)
    except (TypeError, ValueError):
        return np.nan


def parquet_writer(columns: Mapping[str, Any], index_name: str | None = None) -> Callable[[Path], None] | None:
    """A writer of ``columns`` as a Parquet file (pyarrow), or None when pyarrow is not installed.

    A ``date`` column of ISO strings is stored as a date; float columns keep every bit.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency, but the package works without it
        return None

    def arrow(name: str, values: Any) -> Any:
        # Built from the raw buffers: pa.array() would import pandas (0.2 s) to check for a Series.
        if name == "date":
            days = np.asarray(values, dtype="datetime64[D]").astype(np.int32)
            return pa.Array.from_buffers(pa.date32(), days.size, [None, pa.py_buffer(days)])
        array = np.ascontiguousarray(values)
        if array.dtype.kind == "b":
            array = array.astype(np.int8)
        if array.dtype.kind in "iuf":
            return pa.Array.from_buffers(pa.from_numpy_dtype(array.dtype), array.size, [None, pa.py_buffer(array)])
        return pa.array(array)  # pragma: no cover - every column today is numeric or a date

    def write(path: Path) -> None:
        names = list(columns)
        table = pa.Table.from_arrays([arrow(n, columns[n]) for n in names], names=names)
        with open(path, "wb") as handle:  # Python opens the path: pyarrow refuses names that are not UTF-8
            pq.write_table(table, handle)

    return write


@dataclass
class RunData:
    """A run's results as DataFrames (built on first use); see the module docstring."""

    name: str
    raw_summary: dict[str, Any]
    manifest: dict[str, Any]
    columns: dict[str, Any]
    ensemble_columns: dict[str, np.ndarray] | None = None
    path: Path | None = None

    @cached_property
    def daily(self) -> pd.DataFrame:
        """The daily series, wide, on a DatetimeIndex (tonnes per day or tonnes held)."""
        return timeseries_frame(self.columns)

    @cached_property
    def daily_long(self) -> pd.DataFrame:
        """The daily series tidy: date, run, quantity, route, value, unit."""
        return timeseries_long(self.columns)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Every metric: metric, value, unit."""
        return summary_frame(self.raw_summary)

    @cached_property
    def ensemble(self) -> pd.DataFrame | None:
        """One row per replication (index ``replication``), or None for a single run."""
        return None if self.ensemble_columns is None else ensemble_frame(self.ensemble_columns)

    @cached_property
    def ensemble_stats(self) -> pd.DataFrame | None:
        """Per metric and statistic (mean, std, p10, p50, p90, ...), or None for a single run."""
        section = self.raw_summary.get("ensemble")
        return None if section is None else ensemble_stats_frame(section)

    def metric(self, key: str) -> float:
        """One metric's value (NaN if undefined)."""
        value = self.raw_summary["metrics"][key]["value"]
        return np.nan if value is None else float(value)

    def __getitem__(self, key: str) -> Any:
        """The plain data of earlier versions: ``summary``, ``manifest``, ``timeseries``, ``ensemble``, ``path``."""
        plain = {
            "summary": self.raw_summary,
            "manifest": self.manifest,
            "timeseries": self.columns,
            "path": self.path,
        }
        if key == "ensemble" and self.ensemble_columns is not None:
            return self.ensemble_columns
        return plain[key]

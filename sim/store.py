"""ensemble.parquet, and an ensemble's rows streamed to disk as its batches finish.

``ensemble.parquet`` has one row per replication: ``replication``, ``seed``, ``shocks_happened``,
every impact metric (float64, NaN where undefined), and every drawn input, ``shocks.<i>.<field>``
for each declared shock ``i`` (``sim.batches.INPUT_FIELDS``). The file's key-value metadata
holds ``routesim.shock_names`` and ``routesim.units`` (JSON). Rows are written in row groups of
ROW_GROUP replications whatever the batches were, so the same rows give the same bytes.

While a streamed run is in progress its folder holds ``INCOMPLETE`` (the plan, JSON) and
``parts/``: one ``rows-<start>-<stop>.parquet`` per finished batch (and ``fan-<start>.npy``, the
daily shortfall of the replications kept for the fan chart), each written to a temporary name
and renamed, so a part that exists is whole. Ctrl-C or a crash keeps every finished part.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Arrow's default allocator (mimalloc or jemalloc) keeps freed memory for reuse, so a streamed run
# that reads and writes thousands of small tables grows its resident memory with N; the system
# allocator gives it back (measured, 10^4 replications: +25 MiB over 10^3 with mimalloc, +11 MiB
# so). Read by Arrow when it first allocates: effective if pyarrow was not imported before, and
# only where the user has not chosen (setdefault).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from typing import TYPE_CHECKING

from sim.batches import BatchResult
from sim.ensemble import column_names

if TYPE_CHECKING:
    import pyarrow as pa


def _arrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, imported when first needed (the CLI starts without them)."""
    import pyarrow
    import pyarrow.parquet

    return pyarrow, pyarrow.parquet


__all__ = [
    "MARKER",
    "PARQUET",
    "PARTS",
    "ROW_GROUP",
    "IncompleteRunError",
    "arrow_schema",
    "done_ranges",
    "ensemble_csv_from_parquet",
    "incomplete_reason",
    "read_column",
    "read_fan",
    "table_batches",
    "write_parquet",
    "write_part",
]

PARQUET = "ensemble.parquet"
MARKER = "INCOMPLETE"
"""File whose presence marks a run folder as not finished (running, interrupted or crashed)."""
PARTS = "parts"
ROW_GROUP = 10_000
"""Rows per Parquet row group (the final file's layout does not depend on the batch size)."""

_PART = re.compile(r"^rows-(\d+)-(\d+)\.parquet$")


class IncompleteRunError(RuntimeError):
    """A run folder is not finished: it must be resumed before it can be read or rerun."""


def incomplete_reason(folder: str | Path) -> str | None:
    """Why ``folder`` is not a finished run folder (None if it is one)."""
    folder = Path(folder)
    if (folder / MARKER).exists():
        return (
            f"{folder} holds an unfinished ensemble (interrupted or crashed); "
            f"finish it with: routesim run --resume {folder}"
        )
    if folder.is_dir() and not (folder / "manifest.json").exists() and (folder / PARTS).exists():
        return (
            f"{folder} holds an unfinished ensemble (no manifest.json); finish it with: routesim run --resume {folder}"
        )
    return None


def arrow_schema(metrics: Sequence[str], shock_names: Sequence[str], units: dict[str, str]) -> pa.Schema:
    """The schema of ensemble.parquet for these metrics and declared shocks."""
    pa, _pq = _arrow()
    fields = [
        pa.field("replication", pa.int64()),
        pa.field("seed", pa.int64()),
        pa.field("shocks_happened", pa.int64()),
    ]
    fields += [pa.field(name, pa.float64()) for name in metrics]
    for name in column_names([], len(shock_names))[3:]:
        kind = name.rsplit(".", 1)[1]
        fields.append(
            pa.field(name, pa.bool_() if kind == "happened" else pa.int64() if kind == "occurrences" else pa.float64())
        )
    metadata = {
        "routesim.shock_names": json.dumps(list(shock_names)),
        "routesim.units": json.dumps({k: units[k] for k in metrics}),
    }
    return pa.schema(fields, metadata=metadata)


def batch_table(result: BatchResult, seed: int, metrics: Sequence[str], schema: pa.Schema) -> pa.Table:
    """One batch's rows as an Arrow table of ``schema``."""
    pa, _pq = _arrow()
    k = result.stop - result.start
    arrays: dict[str, Any] = {
        "replication": result.replications,
        "seed": np.full(k, seed, dtype=np.int64),
        "shocks_happened": result.shocks_happened,
    }
    for j, name in enumerate(metrics):
        arrays[name] = result.values[:, j]
    arrays |= result.inputs
    return pa.Table.from_arrays([pa.array(arrays[f.name], type=f.type) for f in schema], schema=schema)


def table_batches(columns: dict[str, np.ndarray], schema: pa.Schema, size: int = ROW_GROUP) -> Iterator[pa.Table]:
    """An in-memory table (named numpy columns) as Arrow tables of ``size`` rows."""
    pa, _pq = _arrow()
    n = len(columns["replication"])
    for a in range(0, n, size):
        b = min(n, a + size)
        yield pa.Table.from_arrays([pa.array(columns[f.name][a:b], type=f.type) for f in schema], schema=schema)


def _replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _numpy_type(kind: pa.DataType) -> type:
    pa, _pq = _arrow()
    return np.bool_ if kind == pa.bool_() else np.int64 if kind == pa.int64() else np.float64


def write_parquet(path: Path, schema: pa.Schema, tables: Iterable[pa.Table]) -> int:
    """Write ``tables`` (in row order) to ``path`` in row groups of ROW_GROUP rows; return the row count.

    Rows are copied into one preallocated numpy buffer per column and written a full row group
    at a time, so the bytes depend on the rows only (not on how they came in) and memory stays
    at one row group however many tables pass. Written to a temporary name and renamed.
    """
    pa, pq = _arrow()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    buffers = {f.name: np.empty(ROW_GROUP, dtype=_numpy_type(f.type)) for f in schema}
    held = rows = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:

        def flush() -> None:
            columns = [pa.array(buffers[f.name][:held], type=f.type) for f in schema]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=ROW_GROUP)

        for table in tables:
            start = 0
            while start < table.num_rows:
                take = min(ROW_GROUP - held, table.num_rows - start)
                for name, buffer in buffers.items():
                    column = table.column(name).slice(start, take).to_numpy(zero_copy_only=False)
                    buffer[held : held + take] = column
                held += take
                start += take
                rows += take
                if held == ROW_GROUP:
                    flush()
                    held = 0
        if held:
            flush()
    _replace(tmp, path)
    return rows


def write_part(folder: Path, result: BatchResult, seed: int, metrics: Sequence[str], schema: pa.Schema) -> None:
    """Store one finished batch under ``folder/parts`` (fan rows first; the rows file marks it done)."""
    _pa, pq = _arrow()
    parts = Path(folder) / PARTS
    parts.mkdir(exist_ok=True)
    if result.shortfall.shape[0]:
        fan = parts / f"fan-{result.start:09d}.npy"
        tmp = parts / f".{fan.name}.tmp"
        with open(tmp, "wb") as handle:
            np.save(handle, result.shortfall)
        _replace(tmp, fan)
    path = parts / f"rows-{result.start:09d}-{result.stop:09d}.parquet"
    tmp = parts / f".{path.name}.tmp"
    pq.write_table(batch_table(result, seed, metrics, schema), tmp, compression="zstd")
    _replace(tmp, path)


def done_ranges(folder: Path) -> list[tuple[int, int]]:
    """The replication ranges whose batches are stored under ``folder/parts``, in order."""
    parts = Path(folder) / PARTS
    if not parts.is_dir():
        return []
    out = []
    for path in parts.iterdir():
        match = _PART.match(path.name)
        if match:
            out.append((int(match[1]), int(match[2])))
    return sorted(out)


def missing_ranges(done: Sequence[tuple[int, int]], n: int, size: int) -> list[tuple[int, int]]:
    """Batches of at most ``size`` covering the replications 0..n-1 that no stored part holds."""
    from sim.batches import plan_batches

    covered = np.zeros(n, dtype=bool)
    for a, b in done:
        covered[a:b] = True
    out: list[tuple[int, int]] = []
    r = 0
    while r < n:
        if covered[r]:
            r += 1
            continue
        end = r
        while end < n and not covered[end]:
            end += 1
        out += plan_batches(r, end, size)
        r = end
    return out


def merged_parts(folder: Path, n: int) -> Iterator[pa.Table]:
    """The stored parts' rows in replication order (each replication once; raises if any is missing)."""
    _pa, pq = _arrow()
    expected = 0
    for a, b in done_ranges(folder):
        if b <= expected:
            continue  # a range already covered (a batch stored twice by different plans)
        if a > expected:
            break
        # ParquetFile.read, not pq.read_table: the dataset layer keeps a little per file read
        table = pq.ParquetFile(Path(folder) / PARTS / f"rows-{a:09d}-{b:09d}.parquet").read(use_threads=False)
        yield table.slice(expected - a)
        expected = b
    if expected != n:
        raise IncompleteRunError(f"replications {expected}..{n - 1} are missing from {folder / PARTS}")


def read_fan(folder: Path, rows: int, days: int) -> np.ndarray:
    """The daily shortfall of replications 0..rows-1 from the stored fan parts."""
    out = np.full((rows, days), math.nan)
    parts = Path(folder) / PARTS
    for path in sorted(parts.glob("fan-*.npy")):
        start = int(path.stem.split("-")[1])
        block = np.load(path)
        stop = min(rows, start + block.shape[0])
        if start < stop:
            out[start:stop] = block[: stop - start]
    if np.isnan(out).any():
        raise IncompleteRunError(f"the fan rows of {folder / PARTS} are incomplete")
    return out


def read_column(path: str | Path, name: str) -> np.ndarray:
    """One column of ensemble.parquet as a numpy array (int64, bool or float64 with NaN)."""
    _pa, pq = _arrow()
    source = pq.ParquetFile(path)
    parts = [
        source.read_row_group(i, columns=[name], use_threads=False).column(0).to_numpy()
        for i in range(source.num_row_groups)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def read_meta(path: str | Path) -> dict[str, Any]:
    """ensemble.parquet's shock names, units, metric and column names, and row count."""
    _pa, pq = _arrow()
    meta = pq.read_metadata(path)
    schema = pq.read_schema(path)
    kv = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    units = json.loads(kv.get("routesim.units", "{}"))
    return {
        "rows": meta.num_rows,
        "columns": schema.names,
        "shock_names": json.loads(kv.get("routesim.shock_names", "[]")),
        "units": units,
        "metrics": list(units),
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(int(value))


def ensemble_csv_from_parquet(parquet: Path, path: Path, metrics: Sequence[str], rows: int = 1000) -> None:
    """ensemble.csv (replication, seed, shocks_happened, every metric; exact repr floats) from the
    Parquet file: one column of one row group read at a time, ``rows`` rows written at a time."""
    _pa, pq = _arrow()
    names = ["replication", "seed", "shocks_happened", *metrics]
    source = pq.ParquetFile(parquet)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for i in range(source.num_row_groups):
            columns = [source.read_row_group(i, columns=[name]).column(0).to_numpy() for name in names]
            for a in range(0, len(columns[0]), rows):
                block = [column[a : a + rows].tolist() for column in columns]
                writer.writerows([_cell(v) for v in row] for row in zip(*block, strict=True))

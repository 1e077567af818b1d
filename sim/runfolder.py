"""Run folders read back: a manifest or a run folder is input from a stranger, checked like a scenario file.

Results folders are shared between analysts, so ``manifest.json``, ``summary.json``,
``timeseries.csv`` and ``ensemble.csv`` are read as untrusted input: only regular files,
at most a size limit (read no further than the limit), JSON no deeper than a limit
(checked before ``json.loads`` recurses), a schema for the manifest and the summary, and
a number in every numeric CSV cell. Any problem is a RunFolderError (a ScenarioError: the
CLI prints one line per problem naming the file, and exits 2), never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from array import array
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.fileio import FileRefused, open_regular, read_limited
from sim.limits import MAX_REPLICATIONS
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.scenario import MAX_HORIZON_D
from sim.textsafe import plain

__all__ = [
    "MAX_CSV_BYTES",
    "MAX_CSV_CELLS",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_JSON_VALUES",
    "Manifest",
    "RunFolderError",
    "is_run_folder",
    "read_csv_columns",
    "read_ensemble_csv",
    "read_json",
    "read_manifest",
    "read_run",
    "read_summary",
    "validate_manifest",
]

MAX_JSON_BYTES = 64 * 2**20
"""Largest manifest.json or summary.json read (a manifest of the largest scenario file is a few MB)."""

MAX_CSV_BYTES = 2 * 2**30
"""Largest timeseries.csv or ensemble.csv read (the ensemble limits keep real ones well below it)."""

MAX_JSON_DEPTH = 100
"""Deepest nesting of lists and objects accepted in a JSON file (a real manifest nests about 10 deep)."""

MAX_JSON_VALUES = 4_000_000
"""Most values (numbers, strings, lists, objects) in a JSON file: bounds the memory json.loads needs
(a real manifest holds well under a million; a summary of 50 years of cargoes about as many)."""

MAX_CSV_CELLS = 100_000_000
"""Most cells read from one CSV file (800 MB as numbers): the largest legal series or ensemble is below it."""

MAX_CSV_COLUMNS = 100_000
"""Most columns of one CSV file (a real timeseries.csv of the reference network has about a hundred)."""

MAX_SERIES_DAYS = int(MAX_HORIZON_D) + 1
"""Most rows of a timeseries.csv (one a day over the longest horizon)."""

ENSEMBLE_INT_COLUMNS = ("replication", "seed", "shocks_happened")
"""The whole-number columns of ensemble.csv (every other column is a metric: a number, or empty)."""


class RunFolderError(ScenarioError):
    """A manifest or run folder could not be read or is not valid (``problems`` names file and key)."""


def _fail(path: str | Path, message: str, line: int | None = None, key: str = "") -> RunFolderError:
    return RunFolderError([Problem(str(path), line, key, message)])


_Seed = Field(strict=True, ge=0, le=2**63 - 1)


class Manifest(BaseModel):
    """The keys of manifest.json that a rerun reads, with their types and ranges (other keys are ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    routesim_manifest: Literal[1]
    scenario_file: str = Field(max_length=4096)
    scenario_files: list[str] = Field(default_factory=list, max_length=64)
    scenario_sha256: str = Field("", max_length=128)
    overrides: list[str] = Field(default_factory=list, max_length=10_000)
    resolved_scenario: dict[str, Any]
    validated_scenario: dict[str, Any] | None = None
    resolved_sha256: str | None = Field(None, max_length=128)
    seed: int = _Seed
    replication: int = Field(0, strict=True, ge=0, lt=MAX_REPLICATIONS)
    replications: int = Field(1, strict=True, ge=1, le=MAX_REPLICATIONS)
    jobs: int | None = Field(None, strict=True, ge=1)
    versions: dict[str, str] = Field(default_factory=dict, max_length=1000)
    git_commit: str | None = Field(None, max_length=200)


class _Metric(BaseModel):
    model_config = ConfigDict(extra="allow")

    value: float | int | str | None = None
    unit: str = ""


class _EnsembleSection(BaseModel):
    model_config = ConfigDict(extra="allow")

    n: int = Field(strict=True, ge=1, le=MAX_REPLICATIONS)
    seed: int = _Seed


class _Summary(BaseModel):
    model_config = ConfigDict(extra="allow")

    metrics: dict[str, _Metric]
    seed: int = _Seed
    replication: int = Field(0, strict=True, ge=0)
    ensemble: _EnsembleSection | None = None


_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
"""A JSON string (unrolled loop: linear time, no backtracking on long strings)."""

_CHUNK = 1 << 20


def json_shape(raw: bytes) -> tuple[int, int]:
    """How deep lists and objects nest in JSON text, and about how many values it holds, without parsing.

    Strings are skipped; values are counted by their separators. Linear in the size, in chunks of a
    MiB, so that neither time nor memory depends on what the text holds.
    """
    code = _STRINGS.sub(b'""', raw)
    depth = deepest = values = 0
    for start in range(0, len(code), _CHUNK):
        chunk = np.frombuffer(code, dtype=np.uint8, count=min(_CHUNK, len(code) - start), offset=start)
        opens = (chunk == ord("[")) | (chunk == ord("{"))
        step = opens.astype(np.int64) - ((chunk == ord("]")) | (chunk == ord("}")))
        levels = np.cumsum(step) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
        values += int(np.count_nonzero(opens | (chunk == ord(",")) | (chunk == ord(":"))))
    return deepest, values + 1


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: str | Path, what: str, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON object from a regular file of at most ``limit`` bytes, nested at most MAX_JSON_DEPTH deep."""
    try:
        raw = read_limited(path, limit, what)
    except FileRefused as exc:
        raise _fail(path, str(exc)) from None
    depth, values = json_shape(raw)
    if depth > MAX_JSON_DEPTH:
        raise _fail(path, f"the JSON nests {depth:,} levels deep; a {what} nests at most {MAX_JSON_DEPTH}")
    if values > MAX_JSON_VALUES:
        raise _fail(path, f"the JSON holds about {values:,} values; a {what} holds at most {MAX_JSON_VALUES:,}")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(path, f"not UTF-8 text ({exc.reason}); expected a {what}", line) from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not valid JSON: {exc.msg}; expected a {what}", exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise _fail(path, f"not valid JSON: {plain(exc)}; expected a {what}") from None
    if not isinstance(data, dict):
        raise _fail(path, f"the top level is a {type(data).__name__}; expected a {what} (a JSON object)", 1)
    return data


def _problems(path: str | Path, exc: ValidationError) -> RunFolderError:
    """pydantic's errors as problems in the project's style: ``key: got X; expected Y``."""
    problems = []
    for error in exc.errors(include_url=False):
        key = ".".join(str(p) for p in error["loc"])
        message = re.sub(r" or instance of \w+", "", str(error["msg"]))
        if error["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Input should be ") and "input" in error:
            expected = message.removeprefix("Input should be ")
            message = f"got {plain(repr(error['input']), 80)}; expected {expected}"
        problems.append(Problem(str(path), None, key, message))
    return RunFolderError(problems)


def read_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest.json (RunFolderError naming the file and key if it is not one)."""
    return validate_manifest(path, read_json(path, MANIFEST))


MANIFEST = "routesim manifest (manifest.json)"


_PATH_KEYS = ("scenario_file", "scenario_files", "overrides")
"""Manifest keys recording paths and command-line text, which may hold bytes that are not UTF-8."""


def _no_surrogates(value: Any) -> Any:
    """A path or argument recorded from non-UTF-8 bytes (a lone surrogate such as ``\\udcff``) as escaped text."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    return value


def validate_manifest(path: str | Path, data: dict[str, Any]) -> Manifest:
    """Check the data of manifest ``path`` against the Manifest schema."""
    if data.get("routesim_manifest") != 1:
        raise _fail(path, "not a routesim run manifest (no 'routesim_manifest': 1)", None, "routesim_manifest")
    data = {k: _no_surrogates(v) if k in _PATH_KEYS else v for k, v in data.items()}
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise _problems(path, exc) from None


def read_summary(path: str | Path) -> dict[str, Any]:
    """Read and check a summary.json: metrics with values, the seed and replication (as stored)."""
    data = read_json(path, "run summary (summary.json)")
    try:
        _Summary.model_validate(data)
    except ValidationError as exc:
        raise _problems(path, exc) from None
    return data


def read_csv_columns(
    path: str | Path,
    text_columns: tuple[str, ...] = (),
    int_columns: tuple[str, ...] = (),
    empty_is_nan: bool = False,
    max_rows: int = MAX_CSV_CELLS,
) -> dict[str, Any]:
    """Named columns of a CSV file: text columns as lists, whole-number columns as int64, others as float64.

    Every cell is checked: a cell that is not a number is refused with its line and column. At most
    ``max_rows`` rows, MAX_CSV_COLUMNS columns and MAX_CSV_CELLS cells are read (bounded memory).
    """
    try:
        handle = open_regular(path, MAX_CSV_BYTES, "CSV file of a run folder")
    except FileRefused as exc:
        raise _fail(path, str(exc)) from None
    with io.TextIOWrapper(handle, encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        try:
            names = next(reader, None)
            if not names:
                raise _fail(path, "the file is empty; expected a header row of column names", 1)
            if len(names) > MAX_CSV_COLUMNS:
                raise _fail(path, f"{len(names):,} columns; a run folder's CSV has at most {MAX_CSV_COLUMNS:,}", 1)
            if len(set(names)) != len(names):
                raise _fail(path, "a column name appears twice in the header", 1)
            most_rows = min(max_rows, MAX_CSV_CELLS // len(names))
            values: list[Any] = [
                [] if n in text_columns else array("q" if n in int_columns else "d") for n in names
            ]  # 8 bytes a number, so memory stays well below the file's size
            for count, row in enumerate(reader, start=1):
                if count > most_rows:
                    raise _fail(
                        path,
                        f"more than {most_rows:,} rows of {len(names):,} columns; refusing to read on",
                        reader.line_num,
                    )
                if len(row) != len(names):
                    raise _fail(path, f"{len(row)} cells; expected {len(names)} (one per column)", reader.line_num)
                for j, cell in enumerate(row):
                    values[j].append(
                        _cell(path, reader.line_num, names[j], cell, text_columns, int_columns, empty_is_nan)
                    )
        except UnicodeDecodeError as exc:
            raise _fail(path, f"not UTF-8 text ({exc.reason})") from None
        except csv.Error as exc:
            raise _fail(path, f"not valid CSV: {plain(exc)}", reader.line_num) from None
        except OSError as exc:
            raise _fail(path, f"cannot read the file: {exc.strerror or exc}") from None
    columns: dict[str, Any] = {}
    for name, column in zip(names, values, strict=True):
        if name in text_columns:
            columns[name] = column
        else:
            columns[name] = np.frombuffer(column, dtype=np.int64 if name in int_columns else np.float64).copy()
    return columns


def _cell(
    path: str | Path,
    line: int,
    name: str,
    cell: str,
    text_columns: tuple[str, ...],
    int_columns: tuple[str, ...],
    empty_is_nan: bool,
) -> Any:
    if name in text_columns:
        return cell
    try:
        if name in int_columns:
            number = int(cell)
            if not -(2**63) <= number < 2**63:
                raise ValueError
            return number
        if empty_is_nan and cell == "":
            return math.nan
        return float(cell)
    except ValueError:
        kind = "a whole number" if name in int_columns else "a number"
        raise _fail(path, f"{plain(repr(cell), 80)} is not {kind}", line, plain(name)) from None


def read_ensemble_csv(path: str | Path) -> dict[str, np.ndarray]:
    """ensemble.csv as named columns (int64 for replication, seed, shocks_happened; NaN for empty cells)."""
    return read_csv_columns(path, int_columns=ENSEMBLE_INT_COLUMNS, empty_is_nan=True, max_rows=MAX_REPLICATIONS)


def read_run(folder: str | Path) -> dict[str, Any]:
    """A run folder, every file checked: ``summary`` and ``manifest`` dicts, ``timeseries`` (and ``ensemble``) columns.

    A missing or invalid file is a RunFolderError naming it.
    """
    folder = Path(folder)
    for name in ("manifest.json", "summary.json", "timeseries.csv"):
        if not (folder / name).exists():
            raise _fail(folder / name, "missing: a run folder holds manifest.json, summary.json and timeseries.csv")
    manifest = read_json(folder / "manifest.json", MANIFEST)
    validate_manifest(folder / "manifest.json", manifest)
    out: dict[str, Any] = {
        "summary": read_summary(folder / "summary.json"),
        "manifest": manifest,
        "timeseries": read_csv_columns(folder / "timeseries.csv", text_columns=("date",), max_rows=MAX_SERIES_DAYS),
        "path": folder,
    }
    if (folder / "ensemble.csv").exists() or (folder / "ensemble.csv").is_symlink():
        out["ensemble"] = read_ensemble_csv(folder / "ensemble.csv")
    return out


def is_run_folder(folder: str | Path) -> bool:
    """Whether ``folder`` is recognisably a routesim run, backtest or study folder (a valid manifest.json in it)."""
    path = Path(folder) / "manifest.json"
    try:
        data = read_json(path, MANIFEST)
    except RunFolderError:
        return False
    if data.get("routesim_backtest") == 1 or data.get("routesim_study_manifest") == 1:
        return True
    try:
        validate_manifest(path, data)
    except RunFolderError:
        return False
    return True

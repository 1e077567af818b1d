"""Fuzzing the scenario loader: whatever the file holds, load_scenario returns or raises ScenarioError.

(a) random YAML documents (random nested maps, lists and scalars written as YAML text,
    YAML-ish character soup, raw bytes); (b) random mutations of the valid toy scenario
    (delete a key, replace a value, rename a key, duplicate a list item, flip a sign,
    insert a tag); (c) random ``--set`` overrides on the toy. Any exception other than
    ScenarioError fails the test, and a ScenarioError must carry usable problems.

Every loader bug the fuzzers found is fixed and pinned by a case of the corpus in
``tests/bad_scenarios/``; a new one fails the test with the file that caused it.

``ROUTESIM_FUZZ_EXAMPLES=5000`` runs a deeper search than the default 150 examples.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.scenario.errors import ScenarioError
from sim.scenario.loader import LoadedScenario, load_scenario

TOY = Path(__file__).parent / "data" / "toy.yaml"
CORPUS = Path(__file__).parent / "bad_scenarios"
EXAMPLES = int(os.environ.get("ROUTESIM_FUZZ_EXAMPLES", "150"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def check_load(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> None:
    """The property: a LoadedScenario, or a ScenarioError with usable problems; nothing else."""
    try:
        loaded = load_scenario(path, list(overrides))
    except ScenarioError as exc:
        assert exc.problems, "a ScenarioError without problems"
        assert "Traceback" not in str(exc)
        for problem in exc.problems:
            assert isinstance(problem.file, str) and problem.file, problem
            assert isinstance(problem.message, str) and problem.message.strip(), problem
            assert problem.line is None or (isinstance(problem.line, int) and problem.line >= 1), problem
            assert isinstance(problem.key, str), problem
        event("ScenarioError")
        return
    except Exception as exc:
        where = "".join(traceback.format_tb(exc.__traceback__)[-4:])
        raise AssertionError(
            f"load_scenario raised {type(exc).__name__}: {exc}\n--- where ---\n{where}--- file ---\n"
            + path.read_bytes()[:3000].decode("utf-8", errors="replace")
            + (f"\n--- overrides ---\n{overrides!r}" if overrides else "")
        ) from exc
    assert isinstance(loaded, LoadedScenario)
    event("loaded")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- writing YAML text ourselves (so plain scalars, tags and anchors reach the parser as written) --------


@dataclass(frozen=True)
class Raw:
    """A scalar written into the YAML text exactly as given (tags, dates, odd numbers, anchors...)."""

    text: str


RAW_TOKENS = [
    "2022-07-01",
    "2022-13-45",
    "2022-02-30",
    "0001-01-01",
    "9999-12-31",
    "2022-07-01 10:00:00",
    "0x_",
    "0b_",
    "0o9",
    "._",
    "1_000",
    "190:20:30",
    ".nan",
    ".inf",
    "-.inf",
    "~",
    "null",
    "yes",
    "no",
    "on",
    "1e400",
    "-0",
    "0",
    "1",
    "-1",
    "0.5",
    "1.5",
    "1" + "0" * 400,
    "-" + "9" * 30,
    "30 d",
    "1e9 d",
    "-5 d",
    "100 kt/d",
    "5 kt",
    "12000 t/h",
    "38 USD/t",
    "100 USD/bbl",
    "150 %",
    "unlimited",
    "nan kt/d",
    "1e400 t/d",
    "60 parsecs",
    "&a x",
    "*a",
    "*nope",
    "<<",
    "!!python/object/apply:os.system ['echo pwned']",
    "!!python/name:os.system",
    "!include x.yaml",
    "!custom x",
    "!!int abc",
    "!!int 08",
    "!!float abc",
    "!!float ''",
    "!!bool maybe",
    "!!timestamp soon",
    "!!binary aGk=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!str 5",
    "!!map x",
    "!!seq x",
    "!!null x",
    "{dist: lognormal, median: 10 d, sigma: -1}",
    "{dist: [x]}",
    "{dist: {a: 1}}",
    "{dist: uniform, low: 5, high: 1}",
    "{dist: discrete, values: [1, 2], weights: [1e308, 1e308]}",
    "{dist: normal, mean: 1, sd: 1e-320}",
    "[1, 2",
    "{a: 1",
    "'unclosed",
    '"\\0"',
    '"\\ud800"',
    '"a\\nb"',
    "x" * 300,
    "@",
    "`",
    "%",
    "? x",
    "- x",
    "|",
    ">",
    "\t",
    "\x07",
    "\x00",
    "\ufeff",
    "a: b: c",
    "[[[[[[[[[[]]]]]]]]]]",
    "&a [*a]",
]

SCENARIO_KEYS = [
    "name", "description", "network", "start_date", "horizon", "seed", "price", "recovery", "shocks", "observed",
    "overrides", "extends", "grade", "sources", "ports", "legs", "routes", "markets", "kind", "capacity", "transit",
    "port", "fleet", "cargo", "load_rate", "inlet_storage", "storage", "initial", "production", "berths",
    "active_berths", "source", "market", "normal", "cost", "lead_time", "priority", "target", "start", "duration",
    "factor", "probability", "multiplier", "dist", "median", "sigma", "low", "mode", "high", "values", "weights",
    "pump_stations", "capacity_without", "tolerance", "window", "bbl_per_t", "pipe", "load", "alt", "field", "novo",
    "med", "europe", "main", "bypass", "recurring", "rate", "background", "derate", "Jan", "Jul",
]  # fmt: skip

TAGS = [
    "!!python/object/apply:os.system", "!!python/name:os.system", "!!python/object:os.system", "!include",
    "!custom", "!!int", "!!float", "!!bool", "!!timestamp", "!!str", "!!null", "!!binary", "!!set", "!!map", "!!seq",
]  # fmt: skip

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def scalar_text(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return (
        text
        if _PLAIN.match(text) and text.lower() not in {"yes", "no", "on", "off", "null", "true", "false"}
        else json.dumps(text)
    )


def key_text(key: Any) -> str:
    text = str(key)
    return text if _PLAIN.match(text) else json.dumps(text)


def block(value: Any, indent: int = 0) -> list[str]:
    """Block-style YAML lines for ``value`` (a mapping or a list), scalars on their own lines."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key_text(key)}:")
                lines += block(item, indent + 2)
            else:
                lines.append(f"{pad}{key_text(key)}: {flow(item)}")
    else:
        for item in value:
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}-")
                lines += block(item, indent + 2)
            else:
                lines.append(f"{pad}- {flow(item)}")
    return lines


def flow(value: Any) -> str:
    """Flow-style YAML for ``value``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key_text(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar_text(value)


def to_yaml(value: Any, style: str = "block") -> str:
    if isinstance(value, dict | list) and value and style == "block":
        return "\n".join(block(value)) + "\n"
    return flow(value) + "\n"


# --- strategies -------------------------------------------------------------------------------------

units = st.sampled_from(["t", "kt", "Mt", "bbl", "Mbbl", "m3", "d", "h", "wk", "yr", "kt/d", "Mt/yr", "t/h",
                         "Mbbl/d", "USD/t", "USD/bbl", "%", "parsecs", "kt/d/d", ""])  # fmt: skip
numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
unit_strings = st.builds(lambda n, u: f"{n} {u}".strip(), numbers, units)
texts = st.text(max_size=30)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    texts,
    unit_strings,
    st.dates(),
    st.sampled_from(RAW_TOKENS).map(Raw),
)
keys = st.one_of(st.sampled_from(SCENARIO_KEYS), st.text(min_size=1, max_size=12))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=40,
)
yamlish = st.lists(
    st.one_of(
        st.sampled_from(list(":-[]{},&*!|>'\"%@`#? \n\t.~") + SCENARIO_KEYS[:12] + RAW_TOKENS),
        st.characters(),
    ),
    max_size=120,
).map("".join)


# --- (a) random documents -----------------------------------------------------------------------------


@FUZZ
@given(tree=trees, style=st.sampled_from(["block", "flow"]))
def test_random_yaml_documents(workdir, tree, style):
    path = workdir / "doc.yaml"
    path.write_text(to_yaml(tree, style), encoding="utf-8", errors="surrogatepass")
    check_load(path)


@FUZZ
@given(top=st.dictionaries(st.sampled_from(SCENARIO_KEYS[:11]), trees, min_size=1, max_size=8))
def test_random_scenario_shaped_documents(workdir, top):
    path = workdir / "shaped.yaml"
    path.write_text(to_yaml(top), encoding="utf-8", errors="surrogatepass")
    check_load(path)


@FUZZ
@given(text=yamlish)
def test_random_yaml_text(workdir, text):
    path = workdir / "text.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_load(path)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(workdir, data):
    path = workdir / "bytes.yaml"
    path.write_bytes(data)
    check_load(path)


# --- (b) mutations of the valid toy --------------------------------------------------------------------

TOY_DATA: dict = yaml.safe_load(TOY.read_text())
TOY_WITH_SHOCKS: dict = {
    **TOY_DATA,
    "shocks": [
        *TOY_DATA["shocks"],
        {
            "kind": "outage",
            "target": "pipe",
            "start": "5 d",
            "duration": {"dist": "lognormal", "median": "10 d", "sigma": 0.5},
            "factor": {"dist": "uniform", "low": 0.2, "high": 0.6},
            "probability": 0.5,
        },
        {
            "kind": "slowdown",
            "target": "alt",
            "start": dt.date(2022, 7, 20),
            "duration": {"dist": "triangular", "low": "2 d", "mode": "5 d", "high": "9 d"},
            "multiplier": {"dist": "discrete", "values": [1, 2, 3], "weights": [1, 1, 2]},
        },
        {
            "kind": "production",
            "target": "field",
            "start": {"dist": "uniform", "low": "0 d", "high": "30 d"},
            "duration": {"dist": "normal", "mean": "10 d", "sd": "3 d", "low": "1 d", "high": "20 d"},
            "factor": 0.5,
            "ramp": "3 d",
        },
        {"kind": "closure", "target": "bypass", "start": "1 d", "duration": "2 wk"},
    ],
}
"""The toy with one shock of each kind, numbers drawn from each distribution (for mutations to reach them)."""


def paths_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node below ``value`` (not the root)."""
    out: list[tuple] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*prefix, key))
            out += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.append((*prefix, i))
            out += paths_of(item, (*prefix, i))
    return out


def get(root: Any, path: tuple) -> Any:
    for part in path:
        root = root[part]
    return root


def flip_sign(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return -value
    if isinstance(value, str):
        return value[1:] if value.startswith("-") else "-" + value
    return value


MUTATIONS = ["delete", "replace", "rename", "duplicate", "sign", "tag"]


def mutate(data: st.DataObject, doc: dict) -> None:
    """Apply one random mutation to ``doc`` in place."""
    paths = paths_of(doc)
    if not paths:
        doc["name"] = data.draw(scalars, label="name")
        return
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    if kind == "duplicate":
        lists = [p for p in paths if isinstance(get(doc, p), list) and get(doc, p)]
        if lists:
            target = get(doc, data.draw(st.sampled_from(lists), label="list"))
            target.append(copy.deepcopy(data.draw(st.sampled_from(target), label="item")))
            return
        kind = "replace"
    path = data.draw(st.sampled_from(paths), label="path")
    parent, last = get(doc, path[:-1]), path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "replace":
        parent[last] = data.draw(st.one_of(scalars, unit_strings, trees), label="value")
    elif kind == "rename":
        if isinstance(parent, dict):
            value = parent.pop(last)
            new = data.draw(
                st.one_of(keys, st.just(str(last)[:-1] or "x"), st.just(str(last) + "s"), st.just(str(last).upper())),
                label="new key",
            )
            parent[new] = value
        else:
            parent.insert(0, parent.pop(last))
    elif kind == "sign":
        parent[last] = flip_sign(parent[last])
    elif kind == "tag":
        tag = data.draw(st.sampled_from(TAGS), label="tag")
        old = parent[last]
        parent[last] = Raw(f"{tag} {flow(old) if isinstance(old, dict | list) else scalar_text(old)}")


@FUZZ
@given(data=st.data(), style=st.sampled_from(["block", "flow"]))
def test_mutated_toy(workdir, data, style):
    doc = copy.deepcopy(data.draw(st.sampled_from([TOY_DATA, TOY_WITH_SHOCKS]), label="base"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        mutate(data, doc)
    path = workdir / "toy.yaml"
    path.write_text(to_yaml(doc, style), encoding="utf-8", errors="surrogatepass")
    check_load(path)


@pytest.mark.parametrize("style", ["block", "flow"])
def test_emitter_writes_the_bases_faithfully(workdir, style):
    path = workdir / f"roundtrip-{style}.yaml"
    path.write_text(to_yaml(TOY_DATA, style))
    assert yaml.safe_load(path.read_text()) == TOY_DATA
    assert load_scenario(path).scenario == load_scenario(TOY).scenario
    path.write_text(to_yaml(TOY_WITH_SHOCKS, style))
    assert len(load_scenario(path).scenario.shocks) == 5


# --- (c) random --set overrides ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rich_toy(workdir) -> Path:
    path = workdir / "rich.yaml"
    path.write_text(to_yaml(TOY_WITH_SHOCKS))
    return path


TOY_PATHS = [".".join(map(str, p)) for p in paths_of(TOY_WITH_SHOCKS)]


@FUZZ
@given(
    key=st.one_of(st.sampled_from(TOY_PATHS), st.text(max_size=20)),
    value=st.one_of(st.sampled_from(RAW_TOKENS), unit_strings, texts, st.builds(flow, trees)),
)
def test_random_set_overrides(rich_toy, key, value):
    check_load(rich_toy, [f"{key}={value}"])

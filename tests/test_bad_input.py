"""Bad scenario files are refused with a ScenarioError that says where and what, never a traceback.

The corpus ``tests/bad_scenarios/`` holds one small file per case. Each file starts with
comment lines that state what the loader must report:

``# expect: <message substring> @ <key path> line <N>``
    Some problem has this substring in its message, exactly this key path (``-`` for
    none, ``*`` for any) and this line (``-``: the line may be absent, e.g. a whole-file problem or a
    ``--set`` override). An empty substring accepts any message. Several ``expect``
    lines may be given; each must be matched.
``# case: <text>``
    What the case is about (documentation only).
``# set: <key.path=value>``
    A CLI-style override passed to ``load_scenario`` (the file itself is then valid).
``# xfail: <reason>``
    A known loader bug: the case is marked ``xfail(strict=True)`` with this reason,
    so it starts failing (XPASS) as soon as the loader is fixed.

Besides matching the expectations, every problem of every case must name the file (or
``<--set>``), carry a line inside the file unless an expectation allows none, and the
error text must be one line per problem with no traceback. Cases that need files built
at test time (a 0-byte file, a file over the size limit, include cycles inside a ``scenarios``
folder) are written into ``tmp_path`` below.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.loader import LoadedScenario, load_scenario
from sim.scenario.yamlio import MAX_FILE_BYTES, MAX_NODES

CORPUS = Path(__file__).parent / "bad_scenarios"
TOY = Path(__file__).parent / "data" / "toy.yaml"
REPO = Path(__file__).resolve().parents[1]

EXPECT = re.compile(r"^# expect:(?P<message>.*?)@ (?P<key>.+) line (?P<line>\d+|-)\s*$")

HANG_GUARD_S = 600.0
"""Only a guard against a hang; no test asserts how long a refusal takes (CI hosts are shared and busy).
The work a refusal does is bounded by counting (nodes, characters, bytes), and tests check the counting."""


@dataclass(frozen=True)
class Expect:
    message: str
    key: str | None  # None: any key path
    line: int | None  # None: any line, or none

    def matches(self, problem: Problem) -> bool:
        return (
            self.message in problem.message
            and (self.key is None or problem.key == self.key)
            and (self.line is None or problem.line == self.line)
        )

    def __str__(self) -> str:
        key = "*" if self.key is None else self.key or "-"
        return f"{self.message!r} @ {key} line {'-' if self.line is None else self.line}"


@dataclass(frozen=True)
class Case:
    path: Path
    expects: tuple[Expect, ...]
    sets: tuple[str, ...]
    xfail: str | None
    n_lines: int


def read_case(path: Path) -> Case:
    """Parse the comment header of a corpus file (the file may hold non-UTF-8 bytes further down)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.splitlines()
    expects: list[Expect] = []
    sets: list[str] = []
    xfail = None
    for line in lines:
        if not line.startswith("#"):
            break
        if line.startswith("# expect:"):
            match = EXPECT.match(line)
            assert match, f"{path.name}: malformed expect line {line!r}"
            key = match["key"].strip()
            expects.append(
                Expect(
                    message=match["message"].strip(),
                    key={"-": "", "*": None}.get(key, key),
                    line=None if match["line"] == "-" else int(match["line"]),
                )
            )
        elif line.startswith("# set:"):
            sets.append(line.removeprefix("# set:").strip())
        elif line.startswith("# xfail:"):
            xfail = line.removeprefix("# xfail:").strip()
        elif not line.startswith(("# case:", "# fixed (was a loader bug):")):
            raise AssertionError(f"{path.name}: unknown header line {line!r}")
    assert expects, f"{path.name}: no '# expect:' line"
    assert lines and lines[0].startswith("# expect:"), f"{path.name}: must start with '# expect:'"
    return Case(path, tuple(expects), tuple(sets), xfail, len(lines))


def corpus_params() -> list:
    params = []
    for path in sorted(CORPUS.glob("*.yaml")):
        case = read_case(path)
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        params.append(pytest.param(case, id=path.stem, marks=marks))
    return params


def refusal(path: Path, overrides: tuple[str, ...] | list[str] = ()) -> ScenarioError:
    """Load ``path``; return the ScenarioError, failing on success or on any other exception."""
    try:
        loaded = load_scenario(path, list(overrides))
    except ScenarioError as exc:
        return exc
    except Exception as exc:
        pytest.fail(f"{path.name}: raised {type(exc).__name__} instead of ScenarioError: {exc}")
    assert isinstance(loaded, LoadedScenario)
    pytest.fail(f"{path.name}: loaded without error")


def check_error_text(exc: ScenarioError) -> None:
    """The printed error: no traceback, one line per problem, each line naming a place."""
    assert exc.problems, "a ScenarioError without problems"
    text = str(exc)
    assert "Traceback" not in text
    assert len(text.splitlines()) == len(exc.problems), f"not one line per problem:\n{text}"
    for problem in exc.problems:
        assert problem.message.strip(), f"empty message in {problem!r}"
        assert "\n" not in problem.message, f"multi-line message in {problem!r}"
        assert problem.file, f"no file in {problem!r}"


def describe(exc: ScenarioError) -> str:
    return "\n".join(f"  {p!r}" for p in exc.problems)


# --- the corpus ---------------------------------------------------------------------------------


def test_corpus_is_there():
    cases = [read_case(path) for path in CORPUS.glob("*.yaml")]
    assert len(cases) >= 100
    assert sum(1 for case in cases if case.xfail is None) >= 80


@pytest.mark.parametrize("case", corpus_params())
def test_bad_file_is_refused_with_file_line_and_key(case: Case):
    exc = refusal(case.path, case.sets)
    check_error_text(exc)
    for problem in exc.problems:
        from_set = problem.file == "<--set>"
        assert from_set or Path(problem.file).resolve() == case.path.resolve(), (
            f"problem names another file: {problem!r}"
        )
        if from_set:
            assert case.sets, f"a <--set> problem without any override: {problem!r}"
            continue
        if problem.line is None:
            assert any(e.line is None and e.matches(problem) for e in case.expects), (
                f"problem without a line number: {problem!r}"
            )
        else:
            assert 1 <= problem.line <= max(case.n_lines, 1), f"line outside the file: {problem!r}"
    for expect in case.expects:
        assert any(expect.matches(p) for p in exc.problems), f"no problem matches {expect}; got:\n{describe(exc)}"


# --- files built at test time -------------------------------------------------------------------


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    exc = refusal(path)
    check_error_text(exc)
    assert [p.file for p in exc.problems] == [str(path)]
    assert "empty" in exc.problems[0].message


def test_whitespace_only_file(tmp_path):
    path = tmp_path / "blank.yaml"
    path.write_text("\n   \n\n")
    exc = refusal(path)
    check_error_text(exc)
    assert "empty" in exc.problems[0].message


def test_missing_file_and_directory(tmp_path):
    for path in (tmp_path / "nowhere.yaml", tmp_path):
        exc = refusal(path)
        check_error_text(exc)
        assert exc.problems[0].file == str(path)


def _load_in_subprocess(path: Path) -> dict:
    """Load ``path`` in a fresh interpreter; report the outcome and the peak memory."""
    code = textwrap.dedent(
        """
        import json, resource, sys, time
        from sim.scenario.errors import ScenarioError
        from sim.scenario.loader import load_scenario
        try:
            load_scenario(sys.argv[1])
            outcome, problems = "loaded", []
        except ScenarioError as exc:
            outcome, problems = "ScenarioError", [[p.file, p.line, p.key, p.message] for p in exc.problems]
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"outcome": outcome, "problems": problems, "rss_mb": rss_mb}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"the loader crashed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_alias_bomb_is_refused_in_bounded_memory():
    result = _load_in_subprocess(CORPUS / "alias_bomb.yaml")
    assert result["outcome"] == "ScenarioError"
    assert "alias bomb" in result["problems"][0][3]
    assert result["rss_mb"] < 1000


def test_huge_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    lines = TOY.read_text() + "observed:\n" + "".join(f"  figure_{i}: {i}\n" for i in range(200_000))
    path.write_text(lines)
    assert path.stat().st_size > MAX_FILE_BYTES
    monkeypatch.setattr(yaml, "parse", _never("parsed"))
    monkeypatch.setattr(yaml, "compose", _never("composed"))
    exc = refusal(path)
    assert len(exc.problems) == 1
    [problem] = exc.problems
    assert problem.file == str(path) and problem.line is None
    assert "bytes" in problem.message and f"{MAX_FILE_BYTES:,}" in problem.message


def _never(what: str):
    def refuse(*_args, **_kwargs):
        raise AssertionError(f"the document was {what}, although the loader could refuse it before")

    return refuse


def test_large_flat_document_under_the_size_limit_is_refused_before_composing(tmp_path, monkeypatch):
    """The node count is taken from the event stream and stops at the limit: no node graph is built."""
    path = tmp_path / "wide.yaml"
    count = (MAX_FILE_BYTES - 100) // 2
    path.write_text("name: wide\nobserved: [" + ",".join(["1"] * count) + "]\n")
    assert path.stat().st_size < MAX_FILE_BYTES
    events = 0
    real_parse = yaml.parse

    def counting_parse(*args, **kwargs):
        nonlocal events
        for event in real_parse(*args, **kwargs):
            events += 1
            yield event

    monkeypatch.setattr(yaml, "parse", counting_parse)
    monkeypatch.setattr(yaml, "compose", _never("composed"))
    exc = refusal(path)
    [problem] = exc.problems
    assert problem.file == str(path) and problem.line == 2
    assert f"more than {MAX_NODES:,} YAML nodes" in problem.message
    assert events < MAX_NODES + 10  # stopped at the limit, not after reading all 256,000 items


def test_every_shipped_file_is_far_below_the_node_limit():
    for path in sorted((REPO / "scenarios").rglob("*.yaml")):
        nodes = sum(1 for e in yaml.parse(path.read_text()) if isinstance(e, yaml.NodeEvent))
        assert nodes * 10 < MAX_NODES, path


def _resolved_size(data, limit: float) -> float:
    """Characters of ``data`` once written out (as manifest.json does), stopping past ``limit``."""
    total = 0.0
    stack = [data]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            total += len(item)
        else:
            total += len(str(item))
    return total


def test_aliases_of_a_long_string_do_not_explode_the_resolved_scenario(tmp_path):
    path = tmp_path / "amplify.yaml"
    markets = ", ".join(f"x{i}: {{description: *s}}" for i in range(5_000))
    text = (
        TOY.read_text()
        .replace("seed: 1", "seed: 1\ndescription: &s " + "x" * 300_000)
        .replace("markets: {med: {}, europe: {}}", "markets: {med: {}, europe: {}, " + markets + "}")
    )
    path.write_text(text)
    assert path.stat().st_size < MAX_FILE_BYTES
    try:
        loaded = load_scenario(path)
    except ScenarioError as exc:
        check_error_text(exc)
        return
    size = _resolved_size(loaded.resolved, 100e6)
    del loaded  # keep pytest from rendering gigabytes in the failure report
    assert size < 100e6, "the resolved scenario is over 100 MB of text"


def test_fraction_bounds_read_naturally(tmp_path):
    exc = refusal(CORPUS / "probability_above_one.yaml")
    assert not any(re.search(r"\b1 1\b", p.message) for p in exc.problems), describe(exc)


# --- includes ---------------------------------------------------------------------------------------

SCENARIO_HEAD = "name: toy\nstart_date: 2022-07-01\nhorizon: 60 d\nseed: 1\n"


def _network_text() -> str:
    """The toy's network block, dedented to stand alone as a network file."""
    text = TOY.read_text()
    block = text[text.index("network:\n") + len("network:\n") : text.index("shocks:")]
    return textwrap.dedent(block)


@pytest.fixture
def scenarios(tmp_path) -> Path:
    root = tmp_path / "scenarios"
    (root / "network").mkdir(parents=True)
    (root / "network" / "base.yaml").write_text(_network_text())
    (tmp_path / "secret.yaml").write_text(_network_text())
    return root


def _scenario(root: Path, name: str, network: str) -> Path:
    path = root / name
    path.write_text(SCENARIO_HEAD + f"network: {network}\n")
    return path


def test_include_fixture_is_valid(scenarios):
    loaded = load_scenario(_scenario(scenarios, "ok.yaml", "network/base.yaml"))
    assert loaded.scenario.network.legs["pipe"].capacity == 120_000


def test_include_cycle_a_extends_b_extends_a(scenarios):
    (scenarios / "network" / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (scenarios / "network" / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    exc = refusal(_scenario(scenarios, "cycle.yaml", "network/a.yaml"))
    check_error_text(exc)
    [problem] = exc.problems
    assert "include cycle" in problem.message and "a.yaml" in problem.message and "b.yaml" in problem.message
    assert Path(problem.file).parent == scenarios / "network"
    assert problem.line is not None


def test_network_extending_itself(scenarios):
    (scenarios / "network" / "self.yaml").write_text("extends: self.yaml\n")
    exc = refusal(_scenario(scenarios, "self.yaml", "network/self.yaml"))
    check_error_text(exc)
    assert "include cycle" in exc.problems[0].message
    assert exc.problems[0].line is not None


def test_include_chain_too_deep(scenarios):
    for i in range(12):
        (scenarios / "network" / f"n{i}.yaml").write_text(f"extends: n{i + 1}.yaml\n" if i < 11 else _network_text())
    exc = refusal(_scenario(scenarios, "deep.yaml", "network/n0.yaml"))
    check_error_text(exc)
    [problem] = exc.problems
    assert "deeper than" in problem.message and "n0.yaml" in problem.message
    # Reported where the chain goes one file too far: the last accepted file's ``extends`` line.
    assert (Path(problem.file).name, problem.line, problem.key) == ("n6.yaml", 1, "network.extends")


def test_include_chain_too_deep_in_a_network_file_alone(scenarios):
    from sim.scenario.loader import load_network

    for i in range(12):
        (scenarios / "network" / f"n{i}.yaml").write_text(f"extends: n{i + 1}.yaml\n" if i < 11 else _network_text())
    with pytest.raises(ScenarioError) as info:
        load_network(scenarios / "network" / "n0.yaml")
    check_error_text(info.value)
    [problem] = info.value.problems
    assert "deeper than" in problem.message
    assert (Path(problem.file).name, problem.line, problem.key) == ("n7.yaml", 1, "extends")


def test_overrides_path_problems_name_the_full_key(tmp_path):
    for entry, key, message in (
        ("legz.pipe.capacity: 5", "network.legz.pipe.capacity", "no key 'legz' at network; did you mean 'legs'?"),
        ("legs.pipe.capacity.x: 5", "network.legs.pipe.capacity.x", "network.legs.pipe.capacity is not a mapping"),
        ("routes.main.legs.7: pipe", "network.routes.main.legs.7", "no item 7 in the list at network.routes.main.legs"),
    ):
        path = tmp_path / "o.yaml"
        path.write_text(TOY.read_text().replace("price:", f"overrides:\n  {entry}\nprice:"))
        exc = refusal(path)
        check_error_text(exc)
        [problem] = exc.problems
        assert (problem.key, problem.line, problem.message) == (key, 6, message)


@pytest.mark.parametrize("ref", ["../secret.yaml", "../../etc/passwd", "/etc/passwd", ".", "network/../../secret.yaml"])
def test_include_outside_the_scenarios_folder(scenarios, ref):
    path = _scenario(scenarios, "outside.yaml", ref)
    exc = refusal(path)
    check_error_text(exc)
    [problem] = exc.problems
    assert "points outside the scenarios folder" in problem.message
    assert (problem.file, problem.line, problem.key) == (str(path), 5, "network")


def test_extends_outside_the_scenarios_folder(scenarios):
    (scenarios / "network" / "escape.yaml").write_text("extends: ../../secret.yaml\n")
    exc = refusal(_scenario(scenarios, "escape.yaml", "network/escape.yaml"))
    check_error_text(exc)
    [problem] = exc.problems
    assert "points outside the scenarios folder" in problem.message
    assert (Path(problem.file).name, problem.line, problem.key) == ("escape.yaml", 1, "network.extends")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlink_escaping_the_scenarios_folder(scenarios, tmp_path):
    (scenarios / "network" / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    exc = refusal(_scenario(scenarios, "link.yaml", "network/link.yaml"))
    assert "points outside the scenarios folder" in exc.problems[0].message


def test_problem_in_an_included_network_names_that_file_and_line(scenarios):
    (scenarios / "network" / "child.yaml").write_text("extends: base.yaml\nlegs:\n  pipe: {capacty: 5 kt/d}\n")
    exc = refusal(_scenario(scenarios, "child.yaml", "network/child.yaml"))
    check_error_text(exc)
    [problem] = [p for p in exc.problems if p.key == "network.legs.pipe.capacty"]
    assert Path(problem.file) == scenarios / "network" / "child.yaml"
    assert problem.line == 3
    assert "did you mean 'capacity'" in problem.message


def test_problem_in_a_base_network_names_the_base_file(scenarios):
    base = scenarios / "network" / "base.yaml"
    base.write_text(base.read_text().replace("transit: 5 d", "transit: -5 d"))
    (scenarios / "network" / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    exc = refusal(_scenario(scenarios, "child.yaml", "network/child.yaml"))
    check_error_text(exc)
    [problem] = exc.problems
    assert Path(problem.file) == base
    assert problem.key == "network.legs.pipe.transit"
    assert base.read_text().splitlines()[problem.line - 1].lstrip().startswith("pipe:")


def test_included_network_with_a_python_tag(scenarios):
    (scenarios / "network" / "evil.yaml").write_text(
        _network_text().replace("grade: {bbl_per_t: 7.9}", 'grade: !!python/object/apply:os.system ["echo pwned"]')
    )
    exc = refusal(_scenario(scenarios, "evil.yaml", "network/evil.yaml"))
    check_error_text(exc)
    [problem] = exc.problems
    assert "is not allowed" in problem.message
    assert Path(problem.file).name == "evil.yaml" and problem.line == 1 and problem.key == "network.grade"


def test_included_network_that_is_a_list(scenarios):
    (scenarios / "network" / "list.yaml").write_text("- a\n- b\n")
    exc = refusal(_scenario(scenarios, "list.yaml", "network/list.yaml"))
    check_error_text(exc)
    assert "top level is a list" in exc.problems[0].message


# --- sanity: the corpus files are bad only in the way they say ---------------------------------------


def test_toy_scenario_itself_loads():
    loaded = load_scenario(TOY)
    assert loaded.scenario.name == "toy"
    assert math.isclose(loaded.scenario.horizon, 60)

"""Safe YAML reading that remembers where every key came from.

We compose the YAML node graph with PyYAML's SafeLoader and build plain Python objects
ourselves, so that we can (a) record the file and line of every key path for error
messages, (b) refuse any tag outside plain YAML (``!!python/...``, ``!include``, ...),
(c) refuse duplicate keys, and (d) bound the work an alias bomb ("billion laughs") could
cause. Nothing is ever constructed from a tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.fileio import FileRefused, read_limited
from sim.scenario.errors import ScenarioError

__all__ = ["MAX_FILE_BYTES", "MAX_NODES", "Located", "parse_scalar", "read_yaml"]

MAX_FILE_BYTES = 512_000
"""Largest scenario or network file we read (a real one is a few kB, a sourced network ~30 kB)."""

MAX_TEXT_CHARS = 5_000_000
"""Most characters of text one file may expand to, aliases included (stops string alias bombs)."""

_Composer = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same nodes, faster

MAX_NODES = 20_000
"""Most YAML nodes one file may hold or expand to, aliases included (the largest shipped network has
about 600). Counted while parsing, before anything is composed, so refusing a file costs milliseconds;
counted again while building, so an alias bomb is stopped too."""

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}


@dataclass
class Located:
    """A document as plain Python data, with the (file, line) of each key path."""

    data: Any
    lines: dict[tuple, tuple[str, int]] = field(default_factory=dict)

    def where(self, path: tuple) -> tuple[str, int | None]:
        """The file and line of ``path``, or of its nearest ancestor that we know."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), ("<unknown>", None))


class _Builder:
    """Turns a composed node graph into plain data, recording lines and counting nodes."""

    def __init__(self, file: str, prefix: tuple = ()):
        self.file = file
        self.prefix = prefix
        self.lines: dict[tuple, tuple[str, int]] = {}
        self.count = 0
        self.chars = 0
        self.stack: set[int] = set()  # nodes being built: an alias to one of them is a cycle
        self._constructor = yaml.SafeLoader("")  # only used to read scalars of plain tags

    def fail(self, node: yaml.Node, message: str, path: tuple) -> ScenarioError:
        key = ".".join(str(p) for p in self.prefix + path)
        line = None if self.file == "<--set>" else node.start_mark.line + 1  # a --set value has no file line
        return ScenarioError.single(self.file, message, line, key)

    def build(self, node: yaml.Node, path: tuple = ()) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"the document expands to more than {MAX_NODES:,} nodes "
                "(an alias bomb, or far larger than any scenario); refusing to read it",
                path,
            )
        self.lines.setdefault(self.prefix + path, (self.file, node.start_mark.line + 1))
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(
                node,
                f"tag {node.tag!r} is not allowed; scenario files hold plain YAML "
                "(maps, lists, strings, numbers, booleans, dates)",
                path,
            )
        if isinstance(node, yaml.ScalarNode):
            self.chars += len(node.value)
            if self.chars > MAX_TEXT_CHARS:
                raise self.fail(
                    node,
                    f"the document expands to more than {MAX_TEXT_CHARS:,} characters of text "
                    "(aliases of long strings?); refusing to read it",
                    path,
                )
            try:
                return self._constructor.construct_object(node)
            except (ValueError, TypeError, AttributeError, OverflowError, KeyError, IndexError, yaml.YAMLError) as exc:
                kind = node.tag.rpartition(":")[2]
                if kind == "timestamp":
                    detail = f": {exc}" if isinstance(exc, ValueError) else ""
                    message = f"cannot read {node.value!r} as a date (YYYY-MM-DD){detail}"
                else:
                    message = f"cannot read {node.value!r} as a YAML {kind}"
                raise self.fail(node, message, path) from None
        if id(node) in self.stack:
            raise self.fail(node, "an alias refers to the mapping or list that contains it (a cycle)", path)
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                result: dict[str, Any] = {}
                for key_node, value_node in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        raise self.fail(key_node, "merge keys (<<) are not supported; write the keys out", path)
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                        raise self.fail(key_node, "a key must be a plain string", path)
                    key = str(key_node.value)
                    if key in result:
                        raise self.fail(key_node, f"key {key!r} appears twice", (*path, key))
                    self.lines[(*self.prefix, *path, key)] = (self.file, key_node.start_mark.line + 1)
                    result[key] = self.build(value_node, (*path, key))
                return result
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.stack.discard(id(node))


def parse_scalar(text: str) -> Any:
    """Read one scalar the way YAML would ("30 d" stays a string, "3" becomes 3)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return text  # not YAML: take the text as it is
    if node is None:
        return None
    try:
        return _Builder("<--set>").build(node)
    except RecursionError:
        raise ScenarioError.single("<--set>", f"cannot read {text!r}: nested too deeply") from None


def _count_nodes(text: str, name: str) -> None:
    """Refuse a document with more than MAX_NODES nodes while reading its event stream.

    Composing builds the whole node graph first (about 3 us a node); the event stream costs a
    fraction of that and stops at the limit, so a huge flat document is refused cheaply.
    """
    count = 0
    for event in yaml.parse(text, Loader=_Composer):
        if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)):
            count += 1
            if count > MAX_NODES:
                raise ScenarioError.single(
                    name,
                    f"the document has more than {MAX_NODES:,} YAML nodes (a scenario or network file has a few "
                    "hundred); refusing to read it",
                    event.start_mark.line + 1,
                )


def read_yaml(path: Path, prefix: tuple = ()) -> Located:
    """Read one YAML file safely; key paths are recorded under ``prefix``.

    Raises ScenarioError (with file and line) for a missing, oversized or broken file, a
    disallowed tag, a duplicate key, or an alias bomb.
    """
    name = str(path)
    try:
        raw = read_limited(path, MAX_FILE_BYTES, "scenario or network file (YAML)")
    except FileRefused as exc:
        raise ScenarioError.single(name, str(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError.single(name, f"the file is not UTF-8 text ({exc.reason})", line) from None
    lines_in_file = text.count("\n") + 1
    try:
        _count_nodes(text, name)
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if mark is None or (exc.context_mark is not None and mark.line + 1 >= lines_in_file):
            mark = exc.context_mark or mark  # at the end of the file, where the construct opened is clearer
        line = mark.line + 1 if mark else None
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ScenarioError.single(name, f"not valid YAML: {what}", line) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        raise ScenarioError.single(
            name, f"not valid YAML: special character {exc.character!r} is not allowed", line
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError.single(name, f"not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ScenarioError.single(name, "the YAML is nested too deeply") from None
    if node is None:
        raise ScenarioError.single(name, "the file is empty; expected a mapping of keys", 1)
    builder = _Builder(name, prefix)
    try:
        data = builder.build(node)
    except RecursionError:
        raise ScenarioError.single(name, "the YAML is nested too deeply") from None
    if not isinstance(data, dict):
        raise ScenarioError.single(name, f"the top level is a {type(data).__name__}; expected a mapping of keys", 1)
    builder.lines.setdefault(prefix, (name, 1))
    return Located(data, builder.lines)

"""The one error type a bad scenario file raises, carrying file, line and key path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.textsafe import plain

__all__ = ["Problem", "ScenarioError"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where it is (file, line, key path) and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        """One printable line: control characters escaped, long parts shortened (file text is data)."""
        file = plain(self.file, MAX_PATH_SHOWN)
        where = file if self.line is None else f"{file}:{self.line}"
        key = f" {plain(self.key)}:" if self.key else ""
        return f"{where}:{key} {plain(self.message, MAX_MESSAGE_SHOWN)}"


MAX_PATH_SHOWN = 300
"""Most characters of a file path shown in a problem."""

MAX_MESSAGE_SHOWN = 600
"""Most characters of a problem's message shown (values quoted in it are kept head and tail)."""


class ScenarioError(Exception):
    """A scenario file could not be read or is not valid; ``problems`` lists every cause."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str | Path, message: str, line: int | None = None, key: str = "") -> ScenarioError:
        """An error with one problem."""
        return cls([Problem(str(file), line, key, message)])

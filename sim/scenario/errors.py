"""The one error type a bad scenario file raises, carrying file, line and key path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Problem", "ScenarioError"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where it is (file, line, key path) and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {_one_line(self.key)}:" if self.key else ""
        return f"{where}:{key} {_one_line(self.message)}"


def _one_line(text: str) -> str:
    """Text with control characters escaped, so that one problem prints as one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class ScenarioError(Exception):
    """A scenario file could not be read or is not valid; ``problems`` lists every cause."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str | Path, message: str, line: int | None = None, key: str = "") -> ScenarioError:
        """An error with one problem."""
        return cls([Problem(str(file), line, key, message)])

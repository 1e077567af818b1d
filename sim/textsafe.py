"""Text from files is data: make any string safe to show on one terminal line.

Names, keys, paths and values come from scenario files, manifests and run folders that a
stranger may have written. Before such text reaches the console it goes through
``plain`` (control characters escaped, long values shortened); the CLI also escapes rich
markup on top (``[/]`` in a name must print as itself, not end a style). This module
imports nothing from ``sim``, so every layer may use it.
"""

from __future__ import annotations

__all__ = ["MAX_SHOWN", "figure_text", "one_line", "plain", "shorten"]

MAX_SHOWN = 200
"""Most characters of one value shown in a message (longer values keep their head and tail)."""

_ELLIPSIS = " … "


def one_line(text: object) -> str:
    """``text`` with every non-printable character escaped (C0/C1 controls, ESC, BEL, newlines, bidi marks).

    A printable character stays as it is; any other becomes its Python escape (``\\x1b``,
    ``\\n``, ``\\u202e``), so one value prints as one line and never drives the terminal.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to about ``limit`` characters, keeping its head and tail around an ellipsis."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(_ELLIPSIS), 2)
    head = keep - keep // 3
    return f"{text[:head]}{_ELLIPSIS}{text[len(text) - keep // 3 :]}"


def plain(text: object, limit: int | None = MAX_SHOWN) -> str:
    """One printable line of at most about ``limit`` characters (``None``: no limit)."""
    shown = one_line(text)
    return shown if limit is None else shorten(shown, limit)


def figure_text(text: object, limit: int | None = 120) -> str:
    """``plain`` text for a matplotlib title or label: '$' escaped, so a name is never read as mathtext.

    (An unbalanced ``$\\frac{`` in a scenario name would otherwise fail when the figure is saved.)
    """
    return plain(text, limit).replace("$", r"\$")

"""Reading files that strangers may have written: regular files only, never more than a limit.

A scenario, manifest or run-folder file may be a symlink to ``/dev/zero`` (endless), a FIFO
(blocks forever), a directory or a huge file. ``open_regular`` opens without blocking,
checks that it holds a regular file of at most ``limit`` bytes, and ``read_limited``
reads at most ``limit + 1`` bytes, so neither memory nor time depends on what the file
is. This module imports nothing from ``sim``, so every layer may use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["FileRefused", "open_regular", "read_limited"]


class FileRefused(Exception):
    """A file could not be read, or is not a regular file within the size limit (the message says which)."""


def open_regular(path: str | Path, limit: int, what: str = "file") -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file of at most ``limit`` bytes.

    Opened with ``O_NONBLOCK`` so that a FIFO cannot hang us; raises FileRefused for a
    missing or unreadable file, a directory, a device, FIFO or socket, or a file too large.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise FileRefused(f"is a directory; expected a {what}") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise FileRefused(f"cannot read the file: {reason}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"is a directory; expected a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"is not a regular file (a device, FIFO or socket); expected a {what}")
        if info.st_size > limit:
            raise FileRefused(f"the file is {info.st_size:,} bytes; a {what} is limited to {limit:,} bytes")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)  # the caller closes it
    except BaseException:
        os.close(fd)
        raise


def read_limited(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refusing (FileRefused) anything else or more than ``limit``.

    Reads at most ``limit + 1`` bytes, so a file that grows while we read is refused too.
    """
    with open_regular(path, limit, what) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise FileRefused(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise FileRefused(f"the file is more than {limit:,} bytes; a {what} is limited to {limit:,} bytes")
    return data

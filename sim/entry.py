"""The ``routesim`` console script: answers ``--version`` before importing anything heavy.

``routesim --version`` is asked by scripts and installers; importing the command line (click,
rich, the schema, the engine, numpy) to print one line would take several times longer than
the answer, so this entry point prints it directly and hands everything else to ``sim.cli``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``routesim`` console script and of ``python -m sim``."""
    if sys.argv[1:] == ["--version"]:
        from sim import __version__

        sys.stdout.write(f"routesim, version {__version__}\n")
        return
    from sim.cli import main as cli_main

    cli_main()

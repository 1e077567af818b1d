"""``python -m sim`` is the ``routesim`` command."""

from sim.cli import main

if __name__ == "__main__":
    main()

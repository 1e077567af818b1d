"""``python -m sim`` is the ``routesim`` command."""

from sim.entry import main

if __name__ == "__main__":
    main()

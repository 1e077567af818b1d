"""routesim: what a disruption of Kazakhstan's crude-export routes costs, in t, bbl, days and USD.

The layers, each importing only those below it::

    cli        command line (thin)
    streaming  an ensemble run folder filled batch by batch; resume (beside api)
    api        load -> run -> save: what a notebook calls
    plots      disruption curves (matplotlib)
    results    result files, manifests, atomic writes; store: ensemble.parquet and batch parts
    ensemble   N replications, what is kept, statistics
    executors  where replications run: serial, local processes, Dask (optional)
    engine     the SimPy model, shocks, metrics
    scenario   the file format: schema, units, loading, validation
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("routesim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

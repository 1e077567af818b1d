"""routesim: what a disruption of Kazakhstan's crude-export routes costs, in t, bbl, days and USD.

The layers, each importing only those below it::

    cli        command line (thin)
    streaming  an ensemble run folder filled batch by batch; resume (beside api)
    api        load -> run -> save: what a notebook calls
    explore    sweeps, stress tests, sensitivity (beside api: imports ensemble/results, never api/cli)
    plots      disruption curves (matplotlib)
    results    result files, manifests, atomic writes; runfolder: reading them back, checked;
               store: ensemble.parquet and the batch parts of an unfinished run
    ensemble   N replications, what is kept, statistics
    executors  where replications run: serial, local processes, Dask (optional)
    engine     the SimPy model, shocks, metrics
    scenario   the file format: schema, units, loading, validation

Below them all, importing nothing from ``sim``: ``textsafe`` (text from files made safe to print)
and ``fileio`` (regular files only, read up to a limit), used by every layer.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("routesim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""routesim: what a disruption of Kazakhstan's crude-export routes costs, in t, bbl, days and USD.

The layers, each importing only those below it::

    cli        command line (thin)
    api        load -> run -> save: what a notebook calls
    explore    sweeps, stress tests, sensitivity (beside api: imports ensemble/results, never api/cli)
    plots      disruption curves (matplotlib)
    results    result files, manifests, atomic writes; runfolder: reading them back, checked
    ensemble   N replications (serial or in processes), what is kept, statistics
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

"""The functions a notebook (or the CLI) calls: load -> run -> save, and read back.

>>> from sim import api
>>> outcome = api.run("scenarios/cpc_court_suspension_2022.yaml")   # doctest: +SKIP
>>> outcome.impact["lost_export_t"]                                   # doctest: +SKIP
>>> folder = api.save(outcome)                                        # doctest: +SKIP

An ensemble (N replications, optionally in J processes) is the same call:

>>> outcome = api.run("scenarios/e.yaml", replications=200, jobs=2)  # doctest: +SKIP
>>> outcome.ensemble.stats["lost_export_t"]["p90"]                   # doctest: +SKIP
>>> outcome.ensemble.table["lost_export_t"]    # numpy array, one value per replication  # doctest: +SKIP

One module per concept, all re-exported here: ``outcome`` (what a run returns), ``runs`` (load,
run, save, read, compare, validate), ``rerun``, ``studies`` (sweep, stress, survival,
sensitivity, discover) and ``backtests``.
"""

from __future__ import annotations

from sim.api.backtests import (
    HISTORY_GLOB,
    Backtest,
    backtest,
    history_files,
    load_history,
    save_backtest,
)
from sim.api.outcome import Outcome, headline
from sim.api.rerun import RerunReport, rerun
from sim.api.runs import (
    MAX_JOBS,
    check_ensemble,
    check_jobs,
    compare,
    default_folder,
    is_network_file,
    load,
    network_of,
    read,
    run,
    save,
    validate,
)
from sim.api.studies import discover, save_study, sensitivity, stress, study_figure, survival, sweep
from sim.backtest import ENSEMBLE_AGREEMENT
from sim.data import ImpactMapping, RunData
from sim.ensemble import Ensemble

__all__ = [
    "ENSEMBLE_AGREEMENT",
    "HISTORY_GLOB",
    "MAX_JOBS",
    "Backtest",
    "Ensemble",
    "ImpactMapping",
    "Outcome",
    "RerunReport",
    "RunData",
    "backtest",
    "check_ensemble",
    "check_jobs",
    "compare",
    "default_folder",
    "discover",
    "headline",
    "history_files",
    "is_network_file",
    "load",
    "load_history",
    "network_of",
    "read",
    "rerun",
    "run",
    "save",
    "save_backtest",
    "save_study",
    "sensitivity",
    "stress",
    "study_figure",
    "survival",
    "sweep",
    "validate",
]

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

from typing import Any

from sim.api.backtests import (
    HISTORY_GLOB,
    Backtest,
    backtest,
    history_files,
    load_history,
    save_backtest,
)
from sim.api.comparison import compare
from sim.api.outcome import Outcome, headline
from sim.api.rerun import RerunReport, rerun
from sim.api.runs import (
    MAX_JOBS,
    check_ensemble,
    check_jobs,
    default_folder,
    is_network_file,
    json_schema,
    load,
    manifest_replications,
    network_of,
    read,
    run,
    save,
    targets,
    thresholds,
    validate,
)
from sim.api.studies import (
    discover,
    plan_discovery,
    plan_sensitivity,
    plan_sweep,
    save_study,
    sensitivity,
    stress,
    study_figure,
    survival,
    sweep,
)
from sim.backtest import ENSEMBLE_AGREEMENT
from sim.data import ImpactMapping, RunData
from sim.engine.metrics import headline_rows
from sim.engine.record import MassBalanceError
from sim.ensemble import PRECISION, Ensemble, EnsembleError
from sim.executors import EXECUTORS, MissingDependencyError, check_available, evaluator
from sim.results import OutputError, not_replaceable_message, replaceable
from sim.scenario.errors import ScenarioError
from sim.scenario.schema import ensemble_estimate
from sim.store import IncompleteRunError

__all__ = [
    "ENSEMBLE_AGREEMENT",
    "EXECUTORS",
    "HISTORY_GLOB",
    "MAX_JOBS",
    "PRECISION",
    "Backtest",
    "Ensemble",
    "EnsembleError",
    "ImpactMapping",
    "IncompleteRunError",
    "MassBalanceError",
    "MissingDependencyError",
    "Outcome",
    "OutputError",
    "RerunReport",
    "RunData",
    "ScenarioError",
    "StudyDependencyError",
    "backtest",
    "check_available",
    "check_ensemble",
    "check_jobs",
    "compare",
    "default_folder",
    "discover",
    "ensemble_estimate",
    "evaluator",
    "headline",
    "headline_rows",
    "history_files",
    "is_network_file",
    "json_schema",
    "load",
    "load_history",
    "manifest_replications",
    "network_of",
    "not_replaceable_message",
    "plan_discovery",
    "plan_sensitivity",
    "plan_sweep",
    "read",
    "replaceable",
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
    "targets",
    "thresholds",
    "validate",
]


def __getattr__(name: str) -> Any:
    """``StudyDependencyError``: what a study raises when SALib or the EMA Workbench is missing.

    Imported on first use (its module brings pandas), so ``except api.StudyDependencyError`` costs
    nothing until such an error is raised.
    """
    if name == "StudyDependencyError":
        from sim.explore.sensitivity import MissingDependencyError as StudyDependencyError

        return StudyDependencyError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

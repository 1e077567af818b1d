"""The engine: the SimPy model of the export network, shocks, and impact metrics.

Legs implement one interface (``sim.engine.legs.Leg``) and register by kind; shock kinds and metrics
are registries too (``shock_kinds``, ``metrics``). ``simulate(..., fast=False)`` is the plain
reference model the fast paths are tested against.
"""

from sim.engine.model import Model, simulate
from sim.engine.record import Balance, MassBalanceError, RunRecord
from sim.engine.shocks import RealizedShock, realize_shocks

__all__ = ["Balance", "MassBalanceError", "Model", "RealizedShock", "RunRecord", "realize_shocks", "simulate"]

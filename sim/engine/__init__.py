"""The engine: the SimPy model of the export network, shocks, and impact metrics."""

from sim.engine.model import Model, simulate
from sim.engine.record import Balance, MassBalanceError, RunRecord
from sim.engine.shocks import RealizedShock, realize_shocks

__all__ = ["Balance", "MassBalanceError", "Model", "RealizedShock", "RunRecord", "realize_shocks", "simulate"]

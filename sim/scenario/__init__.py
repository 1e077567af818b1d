"""The scenario layer: file format, units, distributions, loading and validation."""

from sim.scenario.distributions import Distribution
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.loader import LoadedScenario, load_network, load_scenario
from sim.scenario.schema import Network, Scenario, Shock

__all__ = [
    "Distribution",
    "LoadedScenario",
    "Network",
    "Problem",
    "Scenario",
    "ScenarioError",
    "Shock",
    "load_network",
    "load_scenario",
]

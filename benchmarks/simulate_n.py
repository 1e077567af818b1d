"""Run N 365-day simulations of the reference baseline (for instruction counting; see count_instructions.sh).

Usage: python benchmarks/simulate_n.py N
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.engine import simulate
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

scenario = load_scenario(ROOT / "scenarios" / "baseline_2022.yaml", overrides=["horizon=365 d"]).scenario
simulate(scenario.network, [], scenario.horizon)  # warm up (imports, first-call costs)
for _ in range(int(sys.argv[1])):
    simulate(scenario.network, [], scenario.horizon)

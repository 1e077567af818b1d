"""One mooring's throughput from the loading cycle, checked against the single-SPM months of the reference.

Prints, from a network file (default: the 2022 network): the berth hold per cargo the engine derives
(``SeaLeg.berth_hold``, the formula both sea-leg implementations use), one SPM's throughput for the modelled
(Kazakh) oil and for the whole terminal, two SPMs' capacity against tanker arrivals, and a comparison with
E6 (SPM-3 alone, Aug-Nov 2022) and E2 (SPM-1 alone, 28 Mar-19 Apr 2022), analytic and from the replays in
``scenarios/history/``. Not a test: it judges nothing, it shows the arithmetic.

    .venv/bin/python docs/checks/mooring_throughput.py [network.yaml] [--leg cpc_loading]
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from sim.backtest import loadings
from sim.engine.runner import run_replication
from sim.scenario.loader import load_network, load_scenario
from sim.scenario.schema import Network, SeaLeg, berth_hold_d

ROOT = Path(__file__).resolve().parents[2]
DAYS_PER_MONTH = 365 / 12
HOURS = 24.0

# Reported figures (docs/sources.md, section 1a and episodes E2, E6).
SPM3_ALONE_T_D = 3.5e6 / DAYS_PER_MONTH
"""E6: SPM-3 alone "up to 3.5 Mt/month" (https://www.en.portnews.ru/news/334293/ , 2022-08-23, H), whole terminal."""
SEP_2022_T_D = 1.0e6 / 7.9
"""E6: Sep 2022 CPC loadings ~1.0 mb/d (Vortexa, H) at 7.9 bbl/t, whole terminal."""
E2_MINIMUM_T_D = 300_000 / 7.9
"""E2: Gorban's "~300,000 b/d" minimum with SPM-1 alone (interfax.ru 835863, M), whole terminal."""
TANKERS_2023_PER_D = 578 / 365
"""2023: 578 tankers loaded 63,473,894 t (sputnik.kz 2024-01-04, H), whole terminal."""
ARGUS_PER_D = 1 + 1 / 1.5
""""about one Aframax a day and one Suezmax every 1.5 days" (Argus, M), whole terminal."""


def sea_leg(network: Network, name: str) -> SeaLeg:
    """The sea leg ``name`` of ``network``."""
    leg = network.legs[name]
    if not isinstance(leg, SeaLeg):
        raise SystemExit(f"error: leg {name!r} is not a sea leg")
    return leg


def our_share(leg: SeaLeg) -> float:
    """Share of the berths' time that loads our oil: 1 - third_party_share (1 with a plain berth_time)."""
    return 1.0 - leg.loading.third_party_share if leg.loading is not None else 1.0


def normal_flow_t_d(network: Network, leg_name: str) -> float:
    """Normal allocations of the routes that load at ``leg_name``, t/d."""
    return sum(route.normal for route in network.routes.values() if leg_name in route.legs)


def cycle_report(network: Network, leg_name: str) -> dict[str, float]:
    """Print the loading cycle and one and two SPMs' throughput; return the figures used below."""
    leg = sea_leg(network, leg_name)
    port = network.ports[leg.port]
    fixed_d, _ = leg.berth_cycle()
    pump_d = leg.cargo / leg.load_rate
    hold_d = leg.berth_hold()
    print(f"Network {network.name}, leg {leg_name}: cargo {leg.cargo / 1e3:.0f} kt at {leg.load_rate / 24:,.0f} t/h")
    if leg.loading is not None:
        cycle = leg.loading
        print(
            f"  berthing {cycle.berthing * HOURS:.1f} h + pumping {pump_d * HOURS:.1f} h + unberthing "
            f"{cycle.unberthing * HOURS:.1f} h = {(fixed_d + pump_d) * HOURS:.1f} h of work per cargo"
        )
        print(
            f"  / (1 - weather downtime {cycle.weather_downtime:.3f}) / (1 - other shippers' share "
            f"{cycle.third_party_share:.3f}) = {hold_d * HOURS:.1f} h of berth time per cargo of our oil"
        )
        terminal_d = berth_hold_d(fixed_d, leg.cargo, leg.load_rate, 1.0 - cycle.weather_downtime)
    else:
        print(
            f"  berth_time {fixed_d * HOURS:.1f} h + pumping {pump_d * HOURS:.1f} h = {hold_d * HOURS:.1f} h per cargo"
        )
        terminal_d = hold_d
    ours = leg.cargo / hold_d
    terminal = leg.cargo / terminal_d
    print(f"  one SPM, our oil:       {ours / 1e3:6.1f} kt/d = {ours * DAYS_PER_MONTH / 1e6:.2f} Mt/month")
    print(f"  one SPM, whole terminal: {terminal / 1e3:6.1f} kt/d = {terminal * DAYS_PER_MONTH / 1e6:.2f} Mt/month")
    active = port.active_berths or port.berths
    flow = normal_flow_t_d(network, leg_name)
    needed = flow / leg.cargo
    fleet_most = leg.fleet / (hold_d + leg.laden_voyage + leg.ballast_voyage)
    per_spm = 1.0 / hold_d
    print("  Arrivals (tankers come back after the round trip; a tanker with a cargo claimed queues for a berth):")
    print(
        f"    normal flow {flow / 1e3:.1f} kt/d = {needed:.2f} cargoes/d; the fleet of {leg.fleet} can bring at most "
        f"{fleet_most:.2f}/d"
    )
    share = our_share(leg)
    print(
        f"    reported, whole terminal: {TANKERS_2023_PER_D:.2f} tankers/d (2023, H), {ARGUS_PER_D:.2f}/d (Argus, M); "
        f"x our share {share:.3f} = {TANKERS_2023_PER_D * share:.2f}/d"
    )
    for spms in sorted({1, active}):
        capacity = spms * per_spm
        bound = "berth-bound: tankers queue" if capacity < needed else "arrival-bound: moorings wait for tankers"
        print(
            f"    {spms} SPM(s): {capacity:.2f} cargoes/d = {capacity * leg.cargo / 1e3:.1f} kt/d, "
            f"utilisation {needed / capacity:.0%} of the normal flow -> {bound}"
        )
    return {"ours": ours, "terminal": terminal, "flow": flow}


def replay_rate(file: str, leg_name: str, start: dt.date, end: dt.date) -> tuple[float, float]:
    """Mean t/d loaded at ``leg_name`` over [start, end] in a history replay, and in its baseline."""
    loaded = load_scenario(ROOT / "scenarios" / "history" / file)
    scenario = loaded.scenario
    rep = run_replication(scenario)
    first = (start - scenario.start_date).days
    days = slice(first, first + (end - start).days + 1)
    shocked = float(np.nanmean(loadings(rep.scenario, scenario, leg_name)[days]))
    base = float(np.nanmean(loadings(rep.baseline, scenario, leg_name)[days]))
    return shocked, base


def versus(model: float, reported: float) -> str:
    """'model vs reported (+x %)'."""
    return f"{model / 1e3:.1f} vs {reported / 1e3:.1f} kt/d ({model / reported - 1:+.0%})"


def main() -> None:
    """Print the check for one network file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", nargs="?", default=str(ROOT / "scenarios" / "network" / "kazakhstan_2022.yaml"))
    parser.add_argument("--leg", default="cpc_loading")
    args = parser.parse_args()
    network = load_network(args.network)
    figures = cycle_report(network, args.leg)
    share = our_share(sea_leg(network, args.leg))
    print()
    print("E6, SPM-3 alone (Aug-Nov 2022), whole terminal:")
    print(f"  one SPM vs 'up to 3.5 Mt/month' (portnews 334293, H): {versus(figures['terminal'], SPM3_ALONE_T_D)}")
    print(f"  one SPM vs Sep 2022 ~1.0 mb/d (Vortexa, H):           {versus(figures['terminal'], SEP_2022_T_D)}")
    print(
        f"  our oil vs the Kazakh share of Sep 2022 (x {share:.3f}):  {versus(figures['ours'], SEP_2022_T_D * share)}"
    )
    sep, _ = replay_rate(
        "e06_e07_spm_repairs_kashagan_leak_2022.yaml", args.leg, dt.date(2022, 9, 1), dt.date(2022, 9, 30)
    )
    print(
        f"  replay (network kazakhstan_2022, Kashagan out too, E7): Sep 2022 loaded {versus(sep, SEP_2022_T_D * share)}"
        f"; {sep / figures['ours']:.0%} of one SPM's capacity"
    )
    print()
    print("E2, SPM-1 alone (28 Mar-19 Apr 2022, after 5 days with no loading):")
    print(
        f"  one SPM vs Gorban's '~300,000 b/d' minimum (interfax.ru 835863, M), whole terminal: "
        f"{versus(figures['terminal'], E2_MINIMUM_T_D)}"
    )
    one_spm_ratio = figures["ours"] / figures["flow"]
    print(f"  one SPM / normal flow = {one_spm_ratio:.2f}: with tankers queuing, loadings fall to this, not 3-5 times")
    spm1, spm1_base = replay_rate(
        "e02_storm_spm_damage_2022.yaml", args.leg, dt.date(2022, 3, 28), dt.date(2022, 4, 19)
    )
    damaged, damaged_base = replay_rate(
        "e02_storm_spm_damage_2022.yaml", args.leg, dt.date(2022, 3, 22), dt.date(2022, 4, 19)
    )
    print(f"  replay: SPM-1 alone loaded {spm1 / 1e3:.1f} kt/d = {spm1 / spm1_base:.2f} of normal (backlog included)")
    print(
        f"  replay: 22 Mar-19 Apr loaded {damaged / damaged_base:.2f} of normal, against 'down 3-5 times' "
        "(0.20-0.33; interfax.ru 835863, M)"
    )


if __name__ == "__main__":
    main()

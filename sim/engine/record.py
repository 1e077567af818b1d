"""What one replication produces: daily series and end-of-run inventories, with the balance check.

``exports`` counts a tonne where it leaves the system, as trade statistics do: when it is loaded aboard
a tanker at the export terminal (the route's first sea leg), or, for a route without a sea leg, when it
enters the foreign system (arrival at the route's market: the border, the foreign pipeline). Arrival
at the market is its own series, ``arrivals``. Inventories (``initial_inventory_t``, ``final_stored_t``,
``final_in_transit_t``, the by-route holdings) hold only oil not yet exported; oil exported and still on
its way (aboard, or in tanks and legs past the terminal) is kept per route in ``*_beyond_by_route_t``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Balance", "MassBalanceError", "RunRecord"]


class MassBalanceError(RuntimeError):
    """Tonnes appeared or vanished in a run: a bug in the engine, never a user error."""


@dataclass(frozen=True)
class Balance:
    """The mass balance of a run, every term in tonnes."""

    initial_inventory_t: float
    produced_t: float
    exported_t: float
    stored_t: float
    in_transit_t: float
    shut_in_t: float
    potential_t: float
    outage_t: float
    cut_t: float = 0.0

    @property
    def residual_t(self) -> float:
        """initial + produced - exported - stored - in transit: zero up to rounding."""
        return self.initial_inventory_t + self.produced_t - self.exported_t - self.stored_t - self.in_transit_t

    def tolerance_t(self) -> float:
        """Rounding allowance: a billionth of the tonnes moved, at least a kilogram."""
        return max(1e-3, 1e-9 * (self.initial_inventory_t + self.produced_t + self.potential_t))


@dataclass
class RunRecord:
    """Daily series of one run (rows are days) and its end state. Units: t and t/d."""

    route_names: list[str]
    source_names: list[str]
    tank_names: list[str]
    leg_names: list[str]
    exports: np.ndarray  # (days, routes) t exported per day, counted where the oil leaves the system
    arrivals: np.ndarray  # (days, routes) t arrived at the market per day
    intake: np.ndarray  # (days, routes) t sent into each route's first leg per day
    produced: np.ndarray  # (days, sources)
    shut_in: np.ndarray  # (days, sources) potential not produced: nowhere to put it, or ramping back
    outage: np.ndarray  # (days, sources) nominal minus potential: production shocks
    source_level: np.ndarray  # (days, sources) field storage at the end of each day
    tank_level: np.ndarray  # (days, tanks) terminal tanks at each daily tick
    leg_transit: np.ndarray  # (days, legs) oil in each leg at each daily tick
    initial_inventory_t: float
    final_stored_t: float
    final_in_transit_t: float
    events: int
    cut: np.ndarray | None = None  # (days, sources) potential the operators chose not to produce
    peak_storage_t: dict[str, float] = field(default_factory=dict)
    storage_capacity_t: dict[str, float] = field(default_factory=dict)
    cargoes: dict[str, int] = field(default_factory=dict)
    route_source: list[int] | None = None  # index of each route's source
    initial_source_level_t: list[float] | None = None  # field storage at the start
    initial_by_route_t: list[float] | None = None  # each route's oil in tanks and legs at the start
    final_by_route_t: list[float] | None = None  # ... and at the end
    initial_beyond_by_route_t: list[float] | None = None  # exported, not yet at the market, at the start
    final_beyond_by_route_t: list[float] | None = None  # ... and at the end

    @property
    def days(self) -> int:
        """Length of the run in days."""
        return self.exports.shape[0]

    def daily_exports(self) -> np.ndarray:
        """Total tonnes exported each day."""
        return self.exports.sum(axis=1)

    def balance(self) -> Balance:
        """Every term of the mass balance."""
        produced = float(self.produced.sum())
        shut_in = float(self.shut_in.sum())
        cut = 0.0 if self.cut is None else float(self.cut.sum())
        return Balance(
            initial_inventory_t=self.initial_inventory_t,
            produced_t=produced,
            exported_t=float(self.exports.sum()),
            stored_t=self.final_stored_t,
            in_transit_t=self.final_in_transit_t,
            shut_in_t=shut_in,
            potential_t=produced + shut_in + cut,
            cut_t=cut,
            outage_t=float(self.outage.sum()),
        )

    def check_balance(self) -> Balance:
        """Raise MassBalanceError unless initial + produced = exported + stored + in transit, in all and
        (where the record carries what it takes) field by field every day and route by route, and every
        store stays between empty and its capacity every day."""
        balance = self.balance()
        arrays = (
            self.exports,
            self.arrivals,
            self.intake,
            self.produced,
            self.shut_in,
            self.source_level,
            self.tank_level,
            self.leg_transit,
        )
        if not all(np.isfinite(a).all() for a in arrays) or not np.isfinite(balance.residual_t):
            raise MassBalanceError("a flow, level or balance term is not a finite number (NaN or infinity)")
        if not abs(balance.residual_t) <= balance.tolerance_t():
            raise MassBalanceError(
                f"mass balance does not close: initial {balance.initial_inventory_t:.3f} + produced "
                f"{balance.produced_t:.3f} != exported {balance.exported_t:.3f} + stored "
                f"{balance.stored_t:.3f} + in transit {balance.in_transit_t:.3f} "
                f"(residual {balance.residual_t:.6f} t)"
            )
        if (
            (self.exports < -1e-6).any()
            or (self.arrivals < -1e-6).any()
            or (self.source_level < -1e-6).any()
            or (self.tank_level < -1e-6).any()
        ):
            raise MassBalanceError("a negative flow or storage level appeared")
        tolerance = balance.tolerance_t()
        for names, levels in ((self.source_names, self.source_level), (self.tank_names, self.tank_level)):
            capacity = np.array([self.storage_capacity_t.get(name, np.inf) for name in names], dtype=float)
            over = levels > capacity + tolerance
            if over.any():
                day, k = (int(i[0]) for i in np.nonzero(over))
                raise MassBalanceError(
                    f"{names[k]} holds {levels[day, k]:.3f} t on day {day}, over its {capacity[k]:g} t"
                )
        if self.route_source is not None and self.initial_source_level_t is not None:
            self._check_sources(tolerance)
        if self.initial_by_route_t is not None and self.final_by_route_t is not None:
            came_in = np.asarray(self.initial_by_route_t) + self.intake.sum(axis=0)
            went_out = self.exports.sum(axis=0) + np.asarray(self.final_by_route_t)
            bad = ~(np.abs(came_in - went_out) <= tolerance)
            if bad.any():
                r = int(np.argmax(bad))
                raise MassBalanceError(
                    f"route {self.route_names[r]} does not balance: {came_in[r]:.3f} t in (initial + intake) != "
                    f"{went_out[r]:.3f} t out (exported + held at the end)"
                )
        if self.initial_beyond_by_route_t is not None and self.final_beyond_by_route_t is not None:
            # exported oil on its way: what was on its way + exported = arrived + on its way at the end
            came_in = np.asarray(self.initial_beyond_by_route_t) + self.exports.sum(axis=0)
            went_out = self.arrivals.sum(axis=0) + np.asarray(self.final_beyond_by_route_t)
            bad = ~(np.abs(came_in - went_out) <= tolerance)
            if bad.any():
                r = int(np.argmax(bad))
                raise MassBalanceError(
                    f"route {self.route_names[r]}'s exports do not reach its market: {came_in[r]:.3f} t on its way "
                    f"or exported != {went_out[r]:.3f} t arrived or on its way at the end"
                )
        return balance

    def _check_sources(self, tolerance: float) -> None:
        """Each field, each day: storage = yesterday's + produced - sent into its routes."""
        routes_of = np.zeros((len(self.route_names), len(self.source_names)))
        routes_of[np.arange(len(self.route_names)), self.route_source] = 1.0
        sent = self.intake @ routes_of  # each field's oil sent into its routes, per day
        level = self.source_level
        residual = self.produced - sent - level
        residual[0] += self.initial_source_level_t
        residual[1:] += level[:-1]
        bad = np.abs(residual) > tolerance
        if bad.any():
            day, k = (int(i[0]) for i in np.nonzero(bad))
            raise MassBalanceError(
                f"field {self.source_names[k]} does not balance on day {day}: residual {residual[day, k]:.6f} t"
            )

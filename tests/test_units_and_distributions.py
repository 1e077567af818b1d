"""Quantities with units (sim/units.py) and shock distributions (sim/scenario/distributions.py)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import make_scenario, toy_data, validate
from pydantic import ValidationError

from sim.scenario import load_scenario
from sim.scenario.distributions import Distribution, draw, parse_distribution
from sim.units import DAYS_PER_YEAR, Grade, UnitError, parse_quantity

CPC = Grade(bbl_per_t=7.9, t_per_m3=0.79)

# -- parse_quantity ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dimension", "expected"),
    [
        # mass
        ("0.8 Mt", "mass", 800_000.0),
        ("120 kt", "mass", 120_000.0),
        ("300 kt", "mass", 300_000.0),
        ("1,000 t", "mass", 1_000.0),
        ("1_500 kg", "mass", 1.5),
        (250, "mass", 250.0),  # bare number: tonnes (refused in files: see test_bare_numbers_need_a_unit_in_files)
        ("5 Mbbl", "mass", 5e6 / 7.9),  # volume via the grade
        ("790 kbbl", "mass", 100_000.0),
        ("1e6 m3", "mass", 790_000.0),
        ("2 km3", "mass", 1_580.0),
        # rates
        ("1.5 Mbbl/d", "rate", 1.5e6 / 7.9),  # 189 873.4 t/d
        ("3.5 Mt/month", "rate", 3.5e6 / (365 / 12)),  # 115 068.5 t/d
        ("12000 t/h", "rate", 288_000.0),
        ("67 Mt/yr", "rate", 67e6 / 365),
        ("180 kt/d", "rate", 180_000.0),
        ("7 kt/wk", "rate", 1_000.0),
        ("100 kbbl / d", "rate", 100_000 / 7.9),
        (3000, "rate", 3000.0),  # bare number: t/d
        # durations
        ("30 d", "duration", 30.0),
        ("8 h", "duration", 1 / 3),
        ("2 wk", "duration", 14.0),
        ("90 min", "duration", 90 / 1440),
        ("1 month", "duration", 365 / 12),
        ("1 yr", "duration", 365.0),
        (4.5, "duration", 4.5),
        # prices
        ("100 USD/bbl", "price", 790.0),  # 100 USD x 7.9 bbl/t
        ("38 USD/t", "price", 38.0),
        ("79 USD/m3", "price", 100.0),  # 79 / 0.79 t
        ("1 kUSD/t", "price", 1000.0),
        # fractions
        ("50 %", "fraction", 0.5),
        (0.25, "fraction", 0.25),
        ("3", "count", 3.0),
    ],
)
def test_parse_quantity_converts_to_canonical_units(text, dimension, expected):
    assert parse_quantity(text, dimension, CPC) == pytest.approx(expected, rel=1e-12)


def test_barrels_depend_on_the_grade():
    assert parse_quantity("1.5 Mbbl/d", "rate", Grade(bbl_per_t=7.5)) == pytest.approx(200_000.0)
    assert parse_quantity("1.5 Mbbl/d", "rate", CPC) == pytest.approx(189_873.417721519)
    assert parse_quantity("100 USD/bbl", "price") == pytest.approx(750.0)  # default grade 7.5 bbl/t
    assert DAYS_PER_YEAR == 365.0


@pytest.mark.parametrize(
    ("value", "dimension"),
    [
        ("100 kt/d", "duration"),  # a rate given for a duration
        ("30 d", "rate"),  # a duration given for a rate
        ("100 kt", "rate"),  # a mass is not a rate
        ("100 kt/d", "mass"),
        ("5 USD", "price"),
        ("12 parsecs", "duration"),
        ("100 t/fortnight", "rate"),
        ("kt", "mass"),
        ("", "mass"),
        ("nan", "mass"),
        ("inf t", "mass"),
        ("1e400 t", "mass"),  # overflows to inf
        (float("nan"), "rate"),
        (float("inf"), "rate"),
        (-float("inf"), "duration"),
        (True, "mass"),
        (None, "mass"),
        ([1, 2], "mass"),
        ("2.5", "count"),
        ("50 %", "mass"),
    ],
)
def test_parse_quantity_rejects_wrong_or_unreadable_values(value, dimension):
    with pytest.raises(UnitError):
        parse_quantity(value, dimension, CPC)


def test_parse_quantity_error_says_what_was_expected():
    with pytest.raises(UnitError, match=r"not a duration.*expected a duration such as"):
        parse_quantity("100 kt/d", "duration")
    with pytest.raises(ValueError, match="unknown dimension"):
        parse_quantity("1 t", "colour")


def test_scenario_fields_reject_units_of_the_wrong_dimension():
    data = toy_data()
    data["network"]["sources"]["field"]["production"] = "30 d"
    with pytest.raises(ValidationError, match="not a rate"):
        validate(data)
    data = toy_data(horizon="100 kt/d")
    with pytest.raises(ValidationError, match="not a duration"):
        validate(data)


def test_loaded_file_converts_barrels_with_its_own_grade(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: tiny
            start_date: 2022-07-01
            horizon: 10 d
            price: 100 USD/bbl
            network:
              grade: {bbl_per_t: 7.9}
              sources:
                field: {production: 1.5 Mbbl/d, storage: {capacity: 2 Mbbl}}
              legs:
                pipe: {kind: pipeline, capacity: 3.5 Mt/month}
              routes:
                main: {source: field, legs: [pipe], market: med, normal: 12000 t/h}
              markets: {med: {}}
            """
        )
    )
    scenario = load_scenario(path).scenario
    field = scenario.network.sources["field"]
    assert scenario.price == pytest.approx(790.0)
    assert field.production == pytest.approx(1.5e6 / 7.9)
    assert field.storage.capacity == pytest.approx(2e6 / 7.9)
    assert scenario.network.legs["pipe"].capacity == pytest.approx(3.5e6 * 12 / 365)
    assert scenario.network.routes["main"].normal == pytest.approx(288_000.0)


# -- distributions ------------------------------------------------------------------------------

DISTS = {
    "lognormal": {"dist": "lognormal", "median": "30 d", "sigma": 0.5},
    "uniform": {"dist": "uniform", "low": "1 wk", "high": "2 wk"},
    "triangular": {"dist": "triangular", "low": "2 d", "mode": "5 d", "high": "20 d"},
    "normal": {"dist": "normal", "mean": "10 d", "sd": "4 d", "low": "3 d", "high": "12 d"},
    "normal-default-bounds": {"dist": "normal", "mean": "1 d", "sd": "2 d"},
    "discrete": {"dist": "discrete", "values": ["1 d", "3 d", "5 d"], "weights": [1, 2, 1]},
}

SUPPORT = {
    "lognormal": (0.0, math.inf),
    "uniform": (7.0, 14.0),
    "triangular": (2.0, 20.0),
    "normal": (3.0, 12.0),
    "normal-default-bounds": (0.0, math.inf),  # truncated at 0 by default
    "discrete": (1.0, 5.0),
}


def duration_dist(raw: dict) -> Distribution:
    return parse_distribution(raw, "duration", CPC)


@pytest.mark.parametrize("name", list(DISTS))
def test_every_distribution_draws_within_its_support(name):
    dist = duration_dist(DISTS[name])
    assert dist.support() == pytest.approx(SUPPORT[name])
    rng = np.random.default_rng(123)
    n = 4000
    values = np.array([dist.draw(rng) for _ in range(n)])
    low, high = SUPPORT[name]
    assert np.isfinite(values).all()
    assert values.min() >= low and values.max() <= high
    if name == "lognormal":
        assert values.min() > 0
    # the draws fill the support, they are not a constant
    assert values.std() > 0.1


@pytest.mark.parametrize("name", list(DISTS))
def test_distribution_draws_are_reproducible_from_the_seed(name):
    dist = duration_dist(DISTS[name])
    a = [dist.draw(np.random.default_rng(7)) for _ in range(3)]
    b = [dist.draw(np.random.default_rng(7)) for _ in range(3)]
    assert a == b
    rng1, rng2 = np.random.default_rng(7), np.random.default_rng(7)
    assert [dist.draw(rng1) for _ in range(50)] == [dist.draw(rng2) for _ in range(50)]
    rng3 = np.random.default_rng(8)
    rng1 = np.random.default_rng(7)
    assert [dist.draw(rng1) for _ in range(50)] != [dist.draw(rng3) for _ in range(50)]


def test_distribution_moments_match_their_parameters():
    rng = np.random.default_rng(2024)
    n = 20000
    logn = duration_dist(DISTS["lognormal"])
    assert np.median([logn.draw(rng) for _ in range(n)]) == pytest.approx(30.0, rel=0.03)
    uni = duration_dist(DISTS["uniform"])
    assert np.mean([uni.draw(rng) for _ in range(n)]) == pytest.approx(10.5, rel=0.01)
    tri = duration_dist(DISTS["triangular"])
    assert np.mean([tri.draw(rng) for _ in range(n)]) == pytest.approx((2 + 5 + 20) / 3, rel=0.02)
    disc = duration_dist(DISTS["discrete"])
    values = np.array([disc.draw(rng) for _ in range(n)])
    assert set(np.unique(values)) == {1.0, 3.0, 5.0}
    assert np.mean(values == 3.0) == pytest.approx(0.5, abs=0.02)  # weights 1:2:1
    # truncated normal: the mean of N(10, 4) cut to [3, 12] is below 10 (from scipy's truncnorm)
    norm = duration_dist(DISTS["normal"])
    draws = [norm.draw(rng) for _ in range(1500)]  # ~1 ms per draw; sd of the mean ~0.06 d
    assert np.mean(draws) == pytest.approx(norm.frozen().mean(), abs=0.25)
    assert norm.frozen().mean() < 10


def test_parameters_carry_the_fields_units():
    rate = parse_distribution({"dist": "uniform", "low": "1 Mbbl/d", "high": "1.5 Mbbl/d"}, "rate", CPC)
    assert rate.p == pytest.approx({"low": 1e6 / 7.9, "high": 1.5e6 / 7.9})
    assert duration_dist(DISTS["uniform"]).p == {"high": 14.0, "low": 7.0}


def test_degenerate_distributions_draw_their_single_value():
    rng = np.random.default_rng(0)
    assert duration_dist({"dist": "triangular", "low": "4 d", "mode": "4 d", "high": "4 d"}).draw(rng) == 4.0
    assert duration_dist({"dist": "lognormal", "median": "9 d", "sigma": 0}).draw(rng) == 9.0
    assert duration_dist({"dist": "discrete", "values": ["2 d"]}).draw(rng) == 2.0
    assert draw(5.0, rng) == 5.0  # a plain number is not drawn


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"dist": "weibull", "scale": 3}, "unknown distribution"),
        ({"median": "3 d"}, "unknown distribution"),
        ({"dist": "lognormal", "median": "0 d", "sigma": 0.5}, "median must be > 0"),
        ({"dist": "lognormal", "median": "3 d", "sigma": -0.1}, "sigma must be >= 0"),
        ({"dist": "lognormal", "median": "3 d"}, "needs sigma"),
        ({"dist": "lognormal", "median": "3 d", "sigma": 0.5, "mode": "2 d"}, "does not take mode"),
        ({"dist": "lognormal", "median": "3 kt/d", "sigma": 0.5}, "not a duration"),
        ({"dist": "uniform", "low": "5 d", "high": "2 d"}, "low <= high"),
        ({"dist": "uniform", "low": "5 d"}, "needs high"),
        ({"dist": "triangular", "low": "1 d", "mode": "9 d", "high": "5 d"}, "low <= mode <= high"),
        ({"dist": "normal", "mean": "5 d", "sd": "0 d"}, "sd must be > 0"),
        ({"dist": "normal", "mean": "5 d", "sd": "1 d", "low": "6 d", "high": "6 d"}, "low < high"),
        ({"dist": "normal", "mean": "5 d", "sd": "0.01 d", "low": "100 d", "high": "200 d"}, "almost no probability"),
        ({"dist": "discrete", "values": []}, "non-empty list"),
        ({"dist": "discrete", "values": ["1 d", "2 d"], "weights": [1]}, "as long as values"),
        ({"dist": "discrete", "values": ["1 d", "2 d"], "weights": [1, -1]}, ">= 0"),
        ({"dist": "discrete", "values": ["1 d", "2 d"], "weights": [0, 0]}, "not all zero"),
        ({"dist": "discrete", "values": ["1 d", "2 d"], "weights": [1, float("nan")]}, "finite"),
        ({"dist": "discrete", "values": ["1 d", "2 kt"]}, "discrete.values"),
    ],
)
def test_invalid_distribution_parameters_raise(raw, message):
    with pytest.raises(ValueError, match=message):
        duration_dist(raw)


def test_shock_distributions_must_fit_the_fields_bounds():
    ok = make_scenario(
        [
            {
                "kind": "outage",
                "target": "pipe",
                "start": "5 d",
                "duration": "5 d",
                "factor": {"dist": "uniform", "low": 0.2, "high": 0.8},
            }
        ]
    )
    assert isinstance(ok.shocks[0].factor, Distribution)
    for factor in (
        {"dist": "uniform", "low": 0.2, "high": 1.5},  # a factor above 1
        {"dist": "lognormal", "median": 0.5, "sigma": 0.3},  # unbounded above
        {"dist": "normal", "mean": 0.5, "sd": 0.1, "low": -1, "high": 1},  # below 0
    ):
        with pytest.raises(ValidationError):
            make_scenario([{"kind": "outage", "target": "pipe", "start": "5 d", "duration": "5 d", "factor": factor}])
    with pytest.raises(ValidationError, match="distributions are allowed in shocks only"):
        make_scenario(network={"sources": {"field": {"production": {"dist": "uniform", "low": 1, "high": 2}}}})


@pytest.mark.parametrize(
    ("value", "dimension", "example"),
    [
        (80, "price", '"80 USD/bbl"'),
        ("80", "price", '"80 USD/bbl"'),
        (30, "duration", '"30 d"'),
        (5.5, "rate", '"5.5 kt/d"'),
    ],
)
def test_bare_numbers_need_a_unit_when_asked(value, dimension, example):
    with pytest.raises(UnitError, match=f"has no unit — give one, e.g. {example}"):
        parse_quantity(value, dimension, require_unit=True)
    assert parse_quantity(0, dimension, require_unit=True) == 0.0  # zero needs no unit
    assert parse_quantity(0.5, "fraction", require_unit=True) == 0.5  # nor does a fraction


def test_bare_price_in_set_and_file_is_an_error_that_shows_the_unit(tmp_path):
    import subprocess
    import sys

    from sim.scenario.errors import ScenarioError
    from sim.scenario.loader import load_scenario

    toy = Path(__file__).resolve().parent / "data" / "toy.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(toy, ["price=80"])
    (problem,) = caught.value.problems
    assert problem.key == "price" and '80 has no unit — give one, e.g. "80 USD/bbl"' in problem.message
    bad = tmp_path / "bare.yaml"
    bad.write_text(toy.read_text().replace("price: 100 USD/bbl", "price: 80"))
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(bad)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f'{bad}:5: price: 80 has no unit — give one, e.g. "80 USD/bbl"' in proc.stderr


@pytest.mark.parametrize(
    ("mean", "sd", "low", "high"),
    [(10, 4, 3, 12), (1, 2, 0, math.inf), (30, 5, 20, 45), (0, 1, 3, 8), (100, 1, 0, math.inf), (0, 1, -40, -30)],
)
def test_truncated_normal_by_inversion_agrees_with_scipy(mean, sd, low, high):
    from scipy import stats

    from sim.scenario.distributions import truncated_normal_ppf

    frozen = stats.truncnorm((low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)
    us = np.concatenate([np.linspace(0.0, 0.999999, 401), [1e-12, 1 - 1e-12]])
    ours = np.array([truncated_normal_ppf(float(u), mean, sd, low, high) for u in us])
    np.testing.assert_allclose(ours, frozen.ppf(us), rtol=0, atol=1e-9 * sd)
    assert np.all(np.diff(ours[:401]) >= 0)  # monotone in the uniform


def test_a_normal_draw_does_not_import_scipy():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from sim.scenario.distributions import parse_distribution; "
        "from sim.units import Grade; "
        "d = parse_distribution({'dist': 'normal', 'mean': '10 d', 'sd': '4 d', 'low': '3 d', 'high': '12 d'}, "
        "'duration', Grade()); d.draw(np.random.default_rng(1)); print('scipy' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.stdout.strip() == "False", proc.stderr

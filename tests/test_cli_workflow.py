"""The command line for daily work: targets, new, validate on networks, shipped networks by name, hints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim import api
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.targets import list_targets

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ROOT / "scenarios" / "cpc_court_suspension_2022.yaml"
NETWORK = ROOT / "scenarios" / "network" / "kazakhstan_2025.yaml"


def routesim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_targets_lists_every_component_with_its_shock_kinds():
    network = load_scenario(HEADLINE).scenario.network
    infos = {t.name: t for t in list_targets(network)}
    assert infos["novorossiysk"].shocks == ("outage", "weather")
    assert infos["cpc_loading"].shocks == ("outage", "slowdown", "derate")
    assert infos["cpc_pipeline"].shocks == ("outage", "slowdown")
    assert infos["cpc_pipeline.kropotkinskaya"].component == "pump station"
    assert infos["tengiz"].shocks == ("outage", "production")
    assert set(network.routes) <= set(infos) and set(network.markets) <= set(infos)


def test_a_wrong_target_suggests_from_the_target_list():
    with pytest.raises(ScenarioError) as caught:
        load_scenario(HEADLINE, ["shocks.0.target=btc_pipeline"])
    message = caught.value.problems[0].message
    assert "did you mean 'btc' (pipeline leg: outage, slowdown)?" in message
    assert "routesim targets FILE" in message


def test_targets_command_on_a_scenario_and_on_a_network():
    for file in (HEADLINE, NETWORK):
        proc = routesim("targets", str(file))
        assert proc.returncode == 0, proc.stderr
        assert "novorossiysk" in proc.stdout and "outage, weather" in proc.stdout


def test_new_writes_a_template_that_validates_and_runs_anywhere(tmp_path):
    proc = routesim("new", "my_closure", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "my_closure.yaml"
    text = path.read_text()
    assert "network: kazakhstan_2025" in text and text.count("#") > 10
    outcome = api.run(path)  # a scenario outside the repository, on a shipped network by name
    assert outcome.impact["lost_export_t"] > 0
    again = routesim("new", "my_closure", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_validate_accepts_network_files():
    proc = routesim("validate", str(NETWORK), str(HEADLINE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok") == 2


def test_shipped_network_by_name_but_includes_stay_inside(tmp_path):
    text = HEADLINE.read_text()
    named = tmp_path / "named.yaml"
    named.write_text(text.replace("network: network/kazakhstan_2022.yaml", "network: kazakhstan_2022"))
    assert load_scenario(named).scenario.network == load_scenario(HEADLINE).scenario.network
    escaping = tmp_path / "escaping.yaml"
    escaping.write_text(text.replace("network: network/kazakhstan_2022.yaml", "network: ../elsewhere/net.yaml"))
    with pytest.raises(ScenarioError, match="outside the scenarios folder"):
        load_scenario(escaping)


def test_version_answers_without_importing_the_command_line():
    code = (
        "import sys; from sim.entry import main; sys.argv = ['routesim', '--version']; main(); "
        "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'pandas', 'sim.cli') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600
    )  # a hang guard only
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"routesim, version {_version()}", "[]"]


def test_running_imports_neither_scipy_nor_matplotlib_nor_pandas():
    code = (
        "import sys; from sim import api; api.run(sys.argv[1]); "
        "print(sorted(m for m in ('scipy', 'matplotlib', 'pandas') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(HEADLINE)], capture_output=True, text=True, timeout=600
    )  # a hang guard only
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _version() -> str:
    from sim import __version__

    return __version__


def test_dotted_paths_are_spelled_the_same_in_set_and_overrides(tmp_path):
    short = load_scenario(HEADLINE, ["legs.cpc_pipeline.capacity=40 Mt/yr"]).scenario
    long = load_scenario(HEADLINE, ["network.legs.cpc_pipeline.capacity=40 Mt/yr"]).scenario
    assert short.network == long.network
    assert short.network.legs["cpc_pipeline"].capacity == pytest.approx(40e6 / 365)
    text = HEADLINE.read_text().replace(
        "network: network/kazakhstan_2022.yaml",
        "network: kazakhstan_2022\noverrides: {network.legs.cpc_pipeline.capacity: 40 Mt/yr}",
    )
    path = tmp_path / "with_overrides.yaml"
    path.write_text(text)
    assert load_scenario(path).scenario.network == short.network


def test_backtest_reports_progress_in_replications():
    from sim import backtest as bt

    calls: list[tuple[int, int]] = []
    files = [ROOT / "scenarios" / "history" / "e03_ordnance_search_2022.yaml"]
    bt.run_backtest(bt.load_episodes(files), progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 1) and calls[-1] == (1, 1)


def test_compare_refuses_what_it_cannot_read(tmp_path):
    missing = routesim("compare", str(tmp_path / "nope.yaml"), str(HEADLINE))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    proc = routesim("compare", str(empty), str(HEADLINE))
    assert proc.returncode == 2 and "run folder" in proc.stderr and "Traceback" not in proc.stderr

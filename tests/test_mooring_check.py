"""The mooring check script (docs/checks/mooring_throughput.py) runs and prints the loading cycle's arithmetic:
the berth hold and one SPM's throughput it prints are the hand formula's, for a cycle in parts and for a plain
berth time."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

from sim.scenario.loader import load_network

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "checks" / "mooring_throughput.py"
NETWORK = ROOT / "scenarios" / "network" / "kazakhstan_2022.yaml"


def run_check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The script's output, run in-process as ``python SCRIPT args``."""
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *args])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    return capsys.readouterr().out


def number_after(text: str, label: str) -> float:
    """The first number after ``label`` in ``text``."""
    found = re.search(re.escape(label) + r"\s*([0-9][0-9,]*\.?[0-9]*)", text)
    assert found, f"{label!r} not in the output"
    return float(found.group(1).replace(",", ""))


def test_the_cpc_cycle_in_parts_is_the_hand_formula(monkeypatch, capsys) -> None:
    leg = load_network(NETWORK).legs["cpc_loading"]
    cycle = leg.loading
    assert cycle is not None
    hours = (cycle.berthing + leg.cargo / leg.load_rate + cycle.unberthing) * 24
    hold_h = hours / (1 - cycle.weather_downtime) / (1 - cycle.third_party_share)
    out = run_check(monkeypatch, capsys)
    assert f"= {hours:.1f} h of work per cargo" in out
    assert f"= {hold_h:.1f} h of berth time per cargo of our oil" in out
    ours_kt_d = leg.cargo / (hold_h / 24) / 1e3
    assert number_after(out, "one SPM, our oil:") == pytest.approx(ours_kt_d, abs=0.05)
    terminal_kt_d = ours_kt_d / (1 - cycle.third_party_share)
    assert number_after(out, "one SPM, whole terminal:") == pytest.approx(terminal_kt_d, abs=0.05)
    # one SPM cannot carry the normal flow (tankers queue), two can (moorings wait for tankers)
    assert "1 SPM(s):" in out and "berth-bound" in out and "2 SPM(s):" in out and "arrival-bound" in out
    # the replays ran and are printed against the reported figures
    assert "replay (network kazakhstan_2022" in out and "22 Mar-19 Apr loaded" in out


def test_a_plain_berth_time_is_reported_as_one_figure(monkeypatch, capsys) -> None:
    leg = load_network(NETWORK).legs["caspian_baku"]
    assert leg.loading is None
    hold_h = (leg.berth_time + leg.cargo / leg.load_rate) * 24
    out = run_check(monkeypatch, capsys, str(NETWORK), "--leg", "caspian_baku")
    assert f"= {hold_h:.1f} h per cargo" in out
    assert number_after(out, "one SPM, our oil:") == pytest.approx(leg.cargo / (hold_h / 24) / 1e3, abs=0.05)


def test_a_leg_that_is_not_at_sea_is_refused(monkeypatch, capsys) -> None:
    with pytest.raises(SystemExit, match="not a sea leg"):
        run_check(monkeypatch, capsys, str(NETWORK), "--leg", "cpc_pipeline")

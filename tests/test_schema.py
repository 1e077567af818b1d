"""The scenario format documents itself: every field has a description."""

from __future__ import annotations

from sim.scenario.jsonschema import network_schema, scenario_schema


def _undocumented(schema: dict) -> list[str]:
    missing = []
    for model_name, model in schema.get("$defs", {}).items():
        for field, spec in model.get("properties", {}).items():
            if field != "kind" and not spec.get("description"):
                missing.append(f"{model_name}.{field}")
    for field, spec in schema.get("properties", {}).items():
        if not spec.get("description"):
            missing.append(f"top.{field}")
    return missing


def test_every_scenario_field_has_a_description():
    assert _undocumented(scenario_schema()) == []


def test_every_network_field_has_a_description():
    assert _undocumented(network_schema()) == []


def test_schema_accepts_a_network_path_or_an_inline_network():
    network = scenario_schema()["properties"]["network"]
    kinds = [option.get("type") or option.get("$ref") for option in network["anyOf"]]
    assert "string" in kinds and "#/$defs/Network" in kinds

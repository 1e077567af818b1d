"""The JSON Schema of scenario files, generated from the models (``routesim schema``).

The committed copy ``sim/schema/scenario.schema.json`` is checked against this in the
tests, so the documented format cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from sim.scenario.schema import Network, Scenario

__all__ = ["network_schema", "scenario_schema"]


def scenario_schema() -> dict[str, Any]:
    """JSON Schema of a scenario file (network inline or as a path, with overrides)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "routesim scenario"
    props = schema["properties"]
    props["network"] = {
        "description": props["network"].get("description", ""),
        "anyOf": [
            {"$ref": "#/$defs/Network"},
            {"type": "string", "description": "Path to a network file, relative to this file."},
        ],
    }
    props["overrides"] = {
        "type": "object",
        "description": "Changes to the network by dotted key path, e.g. legs.cpc_pipeline.capacity: 40 Mt/yr.",
    }
    return schema


def network_schema() -> dict[str, Any]:
    """JSON Schema of a network file (which may ``extends`` a base network file)."""
    schema = Network.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "routesim network"
    schema["properties"]["extends"] = {"type": "string", "description": "A base network file this one modifies."}
    return schema

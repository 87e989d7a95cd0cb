"""JSON Schemas of scenario files and ``--json`` results, generated from the code's own models.

``scenario_schema()`` comes from the pydantic ``Scenario`` model, so it follows the model as
it changes; ``results_schema()`` from the result dataclasses that ``write_json`` writes.
Both are JSON Schema draft 2020-12. A YAML editor reads the scenario schema through a first
line ``# yaml-language-server: $schema=scenario.schema.json``.

The scenario schema checks what a schema can: field names, types, enums, ranges, required
fields. What only the harness knows (a route naming an interface that exists, one check kind
per check, addresses of one IP family) is left to ``harness validate``.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_HINT = "# yaml-language-server: $schema="


def _nothing_means_defaults(schema: dict[str, Any]) -> None:
    """YAML reads ``client:`` with nothing after it as null; where names map to objects whose
    fields all have defaults (``namespaces: {client: }``), the model takes null as ``{}``.
    Say so in the schema, at every such mapping."""
    defs = schema.get("$defs", {})

    def all_optional(ref: str) -> bool:
        target = defs.get(ref.rsplit("/", 1)[-1], {})
        return target.get("type") == "object" and not target.get("required")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            values = node.get("additionalProperties")
            if node.get("type") == "object" and isinstance(values, dict) and "$ref" in values \
                    and all_optional(values["$ref"]):
                node["additionalProperties"] = {"anyOf": [values, {"type": "null"}]}
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (the ``Scenario`` model, by the names a file uses)."""
    from harness.model import Scenario

    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    _nothing_means_defaults(schema)
    # Top-level keys starting with "x-" are the author's (a place for YAML anchors).
    schema["patternProperties"] = {"^x-": {}}
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "netns-harness scenario", **schema}


def results_schema() -> dict[str, Any]:
    """The JSON Schema of a ``--json`` results file (``harness.report.write_json``)."""
    from harness.report import SCHEMA_VERSION
    from harness.runner import ScenarioResult

    scenario = TypeAdapter(ScenarioResult).json_schema(mode="serialization")
    # to_dict() leaves out what bundles keep as files (the state dumps).
    written = ScenarioResult(name="", file="", status="").to_dict()
    for name in [n for n in scenario.get("properties", {}) if n not in written]:
        del scenario["properties"][name]
        if name in scenario.get("required", []):
            scenario["required"].remove(name)
    defs = scenario.pop("$defs", {})
    defs["ScenarioResult"] = scenario
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "netns-harness results",
        "description": "`harness run --json FILE` and `pytest --harness-json FILE`",
        "type": "object",
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION,
                               "description": "changes when a field is renamed or removed"},
            "harness_version": {"type": "string"},
            "target": {"type": "object", "description": "the target's description and facts "
                                                        "(kernel, iproute2, ping, box, provider, ...)"},
            "summary": {"type": "string"},
            "timings": {"type": "object", "additionalProperties": {"type": "number"},
                        "description": "the run's phases in seconds: box, define, boot, ssh, snapshot, restore, "
                                       "facts, destroy (summed over pytest-xdist workers), first_verdict"},
            "scenarios": {"type": "array", "items": {"$ref": "#/$defs/ScenarioResult"}},
        },
        "required": ["schema_version", "harness_version", "target", "summary", "scenarios"],
        "$defs": defs,
    }


SCHEMAS = {"scenario": scenario_schema, "results": results_schema}

"""`harness schema`: the JSON Schemas hold for every shipped scenario and reject invalid ones."""

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from conftest import DATA, REPO, SCENARIOS
from harness.loader import ScenarioError, load_scenario
from harness.report import SCHEMA_VERSION, write_json
from harness.runner import CheckResult, ScenarioResult
from harness.schema import results_schema, scenario_schema

INVALID = sorted((DATA / "invalid").glob("*.yaml"))


@pytest.fixture(scope="module")
def scenario_validator():
    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_holds(scenario_validator, path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in scenario_validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors, errors


def test_there_are_shipped_scenarios_and_invalid_ones():
    assert len(list(SCENARIOS.glob("*.yaml"))) >= 8 and len(INVALID) >= 8


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_scenarios_are_rejected_by_the_schema_and_the_loader(scenario_validator, path):
    assert list(scenario_validator.iter_errors(yaml.safe_load(path.read_text()))), "the schema accepts it"
    with pytest.raises(ScenarioError):
        load_scenario(path)


def test_a_namespace_with_nothing_after_it_is_the_only_null_allowed(scenario_validator):
    base = {"name": "n", "namespaces": {"a": None}, "checks": [{"route": {"namespace": "a", "dst": "default"}}]}
    assert not list(scenario_validator.iter_errors(base))
    assert list(scenario_validator.iter_errors({**base, "requires": None}))
    assert list(scenario_validator.iter_errors({**base, "checks": [None]}))


def test_results_schema_holds_for_written_results(tmp_path):
    check = CheckResult(id="s0c0", name="ping a -> b", kind="ping", step="checks", status="FAIL",
                        reason="no reply", expected={"reachable": True}, observed={"received": 0},
                        command="ping -c 3 10.0.0.2", exit_code=1, stdout="...", duration_s=1.02)
    results = [ScenarioResult("s", "scenarios/s.yaml", "FAIL", checks=[check], run_id="3fa2c1", duration_s=1.3),
               ScenarioResult("t", "scenarios/t.yaml", "SKIP", reason="needs kernel >= 6.11")]
    path = tmp_path / "results.json"
    write_json(path, results, {"target": "local", "kernel": "6.1.0"})
    document = json.loads(path.read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    schema = results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    document["scenarios"][0]["checks"][0]["status"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("kind", ["scenario", "results"])
def test_harness_schema_prints_them(kind):
    proc = subprocess.run([sys.executable, "-m", "harness", "schema", kind], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == (scenario_schema() if kind == "scenario" else results_schema())

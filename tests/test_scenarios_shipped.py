"""Every scenario shipped in scenarios/: it validates, says where it comes from, and on this
machine (the local target, as root) it PASSes -- or SKIPs only for a kernel feature the
target really lacks (the VRF, dummy, bond, vlan and netem scenarios on a kernel without them)."""

import re

import pytest

from conftest import SCENARIOS, needs_root
from harness.facts import gather_facts, needs
import yaml

from harness.loader import load_scenario, parse_scenario
from harness.runner import run_scenario
from kindtools import assert_agree
from test_kinds_agreement import INVERTED, inversion_name, with_inversions
from harness.targets.local import LocalTarget

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
# A pitfall cites the public report it comes from, a selftest case its script in the Linux tree.
SOURCE = re.compile(r"https?://\S+|tools/testing/selftests/\S+\.sh")
LACKS = re.compile(r"^needs kernel support for (\S+), which the target lacks( \(CONFIG_\w+ is not set in \S+\))?$")


def test_scenarios_are_shipped():
    assert len(SHIPPED) >= 8 + 10 + 4


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_says_where_it_comes_from(path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem, "the scenario's name is its file name"
    assert path.read_text().startswith("#"), "a shipped scenario opens with a comment on what it shows"
    assert scenario.description.strip()
    if path.stem.startswith(("pitfall-", "selftest-")):
        assert SOURCE.search(scenario.description), "say which report or selftest it comes from"
    if path.stem.startswith("selftest-"):
        assert "tools/testing/selftests/net/" in scenario.description


@pytest.fixture(scope="module")
def target():
    with LocalTarget() as t:
        yield t


@pytest.fixture(scope="module")
def facts(target):
    return gather_facts(target)


@needs_root
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_passes_or_skips_for_a_missing_feature(path, target, facts, no_leftovers):
    """One run per scenario, its checks each followed by their inversion (test_kinds_agreement):
    every check of the scenario PASSes, every inversion of a check that holds at once FAILs,
    and every check's bash screen agrees with its Python judge."""
    scenario = load_scenario(path)
    data, doubled = with_inversions(yaml.safe_load(path.read_text()))
    result = run_scenario(parse_scenario(yaml.safe_dump(data, sort_keys=False), str(path)), target,
                          file=path, facts=facts)
    if result.status == "SKIP":
        _kernel, features, _tools = needs(scenario)
        for reason in result.reason.split("; "):
            lacks = LACKS.match(reason)
            assert lacks, f"a shipped scenario may SKIP here only for a missing kernel feature: {reason}"
            assert lacks[1] in features and facts.features.get(lacks[1]) is False, reason
        return
    assert result.status in ("PASS", "FAIL"), result.reason
    originals = [c for c in result.checks if not c.name.startswith(INVERTED)]
    assert originals and all(c.status == "PASS" for c in originals), "\n".join(
        f"{c.status} {c.name}: {c.reason}\n{c.stdout}{c.stderr}" for c in originals if c.status != "PASS")
    by_name = {c.name: c for c in result.checks}
    for c in originals:
        twin = by_name.get(inversion_name(c.name))
        if twin:
            assert twin.status == "FAIL", f"{c.name} passed and so did its inversion ({twin.reason})"
    assert len(result.checks) == len(originals) + doubled
    assert_agree(result)

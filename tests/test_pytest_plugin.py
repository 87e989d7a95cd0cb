"""The pytest plugin for real: pytest runs in a scratch project, scenarios run in real namespaces."""

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO, SCENARIOS, harness_namespaces, inner_pytest, needs_root

# A stand-in for plugins that share the venv: pytest-embedded has --target and reads
# item.funcargs of every item, pytest-testinfra has --hosts and --connection.
# (.ci/wheel-smoke.sh installs the real ones beside the plugin.)
NEIGHBOUR_PLUGIN = '''
import pytest

def pytest_addoption(parser):
    parser.addoption("--target", default=None)
    parser.addoption("--hosts", default=None)
    parser.addoption("--connection", default=None)

@pytest.hookimpl(trylast=True)
def pytest_runtest_call(item):
    assert "dut" not in item.funcargs
'''


@pytest.fixture
def project(pytester, monkeypatch):
    """A project folder, the current directory: scenarios/ with veth-pair, a failing copy, vrf, and
    a Kubernetes file; the stand-in neighbour plugin importable here and in inner xdist workers."""
    tmp_path = pytester.path
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name in ("veth-pair", "vrf", "client-gateway-server"):
        shutil.copy(SCENARIOS / f"{name}.yaml", scenarios)
    (scenarios / "wrong-ttl.yaml").write_text(
        (SCENARIOS / "veth-pair.yaml").read_text().replace("name: veth-pair", "name: wrong-ttl")
        .replace("{from: host, to: 10.0.0.2, ttl: 64}", "{from: host, to: 10.0.0.2, ttl: 63}"))
    # Someone's Kubernetes file with a top-level namespaces key: not a scenario.
    (scenarios / "cluster.yaml").write_text("apiVersion: v1\nkind: List\nnamespaces:\n  - default\n")
    (tmp_path / "neighbour.py").write_text(NEIGHBOUR_PLUGIN)
    pytester.syspathinsert()
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{REPO}")
    # Wide enough for the short summary to show a failure's whole headline.
    monkeypatch.setenv("COLUMNS", "300")
    return tmp_path


def pytest_in(pytester, *args):
    """pytest ARGS in the project with the neighbour plugin: in this process, or in a new
    interpreter when the first is "--subprocess" (as a user starts it) or xdist workers run."""
    asked = args[:1] == ("--subprocess",)
    args = args[1:] if asked else args
    new_process = asked or ("-n" in args and "--collect-only" not in args)
    return inner_pytest(pytester, "-p", "neighbour", *args, new_process=new_process)


def collected(proc) -> list:
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_collects_one_item_per_check_by_glob_and_never_unrelated_yaml(project, pytester):
    proc = pytest_in(pytester, "--collect-only", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    items = collected(proc)
    assert "scenarios/veth-pair.yaml::ping host -> 10.0.0.2 ttl=64" in items
    assert "scenarios/client-gateway-server.yaml::default routes via the gateway/" \
           "client reaches server through one hop" in items
    # The same check in two steps gets two items with different names.
    assert sum("client-gateway-server.yaml::" in i for i in items) == 11
    assert not [i for i in items if "cluster.yaml" in i]


def test_features_are_markers(project, pytester):
    proc = pytest_in(pytester, "--collect-only", "-q", "-m", "not vrf", "--strict-markers")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    items = collected(proc)
    assert items and not [i for i in items if "vrf.yaml" in i]
    assert pytest_in(pytester, "--collect-only", "-q", "-m", "vrf").stdout.count("vrf.yaml::") == 9
    # Without pytest-xdist, no xdist_group marks (pytest would warn about an unknown mark). In a
    # pytest of its own: pytest's list of known marks is per process and keeps xdist's from before.
    proc = pytest_in(pytester, "--subprocess", "--collect-only", "-q", "-p", "no:xdist",
                     "-W", "error::pytest.PytestUnknownMarkWarning")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_file_named_on_the_command_line_is_collected_anywhere(project, pytester):
    elsewhere = project / "network" / "edge.yml"
    elsewhere.parent.mkdir()
    shutil.copy(SCENARIOS / "veth-pair.yaml", elsewhere)
    proc = pytest_in(pytester, "--collect-only", "-q", "network/edge.yml")
    assert collected(proc) and all(i.startswith("network/edge.yml::") for i in collected(proc)), proc.stdout
    # Not named and not matching the globs: not collected.
    assert "edge.yml" not in pytest_in(pytester, "--collect-only", "-q").stdout


def test_scenario_globs_come_from_the_ini_file(project, pytester):
    (project / "net").mkdir()
    shutil.copy(SCENARIOS / "veth-pair.yaml", project / "net" / "pair.scenario.yaml")
    (project / "pytest.ini").write_text("[pytest]\nharness_scenarios = *.scenario.yaml\n")
    items = collected(pytest_in(pytester, "--collect-only", "-q"))
    assert items and all(i.startswith("net/pair.scenario.yaml::") for i in items), items


def test_an_invalid_scenario_is_one_failing_item_with_the_loaders_words(project, pytester):
    bad = project / "scenarios" / "typo.yaml"
    bad.write_text((SCENARIOS / "veth-pair.yaml").read_text().replace("dev: veth-b}", "dev: veth-b, mtux: 9000}"))
    proc = pytest_in(pytester, "scenarios/typo.yaml")
    assert proc.returncode == 1
    assert "invalid scenario (nothing was run)" in proc.stdout and "typo.yaml:" in proc.stdout
    assert "mtux" in proc.stdout and "Traceback" not in proc.stdout


def test_target_errors_are_one_line_and_options_come_from_ini(project, pytester):
    # Nothing listens on port 1 of loopback: the ssh target is refused at once.
    (project / "pytest.ini").write_text("[pytest]\nharness_target = ssh://nobody@127.0.0.1:1\n")
    proc = pytest_in(pytester, "scenarios/veth-pair.yaml")
    assert proc.returncode == 1, proc.stdout
    assert "4 errors" in proc.stdout
    assert "target error: ssh://nobody@127.0.0.1:1: cannot connect to 127.0.0.1:1" in proc.stdout
    assert "Traceback" not in proc.stdout and "During handling" not in proc.stdout
    assert len(proc.stdout.splitlines()) < 40, proc.stdout


@needs_root
def test_checks_are_results_of_their_own_and_the_scenario_runs_once(project, tmp_path, pytester):
    junit, results = project / "out.xml", project / "out.json"
    # In a pytest of its own, as a user starts it: the plugin found through its entry point.
    proc = pytest_in(pytester, "--subprocess", "-rfEs", "--junitxml", str(junit), "--harness-json", str(results),
                     "--harness-target", "local", "--harness-bundle-dir", str(tmp_path / "bundles"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # The failing check is named in the short summary's headline, with why.
    assert re.search(r"^FAILED scenarios/wrong-ttl\.yaml::ping host -> 10\.0\.0\.2 ttl=63 - "
                     r"FAIL ping host -> 10\.0\.0\.2 ttl=63: replies came with ttl \[64\], expected 63", proc.stdout,
                     re.M), proc.stdout
    document = json.loads(results.read_text())
    if next(s for s in document["scenarios"] if s["name"] == "vrf")["status"] == "SKIP":  # a kernel without VRF
        # Skips point at the scenario file, not at the plugin.
        assert re.search(r"^SKIPPED \[9\] scenarios/vrf\.yaml:1: needs kernel support for vrf", proc.stdout,
                         re.M), proc.stdout
    cases = ET.parse(junit).getroot().iter("testcase")
    by_name = {(c.get("classname"), c.get("name")): c for c in cases}
    assert len(by_name) == 4 + 4 + 9 + 11
    failing = by_name[("scenarios.wrong-ttl.yaml", "ping host -> 10.0.0.2 ttl=63")].find("failure")
    assert failing.get("message").startswith("FAIL ping host -> 10.0.0.2 ttl=63: replies came with ttl [64]")
    assert "bug-report bundle:" in failing.get("message")
    passing = by_name[("scenarios.wrong-ttl.yaml", "ping nstest -> 10.0.0.1 ttl=64")]
    assert passing.find("failure") is None and passing.find("error") is None
    assert document["schema_version"] == 1
    assert sorted(s["name"] for s in document["scenarios"]) == ["client-gateway-server", "veth-pair", "vrf",
                                                                 "wrong-ttl"]
    run_ids = {s["run_id"] for s in document["scenarios"] if s["run_id"]}
    assert not [ns for ns in harness_namespaces() if ns[2:8] in run_ids]


@needs_root
def test_k_selects_checks_and_the_scenario_still_runs_once(project, pytester):
    results = project / "out.json"
    proc = pytest_in(pytester, "-v", "-k", "one and hop", "--harness-json", str(results))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout and "client reaches server through one hop PASSED" in proc.stdout
    [scenario] = json.loads(results.read_text())["scenarios"]
    assert scenario["name"] == "client-gateway-server" and len(scenario["checks"]) == 11


@needs_root
def test_xdist_workers_results_end_up_in_one_json(project, pytester):
    results = project / "out.json"
    proc = pytest_in(pytester, "-n", "2", "--harness-json", str(results))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    document = json.loads(results.read_text())
    assert sorted(s["name"] for s in document["scenarios"]) == ["client-gateway-server", "veth-pair", "vrf",
                                                                 "wrong-ttl"]
    assert document["target"]["target"] == "local" and document["target"]["kernel"]


def test_xdist_worksteal_is_refused(project, pytester):
    proc = pytest_in(pytester, "-n", "2", "--dist", "worksteal", "--collect-only")
    assert proc.returncode == 4 and "not worksteal" in proc.stderr


@needs_root
def test_known_bugs_are_xfail_on_the_failing_checks_and_xpass_when_gone(project, pytester):
    known_bug = "xfail: {reason: a known bug, ref: https://bugs.example/1}\n"
    for name in ("wrong-ttl", "veth-pair"):
        path = project / "scenarios" / f"{name}.yaml"
        path.write_text(path.read_text().replace("\nnamespaces:", f"\n{known_bug}namespaces:", 1))
    proc = pytest_in(pytester, "-rxX", "scenarios/wrong-ttl.yaml", "scenarios/veth-pair.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # wrong-ttl: its one failing check is XFAIL, its passing checks pass; veth-pair passed: 4 XPASS.
    assert "3 passed, 1 xfailed, 4 xpassed" in proc.stdout, proc.stdout
    assert re.search(r"^XFAIL scenarios/wrong-ttl\.yaml::ping host -> 10\.0\.0\.2 ttl=63 - "
                     r"expected failure: a known bug", proc.stdout, re.M), proc.stdout


@needs_root
def test_results_json_has_the_sessions_timings_under_xdist_too(project, pytester):
    results = project / "out.json"
    proc = pytest_in(pytester, "scenarios/veth-pair.yaml", "--harness-json", str(results))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(results.read_text())
    assert set(document["timings"]) == {"facts", "first_verdict"}   # the local target has nothing to start
    assert 0 < document["timings"]["first_verdict"] < 60
    assert document["scenarios"][0]["timings"]["total"] > 0
    proc = pytest_in(pytester, "-n", "2", "scenarios/veth-pair.yaml", "scenarios/wrong-ttl.yaml",
                     "--harness-json", str(results))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    timings = json.loads(results.read_text())["timings"]
    assert set(timings) == {"facts", "first_verdict"} and 0 < timings["first_verdict"] < 60


def test_merged_timings_sum_phases_over_workers_and_take_the_first_verdict():
    from harness.pytest_plugin import merge_timings

    merged = merge_timings(100.0, [{"restore": 1.5, "facts": 0.0, "first_verdict_at": 112.0},
                                   {"restore": 2.0, "boot": 30.0, "facts": 1.25, "first_verdict_at": 109.5}, {}])
    assert merged == {"restore": 3.5, "facts": 1.25, "boot": 30.0, "first_verdict": 9.5}


@pytest.mark.parametrize("args, words", [
    (["--harness-isolate", "scenario"], "--harness-isolate scenario needs a VM target (--harness-target vagrant), "
                                        "not local"),
    (["--harness-isolate", "scenario", "--harness-kernels", "kernel-6.1"], "not supported with --harness-kernels"),
    (["--harness-target", "vagrant", "--harness-reuse", "-n", "2"], "--harness-reuse with -n 2: every worker"),
    (["--harness-target", "vagrant", "--harness-reuse", "--harness-isolate", "scenario"],
     "--harness-isolate scenario gives every scenario a fresh VM and --harness-reuse runs them on a kept one"),
])
def test_vm_settings_that_cannot_work_are_refused_before_anything_boots(project, args, words, pytester):
    proc = pytest_in(pytester, *args, "--collect-only")
    assert proc.returncode == 4 and words in proc.stderr, proc.stdout + proc.stderr


def test_isolate_comes_from_the_ini_file_too(project, pytester):
    (project / "pytest.ini").write_text("[pytest]\nharness_isolate = scenario\n")
    proc = pytest_in(pytester, "--collect-only")
    assert proc.returncode == 4 and "--harness-isolate scenario needs a VM target" in proc.stderr
    (project / "pytest.ini").write_text("[pytest]\nharness_isolate = each\n")
    proc = pytest_in(pytester, "--collect-only")
    assert proc.returncode == 4 and "harness_isolate = each: use run or scenario" in proc.stderr

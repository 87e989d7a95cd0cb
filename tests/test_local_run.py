"""End to end on this machine: real namespaces, veth pairs and pings through the local target."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import DATA, SCENARIOS, harness_namespaces, needs_root, new_namespaces_after
from harness.facts import gather_facts
from harness.loader import ScenarioError, load_scenario, parse_scenario
from harness.runner import run_scenario
from harness.targets.local import LocalTarget

pytestmark = needs_root


@pytest.fixture(scope="module")
def target():
    with LocalTarget() as t:
        yield t


@pytest.fixture(scope="module")
def facts(target):
    return gather_facts(target)


def harness(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, **kwargs)


def test_facts_name_kernel_and_tools(facts):
    assert facts.kernel == os.uname().release
    assert facts.iproute2.startswith("ip utility")
    assert "iputils" in facts.ping
    assert facts.features["netns"] and facts.features["veth"]


def test_ttl_63_through_the_gateway_is_observed(target, facts, no_leftovers):
    path = SCENARIOS / "client-gateway-server.yaml"
    result = run_scenario(load_scenario(path), target, facts=facts)
    [hop] = [c for c in result.checks if c.name == "client reaches server through one hop"]
    assert hop.status == "PASS" and hop.observed["ttl"] == [63] and hop.observed["received"] == 5
    assert result.state == {}  # nothing looked off: no state dumps (they cost time in a VM)
    captured = run_scenario(load_scenario(path), target, facts=facts, capture_state=True)
    assert sorted(key.split("/")[0] for key in captured.state) == ["0"] * 3 + ["1"] * 3 + ["2"] * 3
    assert "-I 10.0.100.1 192.168.100.1" in hop.command


def test_wrong_ttl_fails_with_expected_and_observed(target, facts, no_leftovers):
    text = (SCENARIOS / "client-gateway-server.yaml").read_text().replace("ttl: 63", "ttl: 64")
    result = run_scenario(parse_scenario(text), target, facts=facts)
    assert result.status == "FAIL"
    [bad] = result.failed_checks
    assert bad.expected["ttl"] == 64 and bad.observed["ttl"] == [63]
    assert "ttl=63" in bad.stdout
    assert "expected 64" in bad.reason


def test_setup_failure_is_error_and_cleans_up(target, facts, no_leftovers):
    scenario = parse_scenario("""
name: broken-setup
namespaces: {a: }
veths: [{namespace: a, name: v0, addresses: [10.9.0.1/24], peer: {namespace: a, name: v1}}]
routes: [{namespace: a, dst: 10.8.0.0/24, via: 10.7.0.1}]
checks: [{ping: {from: a, to: 10.9.0.1}}]
""")
    result = run_scenario(scenario, target, facts=facts)
    assert result.status == "ERROR"
    assert "not run: the script stopped in set-up" in result.checks[0].reason
    assert "route add" in result.script_stderr
    # The command's own message and where the scenario says it, not the script's line number.
    assert "Nexthop has invalid gateway" in result.reason
    assert "[scenario line 5: routes[0]: ip -n" in result.reason, result.reason
    assert result.script_stderr.count("command failed") == 1  # none more from tear-down
    # The state at the moment it stopped is kept for the bug report.
    [(key, state)] = result.state.items()
    assert key == f"at-exit/nh{result.run_id}-a" and "v0@v1" in state


def test_cli_run_writes_json_and_exit_codes(tmp_path, no_leftovers):
    out = tmp_path / "results.json"
    ok = harness("run", str(SCENARIOS / "client-gateway-server.yaml"), "--json", str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    document = json.loads(out.read_text())
    assert document["target"]["kernel"] == os.uname().release
    assert document["target"]["ping"] and document["target"]["iproute2"]
    checks = document["scenarios"][0]["checks"]
    hop = next(c for c in checks if c["name"] == "client reaches server through one hop")
    assert hop["observed"]["ttl"] == [63] and hop["status"] == "PASS" and "ttl=63" in hop["stdout"]

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text((SCENARIOS / "client-gateway-server.yaml").read_text().replace("ttl: 63", "ttl: 64"))
    failed = harness("run", str(wrong))
    assert failed.returncode == 1
    assert "FAIL  client reaches server through one hop: replies came with ttl [63], expected 64" in failed.stdout

    invalid = harness("run", str(DATA / "seed-demo-as-written.yaml"), str(SCENARIOS / "veth-pair.yaml"))
    assert invalid.returncode == 2
    assert "did you mean 'svr-veth'?" in invalid.stderr and "nothing was run" in invalid.stderr
    assert "target local" not in invalid.stderr  # rejected before the target was even asked


@pytest.mark.serial
def test_ctrl_c_mid_run_leaves_nothing(tmp_path):
    slow = tmp_path / "slow.yaml"
    slow.write_text("""
name: slow
namespaces: {a: , b: }
veths: [{namespace: a, name: slow-a, addresses: [10.0.0.1/24],
         peer: {namespace: b, name: slow-b, addresses: [10.0.0.2/24]}}]
checks:
  - ping: {from: a, to: 10.0.0.99, expect: unreachable, deadline: 30}
""")
    before = harness_namespaces()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(slow)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ours() -> set[str]:
        # This run's namespaces: new ones holding its veth (other tests may run beside this one).
        return {n for n in harness_namespaces() - before
                if subprocess.run(["ip", "-n", n, "link", "show", "slow-a"], capture_output=True).returncode == 0}

    deadline = time.monotonic() + 60
    while not ours() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ours(), "the run never created its namespaces"
    time.sleep(0.3)
    # `harness clean` leaves a live run alone.
    clean = harness("clean")
    assert "is still going" in clean.stderr and ours()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert not new_namespaces_after(before)
    links = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    assert "slow-a" not in links and "slow-b" not in links


@pytest.mark.serial
def test_clean_removes_only_harness_namespaces():
    assert harness("clean", "--run-id", ".*").returncode == 2
    mine, other = "nh0a0b0c-leftover", "nhtest-keep-me"
    for name in (mine, other):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        result = harness("clean")
        assert result.returncode == 0
        assert f"removed namespace {mine}" in result.stdout
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert mine not in listed and other in listed
    finally:
        for name in (mine, other):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_requirements_skip_and_known_bugs_xfail(target, facts, no_leftovers):
    base = (SCENARIOS / "veth-pair.yaml").read_text()
    newer = parse_scenario(base + "requires: {kernel: '99.0', tools: [nft]}\n")
    result = run_scenario(newer, target, facts=facts)
    assert result.status == "SKIP" and f"needs kernel >= 99.0, target runs {facts.kernel}" in result.reason

    no_tool = run_scenario(parse_scenario(base + "requires: {tools: [no-such-tool-here]}\n"), target, facts=facts)
    assert no_tool.status == "SKIP" and "needs the 'no-such-tool-here' command" in no_tool.reason

    wrong = base.replace("ping: {from: host, to: 10.0.0.2, ttl: 64}", "ping: {from: host, to: 10.0.0.2, ttl: 1}")
    known = "xfail: {reason: 'ttl bug', ref: 'https://bugzilla.kernel.org/1'}\n"
    assert run_scenario(parse_scenario(wrong + known), target, facts=facts).status == "XFAIL"
    xpass = run_scenario(parse_scenario(base + known), target, facts=facts)
    assert xpass.status == "XPASS" and "https://bugzilla.kernel.org/1" in xpass.reason
    fixed = "xfail: {reason: 'ttl bug', kernel_below: '1.0'}\n"
    assert run_scenario(parse_scenario(wrong + fixed), target, facts=facts).status == "FAIL"


def test_refusals_and_families_are_judged_right(target, facts, no_leftovers):
    """Blackhole/prohibit/unreachable routes make ping and `ip route get` refuse: that is
    'unreachable', not an error; a route check reads the table of its destination's family."""
    scenario = parse_scenario("""
name: refusals
namespaces: {a: }
veths: [{namespace: a, name: v0, addresses: ["10.1.0.1/24", "fd00::1/64"], peer: {namespace: a, name: v1}}]
routes:
  - {namespace: a, dst: 10.2.0.0/24, type: blackhole}
  - {namespace: a, dst: 10.3.0.0/24, type: prohibit}
  - {namespace: a, dst: 10.4.0.0/24, type: unreachable}
  - {namespace: a, dst: "::/0", dev: v0}
checks:
  - ping: {from: a, to: 10.2.0.1, expect: unreachable}
  - ping: {from: a, to: 10.3.0.1, expect: unreachable}
  - ping: {from: a, to: 10.4.0.1, expect: unreachable}
  - path: {namespace: a, to: 10.2.0.1, expect: unreachable}
  - path: {namespace: a, to: 10.3.0.1, expect: unreachable}
  - path: {namespace: a, to: 10.4.0.1, expect: unreachable}
  - route: {namespace: a, dst: "::/0", dev: v0}
  - route: {namespace: a, dst: 10.2.0.0/24, type: blackhole}
steps:
  - delete_addresses: [{namespace: a, dev: v0, address: 10.1.0.1/24}]
    checks:
      - name: a source address that is gone cannot send, and that is "unreachable"
        ping: {from: a, to: 10.1.0.9, source: 10.1.0.1, expect: unreachable}
""")
    result = run_scenario(scenario, target, facts=facts)
    statuses = [(c.name, c.status) for c in result.checks]
    assert all(status == "PASS" for _, status in statuses), statuses
    assert "Cannot assign requested address" in result.checks[-1].stdout + result.checks[-1].stderr
    # A source address the scenario never gives the namespace is a mistake, caught before anything runs.
    with pytest.raises(ScenarioError, match=r"checks\[0\]\.ping\.source: 192\.0\.2\.1 is not an address of namespace 'a'"):
        parse_scenario("name: t\nnamespaces: {a: }\n"
                       "checks: [{ping: {from: a, to: 10.1.0.9, source: 192.0.2.1, expect: unreachable}}]\n")

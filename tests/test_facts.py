"""The facts probe on this machine: one round trip, link types as the kernel really makes them,
a lock that keeps `harness clean` off a live probe, and facts a target already knows."""

import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import harness_namespaces, needs_root
from harness.facts import facts_key, facts_script, gather_facts, parse_facts
from harness.render import render_clean
from harness.targets.local import LocalTarget

pytestmark = needs_root


class CountingTarget(LocalTarget):
    """The local target, counting the scripts it runs."""

    def __init__(self):
        super().__init__()
        self.scripts = []

    def run(self, script, *, timeout):
        self.scripts.append(script)
        return super().run(script, timeout=timeout)


def kernel_makes(kind: str) -> bool:
    """Whether this kernel creates a link of ``kind``, tried directly in a namespace of its own."""
    ns = f"nhfacts-{kind}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        args = ["ip", "-n", ns, "link", "add", "x0", "type", kind] + (["table", "10"] if kind == "vrf" else [])
        return subprocess.run(args, capture_output=True).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


def test_one_round_trip_and_link_types_as_the_kernel_makes_them(no_leftovers):
    target = CountingTarget()
    facts = gather_facts(target)
    assert len(target.scripts) == 1
    assert facts.kernel == os.uname().release and facts.arch == os.uname().machine
    assert facts.os and facts.iproute2.startswith("ip utility") and "iputils" in facts.ping
    for kind in ("veth", "vrf", "bridge"):
        assert facts.features[kind] == kernel_makes(kind), kind
    assert not os.path.exists("/run/netns-harness/000000.lock")


def test_known_facts_are_used_without_a_round_trip():
    target = CountingTarget()
    saved = "kernel=6.1.0-99-test\nfeature.netns=yes\ntool.ip=yes\n"
    target.known_facts = lambda key: saved if key == facts_key() else None
    assert gather_facts(target) == parse_facts(saved) and target.scripts == []
    # Facts saved for another script (another tool list) are not reused.
    assert gather_facts(target, tools=("ip",)).kernel == os.uname().release
    assert len(target.scripts) == 1


@pytest.mark.serial
def test_clean_leaves_a_live_probe_alone(no_leftovers):
    run_id = "fac7e5"
    probe = f"nh{run_id}-probe"
    # The probe, held up right after it made its namespace (before it makes its links).
    script = facts_script(run_id=run_id).replace('echo "feature.netns=yes"', 'echo "feature.netns=yes"; sleep 3', 1)
    assert "sleep 3" in script
    target = LocalTarget()
    done = {}
    thread = threading.Thread(target=lambda: done.update(result=target.run(script, timeout=60)))
    thread.start()
    deadline = time.monotonic() + 10
    while probe not in harness_namespaces() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert probe in harness_namespaces(), "the probe never made its namespace"
    clean = LocalTarget().run(render_clean(), timeout=60)
    assert f"kept run {run_id}: it is still going" in clean.stderr
    assert probe not in clean.stdout.split()
    thread.join(timeout=30)
    facts = parse_facts(done["result"].stdout)
    assert done["result"].exit_code == 0 and facts.features["netns"] and facts.features["veth"]
    assert probe not in harness_namespaces()
    assert not os.path.exists(f"/run/netns-harness/{run_id}.lock")


def test_harness_clean_removes_a_killed_probes_namespace():
    # Without a live lock the probe namespace is a leftover like any other.
    subprocess.run(["ip", "netns", "add", "nhdead00-probe"], check=True)
    try:
        out = subprocess.run([sys.executable, "-m", "harness.cli", "clean", "--run-id", "dead00"],
                             capture_output=True, text=True, timeout=60)
        assert "removed namespace nhdead00-probe" in out.stdout, out.stdout + out.stderr
    finally:
        subprocess.run(["ip", "netns", "del", "nhdead00-probe"], capture_output=True)


@pytest.mark.parametrize("tools", [("ip", "ping"), ("ip", "no-such-tool-here")])
def test_tool_lookup(tools):
    facts = gather_facts(LocalTarget(), tools=tools)
    assert facts.tools == {tool: tool != "no-such-tool-here" for tool in tools}

"""Bug-report bundles: written for failures, readable, replayable by hand and by `harness repro`."""

import json
import os
import subprocess
import sys
import tarfile

import pytest

from conftest import SCENARIOS, harness_namespaces, needs_root, new_namespaces_after
from harness.diagram import _id
from harness.runner import kernel_warnings

pytestmark = needs_root


def harness(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def failing_bundle(tmp_path_factory):
    work = tmp_path_factory.mktemp("bundle")
    wrong = work / "wrong-ttl.yaml"
    wrong.write_text((SCENARIOS / "client-gateway-server.yaml").read_text().replace("ttl: 63", "ttl: 64"))
    run = harness("run", str(wrong), "--bundle-dir", "bundles", cwd=work)
    assert run.returncode == 1, run.stdout + run.stderr
    [archive] = (work / "bundles").glob("*.tar.gz")
    assert f"bug-report bundle: bundles/{archive.name}" in run.stdout
    return work, archive, archive.with_name(archive.name.removesuffix(".tar.gz"))


def test_bundle_holds_what_a_maintainer_needs(failing_bundle):
    work, archive, root = failing_bundle
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    for part in ("REPORT.md", "scenario.yaml", "repro.sh", "scripts/run.sh", "scripts/setup.sh",
                 "scripts/teardown.sh", "results.json", "target.json", "kernel.log", "state/step-2/client.txt"):
        assert f"{root.name}/{part}" in names, part

    report = (root / "REPORT.md").read_text()
    assert "| default routes via the gateway | client reaches server through one hop | FAIL" in report
    assert '"ttl": 64' in report and '"ttl": [63]' in report
    assert f"harness repro {archive.name}" in report and "```mermaid" in report
    assert "default via 10.0.100.254 dev cli-veth (step 2)" in report

    results = json.loads((root / "results.json").read_text())
    hop = next(c for c in results["checks"] if c["name"] == "client reaches server through one hop")
    assert hop["exit_code"] == 0 and "ttl=63" in hop["stdout"] and hop["duration_s"] > 0
    assert [r["ttl"] for r in hop["parsed"]["replies"]] == [63] * 5
    assert results["file"] == "wrong-ttl.yaml"

    target = json.loads((root / "target.json").read_text())
    assert target["kernel"] == os.uname().release and target["uname"].startswith("Linux")
    assert target["iproute2"] and target["ping"] and "features" in target and target["harness_version"]

    state = (root / "state" / "step-2" / "client.txt").read_text()
    assert "default via 10.0.100.254 dev cli-veth" in state and "# ip -d link show" in state
    assert "net.ipv4.ip_forward = 1" in (root / "state" / "step-2" / "gateway.txt").read_text()


def test_bundle_holds_nothing_from_the_users_machine(failing_bundle):
    work, _, root = failing_bundle
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert str(work) not in text, path
            assert os.environ.get("HOME", "/nonexistent") + "/" not in text, path


def test_repro_sh_by_hand_shows_the_same_pair_and_cleans_up(failing_bundle):
    _, _, root = failing_bundle
    before = harness_namespaces()
    run = subprocess.run(["bash", str(root / "repro.sh")], capture_output=True, text=True)
    assert run.returncode == 1, run.stdout + run.stderr  # one check did not hold
    failed = run.stdout.split("FAIL  client reaches server through one hop\n", 1)[1].split("\nPASS", 1)[0]
    assert '      expected: {"max_loss_percent": 0.0, "reachable": true, "ttl": 64}' in failed
    assert "      observed: exit 0 after 1 try" in failed
    assert failed.count("ttl=63 ") == 5 and "ttl=64" not in failed  # ping's own output: ttl 63
    assert run.stdout.count("PASS ") == 10
    assert not new_namespaces_after(before)


def test_harness_repro_reproduces_the_verdict(failing_bundle):
    work, archive, _ = failing_bundle
    replay = harness("repro", str(archive), "--target", "local", cwd=work)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "REPRODUCED: bundle FAIL, now FAIL" in replay.stdout


def test_passing_run_writes_no_bundle_unless_asked(tmp_path):
    passing = harness("run", str(SCENARIOS / "veth-pair.yaml"), "--bundle-dir", "b", cwd=tmp_path)
    assert passing.returncode == 0 and not (tmp_path / "b").exists()
    asked = harness("run", str(SCENARIOS / "veth-pair.yaml"), "--bundle-dir", "b", "--report", cwd=tmp_path)
    assert asked.returncode == 0 and len(list((tmp_path / "b").glob("veth-pair-*.tar.gz"))) == 1


def test_render_diagram():
    out = subprocess.run([sys.executable, "-m", "harness.cli", "render", "--diagram",
                          str(SCENARIOS / "vrf.yaml")], capture_output=True, text=True)
    assert out.stdout.startswith("flowchart LR\n")
    assert _id("router_red") + '{"VRF red table 10"}' in out.stdout
    assert f'{_id("router_to-red")} <-- veth --> {_id("red-host_eth0")}' in out.stdout
    # Different namespace/interface splits give different nodes.
    assert _id("a-b_c") != _id("a_b-c")


def test_kernel_warnings_are_flagged():
    log = ("[  12.000001] IPv6: ADDRCONF(NETDEV_CHANGE): veth0: link becomes ready\n"
           "[  12.500000] WARNING: CPU: 0 PID: 42 at net/ipv4/fib_semantics.c:123 fib_nh_release+0x1/0x2\n"
           "[  12.500100] Call Trace:\n")
    assert kernel_warnings(log) == log.splitlines()[1:]

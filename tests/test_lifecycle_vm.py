"""Kept VMs for real: a failing run keeps its VM and its namespaces, ``harness ssh`` enters them
(host key checked), ``harness up`` / ``status`` / ``down``, and two pytest-xdist workers get a
VM each. Marked ``vm``: needs root, Vagrant and libvirt (HARNESS_LIBVIRT_DRIVER=qemu where KVM
is missing). Copies of booted snapshots: about 10 s each; a VM slot's first use boots (~80 s TCG).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SCENARIOS
from harness import lifecycle

KERNEL = os.environ.get("HARNESS_TEST_BOX_KERNEL", "linux-image-cloud-amd64")

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="building a box needs root"),
    pytest.mark.skipif(not shutil.which("vagrant") or not shutil.which("virsh") or not shutil.which("ssh"),
                       reason="needs vagrant, libvirt and ssh (bash .ci/bootstrap.sh --vm)"),
]


def harness(*args, timeout=1200):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, stdin=subprocess.DEVNULL)


def domains() -> set[str]:
    out = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"],
                         capture_output=True, text=True).stdout
    return {line for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def box():
    """The test box (a cache hit once built); afterwards no VM or record of it that a test made is left."""
    from harness.box import build_box
    from harness.host_setup import prepare_libvirt_host

    prepare_libvirt_host()
    name = build_box(kernel_package=KERNEL).name
    prefix = lifecycle.vm_name(name.replace("/", "-"), 0)
    records_before = {r.name for r in lifecycle.load_records()}
    before = {d for d in domains() if d.startswith(prefix)}
    yield name
    left = {d for d in domains() if d.startswith(prefix)} - before
    assert not left, f"a test left a VM behind: {sorted(left)}"
    assert {r.name for r in lifecycle.load_records()} <= records_before, "a test left a VM record behind"


def kept_name(stderr: str) -> str:
    found = re.search(r"^VM (\S+) (?:kept \(|is up until)", stderr, re.M)
    assert found, stderr
    return found.group(1)


def down(name: str) -> None:
    if lifecycle.load_record(name) is not None:
        done = harness("down", "--vm", name)
        assert done.returncode == 0 and f"removed VM {name}" in done.stdout, done.stdout + done.stderr


def test_a_failing_run_keeps_its_vm_and_namespaces_for_harness_ssh(box, tmp_path):
    wrong = tmp_path / "wrong-ttl.yaml"
    wrong.write_text((SCENARIOS / "client-gateway-server.yaml").read_text().replace("ttl: 63", "ttl: 64"))
    pair = str(SCENARIOS / "veth-pair.yaml")
    # --isolate scenario: the failing scenario's copy is kept, the next one runs in a VM of another slot.
    run = harness("run", str(wrong), pair, "--target", "vagrant", "--box", box, "--isolate", "scenario",
                  "--bundle-dir", str(tmp_path / "bundles"))
    name = kept_name(run.stderr)
    try:
        assert run.returncode == 1, run.stdout + run.stderr
        assert "PASS  veth-pair" in run.stdout
        assert f"harness ssh --vm {name} --namespace client   (client, gateway, server)" in run.stderr
        record = lifecycle.load_record(name)
        assert record.kept == "--destroy passing; failed: client-gateway-server" and record.owner is None
        [kept_run] = record.runs
        assert (kept_run.scenario, kept_run.status, sorted(kept_run.namespaces)) == (
            "client-gateway-server", "FAIL", ["client", "gateway", "server"])
        assert [r.name for r in lifecycle.load_records() if r.box == box] == [name]   # veth-pair's VM is gone

        status = harness("status")
        [line] = [line for line in status.stdout.splitlines() if line.startswith(name + " ")]
        assert " kept " in line and line.endswith("namespaces: client-gateway-server FAIL (client, gateway, server)")

        # The topology as the failing run left it, after its last step.
        inside = harness("ssh", "--vm", name, "--namespace", "client", "--", "ip", "route", "show", "default")
        assert inside.returncode == 0, inside.stderr
        assert inside.stdout.split() == ["default", "via", "10.0.100.254", "dev", "cli-veth"]
        listing = harness("ssh", "--box", box, "--", "ip", "netns", "list")
        assert sorted(listing.stdout.split()) == sorted(kept_run.namespaces.values())

        # Another key at the VM's address is refused.
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
        other = (tmp_path / "other.pub").read_text().split()
        host = record.ssh["host"] if record.ssh["port"] == 22 else f"[{record.ssh['host']}]:{record.ssh['port']}"
        (tmp_path / "known_hosts").write_text(f"{host} {other[0]} {other[1]}\n")
        pinned, record.known_hosts = record.known_hosts, str(tmp_path / "known_hosts")
        record.save()
        refused = harness("ssh", "--vm", name, "--", "true")
        record.known_hosts = pinned
        record.save()
        assert refused.returncode == 255 and "Host key verification failed" in refused.stderr

        # Re-run on it: the passing run's namespaces do not stay; harness up adds a scenario's for good.
        again = harness("run", pair, "--target", "vagrant", "--reuse", "--vm", name, "--destroy", "never")
        assert again.returncode == 0 and f"VM {name} kept (--destroy never)" in again.stderr, again.stderr
        up = harness("up", "--vm", name, str(SCENARIOS / "vrf.yaml"))
        assert up.returncode == 0 and f"VM {name} is up until `harness down`" in up.stderr, up.stdout + up.stderr
        listing = harness("ssh", "--vm", name, "--", "ip", "netns", "list")
        assert len(listing.stdout.split()) == 6 and not [n for n in listing.stdout.split() if "nstest" in n]
        red = harness("ssh", "--vm", name, "--namespace", "red-host", "--scenario", "vrf", "--", "ip", "-br", "addr")
        assert "10.0.0.1/24" in red.stdout, red.stdout + red.stderr

        # --reuse with --destroy always removes it, record and all.
        gone = harness("run", pair, "--target", "vagrant", "--reuse", "--vm", name, "--destroy", "always")
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert lifecycle.load_record(name) is None and f"{name}_default" not in domains()
    finally:
        down(name)


def test_harness_up_status_and_down(box):
    up = harness("up", "--box", box)
    name = kept_name(up.stderr)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "passed" not in up.stdout   # no scenarios, no summary
        kernel = harness("ssh", "--vm", name, "--", "uname", "-r")
        assert kernel.returncode == 0 and kernel.stdout.strip(), kernel.stderr
        assert "harness up" in next(line for line in harness("status").stdout.splitlines() if line.startswith(name))
    finally:
        gone = harness("down", "--vm", name)
    assert gone.returncode == 0 and gone.stdout == f"removed VM {name} ({box})\n", gone.stdout + gone.stderr
    assert f"{name}_default" not in domains() and lifecycle.load_record(name) is None
    after = harness("ssh", "--vm", name)
    assert after.returncode == 2 and f"no VM named {name} is kept" in after.stderr


def test_xdist_workers_get_a_vm_each(box, tmp_path):
    (tmp_path / "scenarios").mkdir()
    for name in ("veth-pair", "loopback"):
        shutil.copy(SCENARIOS / f"{name}.yaml", tmp_path / "scenarios")
    before = {r.name for r in lifecycle.load_records()}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # --destroy never: both VMs stay, so the test can see there were two.
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "scenarios",
                          "--harness-target", "vagrant", "--harness-box", box, "--harness-destroy", "never",
                          "--harness-json", "out.json"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1200)
    new = [r for r in lifecycle.load_records() if r.name not in before]
    try:
        assert run.returncode == 0, run.stdout + run.stderr
        assert sorted(r.box for r in new) == [box, box], [r.name for r in new]
        # Passing runs leave no namespaces in a kept VM.
        assert [(r.kept, r.runs, r.owner) for r in new] == [("--destroy never", [], None)] * 2
        summary = run.stdout[run.stdout.index("netns-harness: kept VMs"):]
        assert all(f"VM {r.name} kept (--destroy never). Log in:  harness ssh --vm {r.name}" in summary for r in new)
        document = json.loads((tmp_path / "out.json").read_text())
        assert sorted(s["name"] for s in document["scenarios"]) == ["loopback", "veth-pair"]
        timings = document["timings"]
        assert timings.get("restore", 0) + timings.get("boot", 0) > 0 and timings["first_verdict"] > 0
    finally:
        for record in new:
            down(record.name)

"""Booted snapshots for real: a copy restored from a box's snapshot runs scenarios, reports its
phases, falls back to a boot when the snapshot no longer restores, and no state leaks from one
run, or one scenario (``fresh``), to the next. Marked ``vm``: needs root, Vagrant and libvirt."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import SCENARIOS
from harness.snapshot import Snapshot

KERNEL = os.environ.get("HARNESS_TEST_BOX_KERNEL", "linux-image-cloud-amd64")

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="building a box needs root"),
    pytest.mark.skipif(not shutil.which("vagrant") or not shutil.which("virsh"),
                       reason="needs vagrant and libvirt (bash .ci/bootstrap.sh --vm)"),
]


def domains() -> set[str]:
    out = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"],
                         capture_output=True, text=True).stdout
    return {line for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def vm_host():
    """libvirt up, the test box built (a cache hit once built); no VM left behind afterwards."""
    from harness.box import build_box
    from harness.host_setup import prepare_libvirt_host

    prepare_libvirt_host()
    build_box(kernel_package=KERNEL)
    before = domains()
    yield
    assert domains() - before == set(), "a test left a VM behind"


def vm_target(**options):
    from harness.targets.vagrant import VagrantTarget

    return VagrantTarget(box_kernel=KERNEL, destroy="always", **options)


# What a run may leave in a VM, outside any scenario (scenarios tear down what they make).
LEAVE_STATE = """set -e
sysctl -qw net.ipv4.ip_forward=1
ip route add 198.51.100.0/24 dev lo
ip netns add nh000000-left
touch /root/left-behind
"""
READ_STATE = """sysctl -n net.ipv4.ip_forward
ip route show 198.51.100.0/24
ip netns list
ls /root
"""


def changed(output: str) -> bool:
    return any(mark in output for mark in ("198.51.100.0/24", "nh000000-left", "left-behind")) or \
        output.splitlines()[0] == "1"


@pytest.mark.parametrize("_", [None], ids=["run-after-run"])
def test_a_snapshot_copy_never_sees_what_an_earlier_run_changed(vm_host, _):
    pytest.importorskip("paramiko")
    for attempt in ("first", "second"):
        with vm_target() as target:
            assert not changed(target.run(READ_STATE, timeout=60).stdout), f"{attempt} run saw an earlier run's state"
            assert target.run(LEAVE_STATE, timeout=60).exit_code == 0
            assert changed(target.run(READ_STATE, timeout=60).stdout)   # the change took, in this VM
            # Only the second run is certain to start from the snapshot (the first may have made it).
            started = target.describe()["started"]
            target.set_outcome(passed=True)
    assert started == "snapshot restore"


def test_fresh_gives_each_scenario_a_clean_copy(vm_host):
    with vm_target() as target:
        assert target.run(LEAVE_STATE, timeout=60).exit_code == 0
        assert target.describe()["started"] == "snapshot restore"
        target.fresh()
        assert not changed(target.run(READ_STATE, timeout=60).stdout)
        target.set_outcome(passed=True)


def test_the_box_runs_without_address_space_randomization(vm_host):
    # qemu's TCG keeps translated code by virtual address: with ASLR every exec translates its
    # libraries anew, about three times the cost of a process (box_build.sh, norandmaps).
    with vm_target() as target:
        randomize, cmdline = target.run("cat /proc/sys/kernel/randomize_va_space /proc/cmdline", timeout=60).stdout.splitlines()
        assert randomize == "0" and "norandmaps" in cmdline.split()
        target.set_outcome(passed=True)


def test_harness_run_from_a_snapshot_with_timings(vm_host, tmp_path):
    out = tmp_path / "results.json"
    argv = [sys.executable, "-m", "harness.cli", "run", str(SCENARIOS / "veth-pair.yaml"),
            str(SCENARIOS / "loopback.yaml"), "--target", "vagrant", "--box-kernel", KERNEL,
            "--destroy", "always", "--timings", "--isolate", "scenario", "--json", str(out)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "restoring netns-harness/bookworm-" in run.stderr and "vagrant up" not in run.stderr
    result = json.loads(out.read_text())
    assert result["target"]["started"] == "snapshot restore"
    timings = result["timings"]
    for phase in ("box", "restore", "ssh", "facts", "destroy", "first_verdict"):
        assert phase in timings, phase
    assert all(s["timings"]["total"] > 0 for s in result["scenarios"])
    assert "timings (seconds):" in run.stderr and "restore" in run.stderr


@pytest.mark.boxes
def test_a_snapshot_that_no_longer_restores_is_made_anew(vm_host):
    from harness.snapshot import STATE

    with vm_target() as target:
        target.run("true", timeout=60)   # makes the snapshot if there is none
        target.set_outcome(passed=True)
        snapshot = Snapshot(target.domain)
    state = snapshot.dir / STATE
    state.write_bytes(state.read_bytes()[:4096])   # a torn save image
    lines = []
    with vm_target(progress=lines.append) as target:
        assert target.run("true", timeout=60).exit_code == 0
        target.set_outcome(passed=True)
    assert any("did not restore" in line for line in lines) and any("vagrant up" in line for line in lines)
    assert Snapshot(target.domain).usable(target._snapshot_key())

"""Faults around VMs, for real: the harness stopped while a box builds or while ``vagrant up``
runs, and libvirtd restarted under a running VM. Each asserts the exit code, a one-line
message and no leftovers: libvirt domains and volumes, Vagrant machines, loop devices, mounts,
half-built trees. (A VM killed mid-run: tests/test_vagrant.py.)

Marked ``vm``: needs root, vagrant, vagrant-libvirt and libvirt (``harness host-setup``
starts its daemons). Set HARNESS_LIBVIRT_DRIVER=qemu where KVM is missing or nested KVM hangs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SCENARIOS
from faultkit import wait_for

KERNEL = os.environ.get("HARNESS_TEST_BOX_KERNEL", "linux-image-cloud-amd64")
REPO = Path(__file__).resolve().parents[1]
LIBVIRTD_PID = Path("/run/libvirtd.pid")

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="VMs and box builds need root"),
    pytest.mark.skipif(not shutil.which("vagrant"), reason="needs vagrant (bash .ci/bootstrap.sh --vm)"),
    pytest.mark.skipif(not shutil.which("virsh"), reason="needs libvirt (bash .ci/bootstrap.sh --vm)"),
]


def virsh(*args: str) -> str:
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True).stdout


def domains() -> set[str]:
    return {line.strip() for line in virsh("list", "--all", "--name").splitlines() if line.strip()}


def volumes() -> set[str]:
    return {line.split()[0] for line in virsh("vol-list", "default").splitlines()[2:] if line.strip()}


def vagrant_machines() -> set[str]:
    """Machines Vagrant knows in the checkout's and the state directory's machine folders."""
    from harness import resources

    roots = {REPO, Path(resources.vagrant_dir())}
    return {str(p) for root in roots for p in (root / ".vagrant").glob("*/machines/*/*/id")}


def vm_state() -> tuple[set[str], set[str], set[str]]:
    return domains(), volumes(), vagrant_machines()


def new_since(before: tuple[set[str], set[str], set[str]]) -> list[str]:
    now = vm_state()
    return sorted(f"{kind} {item}" for kind, old, new in zip(("domain", "volume", "machine"), before, now)
                  for item in new - old)


def start_harness(*args: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    """The harness as its own process; stdout and stderr into ``log`` (read while it runs)."""
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, text=True)


def assert_one_line_ending(log: Path, last: str) -> None:
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert text.strip().splitlines()[-1].startswith(last), text[-3000:]


@pytest.fixture(scope="module")
def box():
    """libvirt prepared, the test box built (a cache hit once built), in libvirt's pool and with
    its booted snapshot; its domain name prefix.

    vagrant-libvirt uploads a box into the pool at the box's first `vagrant up` (a volume that
    stays, as the box's copy): made here, before any test counts what a faulty run left behind.
    """
    from harness.box import build_box
    from harness.host_setup import prepare_libvirt_host
    from harness.targets.vagrant import VagrantTarget, box_slug

    prepare_libvirt_host()
    name = build_box(kernel_package=KERNEL).name
    with VagrantTarget(box_kernel=KERNEL, destroy="always") as target:
        target.run("true", timeout=60)
        target.set_outcome(passed=True)
    # A new box and snapshot are ~0.5 GB still being written back: the fault tests time the
    # harness, not the disk.
    os.sync()
    return box_slug(name)


def test_sigterm_during_vagrant_up_leaves_no_vm(box, tmp_path):
    before = vm_state()
    log = tmp_path / "run.log"
    # Booting, not a snapshot restore: the fault is in `vagrant up`.
    harness = start_harness("run", str(SCENARIOS / "veth-pair.yaml"), "--target", "vagrant", "--box-kernel", KERNEL,
                            log=log, env={"HARNESS_SNAPSHOT": "off"})
    wait_for(lambda: {d for d in domains() - before[0] if d.startswith(box)}, timeout=300,
             what="vagrant up to define the domain")
    os.kill(harness.pid, signal.SIGTERM)
    stopped = time.monotonic()
    harness.wait(timeout=400)
    assert harness.returncode == 143, log.read_text()[-3000:]
    assert_one_line_ending(log, "harness: stopped by SIGTERM")
    assert not new_since(before), f"left behind: {new_since(before)}"
    # Vagrant's own clean-up removed the half-made domain (its output is read while it does).
    assert "vagrant destroy (box" not in log.read_text(), log.read_text()[-3000:]
    # Vagrant is interrupted, not waited for: CI runners kill what is still there after a grace period.
    assert time.monotonic() - stopped < 30, "the harness waited for the boot to finish"


def _restart_libvirtd() -> None:
    """Stop the libvirtd that `harness host-setup` started (by its PID) and start it again."""
    from harness.host_setup import prepare_libvirt_host

    pid = int(LIBVIRTD_PID.read_text())
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=30, what="libvirtd to stop")
    prepare_libvirt_host()


@pytest.mark.skipif(not LIBVIRTD_PID.exists(), reason="libvirtd is not the one `harness host-setup` starts")
def test_libvirtd_restarted_mid_run_the_run_passes_and_its_vm_goes(box, tmp_path):
    slow = tmp_path / "slow.yaml"
    slow.write_text("""
name: slow
namespaces: {a: , b: }
veths: [{namespace: a, name: va, addresses: [10.0.0.1/24], peer: {namespace: b, name: vb, addresses: [10.0.0.2/24]}}]
checks:
  - ping: {from: a, to: 10.0.0.99, expect: unreachable, deadline: 15}
  - ping: {from: a, to: 10.0.0.2, ttl: 64}
""")
    before = vm_state()
    log = tmp_path / "run.log"
    harness = start_harness("run", str(slow), "--target", "vagrant", "--box-kernel", KERNEL,
                            "--json", str(tmp_path / "r.json"), log=log)
    wait_for(lambda: "target vagrant: kernel" in log.read_text(), timeout=600, what="the VM to answer")
    _restart_libvirtd()
    harness.wait(timeout=300)
    assert harness.returncode == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
    [scenario] = json.loads((tmp_path / "r.json").read_text())["scenarios"]
    assert [c["status"] for c in scenario["checks"]] == ["PASS", "PASS"]
    assert not new_since(before), f"left behind: {new_since(before)}"


def _mounts_below(path: Path) -> list[str]:
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(path))]


def _loops_backed_below(path: Path) -> list[str]:
    out = subprocess.run(["losetup", "--json", "--list"], capture_output=True, text=True).stdout
    devices = json.loads(out)["loopdevices"] if out.strip() else []
    return [d["name"] for d in devices if (d.get("back-file") or "").startswith(str(path))]


def test_sigterm_during_a_box_build_leaves_no_loop_device_mount_or_tree(tmp_path):
    cache = tmp_path / "cache"   # a cache of its own: a build from scratch, nothing shared touched
    log = tmp_path / "build.log"
    harness = start_harness("box", "build", "--kernel", KERNEL, log=log, env={"HARNESS_CACHE_DIR": str(cache)})
    wait_for(lambda: "debootstrap ..." in log.read_text(), timeout=300, what="the build to reach debootstrap")
    time.sleep(3)   # debootstrap under way, its loop device and target tree in use
    assert _loops_backed_below(cache), "the build's loop device (the test would prove nothing without it)"
    os.kill(harness.pid, signal.SIGTERM)
    harness.wait(timeout=120)
    assert harness.returncode == 143, log.read_text()[-3000:]
    assert_one_line_ending(log, "harness: stopped by SIGTERM")
    assert not _loops_backed_below(cache)
    assert not _mounts_below(cache)
    assert not list(cache.glob("*/work")), "the half-built tree"
    assert list(cache.glob("*/build.log")), "the build's log stays, to read"

"""The vagrant target for real: a VM from a locally built box, a VM that dies, a bundle replayed in a
fresh VM (keeping a VM after a failure, --reuse and --destroy: tests/test_lifecycle_vm.py).

Marked ``vm``: needs vagrant, vagrant-libvirt, a running libvirt daemon and root (to build
the box). Set HARNESS_LIBVIRT_DRIVER=qemu where KVM is missing or nested KVM hangs.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import SCENARIOS

KERNEL = os.environ.get("HARNESS_TEST_BOX_KERNEL", "linux-image-cloud-amd64")

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="building a box needs root"),
    pytest.mark.skipif(not shutil.which("vagrant"), reason="needs vagrant (bash .ci/bootstrap.sh --vm)"),
    pytest.mark.skipif(not shutil.which("virsh"), reason="needs libvirt (bash .ci/bootstrap.sh --vm)"),
]


def harness(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=1200, **kwargs)


def domains() -> list[str]:
    out = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def libvirt_host():
    """Prepare libvirt; yield the domain name prefix of the test box; check no VM is left."""
    from harness.host_setup import prepare_libvirt_host

    from harness.box import build_box
    from harness.targets.vagrant import box_slug

    prepare_libvirt_host()
    before = set(domains())
    # The libvirt domain name prefix of KERNEL's box (building it is a cache hit once built).
    yield box_slug(build_box(kernel_package=KERNEL).name) + "_"
    left = set(domains()) - before
    assert not left, f"a test left a VM behind: {sorted(left)}"


def test_vm_killed_mid_run_is_error_and_next_run_passes(libvirt_host, tmp_path):
    slow = tmp_path / "slow.yaml"
    slow.write_text("""
name: slow
namespaces: {a: , b: }
veths: [{namespace: a, name: va, addresses: [10.0.0.1/24], peer: {namespace: b, name: vb, addresses: [10.0.0.2/24]}}]
checks:
  - ping: {from: a, to: 10.0.0.99, expect: unreachable, deadline: 60}
""")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(slow), "--target", "vagrant",
                             "--box-kernel", KERNEL, "--destroy", "always"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The facts line comes once the VM answers; the slow check starts right after it.
    for line in proc.stderr:
        if line.startswith("target vagrant: kernel"):
            break
    time.sleep(3)
    [domain] = [d for d in domains() if d.startswith(libvirt_host)]
    start = time.monotonic()
    subprocess.run(["virsh", "-c", "qemu:///system", "destroy", domain], check=True, capture_output=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, out + err
    assert "ERROR slow" in out and "the VM is gone" in out
    assert "PASS" not in out.replace("0 passed", "")
    assert time.monotonic() - start < 45, "a dead VM should be noticed in seconds, not at the deadline"

    again = harness("run", str(SCENARIOS / "veth-pair.yaml"), "--target", "vagrant", "--box-kernel", KERNEL,
                    "--destroy", "always")
    assert again.returncode == 0, again.stdout + again.stderr


def test_bundle_from_a_vm_replays_in_a_fresh_vm(libvirt_host, tmp_path):
    wrong = tmp_path / "wrong-ttl.yaml"
    wrong.write_text((SCENARIOS / "client-gateway-server.yaml").read_text().replace("ttl: 63", "ttl: 64"))
    run = harness("run", str(wrong), "--target", "vagrant", "--box-kernel", KERNEL, "--destroy", "always",
                  "--bundle-dir", str(tmp_path / "bundles"))
    assert run.returncode == 1, run.stdout + run.stderr
    [archive] = (tmp_path / "bundles").glob("*.tar.gz")
    report = next((tmp_path / "bundles").glob("*/REPORT.md")).read_text()
    assert "box `netns-harness/bookworm-" in report and "(libvirt)" in report
    assert '"ttl": [63]' in report

    replay = harness("repro", str(archive), "--destroy", "always")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "on target vagrant" in replay.stderr
    assert "restoring netns-harness/bookworm-" in replay.stderr or "vagrant up" in replay.stderr
    assert "REPRODUCED: bundle FAIL, now FAIL" in replay.stdout

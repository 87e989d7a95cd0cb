"""Kernels for real: a box from a local kernel .deb, `harness bisect` over a Debian kernel line,
and a VM booted through a remote libvirt URI (sshd on loopback). Marked ``vm``: needs root,
Vagrant, libvirt and the Debian mirror; each test says what it costs."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SCENARIOS

# The box of the remote-URI test (any built box; CI's is the default one).
KERNEL = os.environ.get("HARNESS_TEST_BOX_KERNEL", "linux-image-cloud-amd64")
# A Debian kernel package standing in for a kernel one built (`make bindeb-pkg`).
LOCAL_DEB_PACKAGE = os.environ.get("HARNESS_TEST_KERNEL_DEB", "linux-image-6.1.0-47-cloud-amd64")

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="building boxes and running VMs needs root"),
    pytest.mark.skipif(not shutil.which("vagrant") or not shutil.which("virsh"),
                       reason="needs vagrant and libvirt (bash .ci/bootstrap.sh --vm)"),
]


def harness(*args, env=None, timeout=3600):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})})


def domains() -> set[str]:
    out = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"],
                         capture_output=True, text=True).stdout
    return {line for line in out.splitlines() if line.strip()}


@pytest.fixture
def vm_host():
    """libvirt up; yields a set for the test to add its boxes to, whose VMs must all be gone after
    it (other sessions' VMs on this machine come and go: only ours are looked at)."""
    from harness.host_setup import prepare_libvirt_host
    from harness.targets.vagrant import box_slug

    prepare_libvirt_host()
    boxes: set[str] = set()
    yield boxes
    left = {d for d in domains() for box in boxes if d == f"{box_slug(box)}_default"}
    assert not left, f"a test left a VM behind: {sorted(left)}"


# -- your own kernel ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kernel_deb(tmp_path_factory) -> Path:
    """A Debian kernel .deb, fetched as a user would (apt-get download)."""
    where = tmp_path_factory.mktemp("deb")
    got = subprocess.run(["apt-get", "download", LOCAL_DEB_PACKAGE], cwd=where, capture_output=True, text=True,
                         timeout=600)
    if got.returncode != 0:
        pytest.skip(f"apt-get download {LOCAL_DEB_PACKAGE} failed (apt-get update first?): {got.stderr.strip()}")
    [deb] = where.glob("*.deb")
    return deb


@pytest.mark.boxes
def test_a_box_from_a_local_kernel_deb(vm_host, kernel_deb, tmp_path):
    """~6 min: build the box (~3 min), boot it once and run scenarios (vrf, dummy and vlan links,
    nexthops), replay a bundle in a fresh copy (--box), run it as a matrix kernel (--harness-kernels
    PATH); then the box goes (it was built for this test only)."""
    from harness.box import BoxBuildError, box_name_for, file_sha256, remove_box

    built = harness("box", "build", "--kernel-deb", str(kernel_deb))
    assert built.returncode == 0, built.stdout + built.stderr
    release = LOCAL_DEB_PACKAGE.removeprefix("linux-image-")
    name = box_name_for("bookworm", release, local_sha256=file_sha256(kernel_deb))
    vm_host.add(name)
    assert f"box {name} ({release}, package " in built.stdout
    try:
        again = harness("box", "build", "--kernel-deb", str(kernel_deb))
        assert again.returncode == 0 and "cache hit" in again.stdout + again.stderr

        results = tmp_path / "run.json"
        run = harness("run", "scenarios/vrf.yaml", "scenarios/selftest-fib-nexthops-ipv4.yaml",
                      "scenarios/pitfall-forwarding-per-interface.yaml", "--target", "vagrant",
                      "--box-kernel", str(kernel_deb), "--destroy", "always", "--report",
                      "--bundle-dir", str(tmp_path / "bundles"), "--json", str(results))
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        target = json.loads(results.read_text())["target"]
        assert target["kernel"] == release and target["box"] == name
        assert re.fullmatch(r"[0-9a-f]{40}", target["build_id"]), target["build_id"]
        assert target["config_source"] == f"/boot/config-{release}"
        assert target["kernel_version"] == "6.1.170" or not LOCAL_DEB_PACKAGE.endswith("-47-cloud-amd64")

        bundle = next((tmp_path / "bundles").glob("vrf-*.tar.gz"))
        replay = harness("repro", str(bundle), "--destroy", "always")
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert f"restoring {name}" in replay.stderr and "REPRODUCED: bundle PASS, now PASS" in replay.stdout

        matrix = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "scenarios/vrf.yaml",
             "--harness-kernels", str(kernel_deb), "--harness-matrix-report", str(tmp_path / "m" / "matrix.md")],
            capture_output=True, text=True, cwd=REPO, timeout=1800)
        assert matrix.returncode == 0, matrix.stdout[-4000:] + matrix.stderr[-4000:]
        kid = kernel_deb.name.removesuffix(".deb")
        assert re.search(rf"^vrf +PASS$", matrix.stdout, re.M) and f"| box | {name} |" in \
            (tmp_path / "m" / "matrix.md").read_text()
        assert (tmp_path / "m" / f"{kid}.json").exists()
    finally:
        try:
            removed = remove_box(name, progress=lambda line: None)
        except BoxBuildError as exc:
            pytest.fail(f"the test's box could not be removed: {exc}")
    assert any(line.startswith("vagrant box") for line in removed)


# -- bisect ------------------------------------------------------------------------------------

# The answer is known: 6.1.0-50 is 6.1.176, 51 is 6.1.177 and 52 is 6.1.180; a scenario that
# needs 6.1.178 SKIPs up to 51 and runs from 52 on.
BISECT_GOOD, BISECT_BAD = "linux-image-6.1.0-50-cloud-amd64", "linux-image-6.1.0-54-cloud-amd64"
BISECT_FIRST = "linux-image-6.1.0-52-cloud-amd64"


@pytest.mark.boxes
def test_bisect_finds_the_first_kernel_whose_verdict_differs(vm_host, tmp_path):
    """~15 min: 5 versions, 4 boxes built and booted (50, 54, 52, 51), removed afterwards."""
    from harness.box import remove_box, vagrant_boxes

    scenario = tmp_path / "needs-6.1.178.yaml"
    scenario.write_text((SCENARIOS / "veth-pair.yaml").read_text().replace(
        "name: veth-pair", "name: needs-6-1-178\nrequires: {kernel: '6.1.178'}", 1))
    before = {n for n, _p, _v in vagrant_boxes()}
    vm_host.update(f"netns-harness/bookworm-6.1.0-{n}-cloud-amd64" for n in range(50, 55))
    try:
        run = harness("bisect", str(scenario), "--good", BISECT_GOOD, "--bad", BISECT_BAD,
                      "--bundle-dir", str(tmp_path / "bundles"))
        assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
        out = run.stdout
        assert f"first version whose verdict differs: {BISECT_FIRST} (6.1.180-1): PASS, after " \
               "linux-image-6.1.0-51-cloud-amd64 (6.1.177-1): SKIP" in out, out
        assert "5 versions" in out and "4 booted" in out
        assert re.search(r"linux-image-6\.1\.0-53-cloud-amd64 \(6\.1\.187-1\): not needed", out), out
        bundles = re.findall(r"bundle of (\S+): (\S+\.tar\.gz)", out)
        assert [b[0] for b in bundles] == ["linux-image-6.1.0-51-cloud-amd64", BISECT_FIRST]
        assert all(Path(path).is_file() for _, path in bundles)
        first = json.loads(next((tmp_path / "bundles" / BISECT_FIRST).glob("*/target.json")).read_text())
        assert first["kernel"] == "6.1.0-52-cloud-amd64"
    finally:
        for name in {n for n, _p, _v in vagrant_boxes()} - before:
            if name.startswith("netns-harness/bookworm-6.1.0-5"):
                remove_box(name, progress=lambda line: None)


# -- another hypervisor ------------------------------------------------------------------------

def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def loopback_hypervisor(tmp_path):
    """An sshd on 127.0.0.1:22 that lets root in with a key of this test's own, and an `ssh` first
    on PATH that uses that key and knows that host key: what ~/.ssh would hold for a real
    hypervisor, without touching this machine's ~/.ssh."""
    if not _port_free(22):
        pytest.skip("port 22 on loopback is taken: the URI qemu+ssh://root@127.0.0.1/system needs it")
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / key)], check=True)
    shutil.copy(tmp_path / "client.pub", tmp_path / "authorized_keys")
    host_key = " ".join((tmp_path / "host.pub").read_text().split()[:2])
    (tmp_path / "known_hosts").write_text(f"127.0.0.1 {host_key}\n")
    (tmp_path / "ssh_config").write_text(
        f"Host 127.0.0.1\n  IdentityFile {tmp_path / 'client'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n  StrictHostKeyChecking yes\n  BatchMode yes\n")
    (tmp_path / "bin").mkdir()
    wrapper = tmp_path / "bin" / "ssh"
    wrapper.write_text(f"#!/bin/sh\nexec {shutil.which('ssh')} -F {tmp_path / 'ssh_config'} \"$@\"\n")
    wrapper.chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)
    log = tmp_path / "sshd.log"
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", "-h", str(tmp_path / "host"),
                             "-o", "ListenAddress=127.0.0.1:22", "-o", f"AuthorizedKeysFile={tmp_path / 'authorized_keys'}",
                             "-o", "PermitRootLogin=prohibit-password", "-o", "PidFile=none", "-o", "UsePAM=no",
                             "-o", "StrictModes=no", "-o", "LogLevel=VERBOSE", "-E", str(log)])
    try:
        for _ in range(50):
            if not _port_free(22):
                break
            time.sleep(0.1)
        yield {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}, log
    finally:
        sshd.terminate()
        sshd.wait(timeout=30)


def network_uuid() -> str:
    return subprocess.run(["virsh", "-c", "qemu:///system", "net-uuid", "default"],
                          capture_output=True, text=True).stdout.strip()


def local_vm_run() -> str:
    """Run `true` in a VM of the test box on this machine's libvirt; how it started."""
    from harness.targets.vagrant import VagrantTarget

    with VagrantTarget(box_kernel=KERNEL, destroy="always") as target:
        target.run("true", timeout=60)
        target.set_outcome(passed=True)
        return target.describe()["started"]


def test_a_vm_boots_through_a_remote_libvirt_uri(vm_host, loopback_hypervisor, tmp_path):
    """~1.5 min: HARNESS_LIBVIRT_URI=qemu+ssh://root@127.0.0.1/system; vagrant-libvirt defines and
    boots the VM through sshd, the harness reaches it through the host (ssh -W), snapshots are
    off (the hypervisor's files are not this machine's). Then, as vagrant-libvirt booted and
    destroyed a VM: libvirt's network and the local snapshot are still there."""
    from harness.box import build_box

    env, log = loopback_hypervisor
    uri = "qemu+ssh://root@127.0.0.1/system"
    vm_host.add(build_box(kernel_package=KERNEL, progress=lambda line: None).name)
    local_vm_run()   # the local snapshot exists before the boot below (made now if it did not)
    network = network_uuid()
    results = tmp_path / "run.json"
    run = harness("run", "scenarios/veth-pair.yaml", "--target", "vagrant", "--box-kernel", KERNEL,
                  "--destroy", "always", "--json", str(results), env={**env, "HARNESS_LIBVIRT_URI": uri})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    target = json.loads(results.read_text())["target"]
    assert target["libvirt_uri"] == uri and target["started"] == "boot"
    sessions = log.read_text()
    # libvirt's client (vagrant-libvirt, virsh) opens its connections as sessions through sshd;
    # the VM's SSH goes through the host as a forwarded channel (ssh -W).
    assert len(re.findall(r"Starting session: command for root from 127\.0\.0\.1", sessions)) >= 2, sessions
    assert "Creating domain" in run.stdout + run.stderr and "Removing domain" in run.stdout + run.stderr
    # A hypervisor that does not answer is one line before anything is made.
    wrong = harness("run", "scenarios/veth-pair.yaml", "--target", "vagrant", "--box-kernel", KERNEL,
                    env={**env, "HARNESS_LIBVIRT_URI": "qemu+ssh://root@127.0.0.1:1/system"}, timeout=300)
    assert wrong.returncode == 2 and "libvirt does not answer at HARNESS_LIBVIRT_URI=qemu+ssh://root@127.0.0.1:1/system" \
        in wrong.stderr, wrong.stderr[-2000:]
    # vagrant-libvirt recorded the existing management network as its own and deleted it with the
    # VM (Vagrantfile: management_network_keep): every snapshot then failed to restore ("Network
    # not found") and the next `vagrant up` made the network anew with STP on (4 s per new port).
    assert network and network_uuid() == network
    assert local_vm_run() == "snapshot restore"

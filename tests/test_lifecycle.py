"""Kept VMs without a VM: records, slots, the ssh command line against a real sshd on loopback,
and run scripts that keep their namespaces. The same commands on real VMs: tests/test_lifecycle_vm.py."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import SCENARIOS, harness_namespaces, needs_root
from faultkit import needs_sshd, start_sshd, stop_sshd
from harness import lifecycle
from harness.lifecycle import KeptRun, LifecycleError, VmRecord


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A state directory of its own: the records of this test only."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "netns-harness" / "vms"


def record(name="netns-harness-bookworm-6.1", box="netns-harness/bookworm-6.1", runs=(), **ssh) -> VmRecord:
    login = {"host": "192.168.122.9", "port": 22, "user": "root", "identity": ["/keys/insecure"], **ssh}
    return VmRecord(name=name, box=box, slot=0, provider="libvirt", started="snapshot restore", ssh=login,
                    known_hosts="/snap/known_hosts", domain=f"{name}_default", runs=list(runs))


def harness(*args, env=None):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_vm_names_per_slot():
    assert lifecycle.vm_name("netns-harness-bookworm-6.1", 0) == "netns-harness-bookworm-6.1"
    assert lifecycle.vm_name("netns-harness-bookworm-6.1", 1) == "netns-harness-bookworm-6.1-vm2"
    assert lifecycle.vm_name("debian-bookworm64", 2) == "netns-harness-debian-bookworm64-vm3"


def test_each_slot_has_its_own_machine_folder_and_domain(state, tmp_path):
    from harness.targets.vagrant import VagrantTarget

    target = VagrantTarget(box="netns-harness/bookworm-6.1", vagrant_dir=str(tmp_path))
    first = (target.domain, target.env["VAGRANT_DOTFILE_PATH"])
    target._use_box(target.box, 1)
    assert first == ("netns-harness-bookworm-6.1_default", str(tmp_path / ".vagrant" / "netns-harness-bookworm-6.1"))
    assert (target.domain, target.env["VAGRANT_DOTFILE_PATH"], target.env["HARNESS_VM_NAME"]) == (
        "netns-harness-bookworm-6.1-vm2_default", str(tmp_path / ".vagrant" / "netns-harness-bookworm-6.1-vm2"),
        "netns-harness-bookworm-6.1-vm2")


def test_vm_without_reuse_is_refused(state):
    from harness.targets.base import TargetError
    from harness.targets.vagrant import VagrantTarget

    with pytest.raises(TargetError, match="--vm names a kept VM to run on: give --reuse too"):
        VagrantTarget(vm="netns-harness-bookworm-6.1")


@pytest.mark.parametrize("kept, destroy, passed, stays", [
    ("harness up", None, True, True),            # up said: until harness down
    ("harness up; running", None, False, True),
    ("harness up", "passing", True, False),      # unless --destroy says otherwise
    ("harness up", "always", False, False),
    ("--destroy passing; failed: x", None, True, False),   # a failure's VM goes once it passes
    ("--destroy passing; failed: x", None, False, True),
])
def test_a_reused_vm_of_harness_up_stays_until_harness_down(state, monkeypatch, kept, destroy, passed, stays):
    from harness.targets.vagrant import VagrantTarget

    monkeypatch.delenv("HARNESS_DESTROY", raising=False)
    target = VagrantTarget(box="netns-harness/bookworm-6.1", reuse=True, destroy=destroy)
    up_run = lifecycle.KeptRun(run_id="abc123", scenario="vrf", file="vrf.yaml", status="PASS", namespaces={"a": "x"})
    new_run = lifecycle.KeptRun(run_id="def456", scenario="pair", file="p.yaml", status="PASS", namespaces={"b": "y"})
    record = lifecycle.VmRecord("netns-harness-bookworm-6.1", "netns-harness/bookworm-6.1", 0, "libvirt",
                                "snapshot restore", {}, "", kept=kept, runs=[up_run])
    monkeypatch.setattr(lifecycle, "load_records", lambda: [record])
    monkeypatch.setattr(lifecycle.VmRecord, "state", lambda self: "running")
    monkeypatch.setattr(lifecycle.VmRecord, "save", lambda self: None)
    monkeypatch.setattr(VagrantTarget, "_connect_recorded", lambda self, record: None)
    monkeypatch.setattr(VagrantTarget, "_snapshot", lambda self: None)
    monkeypatch.setattr(VagrantTarget, "check_prerequisites", lambda self: None)   # no real vagrant here
    target._up_reuse()
    target._runs_left.append(new_run)
    target._passed = passed
    assert target._keeps_vm() is stays
    if kept.startswith("harness up"):
        # Its own runs' namespaces stay whatever their verdicts; a passing re-run's go; it stays up's.
        assert target._worth_keeping() == [up_run] and target._why_kept(passed) == "harness up"


def test_records_round_trip_and_a_damaged_one_is_skipped(state):
    kept = record(runs=[KeptRun("3fa2c1", "vrf", "scenarios/vrf.yaml", "FAIL", {"red": "nh3fa2c1-red"})])
    kept.kept = "--destroy passing; failed: vrf"
    kept.save()
    (state / "broken.json").write_text("{not json")
    [loaded] = lifecycle.load_records()
    assert loaded == kept
    assert lifecycle.load_record("netns-harness-bookworm-6.1_default") == kept   # the domain name works too
    loaded.forget()
    assert lifecycle.load_records() == []


def test_a_record_is_in_use_only_while_its_process_lives(state):
    mine = record()
    mine.owner = lifecycle.this_process()
    assert mine.in_use
    gone = subprocess.Popen(["true"])
    gone.wait()
    mine.owner = {"pid": gone.pid, "start": "1"}
    assert not mine.in_use
    # A pid taken over by another process: its start time differs.
    mine.owner = {"pid": os.getpid(), "start": "0"}
    assert not mine.in_use


def test_a_slot_lease_is_held_by_one_holder(state):
    first = lifecycle.Lease.take("netns-harness-x")
    assert first is not None and lifecycle.Lease.take("netns-harness-x") is None
    first.release()
    again = lifecycle.Lease.take("netns-harness-x")
    assert again is not None
    again.release()


def test_choose_names_the_vms_when_none_or_several_match():
    one, two = record(), record(name="netns-harness-bookworm-6.1-vm2")
    other = record(name="netns-harness-trixie-6.12", box="netns-harness/trixie-6.12")
    assert lifecycle.choose([one], vm=None, box=None) is one
    assert lifecycle.choose([one, two, other], vm="netns-harness-bookworm-6.1-vm2_default", box=None) is two
    assert lifecycle.choose([one, two, other], vm=None, box="netns-harness/trixie-6.12") is other
    with pytest.raises(LifecycleError, match=r"2 VMs of box netns-harness/bookworm-6.1 are kept: "
                                             r"netns-harness-bookworm-6.1, netns-harness-bookworm-6.1-vm2; "
                                             r"pick one with --vm NAME"):
        lifecycle.choose([one, two, other], vm=None, box="netns-harness/bookworm-6.1")
    with pytest.raises(LifecycleError, match=r"^no VM is kept: start one with `harness up`"):
        lifecycle.choose([], vm=None, box=None)
    with pytest.raises(LifecycleError, match=r"no VM named nope is kept \(there are: netns-harness-bookworm-6.1\)"):
        lifecycle.choose([one], vm="nope", box=None)


def test_a_namespace_is_found_in_the_kept_runs():
    runs = [KeptRun("aaaaaa", "vrf", "vrf.yaml", "FAIL", {"r": "nhaaaaaa-r", "a": "nhaaaaaa-a"}),
            KeptRun("bbbbbb", "pair", "pair.yaml", "FAIL", {"a": "nhbbbbbb-a"})]
    kept = record(runs=runs)
    assert kept.namespace("r") == "nhaaaaaa-r"
    assert kept.namespace("a", scenario="pair") == "nhbbbbbb-a"
    with pytest.raises(LifecycleError, match=r"namespace a is kept by 2 runs .*vrf \(run aaaaaa\), pair \(run "
                                             r"bbbbbb\); pick one with --scenario NAME"):
        kept.namespace("a")
    with pytest.raises(LifecycleError, match=r"no namespace x is kept .*; kept: vrf: r, a; pair: a"):
        kept.namespace("x")
    with pytest.raises(LifecycleError, match=r"keeps no namespaces .*harness up --vm netns-harness-bookworm-6.1"):
        record().namespace("a")


def test_status_lists_each_vm_with_why_it_is_kept():
    kept = record(runs=[KeptRun("aaaaaa", "vrf", "vrf.yaml", "FAIL", {"r": "nhaaaaaa-r", "h": "nhaaaaaa-h"})])
    kept.kept = "--destroy passing; failed: vrf"
    busy = record(name="netns-harness-bookworm-6.1-vm2")
    busy.owner = lifecycle.this_process()
    lines = lifecycle.status_lines([kept, busy], {kept.name: "running", busy.name: "running"},
                                   ["netns-harness-sid-7.2_default"])
    assert lines[0].split() == ["VM", "box", "state", "login", "since", "why"]
    assert lines[1].startswith("netns-harness-bookworm-6.1 ") and " kept " in lines[1]
    assert lines[1].endswith("--destroy passing; failed: vrf; namespaces: vrf FAIL (r, h)")
    assert f"in use (pid {os.getpid()})" in lines[2]
    assert lines[-1].endswith("(another user, checkout or an older harness; left alone): netns-harness-sid-7.2_default")
    assert "gone" in lifecycle.status_lines([kept], {kept.name: "gone"}, [])[1]


def test_ssh_argv_checks_the_host_key_and_gets_root():
    as_root = lifecycle.ssh_argv(record())
    assert as_root[:3] == ["ssh", "-F", "/dev/null"]
    assert "StrictHostKeyChecking=yes" in as_root and "UserKnownHostsFile=/snap/known_hosts" in as_root
    assert as_root[-1] == "root@192.168.122.9" and "-t" not in as_root
    as_vagrant = lifecycle.ssh_argv(record(user="vagrant"), namespace="nhaaaaaa-r", tty=True)
    assert "-t" in as_vagrant and "sudo ip netns exec nhaaaaaa-r env debian_chroot=nhaaaaaa-r bash -l" in as_vagrant[-1]
    assert lifecycle.ssh_argv(record(user="vagrant"))[-2:] == ["--", "sudo -i"]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    started = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield started
    stop_sshd(started)


def loopback_record(sshd, **fields) -> VmRecord:
    login = {"host": "127.0.0.1", "port": sshd.port, "user": "root", "identity": [sshd.key]}
    return VmRecord(name="netns-harness-test", box="test", slot=0, provider="libvirt", started="boot",
                    ssh=login, known_hosts=sshd.known_hosts, **fields)


def ssh(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@needs_root
@needs_sshd
@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the ssh client")
def test_the_ssh_command_runs_a_command_word_for_word(sshd, tmp_path):
    marker = tmp_path / "injected"
    words = ["printf", "[%s]\\n", "a b", f"$(touch {marker})", "'quoted'", "x;y"]
    done = ssh(lifecycle.ssh_argv(loopback_record(sshd), command=words))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"[a b]\n[$(touch {marker})]\n['quoted']\n[x;y]\n"
    assert not marker.exists()


PROXY = """import os, socket, sys, threading
open(sys.argv[3], "a").write(f"{sys.argv[1]}:{sys.argv[2]}\\n")
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def back():
    while data := sock.recv(65536):
        os.write(1, data)
    os._exit(0)
threading.Thread(target=back, daemon=True).start()
while data := os.read(0, 65536):
    sock.sendall(data)
"""


@needs_root
@needs_sshd
@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the ssh client")
def test_the_ssh_command_goes_through_the_records_proxy_command(sshd, tmp_path):
    """A VM on another hypervisor (HARNESS_LIBVIRT_URI) is reached through vagrant-libvirt's ProxyCommand."""
    (tmp_path / "proxy.py").write_text(PROXY)
    used = tmp_path / "used"
    record = loopback_record(sshd)
    record.ssh["proxy_command"] = f"{sys.executable} {tmp_path / 'proxy.py'} %h %p {used}"
    done = ssh(lifecycle.ssh_argv(record, command=["echo", "through"]))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "through\n"
    assert used.read_text() == f"127.0.0.1:{sshd.port}\n"


@needs_root
@needs_sshd
@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the ssh client")
def test_the_ssh_command_enters_a_kept_namespace(sshd, no_leftovers):
    name = "nhc0ffee-router"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
        kept = loopback_record(sshd, runs=[KeptRun("c0ffee", "demo", "demo.yaml", "FAIL", {"router": name})])
        inside = ssh(lifecycle.ssh_argv(kept, namespace=kept.namespace("router"), command=["ip", "-br", "link"]))
        assert inside.returncode == 0, inside.stderr
        assert sorted(line.split()[0].split("@")[0] for line in inside.stdout.splitlines()) == ["lo", "v0", "v1"]
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)
    gone = ssh(lifecycle.ssh_argv(kept, namespace=name, command=["true"]))
    assert gone.returncode == 1
    assert "namespace nhc0ffee-router is no longer in the VM" in gone.stderr


@needs_root
@needs_sshd
@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the ssh client")
def test_the_ssh_command_refuses_another_host_key(sshd, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    impostor = loopback_record(sshd)
    impostor.known_hosts = str(tmp_path / "known_hosts")
    refused = ssh(lifecycle.ssh_argv(impostor, command=["true"]))
    assert refused.returncode == 255 and "Host key verification failed" in refused.stderr


def test_status_and_down_with_nothing_kept(state):
    status = harness("status")
    assert status.returncode == 0 and status.stdout.startswith("no VMs: `harness up` starts one")
    down = harness("down")
    assert down.returncode == 0 and down.stdout == "no VMs to remove\n"
    login = harness("ssh", "--namespace", "client")
    assert login.returncode == 2
    assert login.stderr == "harness: no VM is kept: start one with `harness up`; `harness status` lists the VMs\n"


def test_ssh_and_down_leave_a_vm_in_use_alone(state):
    busy = record(domain=None)
    busy.domain = "netns-harness-no-such-domain_default"
    busy.owner = lifecycle.this_process()   # this test process: alive while harness down runs
    busy.save()
    down = harness("down")
    assert down.returncode == 2 and f"is in use by a harness run (pid {os.getpid()}): left alone" in down.stderr
    assert lifecycle.load_records() == [busy]


class KeepingLocal:
    """The local target, told to keep namespaces as a VM that may be kept is (runner's hooks)."""

    def __new__(cls):
        from harness.targets.local import LocalTarget

        class Target(LocalTarget):
            keeps_namespaces = True
            left: list = []

            def namespaces_left(self, result, namespaces):
                self.left.append((result.status, namespaces))

        return Target()


@needs_root
def test_a_run_that_may_be_kept_leaves_its_namespaces_and_an_error_does_not(tmp_path, no_leftovers):
    from harness.loader import load_scenario
    from harness.runner import run_scenario

    target = KeepingLocal()
    result = run_scenario(load_scenario(SCENARIOS / "veth-pair.yaml"), target)
    assert result.status == "PASS" and result.timings.get("teardown", 0) < 0.5
    [(status, namespaces)] = target.left
    try:
        assert status == "PASS" and set(namespaces.values()) <= harness_namespaces()
    finally:
        done = subprocess.run(["bash"], input=lifecycle.remove_namespaces_script(list(namespaces.values())),
                              capture_output=True, text=True)
    assert done.returncode == 0 and not set(namespaces.values()) & harness_namespaces()

    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nnamespaces: {a: }\n"
                      "routes: [{namespace: a, dst: 10.8.0.0/24, via: 10.7.0.1}]\n"
                      "checks: [{route: {namespace: a, dst: 10.8.0.0/24}}]\n")
    target.left.clear()
    result = run_scenario(load_scenario(broken), target)
    assert result.status == "ERROR" and target.left == []   # stopped by an error: torn down as ever

"""Booted snapshots without a VM: what a snapshot depends on, how a copy's disk is pointed,
which snapshots are used, and how vagrant up's progress is split into phases.
(``test_snapshot_vm.py`` has the real thing.)"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from harness.snapshot import Snapshot, SnapshotError, _disk_source, _with_disk_source, snapshot_key
from harness.targets.vagrant import vagrantfile_settings

SAVED_XML = """<domain type='qemu'>
  <name>netns-harness-bookworm-6.1_default</name>
  <devices>
    <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc'/></disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/netns-harness-bookworm-6.1_default.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>"""


def test_a_copy_gets_its_own_disk_and_keeps_the_rest():
    assert _disk_source(SAVED_XML) == "/var/lib/libvirt/images/netns-harness-bookworm-6.1_default.img"
    xml = _with_disk_source(SAVED_XML, "/snap/clone.qcow2")
    assert _disk_source(xml) == "/snap/clone.qcow2"
    assert "<name>netns-harness-bookworm-6.1_default</name>" in xml and "/iso/x.iso" in xml
    with pytest.raises(SnapshotError, match="no file-backed disk"):
        _disk_source("<domain><devices/></domain>")


def test_snapshot_key_follows_every_input():
    base = {"box": "netns-harness/bookworm-6.1", "settings": {"HARNESS_MEMORY": ""}, "qemu": ["/q", 1, 2]}
    assert snapshot_key(base) == snapshot_key(dict(base))
    for change in ({"box": "netns-harness/bookworm-6.12"}, {"settings": {"HARNESS_MEMORY": "512"}},
                   {"qemu": ["/q", 1, 3]}):
        assert snapshot_key({**base, **change}) != snapshot_key(base)


def test_the_snapshot_key_holds_every_setting_the_shipped_vagrantfile_reads():
    # HARNESS_CPUS and HARNESS_MEMORY are read through a helper (env_int), not ENV.fetch: a key
    # that missed them restored a 1-vCPU save image for HARNESS_CPUS=2.
    vagrantfile = (Path(__file__).resolve().parents[1] / "Vagrantfile").read_text()
    settings = vagrantfile_settings(vagrantfile)
    documented = set(re.findall(r"^#\s+(HARNESS_[A-Z0-9_]+)", vagrantfile, re.M))
    assert {"HARNESS_CPUS", "HARNESS_MEMORY", "HARNESS_LIBVIRT_DRIVER"} <= set(settings)
    assert documented <= set(settings), documented - set(settings)


def test_an_incomplete_or_other_snapshot_is_not_used(tmp_path):
    snap = Snapshot("netns-harness-bookworm-6.1_default", root=tmp_path)
    assert not snap.usable("k")
    snap.dir.mkdir(parents=True)
    (snap.dir / "snapshot.json").write_text(json.dumps({"key": "k"}))
    for name in ("state.save", "disk.qcow2"):
        (snap.dir / name).write_text("x")
    again = Snapshot("netns-harness-bookworm-6.1_default", root=tmp_path)
    assert not again.usable("k")           # no host key yet: made half-way
    (snap.dir / "known_hosts").write_text("x")
    again = Snapshot("netns-harness-bookworm-6.1_default", root=tmp_path)
    assert again.usable("k") and not again.usable("other key")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", "x y"])
def test_domain_names_that_are_not_plain_names_are_refused(bad, tmp_path):
    with pytest.raises(SnapshotError):
        Snapshot(bad, root=tmp_path)


def test_vagrant_up_progress_splits_define_boot_and_ssh(monkeypatch):
    from harness.targets import vagrant as vagrant_target

    lines = ["Bringing machine 'default' up with 'libvirt' provider...", "==> default: Creating domain...",
             "==> default: Starting domain.", "==> default: Waiting for domain to get an IP address...",
             "==> default: Machine booted and ready!"]
    clock = iter(range(0, 100, 10))
    monkeypatch.setattr(vagrant_target.time, "monotonic", lambda: next(clock))
    target = vagrant_target.VagrantTarget(box="netns-harness/bookworm-6.1", progress=lambda line: None)
    monkeypatch.setattr(target, "_up_lines", lambda: (line for line in lines))
    target._vagrant_up()
    # Clock reads: start 0, "Starting domain" 10, "Machine booted" 20, end 30.
    assert target.timings == {"define": 10, "boot": 10, "ssh": 10}


FAKE_VAGRANT = """#!/bin/bash
# `vagrant up` as far as an interrupt goes: progress, then on SIGINT Vagrant's own clean-up, which
# writes as it goes (bash dies of SIGPIPE on a closed pipe, as Vagrant's clean-up broke on EPIPE).
trap 'echo "==> default: Waiting for cleanup before exiting..."; sleep 0.2
      echo "==> default: Removing domain..." && touch "$FAKE_DIR/cleaned"; exit 1' INT
echo "==> default: Creating domain with the following settings..."
while :; do sleep 0.05; done
"""


def test_an_interrupted_vagrant_up_is_read_while_it_cleans_up(tmp_path):
    from harness.targets import vagrant as vagrant_target

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vagrant").write_text(FAKE_VAGRANT)
    (bin_dir / "vagrant").chmod(0o755)
    shown = []
    target = vagrant_target.VagrantTarget(box="netns-harness/bookworm-6.1", progress=shown.append)
    target.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_DIR": str(tmp_path)}
    target.root = tmp_path
    lines = target._up_lines()
    assert "Creating domain" in next(lines)
    with pytest.raises(KeyboardInterrupt):
        lines.throw(KeyboardInterrupt)   # Ctrl-C (or SIGTERM) while the harness reads vagrant up
    assert (tmp_path / "cleaned").exists(), shown
    assert "  ==> default: Removing domain..." in shown


def test_timings_show_phases_in_order_with_each_scenario():
    from harness.report import format_timings
    from harness.runner import ScenarioResult

    results = [ScenarioResult(name="seed", file="", status="PASS", timings={"total": 8.25, "setup": 1.5}),
               ScenarioResult(name="veth-pair", file="", status="PASS", timings={"total": 2.0})]
    text = format_timings({"box": 0.01, "restore": 1.62, "ssh": 1.47, "facts": 0.0, "destroy": 1.3,
                           "first_verdict": 11.96}, results)
    lines = [line.split() for line in text.splitlines()[1:]]
    assert [line[0] for line in lines] == ["box", "restore", "ssh", "facts", "scenarios", "seed", "veth-pair",
                                           "destroy", "first"]
    assert lines[4] == ["scenarios", "10.25"] and lines[5] == ["seed", "8.25", "(setup", "1.50)"]
    assert lines[-1] == ["first", "verdict", "after", "11.96"]


def test_wait_for_port_returns_once_the_port_takes_connections():
    import socket
    import threading
    import time

    from harness.targets.vagrant import wait_for_port

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()   # nothing listens yet: refused until the listener below comes
    assert not wait_for_port("127.0.0.1", port, time.monotonic() + 0.3)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    threading.Timer(0.3, server.listen).start()
    try:
        assert wait_for_port("127.0.0.1", port, time.monotonic() + 10)
    finally:
        server.close()

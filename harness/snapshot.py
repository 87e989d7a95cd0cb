"""Booted snapshots of libvirt VMs: boot a box once, keep its memory and disk, restore fresh copies.

A snapshot is a directory ``<SNAPSHOT_DIR>/<domain>/``:

- ``state.save``: libvirt's save image (``virsh save``: memory, device state, the domain XML);
- ``disk.qcow2``: the VM's disk overlay as it was at the save, read-only from then on;
- ``known_hosts``: the VM's SSH host key (a copy answers with it; any other host does not);
- ``snapshot.json``: the key it was made for, the SSH address and login, the facts output
  gathered in the VM before the save, and the versions of what made it;
- ``clone.qcow2``: the running copy's own disk overlay (backing file ``disk.qcow2``).

Each copy starts from the same memory and disk, so nothing one run changed (sysctls, routes,
namespaces, files) reaches the next. libvirt restores a save image only under the domain's own
name and UUID, so one copy of a snapshot runs at a time (one VM per box, as before). The disk
overlays sit where libvirt's qemu user can read them (``/var/lib/libvirt/netns-harness``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator, Optional

import paramiko

LIBVIRT_URI = "qemu:///system"
SNAPSHOT_DIR = Path("/var/lib/libvirt/netns-harness/snapshots")
# Bump when what a snapshot holds, or how it is made, changes.
SNAPSHOT_FORMAT = 1
STATE, DISK, CLONE, KNOWN_HOSTS, META = "state.save", "disk.qcow2", "clone.qcow2", "known_hosts", "snapshot.json"


class SnapshotError(RuntimeError):
    """A snapshot could not be made or restored; the message names the step and libvirt's words."""


class DomainBusy(SnapshotError):
    """A domain of the snapshot's name runs already and is not a copy of it (another checkout's VM)."""


def snapshot_dir() -> Path:
    """``$HARNESS_SNAPSHOT_DIR`` or ``/var/lib/libvirt/netns-harness/snapshots`` (qemu must reach it)."""
    return Path(os.environ.get("HARNESS_SNAPSHOT_DIR") or SNAPSHOT_DIR)


def snapshot_key(inputs: dict) -> str:
    """16 hex digits over everything a snapshot depends on (``inputs``, JSON-able) and its format."""
    payload = json.dumps({"format": SNAPSHOT_FORMAT, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def file_identity(path: os.PathLike | str) -> Optional[list]:
    """``[path, size, mtime_ns]`` of a file (what changes when it is replaced), None if missing."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [str(path), info.st_size, info.st_mtime_ns]


def libvirt_uri() -> str:
    """The libvirt connection: ``$HARNESS_LIBVIRT_URI`` (e.g. ``qemu+ssh://root@host/system``, another
    hypervisor) or ``qemu:///system``."""
    return os.environ.get("HARNESS_LIBVIRT_URI", "").strip() or LIBVIRT_URI


def uri_is_local(uri: str) -> bool:
    """Whether ``uri`` reaches this machine's libvirtd directly (no host, no transport): only then
    are the hypervisor's files (save images, disk overlays) this machine's files."""
    scheme, _, rest = uri.partition("://")
    return "+" not in scheme and rest.startswith("/")


def virsh(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``virsh -c URI ARGS`` (``libvirt_uri()``); raises ``SnapshotError`` with virsh's message when it fails."""
    try:
        res = subprocess.run(["virsh", "-c", libvirt_uri(), *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SnapshotError(f"virsh {args[0]} failed: {exc}") from None
    if check and res.returncode != 0:
        raise SnapshotError(f"virsh {' '.join(args[:2])} failed: {(res.stderr or res.stdout).strip()}")
    return res


def domain_state(domain: str) -> str:
    """``running``, ``shut off``, ``paused``..., or ``not_created`` when libvirt has no such domain."""
    res = virsh("domstate", domain, check=False, timeout=30)
    return res.stdout.strip() if res.returncode == 0 else "not_created"


def fetch_host_key(host: str, port: int, timeout: float = 20, proxy_command: Optional[str] = None) -> paramiko.PKey:
    """The SSH host key ``host:port`` offers (one key exchange, no login), reached through
    ``proxy_command`` (OpenSSH ProxyCommand, e.g. ``ssh bighost -W %h:%p``) when given.
    Raises ``OSError`` or ``paramiko.SSHException``."""
    if proxy_command:
        sock = paramiko.ProxyCommand(proxy_command.replace("%h", host).replace("%p", str(port)))
    else:
        sock = socket.create_connection((host, port), timeout=timeout)
    with sock:
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=timeout)
            return transport.get_remote_server_key()
        finally:
            transport.close()


def known_hosts_line(host: str, port: int, key: paramiko.PKey) -> str:
    """An OpenSSH known_hosts line for ``key`` at ``host:port``."""
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {key.get_name()} {key.get_base64()}\n"


class Snapshot:
    """The booted snapshot of libvirt domain ``domain`` (it may not exist yet).

    ``meta`` is ``snapshot.json`` once the snapshot exists: ``key``, ``domain``, ``ssh``
    (``host``, ``port``, ``user``, ``identity``), ``facts_key`` and ``facts`` (the facts
    script's output in the VM), ``describe`` (box and versions), ``created`` (epoch seconds),
    ``save_s`` (seconds the save took).
    """

    def __init__(self, domain: str, root: Optional[Path] = None):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", domain):
            raise SnapshotError(f"domain name {domain!r} is not a safe directory name")
        self.domain = domain
        self.dir = (root or snapshot_dir()) / domain
        self.meta: dict = {}
        try:
            self.meta = json.loads((self.dir / META).read_text())
        except (OSError, ValueError):
            self.meta = {}

    # -- state ---------------------------------------------------------------------------

    def usable(self, key: str) -> bool:
        """Made for ``key`` and complete (save image, disk, host key, metadata)."""
        return (self.meta.get("key") == key
                and all((self.dir / name).is_file() for name in (STATE, DISK, KNOWN_HOSTS)))

    @property
    def clone_disk(self) -> Path:
        return self.dir / CLONE

    @property
    def known_hosts(self) -> Path:
        return self.dir / KNOWN_HOSTS

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold ``<dir>.lock`` (exclusive): one process makes, restores or discards at a time."""
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dir.parent / f"{self.domain}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # -- making one ----------------------------------------------------------------------

    def create(self, key: str, ssh: dict, facts_key: str, facts: str, describe: dict) -> None:
        """Save running ``domain`` (booted, facts gathered) as this snapshot; the domain is gone after.

        ``ssh``: ``host``, ``port``, ``user``, ``identity`` (list of key files) of the VM.
        Steps: fetch the host key, ``virsh save``, move the disk overlay here, undefine the
        domain (its save image keeps the definition). Raises ``SnapshotError``; the VM is
        then gone or stopped and this directory removed.
        """
        try:
            key_line = known_hosts_line(ssh["host"], int(ssh["port"]), fetch_host_key(ssh["host"], int(ssh["port"])))
        except (OSError, paramiko.SSHException) as exc:
            raise SnapshotError(f"reading the VM's SSH host key failed: {exc}") from None
        self._remove_files()
        self.dir.mkdir(parents=True)
        try:
            self._save_and_keep_disk()
            self.known_hosts.write_text(key_line)
            self.meta = {"key": key, "domain": self.domain, "ssh": ssh, "facts_key": facts_key, "facts": facts,
                         "describe": describe, "created": time.time()}
            tmp = self.dir / (META + ".tmp")
            tmp.write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n")
            tmp.replace(self.dir / META)   # the snapshot exists once its metadata does
        except BaseException:
            self._remove_files()
            raise

    def _save_and_keep_disk(self) -> None:
        xml = virsh("dumpxml", self.domain).stdout
        disk = _disk_source(xml)
        started = time.monotonic()
        virsh("save", self.domain, str(self.dir / STATE), timeout=600)
        self.meta["save_s"] = round(time.monotonic() - started, 2)
        # The overlay must never change again: it is every copy's backing file.
        shutil.move(disk, self.dir / DISK)
        virsh("undefine", self.domain)
        pool = _pool_of(disk)
        if pool:
            virsh("pool-refresh", pool, check=False)

    # -- copies --------------------------------------------------------------------------

    def restore(self) -> float:
        """Start a fresh copy: a new disk overlay on the snapshot's, then ``virsh restore``.

        Returns the seconds the restore took. Raises ``SnapshotError`` (libvirt refused, e.g.
        qemu changed) after removing whatever it made.
        """
        state = domain_state(self.domain)
        if state != "not_created":
            raise DomainBusy(f"a domain named {self.domain} exists already (state: {state})")
        self.clone_disk.unlink(missing_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(self.dir / DISK),
                        str(self.clone_disk)], check=True, capture_output=True, timeout=60)
        xml = _with_disk_source(virsh("save-image-dumpxml", str(self.dir / STATE)).stdout, self.clone_disk)
        with tempfile.NamedTemporaryFile("w", suffix=".xml", dir=self.dir, delete=False) as f:
            f.write(xml)
        started = time.monotonic()
        try:
            virsh("restore", str(self.dir / STATE), "--xml", f.name, timeout=600)
        except SnapshotError:
            self.clone_disk.unlink(missing_ok=True)
            raise
        finally:
            os.unlink(f.name)
        return time.monotonic() - started

    def is_copy_running(self) -> bool:
        """Whether the domain of this name runs on this snapshot's copy disk (and not another VM does)."""
        res = virsh("domblklist", self.domain, "--details", check=False, timeout=30)
        return res.returncode == 0 and str(self.clone_disk) in res.stdout.split()

    def destroy_copy(self) -> None:
        """Stop the running copy (libvirt forgets it: a restored domain is transient) and drop its overlay.
        A domain of the same name that is not a copy of this snapshot is left alone."""
        if self.is_copy_running():
            virsh("destroy", self.domain, check=False)
        if not self.is_copy_running():
            self.clone_disk.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove the snapshot and any running copy of it."""
        self.destroy_copy()
        self._remove_files()

    def _remove_files(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.meta = {}

    def destroy_command(self) -> str:
        """The shell command that removes a kept copy by hand."""
        return f"virsh -c {libvirt_uri()} destroy {self.domain} && rm -f {self.clone_disk}"


def _disk_source(xml: str) -> str:
    root = ET.fromstring(xml)
    for disk in root.iter("disk"):
        source = disk.find("source")
        if disk.get("device") == "disk" and source is not None and source.get("file"):
            return source.get("file")
    raise SnapshotError("the domain has no file-backed disk to keep")


def _with_disk_source(xml: str, path: Path) -> str:
    """``xml`` with its one file-backed disk pointing at ``path`` (libvirt keeps the rest as saved)."""
    old = _disk_source(xml)
    return xml.replace(f"file='{old}'", f"file='{path}'").replace(f'file="{old}"', f'file="{path}"')


def _pool_of(path: str) -> Optional[str]:
    """The libvirt storage pool whose directory holds ``path`` (``default`` for /var/lib/libvirt/images)."""
    res = virsh("pool-list", "--name", check=False, timeout=30)
    for pool in res.stdout.split():
        xml = virsh("pool-dumpxml", pool, check=False, timeout=30).stdout
        target = re.search(r"<target>\s*<path>([^<]+)</path>", xml)
        if target and os.path.dirname(path) == target.group(1).rstrip("/"):
            return pool
    return None

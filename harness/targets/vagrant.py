"""The ``vagrant`` target: a disposable VM from the repository's ``Vagrantfile``, driven over SSH.

Lifecycle: prerequisites are checked first (vagrant, provider plugin, libvirt daemon,
box), ``vagrant up`` streams its progress, scripts run through ``SshTarget`` (one
connection, parameters from ``vagrant ssh-config`` read with paramiko's ``SSHConfig``),
and ``close`` destroys the VM per the destroy policy. Each box has up to
``harness.lifecycle.MAX_VMS_PER_BOX`` VM slots, each with its own machine directory
(``VAGRANT_DOTFILE_PATH``), libvirt domain name and booted snapshot; a run takes the first
free slot, so runs of one box (two ``harness run``, pytest-xdist workers) and of different
boxes live side by side. Every VM has a record (``harness.lifecycle``) from which a kept one is
reached with ``harness ssh``, listed by ``harness status`` and removed by ``harness down``.

With libvirt the first run of a box boots it once, gathers the facts (which also loads the
kernel modules and warms the caches) and keeps a booted snapshot (``harness.snapshot``);
every later run, or every scenario with ``fresh()``, gets a copy restored from it in seconds,
without Vagrant. ``HARNESS_SNAPSHOT=off`` (or ``snapshot=False``) always boots; other
providers always boot. ``timings`` holds each phase's seconds: box, define, boot, ssh, facts,
snapshot, restore, destroy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import paramiko
import vagrant

from harness import lifecycle, resources
from harness.box import is_built_here
from harness.snapshot import (DomainBusy, Snapshot, SnapshotError, domain_state, file_identity, libvirt_uri,
                              snapshot_key, uri_is_local, virsh)
from harness.targets.base import ExecResult, Target, TargetError
from harness.targets.ssh import SshTarget

DEFAULT_BOX = "debian/bookworm64"
DESTROY_POLICIES = ("always", "passing", "never")
# vagrant up's progress lines that end one phase and start the next.
BOOT_STARTS = ("Starting domain", "Booting VM")
BOOT_ENDS = ("Machine booted and ready",)
# How long a restored copy may take to answer SSH (its network port joins the bridge), seconds.
RESTORE_CONNECT_S = 30
# How long an interrupted `vagrant up` gets to clean up after itself (seconds).
VAGRANT_STOP_S = 120


def box_slug(box: str) -> str:
    """A name safe for paths and libvirt domains: ``netns-harness/bookworm-6.1`` -> ``netns-harness-bookworm-6.1``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", box).strip("-")


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def snapshots_wanted(env: dict) -> bool:
    """``HARNESS_SNAPSHOT`` is not one of off, 0, no, false."""
    return env.get("HARNESS_SNAPSHOT", "").strip().lower() not in ("off", "0", "no", "false")


def wait_for_port(host: str, port: int, deadline: float, attempt_s: float = 0.2) -> bool:
    """Try TCP connections to ``host:port`` until one is taken (True) or the monotonic ``deadline``
    passes (False). Short attempts: a SYN lost while a restored copy's tap device joins the bridge
    is sent again by the kernel only after 1 s and then 3 s, a new attempt gets through as soon
    as the path is there. An attempt that times out makes the next one twice as long (at most
    2 s), so a slow answer still gets through; none outlasts the deadline."""
    while (left := deadline - time.monotonic()) > 0:
        try:
            socket.create_connection((host, port), timeout=min(attempt_s, left)).close()
            return True
        except socket.timeout:
            attempt_s = min(2.0, attempt_s * 2)
        except OSError:
            time.sleep(0.05)
    return False


def vagrantfile_settings(vagrantfile: str) -> list[str]:
    """The environment variables a Vagrantfile's text reads: every quoted ``HARNESS_*`` name,
    however it is read (``ENV.fetch``, ``ENV[...]``, a helper such as ``env_int``), sorted. A name
    quoted in a comment or a message counts too: one more setting in the snapshot key is harmless."""
    return sorted(set(re.findall(r'["\'](HARNESS_[A-Z0-9_]+)["\']', vagrantfile)))


class VagrantTarget(Target):
    """A VM booted from ``box`` (default ``$HARNESS_BOX`` or ``debian/bookworm64``).

    ``box_kernel`` (or ``$HARNESS_BOX_KERNEL``): a kernel spec, ``PKG[/RELEASE][@SUITE]`` or the
    path of a kernel ``.deb``; the box is built locally with ``harness.box.build_box`` (a cache
    hit when built before) and used. ``$HARNESS_LIBVIRT_URI`` points libvirt at another
    hypervisor (no booted snapshots there: their files would be that host's).
    ``destroy``: ``always``, ``passing`` (default: keep the VM when a check failed, and say
    how to log in) or ``never``. ``reuse``: run on the VM that is already up for this box.
    ``snapshot``: restore libvirt VMs from a booted snapshot (default: yes unless
    ``$HARNESS_SNAPSHOT`` is off). ``vm``: with ``reuse``, the kept VM to run on (a name
    ``harness status`` lists). ``keep_all`` (``harness up``): keep the VM and every run's
    namespaces. Raises ``TargetError`` (from ``run``) with an actionable message when a
    prerequisite is missing, the VM cannot come up, or it dies.
    """

    name = "vagrant"
    disposable = True

    def __init__(
        self,
        box: Optional[str] = None,
        box_kernel: Optional[str] = None,
        destroy: Optional[str] = None,
        reuse: Optional[bool] = None,
        provider: Optional[str] = None,
        vagrant_dir: Optional[str] = None,
        progress: Optional[Callable[[str], None]] = None,
        snapshot: Optional[bool] = None,
        vm: Optional[str] = None,
        keep_all: bool = False,
        **_ignored,
    ):
        self.box_kernel = box_kernel or os.environ.get("HARNESS_BOX_KERNEL") or None
        if box and self.box_kernel:
            raise TargetError("give --box or --box-kernel, not both")
        given = destroy or os.environ.get("HARNESS_DESTROY")
        self.destroy_policy, self._destroy_given = given or "passing", bool(given)
        if self.destroy_policy not in DESTROY_POLICIES:
            raise TargetError(f"--destroy {self.destroy_policy!r}: use one of {', '.join(DESTROY_POLICIES)}")
        self.reuse = bool(reuse)
        self.provider = provider or os.environ.get("VAGRANT_DEFAULT_PROVIDER") or None
        # A project's own Vagrantfile (in the current directory) wins over the packaged one.
        self.root = Path(vagrant_dir or os.environ.get("HARNESS_VAGRANT_DIR") or resources.vagrant_dir())
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
        self.snapshots = snapshots_wanted(os.environ) if snapshot is None else snapshot
        self.vm = vm.removesuffix("_default") if vm else None
        if self.vm and not self.reuse:
            raise TargetError("--vm names a kept VM to run on: give --reuse too")
        self.keep_all = keep_all
        self.slot = 0
        self._lease: Optional[lifecycle.Lease] = None
        self._record: Optional[lifecycle.VmRecord] = None
        self._runs_left: list[lifecycle.KeptRun] = []   # runs whose namespaces are still in this VM
        self._up_vm = False                              # reused a VM that `harness up` started
        self._up_runs: list[lifecycle.KeptRun] = []      # ... and the runs it set up (they stay)
        self._kept_earlier: Optional[str] = None        # a VM this target kept before (--isolate scenario)
        self.kept_hints: list[str] = []                 # what it said about the VMs it kept (pytest repeats it)
        if self.box_kernel:
            self.provider = self.provider or "libvirt"
        self._box_given = bool(box or self.box_kernel or os.environ.get("HARNESS_BOX"))
        self._use_box(box or os.environ.get("HARNESS_BOX") or DEFAULT_BOX)
        self._ssh: Optional[SshTarget] = None
        self._created = False
        self._passed: Optional[bool] = None
        self._box_info: dict = {}
        self._description: Optional[dict] = None
        self._copy: Optional[Snapshot] = None   # the snapshot the running VM was restored from
        self.timings: dict[str, float] = {}

    def _use_box(self, box: str, slot: int = 0) -> None:
        """Point the Vagrantfile, the machine directory and the VM name at ``box`` and VM slot ``slot``."""
        self.box, self.slug, self.slot = box, box_slug(box), slot
        self.vm_name = vm_name = lifecycle.vm_name(self.slug, slot)
        self.env = {
            **os.environ,
            "HARNESS_BOX": self.box,
            "HARNESS_VM_NAME": vm_name,
            "VAGRANT_DOTFILE_PATH": str(self.root / ".vagrant" / (self.slug if slot == 0 else vm_name)),
        }
        self.domain = f"{vm_name}_default"   # vagrant-libvirt's name: default_prefix + machine name
        if self.provider:
            self.env["VAGRANT_DEFAULT_PROVIDER"] = self.provider
        if self.env.get("HARNESS_LIBVIRT_DRIVER") == "qemu" and not self.env.get("HARNESS_QEMU_EMULATOR"):
            # Caps TCG's translation cache: ~0.6 GiB per VM instead of ~1.4 GiB.
            from harness.host_setup import TCG_WRAPPER

            if TCG_WRAPPER.exists():
                self.env["HARNESS_QEMU_EMULATOR"] = str(TCG_WRAPPER)
        self._vagrant = vagrant.Vagrant(str(self.root), env=self.env, quiet_stdout=False, quiet_stderr=False)

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Add the seconds the block takes to ``timings[name]``."""
        start = time.monotonic()
        try:
            yield
        finally:
            self._add_time(name, time.monotonic() - start)

    def _add_time(self, name: str, seconds: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 2)

    def _build_box(self) -> None:
        from harness.box import BoxBuildError, build_box

        try:
            info = build_box(kernel_package=self.box_kernel, progress=self.progress)
        except BoxBuildError as exc:
            raise TargetError(f"building the box for {self.box_kernel} failed: {exc}") from None
        self._use_box(info.name, self.slot)

    # -- prerequisites -----------------------------------------------------------------

    def _uses_libvirt(self) -> bool:
        return self.provider == "libvirt" or (self.provider is None and is_built_here(self.box))

    def _check_libvirt(self) -> None:
        uri = libvirt_uri()
        if _run(["virsh", "-c", uri, "version"], timeout=60).returncode != 0:
            if uri_is_local(uri):
                raise TargetError("the libvirt daemon is not running: run `harness host-setup` "
                                  "(or systemctl start libvirtd)")
            raise TargetError(f"libvirt does not answer at HARNESS_LIBVIRT_URI={uri}: check that `virsh -c {uri} "
                              "version` works (ssh key, known host, libvirtd running there)")

    def check_prerequisites(self) -> None:
        """Raise ``TargetError`` naming the first missing piece and how to get it."""
        if not shutil.which("vagrant"):
            raise TargetError("vagrant is not installed: apt-get install vagrant (or see vagrantup.com)")
        if not (self.root / "Vagrantfile").exists():
            raise TargetError(f"no Vagrantfile in {self.root}: set HARNESS_VAGRANT_DIR to the repository")
        if self._uses_libvirt():
            plugins = _run(["vagrant", "plugin", "list"]).stdout
            if "vagrant-libvirt" not in plugins:
                raise TargetError("the libvirt provider is missing: apt-get install vagrant-libvirt "
                                  "(or vagrant plugin install vagrant-libvirt)")
            self._check_libvirt()
            self.env.setdefault("VAGRANT_DEFAULT_PROVIDER", "libvirt")
            self.provider = "libvirt"
        boxes = [b for b in self._vagrant.box_list() if b.name == self.box]
        if self.provider:
            boxes = [b for b in boxes if b.provider == self.provider]
        if not boxes:
            if is_built_here(self.box):
                how = "build it with `harness box build` (see `harness box build --help` for the kernel)"
            else:
                how = f"add it with `vagrant box add {self.box}`, or build a local one with `harness box build`"
            raise TargetError(f"box {self.box} is not installed for provider {self.provider or 'default'}: {how}")
        box = boxes[-1]
        self._box_info = {"box": box.name, "box_version": box.version, "provider": box.provider}

    # -- lifecycle ---------------------------------------------------------------------

    def _state(self) -> str:
        if self._uses_libvirt() and shutil.which("virsh"):
            # libvirt answers in milliseconds; `vagrant status` costs a Ruby start-up (~1.5 s).
            state = domain_state(self.domain)
            return {"shut off": "shutoff"}.get(state, state)
        try:
            return self._vagrant.status()[0].state or "unknown"
        except (subprocess.CalledProcessError, IndexError):
            return "unknown"

    def _vagrant_machine(self) -> bool:
        """Whether Vagrant has a machine for this box (a restored copy is libvirt's alone)."""
        return any(Path(self.env["VAGRANT_DOTFILE_PATH"], "machines").glob("*/*/id"))

    def _up(self) -> None:
        with self._phase("box"):
            if self.box_kernel:
                self._build_box()
        if self.reuse:
            self._up_reuse()
            return
        if self._uses_libvirt():
            self._check_libvirt()
        self._claim_slot()
        self._start()

    def _start(self) -> None:
        """Start a VM in the claimed slot: a copy of its booted snapshot, or a boot."""
        snapshot = self._snapshot()
        if snapshot is None:
            self.check_prerequisites()
        self._created = True  # from here on a half-made VM may exist: close() must look
        if snapshot is not None:
            self._start_from_snapshot(snapshot)
        else:
            self._boot()
        self._new_record()

    # -- VM slots and records (harness.lifecycle) ------------------------------------------

    def _claim_slot(self) -> None:
        """Take the first VM slot of the box that no run holds and no VM occupies (a kept one,
        another checkout's). Raises ``TargetError`` when every slot is taken."""
        for slot in range(lifecycle.MAX_VMS_PER_BOX):
            self._use_box(self.box, slot)
            lease = lifecycle.Lease.take(self.vm_name)
            if lease is None:
                continue
            if self._slot_occupied():
                lease.release()
                continue
            self._lease = lease
            if slot:
                self.progress(f"VM slot {slot + 1} of box {self.box} ({self.vm_name}): the first "
                              f"{'is' if slot == 1 else 'are'} in use or kept (harness status)")
            return
        self._use_box(self.box, 0)
        raise TargetError(f"all {lifecycle.MAX_VMS_PER_BOX} VMs of box {self.box} are in use or kept: "
                          "`harness status` lists them, `harness down` removes kept ones")

    def _slot_occupied(self) -> bool:
        record = lifecycle.load_record(self.vm_name)
        if record is not None:
            if record.state() != "gone":
                return True
            record.forget()   # its VM was removed behind the harness's back (virsh destroy, a reboot)
        if self._uses_libvirt() and shutil.which("virsh"):
            return domain_state(self.domain) != "not_created"
        return self._vagrant_machine() and self._state() not in ("not_created", "unknown")

    def _up_reuse(self) -> None:
        """Connect to the kept VM of this box (``--vm`` picks one), without starting anything."""
        records = lifecycle.load_records()
        if self.vm is None and not [r for r in records if r.box == self.box] and self._box_given \
                and self._state() == "running":
            self._reuse_unrecorded()
            return
        try:
            # The kept VM named (--vm), of the box given, or the only one kept.
            record = lifecycle.choose(records, vm=self.vm, box=self.box if self._box_given else None)
        except lifecycle.LifecycleError as exc:
            raise TargetError(f"--reuse: {exc}") from None
        if record.box != self.box:
            self.provider = self.provider or record.provider
            self._use_box(record.box)
        state = record.state()
        if state != "running":
            raise TargetError(f"--reuse: VM {record.name} of box {self.box} is {state}; remove it with: "
                              f"harness down --vm {record.name}")
        if record.in_use:
            raise TargetError(f"--reuse: VM {record.name} is in use by another harness run (pid "
                              f"{record.owner['pid']}); wait for it, or run without --reuse (a VM of its own)")
        self._use_box(self.box, record.slot)
        self._record = record
        self._runs_left = list(record.runs)
        if (record.kept or "").startswith("harness up"):
            self._up_vm, self._up_runs = True, list(record.runs)
        self.progress(f"reusing the running VM {record.name} (box {self.box})")
        if record.clone_disk:
            self._copy = self._snapshot() or Snapshot(self.domain)
        elif not self._box_info:
            self.check_prerequisites()   # the box's version and provider, for describe()
        self._ssh = self._connect_recorded(record)
        record.owner = lifecycle.this_process()
        record.save()

    def _connect_recorded(self, record: lifecycle.VmRecord) -> SshTarget:
        """Connect to a kept VM with its record's login and pinned host key."""
        ssh = record.ssh
        self._conn = dict(ssh)
        target = SshTarget(ssh["host"], port=int(ssh["port"]), user=ssh["user"], identity=ssh["identity"],
                           known_hosts=record.known_hosts)
        with self._phase("ssh"):
            result = self._first_command(target, wait_s=5)
        if result.exit_code != 0:
            target.close()
            raise TargetError(f"the kept VM {record.name} did not take commands: {result.stderr.strip()}")
        return target

    def _reuse_unrecorded(self) -> None:
        """A running VM in slot 0 with no record (kept by a harness before records): run on it."""
        self.progress(f"reusing the running VM {self.vm_name} (box {self.box})")
        snapshot = self._snapshot()
        if snapshot is not None and snapshot.meta and snapshot.is_copy_running():
            self._copy = snapshot
            self._ssh = self._copy_ssh(snapshot)
        else:
            if not self._box_info:
                self.check_prerequisites()
            self._ssh = self._connect()
        self._new_record()

    def _new_record(self) -> None:
        """Record the VM just started (in use by this process) for harness ssh, status and down."""
        copy = self._copy
        self._record = lifecycle.VmRecord(
            name=self.vm_name, box=self.box, slot=self.slot, provider=self.provider,
            started="snapshot restore" if copy else "boot", ssh=dict(self._conn),
            known_hosts=str(copy.known_hosts if copy else self._known_hosts_file()),
            domain=self.domain if self._uses_libvirt() else None,
            clone_disk=str(copy.clone_disk) if copy else None,
            vagrant_dir=None if copy else str(self.root),
            # What the Vagrantfile and Vagrant read, for `harness down`'s vagrant destroy.
            vagrant_env={} if copy else {k: v for k, v in self.env.items()
                                         if k.startswith(("HARNESS_", "VAGRANT_")) and v},
            owner=lifecycle.this_process(),
        )
        self._record.save()

    def _known_hosts_file(self) -> Path:
        return lifecycle.vms_dir() / f"{self.vm_name}.known_hosts"

    @property
    def keeps_namespaces(self) -> bool:
        """Whether runs leave their namespaces when they end normally (``harness.runner`` asks):
        when this VM may be kept (``--destroy passing`` or ``never``, ``harness up``). ``close``
        removes those of passing runs when it keeps the VM; a destroyed VM takes them all."""
        return self.keep_all or self.destroy_policy != "always"

    def namespaces_left(self, result, namespaces: dict[str, str]) -> None:
        """A run ended and left its namespaces (``namespaces``: scenario name -> real name) in the VM."""
        self._runs_left.append(lifecycle.KeptRun(run_id=result.run_id, scenario=result.name, file=str(result.file),
                                                 status=result.status, namespaces=dict(namespaces)))

    def _worth_keeping(self) -> list[lifecycle.KeptRun]:
        """The runs whose namespaces stay in a kept VM: failing ones, and all of `harness up`'s."""
        return [run for run in self._runs_left
                if self.keep_all or run.status in lifecycle.KEPT_STATUSES or run in self._up_runs]

    def _keep(self, why: str) -> None:
        """Keep the running VM: remove the namespaces of runs that passed, record it as kept, say how to reach it."""
        kept = self._worth_keeping()
        drop = [name for run in self._runs_left if run not in kept for name in run.namespaces.values()]
        if drop and self._ssh is not None:
            try:
                self._ssh.run(lifecycle.remove_namespaces_script(drop), timeout=60)
            except TargetError as exc:
                self.progress(f"the namespaces of passing runs stay in the kept VM ({exc})")
        self._drop_ssh()
        if self._record is not None:
            self._record.owner, self._record.kept, self._record.runs = None, why, kept
            self._record.save()
        name = self.vm_name
        if self.keep_all:
            lines = [f"VM {name} is up until `harness down`. Log in:  harness ssh --vm {name}"]
        else:
            lines = [f"VM {name} kept ({why}). Log in:  harness ssh --vm {name}"]
        if kept:
            names = sorted({ns for run in kept for ns in run.namespaces})
            lines.append(f"  its namespaces ({', '.join(run.scenario for run in kept)}):  "
                         f"harness ssh --vm {name} --namespace {names[0]}   ({', '.join(names)})")
        lines.append(f"  re-run on it:  harness run --target vagrant --reuse --vm {name} SCENARIOS")
        lines.append(f"  remove it:     harness down --vm {name}")
        for line in lines:
            self.progress(line)
        self.kept_hints += lines

    def _forget_record(self) -> None:
        if self._record is not None:
            self._record.forget()
            self._record = None

    def _release_slot(self) -> None:
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    # -- booted snapshots --------------------------------------------------------------

    def _snapshot(self) -> Optional[Snapshot]:
        """This box's snapshot (made or to be made), or None where snapshots do not apply (another
        hypervisor's files are not this machine's)."""
        if not (self.snapshots and self._uses_libvirt() and shutil.which("virsh") and shutil.which("qemu-img")
                and uri_is_local(libvirt_uri())):
            return None
        try:
            return Snapshot(self.domain)
        except SnapshotError:
            return None

    def _snapshot_key(self) -> Optional[str]:
        """What the VM's memory image depends on: box image, Vagrantfile and its settings, qemu, libvirt."""
        from harness.box import vagrant_home

        vagrantfile = (self.root / "Vagrantfile").read_text()
        box_dir = vagrant_home() / "boxes" / self.box.replace("/", "-VAGRANTSLASH-")
        images = [file_identity(p) for p in sorted(box_dir.glob("*/libvirt/box.img"))]
        if not images:
            return None   # not installed: the boot path says how to get it
        emulator = self.env.get("HARNESS_QEMU_EMULATOR")
        # The Vagrantfile's own settings (the provider is libvirt: only libvirt VMs have snapshots).
        settings = vagrantfile_settings(vagrantfile)
        libvirtd = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
        # A copy still knows the bridge's MAC address from its ARP cache: a re-created network
        # (new MAC) would leave it answering the old one for seconds.
        network = self.env.get("HARNESS_LIBVIRT_NETWORK") or "default"
        bridge = re.search(r"<mac address=['\"]([^'\"]+)", virsh("net-dumpxml", network, check=False).stdout)
        return snapshot_key({
            "box": self.box, "box_images": images,
            "vagrantfile": hashlib.sha256(vagrantfile.encode()).hexdigest(),
            "settings": {name: self.env.get(name, "") for name in settings},
            "emulator": hashlib.sha256(Path(emulator).read_bytes()).hexdigest() if emulator and os.path.isfile(emulator) else None,
            "qemu": file_identity(shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"),
            "libvirtd": file_identity(libvirtd),
            "network": [network, bridge.group(1) if bridge else None],
        })

    def _start_from_snapshot(self, snapshot: Snapshot) -> None:
        """Restore a copy of the box's booted snapshot; make the snapshot first when there is none."""
        key = self._snapshot_key()
        with snapshot.locked():
            if key and snapshot.usable(key):
                try:
                    self._restore(snapshot)
                    return
                except DomainBusy as exc:
                    raise TargetError(f"{exc}: another run uses the VM of box {self.box}; wait for it, "
                                      f"or remove it with: {self.destroy_command()}") from None
                except (SnapshotError, TargetError) as exc:
                    self.progress(f"the booted snapshot of {self.box} did not restore ({exc}): booting anew")
                    self._drop_ssh()
                    snapshot.discard()
            self._boot()
            if key is None:
                return
            try:
                self._make_snapshot(snapshot, key)
                self._restore(snapshot)
            except (SnapshotError, TargetError, OSError, subprocess.SubprocessError) as exc:
                self.progress(f"no booted snapshot of {self.box} ({exc}): this run boots without one")
                self._drop_ssh()
                snapshot.discard()
                self._copy = None
                self.snapshots = False
                if self._state() != "running":
                    self.destroy()
                    self._boot()

    def _make_snapshot(self, snapshot: Snapshot, key: str) -> None:
        """Warm the booted VM (the facts probe loads modules and fills caches), then save it."""
        from harness.facts import KNOWN_TOOLS, facts_key, run_facts_script

        with self._phase("facts"):
            facts = run_facts_script(self._ssh, KNOWN_TOOLS)
        describe = self.describe()
        self._drop_ssh()
        self.progress(f"saving a booted snapshot of {self.box} (later runs restore it instead of booting) ...")
        with self._phase("snapshot"):
            snapshot.create(key, ssh=self._conn, facts_key=facts_key(KNOWN_TOOLS), facts=facts, describe=describe)
            # The domain now lives on as the snapshot: Vagrant's record of it is stale, and so is
            # the host key pinned for the booted VM (copies answer with the snapshot's).
            shutil.rmtree(self.env["VAGRANT_DOTFILE_PATH"], ignore_errors=True)
            self._known_hosts_file().unlink(missing_ok=True)

    def _restore(self, snapshot: Snapshot) -> None:
        self.progress(f"restoring {self.box} from its booted snapshot ...")
        with self._phase("restore"):
            snapshot.restore()
        self._copy = snapshot
        self._ssh = self._copy_ssh(snapshot)

    def _copy_ssh(self, snapshot: Snapshot) -> SshTarget:
        """Connect to a restored copy; its host key must be the snapshot's (else another host has its address)."""
        ssh = snapshot.meta["ssh"]
        self._conn = dict(ssh)
        target = SshTarget(ssh["host"], port=int(ssh["port"]), user=ssh["user"], identity=ssh["identity"],
                           known_hosts=str(snapshot.known_hosts))
        with self._phase("ssh"):
            result = self._first_command(target)
        if result.exit_code != 0:
            target.close()
            raise TargetError(f"the restored VM did not take commands: {result.stderr.strip()}")
        return target

    @staticmethod
    def _first_command(target: SshTarget, wait_s: float = RESTORE_CONNECT_S) -> ExecResult:
        """One round trip that connects, checks the host key and sets the clock (it stood still
        while the VM was saved). The copy's new tap device joins libvirt's bridge a moment after
        the restore, so for ``wait_s`` seconds the port is tried (``wait_for_port``, direct
        connections) and connection failures are retried; a wrong host key is not. Raises
        ``TargetError`` with the last failure."""
        deadline = time.monotonic() + wait_s
        if not (target.proxy_command or target.jumps):
            wait_for_port(target.host, target.port, deadline)   # then at least one SSH attempt says why not
        while True:
            try:
                return target.run(f"date -u -s @{time.time():.3f} >/dev/null", timeout=60)
            except TargetError as exc:
                if "host key" in str(exc) or time.monotonic() > deadline:
                    raise
                target.close()
                time.sleep(0.5)

    def known_facts(self, key: str) -> Optional[str]:
        """The facts output the snapshot gathered, for a VM restored from it (see ``gather_facts``)."""
        if self._ssh is None:
            self._up()
        if self._copy is not None and self._copy.meta.get("facts_key") == key:
            self.timings.setdefault("facts", 0.0)
            return self._copy.meta.get("facts")
        return None

    def fresh(self) -> None:
        """Give what runs next a fresh VM: a new copy of the booted snapshot (or a new boot).

        The first VM that holds a failing run's namespaces is kept when the policy keeps
        failures (``passing``, ``never``), and the runs go on in a VM of another slot.
        """
        if self._ssh is None:
            return
        if self._worth_keeping() and self._kept_earlier is None and self.destroy_policy != "always" \
                and not self.reuse:
            self._kept_earlier = self.vm_name
            self._keep(self._why_kept(passed=False))
            self._record, self._runs_left, self._copy, self._created = None, [], None, False
            self._release_slot()
            self._claim_slot()
            self._start()
            return
        self._runs_left = []
        self._drop_ssh()
        if self._copy is not None:
            with self._phase("destroy"):
                self._copy.destroy_copy()
            with self._copy.locked():
                self._restore(self._copy)
            self._forget_record()
            self._new_record()
            return
        self.destroy()
        self._forget_record()
        self._start()

    # -- booting -------------------------------------------------------------------------

    def _boot(self) -> None:
        if not self._box_info:
            self.check_prerequisites()
        self._vagrant_up()
        with self._phase("ssh"):
            self._ssh = self._connect()

    def _vagrant_up(self, attempts: int = 2) -> None:
        """``vagrant up`` with its progress streamed; one retry from scratch after a failure.

        Vagrant sometimes fails a fresh ``up`` on a transient machine lock, seen here with
        two VMs booting at once (hashicorp/vagrant#8468): an infrastructure hiccup, not a
        verdict, so the half-made VM is destroyed and booted once more. The time until the
        domain starts counts as ``define``, until SSH answers as ``boot``.
        """
        for attempt in range(1, attempts + 1):
            self.progress(f"vagrant up (box {self.box}, provider {self.provider or 'default'}) ...")
            phase, since = "define", time.monotonic()
            try:
                # closing(): an interrupt in this loop's body stops vagrant at once, not at garbage collection.
                with contextlib.closing(self._up_lines()) as lines:
                    for line in lines:
                        self.progress("  " + line.rstrip())
                        ends = BOOT_STARTS if phase == "define" else BOOT_ENDS if phase == "boot" else ()
                        if any(words in line for words in ends):
                            now = time.monotonic()
                            self._add_time(phase, now - since)
                            phase, since = ("boot" if phase == "define" else "ssh"), now
                self._add_time(phase, time.monotonic() - since)
                return
            except subprocess.CalledProcessError as exc:
                self._add_time(phase, time.monotonic() - since)
                if attempt == attempts:
                    raise TargetError(f"vagrant up failed (exit code {exc.returncode}, {attempts} attempts); "
                                      "its output is above") from None
                self.progress(f"vagrant up failed (exit code {exc.returncode}): destroying and retrying once")
                self.destroy()

    def _up_lines(self) -> Iterator[str]:
        """``vagrant up``'s output, line by line (python-vagrant's ``up(stream_output=True)``,
        whose process an interrupt cannot reach). Raises ``subprocess.CalledProcessError``.

        Vagrant runs in its own session, so Ctrl-C or SIGTERM reaching the harness stops it in
        order: one SIGINT, on which Vagrant aborts the ``up`` and destroys the half-made domain
        (vagrant-libvirt's destroy_on_error), then ``close`` removes what is left. A second
        SIGINT, or a vagrant left running beside ``vagrant destroy``, would leave it behind.
        """
        argv = ["vagrant", "up"] + ([f"--provider={self.provider}"] if self.provider else [])
        proc = subprocess.Popen(argv, cwd=str(self.root), env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        try:
            yield from proc.stdout
            if proc.wait() != 0:
                raise subprocess.CalledProcessError(proc.returncode, argv)
        except BaseException:
            if proc.poll() is None:
                self._stop_vagrant(proc)
            raise
        finally:
            proc.stdout.close()

    def _stop_vagrant(self, proc: subprocess.Popen) -> None:
        """Interrupt ``vagrant up`` once and wait (at most ``VAGRANT_STOP_S``) for its own clean-up,
        showing its output. Vagrant writes while it cleans up: with its pipe closed, its clean-up
        broke off (EPIPE), at times after a 30 s stall, and left the domain to ``vagrant destroy``."""
        self.progress(f"stopping vagrant up (its clean-up takes up to {VAGRANT_STOP_S} s) ...")
        drain = threading.Thread(target=self._show_rest, args=(proc.stdout,), daemon=True)
        try:
            os.killpg(proc.pid, signal.SIGINT)
            drain.start()
            proc.wait(timeout=VAGRANT_STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        # Vagrant's children may hold the pipe a moment longer; its output after that is not worth a wait.
        drain.join(timeout=2)

    def _show_rest(self, stream) -> None:
        """Show what is left of ``stream`` as progress (until EOF, or until it is closed under us)."""
        try:
            for line in stream:
                self.progress("  " + line.rstrip())
        except (OSError, ValueError):   # closed by a second interrupt: the rest is not shown
            pass

    def _connect(self) -> SshTarget:
        try:
            text = self._vagrant.ssh_config()
        except subprocess.CalledProcessError:
            raise TargetError(f"vagrant ssh-config failed: the VM for box {self.box} is not running") from None
        config = paramiko.SSHConfig.from_text(text).lookup("default")
        host, port = config.get("hostname"), config.get("port")
        # python-vagrant's own parser keeps only the last IdentityFile; paramiko keeps all.
        identities = [p for p in config.get("identityfile", []) if os.path.exists(os.path.expanduser(p))]
        if not host or host == "default" or not port:
            raise TargetError(f"vagrant ssh-config gave no address for the VM (got host={host!r}, port={port!r})")
        if not identities:
            raise TargetError("vagrant ssh-config names no private key that exists on this machine")
        # Boxes built here let Vagrant's key log in as root: no sudo per script.
        user = "root" if self._box_stamp().get("root_login") else config.get("user", "vagrant")
        # On another hypervisor (HARNESS_LIBVIRT_URI=qemu+ssh://...) vagrant-libvirt reaches the VM
        # through it: `ssh HOST -W %h:%p`.
        proxy = config.get("proxycommand")
        self._conn = {"host": host, "port": int(port), "user": user, "identity": identities, "proxy_command": proxy}
        # The VM is ours and new: its host key is whatever it offers now. Pinned from here on, for
        # this run's connection and for `harness ssh` (kept VMs are reached through their record).
        from harness.snapshot import fetch_host_key, known_hosts_line

        try:
            key = fetch_host_key(host, int(port), proxy_command=proxy)
        except (OSError, paramiko.SSHException) as exc:
            raise TargetError(f"reading the VM's SSH host key at {host}:{port} failed: {exc}") from None
        known_hosts = self._known_hosts_file()
        known_hosts.parent.mkdir(parents=True, exist_ok=True)
        known_hosts.write_text(known_hosts_line(host, int(port), key))
        return SshTarget(host, port=int(port), user=user, identity=identities, known_hosts=str(known_hosts),
                         proxy_command=proxy)

    def _box_stamp(self) -> dict:
        from harness.box import added_box_stamp

        return added_box_stamp(self.box) if is_built_here(self.box) else {}

    def _drop_ssh(self) -> None:
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None

    def run(self, script: str, *, timeout: float) -> ExecResult:
        """Run ``script`` in the VM (booting it on first use). Raises ``TargetError`` if the VM dies."""
        if self._ssh is None:
            self._up()
        try:
            return self._ssh.run(script, timeout=timeout)
        except TargetError as exc:
            state = self._state()
            if state != "running":
                raise TargetError(f"the VM is gone (vagrant status: {state}): {exc}") from None
            raise

    def set_outcome(self, passed: bool) -> None:
        """Tell the target whether every scenario passed (drives ``--destroy passing``)."""
        self._passed = passed

    def _vagrant_env(self) -> str:
        return " ".join(f"{k}={shlex.quote(self.env[k])}" for k in ("HARNESS_BOX", "HARNESS_VM_NAME", "VAGRANT_DOTFILE_PATH"))

    def destroy_command(self) -> str:
        """How to remove this VM by hand: ``harness down`` when it has a record, else libvirt's or Vagrant's command."""
        if lifecycle.load_record(self.vm_name) is not None:
            return f"harness down --vm {self.vm_name}"
        snapshot = self._copy or self._snapshot()
        if snapshot is not None and snapshot.is_copy_running():
            return snapshot.destroy_command()
        return f"cd {shlex.quote(str(self.root))} && {self._vagrant_env()} vagrant destroy -f"

    def login_hint(self) -> str:
        return f"harness ssh --vm {self.vm_name}"

    def destroy(self) -> None:
        """Destroy the VM if there is one (half-created ones included): a restored copy via libvirt,
        a booted one via vagrant."""
        with self._phase("destroy"):
            if self._copy is not None:
                self._copy.destroy_copy()
                return
            if self._state() == "not_created" and not self._vagrant_machine():
                return
            self.progress(f"vagrant destroy (box {self.box}) ...")
            try:
                self._vagrant.destroy()
            except subprocess.CalledProcessError as exc:
                self.progress(f"vagrant destroy failed (exit code {exc.returncode}); "
                              f"remove it by hand: {self.destroy_command()}")

    def close(self) -> None:
        """Destroy or keep the VM per the policy (and say how to reach a kept one); close SSH."""
        try:
            if not (self._created or self.reuse):
                return
            state = self._state()
            if self._keeps_vm() and state == "running":
                if self._record is None:   # it never answered SSH: Vagrant's own commands reach it
                    self.progress(f"VM {self.vm_name} kept (--destroy {self.destroy_policy}) before it answered "
                                  f"SSH. Log in:  cd {shlex.quote(str(self.root))} && {self._vagrant_env()} vagrant ssh")
                    self.progress(f"  remove it:     {self.destroy_command()}")
                    return
                self._keep(self._why_kept(self._passed))
                return
            self._drop_ssh()
            if self._keeps_vm():
                if self._record is not None and state == "not_created":
                    self._forget_record()   # it died and took itself away (a restored copy is transient)
                elif self._record is not None:
                    self._record.owner, self._record.kept = None, f"{self._why_kept(self._passed)}; {state}"
                    self._record.save()
                return
            self.destroy()
            self._forget_record()
        finally:
            self._drop_ssh()
            self._release_slot()

    def _keeps_vm(self) -> bool:
        if self.keep_all or self.destroy_policy == "never" or (self._up_vm and not self._destroy_given):
            return True   # a VM of `harness up` stays until `harness down`, as up said, unless --destroy says
        if self.reuse and self._passed is None and self.destroy_policy != "always":
            return True   # a reused VM that ran no scenarios (e.g. `harness clean`) stays as it was
        if self.destroy_policy != "passing" or self._passed is not False:
            return False
        # After --isolate scenario kept the first failing scenario's VM, this one only if it holds one too.
        return self._kept_earlier is None or bool(self._worth_keeping())

    def _why_kept(self, passed: Optional[bool]) -> str:
        if self.keep_all or self._up_vm:
            return "harness up"   # kept on whatever --destroy: it stays a VM of `harness up`
        if self.reuse and self._record is not None and self._record.kept and passed is None:
            return self._record.kept
        failing = [run.scenario for run in self._runs_left if run.status in lifecycle.KEPT_STATUSES]
        if passed is False:
            what = f"failed: {', '.join(failing)}" if failing else "the run failed"
            return f"--destroy {self.destroy_policy}; {what}"
        return f"--destroy {self.destroy_policy}"

    def describe(self) -> dict:
        """Box, version, provider, Vagrant and provider versions (asked once: each vagrant call costs ~1 s),
        how the VM started (``started``: ``boot`` or ``snapshot restore``) and its name (``vm``)."""
        if self._copy is not None:
            made = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._copy.meta.get("created", 0)))
            return {**self._copy.meta.get("describe", {}), "started": "snapshot restore", "snapshot_created": made,
                    "vm": self.vm_name}
        if self._description is None or self._description.get("box") != self._box_info.get("box"):
            self._description = self._ask_versions()
        return {**self._description, "started": "boot", "vm": self.vm_name}

    def _ask_versions(self) -> dict:
        info = {"target": "vagrant", **self._box_info}
        if os.environ.get("HARNESS_LIBVIRT_URI", "").strip():
            info["libvirt_uri"] = libvirt_uri()
        version = _run(["vagrant", "--version"]).stdout.strip()
        info["vagrant_version"] = version.removeprefix("Vagrant ")
        if self.provider == "libvirt":
            info["provider_version"] = "libvirt " + _run(["virsh", "--version"]).stdout.strip()
            plugin = re.search(r"vagrant-libvirt \(([^,)]+)", _run(["vagrant", "plugin", "list"]).stdout)
            info["vagrant_libvirt_version"] = plugin.group(1) if plugin else None
        elif self.provider == "virtualbox" and shutil.which("VBoxManage"):
            info["provider_version"] = "VirtualBox " + _run(["VBoxManage", "--version"]).stdout.strip()
        return info

"""VMs the harness keeps, and the commands on them: ``harness up``, ``ssh``, ``status``, ``down``.

As molecule's ``login``/``destroy`` and netlab's ``up``/``connect``/``down``: a VM kept after a
failing run (``--destroy passing``, the default), after ``--destroy never``, after ``harness
repro`` or made by ``harness up`` is reached with ``harness ssh`` (the system ``ssh`` client, the
VM's host key checked), listed by ``harness status`` and removed by ``harness down``.

Each VM the Vagrant target starts has a record, ``<state dir>/vms/<vm name>.json``
(``harness.resources.state_dir``): the box, its VM slot, how to log in (address, user, keys,
the VM's host key), how to remove it (a restored copy's domain and disk, or a Vagrant machine
folder), the harness process that uses it (none once kept), why it is kept, and the runs that
left their namespaces in it (``KeptRun``). A run in a VM that may be kept leaves its
namespaces when it ends normally (``harness.render``'s ``keep_namespaces``); when the VM is
kept, the harness removes those of passing runs, so what stays is the failing scenarios'
topology as it was after their last step: ``harness ssh --namespace NS`` opens a shell in it.

A box has up to ``MAX_VMS_PER_BOX`` VM slots; a run takes the first free one (``Lease``: a lock
held while the run lives, and no VM of that name exists), so two runs of a box, or two
pytest-xdist workers, each get a VM of their own.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from harness.resources import state_dir

# VM slots per box: slot 0 is named after the box, slot N after it with -vm<N+1>.
MAX_VMS_PER_BOX = 4
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Scenario outcomes whose namespaces stay in a kept VM (XFAIL, a known bug, does not).
KEPT_STATUSES = ("FAIL", "ERROR")


class LifecycleError(RuntimeError):
    """A lifecycle command cannot do what was asked; the message says why and what to type instead."""


def vms_dir() -> Path:
    """Where VM records and slot locks live: ``<state dir>/vms``."""
    return state_dir() / "vms"


def vm_name(box_slug: str, slot: int) -> str:
    """The VM name of ``slot`` of a box: ``netns-harness-bookworm-6.1``, ``netns-harness-bookworm-6.1-vm2``.

    ``box_slug`` is ``harness.targets.vagrant.box_slug(box)``. The libvirt domain is the name
    with ``_default`` (vagrant-libvirt's prefix and machine name).
    """
    base = box_slug if box_slug.startswith("netns-harness") else f"netns-harness-{box_slug}"
    return base if slot == 0 else f"{base}-vm{slot + 1}"


def _process_start(pid: int) -> Optional[str]:
    """The start time of process ``pid`` (clock ticks since boot, ``/proc/PID/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> dict:
    """``{"pid", "start"}`` of this process: a pid alone could be reused by another process."""
    return {"pid": os.getpid(), "start": _process_start(os.getpid())}


def process_alive(owner: Optional[dict]) -> bool:
    """Whether the process ``owner`` (``this_process()`` of some run) still runs."""
    return bool(owner) and _process_start(int(owner["pid"])) == owner.get("start")


class Lease:
    """The lock of one VM slot, held (``flock``) while a run uses its VM; ``take`` never waits."""

    def __init__(self, handle):
        self._handle = handle

    @classmethod
    def take(cls, name: str) -> Optional["Lease"]:
        """Lock ``<vms dir>/<name>.lock``; None when another process holds it."""
        vms_dir().mkdir(parents=True, exist_ok=True)
        handle = open(vms_dir() / f"{name}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return cls(handle)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass
class KeptRun:
    """A run whose namespaces stay in a kept VM: ``namespaces`` maps the scenario's names to the real ones."""

    run_id: str
    scenario: str
    file: str
    status: str
    namespaces: dict[str, str]


@dataclass
class VmRecord:
    """What the harness knows of one VM it started (see the module doc).

    ``ssh``: ``host``, ``port``, ``user``, ``identity`` (key files); ``known_hosts``: a file
    with the VM's host key. A restored copy has ``domain`` and ``clone_disk``; a booted VM
    ``vagrant_dir`` and ``vagrant_env`` (``HARNESS_BOX``, ``HARNESS_VM_NAME``,
    ``VAGRANT_DOTFILE_PATH``, the provider), and ``domain`` under libvirt. ``owner``: the
    process using it (``this_process()``), None once kept; ``kept``: why it is kept.
    """

    name: str
    box: str
    slot: int
    provider: Optional[str]
    started: str
    ssh: dict
    known_hosts: str
    domain: Optional[str] = None
    clone_disk: Optional[str] = None
    vagrant_dir: Optional[str] = None
    vagrant_env: dict = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    owner: Optional[dict] = None
    kept: str = ""
    runs: list[KeptRun] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return vms_dir() / f"{self.name}.json"

    def save(self) -> None:
        """Write the record (atomically: a reader never sees half of it)."""
        vms_dir().mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)

    def forget(self) -> None:
        """Remove the record (and the host key file the harness wrote for a booted VM)."""
        self.path.unlink(missing_ok=True)
        own_key = vms_dir() / f"{self.name}.known_hosts"
        if Path(self.known_hosts) == own_key:
            own_key.unlink(missing_ok=True)

    @property
    def in_use(self) -> bool:
        """A harness process (a run, ``harness up``) is using the VM right now."""
        return process_alive(self.owner)

    def state(self) -> str:
        """``running``, ``shut off``, ... as libvirt or Vagrant says; ``gone`` when the VM no longer exists."""
        if self.domain:
            from harness.snapshot import domain_state

            state = domain_state(self.domain)
            return "gone" if state == "not_created" else state
        import vagrant

        try:
            state = vagrant.Vagrant(self.vagrant_dir, env={**os.environ, **self.vagrant_env}).status()[0].state
        except Exception:  # noqa: BLE001 - vagrant's own failure: the VM cannot be told apart from gone
            return "unknown"
        return "gone" if state in (None, "not_created") else state

    def namespace(self, name: str, scenario: Optional[str] = None) -> str:
        """The real name of namespace ``name`` kept in this VM (of ``scenario``'s run, when given).

        Raises ``LifecycleError`` when no kept run has it, or several do and ``scenario`` does not pick one.
        """
        found = [(run, run.namespaces[name]) for run in self.runs
                 if name in run.namespaces and scenario in (None, run.scenario)]
        if len(found) == 1:
            return found[0][1]
        if found:
            runs = ", ".join(f"{run.scenario} (run {run.run_id})" for run, _ in found)
            raise LifecycleError(f"namespace {name} is kept by {len(found)} runs in VM {self.name}: {runs}; "
                                 "pick one with --scenario NAME")
        if not self.runs:
            raise LifecycleError(f"VM {self.name} keeps no namespaces (no failing run left any): set a scenario "
                                 f"up in it with: harness up --vm {self.name} SCENARIO")
        kept = "; ".join(f"{run.scenario}: {', '.join(run.namespaces)}" for run in self.runs
                         if scenario in (None, run.scenario))
        raise LifecycleError(f"no namespace {name}{' of scenario ' + scenario if scenario else ''} is kept in VM "
                             f"{self.name}; kept: {kept or 'none of that scenario'}")

    @classmethod
    def from_dict(cls, data: dict) -> "VmRecord":
        data = dict(data)
        data["runs"] = [KeptRun(**run) for run in data.get("runs", [])]
        return cls(**data)


def load_records() -> list[VmRecord]:
    """Every VM record of this user, by name; a damaged record is skipped."""
    records = []
    for path in sorted(vms_dir().glob("*.json")) if vms_dir().is_dir() else []:
        try:
            records.append(VmRecord.from_dict(json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return records


def load_record(name: str) -> Optional[VmRecord]:
    """The record of VM ``name`` (the libvirt domain's ``_default`` may be given too), or None."""
    name = name.removesuffix("_default")
    return next((r for r in load_records() if r.name == name), None)


def choose(records: list[VmRecord], *, vm: Optional[str], box: Optional[str]) -> VmRecord:
    """The one record ``--vm``/``--box`` point at (any one, if only one VM is kept).

    Raises ``LifecycleError`` naming the VMs there are when none or several match.
    """
    picked = [r for r in records if (vm is None or r.name == vm.removesuffix("_default"))
              and (box is None or r.box == box)]
    if len(picked) == 1:
        return picked[0]
    what = " ".join(x for x in (f"named {vm}" if vm else "", f"of box {box}" if box else "") if x)
    if not picked:
        known = f" (there are: {', '.join(r.name for r in records)})" if records and what else ""
        return_hint = "start one with `harness up`; `harness status` lists the VMs"
        raise LifecycleError(f"no VM {what + ' ' if what else ''}is kept{known}: {return_hint}")
    names = ", ".join(r.name for r in picked)
    raise LifecycleError(f"{len(picked)} VMs {what + ' ' if what else ''}are kept: {names}; pick one with --vm NAME")


# -- ssh --------------------------------------------------------------------------------


def ssh_argv(record: VmRecord, *, namespace: Optional[str] = None, command: Optional[list[str]] = None,
             tty: bool = False) -> list[str]:
    """The ``ssh`` command line that logs in to ``record``'s VM as root, its host key checked.

    ``namespace``: the real name of a namespace to open the shell (or run ``command``) in;
    ``command``: run it instead of an interactive shell; ``tty``: ask for a terminal for the
    shell in a namespace (``ssh`` asks for one itself only for a plain login). The user's own
    ssh config is not read (``-F /dev/null``): everything the login needs is given here.
    """
    ssh = record.ssh
    argv = ["ssh", "-F", "/dev/null", "-p", str(ssh["port"]),
            "-o", f"UserKnownHostsFile={record.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=20",
            "-o", "LogLevel=ERROR"]
    for key in ssh["identity"]:
        argv += ["-i", key]
    if ssh.get("proxy_command"):   # a VM on another hypervisor (HARNESS_LIBVIRT_URI) is reached through it
        argv += ["-o", f"ProxyCommand={ssh['proxy_command']}"]
    sudo = "" if ssh["user"] == "root" else "sudo "
    remote = None
    if namespace is not None:
        inner = " ".join(shlex.quote(word) for word in command) if command else \
            f"env debian_chroot={shlex.quote(namespace)} bash -l"
        # One remote shell line: say so when the namespace is gone (harness clean removed it).
        gone = f"harness: namespace {namespace} is no longer in the VM (removed by harness clean?)"
        remote = (f"if [ -e /run/netns/{shlex.quote(namespace)} ]; then exec {sudo}ip netns exec "
                  f"{shlex.quote(namespace)} {inner}; fi; echo {shlex.quote(gone)} >&2; exit 1")
        if tty and not command:
            argv.append("-t")
    elif command:
        remote = sudo + " ".join(shlex.quote(word) for word in command)
    elif sudo:
        argv.append("-t")
        remote = "sudo -i"
    argv.append(f"{ssh['user']}@{ssh['host']}")
    if remote is not None:
        argv += ["--", remote]
    return argv


def remove_namespaces_script(names: list[str]) -> str:
    """Bash that stops the processes in namespaces ``names`` and deletes them (missing ones are fine)."""
    lines = ["set +e"]
    for name in names:
        quoted = shlex.quote(name)
        lines.append(f"ip netns pids {quoted} 2>/dev/null | xargs -r kill 2>/dev/null; "
                     f"ip netns del {quoted} 2>/dev/null")
    return "\n".join(lines) + "\ntrue\n"


# -- down and status ------------------------------------------------------------------------


def destroy(record: VmRecord) -> None:
    """Remove ``record``'s VM (a restored copy through libvirt, a booted one through Vagrant) and its record.

    Raises ``LifecycleError`` when Vagrant fails (the record stays, so ``harness down`` can try again).
    """
    if record.clone_disk:
        from harness.snapshot import Snapshot

        # Only a domain running on this copy's own disk is destroyed; another VM of the name is left alone.
        Snapshot(record.domain, root=Path(record.clone_disk).parent.parent).destroy_copy()
    elif record.state() != "gone":
        import subprocess

        import vagrant

        try:
            vagrant.Vagrant(record.vagrant_dir, env={**os.environ, **record.vagrant_env},
                            quiet_stdout=True, quiet_stderr=True).destroy()
        except (subprocess.CalledProcessError, OSError) as exc:
            raise LifecycleError(f"vagrant destroy of VM {record.name} failed ({exc}); run it by hand: cd "
                                 f"{shlex.quote(record.vagrant_dir)} && {vagrant_env_line(record.vagrant_env)} "
                                 "vagrant destroy -f") from None
        shutil.rmtree(record.vagrant_env.get("VAGRANT_DOTFILE_PATH", ""), ignore_errors=True)
    record.forget()


def vagrant_env_line(env: dict) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))


def describe_state(record: VmRecord, state: str) -> str:
    """One word or phrase for ``harness status``: kept, in use, left by a run that died, gone."""
    if state == "gone":
        return "gone"
    if record.in_use:
        return f"in use (pid {record.owner['pid']})"
    if record.owner:
        return f"left by a run that died (pid {record.owner['pid']})"
    return "kept" if state == "running" else f"kept, {state}"


def status_lines(records: list[VmRecord], states: dict[str, str], other_domains: list[str]) -> list[str]:
    """``harness status``: a table of the VMs the harness knows (``states``: name -> ``VmRecord.state()``),
    then the libvirt domains of netns-harness it has no record of."""
    rows = [("VM", "box", "state", "login", "since", "why")]
    for record in records:
        state = describe_state(record, states[record.name])
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created))
        why = record.kept or ("" if record.in_use else "-")
        kept = [f"{run.scenario} {run.status} ({', '.join(run.namespaces)})" for run in record.runs]
        if kept:
            why += "; namespaces: " + "; ".join(kept)
        rows.append((record.name, record.box, state, f"{record.ssh['user']}@{record.ssh['host']}", since, why))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[5] for row in rows]
    lines = [line.rstrip() for line in lines]
    if len(rows) == 1:
        lines = ["no VMs: `harness up` starts one; a failing run keeps its VM (--destroy passing)"]
    if other_domains:
        lines.append("")
        lines.append("libvirt domains of netns-harness without a record here (another user, checkout or an "
                     "older harness; left alone): " + ", ".join(other_domains))
    return lines


def harness_domains() -> list[str]:
    """libvirt's domains named ``netns-harness-*`` (running or defined); empty without virsh."""
    if not shutil.which("virsh"):
        return []
    from harness.snapshot import virsh

    res = virsh("list", "--all", "--name", check=False, timeout=30)
    return sorted(d for d in res.stdout.split() if d.startswith("netns-harness-"))

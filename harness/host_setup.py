"""Prepare a Linux host so that vagrant-libvirt can start VMs.

Works on hosts where PID 1 is systemd (a laptop) and on containers/CI machines
where it is not: there the libvirt daemons are started by hand with
``--daemon --pid-file``.  Everything is idempotent; a second call does nothing
and returns an empty list.

Only libvirt's own ``default`` network is created (bridge ``virbr0`` plus the
NAT rules libvirt installs for it); no other host route or interface is touched.

``/dev/kvm`` gets Debian's udev default (``root:kvm 0660``) where no udev set it: libvirt's
capability probe otherwise sees KVM as usable while its cache check (as the qemu user) does
not, so libvirt re-probes qemu on every look-up (~30 s per domain definition, twice per
``vagrant up``).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Optional

LIBVIRT_URI = "qemu:///system"
POOL_NAME = "default"
POOL_DIR = "/var/lib/libvirt/images"
NETWORK_NAME = "default"
NETWORK_XML = "/usr/share/libvirt/networks/default.xml"
# Where the TCG wrapper goes: a path the libvirt-qemu user can reach, unlike a checkout in /root.
TCG_WRAPPER_SOURCE = Path(__file__).resolve().parent / "qemu-tcg-wrapper.sh"
TCG_WRAPPER = Path("/var/lib/libvirt/netns-harness/qemu-tcg-wrapper.sh")

KVM_DEVICE = Path("/dev/kvm")
KVM_GROUP = "kvm"
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
DEFAULT_QEMU_USER = "libvirt-qemu"   # Debian's build default (qemu.conf `user`)

# (daemon binary, pid file, apt package that ships it).  Order matters:
# libvirtd connects to virtlogd/virtlockd at start-up.
DAEMONS = (
    ("virtlogd", "/run/virtlogd.pid", "libvirt-daemon-system"),
    ("virtlockd", "/run/virtlockd.pid", "libvirt-daemon-system"),
    ("libvirtd", "/run/libvirtd.pid", "libvirt-daemon-system"),
)


class HostSetupError(RuntimeError):
    """The host cannot be prepared; the message says what to do about it."""


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise HostSetupError(
            f"{argv[0]} not found: apt-get install libvirt-clients libvirt-daemon-system"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise HostSetupError(f"{' '.join(argv)} did not answer within {timeout:.0f} s") from exc


def _virsh(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return _run(["virsh", "-c", LIBVIRT_URI, *args], timeout=timeout)


def _virsh_ok(*args: str, what: str) -> None:
    res = _virsh(*args)
    if res.returncode != 0:
        raise HostSetupError(f"{what} failed: virsh {' '.join(args)}: "
                             f"{(res.stderr or res.stdout).strip()}")


def _find_daemon(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        p = Path(d, name)
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def _pid_alive(pid_file: str, name: str) -> int | None:
    """PID from ``pid_file`` when that process is alive and is ``name``."""
    try:
        pid = int(Path(pid_file).read_text().split()[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError, IndexError):
        return None
    return pid if comm == name[:15] else None


def _running_by_name(name: str) -> int | None:
    """PID of a live process called ``name`` (started by anyone), else None."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == name[:15]:
                return int(entry.name)
        except OSError:
            continue
    return None


def libvirt_answers(timeout: float = 10) -> bool:
    """True when ``virsh -c qemu:///system version`` succeeds within ``timeout`` s."""
    try:
        res = subprocess.run(["virsh", "-c", LIBVIRT_URI, "version"],
                             capture_output=True, text=True, timeout=timeout)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


def _wait_for_libvirt(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if libvirt_answers(timeout=10):
            return
        if time.monotonic() >= deadline:
            raise HostSetupError(
                f"libvirtd did not answer on {LIBVIRT_URI} within {timeout:.0f} s; "
                "see /var/log/libvirt/libvirtd.log or run `libvirtd -v` in a terminal")
        time.sleep(0.5)


def _start_daemons(actions: list[str]) -> None:
    if Path("/run/systemd/system").is_dir():
        # A systemd host: let the units do it (socket activation etc.).
        res = _run(["systemctl", "start", "libvirtd"], timeout=120)
        if res.returncode != 0:
            raise HostSetupError(
                "systemctl start libvirtd failed: "
                f"{(res.stderr or res.stdout).strip()} "
                "(apt-get install libvirt-daemon-system, or start virtqemud on modular hosts)")
        actions.append("started libvirtd via systemctl")
        return
    for name, pid_file, package in DAEMONS:
        binary = _find_daemon(name)
        if binary is None:
            raise HostSetupError(f"{name} not found: apt-get install {package}")
        pid = _pid_alive(pid_file, name) or _running_by_name(name)
        if pid is not None:
            continue
        res = _run([binary, "--daemon", "--pid-file", pid_file], timeout=60)
        if res.returncode != 0:
            raise HostSetupError(f"starting {name} failed (exit {res.returncode}): "
                                 f"{(res.stderr or res.stdout).strip()}")
        # --daemon forks; give the pid file a moment to appear.
        for _ in range(50):
            if _pid_alive(pid_file, name):
                break
            time.sleep(0.1)
        else:
            raise HostSetupError(f"{name} exited right after start; "
                                 f"try `{binary} -v` to see why")
        actions.append(f"started {name} (pid file {pid_file})")


def _ensure_pool(actions: list[str]) -> None:
    info = _virsh("pool-info", POOL_NAME)
    if info.returncode != 0:
        _virsh_ok("pool-define-as", POOL_NAME, "dir", "--target", POOL_DIR,
                  what=f"defining storage pool {POOL_NAME}")
        actions.append(f"defined storage pool {POOL_NAME} ({POOL_DIR})")
        _virsh_ok("pool-build", POOL_NAME, what=f"building storage pool {POOL_NAME}")
        actions.append(f"built storage pool {POOL_NAME}")
        info = _virsh("pool-info", POOL_NAME)
    fields = _parse_info(info.stdout)
    if fields.get("state") != "running":
        _virsh_ok("pool-start", POOL_NAME, what=f"starting storage pool {POOL_NAME}")
        actions.append(f"started storage pool {POOL_NAME}")
    if fields.get("autostart") != "yes":
        _virsh_ok("pool-autostart", POOL_NAME, what=f"autostarting storage pool {POOL_NAME}")
        actions.append(f"set storage pool {POOL_NAME} to autostart")


def _ensure_network(actions: list[str]) -> None:
    info = _virsh("net-info", NETWORK_NAME)
    if info.returncode != 0:
        if not Path(NETWORK_XML).is_file():
            raise HostSetupError(f"{NETWORK_XML} missing: apt-get install libvirt-daemon-config-network")
        _virsh_ok("net-define", NETWORK_XML, what=f"defining network {NETWORK_NAME}")
        actions.append(f"defined network {NETWORK_NAME} from {NETWORK_XML}")
        info = _virsh("net-info", NETWORK_NAME)
    fields = _parse_info(info.stdout)
    if fields.get("active") != "yes":
        res = _virsh("net-start", NETWORK_NAME)
        if res.returncode != 0:
            raise HostSetupError(
                f"starting libvirt network {NETWORK_NAME} failed: {(res.stderr or res.stdout).strip()} "
                "(needs dnsmasq-base and iptables; an existing virbr0 or a clash with "
                "192.168.122.0/24 also breaks it)")
        actions.append(f"started network {NETWORK_NAME}")
    if fields.get("autostart") != "yes":
        _virsh_ok("net-autostart", NETWORK_NAME, what=f"autostarting network {NETWORK_NAME}")
        actions.append(f"set network {NETWORK_NAME} to autostart")
    _network_without_stp(actions)


def without_stp(network_xml: str) -> Optional[str]:
    """``network_xml`` with its bridge's STP off, or None when STP is off already."""
    bridge = re.search(r"<bridge\b[^>]*>", network_xml)
    if not bridge or not re.search(r"""\bstp=['"]on['"]""", bridge.group(0)):
        return None
    tag = re.sub(r"""\bstp=['"]on['"]""", "stp='off'", bridge.group(0))
    return network_xml[:bridge.start()] + tag + network_xml[bridge.end():]


def _network_without_stp(actions: list[str]) -> None:
    """Turn STP off on the network's bridge, in libvirt's definition and on the live bridge.

    With STP on, every new VM port spends two forward delays (2 s each, the kernel's minimum)
    listening and learning before it forwards: a VM restored from a snapshot is unreachable for
    4 s. A NAT bridge whose ports are VMs has no loop for STP to break.
    """
    defined = _virsh("net-dumpxml", "--inactive", NETWORK_NAME).stdout
    changed = without_stp(defined)
    if changed is not None:
        path = Path(POOL_DIR).parent / "netns-harness" / "network-default.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(changed)
        _virsh_ok("net-define", str(path), what=f"redefining network {NETWORK_NAME} without STP")
        path.unlink()
        actions.append(f"set STP off in libvirt network {NETWORK_NAME}'s definition (a new VM port otherwise "
                       "waits 4 s of STP forward delay before it forwards)")
    live = re.search(r"<bridge\b[^>]*\bname=['\"]([^'\"]+)['\"]", _virsh("net-dumpxml", NETWORK_NAME).stdout)
    state = Path(f"/sys/class/net/{live.group(1)}/bridge/stp_state") if live else None
    if state and state.is_file() and state.read_text().strip() != "0":
        res = _run(["ip", "link", "set", "dev", live.group(1), "type", "bridge", "stp_state", "0"])
        if res.returncode != 0:
            raise HostSetupError(f"turning STP off on bridge {live.group(1)} failed: {res.stderr.strip()}")
        actions.append(f"set STP off on bridge {live.group(1)} (libvirt network {NETWORK_NAME}), as defined")


def _parse_info(text: str) -> dict[str, str]:
    """`virsh pool-info`/`net-info` output -> {'state': 'running', 'autostart': 'yes', ...}."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip().lower()
    return out


def prepare_libvirt_host(wait_timeout: float = 30.0) -> list[str]:
    """Make ``qemu:///system`` usable for vagrant-libvirt; idempotent.

    Starts virtlogd, virtlockd and libvirtd (``--daemon --pid-file /run/NAME.pid``)
    when none is running, waits up to ``wait_timeout`` seconds for
    ``virsh -c qemu:///system version`` to answer, then makes sure the
    ``default`` storage pool (dir ``/var/lib/libvirt/images``) and the
    ``default`` network exist, are active and autostart.

    Returns:
        Human-readable descriptions of the actions taken, e.g.
        ``["started libvirtd (pid file /run/libvirtd.pid)", "started network default"]``;
        empty when everything was already in place.

    Raises:
        HostSetupError: a binary is missing, a daemon does not start or answer,
            or a virsh step fails; the message names the fix.
    """
    if os.geteuid() != 0:
        raise HostSetupError("prepare_libvirt_host must run as root (it starts libvirtd)")
    if shutil.which("virsh") is None:
        raise HostSetupError("virsh not found: apt-get install libvirt-clients")
    actions: list[str] = []
    if not libvirt_answers():
        _start_daemons(actions)
        _wait_for_libvirt(wait_timeout)
    _ensure_kvm_access(actions)
    _ensure_pool(actions)
    _ensure_network(actions)
    _install_tcg_wrapper(actions)
    return actions


def qemu_user(conf_text: str) -> str:
    """The user libvirt runs qemu as: ``user = "NAME"`` in qemu.conf, else ``libvirt-qemu``."""
    match = re.search(r'(?m)^\s*user\s*=\s*"([^"]+)"', conf_text)
    return match.group(1) if match else DEFAULT_QEMU_USER


def can_open_rw(mode: int, uid: int, gid: int, user_uid: int, user_gids: set[int]) -> bool:
    """Whether a user (``user_uid``, all its groups ``user_gids``) may open a file of ``mode``,
    owned by ``uid:gid``, for reading and writing (classic Unix permission bits, no ACLs)."""
    if user_uid == 0:
        return True
    if uid == user_uid:
        bits = stat.S_IRUSR | stat.S_IWUSR
    elif gid in user_gids:
        bits = stat.S_IRGRP | stat.S_IWGRP
    else:
        bits = stat.S_IROTH | stat.S_IWOTH
    return mode & bits == bits


def _ensure_kvm_access(actions: list[str]) -> None:
    """Give /dev/kvm Debian's udev default (root:kvm 0660) when libvirt's qemu user cannot open it.

    Appends what it changed to ``actions`` (or a warning when it cannot help: no ``kvm`` group,
    or the qemu user is not in it). Nothing happens where there is no /dev/kvm.
    """
    try:
        info = KVM_DEVICE.stat()
    except OSError:
        return  # no KVM at all: libvirt's probe and its cache check agree
    name = qemu_user(QEMU_CONF.read_text() if QEMU_CONF.is_file() else "")
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        return
    gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
    if can_open_rw(info.st_mode, info.st_uid, info.st_gid, user.pw_uid, gids):
        return
    try:
        kvm_gid = grp.getgrnam(KVM_GROUP).gr_gid
    except KeyError:
        kvm_gid = None
    if kvm_gid not in gids:
        actions.append(f"warning: {KVM_DEVICE} is {_owner(info)} and libvirt's qemu user {name} cannot open it; "
                       f"add {name} to group {KVM_GROUP} and give the device mode 0660, or libvirt re-probes qemu "
                       "on every domain definition (~30 s each)")
        return
    before = _owner(info)
    os.chown(KVM_DEVICE, -1, kvm_gid)
    os.chmod(KVM_DEVICE, (stat.S_IMODE(info.st_mode) | 0o660) & ~0o007)
    actions.append(f"set {KVM_DEVICE} to {_owner(KVM_DEVICE.stat())} (was {before}), Debian's udev default, so that "
                   f"libvirt's qemu user {name} can open it: otherwise libvirt re-probes qemu on every domain "
                   "definition (~30 s each)")


def _owner(info: os.stat_result) -> str:
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return f"{user}:{group} {stat.S_IMODE(info.st_mode):04o}"


def _install_tcg_wrapper(actions: list[str]) -> None:
    """Copy the qemu TCG wrapper where libvirt can run it (the vagrant target uses it under qemu)."""
    text = TCG_WRAPPER_SOURCE.read_text()
    if TCG_WRAPPER.exists() and TCG_WRAPPER.read_text() == text:
        return
    TCG_WRAPPER.parent.mkdir(parents=True, exist_ok=True)
    TCG_WRAPPER.write_text(text)
    TCG_WRAPPER.chmod(0o755)
    actions.append(f"installed the qemu TCG wrapper at {TCG_WRAPPER}")

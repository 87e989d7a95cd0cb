"""Build local vagrant-libvirt boxes (Debian + a chosen kernel package).

Vagrant Cloud may be unreachable, so boxes are built from a Debian mirror with
debootstrap (see ``harness/box_build.sh``), packaged as a vagrant-libvirt box
and added with ``vagrant box add``.  Boxes are named after their suite and kernel, e.g.
``netns-harness/bookworm-6.1``, so different kernel packages give different
boxes (see :func:`box_name_for`).

What a box runs is a kernel spec (:func:`parse_kernel_spec`): ``PKG[/RELEASE][@SUITE]`` (a
Debian kernel package, optionally from another release, on the userspace of a suite) or the
path of a kernel ``.deb`` (``make bindeb-pkg``), optionally ``@SUITE``.

Cache: a build is keyed by a hash of its inputs (kernel package or the .deb's SHA-256, suite,
mirrors, disk size, extra packages, the build script's text and the packaging format).
``build_box`` skips the build when that key's manifest exists in the cache
directory and the same build is still what vagrant has under that box name.

Public API: :func:`build_box`, :class:`BoxInfo`, :class:`BoxBuildError`,
:class:`KernelSpec` and :func:`parse_kernel_spec`, plus the small helpers used by the CLI and the tests (:func:`input_hash`,
:func:`box_name_for`, :func:`host_mirror`, :func:`default_cache_dir`,
:func:`vagrant_boxes`).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

BUILD_SCRIPT = Path(__file__).with_name("box_build.sh")
DEFAULT_KERNEL_PACKAGE = "linux-image-cloud-amd64"
DEFAULT_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# Suites without a security suite (the kernel comes from the suite itself).
NO_SECURITY_SUITES = ("sid", "unstable", "experimental")
DEFAULT_DISK_GIB = 4
BOX_PREFIX = "netns-harness"
STAMP_FILE = "netns-harness.json"   # shipped inside the box, read back for the cache check
# Bump when the packaging done here (not in the script) changes.
PACKAGING_VERSION = 1

BOX_VAGRANTFILE = """\
# Box defaults for netns-harness boxes (vagrant-libvirt).
Vagrant.configure("2") do |config|
  # The image has neither rsync nor NFS tools.
  config.vm.synced_folder ".", "/vagrant", disabled: true
end
"""

_VAGRANT_PUBKEY_GLOBS = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub",
    "/usr/share/vagrant/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/vagrant-*/keys/vagrant.pub",
)


class BoxBuildError(RuntimeError):
    """A box build failed.

    Attributes:
        step: name of the failing step (``"debootstrap"``, ``"vagrant box add"``, ...).
        output_tail: the last lines of that step's output (str, may be empty).
        log_path: full build log, when one was written.
    """

    def __init__(self, step: str, message: str, output_tail: str = "",
                 log_path: Optional[Path] = None):
        self.step = step
        self.output_tail = output_tail
        self.log_path = log_path
        text = f"box build failed in step '{step}': {message}"
        if output_tail:
            text += "\n--- last output ---\n" + output_tail.rstrip()
        if log_path:
            text += f"\n(full log: {log_path})"
        super().__init__(text)


@dataclass(frozen=True)
class BoxInfo:
    """A built (and vagrant-added) box.

    ``name``: vagrant box name, e.g. ``netns-harness/bookworm-6.1``;
    ``path``: the ``.box`` file (tar.gz) in the cache; ``version``: the vagrant
    box version (``"0"`` for boxes added from a file); ``kernel_release``: e.g.
    ``6.1.0-28-cloud-amd64``; ``kernel_version``: its package's version, e.g. ``6.1.176-1``;
    ``kernel_deb_sha256``: for a box from a local .deb, that file's SHA-256;
    ``input_hash``: the cache key; ``cache_hit``: True when this call did not build.
    """

    name: str
    path: Path
    version: str
    kernel_package: str
    kernel_release: str
    provider: str = "libvirt"
    suite: str = DEFAULT_SUITE
    input_hash: str = ""
    cache_hit: bool = False
    kernel_version: str = ""
    kernel_deb_sha256: str = ""


# ----------------------------------------------------------------- kernel specs

_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]{0,99}")


@dataclass(frozen=True)
class KernelSpec:
    """What kernel a box runs, on the userspace of which Debian suite.

    ``package``: a Debian kernel package (``linux-image-cloud-amd64``, or one ABI such as
    ``linux-image-6.1.0-47-cloud-amd64``), "" for a local .deb; ``release``: the apt release
    to install it from when that is not the suite itself (``bookworm-backports``,
    ``experimental``); ``suite``: the userspace (``bullseye``, ``bookworm``, ``trixie``,
    ``sid``); ``deb``: an absolute path to a kernel ``.deb``.
    """

    package: str = DEFAULT_KERNEL_PACKAGE
    release: Optional[str] = None
    suite: str = DEFAULT_SUITE
    deb: Optional[Path] = None

    def __str__(self) -> str:
        """The spec as :func:`parse_kernel_spec` reads it back (the suite always written out)."""
        head = str(self.deb) if self.deb else self.package + (f"/{self.release}" if self.release else "")
        return f"{head}@{self.suite}"

    @property
    def pins_abi(self) -> bool:
        """One kernel ABI (``linux-image-6.1.0-47-cloud-amd64``), not a metapackage that follows the suite."""
        return bool(re.match(r"linux-image-\d", self.package))


def suite_of_release(release: str) -> str:
    """The userspace suite a release's kernels run on: ``bookworm-backports`` -> ``bookworm``,
    ``experimental`` -> ``sid``, ``trixie`` -> ``trixie``."""
    base = release.split("-", 1)[0]
    return "sid" if base in ("experimental", "unstable", "rc") else base


def parse_kernel_spec(text: str, suite: Optional[str] = None) -> KernelSpec:
    """Read ``PKG[/RELEASE][@SUITE]`` or ``PATH.deb[@SUITE]`` into a :class:`KernelSpec`.

    The suite is ``@SUITE``, else ``suite``, else the one ``RELEASE`` belongs to
    (``linux-image-cloud-amd64/trixie`` runs on trixie, ``.../bookworm-backports`` on
    bookworm), else bookworm. A release that is the suite itself needs no second apt source.
    Raises ``ValueError`` (one line naming the fix) for an empty spec, a bad name, two suites
    that disagree, or a ``.deb`` that is not a readable file.
    """
    text = text.strip()
    head, at, given = text.rpartition("@") if "@" in text else (text, "", "")
    if at and not given:
        raise ValueError(f"kernel {text!r}: nothing after '@'; write PKG@SUITE, e.g. linux-image-cloud-amd64@bullseye")
    if given and suite and given != suite:
        raise ValueError(f"kernel {text!r} says suite {given}, --suite says {suite}: give one")
    chosen = given or suite
    if chosen and not _NAME.fullmatch(chosen):
        raise ValueError(f"suite {chosen!r} is not a Debian suite name (e.g. bookworm, trixie, sid)")
    if not head:
        raise ValueError("empty kernel: give a Debian kernel package (linux-image-cloud-amd64[/RELEASE][@SUITE]) "
                         "or the path of a kernel .deb")
    if head.endswith(".deb"):
        path = Path(head).expanduser().resolve()
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ValueError(f"kernel package {head}: not a readable file")
        return KernelSpec(package="", suite=chosen or DEFAULT_SUITE, deb=path)
    package, _, release = head.partition("/")
    for kind, name in (("package", package), ("release", release)):
        if (name or kind == "package") and not _NAME.fullmatch(name):
            raise ValueError(f"kernel {text!r}: {name!r} is not a Debian {kind} name "
                             "(e.g. linux-image-cloud-amd64/bookworm-backports@bookworm)")
    chosen = chosen or (suite_of_release(release) if release else DEFAULT_SUITE)
    return KernelSpec(package=package, release=release if release and release != chosen else None, suite=chosen)


def security_mirror(suite: str, root: str = "/") -> Optional[str]:
    """Where ``SUITE-security`` comes from: ``$HARNESS_SECURITY_MIRROR`` (``none``: nowhere), the
    host's apt sources, else ``http://deb.debian.org/debian-security``; None for sid/experimental."""
    env = os.environ.get("HARNESS_SECURITY_MIRROR", "").strip()
    if env:
        return None if env.lower() == "none" else env.rstrip("/")
    if suite in NO_SECURITY_SUITES:
        return None
    files: dict[str, str] = {}
    for p in [Path(root, "etc/apt/sources.list"), *sorted(Path(root, "etc/apt/sources.list.d").glob("*"))]:
        try:
            files[p.name] = p.read_text()
        except OSError:
            continue
    return mirror_from_sources(files, f"{suite}-security") or DEFAULT_SECURITY_MIRROR


def file_sha256(path: os.PathLike | str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- pure helpers

def default_cache_dir() -> Path:
    """``$HARNESS_CACHE_DIR`` or ``~/.cache/netns-harness/boxes``."""
    env = os.environ.get("HARNESS_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "netns-harness" / "boxes"


def _parse_one_line_sources(text: str) -> Iterable[tuple[str, list[str], list[str]]]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        parts = line.split()[1:]
        if parts and parts[0].startswith("["):      # deb [signed-by=...] URI ...
            while parts and not parts[0].endswith("]"):
                parts.pop(0)
            parts = parts[1:]
        if len(parts) >= 2:
            yield parts[0], [parts[1]], parts[2:]


def _parse_deb822_sources(text: str) -> Iterable[tuple[str, list[str], list[str]]]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.lstrip().startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), fields.get("components", "").split()


def mirror_from_sources(files: dict[str, str], suite: str = DEFAULT_SUITE) -> Optional[str]:
    """Pick the Debian mirror serving ``suite`` from apt source texts.

    ``files`` maps file names (``*.list`` one-line format or ``*.sources``
    deb822 format) to their text.  Returns the first URI (trailing ``/``
    stripped) that lists exactly ``suite`` with component ``main``, else None.
    """
    for fname, text in files.items():
        if fname.endswith(".sources"):
            entries = _parse_deb822_sources(text)
        elif fname.endswith(".list"):
            entries = _parse_one_line_sources(text)
        else:
            continue
        for uri, suites, components in entries:
            if suite in suites and "main" in components and uri.startswith(("http://", "https://", "file:/")):
                return uri.rstrip("/")
    return None


def host_mirror(suite: str = DEFAULT_SUITE, root: str = "/") -> str:
    """The mirror this host's apt uses for ``suite`` (``/etc/apt/sources.list``
    and ``sources.list.d/*.list|*.sources``), else ``http://deb.debian.org/debian``."""
    files: dict[str, str] = {}
    candidates = [Path(root, "etc/apt/sources.list")]
    candidates += sorted(Path(root, "etc/apt/sources.list.d").glob("*"))
    for p in candidates:
        try:
            files[p.name if p.name != "sources.list" else "sources.list"] = p.read_text()
        except OSError:
            continue
    return mirror_from_sources(files, suite) or DEFAULT_MIRROR


def input_hash(kernel_package: str, suite: str, mirror: str, script_text: str,
               disk_gib: int = DEFAULT_DISK_GIB, extra_packages: Iterable[str] = (),
               security: Optional[str] = None, kernel_deb_sha256: str = "", prefix: str = BOX_PREFIX) -> str:
    """Cache key of a build: 16 hex chars of a SHA-256 over all build inputs (a local kernel
    .deb by its SHA-256, not its path) and the box name's prefix."""
    payload = json.dumps({
        **({"prefix": prefix} if prefix != BOX_PREFIX else {}),
        "kernel_package": kernel_package,
        "kernel_deb_sha256": kernel_deb_sha256,
        "suite": suite,
        "mirror": mirror.rstrip("/"),
        "security": (security or "").rstrip("/"),
        "disk_gib": int(disk_gib),
        "extra_packages": sorted(extra_packages),
        "script_sha256": hashlib.sha256(script_text.encode()).hexdigest(),
        "packaging": PACKAGING_VERSION,
    }, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def kernel_major_minor(kernel_release: str) -> str:
    """``"6.1.0-28-cloud-amd64"`` -> ``"6.1"``; ``"6.12.38+deb12-cloud-amd64"`` -> ``"6.12"``.

    Raises ValueError when the text does not start with ``MAJOR.MINOR``.
    """
    m = re.match(r"^(\d+)\.(\d+)", kernel_release.strip())
    if not m:
        raise ValueError(f"not a kernel release: {kernel_release!r}")
    return f"{m.group(1)}.{m.group(2)}"


def box_prefix() -> str:
    """The first part of the names of boxes built here: ``$HARNESS_BOX_PREFIX`` or ``netns-harness``.
    Two checkouts (or projects) on one machine whose builds differ keep their boxes, VMs and
    snapshots apart with their own prefix, e.g. ``netns-harness-ci``. Raises ``ValueError`` for a
    prefix that does not start with ``netns-harness`` (how boxes built here are recognised)."""
    prefix = os.environ.get("HARNESS_BOX_PREFIX", "").strip() or BOX_PREFIX
    if not re.fullmatch(r"netns-harness[A-Za-z0-9_.-]{0,40}", prefix):
        raise ValueError(f"HARNESS_BOX_PREFIX={prefix!r}: it must start with netns-harness "
                         "(letters, digits, '.', '_', '-' after it), e.g. netns-harness-ci")
    return prefix


def is_built_here(box: str) -> bool:
    """Whether ``box`` names a box this builder makes (``netns-harness*/...``)."""
    return box.split("/", 1)[0].startswith(BOX_PREFIX) and "/" in box


def box_name_for(suite: str, kernel_release: str, exact: bool = False, local_sha256: str = "") -> str:
    """Vagrant box name: ``netns-harness/bookworm-6.1`` for a kernel that follows its line
    (a metapackage); with ``exact`` (one ABI's package) the whole release,
    ``netns-harness/bookworm-6.1.0-47-cloud-amd64``; for a local .deb the release and 8 hex
    digits of its SHA-256, ``netns-harness/bookworm-6.1.0-47-cloud-amd64-local-1a2b3c4d``.
    Characters Vagrant does not take in a name (``+``) become ``-``."""
    kernel_major_minor(kernel_release)   # raises ValueError for garbage
    if local_sha256:
        tail = f"{kernel_release}-local-{local_sha256[:8]}"
    else:
        tail = kernel_release if exact else kernel_major_minor(kernel_release)
    return f"{box_prefix()}/{suite}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", tail)


def parse_vagrant_box_list(text: str) -> list[tuple[str, str, str]]:
    """``vagrant box list`` output -> ``[(name, provider, version), ...]``."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+\(([^,]+),\s*([^,)]+)", line.strip())
        if m:
            out.append((m.group(1), m.group(2).strip(), m.group(3).strip()))
    return out


def find_vagrant_pubkey() -> Path:
    """Vagrant's insecure public key as shipped with the installed vagrant.

    Raises BoxBuildError when it cannot be found.
    """
    env = os.environ.get("HARNESS_VAGRANT_PUBKEY")
    if env and Path(env).is_file():
        return Path(env)
    for pattern in _VAGRANT_PUBKEY_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return Path(hits[-1])
    raise BoxBuildError("prerequisites", "Vagrant's insecure public key (keys/vagrant.pub) not found; "
                        "install vagrant or set HARNESS_VAGRANT_PUBKEY")


# -------------------------------------------------------------- vagrant state

def vagrant_home() -> Path:
    """``$VAGRANT_HOME`` or ``~/.vagrant.d``: where Vagrant keeps its boxes."""
    return Path(os.environ.get("VAGRANT_HOME") or Path.home() / ".vagrant.d")


_vagrant_home = vagrant_home


def vagrant_boxes() -> list[tuple[str, str, str]]:
    """Boxes known to vagrant as ``[(name, provider, version)]``; [] if vagrant is missing."""
    if shutil.which("vagrant") is None:
        return []
    try:
        res = subprocess.run(["vagrant", "box", "list"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return []
    return parse_vagrant_box_list(res.stdout) if res.returncode == 0 else []


def added_box_stamp(name: str) -> dict:
    """The stamp (``netns-harness.json``: input hash, kernel, ``root_login``...) of the box Vagrant
    holds under ``name``; {} when there is none (not added, or not built here)."""
    base = _vagrant_home() / "boxes" / name.replace("/", "-VAGRANTSLASH-")
    for stamp in sorted(base.glob(f"*/libvirt/{STAMP_FILE}")):
        try:
            data = json.loads(stamp.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def _added_box_hash(name: str) -> Optional[str]:
    """Input hash stamped into the box vagrant currently holds under ``name``."""
    return added_box_stamp(name).get("input_hash")


def _box_is_current(info: BoxInfo) -> bool:
    if not info.path.is_file():
        return False
    stamped = _added_box_hash(info.name)
    if stamped == info.input_hash:
        # Vagrant's box directory holds this very build: no need to ask `vagrant box list` (~1.5 s).
        return True
    if not any(n == info.name and p == "libvirt" for n, p, _ in vagrant_boxes()):
        return False
    # Box added by an older harness without a stamp: trust the manifest.
    return stamped is None


# --------------------------------------------------------------------- build

def _check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise BoxBuildError("prerequisites", "building a box needs root (debootstrap, losetup, mount)")
    need = {
        "debootstrap": "debootstrap", "parted": "parted", "mkfs.ext4": "e2fsprogs",
        "extlinux": "extlinux", "qemu-img": "qemu-utils", "losetup": "mount",
        "vagrant": "vagrant",
    }
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = sorted({pkg for tool, pkg in need.items() if shutil.which(tool, path=path) is None})
    if not Path("/usr/lib/syslinux/mbr/mbr.bin").is_file():
        missing.append("syslinux-common")
    if missing:
        raise BoxBuildError("prerequisites", "missing tools: apt-get install " + " ".join(missing))


def _mounts_below(path: Path) -> list[str]:
    """Mount points at or below ``path`` (from /proc/self/mounts)."""
    root = os.path.realpath(path)
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return [m for m in points if m == root or m.startswith(root + "/")]


def _safe_rmtree(path: Path) -> None:
    """rmtree that refuses to descend into mounts (a leftover bind of /dev!)."""
    if not path.exists():
        return
    mounted = _mounts_below(path)
    if mounted:
        raise BoxBuildError("cleanup", f"refusing to delete {path}: still mounted: "
                            + ", ".join(mounted) + " (umount them, then retry)")
    shutil.rmtree(path)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _run_script(argv: list[str], log_path: Path, progress: Callable[[str], None],
                t0: float) -> tuple[str, float]:
    """Run the build script; returns (last step name, seconds). Raises BoxBuildError."""
    tail: collections.deque[str] = collections.deque(maxlen=40)
    step, step_t0 = "start", time.monotonic()
    # Its own process group: an interrupt stops debootstrap or apt too, and then the script's
    # trap releases the loop device and the mounts (bash runs traps once its child is gone).
    with open(log_path, "w") as log, subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", bufsize=1, start_new_session=True) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if line.startswith("==> step: "):
                    now = time.monotonic()
                    if step != "start":
                        progress(f"box: {step} done in {now - step_t0:.1f} s")
                    step, step_t0 = line[len("==> step: "):].strip(), now
                    progress(f"box: [{now - t0:6.1f} s] {step} ...")
                    tail.clear()
                else:
                    tail.append(line.rstrip("\n"))
            rc = proc.wait()
        except BaseException:
            # Ctrl-C etc.: let the script's trap release the loop device and mounts.
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            raise
    if rc != 0:
        raise BoxBuildError(step, f"build script exited with status {rc}",
                            "\n".join(tail), log_path)
    now = time.monotonic()
    progress(f"box: {step} done in {now - step_t0:.1f} s")
    return step, now - t0


def _package(work: Path, box_file: Path, disk_gib: int, stamp: dict) -> None:
    (work / "metadata.json").write_text(json.dumps(
        {"provider": "libvirt", "format": "qcow2", "virtual_size": int(disk_gib)}) + "\n")
    (work / "Vagrantfile").write_text(BOX_VAGRANTFILE)
    (work / STAMP_FILE).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    tmp = box_file.with_suffix(".box.tmp")
    # box.img is already a compressed qcow2: gzip level 1 is as good and much faster.
    with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
        for name in ("metadata.json", "Vagrantfile", STAMP_FILE, "box.img"):
            tar.add(work / name, arcname=name)
    tmp.replace(box_file)


def _vagrant_box_add(name: str, box_file: Path, log_path: Path) -> None:
    argv = ["vagrant", "box", "add", "--force", "--provider", "libvirt", "--name", name, str(box_file)]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(argv)}\n{res.stdout}{res.stderr}")
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).splitlines()[-20:])
        raise BoxBuildError("vagrant box add", f"exit status {res.returncode}", tail, log_path)


def prune_box_volumes(name: str, pool: str = "default") -> list[str]:
    """Delete stale libvirt copies of box ``name`` from storage pool ``pool``.

    vagrant-libvirt uploads a box into the pool once, as
    ``<name with / as -VAGRANTSLASH->_vagrant_box_image_0_<mtime>_box.img``; a
    re-added box gets a new volume and the old one stays.  Call this right
    after ``vagrant box add``: every such volume of ``name`` that no other
    volume (a VM disk) uses as its backing file is deleted.

    Returns the deleted volume names; [] when virsh is missing or fails
    (best effort, never raises).
    """
    from harness.snapshot import libvirt_uri

    if shutil.which("virsh") is None:
        return []
    prefix = name.replace("/", "-VAGRANTSLASH-") + "_vagrant_box_image_"

    def virsh(*args: str) -> Optional[str]:
        try:
            res = subprocess.run(["virsh", "-c", libvirt_uri(), *args],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout if res.returncode == 0 else None

    listing = virsh("vol-list", "--pool", pool)
    if listing is None:
        return []
    vols: dict[str, str] = {}
    for line in listing.splitlines()[2:]:
        parts = line.split(None, 1)
        if len(parts) == 2:
            vols[parts[0]] = parts[1].strip()
    backing: set[str] = set()
    for vol in vols:
        xml = virsh("vol-dumpxml", "--pool", pool, vol) or ""
        backing.update(re.findall(r"<backingStore>\s*<path>([^<]+)</path>", xml))
    backing |= _snapshot_backing_files()
    deleted = []
    for vol, path in vols.items():
        if vol.startswith(prefix) and path not in backing:
            if virsh("vol-delete", "--pool", pool, vol) is not None:
                deleted.append(vol)
    return deleted


def _snapshot_backing_files() -> set[str]:
    """Box volumes that booted snapshots (``harness.snapshot``) build on: not stale while used."""
    from harness.snapshot import DISK, snapshot_dir

    found = set()
    for disk in snapshot_dir().glob(f"*/{DISK}"):
        try:
            res = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(disk)],
                                 capture_output=True, text=True, timeout=60)
            backing = json.loads(res.stdout).get("full-backing-filename") if res.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
        if backing:
            found.add(backing)
    return found


def _load_manifest(path: Path) -> Optional[BoxInfo]:
    try:
        data = json.loads(path.read_text())
        data["path"] = Path(data["path"])
        data["cache_hit"] = True
        return BoxInfo(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def build_box(kernel_package: "str | KernelSpec" = DEFAULT_KERNEL_PACKAGE,
              suite: Optional[str] = None,
              mirror: Optional[str] = None,
              cache_dir: Optional[os.PathLike | str] = None,
              force: bool = False,
              progress: Callable[[str], None] = print,
              disk_gib: int = DEFAULT_DISK_GIB,
              extra_packages: Iterable[str] = (),
              kernel_deb: Optional[os.PathLike | str] = None) -> BoxInfo:
    """Build (or reuse) a vagrant-libvirt box running a kernel on a Debian suite's userspace.

    Args:
        kernel_package: a kernel spec (:func:`parse_kernel_spec`): a Debian kernel package,
            e.g. ``linux-image-cloud-amd64``; ``PKG/RELEASE`` installs it from that release,
            e.g. ``linux-image-cloud-amd64/bookworm-backports``; ``@SUITE`` picks the
            userspace; a path ending in ``.deb`` is a local kernel package.
        suite: Debian suite to debootstrap (default: from the spec, else bookworm).
        mirror: Debian mirror URL; default: the one this host's apt uses for
            ``suite`` (else ``http://deb.debian.org/debian``). The kernel may also come from
            ``SUITE-security`` (:func:`security_mirror`).
        cache_dir: where builds live; default ``$HARNESS_CACHE_DIR`` or
            ``~/.cache/netns-harness/boxes``.  Layout:
            ``<cache_dir>/<input_hash>/{box.json,build.log,<name>.box}``, and
            downloaded .debs in ``<cache_dir>/debs`` (reused by later builds).
        force: rebuild even when the cache holds this build.
        progress: called with one human-readable line per step (step name and
            elapsed seconds).
        disk_gib: virtual disk size in GiB (sparse; the .box is ~100 MiB).
        extra_packages: more Debian packages to install in the image.
        kernel_deb: a local kernel ``.deb`` (the ``linux-image-*.deb`` of ``make
            bindeb-pkg``) instead of ``kernel_package``; cached by its SHA-256.

    Returns:
        BoxInfo of the box, already added to vagrant (``vagrant box add --force``).
        ``cache_hit`` tells whether the build was skipped.

    Raises:
        BoxBuildError: with ``.step`` (``"kernel spec"`` for a bad spec, ``"debootstrap"``,
            ``"kernel"``, ``"convert"``, ``"vagrant box add"``, ...) and ``.output_tail``;
            the full log is at ``<cache_dir>/<input_hash>/build.log``.  Needs root.
    """
    t0 = time.monotonic()
    try:
        box_prefix()
    except ValueError as exc:
        raise BoxBuildError("kernel spec", str(exc)) from None
    if isinstance(kernel_package, KernelSpec):
        spec = kernel_package if not suite else KernelSpec(kernel_package.package, kernel_package.release,
                                                           suite, kernel_package.deb)
    else:
        try:
            spec = parse_kernel_spec(str(kernel_deb) if kernel_deb else kernel_package, suite)
        except ValueError as exc:
            raise BoxBuildError("kernel spec", str(exc)) from None
    suite = spec.suite
    mirror = (mirror or host_mirror(suite)).rstrip("/")
    security = security_mirror(suite)
    extra_packages = sorted(extra_packages)
    script_text = BUILD_SCRIPT.read_text()
    deb_sha = file_sha256(spec.deb) if spec.deb else ""
    package_key = "" if spec.deb else spec.package + (f"/{spec.release}" if spec.release else "")
    key = input_hash(package_key, suite, mirror, script_text, disk_gib, extra_packages,
                     security=security, kernel_deb_sha256=deb_sha, prefix=box_prefix())
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    build_dir = cache / key
    manifest_path = build_dir / "box.json"
    build_dir.mkdir(parents=True, exist_ok=True)

    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one build per key at a time
        cached = _load_manifest(manifest_path)
        if cached and not force and _box_is_current(cached):
            progress(f"box: cache hit {cached.name} (kernel {cached.kernel_release}, "
                     f"key {key}) in {time.monotonic() - t0:.1f} s")
            return cached
        if cached and not force and cached.path.is_file():
            # Built before but vagrant lost it (or holds another build): re-add only.
            progress(f"box: re-adding {cached.name} from {cached.path}")
            _vagrant_box_add(cached.name, cached.path, build_dir / "build.log")
            prune_box_volumes(cached.name)
            return cached

        _check_prerequisites()
        pubkey = find_vagrant_pubkey()
        work = build_dir / "work"
        _safe_rmtree(work)
        work.mkdir()
        log_path = build_dir / "build.log"
        what = f"{spec.deb} (sha256 {deb_sha[:12]})" if spec.deb else package_key
        progress(f"box: building {what} on {suite} from {mirror} (key {key}, log {log_path})")
        argv = ["bash", str(BUILD_SCRIPT), "--suite", suite, "--mirror", mirror,
                "--pubkey", str(pubkey), "--workdir", str(work),
                "--disk-gib", str(int(disk_gib)), "--deb-cache", str(cache / "debs")]
        argv += ["--kernel-deb", str(spec.deb)] if spec.deb else ["--kernel", package_key]
        if security:
            argv += ["--security-mirror", security]
        if extra_packages:
            argv += ["--extra-packages", ",".join(extra_packages)]
        try:
            _run_script(argv, log_path, progress, t0)
        except BaseException:
            # An interrupted or failed build leaves no half-made tree (hundreds of MiB); its log stays.
            with contextlib.suppress(BoxBuildError, OSError):
                _safe_rmtree(work)
            raise

        kernel_release = (work / "kernel-release").read_text().strip()
        kernel_version = (work / "kernel-version").read_text().strip()
        name = box_name_for(suite, kernel_release, exact=spec.pins_abi, local_sha256=deb_sha)
        box_file = build_dir / (name.replace("/", "_") + ".box")
        # root_login: Vagrant's insecure key logs in as root too (box_build.sh).
        stamp = {"input_hash": key, "name": name, "kernel_package": str(spec), "kernel_release": kernel_release,
                 "kernel_version": kernel_version, "kernel_deb_sha256": deb_sha, "suite": suite,
                 "mirror": mirror, "security_mirror": security, "root_login": True}
        step_t0 = time.monotonic()
        progress(f"box: [{step_t0 - t0:6.1f} s] package {box_file.name} ...")
        try:
            _package(work, box_file, disk_gib, stamp)
        except OSError as exc:
            raise BoxBuildError("package", str(exc), log_path=log_path) from exc
        step_t1 = time.monotonic()
        progress(f"box: [{step_t1 - t0:6.1f} s] vagrant box add {name} ...")
        _vagrant_box_add(name, box_file, log_path)
        for vol in prune_box_volumes(name):
            progress(f"box: deleted stale libvirt volume {vol}")
        _safe_rmtree(work)

        info = BoxInfo(name=name, path=box_file, version="0", kernel_package=str(spec),
                       kernel_release=kernel_release, provider="libvirt", suite=suite,
                       input_hash=key, cache_hit=False, kernel_version=kernel_version,
                       kernel_deb_sha256=deb_sha)
        data = asdict(info)
        data["path"] = str(box_file)
        data.pop("cache_hit")
        manifest_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        size_mib = box_file.stat().st_size / 2**20
        progress(f"box: built {name} (kernel {kernel_release}, package {kernel_version}, {size_mib:.0f} MiB) "
                 f"in {time.monotonic() - t0:.1f} s")
        return info


def remove_box(name: str, cache_dir: Optional[os.PathLike | str] = None,
               progress: Callable[[str], None] = print) -> list[str]:
    """Remove a box built here, everywhere it is kept: its booted snapshot (no copy of it may be
    running), Vagrant's copy, its libvirt volumes and its builds in the cache.

    Returns what was removed, one line each. Raises ``BoxBuildError`` (step ``remove``) when a
    VM of the box is running (destroy it first) or Vagrant refuses.
    """
    from harness.snapshot import Snapshot, domain_state
    from harness.targets.vagrant import box_slug

    removed = []
    domain = box_slug(name) + "_default"
    if domain_state(domain) not in ("not_created", "shut off"):
        raise BoxBuildError("remove", f"a VM of {name} is running ({domain}): destroy it first")
    snapshot = Snapshot(domain)
    if snapshot.dir.exists():
        with snapshot.locked():
            snapshot.discard()
        removed.append(f"booted snapshot {snapshot.dir}")
    (snapshot.dir.parent / f"{domain}.lock").unlink(missing_ok=True)
    if any(n == name for n, _p, _v in vagrant_boxes()):
        res = subprocess.run(["vagrant", "box", "remove", "--force", "--all", name],
                             capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            raise BoxBuildError("remove", f"vagrant box remove {name} failed", (res.stdout + res.stderr)[-2000:])
        removed.append(f"vagrant box {name}")
    removed += [f"libvirt volume {vol}" for vol in prune_box_volumes(name)]
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    for manifest in sorted(cache.glob("*/box.json")):
        info = _load_manifest(manifest)
        if info is not None and info.name == name:
            _safe_rmtree(manifest.parent)
            manifest.parent.with_suffix(".lock").unlink(missing_ok=True)
            removed.append(f"build {manifest.parent}")
    for line in removed:
        progress(f"box: removed {line}")
    return removed

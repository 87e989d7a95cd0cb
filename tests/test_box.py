"""Box builder: cache key, naming, mirror detection, cache-hit logic (no VM),
the Vagrantfile and the TCG emulator wrapper; plus one `vm` test that really
builds (or reuses) the default box."""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import box
from harness.box import BoxBuildError, BoxInfo
from harness.host_setup import _parse_info, can_open_rw, qemu_user, without_stp

REPO = Path(__file__).resolve().parents[1]
SCRIPT_TEXT = "#!/bin/bash\necho build\n"


# ------------------------------------------------------------------ naming

@pytest.mark.parametrize("release, expected", [
    ("6.1.0-28-cloud-amd64", "6.1"),
    ("6.12.38+deb12-cloud-amd64", "6.12"),
    ("6.12.95+deb12-cloud-amd64", "6.12"),
    ("5.10.0-30-amd64", "5.10"),
])
def test_kernel_major_minor(release, expected):
    assert box.kernel_major_minor(release) == expected


def test_box_name_depends_on_suite_and_kernel():
    assert box.box_name_for("bookworm", "6.1.0-28-cloud-amd64") == "netns-harness/bookworm-6.1"
    assert box.box_name_for("bookworm", "6.12.38+deb12-cloud-amd64") == "netns-harness/bookworm-6.12"
    assert box.box_name_for("trixie", "6.12.38-amd64") == "netns-harness/trixie-6.12"


@pytest.mark.parametrize("bad", ["", "vmlinuz", "linux-6.1"])
def test_kernel_major_minor_rejects_garbage(bad):
    with pytest.raises(ValueError):
        box.kernel_major_minor(bad)


# --------------------------------------------------------------- cache key

def _key(**kw):
    args = dict(kernel_package="linux-image-cloud-amd64", suite="bookworm",
                mirror="http://deb.debian.org/debian", script_text=SCRIPT_TEXT)
    args.update(kw)
    return box.input_hash(**args)


def test_input_hash_is_stable_and_short():
    assert _key() == _key()
    assert len(_key()) == 16 and int(_key(), 16) >= 0


@pytest.mark.parametrize("change", [
    {"kernel_package": "linux-image-amd64"},
    {"kernel_package": "linux-image-cloud-amd64/bookworm-backports"},
    {"suite": "trixie"},
    {"mirror": "http://mirror.example/debian"},
    {"script_text": SCRIPT_TEXT + "# changed\n"},
    {"disk_gib": 8},
    {"extra_packages": ["tcpdump"]},
])
def test_input_hash_changes_with_every_input(change):
    assert _key(**change) != _key()


def test_input_hash_normalises_mirror_slash_and_package_order():
    assert _key(mirror="http://deb.debian.org/debian/") == _key()
    assert _key(extra_packages=["b", "a"]) == _key(extra_packages=["a", "b"])


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "c"))
    assert box.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HARNESS_CACHE_DIR")
    assert box.default_cache_dir() == Path.home() / ".cache" / "netns-harness" / "boxes"


# ------------------------------------------------------------------ mirror

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822():
    assert box.mirror_from_sources({"debian.sources": DEB822}) == "http://deb.debian.org/debian"
    assert box.mirror_from_sources({"debian.sources": DEB822}, "trixie") is None


def test_mirror_from_one_line_list_with_options_and_disabled_files():
    files = {
        "nodesource.list.disabled": "deb http://other.example/debian bookworm main\n",
        "sources.list": "# comment\ndeb-src http://src.example/debian bookworm main\n"
                        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n",
    }
    assert box.mirror_from_sources(files) == "http://mirror.example/debian"


def test_mirror_skips_disabled_deb822_stanza():
    text = "Types: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n"
    assert box.mirror_from_sources({"x.sources": text}) is None


def test_host_mirror_reads_files_and_falls_back(tmp_path):
    assert box.host_mirror(root=str(tmp_path)) == box.DEFAULT_MIRROR
    d = tmp_path / "etc/apt/sources.list.d"
    d.mkdir(parents=True)
    (d / "debian.sources").write_text(DEB822.replace("deb.debian.org", "mirror.local"))
    assert box.host_mirror(root=str(tmp_path)) == "http://mirror.local/debian"


# ----------------------------------------------------------- vagrant output

def test_parse_vagrant_box_list():
    text = ("debian/bookworm64          (libvirt, 12.20240503.1)\n"
            "netns-harness/bookworm-6.1 (libvirt, 0)\n"
            "There are no installed boxes! Use `vagrant box add` to add some.\n")
    assert box.parse_vagrant_box_list(text) == [
        ("debian/bookworm64", "libvirt", "12.20240503.1"),
        ("netns-harness/bookworm-6.1", "libvirt", "0"),
    ]


def test_box_build_error_names_step_and_tail(tmp_path):
    err = BoxBuildError("debootstrap", "exit status 1", "E: Couldn't download\n", tmp_path / "build.log")
    text = str(err)
    assert "'debootstrap'" in text and "Couldn't download" in text and "build.log" in text
    assert err.step == "debootstrap" and err.output_tail.startswith("E:")


# ---------------------------------------------------------------- caching

def _seed_cache(cache: Path, key: str, name: str = "netns-harness/bookworm-6.1") -> BoxInfo:
    d = cache / key
    d.mkdir(parents=True)
    box_file = d / (name.replace("/", "_") + ".box")
    box_file.write_bytes(b"not really a box")
    info = {"name": name, "path": str(box_file), "version": "0",
            "kernel_package": "linux-image-cloud-amd64", "kernel_release": "6.1.0-28-cloud-amd64",
            "provider": "libvirt", "suite": "bookworm", "input_hash": key}
    (d / "box.json").write_text(json.dumps(info))
    return BoxInfo(**{**info, "path": box_file})


def _expected_key(mirror="http://deb.debian.org/debian"):
    return box.input_hash("linux-image-cloud-amd64", "bookworm", mirror, box.BUILD_SCRIPT.read_text(),
                          security=box.security_mirror("bookworm"))


def _vagrant_home_with_stamp(tmp_path: Path, name: str, key: str) -> Path:
    home = tmp_path / "vagrant.d"
    d = home / "boxes" / name.replace("/", "-VAGRANTSLASH-") / "0" / "libvirt"
    d.mkdir(parents=True)
    (d / box.STAMP_FILE).write_text(json.dumps({"input_hash": key}))
    return home


def _no_build(*a, **kw):
    raise AssertionError("must not build on a cache hit")


def test_cache_hit_skips_build(monkeypatch, tmp_path):
    key = _expected_key()
    seeded = _seed_cache(tmp_path / "cache", key)
    monkeypatch.setenv("VAGRANT_HOME", str(_vagrant_home_with_stamp(tmp_path, seeded.name, key)))
    monkeypatch.setattr(box, "vagrant_boxes", lambda: [(seeded.name, "libvirt", "0")])
    monkeypatch.setattr(box, "_run_script", _no_build)
    monkeypatch.setattr(box, "_vagrant_box_add", _no_build)
    lines = []
    info = box.build_box(mirror="http://deb.debian.org/debian", cache_dir=tmp_path / "cache",
                         progress=lines.append)
    assert info.cache_hit and info.name == seeded.name and info.path == seeded.path
    assert any("cache hit" in line for line in lines)


def test_box_missing_from_vagrant_is_re_added_not_rebuilt(monkeypatch, tmp_path):
    key = _expected_key()
    seeded = _seed_cache(tmp_path / "cache", key)
    monkeypatch.setenv("VAGRANT_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(box, "vagrant_boxes", lambda: [])
    monkeypatch.setattr(box, "_run_script", _no_build)
    monkeypatch.setattr(box, "prune_box_volumes", lambda name: [])
    added = []
    monkeypatch.setattr(box, "_vagrant_box_add", lambda name, path, log: added.append((name, path)))
    info = box.build_box(mirror="http://deb.debian.org/debian", cache_dir=tmp_path / "cache",
                         progress=lambda _: None)
    assert added == [(seeded.name, seeded.path)] and info.cache_hit


def test_vagrant_holding_another_build_is_not_a_hit(monkeypatch, tmp_path):
    key = _expected_key()
    seeded = _seed_cache(tmp_path / "cache", key)
    monkeypatch.setenv("VAGRANT_HOME", str(_vagrant_home_with_stamp(tmp_path, seeded.name, "0" * 16)))
    monkeypatch.setattr(box, "vagrant_boxes", lambda: [(seeded.name, "libvirt", "0")])
    assert not box._box_is_current(seeded)


def test_force_rebuilds(monkeypatch, tmp_path):
    key = _expected_key()
    seeded = _seed_cache(tmp_path / "cache", key)
    monkeypatch.setattr(box, "vagrant_boxes", lambda: [(seeded.name, "libvirt", "0")])

    class Built(Exception):
        pass

    def fake_prereq():
        raise Built()

    monkeypatch.setattr(box, "_check_prerequisites", fake_prereq)
    with pytest.raises(Built):
        box.build_box(mirror="http://deb.debian.org/debian", cache_dir=tmp_path / "cache",
                      force=True, progress=lambda _: None)


def test_safe_rmtree_refuses_mounted_trees(monkeypatch, tmp_path):
    (tmp_path / "work" / "rootfs" / "dev").mkdir(parents=True)
    monkeypatch.setattr(box, "_mounts_below", lambda p: [str(tmp_path / "work/rootfs/dev")])
    with pytest.raises(BoxBuildError, match="still mounted"):
        box._safe_rmtree(tmp_path / "work")
    assert (tmp_path / "work").exists()


def test_build_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(box.BUILD_SCRIPT)], check=True)


# -------------------------------------------------------------- host setup

def test_parse_virsh_info():
    text = "Name:           default\nUUID:  x\nState:          running\nAutostart:      no\n"
    assert _parse_info(text) == {"name": "default", "uuid": "x", "state": "running", "autostart": "no"}


def test_network_bridge_without_stp():
    xml = "<network>\n  <name>default</name>\n  <bridge name='virbr0' stp='on' delay='0'/>\n</network>\n"
    assert without_stp(xml) == xml.replace("stp='on'", "stp='off'")
    assert without_stp(xml.replace("stp='on'", "stp='off'")) is None
    assert without_stp("<network><bridge name=\"virbr1\"/></network>") is None   # libvirt's default: off


def test_qemu_user_from_qemu_conf():
    assert qemu_user('#user = "root"\n# a comment\n') == "libvirt-qemu"
    assert qemu_user('user = "qemu"\ngroup = "kvm"\n') == "qemu"


@pytest.mark.parametrize("mode, uid, gid, user, groups, expected", [
    (0o20600, 0, 0, 64055, {107, 64055}, False),     # root:root 0600, as on hosts without udev
    (0o20660, 0, 107, 64055, {107, 64055}, True),    # root:kvm 0660, Debian's udev rule
    (0o20660, 0, 107, 64055, {64055}, False),        # the qemu user not in group kvm
    (0o20666, 0, 0, 64055, {64055}, True),           # world read-write
    (0o20600, 64055, 0, 64055, {64055}, True),       # owned by the qemu user
    (0o20600, 0, 0, 0, {0}, True),                   # qemu runs as root
])
def test_can_open_rw(mode, uid, gid, user, groups, expected):
    assert can_open_rw(mode, uid, gid, user, groups) is expected


@pytest.mark.vm
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("virsh") is None, reason="needs root and libvirt")
def test_host_setup_makes_libvirt_keep_its_qemu_capabilities():
    """After host-setup, libvirt's cached qemu capabilities stay valid: a look-up does not re-probe
    qemu (which rewrote the cache file on every call while /dev/kvm was root:root 0600)."""
    from harness.host_setup import prepare_libvirt_host

    prepare_libvirt_host()
    virsh = ["virsh", "-c", "qemu:///system", "domcapabilities", "--virttype", "qemu"]
    subprocess.run(virsh, check=True, capture_output=True, timeout=120)
    cache = Path("/var/cache/libvirt/qemu/capabilities")
    before = {p: p.stat().st_mtime_ns for p in cache.glob("*.xml")}
    assert before
    for _ in range(2):
        subprocess.run(virsh, check=True, capture_output=True, timeout=120)
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.xml")} == before
    assert prepare_libvirt_host() == []   # nothing left to change


# ------------------------------------------------------- TCG wrapper script

def test_qemu_wrapper_adds_tb_size(tmp_path):
    fake = tmp_path / "fake-qemu"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    out = subprocess.run(
        ["bash", str(REPO / "harness/qemu-tcg-wrapper.sh"), "-name", "guest=x", "-accel", "tcg",
         "-cpu", "qemu64", "-machine", "none,accel=kvm:tcg"],
        env={**os.environ, "HARNESS_QEMU_BINARY": str(fake)},
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["-name", "guest=x", "-accel", "tcg,tb-size=256", "-cpu", "qemu64",
                   "-machine", "none,accel=kvm:tcg"]


# ------------------------------------------------------------- Vagrantfile

needs_vagrant = pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed")


def _validate(tmp_path, **env):
    shutil.copy(REPO / "Vagrantfile", tmp_path / "Vagrantfile")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    return subprocess.run(["vagrant", "validate"], cwd=tmp_path, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@needs_vagrant
def test_vagrantfile_validates_with_defaults(tmp_path):
    res = _validate(tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_vagrant
def test_vagrantfile_validates_for_tcg(tmp_path):
    res = _validate(tmp_path, HARNESS_BOX="netns-harness/bookworm-6.1", HARNESS_LIBVIRT_DRIVER="qemu",
                    HARNESS_QEMU_EMULATOR=str(REPO / "harness/qemu-tcg-wrapper.sh"),
                    HARNESS_VM_NAME="nh-unit", HARNESS_MEMORY="768", HARNESS_CPUS="2",
                    VAGRANT_DEFAULT_PROVIDER="libvirt")
    assert res.returncode == 0, res.stdout + res.stderr


@needs_vagrant
@pytest.mark.parametrize("env", [{"HARNESS_LIBVIRT_DRIVER": "xen"}, {"HARNESS_MEMORY": "lots"}])
def test_vagrantfile_rejects_bad_values(tmp_path, env):
    res = _validate(tmp_path, **env)
    assert res.returncode != 0


# ------------------------------------------------------------ integration

def _vm_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "building a box needs root (debootstrap, losetup, mount)"
    for tool, pkg in (("vagrant", "vagrant"), ("debootstrap", "debootstrap"), ("extlinux", "extlinux"),
                      ("qemu-img", "qemu-utils"), ("virsh", "libvirt-clients")):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return f"{tool} missing (apt-get install {pkg})"
    plugins = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True).stdout
    if "vagrant-libvirt" not in plugins:
        return "vagrant-libvirt plugin missing (apt-get install vagrant-libvirt)"
    return None


@pytest.mark.vm
def test_build_default_box_then_cache_hit():
    reason = _vm_skip_reason()
    if reason:
        pytest.skip(reason)
    first = box.build_box(progress=print)          # builds (~80 s) unless already cached
    assert first.name.startswith("netns-harness/bookworm-")
    assert first.path.is_file() and first.kernel_release
    assert (first.name, "libvirt") in {(n, p) for n, p, _ in box.vagrant_boxes()}
    second = box.build_box(progress=print)
    assert second.cache_hit and second.name == first.name and second.input_hash == first.input_hash


# ------------------------------------------------------------- kernel specs

@pytest.mark.parametrize("text, package, release, suite", [
    ("linux-image-cloud-amd64", "linux-image-cloud-amd64", None, "bookworm"),
    ("linux-image-cloud-amd64@bullseye", "linux-image-cloud-amd64", None, "bullseye"),
    ("linux-image-cloud-amd64/trixie", "linux-image-cloud-amd64", None, "trixie"),
    ("linux-image-cloud-amd64/bookworm-backports", "linux-image-cloud-amd64", "bookworm-backports", "bookworm"),
    ("linux-image-cloud-amd64/trixie-backports@trixie", "linux-image-cloud-amd64", "trixie-backports", "trixie"),
    ("linux-image-cloud-amd64/experimental", "linux-image-cloud-amd64", "experimental", "sid"),
    ("linux-image-6.1.0-47-cloud-amd64", "linux-image-6.1.0-47-cloud-amd64", None, "bookworm"),
    ("linux-image-6.12.43+deb12-cloud-amd64/bookworm-backports", "linux-image-6.12.43+deb12-cloud-amd64",
     "bookworm-backports", "bookworm"),
])
def test_parse_kernel_spec(text, package, release, suite):
    spec = box.parse_kernel_spec(text)
    assert (spec.package, spec.release, spec.suite, spec.deb) == (package, release, suite, None)
    assert box.parse_kernel_spec(str(spec)) == spec   # written out, it reads back the same


def test_parse_kernel_spec_suite_argument_and_pins():
    assert box.parse_kernel_spec("linux-image-cloud-amd64", suite="sid").suite == "sid"
    assert box.parse_kernel_spec("linux-image-cloud-amd64@sid", suite="sid").suite == "sid"
    assert box.parse_kernel_spec("linux-image-6.1.0-47-cloud-amd64").pins_abi
    assert not box.parse_kernel_spec("linux-image-cloud-amd64").pins_abi


def test_parse_kernel_spec_local_deb(tmp_path):
    deb = tmp_path / "linux-image-6.1.0-47-cloud-amd64_6.1.170-3_amd64.deb"
    deb.write_bytes(b"!<arch>\n")
    spec = box.parse_kernel_spec(f"{deb}@trixie")
    assert (spec.package, spec.deb, spec.suite) == ("", deb, "trixie")
    assert str(spec) == f"{deb}@trixie"


@pytest.mark.parametrize("text, suite, words", [
    ("", None, "empty kernel"),
    ("@bullseye", None, "empty kernel"),
    ("linux-image-cloud-amd64@", None, "nothing after '@'"),
    ("linux-image-cloud-amd64@bullseye", "trixie", "says suite bullseye, --suite says trixie"),
    ("linux-image-cloud-amd64@Bad Suite", None, "not a Debian suite name"),
    ("linux-image-cloud-amd64/a b", None, "not a Debian release name"),
    ("Linux-Image", None, "not a Debian package name"),
    ("/no/such/kernel.deb", None, "not a readable file"),
])
def test_parse_kernel_spec_refuses(text, suite, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        box.parse_kernel_spec(text, suite)


def test_box_names_for_lines_abis_and_local_debs(monkeypatch):
    assert box.box_name_for("bullseye", "5.10.0-46-cloud-amd64") == "netns-harness/bullseye-5.10"
    assert box.box_name_for("sid", "7.2.13+deb14-cloud-amd64") == "netns-harness/sid-7.2"
    assert box.box_name_for("bookworm", "6.1.0-47-cloud-amd64", exact=True) == \
        "netns-harness/bookworm-6.1.0-47-cloud-amd64"
    assert box.box_name_for("trixie", "6.12.43+deb13-cloud-amd64", exact=True) == \
        "netns-harness/trixie-6.12.43-deb13-cloud-amd64"     # Vagrant takes no '+'
    assert box.box_name_for("bookworm", "6.1.0-47-cloud-amd64", local_sha256="1a2b3c4d" + "0" * 56) == \
        "netns-harness/bookworm-6.1.0-47-cloud-amd64-local-1a2b3c4d"
    monkeypatch.setenv("HARNESS_BOX_PREFIX", "netns-harness-ci")
    assert box.box_name_for("bookworm", "6.1.0-47-cloud-amd64") == "netns-harness-ci/bookworm-6.1"
    assert box.is_built_here("netns-harness-ci/bookworm-6.1") and not box.is_built_here("debian/bookworm64")
    monkeypatch.setenv("HARNESS_BOX_PREFIX", "mine")
    with pytest.raises(ValueError, match="must start with netns-harness"):
        box.box_prefix()


def test_input_hash_of_a_local_deb_and_a_prefix():
    assert _key(kernel_package="", kernel_deb_sha256="a" * 64) != _key(kernel_package="", kernel_deb_sha256="b" * 64)
    assert _key(prefix="netns-harness-ci") != _key()
    assert _key(security="http://deb.debian.org/debian-security") != _key()


def test_security_mirror(monkeypatch, tmp_path):
    assert box.security_mirror("sid", root=str(tmp_path)) is None
    assert box.security_mirror("bullseye", root=str(tmp_path)) == box.DEFAULT_SECURITY_MIRROR
    d = tmp_path / "etc/apt/sources.list.d"
    d.mkdir(parents=True)
    (d / "debian.sources").write_text(DEB822.replace("deb.debian.org/debian-security", "mirror.local/security"))
    assert box.security_mirror("bookworm", root=str(tmp_path)) == "http://mirror.local/security"
    monkeypatch.setenv("HARNESS_SECURITY_MIRROR", "none")
    assert box.security_mirror("bookworm", root=str(tmp_path)) is None


def test_build_script_takes_a_kernel_deb_or_a_package():
    text = box.BUILD_SCRIPT.read_text()
    res = subprocess.run(["bash", str(box.BUILD_SCRIPT), "--suite", "x", "--mirror", "m", "--pubkey", "/dev/null",
                          "--workdir", "/nonexistent"], capture_output=True, text=True)
    assert res.returncode == 2 and "missing --kernel or --kernel-deb" in res.stderr
    assert "--kernel-deb" in text and "Check-Valid-Until=false" in text

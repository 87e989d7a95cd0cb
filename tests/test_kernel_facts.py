"""Kernel facts: the upstream version behind a distribution's release, the build id, config options
that scenarios require, and the SKIP that names a missing option. Parsers run on real output (this
machine's /sys/kernel/notes, Debian kernels' `uname -v` from the matrix boxes); the requirement
checks run real scenarios on this machine."""

import os
import subprocess

import pytest

from conftest import needs_root
from harness.facts import (Facts, build_id_from_notes, gather_facts, parse_facts, unmet_needs,
                           upstream_version)
from harness.loader import load_scenario
from harness.runner import run_scenario
from harness.targets.local import LocalTarget

# `od -An -v -tx1 /sys/kernel/notes` on this project's machine (6.18.44-fc-v657, an Amazon Linux
# build): the GNU build-id note first, then Linux and Xen notes.
NOTES = ("040000001400000003000000474e550048dc540c8b76393804ca8088dbfa7d42911a9444060000000400000001010000"
         "4c696e757800000000000000060000001e000000000100004c696e7578000000362e312e3130322d312e3138322e616d"
         "7a6e323032332e7838365f3634000000040000000c0000001300000058656e000000000100000001ffffff3f04000000"
         "080000001200000058656e0000fe780300000000")


def test_build_id_from_real_notes():
    assert build_id_from_notes(NOTES) == "48dc540c8b76393804ca8088dbfa7d42911a9444"
    # od prints 16 bytes a line with spaces: the same bytes, however they are spread.
    spaced = " ".join(NOTES[i:i + 2] for i in range(0, len(NOTES), 2))
    assert build_id_from_notes(spaced) == "48dc540c8b76393804ca8088dbfa7d42911a9444"


@pytest.mark.parametrize("text", ["", "zz", NOTES[:40], "0400000014000000ffffffff"])
def test_build_id_from_notes_without_one(text):
    assert build_id_from_notes(text) == ""


@pytest.mark.parametrize("release, build, signature, version", [
    # `uname -r` and `uname -v` of the matrix's boxes (Debian kernels name their package version).
    ("5.10.0-46-cloud-amd64", "#1 SMP Debian 5.10.262-1 (2026-10-31)", "", "5.10.262"),
    ("6.1.0-50-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-06-11)", "", "6.1.176"),
    ("6.12.117+deb13-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1 (2026-10-25)", "", "6.12.117"),
    ("7.3-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 7.3~rc7-1~exp1 (2026-10-28)", "", "7.3"),
    # Ubuntu: /proc/version_signature ends with the upstream version.
    ("6.8.0-45-generic", "#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024",
     "Ubuntu 6.8.0-45.45-generic 6.8.12", "6.8.12"),
    # A kernel of one's own (make bindeb-pkg) or this machine's: the release's own numbers.
    ("6.18.44-fc-v657", "#1 SMP PREEMPT_DYNAMIC @0", "", "6.18.44"),
    ("7.2.0-rc3+", "#4 SMP PREEMPT_DYNAMIC Mon Nov 30 09:12:44 UTC 2026", "", "7.2.0"),
])
def test_upstream_version(release, build, signature, version):
    assert upstream_version(release, build, signature) == version


def _requiring(tmp_path, requires: str):
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nrequires: {requires}\nnamespaces:\n  a:\n"
                    "checks:\n  - sysctl: {namespace: a, key: net.ipv4.ip_forward, value: '0'}\n")
    return load_scenario(path)


# A target with what every scenario needs (namespaces, veth pairs, ip, ping, sysctl).
EVERYTHING = {"features": {"netns": True, "veth": True}, "tools": {"ip": True, "ping": True, "sysctl": True}}


def test_requires_kernel_reads_the_upstream_version(tmp_path):
    facts = Facts(kernel="6.1.0-50-cloud-amd64", kernel_version="6.1.176", **EVERYTHING)
    assert unmet_needs(_requiring(tmp_path, "{kernel: '6.1.176'}"), facts) == []
    assert unmet_needs(_requiring(tmp_path, "{kernel: '6.1.177'}"), facts) == \
        ["needs kernel >= 6.1.177, target runs 6.1.0-50-cloud-amd64 (6.1.176)"]
    # Facts from an older harness have no version: the release decides, as before.
    assert unmet_needs(_requiring(tmp_path, "{kernel: '6.1'}"), Facts(kernel="6.1.0-50-cloud-amd64", **EVERYTHING)) == []


def test_requires_config_reasons(tmp_path):
    scenario = _requiring(tmp_path, "{config: [CONFIG_NET_VRF, CONFIG_VETH, CONFIG_HZ]}")
    facts = Facts(kernel="6.1.0-50-cloud-amd64", config_source="/boot/config-6.1.0-50-cloud-amd64",
                  config={"CONFIG_NET_VRF": "n", "CONFIG_VETH": "m", "CONFIG_HZ": "250"}, **EVERYTHING)
    assert unmet_needs(scenario, facts) == [
        "needs CONFIG_NET_VRF, which kernel 6.1.0-50-cloud-amd64 was built without (/boot/config-6.1.0-50-cloud-amd64)"]
    unreadable = Facts(kernel="7.2.0-rc3+", **EVERYTHING)
    assert unmet_needs(scenario, unreadable)[0] == ("needs CONFIG_NET_VRF, but the target's kernel config cannot be "
                                                    "read (no /boot/config-7.2.0-rc3+, no /proc/config.gz)")


def test_parse_facts_reads_build_and_config_lines():
    facts = parse_facts("kernel=5.10.0-46-cloud-amd64\nbuild=#1 SMP Debian 5.10.262-1 (2026-10-31)\n"
                        f"notes={NOTES}\nconfig_source=/boot/config-5.10.0-46-cloud-amd64\n"
                        "config.CONFIG_NET_VRF=m\nconfig.CONFIG_DUMMY=n\n")
    assert facts.kernel_version == "5.10.262" and facts.build_id.startswith("48dc540c")
    assert facts.config == {"CONFIG_NET_VRF": "m", "CONFIG_DUMMY": "n"}


def _config_of_this_kernel() -> dict[str, str]:
    release = os.uname().release
    path = f"/boot/config-{release}"
    text = open(path).read() if os.path.exists(path) else \
        subprocess.run(["zcat", "/proc/config.gz"], capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if line.startswith("CONFIG_"))


@needs_root
@pytest.mark.skipif(not (os.path.exists(f"/boot/config-{os.uname().release}") or os.path.exists("/proc/config.gz")),
                    reason="this kernel's config is not readable")
def test_config_requirements_on_this_machine(tmp_path, no_leftovers):
    """What this kernel was built with decides: an option it has runs the scenario, one it lacks
    SKIPs it naming the option, and a missing feature's SKIP names its option too."""
    config = _config_of_this_kernel()
    have = next(o for o in ("CONFIG_VETH", "CONFIG_NET_NS") if config.get(o) in ("y", "m"))
    lacking = next((o for o in ("CONFIG_NET_VRF", "CONFIG_DUMMY", "CONFIG_BONDING", "CONFIG_NET_SCH_NETEM")
                    if o not in config), None)
    target = LocalTarget()
    facts = gather_facts(target)
    assert facts.build_id and facts.config_source and facts.kernel_version
    ran = run_scenario(_requiring(tmp_path, f"{{config: [{have}]}}"), target, facts=facts)
    assert ran.status == "PASS", ran.reason
    assert facts.config[have] == config[have]
    if lacking is None:
        pytest.skip("this kernel has every option the test could find missing")
    skipped = run_scenario(_requiring(tmp_path, f"{{config: [{lacking}]}}"), target, facts=facts)
    assert skipped.status == "SKIP" and f"needs {lacking}, which kernel {facts.kernel} was built without" \
        in skipped.reason
    if lacking == "CONFIG_NET_VRF" and not facts.features.get("vrf"):
        vrf = run_scenario(load_scenario("scenarios/vrf.yaml"), target, facts=facts)
        assert vrf.status == "SKIP" and "vrf, which the target lacks (CONFIG_NET_VRF is not set in" in vrf.reason

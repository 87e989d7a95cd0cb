"""The kernel matrix: kernel ids, the report's cells, notes and facts rows, and the pytest
plugin's ``--kernels`` run (with fake VMs on this machine, and one ``vm`` test for real)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SCENARIOS, harness_namespaces, inner_pytest, needs_root
from harness.facts import Facts
from harness.kernels import KERNELS, kernel_id, parse_kernels, resolve_kernel
from harness.matrix import KernelRun, build_matrix, reason_of, render_markdown, render_text, result_from_dict
from harness.runner import CheckResult, ScenarioResult

# -- kernel ids ----------------------------------------------------------------------------


def test_kernel_ids_map_to_packages_and_back():
    assert resolve_kernel("kernel-6.1") == ("kernel-6.1", "linux-image-cloud-amd64@bookworm")
    assert resolve_kernel("kernel-5.10") == ("kernel-5.10", "linux-image-cloud-amd64@bullseye")
    assert resolve_kernel(" linux-image-cloud-amd64@trixie ") == ("kernel-6.12", "linux-image-cloud-amd64@trixie")
    assert kernel_id("linux-image-cloud-amd64@sid") == "kernel-sid"
    # A package not in the mapping: its id is made from its name.
    assert resolve_kernel("linux-image-6.1.0-28-cloud-amd64") == \
        ("linux-image-6.1.0-28-cloud-amd64", "linux-image-6.1.0-28-cloud-amd64")
    assert kernel_id("linux-image-amd64/trixie") == "linux-image-amd64-trixie"
    assert kernel_id("linux-image-cloud-amd64/bookworm-backports@bookworm") == \
        "linux-image-cloud-amd64-bookworm-backports-bookworm"


def test_the_default_lines_run_from_bullseye_to_sid():
    from harness.box import parse_kernel_spec

    suites = [parse_kernel_spec(spec).suite for spec in KERNELS.values()]
    assert suites == ["bullseye", "bookworm", "trixie", "sid"]
    assert list(KERNELS) == ["kernel-5.10", "kernel-6.1", "kernel-6.12", "kernel-sid"]


def test_a_local_deb_is_a_kernel_by_its_file_name(tmp_path, monkeypatch):
    deb = tmp_path / "linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb"
    deb.write_bytes(b"!<arch>\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_kernel(deb.name) == ("linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64", str(deb))
    assert resolve_kernel(f"{deb.name}@trixie") == \
        ("linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64-trixie", f"{deb}@trixie")
    with pytest.raises(ValueError, match="no such file"):
        resolve_kernel("missing.deb")


def test_parse_kernels_keeps_order_and_drops_duplicates():
    assert parse_kernels("kernel-6.12,kernel-6.1") == [("kernel-6.12", KERNELS["kernel-6.12"]),
                                                       ("kernel-6.1", KERNELS["kernel-6.1"])]
    assert parse_kernels("kernel-6.1,linux-image-cloud-amd64@bookworm,") == [("kernel-6.1", KERNELS["kernel-6.1"])]


@pytest.mark.parametrize("text, words", [("kernel-4.19", "unknown kernel id 'kernel-4.19'"),
                                         (",", "at least one kernel"), ("", "at least one kernel")])
def test_parse_kernels_rejects_bad_input(text, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_kernels(text)


# -- rendering -----------------------------------------------------------------------------

def _check(status, name="ping a -> b", reason=""):
    return CheckResult(id="c1", name=name, kind="ping", step="checks", status=status, reason=reason,
                       expected={}, observed={})


def _facts(release, vrf=True):
    return Facts(kernel=release, iproute2="ip utility, iproute2-6.1.0", ping="ping from iputils 20221126",
                 features={"netns": True, "veth": True, "vrf": vrf}, tools={"nft": True})


@pytest.fixture
def runs():
    old = KernelRun(
        id="kernel-6.1", package="linux-image-cloud-amd64", facts=_facts("6.1.0-50-cloud-amd64", vrf=False),
        target={"box": "netns-harness/bookworm-6.1"}, details="kernel-6.1.json",
        needs={"veth-pair": {"features": ["netns", "veth"], "tools": ["ip", "ping", "sysctl"]},
               "vrf": {"features": ["netns", "veth", "vrf"], "tools": ["ip", "ping", "sysctl"]},
               "firewall": {"features": ["netns", "nftables"], "tools": ["ip", "nft", "ping", "sysctl"]}},
        results=[
            ScenarioResult("veth-pair", "scenarios/veth-pair.yaml", "PASS", checks=[_check("PASS")]),
            ScenarioResult("vrf", "scenarios/vrf.yaml", "SKIP",
                           reason="needs kernel support for vrf, which the target lacks"),
            ScenarioResult("firewall", "f.yaml", "FAIL", checks=[
                _check("PASS"), _check("FAIL", "ping a -> c unreachable", "3/3 replies | expected none")]),
        ])
    new = KernelRun(
        id="kernel-6.12", package="linux-image-cloud-amd64/bookworm-backports", facts=_facts("6.12.48+deb12-cloud-amd64"),
        target={"box": "netns-harness/bookworm-6.12"}, details="kernel-6.12.json",
        needs={"veth-pair": {"features": ["netns", "veth"], "tools": []},
               "vrf": {"features": ["netns", "veth", "vrf"], "tools": [], "config": ["CONFIG_NET_VRF"]}},
        results=[
            ScenarioResult("veth-pair", "scenarios/veth-pair.yaml", "ERROR", reason="the VM is gone"),
            ScenarioResult("vrf", "scenarios/vrf.yaml", "XFAIL", reason="expected failure: bug 1 (ref)"),
        ])
    return [old, new]


def test_cells_and_numbered_notes(runs):
    m = build_matrix(runs)
    assert m.kernels == ["kernel-6.1", "kernel-6.12"]
    assert m.scenarios == ["firewall", "veth-pair", "vrf"]
    status = {key: (cell.status, cell.note) for key, cell in m.cells.items()}
    assert status == {
        ("firewall", "kernel-6.1"): ("FAIL", 1), ("firewall", "kernel-6.12"): ("-", None),
        ("veth-pair", "kernel-6.1"): ("PASS", None), ("veth-pair", "kernel-6.12"): ("ERROR", 2),
        ("vrf", "kernel-6.1"): ("SKIP", 3), ("vrf", "kernel-6.12"): ("XFAIL", 4),
    }
    assert [(n.number, n.scenario, n.kernel, n.status) for n in m.notes] == [
        (1, "firewall", "kernel-6.1", "FAIL"), (2, "veth-pair", "kernel-6.12", "ERROR"),
        (3, "vrf", "kernel-6.1", "SKIP"), (4, "vrf", "kernel-6.12", "XFAIL")]
    assert m.notes[2].text == "needs kernel support for vrf, which the target lacks"


def test_a_fail_note_names_the_failed_checks():
    result = ScenarioResult("s", "s.yaml", "FAIL",
                            checks=[_check("FAIL", f"check {i}", f"why {i}") for i in range(5)] + [_check("PASS")])
    assert reason_of(result) == "failed checks: check 0: why 0; check 1: why 1; check 2: why 2; and 2 more"


def test_facts_rows_cover_the_features_and_tools_asked_for(runs):
    rows = dict(build_matrix(runs).facts)
    assert rows["kernel release"] == ["6.1.0-50-cloud-amd64", "6.12.48+deb12-cloud-amd64"]
    assert rows["box"] == ["netns-harness/bookworm-6.1", "netns-harness/bookworm-6.12"]
    assert rows["iproute2"] == ["ip utility, iproute2-6.1.0"] * 2
    assert rows["ping"] == ["ping from iputils 20221126"] * 2
    assert rows["feature vrf"] == ["no", "yes"]
    assert rows["feature nftables"] == ["?", "?"]  # asked for, never probed in these facts
    assert rows["tool nft"] == ["yes", "yes"]      # base tools (ip, ping, sysctl) get no row
    assert "tool ip" not in rows
    assert rows["config CONFIG_NET_VRF"] == ["?", "?"]   # asked for by vrf, not read from either kernel
    assert rows["summary"][0] == "1 passed, 1 failed, 0 errors, 1 skipped"
    assert [label for label, _ in build_matrix(runs).facts][:7] == \
        ["package", "box", "kernel release", "kernel version", "userspace", "iproute2", "ping"]


def test_render_text(runs):
    text = render_text(runs)
    lines = text.splitlines()
    assert re.match(r"scenario +kernel-6\.1 +kernel-6\.12$", lines[0])
    assert re.match(r"vrf +SKIP \[3\] +XFAIL \[4\]$", lines[4])
    assert re.match(r"firewall +FAIL \[1\] +-$", lines[2])
    assert "[3] vrf on kernel-6.1: SKIP: needs kernel support for vrf, which the target lacks" in lines
    assert "[1] firewall on kernel-6.1: FAIL: failed checks: ping a -> c unreachable: 3/3 replies | expected none" in lines
    assert re.search(r"^feature vrf +no +yes$", text, re.M)
    assert text.endswith("details: kernel-6.1: kernel-6.1.json, kernel-6.12: kernel-6.12.json")


def test_render_markdown_links_cells_and_footnotes(runs):
    md = render_markdown(runs, command="pytest scenarios --kernels kernel-6.1,kernel-6.12")
    assert "| scenario | kernel-6.1 | kernel-6.12 |\n| --- | --- | --- |" in md
    assert "| vrf | [SKIP](kernel-6.1.json)[^3] | [XFAIL](kernel-6.12.json)[^4] |" in md
    assert "| firewall | [FAIL](kernel-6.1.json)[^1] | - |" in md
    assert "| veth-pair | [PASS](kernel-6.1.json) | [ERROR](kernel-6.12.json)[^2] |" in md
    assert "[^3]: vrf on kernel-6.1: SKIP: needs kernel support for vrf, which the target lacks" in md
    # A pipe in a reason must not break the table row or the footnote.
    assert "3/3 replies \\| expected none" in md
    assert "| kernel release | 6.1.0-50-cloud-amd64 | 6.12.48+deb12-cloud-amd64 |" in md
    assert "| feature vrf | no | yes |" in md
    assert "`pytest scenarios --kernels kernel-6.1,kernel-6.12`" in md


def test_a_kernel_that_never_came_up():
    run = KernelRun(id="kernel-6.12", package="p", error="worker gw1 went down without results")
    text = render_text([run])
    assert "(no scenario ran)" in text and "[1] kernel-6.12: ERROR: worker gw1 went down" in text
    assert re.search(r"^kernel release +\?$", text, re.M)
    assert "| (no scenario ran) | |" in render_markdown([run])


def test_result_round_trips_through_a_dict(runs):
    result = runs[0].results[2]
    again = result_from_dict({**result.to_dict(), "field_from_a_newer_harness": 1})
    assert again.status == "FAIL" and again.checks[1].reason == result.checks[1].reason
    assert reason_of(again) == reason_of(result)


# -- the plugin with fake VMs on this machine ---------------------------------------------

# A stand-in for VagrantTarget: runs on this machine, claims the kernel its package names,
# and logs set_outcome/close so the test can see each "VM" closed once with the right outcome.
FAKE_VM = '''
import dataclasses, os, re
import harness.targets.vagrant as vagrant
from harness.targets.local import LocalTarget

RELEASES = {"fake-old": "6.1.0-99-fake", "fake-new": "6.12.99-fake"}

class FakeVM(LocalTarget):
    def __init__(self, box_kernel=None, destroy=None, reuse=None, progress=None, **_):
        super().__init__()
        self.kernel_package, self.passed = box_kernel, None
        progress(f"fake vagrant up {box_kernel} pid {os.getpid()}")

    def run(self, script, *, timeout):
        result = super().run(script, timeout=timeout)
        stdout = re.sub(r"^kernel=.*$", "kernel=" + RELEASES[self.kernel_package], result.stdout, flags=re.M)
        return dataclasses.replace(result, stdout=stdout)

    def describe(self):
        return {"target": "vagrant", "box": "fake/" + self.kernel_package}

    def set_outcome(self, passed):
        self.passed = passed

    def close(self):
        with open(os.environ["FAKE_VM_LOG"], "a") as log:
            log.write(f"{self.kernel_package} {os.getpid()} passed={self.passed}\\n")

def pytest_configure(config):
    vagrant.VagrantTarget = FakeVM
'''


@pytest.fixture
def fake_matrix(pytester, monkeypatch):
    """(project folder, run): run(*ARGS) runs pytest on the project's scenarios with two fake
    kernels and returns (CompletedProcess, the "VM" closes logged). In this process (pytester),
    or in a new interpreter when xdist workers run: they take the sys.path xdist saw at its
    import, which lacks the project's fakevm plugin."""
    import harness.targets.vagrant as vagrant

    tmp_path = pytester.path
    (tmp_path / "fakevm.py").write_text(FAKE_VM)
    pytester.syspathinsert()
    # fakevm replaces VagrantTarget in this process too: put it back after the test.
    monkeypatch.setattr(vagrant, "VagrantTarget", vagrant.VagrantTarget)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name in ("veth-pair", "multipath-hash-seed"):
        shutil.copy(SCENARIOS / f"{name}.yaml", scenarios)
    (scenarios / "wrong-ttl.yaml").write_text(
        (SCENARIOS / "veth-pair.yaml").read_text().replace("name: veth-pair", "name: wrong-ttl")
        .replace("{from: host, to: 10.0.0.2, ttl: 64}", "{from: host, to: 10.0.0.2, ttl: 63}"))
    log = tmp_path / "vm.log"
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{REPO}")
    monkeypatch.setenv("FAKE_VM_LOG", str(log))

    def run(*args, report="out/matrix.md", plugin=("-p", "fakevm"), kernels=("--harness-kernels", "fake-old,fake-new")):
        args = (*plugin, str(scenarios), *kernels, "--harness-matrix-report", str(tmp_path / report), *args)
        proc = inner_pytest(pytester, *args, new_process="-n" in args)
        closes = sorted(log.read_text().splitlines()) if log.exists() else []
        return proc, closes

    return tmp_path, run


@needs_root
@pytest.mark.parametrize("xdist", [[], ["-n", "2", "--dist", "loadgroup"], ["-n", "2"]],
                         ids=["serial", "loadgroup", "n-implies-loadgroup"])
def test_plugin_matrix_with_fake_vms(fake_matrix, xdist):
    tmp_path, run = fake_matrix
    proc, closes = run("-v", *xdist)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr  # wrong-ttl fails on both kernels
    for item in ("veth-pair.yaml::ping host -> 10.0.0.2 ttl=64[fake-old]",
                 "veth-pair.yaml::ping host -> 10.0.0.2 ttl=64[fake-new]", "multipath-hash-seed.yaml::"):
        assert item in out
    assert re.search(r"^multipath-hash-seed +SKIP \[1\] +PASS$", out, re.M), out
    assert re.search(r"^veth-pair +PASS +PASS$", out, re.M), out
    assert re.search(r"^wrong-ttl +FAIL \[2\] +FAIL \[3\]$", out, re.M), out
    assert "[1] multipath-hash-seed on fake-old: SKIP: needs kernel >= 6.11, target runs 6.1.0-99-fake" in out
    assert re.search(r"^kernel release +6\.1\.0-99-fake +6\.12\.99-fake$", out, re.M), out
    assert "details: fake-old: out/fake-old.json, fake-new: out/fake-new.json" in out
    # Each kernel's "VM" was closed once, as failed (wrong-ttl); under xdist by different workers.
    assert [line.split()[0] + " " + line.split()[2] for line in closes] == \
        ["fake-new passed=False", "fake-old passed=False"]
    if xdist:
        assert closes[0].split()[1] != closes[1].split()[1], closes
    md = (tmp_path / "out" / "matrix.md").read_text()
    assert "| multipath-hash-seed | [SKIP](fake-old.json)[^1] | [PASS](fake-new.json) |" in md
    old = json.loads((tmp_path / "out" / "fake-old.json").read_text())
    new = json.loads((tmp_path / "out" / "fake-new.json").read_text())
    assert old["target"]["kernel"] == "6.1.0-99-fake" and old["target"]["kernel_id"] == "fake-old"
    assert sorted(s["name"] for s in old["scenarios"]) == ["multipath-hash-seed", "veth-pair", "wrong-ttl"]
    # Namespaces of these runs are gone (others' concurrent runs may have their own: look at ours).
    run_ids = {s["run_id"] for s in old["scenarios"] + new["scenarios"] if s["run_id"]}
    assert len(run_ids) == 5
    assert not [ns for ns in harness_namespaces() if ns[2:8] in run_ids]


def _table_and_notes(markdown: str) -> str:
    """A matrix report without its first lines (the command that made it)."""
    return markdown.split("\n| scenario |", 1)[1]


def _junit_cases(path) -> dict[str, str]:
    import xml.etree.ElementTree as ET

    cases = {}
    for case in ET.parse(path).iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        cases[case.get("name")] = outcome
    return cases


@needs_root
def test_two_shards_merged_give_the_unsharded_matrix(fake_matrix):
    """The same scenarios and kernels as one run and as two parts, each its own pytest run:
    `harness matrix merge` of the parts' files gives the one run's matrix and its JUnit cases."""
    tmp_path, run = fake_matrix
    whole, _ = run("--junitxml", str(tmp_path / "whole.xml"), report="whole/matrix.md")
    assert whole.returncode == 1, whole.stdout + whole.stderr
    deselected = []
    for part in ("1/2", "2/2"):
        proc, _ = run("--harness-shard", part, "-v", report=f"part{part[0]}/matrix.md")
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        assert f"part {part[0]} of 2" in proc.stdout
        deselected.append(int(re.search(r"(\d+) deselected", proc.stdout).group(1)))
    parts = sorted((tmp_path / "part1").glob("*.json")) + sorted((tmp_path / "part2").glob("*.json"))
    # 3 scenarios x 2 kernels = 6 cells: part 1 has fake-old's 3, part 2 fake-new's 3.
    assert [p.name for p in parts] == ["fake-old.shard-1-of-2.json", "fake-new.shard-2-of-2.json"]
    assert all(deselected)
    merged = subprocess.run([sys.executable, "-m", "harness.cli", "matrix", "merge", *map(str, parts),
                             "--report", str(tmp_path / "merged" / "matrix.md"),
                             "--junit", str(tmp_path / "merged" / "matrix.xml")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert merged.returncode == 1, merged.stdout + merged.stderr   # wrong-ttl fails
    one = (tmp_path / "whole" / "matrix.md").read_text()
    assert _table_and_notes((tmp_path / "merged" / "matrix.md").read_text()) == _table_and_notes(one)
    assert re.search(r"^multipath-hash-seed +SKIP \[1\] +PASS$", merged.stdout, re.M), merged.stdout
    assert _junit_cases(tmp_path / "merged" / "matrix.xml") == _junit_cases(tmp_path / "whole.xml")
    # The merged per-kernel files are whole again, and name what they were merged from.
    again = json.loads((tmp_path / "merged" / "fake-old.json").read_text())
    assert len(again["scenarios"]) == 3 and len(again["target"]["matrix"]["merged_from"]) == 2


@needs_root
def test_three_parts_cut_a_kernel_and_merge_checks_its_input(fake_matrix):
    tmp_path, run = fake_matrix
    for part in ("1/3", "2/3", "3/3"):
        proc, _ = run("--harness-shard", part, report=f"p{part[0]}/matrix.md")
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    files = sorted(str(p) for p in tmp_path.glob("p*/*.json"))
    # 6 cells in 3 parts of 2: part 2 has fake-old's last cell and fake-new's first.
    assert [os.path.basename(f) for f in files] == ["fake-old.shard-1-of-3.json", "fake-new.shard-2-of-3.json",
                                                    "fake-old.shard-2-of-3.json", "fake-new.shard-3-of-3.json"]

    def merge(*paths):
        return subprocess.run([sys.executable, "-m", "harness.cli", "matrix", "merge", *paths,
                               "--report", str(tmp_path / "m" / "matrix.md"), "--junit", str(tmp_path / "m" / "j.xml")],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)

    proc = merge(*files)
    assert proc.returncode == 1 and re.search(r"^veth-pair +PASS +PASS$", proc.stdout, re.M), proc.stdout
    twice = merge(*files, files[0])
    assert twice.returncode == 2 and "was one part given twice?" in twice.stderr
    missing = merge(*[f for f in files if "shard-3-of-3" not in f])
    assert missing.returncode == 2 and "warning: part 3/3 is missing" in missing.stderr
    not_ours = tmp_path / "other.json"
    not_ours.write_text('{"scenarios": []}')
    bad = merge(str(not_ours))
    assert bad.returncode == 2 and "not a kernel matrix results file" in bad.stderr
    assert bad.stderr.count("\n") == 1   # one line, no traceback


def test_shard_option_needs_a_matrix_and_a_part(fake_matrix):
    tmp_path, run = fake_matrix
    proc, _ = run("--harness-shard", "3/2")
    assert proc.returncode == 4 and "K must be between 1 and N" in proc.stderr
    proc, _ = run("--harness-shard", "1/2", plugin=(), kernels=())
    assert proc.returncode == 4 and "--harness-shard splits a kernel matrix: add --harness-kernels" in proc.stderr


def test_plugin_matrix_rejects_conflicting_options(fake_matrix):
    _, run = fake_matrix
    proc, _ = run("--harness-box-kernel", "x")
    assert proc.returncode == 4 and "--harness-kernels chooses the boxes itself" in proc.stderr
    proc, _ = run("-n", "2", "--dist", "loadfile")
    assert proc.returncode == 4 and "use --dist loadgroup, not --dist loadfile" in proc.stderr
    proc, _ = run(plugin=(), kernels=("--harness-kernels", "linux-image-cloud-amd64@"))
    assert proc.returncode == 4 and "--harness-kernels: kernel 'linux-image-cloud-amd64@': nothing after '@'" \
        in proc.stderr


# -- for real: two VMs, one per kernel ----------------------------------------------------

def _domains() -> set:
    out = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"],
                         capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip().startswith("netns-harness")}


@pytest.mark.vm
@pytest.mark.boxes   # builds the trixie box, which no other test needs (~1.5 min from the mirror)
@pytest.mark.skipif(os.geteuid() != 0, reason="building boxes and running VMs needs root")
@pytest.mark.skipif(not shutil.which("vagrant"), reason="needs vagrant (bash .ci/bootstrap.sh --vm)")
@pytest.mark.skipif(not shutil.which("virsh"), reason="needs libvirt (bash .ci/bootstrap.sh --vm)")
def test_matrix_on_two_kernels_for_real(tmp_path):
    from harness.host_setup import prepare_libvirt_host

    prepare_libvirt_host()
    before = _domains()
    ours = {"netns-harness-bookworm-6.1_default", "netns-harness-trixie-6.12_default"}
    if before & ours:
        pytest.skip(f"a VM of these boxes is already up (another run's?): {sorted(before & ours)}")
    report = tmp_path / "matrix.md"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "scenarios/veth-pair.yaml", "scenarios/multipath-hash-seed.yaml",
         "--harness-kernels", "kernel-6.1,kernel-6.12", "-n", "2", "--dist", "loadgroup", "--harness-matrix-report", str(report)],
        capture_output=True, text=True, cwd=REPO, timeout=1800)
    try:
        assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
        assert re.search(r"^veth-pair +PASS +PASS$", proc.stdout, re.M), proc.stdout
        assert re.search(r"^multipath-hash-seed +SKIP \[1\] +PASS$", proc.stdout, re.M), proc.stdout
        md = report.read_text()
        assert "| scenario | kernel-6.1 | kernel-6.12 |" in md
        assert "| multipath-hash-seed | [SKIP](kernel-6.1.json)[^1] | [PASS](kernel-6.12.json) |" in md
        assert re.search(r"\[\^1\]: multipath-hash-seed on kernel-6\.1: SKIP: needs kernel >= 6\.11, "
                         r"target runs 6\.1\.\S+", md), md
        assert re.search(r"\| kernel release \| 6\.1\.\S+ \| 6\.12\.\S+ \|", md), md
        assert (tmp_path / "kernel-6.1.json").exists() and (tmp_path / "kernel-6.12.json").exists()
    finally:
        left = _domains() - before
        assert not left, f"the matrix left VMs behind: {sorted(left)}"


def test_controller_stops_when_xdist_did_not_group():
    """pytest 9.2 + xdist 3.8: loadgroup leaves node ids untagged (pytest-dev/pytest-xdist#1386)."""
    from types import SimpleNamespace

    from harness import pytest_matrix

    stash = pytest.Stash()
    stash[pytest_matrix._MATRIX] = {"kernels": [("kernel-6.1", "p1"), ("kernel-6.12", "p2")]}
    node = SimpleNamespace(config=SimpleNamespace(stash=stash))
    grouped = ["scenarios/a.yaml::ping a -> b[kernel-6.1]@kernel-6.1",
               "scenarios/a.yaml::ping a -> b[kernel-6.12]@kernel-6.12"]
    pytest_matrix.pytest_xdist_node_collection_finished(node, grouped)  # fine: nothing raised
    with pytest.raises(pytest.exit.Exception, match=r"pytest-xdist#1386.*pytest<9\.2"):
        pytest_matrix.pytest_xdist_node_collection_finished(node, [grouped[0], "scenarios/a.yaml::ping a -> b[kernel-6.12]"])


# -- shards and the example CI workflows -----------------------------------------------------

@pytest.mark.parametrize("cells", [0, 1, 7, 112])
@pytest.mark.parametrize("parts", [1, 2, 3, 4, 8])
def test_parts_cover_every_cell_once_in_order(cells, parts):
    from harness.shard import shard_cells

    items = [(k, s) for k in range(4) for s in range(cells // 4 + (cells % 4 > 0))][:cells]
    cut = [shard_cells(items, part, parts) for part in range(1, parts + 1)]
    assert [cell for part in cut for cell in part] == items
    assert max(map(len, cut)) - min(map(len, cut)) <= 1


@pytest.mark.parametrize("text, expected", [("1/4", (1, 4)), (" 4 / 4 ", (4, 4)), ("1/1", (1, 1))])
def test_parse_shard(text, expected):
    from harness.shard import parse_shard

    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "1", "a/b", "", "1/0", "-1/2"])
def test_parse_shard_refuses(text):
    from harness.shard import parse_shard

    with pytest.raises(ValueError):
        parse_shard(text)


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_example_workflows_use_commands_that_exist(name):
    """Every `harness` and `nox -s matrix` line of the example workflows parses with today's options."""
    import shlex

    import yaml

    from harness.cli import build_parser
    from harness.pytest_settings import OPTIONS

    text = (REPO / ".ci" / "examples" / f"{name}-kernel-matrix.yml").read_text()
    yaml.safe_load(text)
    merges = re.findall(r"^\s*-?\s*(?:run: )?(harness matrix merge .+)$", text, re.M)
    assert merges
    for line in merges:
        build_parser().parse_args(shlex.split(line.replace('"', ""))[1:])
    shards = re.findall(r"nox -s matrix -- (.+)$", text, re.M)
    assert shards and all("--harness-shard" in line for line in shards)
    assert "--harness-shard" in {flag for flag, *_ in OPTIONS}

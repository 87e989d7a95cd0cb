"""Bisect without VMs: kernel lines from package names, the binary search and what it says, the
command's refusals. (The search for real, with boxes and VMs: tests/test_kernels_vm.py.)"""

import re
import subprocess
import sys

import pytest

from conftest import REPO, SCENARIOS
from harness.bisect import BisectError, Tried, search
from harness.debian_archive import ArchiveError, KernelPackage, line_pattern


@pytest.mark.parametrize("good, bad, member, stranger", [
    ("linux-image-6.1.0-47-cloud-amd64", "linux-image-6.1.0-57-cloud-amd64",
     "linux-image-6.1.0-52-cloud-amd64", "linux-image-6.1.0-0.deb11.48-cloud-amd64"),
    ("linux-image-6.12.43+deb12-cloud-amd64", "linux-image-6.12.117+deb12-cloud-amd64",
     "linux-image-6.12.90+deb12-cloud-amd64", "linux-image-6.12.90+deb13-cloud-amd64"),
    ("linux-image-5.10.0-30-amd64", "linux-image-5.10.0-46-amd64",
     "linux-image-5.10.0-44-amd64", "linux-image-5.10.0-44-cloud-amd64"),
])
def test_line_pattern(good, bad, member, stranger):
    pattern = line_pattern(good, bad)
    assert pattern.fullmatch(good) and pattern.fullmatch(bad) and pattern.fullmatch(member)
    assert not pattern.fullmatch(stranger)


@pytest.mark.parametrize("good, bad", [
    ("linux-image-6.1.0-47-cloud-amd64", "linux-image-6.1.0-47-cloud-amd64"),
    ("linux-image-6.1.0-47-cloud-amd64", "linux-image-6.1.0-47-amd64"),
    ("linux-image-6.1.0-47-cloud-amd64", "linux-image-6.12.43+deb12-cloud-amd64"),
    ("nginx-1", "nginx-2"),
])
def test_line_pattern_refuses_what_is_not_one_line(good, bad):
    with pytest.raises(ArchiveError):
        line_pattern(good, bad)


def _line(numbers):
    return [KernelPackage(f"linux-image-6.1.0-{n}-cloud-amd64", f"6.1.{150 + n}-1", "bookworm") for n in numbers]


@pytest.mark.parametrize("first", range(48, 58))
def test_search_finds_the_first_change_with_few_runs(first):
    line = _line(range(47, 58))
    runs = []

    def run(package):
        runs.append(package.name)
        n = int(package.name.split("-")[3])
        return Tried(package, "PASS" if n >= first else "SKIP", ())

    outcome = search("s", line, run)
    assert outcome.first_different.package.name == f"linux-image-6.1.0-{first}-cloud-amd64"
    assert outcome.last_same.package.name == f"linux-image-6.1.0-{first - 1}-cloud-amd64"
    assert len(runs) == len(set(runs)) <= 2 + 4   # the ends, then ceil(log2(10))
    text = outcome.text()
    assert f"first version whose verdict differs: linux-image-6.1.0-{first}-cloud-amd64 (6.1.{150 + first}-1): " \
           f"PASS, after linux-image-6.1.0-{first - 1}-cloud-amd64" in text
    assert text.count(": not needed") == 11 - len(runs)


def test_search_compares_every_check_and_names_those_that_changed():
    line = _line(range(47, 52))

    def run(package):
        n = int(package.name.split("-")[3])
        return Tried(package, "FAIL", (("c1", "PASS"), ("c2", "FAIL" if n >= 50 else "PASS")))

    outcome = search("s", line, run)
    assert outcome.first_different.package.name.endswith("-50-cloud-amd64")
    assert "checks that changed: c2" in outcome.text()


def test_search_refuses_ends_that_agree_and_says_what_it_saw():
    with pytest.raises(BisectError, match=r"(?s)give the same verdict \(PASS\): nothing to bisect\n.*47.*: PASS"):
        search("s", _line(range(47, 50)), lambda p: Tried(p, "PASS", ()))


def test_a_version_that_cannot_run_stops_the_search_with_what_was_learnt():
    def run(package):
        if package.name.endswith("-49-cloud-amd64"):
            raise BisectError(f"{package.name}: the VM could not run the scenario: boom")
        return Tried(package, "PASS" if package.name.endswith("-51-cloud-amd64") else "SKIP", ())

    with pytest.raises(BisectError) as caught:
        search("s", _line(range(47, 52)), run)
    text = str(caught.value)
    assert text.startswith("linux-image-6.1.0-49-cloud-amd64: the VM could not run the scenario: boom")
    assert "linux-image-6.1.0-51-cloud-amd64 (6.1.201-1, bookworm): PASS" in text


def test_bisect_command_refuses_an_invalid_scenario(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnamespaces: {a: }\nchecks: [{ping: {from: nowhere, to: 10.0.0.1}}]\n")
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "bisect", str(bad), "--good",
                           "linux-image-6.1.0-47-cloud-amd64", "--bad", "linux-image-6.1.0-57-cloud-amd64"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "is not a valid scenario" in proc.stderr and "nowhere" in proc.stderr
    assert "Traceback" not in proc.stderr

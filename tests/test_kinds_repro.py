"""repro.sh for the new kinds: a failing scenario that uses them goes into a bug-report bundle
(``harness run --report``); its repro.sh, run by hand, gives every check the verdict the run
gave (the screen's, which the judge agreed with) and exits with the number of checks that did
not hold. (``harness repro`` of a bundle is tested in test_bundle.py.)
"""

import json
import re
import subprocess
import sys

import pytest

from conftest import harness_namespaces, needs_root, new_namespaces_after

pytestmark = needs_root

SCENARIO = """
name: new-kinds-repro
namespaces:
  a:
    sysctls: {net.ipv4.conf.a0.rp_filter: 2}
  r: {sysctls: {net.ipv4.ip_forward: 1}}
  b:
veths:
  - {namespace: a, name: a0, mac: "02:00:00:00:00:a0", addresses: [10.1.0.1/24],
     peer: {namespace: r, name: r0, addresses: [10.1.0.254/24]}}
  - {namespace: r, name: r1, mtu: 1300, addresses: [10.2.0.254/24], peer: {namespace: b, name: b0, mtu: 1300, addresses: [10.2.0.1/24]}}
links:
  - {namespace: a, name: m0, kind: macvlan, link: a0, mtu: 1400}
nexthops:
  - {namespace: a, id: 1, via: 10.1.0.254, dev: a0}
routes:
  - {namespace: a, dst: default, nhid: 1}
  - {namespace: a, dst: 10.3.0.0/24, via: 10.1.0.254, mtu: 1280, mtu_lock: true}
  - {namespace: b, dst: default, via: 10.2.0.254}
rules:
  - {namespace: a, priority: 100, fwmark: 7, table: 100}
steps:
  - name: new kinds
    routes:
      - {namespace: a, dst: 10.3.0.0/24, via: 10.1.0.254, expect_error: "File exists"}
      - {namespace: a, dst: 10.4.0.0/24, via: 10.1.0.254, expect_error: "File exists"}
    checks:
      - link: {namespace: a, name: m0, kind: macvlan, mtu: 1400}
      - link: {namespace: a, name: m0, mtu: 1500}
      - address: {namespace: a, address: 10.1.0.1/24, dev: a0}
      - address: {namespace: a, address: 10.1.0.1/24, expect: absent}
      - rule: {namespace: a, priority: 100, fwmark: 7, table: 100}
      - rule: {namespace: a, fwmark: 8}
      - sysctl: {namespace: a, key: net.ipv4.conf.a0.rp_filter, value: 2}
      - sysctl: {namespace: r, key: net.ipv4.ip_forward, value: 0}
      - route: {namespace: a, dst: default, nhid: 1}
      - path: {namespace: a, to: 10.3.0.5, mtu: 1280, mtu_lock: true}
      - path: {namespace: a, to: 10.3.0.5, mtu_lock: false}
      - ping: {from: a, to: 10.2.0.1, size: 1400, pmtudisc: do, count: 1, error: {type: frag_needed, mtu: 1300}}
      - ping: {from: a, to: 10.2.0.1, send_ttl: 1, count: 1, error: {type: ttl_exceeded, from: 10.2.0.254}}
      - connect: {from: a, to: 10.2.0.1, port: 8080, listen: b, seen_from: 10.1.0.1}
      - connect: {from: a, to: 10.2.0.1, port: 8081, expect: open, timeout: 0.5}
      - command: {namespace: a, run: "id -u", user: nobody, stdout: "^65534$"}
      - command: {namespace: a, run: "exit 3", exit_code: nonzero, stderr: "never"}
  - name: neighbours
    checks:
      - {within: 1, link: {namespace: a, name: m0, carrier: false}}
      - neighbour: {namespace: a, address: 10.1.0.254, dev: a0, lladdr: "02:00:00:00:00:01"}
      - neighbour: {namespace: a, address: 10.1.0.254, dev: a0}
"""


def harness(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    work = tmp_path_factory.mktemp("repro")
    (work / "new-kinds.yaml").write_text(SCENARIO)
    ran = harness("run", "new-kinds.yaml", "--report", "--bundle-dir", "bundles", cwd=work)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    [archive] = (work / "bundles").glob("*.tar.gz")
    return work, archive, archive.with_name(archive.name.removesuffix(".tar.gz"))


def test_the_run_failed_where_it_should(bundle):
    _, _, root = bundle
    results = json.loads((root / "results.json").read_text())
    failed = sorted(c["name"] for c in results["checks"] if c["status"] != "PASS")
    assert failed == sorted([
        "route add 10.4.0.0/24 via 10.1.0.254 refused (File exists)",
        "link a m0 mtu 1500 present",
        "address a 10.1.0.1/24 absent",
        "rule a fwmark 0x8 present",
        "sysctl r net.ipv4.ip_forward = 0",
        "path a -> 10.3.0.5",
        "ping a -> 10.2.0.1 ttl exceeded from 10.2.0.254",
        "tcp a -> 10.2.0.1:8081 open",
        "command a: exit 3",
        "link a m0 carrier off present",
        "neighbour a 10.1.0.254 dev a0 lladdr 02:00:00:00:00:01 present",
    ]), failed
    for c in results["checks"]:
        assert c["screen_held"] == (c["status"] == "PASS"), c


def test_repro_sh_by_hand_gives_the_same_verdicts(bundle):
    _, _, root = bundle
    results = json.loads((root / "results.json").read_text())
    want = {c["name"]: c["status"] for c in results["checks"]}
    before = harness_namespaces()
    repro = subprocess.run(["bash", str(root / "repro.sh")], capture_output=True, text=True, timeout=120)
    got = dict((name, verdict) for verdict, name in re.findall(r"^(PASS|FAIL)  (.+)$", repro.stdout, re.MULTILINE))
    assert got == want, repro.stdout + repro.stderr
    not_held = sum(1 for status in want.values() if status != "PASS")
    assert repro.returncode == not_held == 11, repro.stdout + repro.stderr
    assert f"== {not_held} check(s) did not hold" in repro.stdout
    within = repro.stdout.split("FAIL  link a m0 carrier off present\n", 1)[1].split("\n", 4)
    assert within[0].startswith("      expected: ")
    assert re.match(r"      observed: exit 0 after ([2-9]|\d\d+) tries", within[2]), within[2]  # within: retried
    assert not new_namespaces_after(before), "repro.sh left namespaces behind"


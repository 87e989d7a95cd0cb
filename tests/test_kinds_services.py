"""Connections, commands, firewall and traffic control for real: the connect check (TCP and
UDP: open, refused, timeout, unreachable, the address the listener sees), the command check
(exit codes, output patterns, a non-root user), the firewall action replacing a ruleset in a
step, qdiscs (netem: SKIP where the kernel lacks it) and refused changes of links and
addresses; each with cases where the network does not do what is asserted and the check must
FAIL.
"""

import pytest

from conftest import needs_root
from kindtools import assert_marked_statuses, facts, run, target  # noqa: F401 - fixtures

pytestmark = needs_root

TOPOLOGY = """
namespaces:
  a:
  r: {sysctls: {net.ipv4.ip_forward: 1}}
  b:
veths:
  - {namespace: a, name: a0, addresses: [10.1.0.1/24, 10.1.0.2/24, 10.1.0.3/24, "fd00:1::1/64"],
     peer: {namespace: r, name: r0, addresses: [10.1.0.254/24, "fd00:1::254/64"]}}
  - {namespace: r, name: r1, addresses: [10.2.0.254/24], peer: {namespace: b, name: b0, addresses: [10.2.0.1/24]}}
routes:
  - {namespace: a, dst: default, via: 10.1.0.254}
  - {namespace: b, dst: default, via: 10.2.0.254}
"""

FIREWALL = """
firewall:
  - namespace: r
    nft: |
      table inet t {
        chain fw {
          type filter hook forward priority 0;
          tcp dport 9001 drop
          udp dport 9002 drop
          ip saddr 10.1.0.3 tcp dport 9003 reject with icmp type host-unreachable
        }
        chain nat {
          type nat hook postrouting priority 100;
          ip saddr 10.1.0.2 oifname r1 masquerade
        }
      }
"""


def test_connect_command_and_firewall_replace(target, facts, no_leftovers):
    result = run("name: services\n" + TOPOLOGY + FIREWALL + """
steps:
  - name: connections and commands
    checks:
      - name: "pass: tcp open, seen from the client, a listener on any address"
        connect: {from: a, to: 10.2.0.1, port: 8080, listen: b, listen_address: 0.0.0.0, seen_from: 10.1.0.1}
      - name: "pass: tcp through SNAT, seen from the router"
        connect: {from: a, to: 10.2.0.1, port: 8081, listen: b, source: 10.1.0.2, seen_from: 10.2.0.254}
      - name: "fail: seen from the client expected, SNAT in the way"
        connect: {from: a, to: 10.2.0.1, port: 8082, listen: b, source: 10.1.0.2, seen_from: 10.1.0.2}
      - {name: "pass: udp open", connect: {from: a, to: 10.2.0.1, port: 8083, protocol: udp, listen: b}}
      - {name: "pass: IPv6 to the router", connect: {from: a, to: "fd00:1::254", port: 8085, listen: r, seen_from: "fd00:1::1"}}
      - {name: "pass: tcp refused", connect: {from: a, to: 10.2.0.1, port: 8086, expect: refused}}
      - {name: "pass: udp refused", connect: {from: a, to: 10.2.0.1, port: 8087, protocol: udp, expect: refused}}
      - {name: "fail: open expected, refused", connect: {from: a, to: 10.2.0.1, port: 8088}}
      - {name: "fail: refused expected, open", connect: {from: a, to: 10.2.0.1, port: 8089, listen: b, expect: refused}}
      - {name: "pass: tcp dropped: timeout", connect: {from: a, to: 10.2.0.1, port: 9001, listen: b, timeout: 0.5, expect: timeout}}
      - {name: "pass: udp dropped: timeout", connect: {from: a, to: 10.2.0.1, port: 9002, protocol: udp, listen: b, timeout: 0.5, expect: timeout}}
      - name: "pass: rejected with host unreachable"
        connect: {from: a, to: 10.2.0.1, port: 9003, source: 10.1.0.3, listen: b, timeout: 0.5, expect: unreachable}
      - {name: "pass: no route", connect: {from: r, to: 10.99.0.1, port: 80, expect: unreachable}}
      - {name: "fail: timeout expected, open", connect: {from: a, to: 10.2.0.1, port: 8090, listen: b, timeout: 0.5, expect: timeout}}

      - {name: "pass: exit 0 and stdout", command: {namespace: a, run: "echo hello", stdout: "^hello$"}}
      - {name: "pass: an argument list, run as it is", command: {namespace: a, run: [printf, "%s|", "a b", "$HOME"], stdout: '^a b\\|\\$HOME\\|$'}}
      - {name: "pass: exit code 3", command: {namespace: a, run: "exit 3", exit_code: 3}}
      - {name: "pass: nonzero", command: {namespace: a, run: [ip, link, show, dev, nope], exit_code: nonzero, stderr: "does not exist"}}
      - {name: "pass: any exit code", command: {namespace: a, run: "exit 7", exit_code: any}}
      - {name: "pass: not_stdout", command: {namespace: a, run: "ip -br link", not_stdout: "^b0 "}}
      - {name: "pass: not_stderr", command: {namespace: a, run: "true", not_stderr: "."}}
      - {name: "pass: as nobody", command: {namespace: a, run: "id -u", user: nobody, stdout: "^65534$"}}
      - {name: "pass: in the namespace", command: {namespace: b, run: "ip -br addr show dev b0", stdout: "10\\\\.2\\\\.0\\\\.1/24"}}
      - {name: "fail: exit code 0 expected", command: {namespace: a, run: "exit 3"}}
      - {name: "fail: nonzero expected", command: {namespace: a, run: "true", exit_code: nonzero}}
      - {name: "fail: stdout does not match", command: {namespace: a, run: "echo hello", stdout: "^bye$"}}
      - {name: "fail: stderr does not match", command: {namespace: a, run: "echo oops >&2", stderr: "^fine$"}}
      - {name: "fail: not_stdout matches", command: {namespace: a, run: "echo hello", not_stdout: "hell"}}
      - {name: "fail: root expected, nobody ran it", command: {namespace: a, run: "id -u", user: nobody, stdout: "^0$"}}
      - {name: "fail: killed at its timeout", command: {namespace: a, run: "sleep 5", timeout: 0.3}}
  - name: the firewall replaced
    firewall:
      - namespace: r
        nft: |
          table inet t2 {
            chain fw {
              type filter hook forward priority 0;
              tcp dport 8080 drop
            }
          }
    checks:
      - {name: "pass: the old drop is gone", connect: {from: a, to: 10.2.0.1, port: 9001, listen: b}}
      - {name: "pass: the new drop holds", connect: {from: a, to: 10.2.0.1, port: 8080, listen: b, timeout: 0.5, expect: timeout}}
      - {name: "pass: SNAT is gone", connect: {from: a, to: 10.2.0.1, port: 8081, listen: b, source: 10.1.0.2, seen_from: 10.1.0.2}}
      - {name: "fail: the old drop said still there", connect: {from: a, to: 10.2.0.1, port: 9002, protocol: udp, listen: b, timeout: 0.5, expect: timeout}}
      - {name: "pass: one table left", command: {namespace: r, run: "nft list tables", stdout: "^table inet t2$", not_stdout: "^table inet t$"}}
""", target, facts)
    c = assert_marked_statuses(result)

    assert c["pass: tcp open, seen from the client, a listener on any address"].observed == {
        "outcome": "open", "peer": "10.1.0.1"}
    assert c["pass: tcp through SNAT, seen from the router"].observed["peer"] == "10.2.0.254"
    assert c["fail: seen from the client expected, SNAT in the way"].reason == (
        "the listener saw the client at 10.2.0.254, expected 10.1.0.2")
    assert c["pass: IPv6 to the router"].observed["peer"] == "fd00:1::1"
    assert c["fail: open expected, refused"].reason == "tcp to 10.2.0.1:8088 was refused (Connection refused), expected open"
    assert c["fail: refused expected, open"].reason == "tcp to 10.2.0.1:8089 was open, expected refused"
    assert c["pass: tcp dropped: timeout"].observed == {"outcome": "timeout", "error": "Connection timed out"}
    assert c["pass: rejected with host unreachable"].observed["error"] == "No route to host"
    assert c["pass: no route"].observed["error"] == "Network is unreachable"
    assert c["pass: udp refused"].observed["outcome"] == "refused"

    assert c["fail: exit code 0 expected"].reason == "exit code 3, expected 0"
    assert c["fail: nonzero expected"].reason == "exit code 0, expected nonzero"
    assert c["fail: stdout does not match"].reason == "stdout does not match '^bye$'"
    assert c["fail: stderr does not match"].observed["stderr"] == "oops\n"
    assert c["fail: not_stdout matches"].reason == "stdout matches 'hell'"
    assert c["fail: root expected, nobody ran it"].observed["stdout"] == "65534\n"
    assert "runuser -u nobody --" in c["pass: as nobody"].command
    killed = c["fail: killed at its timeout"]
    assert killed.exit_code == 124 and killed.reason == "exit code 124, expected 0" and killed.duration_s < 3
    assert c["fail: the old drop said still there"].observed["outcome"] == "open"


def test_qdiscs_need_netem(target, facts, no_leftovers):
    """netem delay, loss and rate on a link, then removed: PASS and FAIL where the kernel has
    netem (a VM with Debian's 6.1 kernel: as marked); SKIP saying so where it has not (this
    machine)."""
    result = run("name: qdiscs\n" + TOPOLOGY + """
steps:
  - name: delayed
    qdiscs:
      - {namespace: r, dev: r1, delay: 50, jitter: 1, loss: 0, rate: 100mbit, limit: 1000}
    checks:
      - {name: "pass: 50 ms more", ping: {from: a, to: 10.2.0.1, count: 2, interval: 0.1}}
      - {name: "fail: under 10 ms", ping: {from: a, to: 10.2.0.1, count: 2, interval: 0.1, max_rtt: 10}}
      - {name: "pass: tc shows netem", command: {namespace: r, run: "tc qdisc show dev r1", stdout: "netem .*delay 50ms"}}
  - name: removed
    delete_qdiscs:
      - {namespace: r, dev: r1}
    checks:
      - {name: "pass: fast again", ping: {from: a, to: 10.2.0.1, count: 2, interval: 0.1, max_rtt: 10}}
      - {name: "fail: netem said still there", command: {namespace: r, run: "tc qdisc show dev r1", stdout: "netem"}}
""", target, facts)
    if result.status == "SKIP":
        assert not facts.features.get("netem")
        assert result.reason.startswith("needs kernel support for netem, which the target lacks")
        pytest.skip("this kernel has no netem (the run SKIPs with that reason); run it in a VM")
    c = assert_marked_statuses(result)
    assert c["pass: 50 ms more"].observed["rtt_max_ms"] >= 50


def test_refused_changes_of_links_and_addresses(target, facts, no_leftovers):
    """expect_error on links and addresses: PASS when refused with the message, FAIL when
    accepted or refused otherwise; the run goes on either way."""
    result = run("name: refusals\n" + TOPOLOGY + """
steps:
  - name: changes the kernel must refuse
    links:
      - {namespace: a, name: a0, kind: veth, peer: {namespace: a, name: a0x}, expect_error: "File exists"}
      - {namespace: a, name: a0, master: a0, expect_error: "Operation not supported"}
      - {namespace: a, name: x1, kind: macvlan, link: a0, expect_error: "File exists"}
      - {namespace: a, name: a0, mtu: 1400, expect_error: "Invalid"}
    addresses:
      - {namespace: a, dev: a0, address: 10.1.0.1/24, expect_error: "File exists|already assigned"}
      - {namespace: a, dev: a0, address: 10.1.0.9/24, expect_error: "File exists"}
    delete_addresses:
      - {namespace: a, dev: a0, address: 10.1.0.99/24, expect_error: "Address not found"}
    checks:
      - {name: "pass: the accepted mtu change took", link: {namespace: a, name: a0, mtu: 1400}}
      - {name: "pass: the accepted address is there", address: {namespace: a, address: 10.1.0.9/24, dev: a0}}
      - {name: "fail: the refused link said made", link: {namespace: a, name: a0x}}
""", target, facts)
    c = assert_marked_statuses(result)
    refusals = {r.name: r for r in result.checks if r.kind == "refused"}
    statuses = {name: r.status for name, r in refusals.items()}
    assert statuses == {
        "link add a0 type veth peer a0x refused (File exists)": "PASS",
        "link set a0 master a0 refused (Operation not supported)": "PASS",
        "link add x1 type macvlan refused (File exists)": "FAIL",
        "link set a0 mtu 1400 refused (Invalid)": "FAIL",
        "addr add 10.1.0.1/24 dev a0 refused (File exists|already assigned)": "PASS",
        "addr add 10.1.0.9/24 dev a0 refused (File exists)": "FAIL",
        "addr del 10.1.0.99/24 dev a0 refused (Address not found)": "PASS",
    }, statuses
    assert refusals["link add x1 type macvlan refused (File exists)"].reason == "the kernel accepted the change"
    assert c["pass: the accepted mtu change took"].observed["mtu"] == 1400

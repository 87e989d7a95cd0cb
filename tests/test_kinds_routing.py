"""Routing for real: the route, path and rule checks with every field, and the routes,
nexthops and rules actions with every op and field, their deletions and refused changes; each
with cases where the network does not do what is asserted and the check must FAIL.

Host ``a`` -- router ``r`` -- host ``b``; ``e`` is a namespace with ``lo`` down (no local
table yet). ``a`` has routes of every kind, nexthop objects and groups, and a policy rule for
every selector.
"""

import pytest

from conftest import needs_root
from kindtools import assert_marked_statuses, facts, run, target  # noqa: F401 - fixtures

pytestmark = needs_root

SCENARIO = """
name: routing-kinds
namespaces:
  a:
  r: {sysctls: {net.ipv4.ip_forward: 1}}
  b:
  e: {loopback: false}
veths:
  - {namespace: a, name: a0, addresses: [10.1.0.1/24, 10.1.0.5/24, 10.9.0.1/24, "fd00:1::1/64"],
     peer: {namespace: r, name: r0, addresses: [10.1.0.254/24, "fd00:1::254/64"]}}
  - {namespace: r, name: r1, addresses: [10.2.0.254/24], peer: {namespace: b, name: b0, addresses: [10.2.0.1/24]}}
nexthops:
  - {namespace: a, id: 1, via: 10.1.0.254, dev: a0}
  - {namespace: a, id: 2, via: 10.1.0.253, dev: a0}
  - {namespace: a, id: 3, group: [{id: 1, weight: 3}, {id: 2}]}
  - {namespace: a, id: 4, blackhole: true}
  - {namespace: a, id: 5, group: [{id: 1}, {id: 2}], type: resilient, buckets: 8}
  - {namespace: a, id: 6, via: 198.51.100.1, dev: a0, onlink: true}
routes:
  - {namespace: a, dst: default, via: 10.1.0.254}
  - {namespace: a, dst: default, dev: a0, ipv6: true}
  - {namespace: a, dst: 10.3.0.0/24, via: 10.1.0.254, mtu: 1280, mtu_lock: true}
  - {namespace: a, dst: 10.4.0.0/24, via: 10.1.0.254, proto: static, metric: 50, src: 10.1.0.1}
  - {namespace: a, dst: 10.40.0.0/24, via: "fd00:1::254", dev: a0}
  - {namespace: a, dst: 10.41.0.0/24, dev: a0, scope: link}
  - {namespace: a, dst: 10.42.0.0/24, nexthops: [{via: 10.1.0.254, dev: a0, weight: 2}, {via: 10.1.0.253, weight: 1}]}
  - {namespace: a, dst: 10.43.0.0/24, nhid: 3}
  - {namespace: a, dst: 10.44.0.0/24, nhid: 4}
  - {namespace: a, dst: 10.45.0.0/24, nhid: 5}
  - {namespace: a, dst: 10.46.0.0/24, nhid: 6}
  - {namespace: a, dst: 10.50.0.0/24, via: 10.1.0.254}
  - {namespace: a, dst: 10.52.0.0/24, via: 10.1.0.254}
  - {namespace: a, dst: 10.66.0.0/24, type: blackhole}
  - {namespace: a, dst: 10.67.0.0/24, type: prohibit}
  - {namespace: a, dst: 10.68.0.0/24, type: unreachable}
  - {namespace: a, dst: 10.69.0.0/24, type: throw, table: 100}
  - {namespace: a, dst: 10.70.0.1/32, type: local, dev: a0}
  - {namespace: a, dst: 192.0.2.0/24, via: 198.51.100.1, dev: a0, onlink: true}
  - {namespace: a, dst: "fd00:9::/64", dev: a0}
  - {namespace: a, dst: default, via: "fd00:1::254", dev: a0, ipv6: false, table: 300}
  - {namespace: a, dst: 10.2.0.0/24, via: 10.1.0.254, table: 100}
  - {namespace: a, dst: 10.2.0.0/24, via: 10.1.0.254, table: 104}
  - {namespace: a, dst: 10.2.0.0/24, via: 10.1.0.254, table: 105}
  - {namespace: a, dst: 10.2.0.0/24, via: 10.1.0.254, table: 113}
  - {namespace: b, dst: default, via: 10.2.0.254}
rules:
  - {namespace: a, priority: 100, from: 10.1.0.5, table: 100}
  - {namespace: a, priority: 101, from: 10.1.0.0/24, to: 10.2.0.0/16, table: 101}
  - {namespace: a, priority: 102, not: true, fwmark: 7, fwmask: 0xff, table: 102}
  - {namespace: a, priority: 103, iif: a0, table: 103}
  - {namespace: a, priority: 104, tos: 16, table: 104}
  - {namespace: a, priority: 105, ipproto: tcp, sport: 80, dport: 1000-2000, table: 105}
  - {namespace: a, priority: 106, uidrange: 1000-2000, table: 100}
  - {namespace: a, priority: 107, fwmark: 9, goto: 110}
  - {namespace: a, priority: 108, from: 10.9.0.0/24, action: unreachable}
  - {namespace: a, priority: 109, table: main, suppress_prefixlength: 0}
  - {namespace: a, priority: 110, l3mdev: true}
  - {namespace: a, priority: 111, fwmark: 7, table: 100}
  - {namespace: a, priority: 112, to: 10.5.0.7, action: prohibit}
  - {namespace: a, priority: 113, ipproto: udp, dport: 53, table: 113}
  - {namespace: a, priority: 114, oif: a0, table: 114}
  - {namespace: a, priority: 115, tos: 8, table: 115}
  - {namespace: a, priority: 200, from: "fd00:1::/64", table: 200}
  - {namespace: a, priority: 201, from: "fd00:1::5", table: 201}
"""


def test_route_path_and_rule_checks(target, facts, no_leftovers):
    result = run(SCENARIO + """
checks:
  # route: every field
  - {name: "pass: default via", route: {namespace: a, dst: default, via: 10.1.0.254, dev: a0}}
  - {name: "pass: IPv6 default through a device", route: {namespace: a, dst: default, ipv6: true, dev: a0}}
  - {name: "fail: IPv6 default via a next hop", route: {namespace: a, dst: default, ipv6: true, via: "fd00:1::254"}}
  - {name: "pass: mtu (locked)", route: {namespace: a, dst: 10.3.0.0/24, via: 10.1.0.254, mtu: 1280}}
  - {name: "fail: mtu 1300", route: {namespace: a, dst: 10.3.0.0/24, mtu: 1300}}
  - {name: "pass: proto, metric, src", route: {namespace: a, dst: 10.4.0.0/24, proto: static, metric: 50, src: 10.1.0.1}}
  - {name: "fail: metric 51", route: {namespace: a, dst: 10.4.0.0/24, metric: 51}}
  - {name: "fail: src 10.1.0.5", route: {namespace: a, dst: 10.4.0.0/24, src: 10.1.0.5}}
  - {name: "fail: proto kernel", route: {namespace: a, dst: 10.4.0.0/24, proto: kernel}}
  - {name: "pass: IPv4 via an IPv6 next hop", route: {namespace: a, dst: 10.40.0.0/24, via: "fd00:1::254"}}
  - name: "pass: IPv4 default via an IPv6 next hop"
    route: {namespace: a, dst: default, via: "fd00:1::254", ipv6: false, table: 300}
  - {name: "fail: IPv4 default via an IPv6 next hop said absent", route: {namespace: a, dst: default, ipv6: false, table: 300, expect: absent}}
  - {name: "pass: scope link", route: {namespace: a, dst: 10.41.0.0/24, dev: a0, scope: link}}
  - {name: "fail: scope global", route: {namespace: a, dst: 10.41.0.0/24, scope: global}}
  - name: "pass: multipath with weights"
    route: {namespace: a, dst: 10.42.0.0/24, nexthops: [{via: 10.1.0.254, dev: a0, weight: 2}, {via: 10.1.0.253, weight: 1}]}
  - {name: "fail: multipath weight 3", route: {namespace: a, dst: 10.42.0.0/24, nexthops: [{via: 10.1.0.254, weight: 3}]}}
  - {name: "pass: nhid 3", route: {namespace: a, dst: 10.43.0.0/24, nhid: 3}}
  - {name: "fail: nhid 1", route: {namespace: a, dst: 10.43.0.0/24, nhid: 1}}
  - {name: "pass: nhid of a resilient group", route: {namespace: a, dst: 10.45.0.0/24, nhid: 5}}
  - {name: "pass: blackhole", route: {namespace: a, dst: 10.66.0.0/24, type: blackhole}}
  - {name: "fail: prohibit expected, blackhole there", route: {namespace: a, dst: 10.66.0.0/24, type: prohibit}}
  - {name: "pass: unreachable", route: {namespace: a, dst: 10.68.0.0/24, type: unreachable}}
  - {name: "pass: throw in table 100", route: {namespace: a, dst: 10.69.0.0/24, type: throw, table: 100}}
  - {name: "pass: local route in the local table", route: {namespace: a, dst: 10.70.0.1, type: local, table: local, dev: a0}}
  - {name: "fail: local route in main", route: {namespace: a, dst: 10.70.0.1, type: local}}
  - {name: "pass: onlink gateway", route: {namespace: a, dst: 192.0.2.0/24, via: 198.51.100.1, dev: a0}}
  - {name: "pass: IPv6 device route", route: {namespace: a, dst: "fd00:9::/64", dev: a0}}
  - {name: "pass: route in table 100", route: {namespace: a, dst: 10.2.0.0/24, via: 10.1.0.254, table: 100}}
  - {name: "fail: route in table 100 said absent", route: {namespace: a, dst: 10.2.0.0/24, table: 100, expect: absent}}
  - {name: "pass: a table that does not exist holds nothing", route: {namespace: a, dst: default, table: 4242, expect: absent}}
  - {name: "fail: a route in a table that does not exist", route: {namespace: a, dst: default, table: 4242}}
  - {name: "pass: lo down, no local table", route: {namespace: e, dst: 127.0.0.1, table: local, expect: absent}}
  - {name: "fail: lo down, local route expected", route: {namespace: e, dst: 127.0.0.1, table: local, type: local}}
  # path: the selectors of ip route get, the answer's fields
  - {name: "pass: main table path", path: {namespace: a, to: 10.2.0.1, via: 10.1.0.254, dev: a0, src: 10.1.0.1, table: main, type: unicast}}
  - {name: "fail: wrong source picked", path: {namespace: a, to: 10.2.0.1, src: 10.1.0.5}}
  - {name: "pass: mark 7 looks up table 100", path: {namespace: a, to: 10.2.0.1, mark: 7, table: 100}}
  - {name: "fail: mark 7 expected in main", path: {namespace: a, to: 10.2.0.1, mark: 7, table: main}}
  - {name: "pass: from 10.1.0.5 looks up table 100", path: {namespace: a, to: 10.2.0.1, from: 10.1.0.5, table: 100}}
  - {name: "pass: tos 0x10 looks up table 104", path: {namespace: a, to: 10.2.0.1, tos: 16, table: 104}}
  - {name: "fail: tos 0x10 expected in main", path: {namespace: a, to: 10.2.0.1, tos: 16, table: main}}
  - {name: "pass: uid 1500 looks up table 100", path: {namespace: a, to: 10.2.0.1, uid: 1500, table: 100}}
  - name: "pass: tcp 80 -> 1500 looks up table 105"
    path: {namespace: a, to: 10.2.0.1, ipproto: tcp, sport: 80, dport: 1500, table: 105}
  - {name: "pass: udp 53 looks up table 113", path: {namespace: a, to: 10.2.0.1, ipproto: udp, dport: 53, table: 113}}
  - {name: "fail: udp 54 expected in table 113", path: {namespace: a, to: 10.2.0.1, ipproto: udp, dport: 54, table: 113}}
  - {name: "pass: forwarded in from r0", path: {namespace: r, to: 10.2.0.1, from: 10.1.0.1, iif: r0, dev: r1}}
  - {name: "pass: out of a0", path: {namespace: a, to: 10.2.0.1, oif: a0, dev: a0}}
  - {name: "pass: locked MTU", path: {namespace: a, to: 10.3.0.5, mtu: 1280, mtu_lock: true}}
  - {name: "fail: MTU not locked", path: {namespace: a, to: 10.3.0.5, mtu_lock: false}}
  - {name: "pass: via an IPv6 next hop", path: {namespace: a, to: 10.40.0.1, via: "fd00:1::254", dev: a0}}
  - {name: "pass: a local address", path: {namespace: a, to: 10.1.0.1, type: local, dev: lo, table: local}}
  - {name: "pass: blackhole is unreachable", path: {namespace: a, to: 10.66.0.1, expect: unreachable}}
  - {name: "pass: prohibit is unreachable", path: {namespace: a, to: 10.67.0.1, expect: unreachable}}
  - {name: "pass: unreachable is unreachable", path: {namespace: a, to: 10.68.0.1, expect: unreachable}}
  - {name: "pass: a blackhole nexthop object", path: {namespace: a, to: 10.44.0.1, expect: unreachable}}
  - {name: "pass: a rule that says unreachable", path: {namespace: a, to: 10.2.0.1, from: 10.9.0.1, expect: unreachable}}
  - {name: "pass: no route at all", path: {namespace: e, to: 10.2.0.1, expect: unreachable}}
  - {name: "fail: unreachable expected, routed", path: {namespace: a, to: 10.2.0.1, expect: unreachable}}
  - {name: "fail: routed expected, blackhole", path: {namespace: a, to: 10.66.0.1, dev: a0}}
  - {name: "pass: onlink nexthop object", path: {namespace: a, to: 10.46.0.1, via: 198.51.100.1, dev: a0}}
  - {name: "pass: IPv6 device route path", path: {namespace: a, to: "fd00:9::5", dev: a0}}
  # rule: every selector and action
  - {name: "pass: host prefix", rule: {namespace: a, priority: 100, from: 10.1.0.5, table: 100}}
  - {name: "pass: host prefix written /32", rule: {namespace: a, from: 10.1.0.5/32, table: 100}}
  - {name: "pass: from and to prefixes", rule: {namespace: a, from: 10.1.0.0/24, to: 10.2.0.0/16, table: 101}}
  - {name: "fail: from prefix /16", rule: {namespace: a, from: 10.1.0.0/16, table: 101}}
  - {name: "pass: not fwmark/mask", rule: {namespace: a, not: true, fwmark: 7, fwmask: 0xff, table: 102}}
  - {name: "fail: the same without not", rule: {namespace: a, fwmark: 7, fwmask: 0xff, table: 102}}
  - {name: "pass: iif", rule: {namespace: a, iif: a0, table: 103}}
  - {name: "pass: oif", rule: {namespace: a, oif: a0, table: 114}}
  - {name: "pass: tos 0x10", rule: {namespace: a, tos: 16, table: 104}}
  - {name: "pass: tos 0x08", rule: {namespace: a, tos: 8, table: 115}}
  - {name: "fail: tos 0x04", rule: {namespace: a, tos: 4}}
  - {name: "pass: ipproto and port ranges", rule: {namespace: a, ipproto: tcp, sport: 80, dport: 1000-2000, table: 105}}
  - {name: "pass: a single port", rule: {namespace: a, ipproto: udp, dport: 53, table: 113}}
  - {name: "fail: another port range", rule: {namespace: a, ipproto: tcp, dport: 1000-2001}}
  - {name: "pass: uidrange", rule: {namespace: a, uidrange: 1000-2000, table: 100}}
  - {name: "pass: goto", rule: {namespace: a, priority: 107, fwmark: 9, goto: 110}}
  - {name: "pass: unreachable action", rule: {namespace: a, from: 10.9.0.0/24, action: unreachable}}
  - {name: "fail: prohibit action expected", rule: {namespace: a, from: 10.9.0.0/24, action: prohibit}}
  - {name: "pass: suppress_prefixlength", rule: {namespace: a, table: main, suppress_prefixlength: 0}}
  - {name: "pass: l3mdev", rule: {namespace: a, priority: 110, l3mdev: true}}
  - {name: "pass: prohibit to a host", rule: {namespace: a, to: 10.5.0.7, action: prohibit}}
  - {name: "pass: IPv6 prefix", rule: {namespace: a, from: "fd00:1::/64", table: 200}}
  - {name: "pass: IPv6 host", rule: {namespace: a, priority: 201, from: "fd00:1::5", table: 201}}
  - {name: "pass: the kernel's own main rule", rule: {namespace: a, priority: 32766, table: main}}
  - {name: "pass: no rule for mark 8", rule: {namespace: a, fwmark: 8, expect: absent}}
  - {name: "fail: table 100 rule said absent", rule: {namespace: a, priority: 100, expect: absent}}
  - {name: "fail: a rule at priority 99", rule: {namespace: a, priority: 99}}
""", target, facts)
    c = assert_marked_statuses(result)

    assert c["fail: mtu 1300"].observed["routes_to_dst"] == [
        {"dst": "10.3.0.0/24", "gateway": "10.1.0.254", "dev": "a0", "proto": "boot", "scope": "global", "type": "unicast", "locked": ["mtu"], "mtu": 1280}]
    assert c["fail: metric 51"].reason == "no route to 10.4.0.0/24 with the expected fields"
    assert c["fail: metric 51"].observed["routes_to_dst"][0]["metric"] == 50
    assert c["fail: multipath weight 3"].observed["routes_to_dst"][0]["nexthops"][0]["weight"] == 2
    assert "nhid 3" in c["fail: nhid 1"].stdout
    missing = c["fail: a route in a table that does not exist"]
    assert missing.observed == {"routes_to_dst": [], "matching": 0, "table_exists": False}
    assert "FIB table does not exist" in missing.stderr
    assert c["pass: a table that does not exist holds nothing"].observed["table_exists"] is False
    assert c["fail: route in table 100 said absent"].reason == "a route to 10.2.0.0/24 is present"

    assert c["pass: main table path"].observed == {"routed": True, "dev": "a0", "type": "unicast", "table": "main",
                                                    "via": "10.1.0.254", "src": "10.1.0.1", "exception": False}
    assert c["fail: wrong source picked"].reason == "the selected path differs: src 10.1.0.1 (expected 10.1.0.5)"
    assert c["fail: mark 7 expected in main"].reason == "the selected path differs: table 100 (expected main)"
    assert " mark 7" in c["pass: mark 7 looks up table 100"].command
    assert " tos 0x10" in c["pass: tos 0x10 looks up table 104"].command
    assert c["fail: udp 54 expected in table 113"].observed["table"] == "main"
    assert c["pass: locked MTU"].observed["mtu_lock"] is True and "mtu lock 1280" in c["pass: locked MTU"].stdout
    assert c["fail: unreachable expected, routed"].reason == "10.2.0.1 is routed via a0"
    assert c["fail: routed expected, blackhole"].reason.startswith("no path to 10.66.0.1: ")
    assert c["pass: blackhole is unreachable"].observed["routed"] is False
    assert "Permission denied" in c["pass: prohibit is unreachable"].stderr
    assert "Network is unreachable" in c["pass: a rule that says unreachable"].stderr

    assert c["pass: host prefix"].observed["matching"] == [{"priority": 100, "src": "10.1.0.5", "table": "100"}]
    assert c["fail: from prefix /16"].reason == "no rule with the expected selectors and action"
    assert c["fail: table 100 rule said absent"].reason == "a matching rule is present (priority 100)"
    assert c["pass: l3mdev"].observed["matching"] == [{"priority": 110, "src": "all", "l3mdev": None}]
    assert c["pass: tos 0x08"].observed["matching"][0]["tos"] == "0x08"


def test_route_ops_deletions_and_refusals(target, facts, no_leftovers):
    result = run(SCENARIO + """
steps:
  - name: ops, deletions, refusals
    routes:
      - {namespace: a, dst: 10.50.0.0/24, via: 10.1.0.253, op: append}
      - {namespace: a, dst: 10.51.0.0/24, via: 10.1.0.254, op: replace}
      - {namespace: a, dst: 10.4.0.0/24, via: 10.1.0.253, metric: 50, op: change}
      - {namespace: a, dst: 10.52.0.0/24, via: 10.1.0.253, op: prepend}
      - {namespace: a, dst: 10.3.0.0/24, via: 10.1.0.253, op: replace}
      - {namespace: a, dst: default, via: 10.1.0.254, expect_error: "File exists"}
      - {namespace: a, dst: 10.60.0.0/24, via: 10.1.0.254, expect_error: "File exists"}
      - {namespace: a, dst: 10.61.0.0/24, via: 198.51.100.1, dev: a0, expect_error: "Nexthop has invalid gateway"}
      - {namespace: a, dst: 10.62.0.0/24, via: 10.1.0.254, op: change, expect_error: "No such file"}
      - {namespace: a, dst: 10.63.0.0/24, nhid: 99, expect_error: "Network is unreachable"}
    nexthops:
      - {namespace: a, id: 1, via: 10.1.0.254, dev: a0, expect_error: "exists"}
    rules:
      - {namespace: a, priority: 100, from: 10.1.0.5, table: 100, expect_error: "File exists"}
    delete_routes:
      - {namespace: a, dst: 10.41.0.0/24, dev: a0}
      - {namespace: a, dst: 10.66.0.0/24, type: blackhole}
      - {namespace: a, dst: "fd00:9::/64"}
      - {namespace: a, dst: 10.99.0.0/24, expect_error: "No such process"}
    delete_nexthops:
      - {namespace: a, id: 4}
    delete_rules:
      - {namespace: a, priority: 111, fwmark: 7, table: 100}
    checks:
      - {name: "pass: add then append: both routes", route: {namespace: a, dst: 10.50.0.0/24, via: 10.1.0.253}}
      - {name: "pass: the first route stays", route: {namespace: a, dst: 10.50.0.0/24, via: 10.1.0.254}}
      - {name: "pass: the first added is used", path: {namespace: a, to: 10.50.0.1, via: 10.1.0.254}}
      - {name: "pass: replace creates", route: {namespace: a, dst: 10.51.0.0/24, via: 10.1.0.254}}
      - {name: "pass: change moved the next hop", route: {namespace: a, dst: 10.4.0.0/24, via: 10.1.0.253, metric: 50}}
      - {name: "fail: the changed route's old next hop", route: {namespace: a, dst: 10.4.0.0/24, via: 10.1.0.254}}
      - {name: "pass: prepend puts it first", path: {namespace: a, to: 10.52.0.1, via: 10.1.0.253}}
      - {name: "pass: replace dropped the mtu", route: {namespace: a, dst: 10.3.0.0/24, via: 10.1.0.253}}
      - {name: "fail: the replaced route's mtu", route: {namespace: a, dst: 10.3.0.0/24, mtu: 1280}}
      - {name: "pass: deleted device route", route: {namespace: a, dst: 10.41.0.0/24, expect: absent}}
      - {name: "fail: deleted device route said present", route: {namespace: a, dst: 10.41.0.0/24}}
      - {name: "pass: deleted blackhole", route: {namespace: a, dst: 10.66.0.0/24, expect: absent}}
      - {name: "pass: deleted IPv6 route", route: {namespace: a, dst: "fd00:9::/64", expect: absent}}
      - {name: "pass: its nexthop deleted, the route went too", route: {namespace: a, dst: 10.44.0.0/24, expect: absent}}
      - {name: "fail: the route of a deleted nexthop", route: {namespace: a, dst: 10.44.0.0/24, nhid: 4}}
      - {name: "pass: deleted rule", rule: {namespace: a, fwmark: 7, table: 100, expect: absent}}
      - {name: "fail: deleted rule said present", rule: {namespace: a, priority: 111}}
      - {name: "pass: mark 7 back in main", path: {namespace: a, to: 10.2.0.1, mark: 7, table: main}}
      - {name: "pass: refused add kept nothing new", route: {namespace: a, dst: 10.61.0.0/24, expect: absent}}
      - {name: "pass: the accepted 'refusal' added its route", route: {namespace: a, dst: 10.60.0.0/24, via: 10.1.0.254}}
""", target, facts)
    c = assert_marked_statuses(result)
    refusals = {r.name: r for r in result.checks if r.kind == "refused"}
    assert {n: r.status for n, r in refusals.items()} == {
        "route add default via 10.1.0.254 refused (File exists)": "PASS",
        "route add 10.60.0.0/24 via 10.1.0.254 refused (File exists)": "FAIL",
        "route add 10.61.0.0/24 via 198.51.100.1 dev a0 refused (Nexthop has invalid gateway)": "PASS",
        "route change 10.62.0.0/24 via 10.1.0.254 refused (No such file)": "PASS",
        "route add 10.63.0.0/24 nhid 99 refused (Network is unreachable)": "FAIL",
        "nexthop add id 1 via 10.1.0.254 dev a0 refused (exists)": "PASS",
        "rule add pref 100 from 10.1.0.5 lookup 100 refused (File exists)": "PASS",
        "route del 10.99.0.0/24 refused (No such process)": "PASS",
    }
    accepted = refusals["route add 10.60.0.0/24 via 10.1.0.254 refused (File exists)"]
    assert accepted.reason == "the kernel accepted the change" and accepted.observed == {"exit_code": 0, "message": ""}
    other = refusals["route add 10.63.0.0/24 nhid 99 refused (Network is unreachable)"]
    assert other.reason.startswith("refused, but with another message: ") and "Nexthop id does not exist" in other.reason
    assert refusals["route add default via 10.1.0.254 refused (File exists)"].observed["message"].endswith("File exists")
    assert c["fail: the changed route's old next hop"].observed["routes_to_dst"][0]["gateway"] == "10.1.0.253"


def test_vrf_kinds(target, facts, no_leftovers):
    """VRFs (the vrfs section), a route and a path in a VRF, ping from a VRF with a source
    address (iputils takes two -I), the l3mdev rule: PASS and FAIL where the kernel has VRF
    support (a VM with Debian's 6.1 kernel: as marked), SKIP saying so where it has not (this
    machine)."""
    result = run("""
name: vrf-kinds
namespaces:
  r: {sysctls: {net.ipv4.ip_forward: 1}}
  h:
veths:
  - {namespace: r, name: r0, addresses: [10.1.0.254/24], peer: {namespace: h, name: h0, addresses: [10.1.0.1/24]}}
vrfs:
  - {namespace: r, name: blue, table: 10, interfaces: [r0], addresses: [127.0.0.1/8]}
routes:
  - {namespace: r, vrf: blue, dst: 10.9.0.0/24, type: unreachable}
  - {namespace: h, dst: default, via: 10.1.0.254}
checks:
  - {name: "pass: the VRF", link: {namespace: r, name: blue, kind: vrf}}
  - {name: "pass: its port", link: {namespace: r, name: r0, master: blue}}
  - {name: "pass: the connected route is in its table", route: {namespace: r, vrf: blue, dst: 10.1.0.0/24, dev: r0}}
  - {name: "fail: not in main", route: {namespace: r, dst: 10.1.0.0/24}}
  - {name: "pass: path in the VRF", path: {namespace: r, vrf: blue, to: 10.1.0.1, dev: r0, table: 10}}
  - {name: "pass: unreachable in the VRF", path: {namespace: r, vrf: blue, to: 10.9.0.1, expect: unreachable}}
  - {name: "pass: ping from the VRF with a source", ping: {from: r, vrf: blue, source: 10.1.0.254, to: 10.1.0.1, ttl: 64}}
  - {name: "fail: not from the main table", ping: {from: r, to: 10.1.0.1}}
  - {name: "pass: the l3mdev rule", rule: {namespace: r, l3mdev: true}}
""", target, facts)
    if result.status == "SKIP":
        assert not facts.features.get("vrf")
        assert result.reason.startswith("needs kernel support for vrf, which the target lacks")
        pytest.skip("this kernel has no VRF (the run SKIPs with that reason); run it in a VM")
    c = assert_marked_statuses(result)
    assert " -I blue -I 10.1.0.254 " in c["pass: ping from the VRF with a source"].command

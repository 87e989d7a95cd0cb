"""Each check kind's judge on real tool output, and its bash screen on the same output.

The outputs are in tests/data/kind-outputs.json, captured by tests/data/capture_kind_outputs.py
on Debian 12 with iproute2 6.1.0 (``ip -json link/addr/neigh/rule show``, ``ip route show``,
``ip -d route get`` with a cached PMTU and an ``mtu lock`` route), procps-ng 4.0.2
(``sysctl -n``) and iputils 20221126 (``ping -n``), kernel 6.18: present, absent and flags,
and the edge cases (a link that does not exist, a FIB table that does not exist, the ``not`` and
``l3mdev`` flags that are JSON null, a host prefix without ``srclen``, the same address on two
links, ICMP errors and local refusals).

Every case also runs the kind's screen on the output: it must hold exactly when the judge says
PASS. Cases where the harness is wrong (the judge, the screen, or both) are marked xfail with
the bug; they turn into failures once it is fixed (strict), so the mark must go then.
"""

import json

import pytest

from kindtools import DATA, judge_record, records, screens_hold, spec_of

RECORDS = records()


def case(record, kind, fields, status, *, reason=None, observed=None, bug=None):
    """One judged output: the kind and its settings (as in a scenario, namespace ``a``), the
    status the judge must give, and optionally its reason and part of what it observed."""
    fields = ({"from": "a"} if kind == "ping" else {"namespace": "a"}) | fields
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    name = f"{record}:{kind}:{json.dumps(fields, separators=(',', ':'))}:{status}"
    return pytest.param(record, kind, fields, status, reason, observed, id=name, marks=marks)


CASES = [
    # ------------------------------------------------------------------ link
    case("link-veth-up", "link", {"name": "a0", "up": True, "carrier": True, "operstate": "UP", "mtu": 1500,
                                  "kind": "veth", "mac": "02:00:00:00:00:A0"}, "PASS",
         observed={"present": True, "up": True, "carrier": True, "operstate": "UP", "mtu": 1500, "kind": "veth",
                   "master": None, "mac": "02:00:00:00:00:a0"}),
    case("link-veth-up", "link", {"name": "a0", "mtu": 9000}, "FAIL", reason="the link differs: mtu 1500 (expected 9000)"),
    case("link-veth-up", "link", {"name": "a0", "mtu": 9000, "expect": "absent"}, "PASS"),
    case("link-veth-up", "link", {"name": "a0", "expect": "absent"}, "FAIL", reason="link a0 is present"),
    case("link-veth-no-carrier", "link", {"name": "a1", "up": True, "carrier": False, "operstate": "LOWERLAYERDOWN"},
         "PASS"),
    case("link-veth-no-carrier", "link", {"name": "a1", "carrier": True}, "FAIL",
         reason="the link differs: carrier False (expected True)"),
    case("link-veth-down", "link", {"name": "a1p", "up": False, "carrier": False, "operstate": "DOWN"}, "PASS"),
    case("link-veth-down", "link", {"name": "a1p", "up": True}, "FAIL"),
    case("link-macvlan", "link", {"name": "m0", "kind": "macvlan", "mtu": 1400}, "PASS"),
    case("link-macvlan", "link", {"name": "m0", "kind": "veth"}, "FAIL"),
    case("link-vxlan", "link", {"name": "vx0", "kind": "vxlan", "up": False, "operstate": "DOWN"}, "PASS"),
    case("link-bridge", "link", {"name": "br0", "kind": "bridge", "operstate": "UP"}, "PASS"),
    case("link-bridge-port", "link", {"name": "a2p", "kind": "veth", "master": "br0"}, "PASS"),
    case("link-bridge-port", "link", {"name": "a2p", "kind": "bridge"}, "FAIL"),  # info_slave_kind is not its kind
    case("link-bridge-port", "link", {"name": "a2p", "master": "br1"}, "FAIL"),
    case("link-missing", "link", {"name": "nope", "expect": "absent"}, "PASS", observed={"present": False}),
    case("link-missing", "link", {"name": "nope"}, "FAIL", reason="no link nope in namespace a"),
    case("link-missing", "link", {"name": "nope", "mtu": 1500}, "FAIL"),
    # ------------------------------------------------------------------ address
    case("addr-all", "address", {"address": "10.1.0.1/24", "scope": "global"}, "PASS",
         observed={"present": True, "dev": "a0", "prefixlen": 24, "scope": "global", "tentative": False,
                   "dadfailed": False, "deprecated": False, "noprefixroute": False}),
    case("addr-all", "address", {"address": "10.1.0.1/16"}, "FAIL", reason="no address 10.1.0.1/16 in namespace a"),
    case("addr-all", "address", {"address": "10.1.0.1", "expect": "absent"}, "FAIL", reason="10.1.0.1 is present on a0"),
    case("addr-all", "address", {"address": "10.5.0.1/32", "scope": "host"}, "PASS"),
    case("addr-all", "address", {"address": "10.5.0.1", "scope": "global"}, "FAIL",
         reason="the address differs: scope host (expected global)"),
    case("addr-all", "address", {"address": "10.1.0.9/24", "noprefixroute": True}, "PASS"),
    case("addr-all", "address", {"address": "10.1.0.9/24", "noprefixroute": False, "expect": "absent"}, "PASS"),
    case("addr-all", "address", {"address": "10.1.0.10/24", "deprecated": True}, "PASS"),
    case("addr-all", "address", {"address": "10.1.0.1/24", "deprecated": True}, "FAIL"),
    case("addr-all", "address", {"address": "fd00:1::20/64", "deprecated": True, "tentative": False}, "PASS"),
    case("addr-all", "address", {"address": "FD00:1::20", "deprecated": True}, "PASS"),  # any spelling of the address
    case("addr-all", "address", {"address": "fd00:5::1/64", "dev": "a1", "tentative": True}, "PASS"),
    case("addr-all", "address", {"address": "fd00:5::1/64", "tentative": False}, "FAIL",
         reason="the address differs: tentative True (expected False)"),
    case("addr-all", "address", {"address": "10.6.0.1/32"}, "PASS"),  # "local" of a peer address
    case("addr-all", "address", {"address": "10.6.0.2", "expect": "absent"}, "PASS"),  # the peer is not ours
    case("addr-all", "address", {"address": "fe80::ff:fe00:a0", "scope": "link"}, "PASS"),
    case("addr-all", "address", {"address": "10.7.0.1/24", "noprefixroute": True}, "PASS"),
    case("addr-all", "address", {"address": "10.7.0.1/24", "noprefixroute": False}, "PASS",
         bug="address judge looks only at the first link with the address (found[0]): 10.7.0.1/24 is on a0 "
             "(noprefixroute) and on a2 (not); the judge FAILs, the screen (any record) holds"),
    case("addr-dev", "address", {"address": "10.1.0.1", "dev": "a0"}, "PASS"),
    case("addr-dadfailed", "address", {"address": "fd00:2::9/64", "dadfailed": True, "tentative": True}, "PASS"),
    case("addr-dadfailed", "address", {"address": "fd00:2::9/64", "dadfailed": False}, "FAIL"),
    case("addr-missing", "address", {"address": "10.1.0.1", "dev": "nope", "expect": "absent"}, "PASS",
         observed={"present": False}),
    case("addr-missing", "address", {"address": "10.1.0.1", "dev": "nope"}, "FAIL",
         reason="no address 10.1.0.1 on nope"),
    # ------------------------------------------------------------------ neighbour
    case("neigh-to-dev", "neighbour", {"address": "10.1.0.254", "dev": "a0", "state": ["REACHABLE"],
                                       "lladdr": "02:00:00:00:00:F0"}, "PASS",
         observed={"present": True, "dev": "a0", "state": ["REACHABLE"], "lladdr": "02:00:00:00:00:f0", "router": False}),
    case("neigh-to-dev", "neighbour", {"address": "10.1.0.254", "dev": "a0", "lladdr": "02:00:00:00:00:01"}, "FAIL",
         reason="the entry differs: lladdr 02:00:00:00:00:f0 (expected 02:00:00:00:00:01)"),
    case("neigh-to-v6", "neighbour", {"address": "fd00:1::254", "router": True, "state": ["REACHABLE", "STALE"]}, "PASS"),
    case("neigh-to-v6", "neighbour", {"address": "fd00:1::254", "router": False}, "FAIL"),
    case("neigh-to-v6", "neighbour", {"address": "fd00:1:0::254"}, "PASS",
         bug="neighbour compares the address as written: fd00:1:0::254 is fd00:1::254, but no entry is found "
             "(judge and screen both; the same for route via, ping error from, connect seen_from)"),
    case("neigh-none", "neighbour", {"address": "10.1.0.99", "expect": "absent"}, "PASS", observed={"present": False}),
    case("neigh-none", "neighbour", {"address": "10.1.0.99"}, "FAIL", reason="no neighbour entry for 10.1.0.99"),
    case("neigh-all", "neighbour", {"address": "10.1.0.88", "state": ["PERMANENT"], "lladdr": "02:00:00:00:00:88"},
         "PASS"),
    case("neigh-all", "neighbour", {"address": "10.1.0.89", "state": ["STALE", "DELAY"]}, "PASS"),
    case("neigh-all", "neighbour", {"address": "10.1.0.77", "state": ["FAILED"]}, "PASS",
         observed={"present": True, "dev": "a0", "state": ["FAILED"], "lladdr": None, "router": False}),
    case("neigh-all", "neighbour", {"address": "10.1.0.77", "state": ["REACHABLE"]}, "FAIL",
         reason="the entry differs: state ['FAILED'] (expected ['REACHABLE'])"),
    case("neigh-all", "neighbour", {"address": "10.1.0.77", "expect": "absent"}, "FAIL"),
    case("neigh-to", "neighbour", {"address": "10.1.0.254"}, "PASS"),  # on two links (see below)
    case("neigh-to", "neighbour", {"address": "10.1.0.254", "expect": "absent"}, "FAIL"),
    case("neigh-missing-dev", "neighbour", {"address": "10.1.0.254", "dev": "nope", "expect": "absent"}, "PASS",
         bug="neighbour on a link that does not exist is ERROR ('Cannot find device'), where link and address "
             "checks say absent; a deleted link cannot be checked for its neighbours"),
    # ------------------------------------------------------------------ rule
    case("rule-v4", "rule", {"priority": 100, "from": "10.1.0.5", "table": 100}, "PASS",
         observed={"matching": [{"priority": 100, "src": "10.1.0.5", "table": "100"}], "rules": 18,
                   "at_priority": [{"priority": 100, "src": "10.1.0.5", "table": "100"}]}),
    case("rule-v4", "rule", {"from": "10.1.0.5/32", "table": 100}, "PASS"),  # host prefix: no srclen in JSON
    case("rule-v4", "rule", {"from": "10.1.0.0/24", "to": "10.2.0.0/16", "table": 101}, "PASS"),
    case("rule-v4", "rule", {"from": "10.1.0.0/16"}, "FAIL", reason="no rule with the expected selectors and action"),
    case("rule-v4", "rule", {"not": True, "fwmark": "0x7", "fwmask": 255, "table": 102}, "PASS"),  # "not": null
    case("rule-v4", "rule", {"priority": 102, "fwmark": 7}, "FAIL"),  # that rule has not
    case("rule-v4", "rule", {"fwmark": 7, "table": 100}, "PASS"),
    case("rule-v4", "rule", {"iif": "a0", "oif": "lo", "table": 103}, "PASS"),
    case("rule-v4", "rule", {"tos": 8, "table": 104}, "PASS"),  # "tos": "0x08"
    case("rule-v4", "rule", {"tos": 16}, "FAIL"),
    case("rule-v4", "rule", {"ipproto": "tcp", "sport": 80, "dport": "1000-2000", "table": 105}, "PASS"),
    case("rule-v4", "rule", {"ipproto": "tcp", "sport": "80-80"}, "PASS"),
    case("rule-v4", "rule", {"ipproto": "tcp", "dport": "1000-2001"}, "FAIL"),
    case("rule-v4", "rule", {"ipproto": "udp", "dport": 53, "table": 113}, "PASS"),
    case("rule-v4", "rule", {"uidrange": "1000-2000", "table": 106}, "PASS"),
    case("rule-v4", "rule", {"uidrange": "0-0", "table": 114}, "PASS"),
    case("rule-v4", "rule", {"priority": 107, "goto": 110}, "PASS"),
    case("rule-v4", "rule", {"from": "10.9.0.0/24", "action": "unreachable"}, "PASS"),
    case("rule-v4", "rule", {"from": "10.9.0.0/24", "action": "prohibit"}, "FAIL"),
    case("rule-v4", "rule", {"table": "main", "suppress_prefixlength": 0}, "PASS"),
    case("rule-v4", "rule", {"priority": 110, "l3mdev": True}, "PASS"),  # "l3mdev": null
    case("rule-v4", "rule", {"to": "10.5.0.7", "action": "prohibit"}, "PASS"),
    case("rule-v4", "rule", {"priority": 32766, "from": "all", "table": "main"}, "PASS"),
    case("rule-v4", "rule", {"priority": 0, "to": "all", "table": "local"}, "PASS"),
    case("rule-v4", "rule", {"fwmark": 8, "expect": "absent"}, "PASS"),
    case("rule-v4", "rule", {"priority": 100, "expect": "absent"}, "FAIL",
         reason="a matching rule is present (priority 100)"),
    case("rule-v6", "rule", {"from": "fd00:1::/64", "table": 200}, "PASS"),
    case("rule-v6", "rule", {"from": "fd00:1::5", "table": 201}, "PASS"),
    case("rule-v6", "rule", {"from": "fd00:1::/48"}, "FAIL"),
    # ------------------------------------------------------------------ route
    case("route-v4", "route", {"dst": "default", "via": "10.1.0.254", "dev": "a0", "metric": 0}, "PASS"),
    case("route-v4", "route", {"dst": "10.1.0.0/24", "dev": "a0", "proto": "kernel", "scope": "link",
                               "src": "10.1.0.1"}, "PASS"),
    case("route-v4", "route", {"dst": "10.3.0.0/24", "via": "10.1.0.254", "mtu": 1280}, "PASS"),  # mtu lock 1280
    case("route-v4", "route", {"dst": "10.3.0.0/24", "mtu": 1300}, "FAIL"),
    case("route-v4", "route", {"dst": "10.4.0.0/24", "proto": "static", "src": "10.1.0.1", "metric": 50}, "PASS"),
    case("route-v4", "route", {"dst": "10.4.0.0/24", "metric": 51}, "FAIL",
         reason="no route to 10.4.0.0/24 with the expected fields"),
    case("route-v4", "route", {"dst": "10.4.1.0/24", "proto": "boot"}, "PASS",
         bug="route proto boot can never match: 'ip route show' (no -d) leaves 'proto boot' out, the judge reads "
             "no proto"),
    case("route-v4", "route", {"dst": "10.4.2.0/24", "proto": "42"}, "PASS",
         bug="route proto by number: iproute2 prints proto 42 by its name (babel), the check compares text"),
    case("route-v4", "route", {"dst": "10.6.0.2", "dev": "a0", "scope": "link"}, "PASS"),  # host route, no /32
    case("route-v4", "route", {"dst": "10.40.0.0/24", "via": "fd00:1::254"}, "PASS"),  # via inet6
    case("route-v4", "route", {"dst": "10.41.0.0/24", "scope": "link"}, "PASS"),
    case("route-v4", "route", {"dst": "10.41.0.0/24", "scope": "global"}, "FAIL"),
    case("route-v4", "route", {"dst": "10.42.0.0/24", "nexthops": [{"via": "10.1.0.254", "dev": "a0", "weight": 2},
                                                                 {"dev": "m0", "weight": 1}]}, "PASS"),
    case("route-v4", "route", {"dst": "10.42.0.0/24", "via": "10.1.0.254", "dev": "m0"}, "PASS"),  # any of its hops
    case("route-v4", "route", {"dst": "10.42.0.0/24", "nexthops": [{"dev": "m0", "weight": 2}]}, "FAIL"),
    case("route-v4", "route", {"dst": "10.43.0.0/24", "nhid": 2, "via": "10.1.0.254"}, "PASS"),
    case("route-v4", "route", {"dst": "10.43.0.0/24", "nhid": 1}, "FAIL"),
    case("route-v4", "route", {"dst": "10.66.0.0/24", "type": "blackhole"}, "PASS"),
    case("route-v4", "route", {"dst": "10.66.0.0/24", "type": "unicast"}, "FAIL"),
    case("route-v4", "route", {"dst": "10.67.0.0/24", "type": "prohibit"}, "PASS"),
    case("route-v4", "route", {"dst": "10.68.0.0/24", "type": "unreachable"}, "PASS"),
    case("route-v4", "route", {"dst": "10.69.0.0/24", "type": "throw"}, "PASS"),
    case("route-v4", "route", {"dst": "10.99.0.0/24", "expect": "absent"}, "PASS"),
    case("route-v4", "route", {"dst": "10.1.0.0/24", "expect": "absent"}, "FAIL",
         reason="a route to 10.1.0.0/24 is present"),
    case("route-v6", "route", {"dst": "default", "ipv6": True, "via": "fd00:1::254", "metric": 1024}, "PASS"),
    case("route-v6", "route", {"dst": "fd00:9::/64", "dev": "a0", "metric": 1024}, "PASS"),
    case("route-v6", "route", {"dst": "fd00:10::/64", "nexthops": [{"via": "fd00:1::254", "weight": 3},
                                                                 {"via": "fd00:1::253", "weight": 1}]}, "PASS"),
    case("route-v6", "route", {"dst": "fd00:10::/64", "nexthops": [{"via": "fd00:1::253", "weight": 3}]}, "FAIL"),
    case("route-v6", "route", {"dst": "fd00:10:0::/64"}, "PASS",
         bug="route dst in another spelling (fd00:10:0::/64 = fd00:10::/64): the judge matches it, the screen "
             "compares the text and does not hold"),
    case("route-table-100", "route", {"dst": "10.2.0.0/24", "table": 100, "via": "10.1.0.254"}, "PASS"),
    case("route-table-missing", "route", {"dst": "default", "table": 4242, "expect": "absent"}, "PASS",
         observed={"routes_to_dst": [], "matching": 0, "table_exists": False}),
    case("route-table-missing", "route", {"dst": "default", "table": 4242}, "FAIL"),
    case("route-local-lo-down", "route", {"dst": "127.0.0.1", "table": "local", "expect": "absent"}, "PASS"),
    case("route-local-lo-down", "route", {"dst": "127.0.0.1", "table": "local"}, "FAIL"),
    # ------------------------------------------------------------------ path
    case("path-plain", "path", {"to": "10.2.0.1", "via": "10.1.0.254", "dev": "a0", "src": "10.1.0.1",
                                "table": "main", "type": "unicast"}, "PASS",
         observed={"routed": True, "dev": "a0", "type": "unicast", "table": "main", "via": "10.1.0.254",
                   "src": "10.1.0.1"}),
    case("path-plain", "path", {"to": "10.2.0.1", "mtu_lock": False}, "PASS"),
    case("path-plain", "path", {"to": "10.2.0.1", "mtu": 1500}, "FAIL"),  # no MTU in the answer
    case("path-plain", "path", {"to": "10.2.0.1", "expect": "unreachable"}, "FAIL",
         reason="10.2.0.1 is routed via a0"),
    case("path-cached-pmtu", "path", {"to": "10.2.0.1", "mtu": 1300, "mtu_lock": False}, "PASS"),
    case("path-cached-pmtu", "path", {"to": "10.2.0.1", "mtu": 1500}, "FAIL",
         reason="the selected path differs: mtu 1300 (expected 1500)"),
    case("path-mtu-lock", "path", {"to": "10.3.0.5", "mtu": 1280, "mtu_lock": True}, "PASS"),
    case("path-mtu-lock", "path", {"to": "10.3.0.5", "mtu_lock": False}, "FAIL"),
    case("path-mark", "path", {"to": "10.2.0.1", "mark": 7, "table": 100}, "PASS"),
    case("path-mark", "path", {"to": "10.2.0.1", "mark": 7, "table": "main"}, "FAIL",
         reason="the selected path differs: table 100 (expected main)"),
    case("path-selectors", "path", {"to": "10.2.0.1", "oif": "a0", "dev": "a0", "mtu": 1300}, "PASS"),
    case("path-martian-iif", "path", {"to": "10.2.0.1", "from": "10.1.0.1", "iif": "a0", "expect": "unreachable"},
         "PASS"),
    case("path-via-inet6", "path", {"to": "10.40.0.1", "via": "fd00:1::254", "dev": "a0"}, "PASS"),
    case("path-local", "path", {"to": "10.1.0.1", "type": "local", "dev": "lo", "table": "local"}, "PASS"),
    case("path-broadcast", "path", {"to": "10.1.0.255", "expect": "unreachable"}, "PASS"),  # not routed as unicast
    case("path-broadcast", "path", {"to": "10.1.0.255", "type": "broadcast"}, "PASS",
         bug="path type broadcast/multicast is accepted by the model but can never PASS: the judge calls such an "
             "answer 'not routed' and the screen wants unicast|local"),
    case("path-multicast", "path", {"to": "224.0.0.5", "type": "multicast", "dev": "a0"}, "PASS",
         bug="as above (path type multicast)"),
    case("path-blackhole", "path", {"to": "10.66.0.1", "expect": "unreachable"}, "PASS",
         observed={"routed": False, "error": "RTNETLINK answers: Invalid argument"}),
    case("path-blackhole", "path", {"to": "10.66.0.1", "dev": "a0"}, "FAIL",
         reason="no path to 10.66.0.1: RTNETLINK answers: Invalid argument"),
    case("path-prohibit", "path", {"to": "10.67.0.1", "expect": "unreachable"}, "PASS"),
    case("path-unreachable", "path", {"to": "10.68.0.1", "expect": "unreachable"}, "PASS"),
    case("path-no-route", "path", {"to": "10.1.0.1", "expect": "unreachable"}, "PASS"),
    case("path-cached-pmtu-v6", "path", {"to": "fd00:2::1", "via": "fd00:1::254", "mtu": 1300, "mtu_lock": False,
                                         "table": "main"}, "PASS"),
    # ------------------------------------------------------------------ sysctl
    case("sysctl-ping-group-range", "sysctl", {"key": "net.ipv4.ping_group_range", "value": "1 0"}, "PASS",
         observed={"present": True, "value": "1 0"}),
    case("sysctl-ping-group-range", "sysctl", {"key": "net.ipv4.ping_group_range", "value": "1\t  0"}, "PASS"),
    case("sysctl-ping-group-range", "sysctl", {"key": "net.ipv4.ping_group_range", "value": "0 2147483647"}, "FAIL",
         reason="net.ipv4.ping_group_range is 1 0, expected 0 2147483647"),
    case("sysctl-ip-forward", "sysctl", {"key": "net.ipv4.ip_forward", "value": 1}, "PASS"),
    case("sysctl-ip-forward", "sysctl", {"key": "net.ipv4.ip_forward", "value": "0"}, "FAIL"),
    case("sysctl-ip-forward", "sysctl", {"key": "net.ipv4.ip_forward", "expect": "absent"}, "FAIL",
         reason="net.ipv4.ip_forward exists (value 1)"),
    case("sysctl-per-interface", "sysctl", {"key": "net.ipv4.conf.a0.rp_filter", "value": 0}, "PASS"),
    case("sysctl-missing", "sysctl", {"key": "net.ipv4.no_such_key", "expect": "absent"}, "PASS",
         observed={"present": False}),
    case("sysctl-missing", "sysctl", {"key": "net.ipv4.no_such_key", "value": 1}, "FAIL",
         reason="the kernel has no sysctl net.ipv4.no_such_key"),
    case("sysctl-missing-interface", "sysctl", {"key": "net.ipv4.conf.nope.rp_filter", "expect": "absent"}, "PASS"),
    case("sysctl-directory", "sysctl", {"key": "net.ipv4.conf.all", "value": " ".join(
        RECORDS["sysctl-directory"]["stdout"].split())}, "PASS",
         bug="a sysctl whose output has several lines (a directory key such as net.ipv4.conf.all): the judge reads "
             "every line, the screen only the first"),
    # ------------------------------------------------------------------ ping
    case("ping-ok-ttl63", "ping", {"to": "10.2.0.1", "count": 2, "ttl": 63, "max_rtt": 10}, "PASS",
         observed={"exit_code": 0, "transmitted": 2, "received": 2, "loss_percent": 0, "loss_of_count_percent": 0.0,
                   "ttl": [63]}),
    case("ping-ok-ttl63", "ping", {"to": "10.2.0.1", "count": 2, "ttl": 64}, "FAIL",
         reason="replies came with ttl [63], expected 64"),
    case("ping-ok-ttl63", "ping", {"to": "10.2.0.1", "count": 2, "max_rtt": 0.01}, "FAIL"),
    case("ping-ok-ttl63", "ping", {"to": "10.2.0.1", "expect": "unreachable"}, "FAIL",
         reason="10.2.0.1 answered 2 of 2 echo requests"),
    case("ping-loss-1-of-3", "ping", {"to": "10.2.0.1", "count": 3, "interval": 0.25, "max_loss": 40}, "PASS",
         observed={"received": 2, "loss_of_count_percent": 33.333}),
    case("ping-loss-1-of-3", "ping", {"to": "10.2.0.1", "count": 3, "interval": 0.25, "max_loss": 30}, "FAIL",
         reason="packet loss 33.333% of 3 is above 30%"),
    case("ping-loss-1-of-3", "ping", {"to": "10.2.0.1", "count": 3, "interval": 0.25, "max_loss": 33.333}, "PASS",
         bug="ping max_loss at the boundary: the judge compares 33.333 (rounded to 3 places) with max_loss 33.333 "
             "and PASSes; the screen compares in 1/100 % (1 of 3 lost: 10000 > 3333*3) and does not hold"),
    case("ping-ttl-exceeded-v4", "ping", {"to": "10.2.0.1", "count": 1, "error": {"type": "ttl_exceeded",
                                                                                "from": "10.1.0.254"}}, "PASS",
         observed={"errors": [{"type": "ttl_exceeded", "from": "10.1.0.254"}]}),
    case("ping-ttl-exceeded-v4", "ping", {"to": "10.2.0.1", "count": 1,
                                          "error": {"type": "ttl_exceeded", "from": "10.2.0.254"}}, "FAIL",
         reason="no ttl_exceeded error from 10.2.0.254 (errors seen: ttl_exceeded)"),
    case("ping-ttl-exceeded-v4", "ping", {"to": "10.2.0.1", "count": 1, "error": {"type": "frag_needed"}}, "FAIL"),
    case("ping-ttl-exceeded-v4", "ping", {"to": "10.2.0.1", "count": 1, "expect": "unreachable"}, "PASS"),
    case("ping-ttl-exceeded-v4", "ping", {"to": "10.2.0.1", "count": 1}, "FAIL"),
    case("ping-ttl-exceeded-v6", "ping", {"to": "fd00:2::1", "count": 1,
                                          "error": {"type": "ttl_exceeded", "from": "fd00:1::254"}}, "PASS"),
    case("ping-frag-needed-v4", "ping", {"to": "10.2.0.1", "count": 1,
                                         "error": {"type": "frag_needed", "mtu": 1300, "from": "10.1.0.254"}}, "PASS",
         observed={"errors": [{"type": "frag_needed", "from": "10.1.0.254", "mtu": 1300}]}),
    case("ping-frag-needed-v4", "ping", {"to": "10.2.0.1", "count": 1, "error": {"type": "frag_needed", "mtu": 1400}},
         "FAIL", reason="no frag_needed error with mtu 1400 (errors seen: frag_needed)"),
    case("ping-packet-too-big-v6", "ping", {"to": "fd00:2::1", "count": 1,
                                            "error": {"type": "frag_needed", "mtu": 1300, "from": "fd00:1::254"}}, "PASS"),
    case("ping-local-msgsize-v4", "ping", {"to": "10.2.0.1", "count": 1, "error": {"type": "frag_needed", "mtu": 1300}},
         "PASS", observed={"errors": [{"type": "frag_needed", "mtu": 1300}]}),
    case("ping-local-msgsize-v4", "ping", {"to": "10.2.0.1", "count": 1,
                                           "error": {"type": "frag_needed", "from": "10.1.0.254"}}, "FAIL"),
    case("ping-local-msgsize-v6", "ping", {"to": "fd00:2::1", "count": 1, "error": {"type": "frag_needed", "mtu": 1300}},
         "PASS", observed={"errors": [{"type": "frag_needed", "mtu": 1300}]}),  # "mtu: 1300"
    case("ping-net-unreachable-v4", "ping", {"to": "10.99.0.1", "count": 1,
                                             "error": {"type": "net_unreachable", "from": "10.1.0.254"}}, "PASS"),
    case("ping-net-unreachable-v4", "ping", {"to": "10.99.0.1", "count": 1, "error": {"type": "host_unreachable"}},
         "FAIL", reason="no host_unreachable error (errors seen: net_unreachable)"),
    case("ping-net-unreachable-v6", "ping", {"to": "fd00:99::1", "count": 1, "error": {"type": "net_unreachable"}},
         "PASS"),
    case("ping-host-unreachable-router", "ping", {"to": "10.97.0.1", "count": 1,
                                                  "error": {"type": "host_unreachable", "from": "10.1.0.254"}}, "PASS"),
    case("ping-host-unreachable-arp", "ping", {"to": "10.1.0.78", "count": 1,
                                               "error": {"type": "host_unreachable", "from": "10.1.0.1"}}, "PASS"),
    case("ping-prohibited-v4", "ping", {"to": "10.98.0.1", "count": 1, "error": {"type": "prohibited"}}, "PASS"),
    case("ping-prohibited-v6", "ping", {"to": "fd00:98::1", "count": 1, "error": {"type": "prohibited"}}, "PASS"),
    case("ping-prohibited-v6", "ping", {"to": "fd00:98::1", "count": 1, "error": {"type": "net_unreachable"}}, "FAIL"),
    case("ping-refused-blackhole", "ping", {"to": "10.66.0.1", "expect": "unreachable"}, "PASS"),
    case("ping-refused-blackhole", "ping", {"to": "10.66.0.1"}, "FAIL"),
    case("ping-refused-prohibit", "ping", {"to": "10.67.0.1", "expect": "unreachable"}, "PASS"),
    case("ping-refused-unreachable", "ping", {"to": "10.68.0.1", "expect": "unreachable"}, "PASS"),
    case("ping-refused-no-route", "ping", {"to": "10.1.0.1", "expect": "unreachable"}, "PASS"),
    case("ping-refused-no-route", "ping", {"to": "10.1.0.1", "error": {"type": "net_unreachable"}}, "FAIL"),
    case("ping-refused-lo-down-v6", "ping", {"to": "::1", "expect": "unreachable"}, "PASS"),
    case("ping-refused-lo-down-v6", "ping", {"to": "::1"}, "FAIL"),
]


@pytest.fixture(scope="module")
def screens():
    """Every case's screen verdict, computed in one bash run."""
    params = [p.values for p in CASES]
    specs = [spec_of(kind, fields) for _record, kind, fields, *_ in params]
    held = screens_hold([(spec, RECORDS[r]["exit_code"], RECORDS[r]["stdout"], RECORDS[r]["stderr"])
                         for spec, (r, *_) in zip(specs, params)])
    return {_key(*p.values[:3]): h for p, h in zip(CASES, held)}


def _key(record, kind, fields):
    return record, kind, json.dumps(fields, sort_keys=True)


def test_every_record_is_judged():
    judged = {p.values[0] for p in CASES}
    assert judged == set(RECORDS), sorted(set(RECORDS) - judged)


def test_records_say_where_they_come_from():
    source = json.loads((DATA / "kind-outputs.json").read_text())["source"]
    assert source["iproute2"].startswith("ip utility, iproute2-6.1.0")
    assert source["procps"] == "sysctl from procps-ng 4.0.2"
    assert source["iputils"] == "ping from iputils 20221126"


@pytest.mark.parametrize("record, kind, fields, status, reason, observed", CASES)
def test_judge_and_screen_on_real_output(record, kind, fields, status, reason, observed, screens):
    spec = spec_of(kind, fields)
    verdict = judge_record(spec, RECORDS[record])
    held = screens[_key(record, kind, fields)]
    assert verdict.status == status, f"judge: {verdict.status} ({verdict.reason}), observed {verdict.observed}"
    if reason is not None:
        assert verdict.reason == reason
    if observed is not None:
        assert {k: verdict.observed.get(k) for k in observed} == observed
    assert held == (status == "PASS"), f"the screen says {'held' if held else 'not held'}, the judge {status}"


@pytest.mark.xfail(strict=True, reason="neighbour judge looks only at the first entry for the address (found[0]); "
                   "10.1.0.254 is REACHABLE on a0 and FAILED on a2 (in either order): asked for one state without "
                   "dev, the judge FAILs when the other entry comes first, while the screen (any entry) holds")
def test_neighbour_on_two_links_without_dev():
    record = RECORDS["neigh-to"]
    specs = [spec_of("neighbour", {"namespace": "a", "address": "10.1.0.254", "state": [state]})
             for state in ("REACHABLE", "FAILED")]
    held = screens_hold([(spec, record["exit_code"], record["stdout"], record["stderr"]) for spec in specs])
    assert held == [True, True]
    assert [judge_record(spec, record).status for spec in specs] == ["PASS", "PASS"]

#!/usr/bin/env python3
"""Capture the real tool output that tests/test_kind_parsers.py judges (run as root, by hand).

    sudo python3 tests/data/capture_kind_outputs.py     # rewrites tests/data/kind-outputs.json

It builds three namespaces (``kcap-a`` -- ``kcap-r`` -- ``kcap-b``: a host, a router, a host
behind a 1300-byte link), puts every kind of link, address, neighbour, rule and route the
check kinds read into them, runs each command once and stores its exit code, stdout and
stderr with the machine's kernel, iproute2, procps and iputils versions. Everything it makes
is deleted on exit. The commands are the ones the check templates run (``ip -json ...``,
``ip -d route get``, ``sysctl -n``, ``ping -n``), with the namespace names written as
``kcap-*``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "kind-outputs.json"
NS = ("kcap-a", "kcap-r", "kcap-b", "kcap-e")

# The topology, as shell commands (each must succeed).
SETUP = """
for n in kcap-a kcap-r kcap-b; do ip netns add $n; ip -n $n link set lo up; done
ip netns add kcap-e
ip netns exec kcap-a sysctl -qw net.ipv4.ip_forward=0
ip netns exec kcap-r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n kcap-a link add a0 address 02:00:00:00:00:a0 type veth peer name r0 address 02:00:00:00:00:f0 netns kcap-r
ip -n kcap-r link add r1 mtu 1300 type veth peer name b0 mtu 1300 netns kcap-b
ip -n kcap-a link add a1 type veth peer name a1p
ip -n kcap-a link add a2 type veth peer name a2p
ip -n kcap-a link add m0 link a0 mtu 1400 type macvlan mode bridge
ip -n kcap-a link add vx0 type vxlan id 10 remote 10.1.0.254 dstport 4789
ip -n kcap-a link add br0 type bridge
ip -n kcap-a link set a2p master br0
for l in a0 a1 a2 a2p br0 m0; do ip -n kcap-a link set $l up; done
for l in a0 a2; do
  ip netns exec kcap-a sysctl -qw net.ipv4.neigh.$l.mcast_solicit=1 net.ipv4.neigh.$l.retrans_time_ms=100
done
ip -n kcap-r link set r0 up; ip -n kcap-r link set r1 up; ip -n kcap-b link set b0 up
ip -n kcap-a addr add 10.1.0.1/24 dev a0
ip -n kcap-a addr add 10.5.0.1/32 dev a0 scope host
ip -n kcap-a addr add 10.1.0.9/24 dev a0 noprefixroute
ip -n kcap-a addr add 10.1.0.10/24 dev a0 valid_lft 100 preferred_lft 0
ip -n kcap-a addr add 10.6.0.1 peer 10.6.0.2/32 dev a0
ip -n kcap-a addr add 10.1.0.11/24 dev a0 label a0:x metric 5
ip -n kcap-a addr add 10.7.0.1/24 dev a0 noprefixroute
ip -n kcap-a addr add 10.1.0.6/24 dev a0
ip -n kcap-a addr add 10.7.0.1/24 dev a2
ip -n kcap-a addr add 10.8.0.1/24 dev a2
ip -n kcap-a addr add fd00:1::1/64 dev a0 nodad
ip -n kcap-a addr add fd00:1::20/64 dev a0 nodad valid_lft 100 preferred_lft 0
ip -n kcap-a link set a1p down
ip -n kcap-a addr add fd00:5::1/64 dev a1
ip -n kcap-r addr add 10.1.0.254/24 dev r0
ip -n kcap-r addr add 10.2.0.254/24 dev r1
ip -n kcap-r addr add fd00:1::254/64 dev r0 nodad
ip -n kcap-r addr add fd00:2::254/64 dev r1 nodad
ip -n kcap-b addr add 10.2.0.1/24 dev b0
ip -n kcap-b addr add fd00:2::1/64 dev b0 nodad
ip netns exec kcap-b sysctl -qw net.ipv6.conf.b0.accept_dad=1 net.ipv6.conf.b0.dad_transmits=1
ip -n kcap-r addr add fd00:2::9/64 dev r1 nodad
ip -n kcap-b addr add fd00:2::9/64 dev b0
printf 'table inet t {\n chain fw {\n  type filter hook forward priority 0;\n  ip saddr 10.1.0.6 icmp type echo-request numgen inc mod 2 == 0 drop\n }\n}\n' |
  ip netns exec kcap-r nft -f -
ip -n kcap-a route add default via 10.1.0.254
ip -n kcap-a -6 route add default via fd00:1::254
ip -n kcap-b route add default via 10.2.0.254
ip -n kcap-b -6 route add default via fd00:2::254
ip -n kcap-r route add prohibit 10.98.0.0/24
ip -n kcap-r route add unreachable 10.97.0.0/24
ip -n kcap-r -6 route add prohibit fd00:98::/64
ip -n kcap-a route add 10.3.0.0/24 via 10.1.0.254 mtu lock 1280
ip -n kcap-a route add 10.4.0.0/24 via 10.1.0.254 proto static metric 50 src 10.1.0.1
ip -n kcap-a route add 10.4.1.0/24 via 10.1.0.254 proto boot
ip -n kcap-a route add 10.4.2.0/24 via 10.1.0.254 proto 42
ip -n kcap-a route add 10.40.0.0/24 via inet6 fd00:1::254 dev a0
ip -n kcap-a route add 10.41.0.0/24 dev a0 scope link
ip -n kcap-a route add 10.42.0.0/24 nexthop via 10.1.0.254 dev a0 weight 2 nexthop dev m0 weight 1
ip -n kcap-a nexthop add id 1 via 10.1.0.254 dev a0
ip -n kcap-a nexthop add id 2 group 1,3
ip -n kcap-a route add 10.43.0.0/24 nhid 2
ip -n kcap-a route add blackhole 10.66.0.0/24
ip -n kcap-a route add prohibit 10.67.0.0/24
ip -n kcap-a route add unreachable 10.68.0.0/24
ip -n kcap-a route add throw 10.69.0.0/24
ip -n kcap-a route add 10.2.0.0/24 via 10.1.0.254 table 100
ip -n kcap-a -6 route add fd00:9::/64 dev a0
ip -n kcap-a -6 route add fd00:10::/64 nexthop via fd00:1::254 dev a0 weight 3 nexthop via fd00:1::253 dev a0
ip -n kcap-a rule add pref 100 from 10.1.0.5 lookup 100
ip -n kcap-a rule add pref 101 from 10.1.0.0/24 to 10.2.0.0/16 lookup 101
ip -n kcap-a rule add pref 102 not fwmark 0x7/0xff lookup 102
ip -n kcap-a rule add pref 103 iif a0 oif lo lookup 103
ip -n kcap-a rule add pref 104 tos 0x08 lookup 104
ip -n kcap-a rule add pref 105 ipproto tcp sport 80 dport 1000-2000 lookup 105
ip -n kcap-a rule add pref 106 uidrange 1000-2000 lookup 106
ip -n kcap-a rule add pref 107 goto 110
ip -n kcap-a rule add pref 108 from 10.9.0.0/24 unreachable
ip -n kcap-a rule add pref 109 lookup main suppress_prefixlength 0
ip -n kcap-a rule add pref 110 l3mdev
ip -n kcap-a rule add pref 111 fwmark 7 lookup 100
ip -n kcap-a rule add pref 112 to 10.5.0.7 prohibit
ip -n kcap-a rule add pref 113 ipproto udp dport 53 lookup 113
ip -n kcap-a rule add pref 114 uidrange 0-0 lookup 114
ip -n kcap-a -6 rule add pref 200 from fd00:1::/64 lookup 200
ip -n kcap-a -6 rule add pref 201 from fd00:1::5 lookup 201
ip -n kcap-a neigh add 10.1.0.88 lladdr 02:00:00:00:00:88 dev a0 nud permanent
ip -n kcap-a neigh add 10.1.0.89 lladdr 02:00:00:00:00:89 dev a0 nud stale
ip netns exec kcap-a ping -n -c 1 -w 1 10.1.0.254 >/dev/null
ip netns exec kcap-a ping -n -6 -c 1 -w 1 fd00:1::254 >/dev/null
ip netns exec kcap-a ping -n -c 1 -w 1 10.1.0.77 >/dev/null || true
ip netns exec kcap-a ping -n -c 1 -w 1 -I a2 10.1.0.254 >/dev/null || true
sleep 1.5
"""

A, R, B, E = (f"ip -n kcap-{x}" for x in "arbe")
PING_A = "ip netns exec kcap-a ping -n"

# (id, command, note): run in this order after SETUP.
COMMANDS = [
    # link: ip -d -json link show dev NAME
    ("link-veth-up", f"{A} -d -json link show dev a0", "veth, up, carrier, MAC set at creation, peer in kcap-r"),
    ("link-veth-no-carrier", f"{A} -d -json link show dev a1", "veth up whose peer a1p is down"),
    ("link-veth-down", f"{A} -d -json link show dev a1p", "veth set down"),
    ("link-macvlan", f"{A} -d -json link show dev m0", "macvlan mode bridge on a0, mtu 1400"),
    ("link-vxlan", f"{A} -d -json link show dev vx0", "vxlan id 10, created down"),
    ("link-bridge", f"{A} -d -json link show dev br0", "bridge with one port"),
    ("link-bridge-port", f"{A} -d -json link show dev a2p", "veth enslaved to br0"),
    ("link-missing", f"{A} -d -json link show dev nope", "a link that does not exist"),
    # address: ip -json addr show [dev NAME]
    ("addr-all", f"{A} -json addr show", "scope host, noprefixroute, deprecated, peer, label+metric, nodad, "
                                          "tentative on a link without carrier, 10.7.0.1/24 on a0 and a2"),
    ("addr-dev", f"{A} -json addr show dev a0", "one link"),
    ("addr-dadfailed", f"{B} -json addr show dev b0", "fd00:2::9 was already on the router: dadfailed"),
    ("addr-missing", f"{A} -json addr show dev nope", "a link that does not exist"),
    # neighbour: ip -json neigh show [to ADDR] [dev DEV]
    ("neigh-all", f"{A} -json neigh show", "PERMANENT, STALE, FAILED, REACHABLE, IPv6 router, 10.1.0.254 on two links"),
    ("neigh-to", f"{A} -4 -json neigh show to 10.1.0.254", "one address, any link"),
    ("neigh-to-dev", f"{A} -4 -json neigh show to 10.1.0.254 dev a0", "with dev: entries have no dev key"),
    ("neigh-to-v6", f"{A} -6 -json neigh show to fd00:1::254", "IPv6 router (\"router\": null)"),
    ("neigh-none", f"{A} -4 -json neigh show to 10.1.0.99", "no entry"),
    ("neigh-missing-dev", f"{A} -4 -json neigh show to 10.1.0.254 dev nope", "a link that does not exist"),
    # rule: ip -json rule show
    ("rule-v4", f"{A} -4 -json rule show", "host prefix without srclen, not, fwmark/fwmask, iif/oif, tos, "
                                           "ipproto+ports, uidrange, goto, unreachable, suppress_prefixlen, l3mdev"),
    ("rule-v6", f"{A} -6 -json rule show", "IPv6 prefix and host rules"),
    # route: ip route show [table T]
    ("route-v4", f"{A} -4 route show", "mtu lock, proto static/boot/42, src, metric, via inet6, multipath, nhid, "
                                       "blackhole, prohibit, unreachable, throw"),
    ("route-v6", f"{A} -6 route show", "device route without next hop, IPv6 multipath with weights"),
    ("route-table-100", f"{A} -4 route show table 100", "a table with one route"),
    ("route-table-missing", f"{A} -4 route show table 4242", "a table that does not exist"),
    ("route-local-lo-down", f"{E} -4 route show table local", "fresh namespace, lo down: no local table yet"),
    # path: ip -d route get
    ("path-plain", f"{A} -d route get 10.2.0.1", "through the router, nothing cached yet"),
    ("ping-frag-needed-v4", f"{PING_A} -4 -c 1 -w 1 -M do -s 1400 10.2.0.1", "router's link to 10.2.0.1 has mtu 1300"),
    ("path-cached-pmtu", f"{A} -d route get 10.2.0.1", "after a frag-needed: cached PMTU 1300"),
    ("ping-local-msgsize-v4", f"{PING_A} -4 -c 1 -w 1 -M do -s 1400 10.2.0.1", "PMTU 1300 cached: local error"),
    ("path-mtu-lock", f"{A} -d route get 10.3.0.5", "route with mtu lock 1280"),
    ("path-mark", f"{A} -d route get 10.2.0.1 mark 7", "fwmark rule to table 100"),
    ("path-selectors", f"{A} -d route get 10.2.0.1 tos 0x10 uid 1000 ipproto tcp sport 80 dport 1500 oif a0",
     "selectors of ip route get"),
    ("path-martian-iif", f"{A} -d route get 10.2.0.1 from 10.1.0.1 iif a0", "a local source coming in: refused"),
    ("path-via-inet6", f"{A} -d route get 10.40.0.1", "IPv4 route via an IPv6 next hop"),
    ("path-local", f"{A} -d route get 10.1.0.1", "a local address"),
    ("path-broadcast", f"{A} -d route get 10.1.0.255", "the subnet broadcast address"),
    ("path-multicast", f"{A} -d route get 224.0.0.5", "multicast"),
    ("path-blackhole", f"{A} -d route get 10.66.0.1", "blackhole route"),
    ("path-prohibit", f"{A} -d route get 10.67.0.1", "prohibit route"),
    ("path-unreachable", f"{A} -d route get 10.68.0.1", "unreachable route"),
    ("path-no-route", f"{E} -d route get 10.1.0.1", "no route at all (lo down, empty namespace)"),
    ("ping-packet-too-big-v6", f"{PING_A} -6 -c 1 -w 1 -M do -s 1400 fd00:2::1", "router's link has mtu 1300"),
    ("path-cached-pmtu-v6", f"{A} -d -6 route get fd00:2::1", "IPv6: PMTU on the route line"),
    ("ping-local-msgsize-v6", f"{PING_A} -6 -c 1 -w 1 -M do -s 1400 fd00:2::1", "PMTU 1300 cached: 'mtu: 1300'"),
    # sysctl -n KEY
    ("sysctl-ping-group-range", "ip netns exec kcap-a sysctl -n net.ipv4.ping_group_range", "two fields, tab"),
    ("sysctl-ip-forward", "ip netns exec kcap-r sysctl -n net.ipv4.ip_forward", "one value"),
    ("sysctl-per-interface", "ip netns exec kcap-a sysctl -n net/ipv4/conf/a0/rp_filter", "slash form"),
    ("sysctl-missing", "ip netns exec kcap-a sysctl -n net.ipv4.no_such_key", "a key the kernel does not have"),
    ("sysctl-missing-interface", "ip netns exec kcap-a sysctl -n net/ipv4/conf/nope/rp_filter",
     "a per-interface key of a link that does not exist"),
    ("sysctl-directory", "ip netns exec kcap-a sysctl -n net.ipv4.conf.all", "a directory: one value per line"),
    # ping: replies, ICMP errors, refusals
    ("ping-ok-ttl63", f"{PING_A} -4 -c 2 -i 0.01 -w 1 10.2.0.1", "two replies through one router"),
    ("ping-loss-1-of-3", f"{PING_A} -4 -c 3 -i 0.25 -w 1 -I 10.1.0.6 10.2.0.1",
     "the router drops every other echo request from 10.1.0.6: 2 of 3 replies within the deadline"),
    ("ping-ttl-exceeded-v4", f"{PING_A} -4 -c 1 -w 1 -t 1 10.2.0.1", "send TTL 1: the router answers"),
    ("ping-ttl-exceeded-v6", f"{PING_A} -6 -c 1 -w 1 -t 1 fd00:2::1", "hop limit 1"),
    ("ping-net-unreachable-v4", f"{PING_A} -4 -c 1 -w 1 10.99.0.1", "the router has no route"),
    ("ping-net-unreachable-v6", f"{PING_A} -6 -c 1 -w 1 fd00:99::1", "the router has no route"),
    ("ping-host-unreachable-router", f"{PING_A} -4 -c 1 -w 1 -I 10.1.0.11 10.97.0.1",
     "the router has an unreachable route (its own source address: the router sends 2 such errors per source, "
     "then 1/s)"),
    ("ping-host-unreachable-arp", f"{PING_A} -4 -c 1 -w 1 10.1.0.78", "on-link, nobody answers ARP"),
    ("ping-prohibited-v4", f"{PING_A} -4 -c 1 -w 1 -I 10.1.0.9 10.98.0.1", "the router has a prohibit route"),
    ("ping-prohibited-v6", f"{PING_A} -6 -c 1 -w 1 fd00:98::1", "the router has a prohibit route"),
    ("ping-refused-blackhole", f"{PING_A} -4 -c 1 -w 1 10.66.0.1", "local blackhole route"),
    ("ping-refused-prohibit", f"{PING_A} -4 -c 1 -w 1 10.67.0.1", "local prohibit route"),
    ("ping-refused-unreachable", f"{PING_A} -4 -c 1 -w 1 10.68.0.1", "local unreachable route"),
    ("ping-refused-no-route", "ip netns exec kcap-e ping -n -4 -c 1 -w 1 10.1.0.1", "no route (lo down)"),
    ("ping-refused-lo-down-v6", "ip netns exec kcap-e ping -n -6 -c 1 -w 1 ::1", "lo down: no source address"),
]


def sh(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})


def first_line(command: str) -> str:
    return sh(command).stdout.splitlines()[0].strip()


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: it creates namespaces kcap-*", file=sys.stderr)
        return 2
    try:
        done = sh("set -e\n" + SETUP)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        records = []
        for record_id, command, note in COMMANDS:
            got = sh(command)
            records.append({"id": record_id, "command": command, "note": note, "exit_code": got.returncode,
                            "stdout": got.stdout, "stderr": got.stderr})
        source = {
            "captured": time.strftime("%Y-%m-%d"),
            "kernel": os.uname().release,
            "os": first_line(". /etc/os-release && echo $PRETTY_NAME"),
            "iproute2": first_line("ip -V"),
            "procps": first_line("sysctl --version"),
            "iputils": first_line("ping -V"),
            "how": "tests/data/capture_kind_outputs.py (its SETUP builds the namespaces)",
        }
        OUT.write_text(json.dumps({"source": source, "records": records}, indent=1) + "\n")
        print(f"wrote {len(records)} records to {OUT}")
        return 0
    finally:
        for name in NS:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())

"""The ping check for real: send options (size, don't-fragment, TTL, TOS, mark, source and
device, a non-root user), ICMP errors as expected outcomes (TTL exceeded, frag needed with the
MTU, net/host unreachable, prohibited, from whom), loss and RTT limits; each with a case where
the network does not do what is asserted and the check must FAIL.

One scenario: host ``a`` -- router ``r`` -- host ``b``, the router's link to ``b`` with MTU
1300. The router sends unreachable/prohibited errors through a per-source token bucket (about
two at once, then one a second; ``net.ipv4.route.error_cost``, global, not per namespace), so
each check that waits for one sends from its own address.
"""

from conftest import needs_root
from kindtools import assert_marked_statuses, facts, run, target  # noqa: F401 - fixtures

pytestmark = needs_root


TOPOLOGY = """
name: ping-kinds
namespaces:
  a:
  r: {sysctls: {net.ipv4.ip_forward: 1, net.ipv6.conf.all.forwarding: 1}}
  b:
veths:
  - {namespace: a, name: a0, addresses: [10.1.0.1/24, 10.1.0.2/24, 10.1.0.3/24, 10.1.0.4/24, 10.1.0.5/24,
                                         10.1.0.6/24, 10.1.0.7/24, 10.1.0.8/24, 10.1.0.9/24,
                                         "fd00:1::1/64", "fd00:1::2/64", "fd00:1::3/64", "fd00:1::4/64"],
     peer: {namespace: r, name: r0, addresses: [10.1.0.254/24, "fd00:1::254/64"]}}
  - {namespace: r, name: r1, mtu: 1300, addresses: [10.2.0.254/24, "fd00:2::254/64"],
     peer: {namespace: b, name: b0, mtu: 1300, addresses: [10.2.0.1/24, "fd00:2::1/64"]}}
routes:
  - {namespace: a, dst: default, via: 10.1.0.254}
  - {namespace: a, dst: default, via: "fd00:1::254"}
  - {namespace: b, dst: default, via: 10.2.0.254}
  - {namespace: b, dst: default, via: "fd00:2::254"}
  - {namespace: r, dst: 10.97.0.0/24, type: unreachable}
  - {namespace: r, dst: 10.98.0.0/24, type: prohibit}
  - {namespace: r, dst: "fd00:98::/64", type: prohibit}
  # what TOS 0x10 and mark 7 select (rules below): routes that refuse to send
  - {namespace: a, dst: 10.2.0.0/24, type: unreachable, table: 100}
  - {namespace: a, dst: 10.2.0.0/24, type: prohibit, table: 101}
rules:
  - {namespace: a, priority: 100, tos: 16, table: 100}
  - {namespace: a, priority: 101, fwmark: 7, table: 101}
firewall:
  - namespace: r
    nft: |
      table inet t {
        chain fw {
          type filter hook forward priority 0;
          ip saddr 10.1.0.9 drop
          ip saddr 10.1.0.6 icmp type echo-request numgen inc mod 1000000 >= 2 drop
          ip saddr 10.1.0.7 icmp type echo-request numgen inc mod 1000000 >= 2 drop
        }
      }
"""


def test_ping_options_icmp_errors_and_limits(target, facts, no_leftovers):
    result = run(TOPOLOGY + """
steps:
  - name: send options and ICMP errors
    checks:
      # send options
      - {name: "pass: size 1200 with DF fits the link", ping: {from: a, to: 10.1.0.254, size: 1200, pmtudisc: do}}
      - {name: "pass: send TTL 2 crosses one router", ping: {from: a, to: 10.2.0.1, send_ttl: 2, ttl: 63}}
      - {name: "pass: source and device", ping: {from: a, to: 10.2.0.1, source: 10.1.0.2, interface: a0}}
      - {name: "pass: as nobody", ping: {from: a, to: 10.2.0.1, user: nobody, ttl: 63}}
      - {name: "pass: TOS 0x10 selects the unreachable table", ping: {from: a, to: 10.2.0.1, tos: 16, expect: unreachable}}
      - {name: "fail: TOS 0x10 expected to get through", ping: {from: a, to: 10.2.0.1, tos: 16}}
      - {name: "pass: mark 7 selects the prohibit table", ping: {from: a, to: 10.2.0.1, mark: 7, expect: unreachable}}
      - {name: "fail: mark 7 expected to get through", ping: {from: a, to: 10.2.0.1, mark: 7}}
      - {name: "fail: a source the router drops", ping: {from: a, to: 10.2.0.1, source: 10.1.0.9}}
      # ICMP errors from the router
      - name: "pass: TTL 1 dies at the router"
        ping: {from: a, to: 10.2.0.1, send_ttl: 1, count: 1, error: {type: ttl_exceeded, from: 10.1.0.254}}
      - name: "fail: TTL exceeded expected from the wrong router"
        ping: {from: a, to: 10.2.0.1, source: 10.1.0.2, send_ttl: 1, count: 1,
               error: {type: ttl_exceeded, from: 10.2.0.254}}
      - name: "fail: TTL exceeded expected but replies come"
        ping: {from: a, to: 10.2.0.1, send_ttl: 64, count: 1, error: {type: ttl_exceeded}}
      - name: "pass: frag needed with the router's MTU"
        ping: {from: a, to: 10.2.0.1, size: 1400, pmtudisc: do, count: 1,
               error: {type: frag_needed, mtu: 1300, from: 10.1.0.254}}
      - name: "pass: net unreachable from the router"
        ping: {from: a, to: 10.99.0.1, source: 10.1.0.3, count: 1, error: {type: net_unreachable, from: 10.1.0.254}}
      - name: "pass: host unreachable from the router"
        ping: {from: a, to: 10.97.0.1, source: 10.1.0.4, count: 1, error: {type: host_unreachable}}
      - name: "pass: prohibited by the router"
        ping: {from: a, to: 10.98.0.1, source: 10.1.0.5, count: 1, error: {type: prohibited, from: 10.1.0.254}}
      - name: "fail: prohibited expected, host unreachable comes"
        ping: {from: a, to: 10.97.0.1, source: 10.1.0.3, count: 1, error: {type: prohibited}}
      - name: "pass: IPv6 hop limit exceeded"
        ping: {from: a, to: "fd00:2::1", source: "fd00:1::1", send_ttl: 1, count: 1,
               error: {type: ttl_exceeded, from: "fd00:1::254"}}
      - name: "pass: IPv6 packet too big"
        ping: {from: a, to: "fd00:2::1", source: "fd00:1::2", size: 1400, pmtudisc: do, count: 1,
               error: {type: frag_needed, mtu: 1300, from: "fd00:1::254"}}
      - name: "pass: IPv6 no route at the router"
        ping: {from: a, to: "fd00:99::1", source: "fd00:1::3", count: 1, error: {type: net_unreachable}}
      - name: "pass: IPv6 prohibited"
        ping: {from: a, to: "fd00:98::1", source: "fd00:1::4", count: 1, error: {type: prohibited}}
      # loss and RTT (the router lets only the first two requests from .6 and from .7 through)
      - {name: "pass: 1 of 3 lost is within 40%", ping: {from: a, to: 10.2.0.1, source: 10.1.0.6, max_loss: 40}}
      - {name: "fail: 1 of 3 lost is above 30%", ping: {from: a, to: 10.2.0.1, source: 10.1.0.7, max_loss: 30}}
      - {name: "pass: RTT below a second", ping: {from: a, to: 10.2.0.1, max_rtt: 1000}}
      - {name: "fail: RTT below a microsecond", ping: {from: a, to: 10.2.0.1, max_rtt: 0.001}}
      - {name: "fail: TTL 64 expected through a router", ping: {from: a, to: 10.2.0.1, ttl: 64}}
  - name: the path MTU is cached now
    checks:
      - name: "pass: local frag needed with the cached MTU"
        ping: {from: a, to: 10.2.0.1, size: 1400, pmtudisc: do, count: 1, error: {type: frag_needed, mtu: 1300}}
      - name: "fail: local frag needed with another MTU"
        ping: {from: a, to: 10.2.0.1, size: 1400, pmtudisc: do, count: 1, error: {type: frag_needed, mtu: 1400}}
      - {name: "pass: path has the cached MTU", path: {namespace: a, to: 10.2.0.1, mtu: 1300, mtu_lock: false}}
      - {name: "fail: path MTU 1500 expected", path: {namespace: a, to: 10.2.0.1, mtu: 1500}}
      - {name: "pass: IPv6 path has the cached MTU", path: {namespace: a, to: "fd00:2::1", mtu: 1300}}
""", target, facts)
    c = assert_marked_statuses(result)

    assert c["pass: send TTL 2 crosses one router"].observed["ttl"] == [63]
    assert " -t 2 " in c["pass: send TTL 2 crosses one router"].command
    assert "runuser -u nobody -- ping" in c["pass: as nobody"].command
    assert " -I a0 -I 10.1.0.2 " in c["pass: source and device"].command
    assert " -s 1200 -M do " in c["pass: size 1200 with DF fits the link"].command
    assert c["pass: size 1200 with DF fits the link"].observed["received"] == 3

    tos = c["fail: TOS 0x10 expected to get through"]
    assert " -Q 16 " in tos.command and not tos.observed["received"] and tos.exit_code == 2
    assert tos.reason.startswith("no reply from 10.2.0.1") and "No route to host" in tos.stderr
    mark = c["fail: mark 7 expected to get through"]
    assert " -m 7 " in mark.command and not mark.observed["received"] and mark.exit_code == 2
    dropped = c["fail: a source the router drops"]
    assert dropped.reason == "no reply from 10.2.0.1" and dropped.observed["transmitted"] >= 3

    ttl = c["pass: TTL 1 dies at the router"]
    assert ttl.observed["errors"] == [{"type": "ttl_exceeded", "from": "10.1.0.254"}]
    assert "From 10.1.0.254 icmp_seq=1 Time to live exceeded" in ttl.stdout
    wrong_router = c["fail: TTL exceeded expected from the wrong router"]
    assert wrong_router.reason == "no ttl_exceeded error from 10.2.0.254 (errors seen: ttl_exceeded)"
    answered = c["fail: TTL exceeded expected but replies come"]
    assert answered.reason == "10.2.0.1 answered 1 of 1 echo requests"
    frag = c["pass: frag needed with the router's MTU"]
    assert frag.observed["errors"] == [{"type": "frag_needed", "from": "10.1.0.254", "mtu": 1300}]
    assert c["pass: net unreachable from the router"].observed["errors"][0]["type"] == "net_unreachable"
    assert c["pass: host unreachable from the router"].observed["errors"][0]["type"] == "host_unreachable"
    assert c["pass: prohibited by the router"].observed["errors"][0]["type"] == "prohibited"
    other = c["fail: prohibited expected, host unreachable comes"]
    assert other.reason == "no prohibited error (errors seen: host_unreachable)"
    assert c["pass: IPv6 hop limit exceeded"].observed["errors"] == [{"type": "ttl_exceeded", "from": "fd00:1::254"}]
    assert c["pass: IPv6 packet too big"].observed["errors"] == [
        {"type": "frag_needed", "from": "fd00:1::254", "mtu": 1300}]
    assert "Destination unreachable: No route" in c["pass: IPv6 no route at the router"].stdout
    assert "Administratively prohibited" in c["pass: IPv6 prohibited"].stdout

    lossy = c["pass: 1 of 3 lost is within 40%"]
    assert lossy.observed["received"] == 2 and lossy.observed["loss_of_count_percent"] == 33.333
    too_lossy = c["fail: 1 of 3 lost is above 30%"]
    assert too_lossy.reason == "packet loss 33.333% of 3 is above 30%"
    slow = c["fail: RTT below a microsecond"]
    assert slow.reason.startswith("RTT up to ") and slow.reason.endswith(" ms, above 0.001 ms")
    assert c["fail: TTL 64 expected through a router"].reason == "replies came with ttl [63], expected 64"

    local = c["pass: local frag needed with the cached MTU"]
    assert local.observed["errors"] == [{"type": "frag_needed", "mtu": 1300}]
    assert "local error: message too long, mtu=1300" in local.stderr
    assert c["fail: local frag needed with another MTU"].reason == (
        "no frag_needed error with mtu 1400 (errors seen: frag_needed)")
    cached = c["pass: path has the cached MTU"]
    assert cached.observed["mtu"] == 1300 and cached.observed["mtu_lock"] is False
    assert "cache expires" in cached.stdout
    assert c["fail: path MTU 1500 expected"].reason == "the selected path differs: mtu 1300 (expected 1500)"
    assert c["pass: IPv6 path has the cached MTU"].observed["mtu"] == 1300

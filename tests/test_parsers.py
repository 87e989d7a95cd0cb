"""Tests for harness.parsers: the shared real-output corpus plus formats it lacks and errors."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import pytest

import harness.parsers as parsers
from harness.parsers import (
    Nexthop,
    ParseError,
    PingEvent,
    PingReply,
    PingResult,
    Route,
    parse_ping,
    parse_routes,
)

# --------------------------------------------------------------------------- the shared corpus

TESTDATA = Path(os.environ.get(
    "HARNESS_TESTDATA",
    Path(__file__).resolve().parents[2] / "shared" / "testdata" / "outputs.jsonl",
))


def _records() -> list:
    if not TESTDATA.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"{TESTDATA} not found (set HARNESS_TESTDATA to outputs.jsonl)"))]
    lines = TESTDATA.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [pytest.param(r, id=r["id"]) for r in records]


@pytest.mark.parametrize("record", _records())
def test_corpus_record_parses_to_expected(record):
    expected = record["expected"]
    if record["tool"] == "ping":
        got = parse_ping(record["raw"], command=record["command"]).to_dict()
        missing = sorted(set(expected) - set(got))
        assert not missing, f"to_dict() lacks {missing}"
        assert {key: got[key] for key in expected} == expected
    else:
        routes = parse_routes(record["raw"], tool=record["tool"])
        assert [r.to_dict() for r in routes] == expected["routes"]
        # autodetection picks the same reading
        assert [r.to_dict() for r in parse_routes(record["raw"])] == expected["routes"]


def test_corpus_is_not_empty():
    if not TESTDATA.is_file():
        pytest.skip(f"{TESTDATA} not found")
    assert len(_records()) >= 18


# --------------------------------------------------------------------------- ping: iputils

# Real output from iputils 20221126 in throw-away namespaces (A -> B over a veth; B forwards).
TTL_EXCEEDED = """\
PING 10.60.0.9 (10.60.0.9) 56(84) bytes of data.
From 10.50.0.2 icmp_seq=1 Time to live exceeded
From 10.50.0.2 icmp_seq=2 Time to live exceeded

--- 10.60.0.9 ping statistics ---
2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 203ms

"""


def test_ttl_exceeded_and_plus_errors():
    r = parse_ping(TTL_EXCEEDED)
    assert (r.transmitted, r.received, r.errors, r.duplicates) == (2, 0, 2, 0)
    assert r.loss_percent == 100 and isinstance(r.loss_percent, int)
    assert r.time_total_ms == 203
    assert r.rtt_min is None and r.pipe is None
    assert [e.to_dict() for e in r.events] == [
        {"type": "ttl_exceeded", "seq": 1, "from": "10.50.0.2", "detail": "Time to live exceeded"},
        {"type": "ttl_exceeded", "seq": 2, "from": "10.50.0.2", "detail": "Time to live exceeded"},
    ]
    assert r.interrupted is False and r.summary_present is True


def test_no_answer_yet_from_dash_O():
    text = """\
PING 10.50.0.88 (10.50.0.88) 56(84) bytes of data.
no answer yet for icmp_seq=1
no answer yet for icmp_seq=2

--- 10.50.0.88 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 410ms

"""
    r = parse_ping(text)
    assert [e.to_dict() for e in r.events] == [
        {"type": "no_answer", "seq": 1, "detail": "no answer yet for icmp_seq=1"},
        {"type": "no_answer", "seq": 2, "detail": "no answer yet for icmp_seq=2"},
    ]
    assert (r.transmitted, r.received, r.errors) == (3, 0, 0)


def test_redirect_without_colon_era_and_summary():
    text = """\
PING 10.60.0.9 (10.60.0.9) 56(84) bytes of data.
From 10.50.0.2: icmp_seq=1 Redirect Host(New nexthop: 10.50.0.3)

--- 10.60.0.9 ping statistics ---
1 packets transmitted, 0 received, 100% packet loss, time 0ms

"""
    (event,) = parse_ping(text).events
    assert event.to_dict() == {"type": "redirect", "code": "host", "seq": 1, "from": "10.50.0.2",
                               "new_nexthop": "10.50.0.3",
                               "detail": "Redirect Host(New nexthop: 10.50.0.3)"}


@pytest.mark.parametrize("message, kind, fields", [
    ("Destination Net Unreachable", "unreachable", {"code": "net"}),
    ("Destination Port Unreachable", "unreachable", {"code": "port"}),
    ("Destination Host Prohibited", "unreachable", {"code": "host_prohibited"}),
    ("Packet filtered", "unreachable", {"code": "filtered"}),
    ("Frag needed and DF set (mtu = 1400)", "unreachable", {"code": "frag_needed", "mtu": 1400}),
    ("Destination unreachable: Address unreachable", "unreachable", {"code": "address"}),
    ("Destination unreachable: No route", "unreachable", {"code": "no_route"}),
    ("Destination unreachable: Administratively prohibited", "unreachable", {"code": "prohibited"}),
    ("Time exceeded: Hop limit", "ttl_exceeded", {}),
    ("Frag reassembly time exceeded", "time_exceeded", {"code": "reassembly"}),
    ("Packet too big: mtu=1280", "packet_too_big", {"mtu": 1280}),
    ("Source Quench", "source_quench", {}),
    ("Parameter problem: pointer = 20", "parameter_problem", {"problem": "pointer = 20"}),
    ("Redirect Network(New nexthop: 10.0.0.9)", "redirect", {"code": "net", "new_nexthop": "10.0.0.9"}),
    ("Something new from a future kernel", "icmp", {}),
])
def test_icmp_error_messages(message, kind, fields):
    text = f"PING 10.0.0.9 (10.0.0.9) 56(84) bytes of data.\nFrom 10.0.0.1 icmp_seq=7 {message}\n"
    (event,) = parse_ping(text).events
    assert event.to_dict() == {"type": kind, **fields, "seq": 7, "from": "10.0.0.1", "detail": message}


def test_ipv6_unreachable_real_output():
    text = """\
PING 2001:db8:50::99(2001:db8:50::99) 56 data bytes
From 2001:db8:50::1 icmp_seq=1 Destination unreachable: Address unreachable
From 2001:db8:50::1 icmp_seq=2 Destination unreachable: Address unreachable

--- 2001:db8:50::99 ping statistics ---
2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 203ms

"""
    r = parse_ping(text)
    assert (r.target, r.target_addr, r.data_bytes) == ("2001:db8:50::99", "2001:db8:50::99", 56)
    assert [(e.type, e.code, e.seq, e.from_) for e in r.events] == [
        ("unreachable", "address", 1, "2001:db8:50::1"), ("unreachable", "address", 2, "2001:db8:50::1")]
    assert r.errors == 2


@pytest.mark.parametrize("header, target, addr, source, interface", [
    ("PING 10.1.0.1 (10.1.0.1) from 10.1.0.1 v0: 56(84) bytes of data.", "10.1.0.1", "10.1.0.1", "10.1.0.1", "v0"),
    ("PING 10.1.0.1 (10.1.0.1) from 10.1.0.1 : 56(84) bytes of data.", "10.1.0.1", "10.1.0.1", "10.1.0.1", None),
    ("PING ::1(::1) from ::1 lo: 56 data bytes", "::1", "::1", "::1", "lo"),
    ("PING ::1(::1) from 2001:db8::1 : 56 data bytes", "::1", "::1", "2001:db8::1", None),
    ("PING ::1(::1) 56 data bytes", "::1", "::1", None, None),
    ("PING h.example(h.example (2001:db8::1)) 56 data bytes", "h.example", "2001:db8::1", None, None),
    ("PING 10.0.0.2 (10.0.0.2) from 10.0.0.1: 56 data bytes", "10.0.0.2", "10.0.0.2", "10.0.0.1", None),
    ("PING host (192.0.2.1): 56 data bytes, id 0x1c3b = 7227", "host", "192.0.2.1", None, None),
])
def test_headers(header, target, addr, source, interface):
    r = parse_ping(header + "\n")
    assert (r.target, r.target_addr, r.source, r.interface) == (target, addr, source, interface)
    assert r.summary_present is False and r.interrupted is None and r.transmitted is None


def test_small_payload_replies_have_no_time_and_no_rtt_line():
    text = """\
PING 127.0.0.1 (127.0.0.1) 4(32) bytes of data.
12 bytes from 127.0.0.1: icmp_seq=1 ttl=64
12 bytes from 127.0.0.1: icmp_seq=2 ttl=64

--- 127.0.0.1 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 1031ms

"""
    r = parse_ping(text)
    assert [x.to_dict() for x in r.replies] == [
        {"seq": 1, "ttl": 64, "time_ms": None, "dup": False, "from": "127.0.0.1"},
        {"seq": 2, "ttl": 64, "time_ms": None, "dup": False, "from": "127.0.0.1"},
    ]
    assert r.rtt_avg is None and r.received == 2


def test_truncated_reply_has_no_time():
    text = "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n" \
           "36 bytes from 10.0.0.2: icmp_seq=1 ttl=64 (truncated)\n"
    (reply,) = parse_ping(text).replies
    assert reply.truncated and reply.time_ms is None and reply.ttl == 64


def test_reply_notes_timestamps_ident_and_pattern():
    text = """\
PATTERN: 0xff
PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
[1796009137.924193] 64 bytes from 127.0.0.1: icmp_seq=1 ident=26087 ttl=64 time=0.016 ms
[1796009138.944799] 64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.046 ms (DIFFERENT ADDRESS!)
64 bytes from 127.0.0.1: icmp_seq=3 ttl=64 time=0.04 ms (BAD CHECKSUM!)
"""
    r = parse_ping(text)
    assert [x.seq for x in r.replies] == [1, 2, 3]
    assert r.replies[0].timestamp == pytest.approx(1796009137.924193)
    assert r.replies[1].different_address and r.replies[2].bad_checksum
    assert [e.type for e in r.events] == ["pattern", "different_address", "bad_checksum"]
    assert r.events[0].fields["pattern"] == "ff"
    assert r.events[1].to_dict() == {"type": "different_address", "seq": 2, "from": "127.0.0.1",
                                     "detail": "(DIFFERENT ADDRESS!)"}


def test_flood_output_with_backspaces_and_ipg_ewma():
    text = ("PING 10.50.0.2 (10.50.0.2) 56(84) bytes of data.\n" + ".\b \b" * 20 +
            "\n--- 10.50.0.2 ping statistics ---\n"
            "20 packets transmitted, 20 received, 0% packet loss, time 0ms\n"
            "rtt min/avg/max/mdev = 0.001/0.004/0.059/0.012 ms, ipg/ewma 0.008/0.006 ms\n")
    r = parse_ping(text)
    assert (r.ipg_ms, r.ewma_ms, r.rtt_max, r.replies, r.events) == (0.008, 0.006, 0.059, [], [])


def test_fractional_loss_duplicates_corrupted_and_pipe_with_rtt():
    text = """\
PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.

--- 10.0.0.2 ping statistics ---
3 packets transmitted, 2 received, +1 duplicates, +1 corrupted, +1 errors, 33.3333% packet loss, time 2003ms
rtt min/avg/max/mdev = 0.031/0.040/0.049/0.009 ms, pipe 2
"""
    r = parse_ping(text)
    assert r.loss_percent == pytest.approx(33.3333) and isinstance(r.loss_percent, float)
    assert (r.duplicates, r.corrupted, r.errors, r.pipe) == (1, 1, 1, 2)


def test_local_errors_mid_run_and_verbose_lines():
    text = """\
ai->ai_family: AF_INET, ai->ai_canonname: '10.50.0.2'
PING 10.50.0.2 (10.50.0.2) 2000(2028) bytes of data.
ping: local error: message too long, mtu=1500

--- 10.50.0.2 ping statistics ---
1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms

ping: sock4.fd: 3 (socktype: SOCK_RAW), sock6.fd: 4 (socktype: SOCK_RAW), hints.ai_family: AF_UNSPEC
"""
    r = parse_ping(text)
    assert [e.type for e in r.events] == ["verbose", "local_error", "verbose"]
    assert r.events[1].detail == "ping: local error: message too long, mtu=1500"
    assert r.interrupted is False


@pytest.mark.parametrize("text", [
    "ping: connect: Network is unreachable\n",
    "connect: Network is unreachable\n",  # iputils before 2019 used perror("connect")
    "ping: unknown host nonexist.invalid\n",
    "ping: nonexist.invalid: Temporary failure in name resolution\n",
    "ping: Do you want to ping broadcast? Then -b. If not, check your local firewall rules\n",
    "/usr/bin/ping: socket: Operation not permitted\n",
])
def test_fatal_errors_without_summary(text):
    r = parse_ping(text)
    assert [e.to_dict() for e in r.events] == [{"type": "local_error", "detail": text.strip()}]
    assert r.summary_present is False and r.interrupted is False and r.transmitted is None


def test_command_fills_target_and_source_only_when_output_lacks_them():
    r = parse_ping("ping: connect: Network is unreachable\n",
                   command="sudo ping -c 1 -I 10.0.0.5 -W2 198.51.100.7")
    assert (r.target, r.target_addr, r.source) == ("198.51.100.7", None, "10.0.0.5")
    r = parse_ping("ping: connect: Network is unreachable\n", command="ping -I eth0 -q host.example")
    assert (r.target, r.interface, r.source) == ("host.example", "eth0", None)
    r = parse_ping("PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\n", command="ping other")
    assert r.target == "10.0.0.1"


def test_ctrl_c_echo_on_the_statistics_line_and_status_line():
    text = """\
PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.
64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.050 ms
\r1/1 packets, 0% loss, min/avg/ewma/max = 0.050/0.050/0.050/0.050 ms
^C--- 10.0.0.2 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time 0ms
rtt min/avg/max/mdev = 0.050/0.050/0.050/0.000 ms
"""
    r = parse_ping(text.replace("\n", "\r\n"))
    assert [e.type for e in r.events] == ["status", "interrupted"]
    assert r.events[0].fields["rtt_ewma"] == 0.05
    assert r.interrupted is True and r.summary_present and r.received == 1


def test_output_cut_off_is_neither_interrupted_nor_complete():
    r = parse_ping("PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n"
                   "64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.05 ms\n")
    assert r.interrupted is None and r.summary_present is False and r.received is None


def test_record_route_lines():
    text = """\
PING 10.0.0.2 (10.0.0.2) 56(124) bytes of data.
64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.070 ms
RR: \t10.0.0.1
\t10.0.0.2
\t10.0.0.1

64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.080 ms\t(same route)
"""
    r = parse_ping(text)
    assert [x.seq for x in r.replies] == [1, 2]
    (event,) = r.events
    assert (event.type, event.seq, event.fields["hops"]) == ("ip_options", 1, ["10.0.0.1", "10.0.0.2", "10.0.0.1"])


# --------------------------------------------------------------------------- ping: busybox, inetutils

def test_busybox_without_loss_or_duplicates_and_sendto_error():
    text = """\
PING 10.0.0.2 (10.0.0.2): 56 data bytes
64 bytes from 10.0.0.2: seq=0 ttl=64 time=0.104 ms

--- 10.0.0.2 ping statistics ---
1 packets transmitted, 1 packets received, 0% packet loss
round-trip min/avg/max = 0.104/0.104/0.104 ms
"""
    r = parse_ping(text)
    assert (r.received, r.duplicates, r.rtt_avg, r.rtt_mdev, r.time_total_ms) == (1, 0, 0.104, None, None)
    r = parse_ping("PING 10.9.9.9 (10.9.9.9): 56 data bytes\nping: sendto: Network is unreachable\n")
    assert [e.type for e in r.events] == ["local_error"] and r.interrupted is False


def test_busybox_simple_mode():
    assert parse_ping("10.0.0.2 is alive!\n").events[0].to_dict() == {
        "type": "alive", "from": "10.0.0.2", "detail": "10.0.0.2 is alive!"}
    assert parse_ping("No response from 10.0.0.3\n").events[0].type == "no_answer"


def test_inetutils_icmp_error_with_verbose_dump():
    text = """\
PING 10.77.2.5 (10.77.2.5): 56 data bytes, id 0xc153 = 49491
92 bytes from 10.77.1.2: Time to live exceeded
IP Hdr Dump:
 4500 0054 930d 4000 0101 cefc 0a4d 0101 0a4d 0205 
Vr HL TOS  Len   ID Flg  off TTL Pro  cks      Src\tDst\tData
 4  5  00 0054 930d   2 0000  01  01 cefc 10.77.1.1  10.77.2.5 
ICMP: type 8, code 0, size 64, id 0xc153, seq 0x0001
--- 10.77.2.5 ping statistics ---
1 packets transmitted, 0 packets received, 100% packet loss
"""
    r = parse_ping(text)
    (event,) = r.events
    assert (event.type, event.seq, event.from_, event.detail) == (
        "ttl_exceeded", 1, "10.77.1.2", "Time to live exceeded")
    assert len(event.fields["dump"]) == 5
    assert (r.transmitted, r.received, r.loss_percent, r.errors) == (1, 0, 100, 0)


# --------------------------------------------------------------------------- ping: errors

def test_ping_garbage_raises_parse_error_quoting_line():
    text = "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\nthis is not ping output\n"
    with pytest.raises(ParseError) as info:
        parse_ping(text)
    assert "line 2" in str(info.value) and "'this is not ping output'" in str(info.value)
    assert (info.value.line_no, info.value.line) == (2, "this is not ping output")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad, line_no", [
    ("64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.05 ms (WHAT?)", 2),
    ("3 packets transmitted, 3 received, 7 bananas", 2),
    ("rtt min/avg/foo = 1.0/2.0/3.0 ms", 2),
])
def test_ping_malformed_known_lines(bad, line_no):
    with pytest.raises(ParseError, match=rf"line {line_no}: .*{bad[:20]}"):
        parse_ping("PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n" + bad + "\n")


def test_ping_empty_output_is_an_error():
    with pytest.raises(ParseError, match="empty"):
        parse_ping(" \n")


def test_continuation_without_parent_is_an_error():
    with pytest.raises(ParseError, match="line 1"):
        parse_ping("ICMP: type 8, code 0, size 64, id 0xc153, seq 0x0001\n")


# --------------------------------------------------------------------------- routes: ip route

LIVE_TABLE_TEXT = """\
10.1.0.0/24 dev v0 proto kernel scope link src 10.1.0.1 
10.2.0.0/16 via 10.1.0.2 dev v0 metric 5 onlink 
10.3.0.0/16 
\tnexthop via 10.1.0.2 dev v0 weight 2 
\tnexthop via 10.1.0.3 dev v0 weight 1 
10.8.0.0/24 dev v2 proto kernel scope link src 10.8.0.1 linkdown 
10.10.0.0/16 nhid 7 via 10.1.0.2 dev v0 
unreachable 10.5.0.0/16 table 100 
prohibit 10.6.0.0/16 mtu lock 1400 
"""
LIVE_TABLE_JSON = (
    '[{"dst":"10.1.0.0/24","dev":"v0","protocol":"kernel","scope":"link","prefsrc":"10.1.0.1","flags":[]},'
    '{"dst":"10.2.0.0/16","gateway":"10.1.0.2","dev":"v0","metric":5,"flags":["onlink"]},'
    '{"dst":"10.3.0.0/16","flags":[],"nexthops":[{"gateway":"10.1.0.2","dev":"v0","weight":2,"flags":[]},'
    '{"gateway":"10.1.0.3","dev":"v0","weight":1,"flags":[]}]},'
    '{"dst":"10.8.0.0/24","dev":"v2","protocol":"kernel","scope":"link","prefsrc":"10.8.0.1","flags":["linkdown"]},'
    '{"dst":"10.10.0.0/16","nhid":7,"gateway":"10.1.0.2","dev":"v0","flags":[]},'
    '{"type":"unreachable","dst":"10.5.0.0/16","table":"100","flags":[]},'
    '{"type":"prohibit","dst":"10.6.0.0/16","flags":[],"metrics":[{"mtu":1400}]}]'
)


def test_ip_route_text_fields():
    routes = parse_routes(LIVE_TABLE_TEXT)
    assert [r.dst for r in routes] == ["10.1.0.0/24", "10.2.0.0/16", "10.3.0.0/16", "10.8.0.0/24",
                                       "10.10.0.0/16", "10.5.0.0/16", "10.6.0.0/16"]
    assert routes[1].to_dict() == {"dst": "10.2.0.0/16", "gateway": "10.1.0.2", "dev": "v0", "proto": None,
                                   "scope": None, "src": None, "metric": 5, "table": None,
                                   "type": "unicast", "flags": ["onlink"], "nexthops": None}
    assert routes[2].nexthops == [Nexthop("10.1.0.2", "v0", 2), Nexthop("10.1.0.3", "v0", 1)]
    assert routes[3].flags == ["linkdown"]
    assert routes[4].extra == {"nhid": 7}
    assert (routes[5].type, routes[5].table) == ("unreachable", "100")
    assert routes[6].extra == {"mtu": 1400, "locked": ["mtu"]}


def test_ip_route_text_and_json_agree():
    text = [r.to_dict() for r in parse_routes(LIVE_TABLE_TEXT)]
    data = [r.to_dict() for r in parse_routes(LIVE_TABLE_JSON)]
    text[-1].pop("locked")  # iproute2 JSON does not print the lock
    assert text == data


def test_ip_route_get_with_cache_text_and_json():
    text = "local 127.0.0.1 dev lo src 127.0.0.1 uid 0 \n    cache <local> \n"
    data = '[{"type":"local","dst":"127.0.0.1","dev":"lo","prefsrc":"127.0.0.1","flags":[],"uid":0,"cache":["local"]}]'
    expected = {"dst": "127.0.0.1", "gateway": None, "dev": "lo", "proto": None, "scope": None,
                "src": "127.0.0.1", "metric": None, "table": None, "type": "local", "flags": [],
                "nexthops": None, "uid": 0, "cache": ["local"]}
    assert [r.to_dict() for r in parse_routes(text)] == [expected]
    assert [r.to_dict() for r in parse_routes(data, tool="ip-route-json")] == [expected]
    (route,) = parse_routes("10.2.3.4 via 10.1.0.2 dev v0 src 10.1.0.1 uid 0 \n    cache \n")
    assert route.extra == {"uid": 0, "cache": []}


def test_old_route_get_cache_line_with_metrics_and_ipv6_expires():
    (route,) = parse_routes("10.0.0.9 via 10.0.0.1 dev eth0  src 10.0.0.2 \n"
                            "    cache  mtu 1500 advmss 1460 hoplimit 64\n")
    assert route.extra == {"cache": [], "mtu": 1500, "advmss": 1460, "hoplimit": 64}
    (route,) = parse_routes("2001:db8:1::/48 via 2001:db8::2 dev v0 metric 1024 expires 298sec pref medium")
    assert route.extra == {"expires_sec": 298, "pref": "medium"}


def test_ipv6_multipath_and_oneline_mode():
    text = ("2001:db8:2::/48 metric 1024 pref medium\n"
            "\tnexthop via 2001:db8::2 dev v0 weight 1 \n"
            "\tnexthop via 2001:db8::3 dev v0 weight 1 \n")
    oneline = ("2001:db8:2::/48 metric 1024 pref medium \\\tnexthop via 2001:db8::2 dev v0 weight 1 "
               "\\\tnexthop via 2001:db8::3 dev v0 weight 1 \n")
    assert [r.to_dict() for r in parse_routes(text)] == [r.to_dict() for r in parse_routes(oneline)]
    (route,) = parse_routes(text)
    assert [nh.gateway for nh in route.nexthops] == ["2001:db8::2", "2001:db8::3"]


def test_ip_route_details_and_encap():
    (route,) = parse_routes("blackhole 10.4.0.0/16 table main proto boot scope global \n")
    assert (route.type, route.table, route.proto, route.scope) == ("blackhole", "main", "boot", "global")
    (route,) = parse_routes("10.9.0.0/16  encap mpls  100/200 via 10.1.0.2 dev v0 \n")
    assert (route.extra["encap"], route.gateway, route.dev) == ("mpls 100/200", "10.1.0.2", "v0")
    (route,) = parse_routes("2001:db8:3::/48 via inet 10.1.0.2 dev v0 metric 1024 pref medium\n")
    assert (route.gateway, route.extra["gateway_family"]) == ("10.1.0.2", "inet")


def test_ip_route_errors_quote_the_line():
    with pytest.raises(ParseError) as info:
        parse_routes("default via 10.0.0.1 dev eth0\n10.0.0.0/8 dev eth0 frobnicate 3\n")
    assert info.value.line_no == 2 and "frobnicate" in str(info.value)
    assert "'10.0.0.0/8 dev eth0 frobnicate 3'" in str(info.value)
    with pytest.raises(ParseError, match="line 1: 'RTNETLINK answers: No such process'"):
        parse_routes("RTNETLINK answers: No such process\n")
    with pytest.raises(ParseError, match="without a value.*line 1"):
        parse_routes("default via\n")
    with pytest.raises(ParseError, match="line 1"):
        parse_routes("\tnexthop via 10.0.0.1 dev eth0 weight 1\n")


def test_ip_route_json_errors():
    with pytest.raises(ParseError, match=r"line 2: '  \{\"dst\": oops\}'"):
        parse_routes('[\n  {"dst": oops}\n]', tool="ip-route-json")
    with pytest.raises(ParseError, match="'dst'"):
        parse_routes('[{"dev": "eth0"}]')
    with pytest.raises(ParseError, match="array"):
        parse_routes('{"dst": "default"}')


def test_empty_tables_and_unknown_tool():
    assert parse_routes("") == []
    assert parse_routes("[]") == []
    assert parse_routes("Kernel IP routing table\nDestination Gateway Genmask Flags MSS Window irtt Iface\n") == []
    with pytest.raises(ValueError, match="unknown tool"):
        parse_routes("default via 10.0.0.1", tool="ifconfig")


# --------------------------------------------------------------------------- routes: net-tools

def test_route_n_ipv4_with_metric_ref_use_and_reject():
    text = """\
Kernel IP routing table
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface
0.0.0.0         10.0.2.2        0.0.0.0         UG    100    0        0 eth0
10.0.2.0        0.0.0.0         255.255.255.0   U     100    0        0 eth0
10.9.0.0        -               255.255.0.0     !     0      -        0 -
"""
    routes = parse_routes(text)
    assert routes[0].to_dict() == {
        "dst": "default", "gateway": "10.0.2.2", "genmask": "0.0.0.0", "flags": "UG", "dev": "eth0",
        "metric": 100, "ref": 0, "use": 0, "mss": None, "window": None, "irtt": None,
        "dst_raw": "0.0.0.0", "gateway_raw": "10.0.2.2", "proto": None, "scope": None, "src": None,
        "table": None, "type": "unicast", "nexthops": None}
    assert (routes[1].dst, routes[1].gateway) == ("10.0.2.0/24", None)
    # net-tools prints '-' for the gateway, Ref and Iface of reject routes
    assert (routes[2].dst, routes[2].gateway, routes[2].dev, routes[2].type, routes[2].extra["ref"]) == (
        "10.9.0.0/16", None, None, "reject", None)


def test_route_nee_and_names():
    text = """\
Kernel IP routing table
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface    MSS   Window irtt
default         _gateway        0.0.0.0         UG    100    0        0 eth0     0     0      0
10.0.2.0        *               255.255.255.0   U     100    0        0 eth0     0     0      0
10.9.0.0        0.0.0.0         255.255.0.0     !     0      0        0 -        0     0      0
"""
    routes = parse_routes(text, tool="route")
    assert [(r.dst, r.gateway, r.dev, r.type, r.metric, r.extra["mss"]) for r in routes] == [
        ("default", "_gateway", "eth0", "unicast", 100, 0),
        ("10.0.2.0/24", None, "eth0", "unicast", 100, 0),
        ("10.9.0.0/16", None, None, "reject", 0, 0),
    ]


def test_netstat_errors_quote_the_line():
    header = "Kernel IP routing table\nDestination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n"
    with pytest.raises(ParseError, match=r"expected 8 columns, found 7 at line 3: '0.0.0.0 "):
        parse_routes(header + "0.0.0.0         10.0.0.102      0.0.0.0         UG        0 0          0\n")
    with pytest.raises(ParseError, match="genmask.*line 3"):
        parse_routes(header + "10.0.0.0        0.0.0.0         255.0.255.0     U         0 0          0 eth0\n")
    with pytest.raises(ParseError, match="column 'Bogus' at line 1"):
        parse_routes("Destination Gateway Bogus\n", tool="netstat")
    with pytest.raises(ParseError, match="before the column header at line 1"):
        parse_routes("0.0.0.0 10.0.0.1 0.0.0.0 UG 0 0 0 eth0\n", tool="netstat")


# --------------------------------------------------------------------------- API and docs

def test_public_api_names_and_docstrings():
    for name in ("parse_ping", "parse_routes", "PingResult", "PingReply", "PingEvent", "Route",
                 "Nexthop", "ParseError"):
        obj = getattr(parsers, name)
        assert inspect.getdoc(obj), f"{name} has no docstring"
    assert "ParseError" in inspect.getdoc(parse_ping) and "ParseError" in inspect.getdoc(parse_routes)
    assert "ms" in inspect.getdoc(PingResult) and "%" in inspect.getdoc(PingResult)
    assert issubclass(ParseError, ValueError)
    params = inspect.signature(parse_routes).parameters
    assert params["tool"].kind is inspect.Parameter.KEYWORD_ONLY and params["tool"].default is None


def test_to_dict_is_plain_json():
    r = parse_ping(TTL_EXCEEDED)
    assert json.loads(json.dumps(r.to_dict())) == r.to_dict()
    assert isinstance(r, PingResult) and all(isinstance(e, PingEvent) for e in r.events)
    reply = PingReply(seq=1, ttl=64, time_ms=0.5, from_="h (10.0.0.1)")
    assert reply.to_dict()["from"] == "h (10.0.0.1)" and reply.addr == "10.0.0.1"
    route = Route(dst="default", gateway="10.0.0.1", nexthops=[Nexthop("10.0.0.1", "eth0", 1, ["onlink"])],
                  extra={"pref": "medium"})
    assert json.loads(json.dumps(route.to_dict())) == route.to_dict()
    assert route.to_dict()["nexthops"] == [{"gateway": "10.0.0.1", "dev": "eth0", "weight": 1,
                                            "flags": ["onlink"]}]

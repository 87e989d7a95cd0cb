"""Parsers on real output from the wild: ping in every language iputils translates to, old and
new iputils, a PING header with an empty name, ``, pipe N`` on its own line, and ``ip -d route``
over nexthop objects (``nh_info``).

The inputs are real runs, captured by ``tests/data/real/capture.py`` (its docstring says how the
tools were built); each record names its source. The expectations below are what the capture
set up (addresses, TTLs, counts), not what the parser said.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.parsers import ParseError, PingResult, parse_ping, parse_routes
from harness.parsers.ping_untranslate import untranslate

REAL = Path(__file__).resolve().parent / "data" / "real"


def _records(name: str) -> list:
    records = [json.loads(line) for line in (REAL / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [pytest.param(r, id=r["id"]) for r in records]


PINGS = _records("ping.jsonl")
ROUTES = _records("ip-nexthop.jsonl")


def _printed_times(raw: str) -> list[float]:
    """The reply times as printed: on each line with three ``key=value`` pairs (seq, ttl, time in
    any language), the last value."""
    times = []
    for line in raw.splitlines():
        values = re.findall(r"=\s*(\d+(?:[.,]\d+)?)", line)
        if len(values) == 3:
            times.append(float(values[-1].replace(",", ".")))
    return times


def _replies_ok(r: PingResult, raw: str, seqs: list[int], ttl: int, source: str) -> None:
    assert [x.seq for x in r.replies] == seqs
    assert all(x.ttl == ttl and not x.dup for x in r.replies)
    assert all(x.from_ == source for x in r.replies)
    assert [x.time_ms for x in r.replies] == _printed_times(raw)
    assert (r.transmitted, r.received, r.duplicates, r.errors, r.loss_percent) == (len(seqs), len(seqs), 0, 0, 0)
    assert r.rtt_min <= r.rtt_avg <= r.rtt_max and r.rtt_mdev is not None
    assert r.rtt_min == pytest.approx(min(x.time_ms for x in r.replies), abs=0.0015)
    assert r.events == [] and r.summary_present and r.interrupted is False


def _errors_ok(r: PingResult, kind: str, code, source: str) -> None:
    assert r.replies == [] and r.received == 0 and r.loss_percent == 100
    assert r.errors == len(r.events) >= 1
    assert all(e.type == kind and e.code == code and e.from_ == source for e in r.events)
    assert [e.seq for e in r.events] == list(range(1, len(r.events) + 1))
    assert r.transmitted >= r.errors and r.time_total_ms is not None
    assert r.rtt_min is None and r.summary_present


def check_reply(r, record):
    _replies_ok(r, record["raw"], [1, 2, 3], 63, "10.78.0.1")
    assert (r.target, r.target_addr, r.data_bytes) == ("10.78.0.1", "10.78.0.1", 56)


def check_host_unreachable(r, record):
    _errors_ok(r, "unreachable", "host", "10.77.0.1")
    address = record["command"].split()[-1]
    assert (r.target, r.target_addr) == (address, address)
    # The errors come together when ARP gives up, with that many requests in flight.
    assert r.pipe == r.errors >= 2


def check_ttl_exceeded(r, record):
    _errors_ok(r, "ttl_exceeded", None, "10.77.0.2")
    assert r.transmitted == 2


def check_net_unreachable(r, record):
    assert r.replies == [] and not r.summary_present and r.interrupted is False
    assert [e.type for e in r.events] == ["local_error"]
    assert r.events[0].detail.startswith(("ping: connect: ", "connect: "))


def check_empty_name(r, record):
    assert r.target == "gw.example"  # from the command: the header has no name
    assert parse_ping(record["raw"]).target is None
    assert r.target_addr == "10.77.0.2"
    _replies_ok(r, record["raw"], [1], 64, "gw.example (10.77.0.2)")


def check_v6_reply(r, record):
    _replies_ok(r, record["raw"], [1, 2], 64, "fd77::2")
    assert (r.target, r.target_addr) == ("fd77::2", "fd77::2")


def check_v6_unreachable(r, record):
    _errors_ok(r, "unreachable", "address", "fd77::1")


CHECKS = {
    "reply": check_reply, "host-unreachable": check_host_unreachable, "ttl-exceeded": check_ttl_exceeded,
    "net-unreachable": check_net_unreachable, "empty-name": check_empty_name, "v6-reply": check_v6_reply,
    "v6-unreachable": check_v6_unreachable,
}


@pytest.mark.parametrize("record", PINGS)
def test_real_ping_output_in_every_language(record):
    """Every language iputils 20221126 and 20250605 translate to reads like English, and so
    does iputils s20071127 (", pipe N" on its own line)."""
    CHECKS[record["case"]](parse_ping(record["raw"], command=record["command"]), record)


def test_corpus_covers_every_language_and_case():
    languages = {(r.values[0]["variant"].split()[1], r.values[0]["language"]) for r in PINGS}
    assert {lang for version, lang in languages if version == "20250605"} >= {
        "C", "cs", "de", "es", "fi", "fr", "id", "ja", "ka", "kab", "ko", "pt_BR", "ro", "tr", "uk", "zh_CN", "zh_Hant"}
    assert {r.values[0]["case"] for r in PINGS} == set(CHECKS)
    translated = [r.values[0] for r in PINGS if r.values[0]["language"] != "C"]
    assert sum(untranslate(line) is not None for r in translated for line in r["raw"].splitlines()) > 500


def test_old_iputils_pipe_on_its_own_line():
    [record] = [r.values[0] for r in PINGS if r.values[0]["id"] == "ping-s20071127-host-unreachable-C"]
    assert "\n, pipe " in record["raw"]
    assert parse_ping(record["raw"]).pipe == 10


def test_empty_name_header_is_not_a_name():
    [record] = [r.values[0] for r in PINGS if r.values[0]["id"] == "ping-20221126-empty-name-C"]
    assert record["raw"].startswith("PING  (10.77.0.2) 56(84) bytes of data.\n")
    result = parse_ping(record["raw"])
    assert (result.target, result.target_addr, result.received) == (None, "10.77.0.2", 1)


def test_cut_translated_unit_still_reads():
    """iputils 20250605 formats ' time=%s ms' into 30 bytes: the Georgian unit is cut mid-character."""
    [record] = [r.values[0] for r in PINGS if r.values[0]["id"] == "ping-20250605-reply-ka"]
    assert "\ufffd" in record["raw"] and "not UTF-8" in record["note"]
    assert [x.time_ms for x in parse_ping(record["raw"]).replies] == _printed_times(record["raw"])


def test_english_text_is_not_read_as_a_translation():
    """kab leaves ', +%ld errors' in English; Indonesian ', +%ld error' must not eat it."""
    assert untranslate("10 packets transmitted, 0 received, +10 errors, 100% packet loss, time 2863ms") is None
    half = "10 ikemmas yettwaṭfen, 0 yettwaṭṭfen, +10 errors, 100% d akemmus iruḥen, akud 2942mts"
    assert untranslate(half) == "10 packets transmitted, 0 received, +10 errors, 100% packet loss, time 2942ms"


def test_unknown_language_still_fails_with_the_line():
    with pytest.raises(ParseError, match="line 2: 'blah blah 12 blah'"):
        parse_ping("PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\nblah blah 12 blah\n")


# --------------------------------------------------------------------------- ip -d route, nexthop objects

NH_101 = {"id": 101, "gateway": "10.77.0.2", "dev": "va", "scope": "link", "proto": "unspec", "flags": []}
NH_103 = {"id": 103, "group": [{"id": 101}, {"id": 102}], "type": "resilient",
          "resilient_args": {"buckets": 8, "idle_timer": 120, "unbalanced_timer": 0, "unbalanced_time": 0},
          "scope": "global", "proto": "unspec", "flags": []}
NH_104 = {"id": 104, "group": [{"id": 101, "weight": 2}, {"id": 102}], "scope": "global", "proto": "unspec", "flags": []}
NH_105 = {"id": 105, "scope": "global", "blackhole": True, "proto": "unspec", "flags": []}
NH_106 = {"id": 106, "gateway": "10.77.0.9", "dev": "va", "scope": "link", "proto": "unspec", "flags": ["onlink"]}
NH_201 = {"id": 201, "gateway": "fd77::2", "dev": "va", "scope": "link", "proto": "unspec", "flags": []}


@pytest.mark.parametrize("record", ROUTES)
def test_real_routes_over_nexthop_objects(record):
    routes = {r.dst: r for r in parse_routes(record["raw"])}
    details = "-d" in record["command"].split()
    stats = "-s" in record["command"].split()
    if record["case"].startswith("route-get"):
        [route] = routes.values()
        assert (route.dst, route.gateway, route.dev) == ("198.51.100.7", "10.77.0.2", "va")
        return
    if record["case"] == "route6-details":
        assert routes["2001:db8:1::/64"].extra["nh_info"] == NH_201
        assert routes["2001:db8:1::/64"].extra["nhid"] == 201
        return
    group = routes["198.51.100.0/24"]
    assert group.extra["nhid"] == 103
    assert [(n.gateway, n.weight) for n in group.nexthops] == [("10.77.0.2", 1), ("10.77.0.3", 1)]
    assert [(n.gateway, n.weight) for n in routes["203.0.113.0/24"].nexthops] == [("10.77.0.2", 2), ("10.77.0.3", 1)]
    assert routes["192.0.2.128/25"].type == "blackhole"
    if not details:
        assert all("nh_info" not in r.extra for r in routes.values())
        return
    expected = {"192.0.2.0/25": NH_101, "198.51.100.0/24": NH_103, "203.0.113.0/24": NH_104,
                "192.0.2.128/25": NH_105, "10.200.0.0/16": NH_106}
    for dst, info in expected.items():
        got = dict(routes[dst].extra["nh_info"])
        if stats and "group" in info and "7.1.0" in record["variant"]:
            # iproute2 6.7+ with -s: hardware stats state and per-member packet counters
            assert got.pop("hw_stats") == {"enabled": False, "used": False}
            assert [g["id"] for g in got.pop("group_stats")] == [m["id"] for m in info["group"]]
        assert got == info, dst


def test_text_and_json_nexthop_objects_agree():
    by_id = {r.values[0]["id"]: r.values[0] for r in ROUTES}
    for text, data in (("ip-7.1.0-route-details", "ip-7.1.0-route-json-details"),
                       ("ip-7.1.0-route-details-stats", "ip-7.1.0-route-json-details-stats"),
                       ("ip-6.1.0-route-details", "ip-6.1.0-route-json-details")):
        assert ([r.to_dict() for r in parse_routes(by_id[text]["raw"])]
                == [r.to_dict() for r in parse_routes(by_id[data]["raw"])]), text


def test_unknown_nh_info_keyword_is_a_parse_error():
    text = "unicast 192.0.2.0/25 nhid 101 via 10.77.0.2 dev va\n\tnh_info id 101 frobnicate 3\n"
    with pytest.raises(ParseError, match="unknown keyword 'frobnicate' in nh_info at line 2"):
        parse_routes(text)

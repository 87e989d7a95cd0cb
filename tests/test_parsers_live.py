"""Parse real ping / ip route output produced on this machine, inside a throw-away namespace.

Only the namespace created here is touched (its ``lo`` is brought up, nothing else); the only
address pinged is 127.0.0.1 inside it.  Needs root, ``ip`` (iproute2) and ``ping`` (iputils).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest

from harness.parsers import parse_ping, parse_routes

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="needs root to create a network namespace"),
]


def _run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}"
    return proc.stdout


@pytest.fixture(scope="module")
def netns():
    for tool in ("ip", "ping"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    name = f"nhtest-{secrets.token_hex(4)}"
    created = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if created.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {created.stderr.strip()}")
    try:
        _run("ip", "-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_live_ping_loopback(netns):
    command = ["ip", "netns", "exec", netns, "ping", "-c", "3", "-i", "0.01", "127.0.0.1"]
    result = parse_ping(_run(*command), command=" ".join(command))
    assert (result.target, result.target_addr) == ("127.0.0.1", "127.0.0.1")
    assert (result.transmitted, result.received, result.loss_percent) == (3, 3, 0)
    assert (result.duplicates, result.errors, result.events) == (0, 0, [])
    assert [r.seq for r in result.replies] == [1, 2, 3]
    assert all(r.ttl == 64 and r.from_ == "127.0.0.1" and not r.dup for r in result.replies)
    assert all(r.time_ms is not None and r.time_ms >= 0 for r in result.replies)
    assert result.rtt_min <= result.rtt_avg <= result.rtt_max
    assert result.rtt_min == pytest.approx(min(r.time_ms for r in result.replies), abs=0.0015)
    assert result.time_total_ms is not None and result.summary_present and result.interrupted is False


def test_live_route_table_all_text_and_json_agree(netns):
    text = _run("ip", "-n", netns, "route", "show", "table", "all")
    data = _run("ip", "-n", netns, "-json", "route", "show", "table", "all")
    routes = parse_routes(text)
    assert [r.to_dict() for r in routes] == [r.to_dict() for r in parse_routes(data)]
    assert [r.to_dict() for r in routes] == [r.to_dict() for r in parse_routes(text, tool="ip-route")]
    by_dst = {(r.type, r.dst): r for r in routes}
    loopback = by_dst[("local", "127.0.0.1")]
    assert (loopback.dev, loopback.table, loopback.proto, loopback.scope, loopback.src) == (
        "lo", "local", "kernel", "host", "127.0.0.1")
    assert ("local", "127.0.0.0/8") in by_dst
    assert all(r.dev == "lo" for r in routes)


def test_live_route_get(netns):
    text = _run("ip", "-n", netns, "route", "get", "127.0.0.1")
    (route,) = parse_routes(text)
    assert (route.type, route.dst, route.dev, route.src) == ("local", "127.0.0.1", "lo", "127.0.0.1")
    assert route.extra.get("uid") == 0
    assert route.extra.get("cache") in (None, ["local"])

"""Judge a check from its command's exit code and parsed output.

Each ``judge_*`` returns a ``Verdict``: PASS, FAIL (the network does not behave as the
scenario expects) or ERROR (the check could not be judged: the command failed for
another reason, or its output and exit code disagree).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from harness.model import Check, PathCheck, PingCheck, RouteCheck
from harness.parsers import ParseError, PingResult, parse_ping, parse_routes
from harness.protocol import CheckOutput

PASS, FAIL, ERROR, SKIP, XFAIL, XPASS = "PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS"

# How ping reports that the kernel refused to send (iputils 2016-2022): no route (ENETUNREACH,
# EHOSTUNREACH), a blackhole route (EINVAL), a prohibit route or firewall (EACCES, EPERM; iputils
# then asks about broadcast). These make "unreachable" a valid answer; other exit-2 errors do not.
_REFUSED = re.compile(
    r"^ping: (connect|sendmsg|sendto): (Network is unreachable|No route to host|Invalid argument|"
    r"Permission denied|Operation not permitted)$|^(ping: )?Do you want to ping broadcast\? Then -b",
    re.MULTILINE,
)
# How `ip route get` (iproute2) reports that no route leads there: unreachable/no route,
# blackhole (EINVAL), prohibit (EACCES).
_NO_PATH = re.compile(r"(Network is unreachable|No route to host|Invalid argument|Permission denied)")


@dataclass(frozen=True)
class Verdict:
    """A check's outcome: ``status``, what was ``expected`` and ``observed`` (JSON-able dicts), and why."""

    status: str
    expected: dict[str, Any]
    observed: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def judge(check: Check, output: CheckOutput) -> Verdict:
    """Judge ``check`` from ``output``; dispatches on the check's kind. Never raises on bad output."""
    return {"ping": judge_ping, "route": judge_route, "path": judge_path}[check.kind](check.spec, output)


def _ping_expected(spec: PingCheck) -> dict[str, Any]:
    expected: dict[str, Any] = {"reachable": spec.expect == "reachable"}
    if spec.expect == "reachable":
        expected["max_loss_percent"] = spec.max_loss
        if spec.ttl is not None:
            expected["ttl"] = spec.ttl
        if spec.max_rtt is not None:
            expected["max_rtt_ms"] = spec.max_rtt
    return expected


def _ping_observed(result: PingResult, exit_code: int) -> dict[str, Any]:
    replies = [r for r in result.replies if not r.dup]
    observed: dict[str, Any] = {
        "exit_code": exit_code,
        "transmitted": result.transmitted,
        "received": result.received,
        "loss_percent": result.loss_percent,
        "ttl": sorted({r.ttl for r in replies if r.ttl is not None}),
        "rtt_max_ms": result.rtt_max,
    }
    if result.events:
        observed["events"] = sorted({e.type for e in result.events})
    return observed


def judge_ping(spec: PingCheck, output: CheckOutput) -> Verdict:
    """Judge a ping check (iputils exit codes: 0 all replies, 1 too few, 2 other error)."""
    expected = _ping_expected(spec)
    text = output.stdout + output.stderr
    try:
        result = parse_ping(text)
    except ParseError as exc:
        return Verdict(ERROR, expected, {"exit_code": output.exit_code}, f"cannot read ping's output: {exc}")
    observed = _ping_observed(result, output.exit_code)
    received = result.received or 0
    refused = bool(_REFUSED.search(text))
    if output.exit_code == 0 and received == 0:
        return Verdict(ERROR, expected, observed, "ping exited 0 but its output shows no reply")
    if output.exit_code not in (0, 1) and not refused:
        return Verdict(ERROR, expected, observed, f"ping failed (exit code {output.exit_code}): {output.stderr.strip()}")
    if spec.expect == "unreachable":
        if received == 0:
            return Verdict(PASS, expected, observed)
        return Verdict(FAIL, expected, observed, f"{spec.to} answered {received} of {result.transmitted} echo requests")
    if received == 0:
        why = f"no reply from {spec.to}"
        if result.events:
            why += f" ({result.events[0].detail})"
        return Verdict(FAIL, expected, observed, why)
    loss = result.loss_percent if result.loss_percent is not None else 100.0
    if loss > spec.max_loss:
        return Verdict(FAIL, expected, observed, f"packet loss {loss}% is above {spec.max_loss}%")
    if spec.ttl is not None and observed["ttl"] != [spec.ttl]:
        return Verdict(FAIL, expected, observed, f"replies came with ttl {observed['ttl']}, expected {spec.ttl}")
    if spec.max_rtt is not None and (result.rtt_max is None or result.rtt_max > spec.max_rtt):
        return Verdict(FAIL, expected, observed, f"RTT up to {result.rtt_max} ms, above {spec.max_rtt} ms")
    return Verdict(PASS, expected, observed)


def _same_dst(a: str, b: str) -> bool:
    if a == "default" or b == "default":
        return (a in ("default", "0.0.0.0/0", "::/0")) and (b in ("default", "0.0.0.0/0", "::/0"))
    try:
        return ipaddress.ip_network(a, strict=False) == ipaddress.ip_network(b, strict=False)
    except ValueError:
        return False


def _route_matches(route, spec: RouteCheck) -> bool:
    if not _same_dst(route.dst, spec.dst):
        return False
    gateways = {route.gateway} | {nh.gateway for nh in route.nexthops or []}
    devs = {route.dev} | {nh.dev for nh in route.nexthops or []}
    return (
        (spec.via is None or spec.via in gateways)
        and (spec.dev is None or spec.dev in devs)
        and (spec.type is None or (route.type or "unicast") == spec.type)
        and (spec.metric is None or (route.metric or 0) == spec.metric)
    )


def _route_text(route) -> dict[str, Any]:
    return {k: v for k, v in route.to_dict().items() if v not in (None, [], {})}


def judge_route(spec: RouteCheck, output: CheckOutput) -> Verdict:
    """Judge a route check on ``ip route show`` output (iproute2 text format)."""
    expected = {k: v for k, v in spec.model_dump(exclude={"namespace", "ipv6"}).items() if v is not None}
    if spec.table is None and spec.vrf is None:
        expected["table"] = f"main ({'IPv6' if spec.is_ipv6 else 'IPv4'})"
    if output.exit_code != 0:
        return Verdict(ERROR, expected, {"exit_code": output.exit_code},
                       f"ip route show failed (exit code {output.exit_code}): {output.stderr.strip()}")
    try:
        routes = parse_routes(output.stdout, tool="ip-route")
    except ParseError as exc:
        return Verdict(ERROR, expected, {}, f"cannot read ip route's output: {exc}")
    matching = [r for r in routes if _route_matches(r, spec)]
    same_dst = [_route_text(r) for r in routes if _same_dst(r.dst, spec.dst)]
    observed = {"routes_to_dst": same_dst, "matching": len(matching)}
    if spec.expect == "present" and not matching:
        return Verdict(FAIL, expected, observed, f"no route to {spec.dst} with the expected fields")
    if spec.expect == "absent" and matching:
        return Verdict(FAIL, expected, observed, f"a route to {spec.dst} is present")
    return Verdict(PASS, expected, observed)


def judge_path(spec: PathCheck, output: CheckOutput) -> Verdict:
    """Judge which path ``ip route get`` (iproute2) selects: its dev and next hop."""
    expected: dict[str, Any] = {"routed": spec.expect == "routed"}
    expected.update({k: getattr(spec, k) for k in ("dev", "via") if getattr(spec, k)})
    if output.exit_code != 0:
        stderr = output.stderr.strip()
        if not _NO_PATH.search(stderr):
            return Verdict(ERROR, expected, {"exit_code": output.exit_code}, f"ip route get failed: {stderr}")
        observed = {"routed": False, "error": stderr}
        if spec.expect == "unreachable":
            return Verdict(PASS, expected, observed)
        return Verdict(FAIL, expected, observed, f"no path to {spec.to}: {stderr}")
    try:
        routes = parse_routes(output.stdout, tool="ip-route")
    except ParseError as exc:
        return Verdict(ERROR, expected, {}, f"cannot read ip route get's output: {exc}")
    if not routes:
        return Verdict(ERROR, expected, {}, "ip route get printed no route")
    route = routes[0]
    observed: dict[str, Any] = {"routed": route.type in (None, "unicast", "local"), "dev": route.dev}
    if route.gateway:
        observed["via"] = route.gateway
    if route.type not in (None, "unicast", "local"):
        observed["type"] = route.type
    if spec.expect == "unreachable":
        return Verdict(PASS if not observed["routed"] else FAIL, expected, observed,
                       "" if not observed["routed"] else f"{spec.to} is routed via {route.dev}")
    wrong = [k for k in ("dev", "via") if k in expected and observed.get(k) != expected[k]]
    if wrong or not observed["routed"]:
        return Verdict(FAIL, expected, observed, "the selected path differs: " + ", ".join(wrong or ["type"]))
    return Verdict(PASS, expected, observed)


def status_of(statuses: list[str]) -> str:
    """A scenario's status from its checks': ERROR beats FAIL beats PASS; none at all is ERROR."""
    if not statuses:
        return ERROR
    for status in (ERROR, FAIL):
        if status in statuses:
            return status
    return PASS

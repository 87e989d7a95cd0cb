"""``route``: a route with the given fields is present (or absent) in a namespace's route table.

Reads ``ip route show`` (iproute2 text format, 4.x .. 6.x; ``harness.parsers.routes``). A
table that does not exist yet (``Error: ipv4: FIB table does not exist.``) holds no route.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal, Optional, Union

from pydantic import Field, model_validator

from harness.checks.base import ERROR, FAIL, PASS, CheckSpec, Ref, Verdict, ere_escape
from harness.fields import Destination, IfName, IpAddress, Model, NsName, Table, U32, ip_version
from harness.parsers import ParseError, parse_routes
from harness.protocol import CheckOutput

ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "blackhole", "unreachable", "prohibit", "throw",
               "anycast", "nat")
NO_TABLE = re.compile(r"FIB table does not exist")


# Flags iproute2 prints on a route or one of its paths (ip route show, iproute2 4.x .. 6.x).
RouteFlag = Literal["dead", "linkdown", "onlink", "pervasive", "offload", "trap", "notify", "unresolved",
                    "rt_offload", "rt_trap", "rt_offload_failed"]
_FLAG_WORDS = "(" + "|".join(RouteFlag.__args__) + ")"


class NexthopMatch(Model):
    """One path a multipath route must have: next hop, device, weight, flags (each optional)."""

    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    weight: Optional[int] = Field(None, ge=1, le=256)
    flags: list[RouteFlag] = Field(default_factory=list, description="flags the path carries, e.g. [dead, linkdown]")


class RouteCheck(CheckSpec):
    """A route to ``dst`` with every given field is in the table (``expect: present``) or none is."""

    kind = "route"

    namespace: NsName
    dst: Destination
    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    table: Optional[Union[Table, Literal["all"]]] = None
    vrf: Optional[IfName] = None
    type: Optional[Literal[ROUTE_TYPES]] = None  # type: ignore[valid-type]
    metric: Optional[U32] = None
    src: Optional[IpAddress] = None
    proto: Optional[str] = Field(None, pattern=r"^[a-z0-9_]{1,16}$")
    scope: Optional[Literal["host", "link", "global", "site", "nowhere"]] = None
    nhid: Optional[U32] = None
    nexthops: list[NexthopMatch] = Field(default_factory=list, description="paths a multipath route must have")
    flags: list[RouteFlag] = Field(default_factory=list, description="flags the route carries, e.g. [linkdown]")
    mtu: Optional[int] = Field(None, ge=68, le=65535)
    expect: Literal["present", "absent"] = "present"
    ipv6: Optional[bool] = Field(None, description="IPv6 table; default: from dst and via")

    @model_validator(mode="after")
    def _consistent(self) -> "RouteCheck":
        if self.table is not None and self.vrf is not None:
            raise ValueError("give 'table' or 'vrf', not both")
        # Only dst and src fix the family: an IPv4 route (ipv6: false) may go via an IPv6 next hop.
        fixed = next((ip_version(v) == 6 for v in (self.dst, self.src) if v and v != "default"), None)
        if self.ipv6 is not None and fixed not in (None, self.ipv6):
            raise ValueError(f"ipv6: {str(self.ipv6).lower()} contradicts dst {self.dst}"
                             + (f" / src {self.src}" if self.src else ""))
        if self.ipv6 is True and self.via and ip_version(self.via) == 4:
            raise ValueError(f"next hop {self.via} is IPv4 but the route is IPv6 (ipv6: true)")
        return self

    @property
    def family_from_addresses(self) -> Optional[bool]:
        for value in (self.dst, self.src):
            if value and value != "default":
                return ip_version(value) == 6
        if self.via:  # an IPv4 route may go via an IPv6 next hop; only dst/src fix the family
            return ip_version(self.via) == 6
        return None

    @property
    def is_ipv6(self) -> bool:
        """Which table to read: ``ipv6`` if given, else the family of ``dst``/``via`` (IPv4 for a bare default)."""
        return bool(self.ipv6 if self.ipv6 is not None else self.family_from_addresses)

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if self.dev:
            yield Ref(("dev",), self.namespace, self.dev)
        if self.vrf:
            yield Ref(("vrf",), self.namespace, self.vrf, "vrf")
        for i, nh in enumerate(self.nexthops):
            if nh.dev:
                yield Ref(("nexthops", i, "dev"), self.namespace, nh.dev)

    def title(self) -> str:
        words = [f"route {self.namespace}"] + ([self.type] if self.type and self.type != "unicast" else []) + [self.dst]
        for key in ("via", "dev", "src", "nhid", "table", "vrf", "metric", "mtu"):
            value = getattr(self, key)
            words += [f"{key} {value}"] if value is not None else []
        words += [" ".join(["nexthop"] + ([f"via {nh.via}"] if nh.via else []) + ([f"dev {nh.dev}"] if nh.dev else [])
                           + ([f"weight {nh.weight}"] if nh.weight else [])) for nh in self.nexthops]
        return " ".join(words + self.flags + [self.expect])

    def expected(self) -> dict[str, Any]:
        expected = self.model_dump(exclude={"namespace", "ipv6"}, exclude_none=True)
        for key in ("nexthops", "flags"):
            if not expected.get(key):
                expected.pop(key, None)
        if self.table is None and self.vrf is None:
            expected["table"] = f"main ({'IPv6' if self.is_ipv6 else 'IPv4'})"
        return expected

    @classmethod
    def parse_output(cls, stdout: str, stderr: str) -> Any:
        try:
            return [r.to_dict() for r in parse_routes(stdout, tool="ip-route")]
        except ParseError:
            return None

    # -- matching -------------------------------------------------------------------

    def _matches(self, route) -> bool:
        if not same_dst(route.dst, self.dst):
            return False
        hops = route.nexthops or []
        gateways = {route.gateway} | {nh.gateway for nh in hops}
        devs = {route.dev} | {nh.dev for nh in hops}
        return (
            (self.via is None or self.via in gateways)
            and (self.dev is None or self.dev in devs)
            and (self.type is None or (route.type or "unicast") == self.type)
            and (self.metric is None or (route.metric or 0) == self.metric)
            and (self.src is None or route.src == self.src)
            and (self.proto is None or route.proto == self.proto)
            and (self.scope is None or (route.scope or "global") == self.scope)
            and (self.nhid is None or str(route.extra.get("nhid")) == str(self.nhid))
            and (self.mtu is None or str(route.extra.get("mtu")) == str(self.mtu))
            and all(any(_hop_matches(nh, want) for nh in hops) for want in self.nexthops)
            and set(self.flags) <= set(route.flags if isinstance(route.flags, list) else [])
        )

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        stdout = output.stdout
        if output.exit_code != 0:
            if not NO_TABLE.search(output.stderr):
                return Verdict(ERROR, expected, {"exit_code": output.exit_code},
                               f"ip route show failed (exit code {output.exit_code}): {output.stderr.strip()}")
            stdout = ""  # the table does not exist (yet): it holds no route
        try:
            routes = parse_routes(stdout, tool="ip-route")
        except ParseError as exc:
            return Verdict(ERROR, expected, {}, f"cannot read ip route's output: {exc}")
        matching = [r for r in routes if self._matches(r)]
        same = [_route_text(r) for r in routes if same_dst(r.dst, self.dst)]
        observed: dict[str, Any] = {"routes_to_dst": same, "matching": len(matching)}
        if output.exit_code != 0:  # (an identity test on the two strings fails: both are "")
            observed["table_exists"] = False
        if self.expect == "present" and not matching:
            return Verdict(FAIL, expected, observed, f"no route to {self.dst} with the expected fields")
        if self.expect == "absent" and matching:
            return Verdict(FAIL, expected, observed, f"a route to {self.dst} is present")
        return Verdict(PASS, expected, observed)

    # -- the screen (bash) ---------------------------------------------------------------

    def line_patterns(self) -> list[str]:
        """What one route (its line with its ``nexthop`` lines joined) must look like, beside
        its destination, type and metric (which the screen compares itself): ``+ERE`` must
        match, ``-ERE`` must not."""
        esc = ere_escape
        patterns = []
        for key, value in (("via", self.via), ("dev", self.dev), ("src", self.src), ("proto", self.proto),
                           ("scope", self.scope), ("nhid", self.nhid), ("mtu", self.mtu)):
            if key == "scope" and value == "global":
                patterns.append("- scope ")  # iproute2 prints no scope for global routes
            elif value is not None:
                # "via inet6 ADDR" (an IPv4 route via an IPv6 next hop), "mtu lock N"
                qualifier = {"via": "(inet6 )?", "mtu": "(lock )?"}.get(key, "")
                patterns.append(rf"+ {key} {qualifier}{esc(str(value))}( |$)")
        # The screen joins a route's nexthop lines with " | ": route flags sit before the first one.
        for flag in self.flags:
            patterns.append(rf"+^[^|]* {flag}( |$)")
        for nh in self.nexthops:
            text = r"+\| nexthop"
            text += rf" via (inet6 )?{esc(nh.via)}" if nh.via else r"( via [^ ]+)?"
            text += rf" dev {esc(nh.dev)}" if nh.dev else r" dev [^ ]+"
            text += rf" weight {nh.weight}" if nh.weight else r"( weight [0-9]+)?"
            for flag in nh.flags:
                patterns.append(text + rf"( {_FLAG_WORDS})* {flag}( |$)")
            patterns.append(text + "( |$)")
        return patterns


def _hop_matches(nh, want: NexthopMatch) -> bool:
    return ((want.via is None or nh.gateway == want.via) and (want.dev is None or nh.dev == want.dev)
            and (want.weight is None or (nh.weight or 1) == want.weight) and set(want.flags) <= set(nh.flags))


def same_dst(a: str, b: str) -> bool:
    """Do two route destinations name the same prefix (``default`` = ``0.0.0.0/0`` = ``::/0``; a bare address = /32 or /128)?"""
    if a == "default" or b == "default":
        return (a in ("default", "0.0.0.0/0", "::/0")) and (b in ("default", "0.0.0.0/0", "::/0"))
    try:
        return ipaddress.ip_network(a, strict=False) == ipaddress.ip_network(b, strict=False)
    except ValueError:
        return False


def _route_text(route) -> dict[str, Any]:
    return {k: v for k, v in route.to_dict().items() if v not in (None, [], {})}

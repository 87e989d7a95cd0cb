"""``path``: what ``ip route get`` selects for a packet: device, next hop, source, table, cached PMTU.

Reads ``ip -d route get`` (iproute2 text format: ``unicast DST via GW dev DEV table T src S
uid U`` and its ``cache ... mtu [lock] N`` line; ``harness.parsers.routes``). The packet is
described with the selectors ``ip route get`` takes: from, iif, oif, mark, tos, uid,
ipproto, sport, dport, vrf.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import Field, model_validator

from harness.checks.base import ERROR, FAIL, PASS, CheckSpec, Ref, Verdict, ere_escape
from harness.fields import IfName, IpAddress, NsName, Port, Table, U8, U32, ip_version
from harness.parsers import ParseError, parse_routes
from harness.protocol import CheckOutput

# How `ip route get` (iproute2) reports that no route leads there: unreachable/no route,
# blackhole (EINVAL), prohibit (EACCES), and a source that fails reverse-path validation
# (rp_filter: EXDEV from fib_validate_source, which 5.10 passes on for `iif` look-ups; later
# kernels answer EINVAL).
NO_PATH = r"Network is unreachable|No route to host|Invalid argument|Permission denied|Invalid cross-device link"
# Answers of ``ip route get`` that deliver the packet somewhere (the others drop or refuse it).
ROUTED = ("unicast", "local", "broadcast", "multicast", "anycast")
_NO_PATH = re.compile(NO_PATH)


class PathCheck(CheckSpec):
    """The route the kernel selects for a packet to ``to`` (``expect: routed``) or that none does."""

    kind = "path"
    no_path_pattern: ClassVar[str] = NO_PATH
    routed_types: ClassVar[tuple[str, ...]] = ROUTED

    namespace: NsName
    to: IpAddress
    source: Optional[IpAddress] = Field(None, alias="from", description="source address (from)")
    iif: Optional[IfName] = Field(None, description="as if the packet came in on this device (needs from)")
    oif: Optional[IfName] = Field(None, description="as if sent out of this device")
    vrf: Optional[IfName] = None
    mark: Optional[U32] = None
    tos: Optional[U8] = None
    uid: Optional[U32] = None
    ipproto: Optional[Literal["tcp", "udp", "icmp", "ipv6-icmp", "sctp"]] = None
    sport: Optional[Port] = None
    dport: Optional[Port] = None
    dev: Optional[IfName] = None
    via: Optional[IpAddress] = None
    src: Optional[IpAddress] = Field(None, description="the source address the kernel picks")
    table: Optional[Union[Table]] = None
    type: Optional[Literal[ROUTED]] = None  # type: ignore[valid-type]
    mtu: Optional[int] = Field(None, ge=68, le=65535, description="the path MTU (route or cached exception)")
    mtu_lock: Optional[bool] = Field(None, description="the MTU is locked (mtu lock N)")
    exception: Optional[bool] = Field(None, description="a route exception is cached for the destination "
                                                        "(a PMTU learned from an ICMP error, or a redirect)")
    expect: Literal["routed", "unreachable"] = "routed"

    @model_validator(mode="after")
    def _consistent(self) -> "PathCheck":
        what = ("dev", "via", "src", "table", "type", "mtu", "mtu_lock", "exception")
        if self.expect == "routed" and not any(getattr(self, k) is not None for k in what):
            raise ValueError(f"say what the path must be: one or more of {', '.join(what)}")
        if self.expect == "unreachable" and any(getattr(self, k) is not None for k in what):
            raise ValueError("an unreachable path has no dev, via, src, table, type or mtu to check")
        if self.iif and not self.source:
            raise ValueError("iif needs from (ip route get ... from ADDR iif DEV)")
        if (self.sport or self.dport) and self.ipproto not in ("tcp", "udp", "sctp"):
            raise ValueError("sport/dport need ipproto: tcp, udp or sctp")
        if self.source and ip_version(self.source) != ip_version(self.to):
            raise ValueError(f"from {self.source} and to {self.to} are of different IP versions")
        return self

    def references(self):
        yield Ref(("namespace",), self.namespace)
        for key in ("iif", "oif", "dev"):
            if getattr(self, key):
                yield Ref((key,), self.namespace, getattr(self, key))
        if self.vrf:
            yield Ref(("vrf",), self.namespace, self.vrf, "vrf")

    def selectors(self) -> list[tuple[str, Any]]:
        """``ip route get`` arguments describing the packet, in iproute2's words."""
        # iproute2 reads a TOS as hex whatever its form ("tos 16" is 0x16): write it as 0x10.
        tos = None if self.tos is None else f"0x{self.tos:02x}"
        words = [("from", self.source), ("iif", self.iif), ("oif", self.oif), ("vrf", self.vrf),
                 ("mark", self.mark), ("tos", tos), ("uid", self.uid), ("ipproto", self.ipproto),
                 ("sport", self.sport), ("dport", self.dport)]
        return [(k, v) for k, v in words if v is not None]

    def title(self) -> str:
        words = [f"path {self.namespace} -> {self.to}"] + [f"{k} {v}" for k, v in self.selectors()]
        for key in ("via", "dev", "src", "table", "type", "mtu"):
            value = getattr(self, key)
            words += [f"{key} {value}"] if value is not None else []
        words += ["locked"] if self.mtu_lock else []
        words += [{True: "exception cached", False: "no exception"}[self.exception]] if self.exception is not None else []
        words += ["unreachable"] if self.expect == "unreachable" else []
        return " ".join(words)

    def expected(self) -> dict[str, Any]:
        expected: dict[str, Any] = {"routed": self.expect == "routed"}
        expected.update({k: getattr(self, k) for k in ("dev", "via", "src", "table", "type", "mtu", "mtu_lock",
                                                       "exception") if getattr(self, k) is not None})
        if "table" in expected:
            expected["table"] = str(expected["table"])
        return expected

    @classmethod
    def parse_output(cls, stdout: str, stderr: str) -> Any:
        try:
            return [r.to_dict() for r in parse_routes(stdout, tool="ip-route")]
        except ParseError:
            return None

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        if output.exit_code != 0:
            stderr = output.stderr.strip()
            if not _NO_PATH.search(stderr):
                return Verdict(ERROR, expected, {"exit_code": output.exit_code}, f"ip route get failed: {stderr}")
            observed = {"routed": False, "error": stderr}
            if self.expect == "unreachable":
                return Verdict(PASS, expected, observed)
            return Verdict(FAIL, expected, observed, f"no path to {self.to}: {stderr}")
        try:
            routes = parse_routes(output.stdout, tool="ip-route")
        except ParseError as exc:
            return Verdict(ERROR, expected, {}, f"cannot read ip route get's output: {exc}")
        if not routes:
            return Verdict(ERROR, expected, {}, "ip route get printed no route")
        route = routes[0]
        kind = route.type or "unicast"
        observed: dict[str, Any] = {"routed": kind in ROUTED, "dev": route.dev, "type": kind,
                                    "table": route.table or "main"}
        if route.gateway:
            observed["via"] = route.gateway
        if route.src:
            observed["src"] = route.src
        if route.extra.get("mtu") is not None:
            observed["mtu"] = route.extra["mtu"]
            observed["mtu_lock"] = "mtu" in (route.extra.get("locked") or [])
        observed["exception"] = route.extra.get("expires_sec") is not None  # "cache expires Nsec ..."
        if self.expect == "unreachable":
            return Verdict(PASS if not observed["routed"] else FAIL, expected, observed,
                           "" if not observed["routed"] else f"{self.to} is routed via {route.dev}")
        if not observed["routed"]:
            return Verdict(FAIL, expected, observed, f"the kernel answers with a {kind} route")
        wrong = [k for k in expected if k != "routed" and observed.get(k, False if k == "mtu_lock" else None)
                 != expected[k]]
        if wrong:
            return Verdict(FAIL, expected, observed, "the selected path differs: " + ", ".join(
                f"{k} {observed.get(k)} (expected {expected[k]})" for k in wrong))
        return Verdict(PASS, expected, observed)

    def line_patterns(self) -> list[str]:
        """What the answer (its line with its cache line joined) must look like: ``+ERE`` / ``-ERE``."""
        esc = ere_escape
        patterns = ["+^(" + "|".join(ROUTED) + ") "]
        for key in ("dev", "via", "src"):
            value = getattr(self, key)
            if value is not None:  # "via inet6 ADDR": an IPv4 route via an IPv6 next hop
                patterns.append(rf"+ {key} {'(inet6 )?' if key == 'via' else ''}{esc(value)}( |$)")
        if self.table is not None:
            patterns.append(rf"+ table {esc(str(self.table))}( |$)")
        if self.type is not None:
            patterns.append(rf"+^{self.type} ")
        if self.mtu is not None:
            patterns.append(rf"+ mtu (lock )?{self.mtu}( |$)")
        if self.mtu_lock is True:
            patterns.append(r"+ mtu lock ")
        elif self.mtu_lock is False:
            patterns.append(r"- mtu lock ")
        if self.exception is not None:
            patterns.append(("+" if self.exception else "-") + r" cache.* expires ")
        return patterns

"""``ping``: echo requests from a namespace, judged on ping's exit code and its parsed output.

Reads iputils ``ping`` (20161105 .. 20240905: the formats of ``harness.parsers.ping``). Send
options: packet size (``-s``), path-MTU discovery (``-M``), TTL (``-t``), TOS (``-Q``), mark
(``-m``), a source address and a device or VRF (iputils takes two ``-I``), a non-root user.
An expected ICMP error (``error``) makes the check hold when no reply comes and that error does.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar, Literal, Optional

from pydantic import Field, field_validator, model_validator

from harness.checks.base import ERROR, FAIL, PASS, CheckSpec, Ref, Verdict, ere_escape
from harness.fields import IfName, IpAddress, Model, NsName, U8, U32
from harness.parsers import ParseError, PingEvent, PingResult, parse_ping
from harness.protocol import CheckOutput

USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")

# How ping reports that the kernel refused to send (iputils 2016-2024): no route (ENETUNREACH,
# EHOSTUNREACH), a blackhole route (EINVAL), a prohibit route or firewall (EACCES, EPERM; iputils
# then asks about broadcast), no usable source address (EADDRNOTAVAIL, e.g. lo down or the
# address not there). These make "unreachable" a valid answer; other exit-2 errors do not.
REFUSALS = (r"^ping: (connect|sendmsg|sendto|bind|bind icmp socket): (Network is unreachable|No route to host|"
            r"Invalid argument|Permission denied|Operation not permitted|Cannot assign requested address)$|"
            r"^(ping: )?Do you want to ping broadcast\? Then -b")
_REFUSED = re.compile(REFUSALS, re.MULTILINE)

# ICMP errors a check may expect, and the iputils texts that report them (as ERE for the screen).
ERROR_TEXTS = {
    "ttl_exceeded": r"Time to live exceeded|Time exceeded: Hop limit",
    "frag_needed": r"Frag(mentation)? needed and DF set|Packet too big|local error: [Mm]essage too long",
    "net_unreachable": r"Destination Net Unreachable|Destination unreachable: No route",
    "host_unreachable": r"Destination Host Unreachable|Destination unreachable: Address unreachable",
    "port_unreachable": r"Destination Port Unreachable|Destination unreachable: Port unreachable",
    "protocol_unreachable": r"Destination Protocol Unreachable",
    "prohibited": r"Packet filtered|Destination (Net|Host) Prohibited|Destination unreachable: "
                  r"(Administratively prohibited|Reject route to destination)",
}
# Events that say something came back or the kernel refused: not a silent drop.
NOT_SILENT = ("unreachable", "redirect", "ttl_exceeded", "time_exceeded", "parameter_problem", "source_quench",
              "packet_too_big", "icmp", "local_error")
ErrorType = Literal["ttl_exceeded", "frag_needed", "net_unreachable", "host_unreachable", "port_unreachable",
                    "protocol_unreachable", "prohibited"]


class IcmpError(Model):
    """An ICMP error the check expects instead of replies: its type, who sent it, the MTU it reports."""

    type: ErrorType
    from_: Optional[IpAddress] = Field(None, alias="from", description="address the error comes from")
    mtu: Optional[int] = Field(None, ge=68, le=65535, description="MTU a frag_needed error reports")

    @model_validator(mode="after")
    def _mtu_for_frag(self) -> "IcmpError":
        if self.mtu is not None and self.type != "frag_needed":
            raise ValueError("mtu applies to type: frag_needed only")
        return self


def error_type_of(event: PingEvent) -> Optional[str]:
    """The ``IcmpError.type`` an iputils event reports, or None for other lines."""
    if event.type == "local_error" and re.search(r"[Mm]essage too long", event.detail or ""):
        return "frag_needed"
    for kind, text in ERROR_TEXTS.items():
        if event.type != "local_error" and re.search(text, event.detail or ""):
            return kind
    return None


def _event_mtu(event: PingEvent) -> Optional[int]:
    if event.fields.get("mtu") is not None:
        return event.fields["mtu"]
    # "mtu=1300" (IPv4), "mtu: 1300" (IPv6 local error, iputils 20221126)
    found = re.search(r"mtu\s*[=:]\s*(\d+)", event.detail or "")
    return int(found.group(1)) if found else None


class PingCheck(CheckSpec):
    """Ping from a namespace to an address; judged on ping's exit code and its parsed output.

    ``count`` replies are wanted within ``deadline`` seconds (``ping -c N -w D``), requests
    ``interval`` seconds apart; ``max_loss`` (%) is loss against ``count``, ``max_rtt`` in ms,
    ``ttl`` the exact TTL (hop limit) every reply must carry.
    """

    kind = "ping"
    refusal_pattern: ClassVar[str] = REFUSALS

    from_: NsName = Field(alias="from")
    to: IpAddress
    source: Optional[IpAddress] = Field(None, description="source address (ping -I ADDR)")
    interface: Optional[IfName] = Field(None, description="bind to device (ping -I DEV)")
    vrf: Optional[IfName] = Field(None, description="send in this VRF (ping -I VRF)")
    count: int = Field(3, ge=1, le=1000)
    interval: float = Field(0.01, ge=0.002, le=10, description="seconds between echo requests")
    deadline: float = Field(1.0, gt=0, le=300, description="seconds ping may run at most (-w)")
    expect: Literal["reachable", "unreachable"] = "reachable"
    ttl: Optional[int] = Field(None, ge=1, le=255, description="exact TTL every reply must carry")
    max_loss: float = Field(0, ge=0, le=100, description="highest packet loss %, for reachable")
    max_rtt: Optional[float] = Field(None, gt=0, le=600000, description="highest RTT in ms")
    size: Optional[int] = Field(None, ge=0, le=65507, description="payload bytes (ping -s)")
    pmtudisc: Optional[Literal["do", "want", "dont", "probe"]] = Field(
        None, description="path-MTU discovery (ping -M): do sets don't-fragment")
    send_ttl: Optional[int] = Field(None, ge=1, le=255, description="TTL of the requests (ping -t)")
    tos: Optional[U8] = Field(None, description="TOS/DSCP byte of the requests (ping -Q)")
    mark: Optional[U32] = Field(None, description="socket mark, for fwmark rules (ping -m)")
    user: Optional[str] = Field(None, description="run as this user instead of root")
    error: Optional[IcmpError] = Field(None, description="the ICMP error expected instead of replies")
    silent: bool = Field(False, description="no reply and no error at all: dropped silently, not refused")

    @field_validator("user")
    @classmethod
    def _user(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not USER_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a user name such as nobody")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "PingCheck":
        if self.interface and self.vrf:
            raise ValueError("give interface or vrf, not both (ping binds to one device)")
        if self.source and ipaddress.ip_address(self.source).version != ipaddress.ip_address(self.to).version:
            raise ValueError(f"source {self.source} and target {self.to} are of different IP versions")
        if self.silent and self.error is not None:
            raise ValueError("silent means no ICMP error: drop error, or silent")
        if self.error is not None or self.silent:
            if self.expect == "reachable" and "expect" in self.model_fields_set:
                raise ValueError("an expected ICMP error means no reply: drop expect: reachable")
            object.__setattr__(self, "expect", "unreachable")
        if self.expect == "unreachable" and (self.ttl or self.max_rtt or self.max_loss):
            raise ValueError("ttl, max_rtt and max_loss apply to expect: reachable only")
        if (self.count - 1) * self.interval >= self.deadline:
            raise ValueError(f"{self.count} echo requests {self.interval} s apart do not fit in deadline "
                             f"{self.deadline} s: raise deadline or lower count")
        return self

    @property
    def where(self) -> str:
        return self.from_

    @property
    def ipv6(self) -> bool:
        return ipaddress.ip_address(self.to).version == 6

    def references(self):
        yield Ref(("from",), self.from_)
        if self.source:
            yield Ref(("source",), self.from_, address=self.source)
        if self.interface:
            yield Ref(("interface",), self.from_, self.interface)
        if self.vrf:
            yield Ref(("vrf",), self.from_, self.vrf, "vrf")

    def try_seconds(self) -> float:
        return float(self.deadline)

    def tools(self) -> tuple[str, ...]:
        return ("runuser",) if self.user else ()

    def title(self) -> str:
        words = [f"ping {self.from_} -> {self.to}"]
        words += [f"from {self.source}"] if self.source else []
        words += [f"dev {self.interface}"] if self.interface else []
        words += [f"vrf {self.vrf}"] if self.vrf else []
        words += [f"size {self.size}"] if self.size is not None else []
        words += [f"as {self.user}"] if self.user else []
        words += [f"ttl={self.ttl}"] if self.ttl else []
        if self.error:
            words += [self.error.type.replace("_", " ")] + ([f"from {self.error.from_}"] if self.error.from_ else [])
        elif self.expect == "unreachable":
            words += ["dropped silently" if self.silent else "unreachable"]
        return " ".join(words)

    def error_pattern(self) -> str:
        """An ERE for the output line that reports the expected ICMP error (empty without one)."""
        if self.error is None:
            return ""
        text = f"({ERROR_TEXTS[self.error.type]})"
        if self.error.mtu is not None:
            text += rf".*mtu ?[=:] ?{self.error.mtu}([^0-9]|$)"
        if self.error.from_:
            return rf"^From {ere_escape(self.error.from_)}[: ].*{text}"
        return text

    def expected(self) -> dict[str, Any]:
        expected: dict[str, Any] = {"reachable": self.expect == "reachable"}
        if self.expect == "reachable":
            expected["max_loss_percent"] = self.max_loss
            if self.ttl is not None:
                expected["ttl"] = self.ttl
            if self.max_rtt is not None:
                expected["max_rtt_ms"] = self.max_rtt
        if self.error is not None:
            expected["error"] = self.error.model_dump(by_alias=True, exclude_none=True)
        if self.silent:
            expected["silent"] = True
        return expected

    @classmethod
    def parse_output(cls, stdout: str, stderr: str) -> Any:
        try:
            return parse_ping(stdout + stderr).to_dict()
        except ParseError:
            return None

    def _observed(self, result: PingResult, exit_code: int) -> dict[str, Any]:
        replies = [r for r in result.replies if not r.dup]
        received = result.received if result.received is not None else len(replies)
        observed: dict[str, Any] = {
            "exit_code": exit_code,
            "transmitted": result.transmitted,
            "received": result.received,
            "loss_percent": result.loss_percent,
            "loss_of_count_percent": round(100.0 * max(0, self.count - received) / self.count, 3),
            "ttl": sorted({r.ttl for r in replies if r.ttl is not None}),
            "rtt_max_ms": result.rtt_max,
        }
        errors = [e for e in result.events if error_type_of(e)]
        if errors:
            observed["errors"] = [{"type": error_type_of(e), **({"from": e.fields["from"]} if e.fields.get("from") else {}),
                                   **({"mtu": _event_mtu(e)} if _event_mtu(e) is not None else {})}
                                  for e in errors[:5]]
        if result.events:
            observed["events"] = sorted({e.type for e in result.events})
        return observed

    def _error_seen(self, result: PingResult) -> bool:
        for event in result.events:
            if error_type_of(event) != self.error.type:
                continue
            if self.error.from_ and event.fields.get("from", "").split(" ")[0] != self.error.from_:
                continue
            if self.error.mtu is not None and _event_mtu(event) != self.error.mtu:
                continue
            return True
        return False

    def judge(self, output: CheckOutput) -> Verdict:
        """Judge a ping run (iputils exit codes: 0 all replies, 1 too few, 2 other error)."""
        expected = self.expected()
        text = output.stdout + output.stderr
        try:
            result = parse_ping(text)
        except ParseError as exc:
            return Verdict(ERROR, expected, {"exit_code": output.exit_code}, f"cannot read ping's output: {exc}")
        observed = self._observed(result, output.exit_code)
        received = result.received or 0
        refused = bool(_REFUSED.search(text))
        if output.exit_code == 0 and received == 0:
            return Verdict(ERROR, expected, observed, "ping exited 0 but its output shows no reply")
        if output.exit_code not in (0, 1) and not refused:
            return Verdict(ERROR, expected, observed,
                           f"ping failed (exit code {output.exit_code}): {output.stderr.strip()[:300]}")
        if self.expect == "unreachable":
            if received:
                return Verdict(FAIL, expected, observed, f"{self.to} answered {received} of {result.transmitted} echo requests")
            noise = [e for e in result.events if e.type in NOT_SILENT]
            if self.silent and (noise or refused):
                return Verdict(FAIL, expected, observed, "not silent: " + (
                    noise[0].detail or noise[0].type if noise else "the kernel refused to send"))
            if self.error is not None and not self._error_seen(result):
                seen = ", ".join(sorted({error_type_of(e) or e.type for e in result.events})) or "none"
                return Verdict(FAIL, expected, observed, f"no {self.error.type} error"
                               + (f" from {self.error.from_}" if self.error.from_ else "")
                               + (f" with mtu {self.error.mtu}" if self.error.mtu else "") + f" (errors seen: {seen})")
            return Verdict(PASS, expected, observed)
        if received == 0:
            why = f"no reply from {self.to}"
            if result.events:
                why += f" ({result.events[0].detail})"
            return Verdict(FAIL, expected, observed, why)
        # Loss against what the check asked for: ping may send one request more than count
        # within its deadline, and that extra one's reply not coming in is no loss.
        loss = observed["loss_of_count_percent"]
        if loss > self.max_loss:
            return Verdict(FAIL, expected, observed, f"packet loss {loss:g}% of {self.count} is above {self.max_loss:g}%")
        if self.ttl is not None and observed["ttl"] != [self.ttl]:
            return Verdict(FAIL, expected, observed, f"replies came with ttl {observed['ttl']}, expected {self.ttl}")
        if self.max_rtt is not None and (result.rtt_max is None or result.rtt_max > self.max_rtt):
            return Verdict(FAIL, expected, observed, f"RTT up to {result.rtt_max} ms, above {self.max_rtt} ms")
        return Verdict(PASS, expected, observed)

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        if observed.get("received"):
            words = [f"{observed['received']}/{observed['transmitted']} replies"]
            words += [f"ttl {','.join(map(str, observed['ttl']))}"] if observed.get("ttl") else []
            words += [f"rtt max {observed['rtt_max_ms']} ms"] if observed.get("rtt_max_ms") is not None else []
            return ", ".join(words)
        if observed.get("errors"):
            first = observed["errors"][0]
            return first["type"] + (f" from {first['from']}" if first.get("from") else "") + (
                f", mtu {first['mtu']}" if first.get("mtu") else "")
        return ""

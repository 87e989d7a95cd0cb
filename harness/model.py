"""The scenario model: what a scenario file may say, with per-field validation.

Cross-references (a route naming an interface that exists, ...) are checked in
``harness.references``; reading YAML with line numbers lives in ``harness.loader``.
All models forbid unknown fields so a typo is an error, not a silent no-op.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
NSNAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Only net.* sysctls belong to a network namespace; kernel.*, vm.* ... would change the host.
SYSCTL_RE = re.compile(r"^net(\.[A-Za-z0-9_-]+)+$")
MAC_RE = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _ifname(value: str) -> str:
    if not IFNAME_RE.match(value) or value in (".", ".."):
        raise ValueError(
            f"{value!r} is not a valid interface name: use 1 to 15 characters of A-Z a-z 0-9 _ . -"
        )
    return value


def _nsname(value: str) -> str:
    if not NSNAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid namespace name: use 1 to 32 characters of A-Z a-z 0-9 _ -"
        )
    return value


def _interface_address(value: str) -> str:
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an address with prefix length, e.g. 10.0.0.1/24") from None
    if "/" not in value:
        raise ValueError(f"{value!r} has no prefix length: write it as e.g. {value}/24")
    return value


def _ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address, e.g. 10.0.100.254") from None
    return value


def _destination(value: str) -> str:
    if value == "default":
        return value
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not 'default' or a network in CIDR form such as 192.168.100.0/24 ({exc})"
        ) from None
    return value


IfName = Annotated[str, AfterValidator(_ifname)]
NsName = Annotated[str, AfterValidator(_nsname)]
IpAddress = Annotated[str, AfterValidator(_ip)]
InterfaceAddress = Annotated[str, AfterValidator(_interface_address)]
Destination = Annotated[str, AfterValidator(_destination)]
SysctlValue = Union[int, str]


class Namespace(Model):
    """A network namespace the harness creates (with a unique per-run prefix)."""

    loopback: bool = Field(True, description="bring lo up (a new namespace's lo is down)")
    sysctls: dict[str, SysctlValue] = Field(default_factory=dict)

    @field_validator("sysctls")
    @classmethod
    def _sysctl_keys(cls, value: dict[str, SysctlValue]) -> dict[str, SysctlValue]:
        return _check_sysctls(value)


def _check_sysctls(value: dict[str, SysctlValue]) -> dict[str, SysctlValue]:
    for key, setting in value.items():
        if not SYSCTL_RE.match(key):
            raise ValueError(f"{key!r} is not a per-namespace sysctl: use a net.* key such as "
                             "net.ipv4.ip_forward (others would change the whole host)")
        if not re.match(r"^[A-Za-z0-9_. -]+$", str(setting)):
            raise ValueError(f"sysctl {key}: value {setting!r} has characters sysctl values never have")
    return value


class VethEnd(Model):
    """One end of a veth pair: the namespace it lives in and its settings."""

    namespace: NsName
    name: IfName
    addresses: list[InterfaceAddress] = Field(default_factory=list)
    mtu: Optional[int] = Field(None, ge=68, le=65535)
    mac: Optional[str] = None
    up: bool = True

    _v_name = field_validator("name")(classmethod(lambda cls, v: _ifname(v)))

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not MAC_RE.match(value):
            raise ValueError(f"{value!r} is not a MAC address such as 02:00:00:00:00:01")
        return value


class VethPair(VethEnd):
    """A veth pair: this end plus its ``peer``; both ends are created directly in their namespaces."""

    peer: VethEnd


class Vrf(Model):
    """A Linux VRF device (``ip link add NAME type vrf table N``) and the links enslaved to it."""

    namespace: NsName
    name: IfName
    table: int = Field(ge=1, le=2**32 - 1)
    interfaces: list[IfName] = Field(default_factory=list)

    _v_name = field_validator("name")(classmethod(lambda cls, v: _ifname(v)))

    @field_validator("table")
    @classmethod
    def _table(cls, value: int) -> int:
        if value in (253, 254, 255):
            raise ValueError(f"table {value} is reserved (default/main/local): pick another number")
        return value


class Bridge(Model):
    """A Linux bridge (``ip link add NAME type bridge``) with its ports and addresses."""

    namespace: NsName
    name: IfName
    interfaces: list[IfName] = Field(default_factory=list)
    addresses: list[InterfaceAddress] = Field(default_factory=list)
    vrf: Optional[IfName] = None

    _v_name = field_validator("name")(classmethod(lambda cls, v: _ifname(v)))


class Address(Model):
    """An address added to an existing interface (``ip addr add ADDRESS dev DEV``)."""

    namespace: NsName
    dev: IfName
    address: InterfaceAddress



RouteType = Literal["unicast", "blackhole", "unreachable", "prohibit"]


class Route(Model):
    """A route (``ip route add``): ``dst`` is ``default`` or a CIDR network."""

    namespace: NsName
    dst: Destination
    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    table: Optional[int] = Field(None, ge=1, le=2**32 - 1)
    vrf: Optional[IfName] = None
    metric: Optional[int] = Field(None, ge=0, le=2**32 - 1)
    type: RouteType = "unicast"
    onlink: bool = False

    _v_via = field_validator("via")(classmethod(lambda cls, v: v if v is None else _ip(v)))

    @model_validator(mode="after")
    def _consistent(self) -> "Route":
        if self.type == "unicast" and not (self.via or self.dev):
            raise ValueError("a unicast route needs 'via' (next hop) or 'dev'")
        if self.type != "unicast" and (self.via or self.dev):
            raise ValueError(f"a {self.type} route takes no 'via' or 'dev'")
        if self.table is not None and self.vrf is not None:
            raise ValueError("give 'table' or 'vrf', not both (a VRF has its own table)")
        if self.via and self.dst != "default":
            if ipaddress.ip_address(self.via).version != ipaddress.ip_network(self.dst).version:
                raise ValueError(f"next hop {self.via} and destination {self.dst} are of different IP versions")
        return self


class LinkState(Model):
    """Set an existing interface up or down in a step."""

    namespace: NsName
    name: IfName
    up: bool


class Firewall(Model):
    """An nftables ruleset loaded into a namespace with ``nft -f -``."""

    namespace: NsName
    nft: str = Field(min_length=1)


class PingCheck(Model):
    """Ping from a namespace to an address; judged on ping's exit code and its parsed output."""

    from_: NsName = Field(alias="from")
    to: IpAddress
    source: Optional[IpAddress] = Field(None, description="source address (ping -I ADDR)")
    interface: Optional[IfName] = Field(None, description="bind to device (ping -I DEV)")
    vrf: Optional[IfName] = None
    count: int = Field(3, ge=1, le=1000)
    interval: float = Field(0.01, ge=0.002, le=10, description="seconds between echo requests")
    deadline: float = Field(1.0, gt=0, le=300, description="seconds ping may run at most (-w)")
    expect: Literal["reachable", "unreachable"] = "reachable"
    ttl: Optional[int] = Field(None, ge=1, le=255, description="exact TTL every reply must carry")
    max_loss: float = Field(0, ge=0, le=100, description="highest packet loss %, for reachable")
    max_rtt: Optional[float] = Field(None, gt=0, description="highest RTT in ms")

    _v_src = field_validator("source")(classmethod(lambda cls, v: v if v is None else _ip(v)))

    @model_validator(mode="after")
    def _consistent(self) -> "PingCheck":
        given = [k for k in ("source", "interface", "vrf") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give one of source, interface, vrf (ping has one -I), not {' and '.join(given)}")
        if self.source and ipaddress.ip_address(self.source).version != ipaddress.ip_address(self.to).version:
            raise ValueError(f"source {self.source} and target {self.to} are of different IP versions")
        if self.expect == "unreachable" and (self.ttl or self.max_rtt or self.max_loss):
            raise ValueError("ttl, max_rtt and max_loss apply to expect: reachable only")
        if (self.count - 1) * self.interval >= self.deadline:
            raise ValueError(f"{self.count} echo requests {self.interval} s apart do not fit in deadline "
                             f"{self.deadline} s: raise deadline or lower count")
        return self

    @property
    def ipv6(self) -> bool:
        return ipaddress.ip_address(self.to).version == 6


class RouteCheck(Model):
    """A route with the given fields is present (or absent) in a namespace's route table."""

    namespace: NsName
    dst: Destination
    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    table: Optional[Union[int, Literal["main", "local", "all"]]] = None
    vrf: Optional[IfName] = None
    type: Optional[Literal["unicast", "local", "broadcast", "multicast", "blackhole", "unreachable",
                           "prohibit", "throw", "anycast", "nat"]] = None
    metric: Optional[int] = None
    expect: Literal["present", "absent"] = "present"
    ipv6: Optional[bool] = Field(None, description="IPv6 table; default: from dst and via")

    _v_via = field_validator("via")(classmethod(lambda cls, v: v if v is None else _ip(v)))

    @model_validator(mode="after")
    def _consistent(self) -> "RouteCheck":
        if self.table is not None and self.vrf is not None:
            raise ValueError("give 'table' or 'vrf', not both")
        if self.ipv6 is not None and self.family_from_addresses not in (None, self.ipv6):
            raise ValueError(f"ipv6: {str(self.ipv6).lower()} contradicts dst {self.dst}"
                             + (f" / via {self.via}" if self.via else ""))
        return self

    @property
    def family_from_addresses(self) -> Optional[bool]:
        for value in (self.dst, self.via):
            if value and value != "default":
                return ipaddress.ip_network(value, strict=False).version == 6
        return None

    @property
    def is_ipv6(self) -> bool:
        """Which table to read: ``ipv6`` if given, else the family of ``dst``/``via`` (IPv4 for a bare default)."""
        return bool(self.ipv6 if self.ipv6 is not None else self.family_from_addresses)


class PathCheck(Model):
    """The path the kernel selects for an address (``ip route get``): its dev and next hop."""

    namespace: NsName
    to: IpAddress
    source: Optional[IpAddress] = Field(None, alias="from")
    vrf: Optional[IfName] = None
    dev: Optional[IfName] = None
    via: Optional[IpAddress] = None
    expect: Literal["routed", "unreachable"] = "routed"

    _v_via = field_validator("via")(classmethod(lambda cls, v: v if v is None else _ip(v)))

    @model_validator(mode="after")
    def _consistent(self) -> "PathCheck":
        if self.expect == "routed" and not (self.dev or self.via):
            raise ValueError("say what the path must be: 'dev', 'via' or both")
        return self


CHECK_KINDS = ("ping", "route", "path")


class Check(Model):
    """One check: exactly one of ``ping``, ``route``, ``path``, with an optional ``name``."""

    name: Optional[str] = Field(None, pattern=r"^[^\n\r|`]{1,120}$")
    ping: Optional[PingCheck] = None
    route: Optional[RouteCheck] = None
    path: Optional[PathCheck] = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Check":
        kinds = [k for k in CHECK_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a check has exactly one of {', '.join(CHECK_KINDS)} (found {kinds or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CHECK_KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> Union[PingCheck, RouteCheck, PathCheck]:
        return getattr(self, self.kind)


class Step(Model):
    """A step: changes applied in order (sysctls, links, route removals, routes), then checks run concurrently."""

    name: Optional[str] = None
    sysctls: dict[str, dict[str, SysctlValue]] = Field(default_factory=dict)
    links: list[LinkState] = Field(default_factory=list)
    delete_routes: list[Route] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)

    @field_validator("sysctls")
    @classmethod
    def _sysctl_keys(cls, value: dict[str, dict[str, SysctlValue]]) -> dict[str, dict[str, SysctlValue]]:
        for settings in value.values():
            _check_sysctls(settings or {})
        return value


class Requires(Model):
    """What the target must offer; an unmet need makes the scenario SKIP, never FAIL."""

    kernel: Optional[str] = Field(None, description="minimum kernel release, e.g. '5.10'")
    features: list[Literal["vrf", "bridge", "veth", "nftables", "ipv6"]] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)

    @field_validator("kernel")
    @classmethod
    def _kernel(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.match(r"^\d+(\.\d+){0,2}$", value):
            raise ValueError(f"{value!r} is not a kernel version such as 5.10 or 6.1.0")
        return value

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[str]) -> list[str]:
        for tool in value:
            if not re.match(r"^[A-Za-z0-9_.+-]+$", tool):
                raise ValueError(f"{tool!r} is not a command name")
        return value


class ExpectedFailure(Model):
    """A known bug: the scenario is expected to FAIL (XFAIL); passing is reported as XPASS.

    ``kernel_below``: only on kernels older than this release (e.g. fixed in "6.5").
    """

    reason: str = Field(min_length=1)
    ref: Optional[str] = Field(None, description="bug tracker link or commit that fixes it")
    kernel_below: Optional[str] = None

    @field_validator("kernel_below")
    @classmethod
    def _kernel(cls, value: Optional[str]) -> Optional[str]:
        return Requires._kernel(value)


class Scenario(Model):
    """A whole scenario file: topology, then ordered steps of changes and checks.

    Top-level ``checks`` are shorthand for a single step placed before ``steps``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    requires: Requires = Field(default_factory=Requires)
    xfail: Optional[ExpectedFailure] = None
    namespaces: dict[str, Namespace] = Field(min_length=1)
    veths: list[VethPair] = Field(default_factory=list)
    vrfs: list[Vrf] = Field(default_factory=list)
    bridges: list[Bridge] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    firewall: list[Firewall] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)

    @field_validator("namespaces", mode="before")
    @classmethod
    def _none_is_empty(cls, value):
        # "client:" with nothing after it in YAML reads as None: treat it as defaults.
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("namespaces")
    @classmethod
    def _ns_names(cls, value: dict[str, Namespace]) -> dict[str, Namespace]:
        for name in value:
            _nsname(name)
        return value

    @model_validator(mode="after")
    def _something_to_check(self) -> "Scenario":
        if not self.checks and not any(step.checks for step in self.steps):
            raise ValueError("a scenario needs at least one check (top-level 'checks' or in 'steps')")
        return self

    @property
    def all_steps(self) -> list[Step]:
        """Steps in run order, the top-level checks first as their own step."""
        first = [Step(name="checks", checks=self.checks)] if self.checks else []
        return first + list(self.steps)

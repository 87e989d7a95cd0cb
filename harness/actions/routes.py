"""``routes`` (``ip route add|append|prepend|replace|change``) and ``delete_routes`` (``ip route del``).

A route goes to ``dst`` (``default`` or a network) through a next hop (``via``), a device
(``dev``), several weighted next hops (``nexthops``: multipath/ECMP) or a nexthop object
(``nhid``); or it is of a type that drops (blackhole, unreachable, prohibit), defers to the
next rule (throw) or delivers locally (local). An IPv4 route may go via an IPv6 next hop
(``via inet6``). The family follows ``dst``, then ``src``, then the next hop; a bare
``default`` through a device alone is IPv4 unless ``ipv6: true``.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from harness.actions.base import Action
from harness.fields import Destination, IfName, IpAddress, Model, Mtu, NsName, Ref, Table, U32, ip_version

RouteType = Literal["unicast", "local", "blackhole", "unreachable", "prohibit", "throw"]


class NextHop(Model):
    """One path of a multipath route: next hop, device, weight (1-256), onlink."""

    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    weight: Optional[int] = Field(None, ge=1, le=256)
    onlink: bool = False

    @model_validator(mode="after")
    def _something(self) -> "NextHop":
        if not (self.via or self.dev):
            raise ValueError("a next hop needs 'via' or 'dev'")
        return self


class RouteFields(Action):
    """What selects a route: namespace, destination, table/VRF, type, family."""

    namespace: NsName
    dst: Destination
    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    table: Optional[Table] = None
    vrf: Optional[IfName] = None
    metric: Optional[U32] = None
    type: RouteType = "unicast"
    ipv6: Optional[bool] = Field(None, description="IPv6 route; default: from dst, src and the next hop")

    @property
    def version(self) -> int:
        """4 or 6: the route's family."""
        if self.ipv6 is not None:
            return 6 if self.ipv6 else 4
        for value in (self.dst, getattr(self, "src", None), self.via,
                      *[nh.via for nh in getattr(self, "nexthops", [])]):
            if value and value != "default":
                return ip_version(value)
        return 4

    def via_words(self, via: str) -> list[str]:
        """``["inet6", ADDR]`` for an IPv6 next hop of an IPv4 route, else ``[ADDR]``."""
        return ["inet6", via] if self.version == 4 and ip_version(via) == 6 else [via]

    def _check_family(self) -> None:
        if self.table is not None and self.vrf is not None:
            raise ValueError("give 'table' or 'vrf', not both (a VRF has its own table)")
        if self.dst != "default" and self.ipv6 is not None and (ip_version(self.dst) == 6) != self.ipv6:
            raise ValueError(f"ipv6: {str(self.ipv6).lower()} contradicts dst {self.dst}")
        hops = [self.via] + [nh.via for nh in getattr(self, "nexthops", [])]
        for via in filter(None, hops):
            if ip_version(via) == 4 and self.version == 6:
                raise ValueError(f"next hop {via} is IPv4 but the route is IPv6")

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if self.dev:
            yield Ref(("dev",), self.namespace, self.dev)
        if self.vrf:
            yield Ref(("vrf",), self.namespace, self.vrf, "vrf")


class Route(RouteFields):
    """A route to add; ``op`` says how (add, append, prepend, replace, change)."""

    section = "routes"
    template = "actions/routes.sh.j2"
    PHASES = ("route",)
    description = "routes to add: {namespace, dst, via | dev | nexthops | nhid, ...}"

    op: Literal["add", "append", "prepend", "replace", "change"] = "add"
    onlink: bool = Field(False, description="the next hop is on the link even without a matching prefix")
    nexthops: list[NextHop] = Field(default_factory=list, description="multipath (ECMP) next hops")
    nhid: Optional[U32] = Field(None, description="a nexthop object (nexthops section) by id")
    src: Optional[IpAddress] = Field(None, description="preferred source address")
    proto: Optional[str] = Field(None, pattern=r"^([a-z]{1,16}|[0-9]{1,3})$")
    scope: Optional[Literal["host", "link", "global"]] = None
    mtu: Optional[Mtu] = None
    mtu_lock: bool = Field(False, description="lock the MTU (no PMTU discovery below it)")

    @model_validator(mode="after")
    def _consistent(self) -> "Route":
        paths = [k for k in ("via", "nexthops", "nhid") if getattr(self, k)]
        if len(paths) > 1:
            raise ValueError(f"give one of via, nexthops, nhid (found {' and '.join(paths)})")
        if self.type == "unicast" and not (paths or self.dev):
            raise ValueError("a unicast route needs 'via' (next hop), 'dev', 'nexthops' or 'nhid'")
        if self.type == "local" and not self.dev:
            raise ValueError("a local route needs 'dev'")
        if self.type not in ("unicast", "local") and (paths or self.dev or self.onlink):
            raise ValueError(f"a {self.type} route takes no via, dev, nexthops or nhid")
        if self.nhid and self.dev:
            raise ValueError("a route by nhid takes its device from the nexthop object: drop dev")
        if self.onlink and not self.via:
            raise ValueError("onlink applies to a next hop given with via")
        if self.mtu_lock and not self.mtu:
            raise ValueError("mtu_lock needs mtu")
        if self.src and self.dst != "default" and ip_version(self.src) != ip_version(self.dst):
            raise ValueError(f"src {self.src} and dst {self.dst} are of different IP versions")
        self._check_family()
        return self

    def summary(self) -> str:
        words = [f"route {self.op}"] + ([self.type] if self.type != "unicast" else []) + [self.dst]
        words += [f"via {self.via}"] if self.via else []
        words += [f"dev {self.dev}"] if self.dev else []
        words += [f"nhid {self.nhid}"] if self.nhid else []
        words += [f"table {self.table}"] if self.table is not None else []
        words += [f"vrf {self.vrf}"] if self.vrf else []
        words += ["onlink"] if self.onlink else []
        return " ".join(words)

    def references(self):
        yield from super().references()
        for i, nh in enumerate(self.nexthops):
            if nh.dev:
                yield Ref(("nexthops", i, "dev"), self.namespace, nh.dev)


class DeleteRoute(RouteFields):
    """A route to delete: the first route matching the fields given (``ip route del``); a
    multipath route by its ``nexthops`` (in the order given: the kernel may refuse another)."""

    nexthops: list[NextHop] = Field(default_factory=list, description="the paths of the multipath route")

    section = "delete_routes"
    template = "actions/routes.sh.j2"
    PHASES = ("delete_route",)
    in_setup = False
    description = "routes to delete: {namespace, dst, ...}"

    def summary(self) -> str:
        return f"route del {self.dst}" + (f" via {self.via}" if self.via else "") + (
            f" dev {self.dev}" if self.dev else "") + "".join(
            f" nexthop via {nh.via or ''} dev {nh.dev or ''}".replace("  ", " ") for nh in self.nexthops)

    @model_validator(mode="after")
    def _consistent(self) -> "DeleteRoute":
        self._check_family()
        return self

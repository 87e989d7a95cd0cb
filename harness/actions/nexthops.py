"""``nexthops`` (``ip nexthop add``) and ``delete_nexthops``: nexthop objects and groups.

A nexthop object is a next hop with an id (``via`` and/or ``dev``, or ``blackhole``), or a
group of other objects with weights (``group: [{id: 1, weight: 2}, ...]``, ``type: mpath`` or
``resilient`` with ``buckets``). Routes use one with ``nhid``. Needs Linux 5.3+.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from harness.actions.base import Action
from harness.fields import IfName, IpAddress, Model, NsName, Ref, U32, ip_version


class GroupMember(Model):
    """One member of a nexthop group: a nexthop object id and its weight (1-256)."""

    id: U32
    weight: Optional[int] = Field(None, ge=1, le=256)


class Nexthop(Action):
    """A nexthop object: ``id`` with ``via``/``dev`` (``onlink``), ``blackhole``, or a ``group``."""

    section = "nexthops"
    template = "actions/nexthops.sh.j2"
    PHASES = ("nexthop",)
    description = "nexthop objects: {namespace, id, via, dev | blackhole | group}"

    namespace: NsName
    id: U32
    op: Literal["add", "replace"] = Field("add", description="replace: change an existing nexthop object in place")
    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    onlink: bool = False
    blackhole: bool = False
    group: list[GroupMember] = Field(default_factory=list)
    type: Optional[Literal["mpath", "resilient"]] = Field(None, description="group type (default mpath)")
    buckets: Optional[int] = Field(None, ge=1, le=65535, description="resilient group: hash buckets")
    idle_timer: Optional[int] = Field(None, ge=0, le=3600, description="resilient group: seconds")
    ipv6: Optional[bool] = Field(None, description="IPv6 (default: from via; IPv4 without one)")

    @model_validator(mode="after")
    def _consistent(self) -> "Nexthop":
        if self.id == 0:
            raise ValueError("nexthop id 0 is not valid: use 1 or more")
        kinds = [k for k, v in (("via/dev", self.via or self.dev), ("blackhole", self.blackhole),
                                ("group", self.group)) if v]
        if len(kinds) != 1:
            raise ValueError("a nexthop object is one of: via and/or dev, blackhole, group"
                             + (f" (found {' and '.join(kinds)})" if kinds else ""))
        if (self.type or self.buckets or self.idle_timer is not None) and not self.group:
            raise ValueError("type, buckets and idle_timer apply to a group")
        if (self.buckets or self.idle_timer is not None) and self.type != "resilient":
            raise ValueError("buckets and idle_timer apply to type: resilient")
        if self.onlink and not self.via:
            raise ValueError("onlink applies to a nexthop with via")
        if self.via and self.ipv6 is not None and (ip_version(self.via) == 6) != self.ipv6:
            raise ValueError(f"ipv6: {str(self.ipv6).lower()} contradicts via {self.via}")
        return self

    @property
    def version(self) -> Optional[int]:
        """4 or 6 for a nexthop with an address family; None for groups and blackholes (any family)."""
        if self.via:
            return ip_version(self.via)
        if self.ipv6 is not None:
            return 6 if self.ipv6 else 4
        return None if (self.group or self.blackhole) else 4

    def features(self) -> tuple[str, ...]:
        return ("nexthop",)

    def group_spec(self) -> str:
        """The group in iproute2's words: ``1,2/3`` (id 1 weight 2, id 3)."""
        return "/".join(f"{m.id},{m.weight}" if m.weight else str(m.id) for m in self.group)

    def summary(self) -> str:
        if self.group:
            return f"nexthop {self.op} id {self.id} group " + "/".join(str(m.id) for m in self.group)
        return f"nexthop {self.op} id {self.id}" + (f" via {self.via}" if self.via else "") + (
            f" dev {self.dev}" if self.dev else "") + (" blackhole" if self.blackhole else "")

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if self.dev:
            yield Ref(("dev",), self.namespace, self.dev)


class DeleteNexthop(Action):
    """Delete a nexthop object by id (routes using it go too)."""

    section = "delete_nexthops"
    template = "actions/nexthops.sh.j2"
    PHASES = ("delete_nexthop",)
    in_setup = False
    description = "nexthop objects to delete: {namespace, id}"

    namespace: NsName
    id: U32

    def summary(self) -> str:
        return f"nexthop del id {self.id}"

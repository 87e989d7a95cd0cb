"""``neighbours`` (``ip neigh add|replace``) and ``delete_neighbours`` (``ip neigh del``): static
ARP/NDP entries and proxy entries.

An entry maps ``address`` on ``dev`` to ``lladdr`` in a ``state`` (permanent by default;
noarp, reachable, stale, none); ``proxy: true`` makes a proxy ARP/NDP entry instead (no
lladdr). ``op: replace`` overwrites an entry, e.g. one stuck in FAILED.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from harness.actions.base import Action
from harness.fields import IfName, IpAddress, Mac, NsName, Ref, ip_version


class Neighbour(Action):
    """A static neighbour entry (or a proxy entry) on a link."""

    section = "neighbours"
    template = "actions/neighbours.sh.j2"
    PHASES = ("neighbour",)
    description = "neighbour entries: {namespace, dev, address, lladdr, state | proxy}"

    namespace: NsName
    dev: IfName
    address: IpAddress
    lladdr: Optional[Mac] = None
    state: Literal["permanent", "noarp", "reachable", "stale", "none"] = "permanent"
    proxy: bool = Field(False, description="a proxy ARP/NDP entry (answers for address on dev)")
    router: bool = Field(False, description="IPv6: the neighbour is a router")
    op: Literal["add", "replace"] = "add"

    @model_validator(mode="after")
    def _consistent(self) -> "Neighbour":
        if self.proxy and self.lladdr:
            raise ValueError("a proxy entry has no lladdr")
        if not self.proxy and not self.lladdr and self.state in ("permanent", "noarp", "reachable", "stale"):
            raise ValueError(f"a {self.state} entry needs lladdr (or proxy: true)")
        if self.router and ip_version(self.address) == 4:
            raise ValueError("router applies to IPv6 neighbours")
        return self

    @property
    def version(self) -> int:
        return ip_version(self.address)

    def summary(self) -> str:
        return f"neigh {self.op} {'proxy ' if self.proxy else ''}{self.address} dev {self.dev}"

    def references(self):
        yield Ref(("namespace",), self.namespace)
        yield Ref(("dev",), self.namespace, self.dev)


class DeleteNeighbour(Action):
    """Remove a neighbour entry (or a proxy entry)."""

    section = "delete_neighbours"
    template = "actions/neighbours.sh.j2"
    PHASES = ("delete_neighbour",)
    in_setup = False
    description = "neighbour entries to remove: {namespace, dev, address, proxy}"

    namespace: NsName
    dev: IfName
    address: IpAddress
    proxy: bool = False

    @property
    def version(self) -> int:
        return ip_version(self.address)

    def summary(self) -> str:
        return f"neigh del {'proxy ' if self.proxy else ''}{self.address} dev {self.dev}"

    def references(self):
        yield Ref(("namespace",), self.namespace)
        yield Ref(("dev",), self.namespace, self.dev)

"""``veths``: veth pairs, both ends created directly in their namespaces (names never meet in a
shared one); the same as a ``links`` item of kind ``veth``."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from harness.actions.base import Action
from harness.actions.links import Link, Peer
from harness.fields import IfName, InterfaceAddress, Mac, Mtu, NsName


class VethPair(Action):
    """A veth pair: this end (``namespace``, ``name``, ``addresses``, ``mtu``, ``mac``, ``up``) and its ``peer``."""

    section = "veths"
    description = "veth pairs: an end and its peer, each in its namespace"

    namespace: NsName
    name: IfName
    addresses: list[InterfaceAddress] = Field(default_factory=list)
    mtu: Optional[Mtu] = None
    mac: Optional[Mac] = None
    up: bool = True
    peer: Peer

    def summary(self) -> str:
        return f"link add {self.name} type veth peer {self.peer.name}"

    def references(self):
        return iter(())  # the Link it becomes names them

    def derived(self):
        return [((), Link(kind="veth", **self.model_dump(exclude_unset=True)))]

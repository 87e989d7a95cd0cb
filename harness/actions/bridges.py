"""``bridges``: Linux bridges (``ip link add NAME type bridge``) with their ports, addresses and
optionally a VRF; the same as a ``links`` item of kind ``bridge``."""

from __future__ import annotations

from typing import ClassVar, Optional

from pydantic import Field

from harness.actions.base import Action
from harness.actions.links import Link
from harness.fields import IfName, InterfaceAddress, NsName


class Bridge(Action):
    """A bridge: ``namespace``, ``name``, ``interfaces`` (ports), ``addresses``, ``vrf``, ``vlan_filtering``."""

    section = "bridges"
    # The Link it becomes calls its fields so; errors name them as written here.
    RENAMES: ClassVar[dict[str, str]] = {"ports": "interfaces", "master": "vrf"}
    description = "bridges: name, interfaces (ports), addresses, vrf"

    namespace: NsName
    name: IfName
    interfaces: list[IfName] = Field(default_factory=list)
    addresses: list[InterfaceAddress] = Field(default_factory=list)
    vrf: Optional[IfName] = None
    vlan_filtering: Optional[bool] = None

    def summary(self) -> str:
        return f"link add {self.name} type bridge"

    def references(self):
        return iter(())

    def derived(self):
        data = self.model_dump(exclude_unset=True)
        data["ports"] = data.pop("interfaces", [])
        if "vrf" in data:
            data["master"] = data.pop("vrf")
        return [((), Link(kind="bridge", **data))]

"""``vrfs``: Linux VRF devices (``ip link add NAME type vrf table N``) with the links enslaved to
them; the same as a ``links`` item of kind ``vrf``. A VRF device may carry addresses (the
usual ``127.0.0.1/8`` on each VRF, for services bound to the VRF)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from harness.actions.base import Action
from harness.actions.links import Link
from harness.fields import IfName, InterfaceAddress, NsName, U32


class Vrf(Action):
    """A VRF device: ``namespace``, ``name``, route ``table``, ``interfaces`` enslaved, ``addresses``."""

    section = "vrfs"
    # The Link it becomes calls its fields so; errors name them as written here.
    RENAMES: ClassVar[dict[str, str]] = {"ports": "interfaces"}
    description = "VRF devices: name, table, interfaces"

    namespace: NsName
    name: IfName
    table: U32
    interfaces: list[IfName] = Field(default_factory=list)
    addresses: list[InterfaceAddress] = Field(default_factory=list)

    @field_validator("table")
    @classmethod
    def _table(cls, value: int) -> int:
        if value in (0, 253, 254, 255):
            raise ValueError(f"table {value} is reserved (unspec/default/main/local): pick another number")
        return value

    def summary(self) -> str:
        return f"link add {self.name} type vrf table {self.table}"

    def references(self):
        return iter(())

    def derived(self):
        data = self.model_dump(exclude_unset=True)
        data["ports"] = data.pop("interfaces", [])
        return [((), Link(kind="vrf", **data))]

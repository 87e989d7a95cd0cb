"""``addresses`` (``ip addr add``) and ``delete_addresses`` (``ip addr del``).

IPv4 addresses get ``broadcast +`` (prefixes up to /30). IPv6 addresses get ``nodad`` unless
the address says ``nodad: false`` or its namespace turns DAD on (an ``accept_dad`` sysctl
other than 0): the harness's fast default, which a DAD scenario overrides by saying so.
"""

from __future__ import annotations

import ipaddress
from typing import Literal, Optional, Union

from pydantic import Field, model_validator

from harness.actions.base import Action
from harness.fields import IfName, InterfaceAddress, NsName, Ref, U32, ip_version

Lifetime = Union[Literal["forever"], U32]


class Address(Action):
    """An address on an existing interface, with the attributes ``ip addr add`` takes."""

    section = "addresses"
    template = "actions/addresses.sh.j2"
    PHASES = ("address",)
    description = "addresses to add: {namespace, dev, address, ...}"

    namespace: NsName
    dev: IfName
    address: InterfaceAddress
    peer: Optional[InterfaceAddress] = Field(None, description="point-to-point peer (ip addr add A peer P)")
    nodad: Optional[bool] = Field(None, description="IPv6: skip duplicate address detection (default: "
                                                    "yes, unless the namespace turns DAD on)")
    noprefixroute: bool = Field(False, description="add no prefix route for the address")
    scope: Optional[Literal["host", "link", "global", "site"]] = None
    metric: Optional[U32] = Field(None, description="metric of the prefix route")
    valid_lft: Optional[Lifetime] = Field(None, description="valid lifetime, seconds or forever")
    preferred_lft: Optional[Lifetime] = Field(None, description="preferred lifetime, seconds or forever")
    label: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,15}$")

    @model_validator(mode="after")
    def _consistent(self) -> "Address":
        if self.peer and ip_version(self.peer) != self.version:
            raise ValueError(f"peer {self.peer} and address {self.address} are of different IP versions")
        if self.nodad is not None and self.version == 4:
            raise ValueError("nodad applies to IPv6 addresses only (IPv4 has no DAD)")
        if self.preferred_lft is not None and self.valid_lft is None:
            raise ValueError("preferred_lft needs valid_lft too (ip addr add ... valid_lft V preferred_lft P)")
        return self

    @property
    def version(self) -> int:
        return ip_version(self.address)

    @property
    def ip(self) -> str:
        return str(ipaddress.ip_interface(self.address).ip)

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_interface(self.address).network.prefixlen

    def summary(self) -> str:
        return f"addr add {self.address} dev {self.dev}"

    def references(self):
        yield Ref(("namespace",), self.namespace)
        yield Ref(("dev",), self.namespace, self.dev)


class DeleteAddress(Action):
    """Remove an address from an interface (``ip addr del``)."""

    section = "delete_addresses"
    template = "actions/addresses.sh.j2"
    PHASES = ("delete_address",)
    in_setup = False
    description = "addresses to remove: {namespace, dev, address}"

    namespace: NsName
    dev: IfName
    address: InterfaceAddress

    @property
    def version(self) -> int:
        return ip_version(self.address)

    def summary(self) -> str:
        return f"addr del {self.address} dev {self.dev}"

    def references(self):
        yield Ref(("namespace",), self.namespace)
        yield Ref(("dev",), self.namespace, self.dev)


__all__ = ["Address", "DeleteAddress"]

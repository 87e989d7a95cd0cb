"""``links``: create a link of a kind (``ip link add``), or change one that exists (``ip link set``);
``delete_links``: delete links (a veth's peer goes with it).

Kinds and their settings:

=========  ===========================================================
dummy      (none)
bridge     ``ports``, ``vlan_filtering``
vrf        ``table`` (required), ``ports``
bond       ``mode`` (balance-rr, active-backup, ..., 802.3ad), ``ports``, ``miimon`` (ms)
vlan       ``link`` (the parent, required), ``id`` (required), ``protocol``
macvlan    ``link`` (required), ``mode`` (private, vepa, bridge, passthru, source)
vxlan      ``id`` (the VNI, required), ``remote`` or ``group``, ``local``, ``link``, ``dstport``
veth       ``peer: {namespace, name, mtu, mac, up, addresses}`` (required)
=========  ===========================================================

Without ``kind`` the item changes an existing link: ``up``, ``mtu``, ``mac``, ``master``,
``nomaster``, ``addresses`` (added). A created link is up unless ``up: false``.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from harness.actions.addresses import Address
from harness.actions.base import Action, Declared
from harness.fields import IfName, InterfaceAddress, IpAddress, Mac, Model, Mtu, NsName, Port, Ref, U32, ip_version

LinkKind = Literal["dummy", "bridge", "vrf", "bond", "vlan", "macvlan", "vxlan", "veth"]

# Settings each kind takes (beside namespace, name, kind, up, mtu, mac, master, addresses).
KIND_OPTIONS: dict[Optional[str], tuple[str, ...]] = {
    None: ("nomaster",),
    "dummy": (),
    "bridge": ("ports", "vlan_filtering"),
    "vrf": ("table", "ports"),
    "bond": ("mode", "ports", "miimon"),
    "vlan": ("link", "id", "protocol"),
    "macvlan": ("link", "mode"),
    "vxlan": ("id", "remote", "group", "local", "link", "dstport"),
    "veth": ("peer",),
}
REQUIRED: dict[str, tuple[str, ...]] = {"vrf": ("table",), "vlan": ("link", "id"), "macvlan": ("link",),
                                        "vxlan": ("id",), "veth": ("peer",)}
MODES = {"bond": ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb",
                  "balance-alb"),
         "macvlan": ("private", "vepa", "bridge", "passthru", "source")}
# Links that sit on another link are created once their parent exists.
STACKED = ("vlan", "macvlan")


class Peer(Model):
    """The other end of a veth pair: its namespace and settings."""

    namespace: NsName
    name: IfName
    addresses: list[InterfaceAddress] = Field(default_factory=list)
    mtu: Optional[Mtu] = None
    mac: Optional[Mac] = None
    up: bool = True


class Link(Action):
    """A link to create (``kind`` given) or an existing link to change (no ``kind``)."""

    section = "links"
    template = "actions/links.sh.j2"
    description = "links to create (with kind) or change (without)"

    namespace: NsName
    name: IfName
    kind: Optional[LinkKind] = None
    up: Optional[bool] = Field(None, description="set up (true) or down (false); created links default to up")
    mtu: Optional[Mtu] = None
    mac: Optional[Mac] = None
    master: Optional[IfName] = Field(None, description="enslave to this bridge, bond or VRF")
    nomaster: bool = Field(False, description="release from its master")
    addresses: list[InterfaceAddress] = Field(default_factory=list)
    # kind settings
    ports: list[IfName] = Field(default_factory=list, description="links to enslave (bridge, bond, vrf)")
    table: Optional[U32] = Field(None, description="vrf: its route table")
    link: Optional[IfName] = Field(None, description="vlan, macvlan: the parent link; vxlan: the underlay device")
    id: Optional[int] = Field(None, ge=0, le=16777215, description="vlan: VLAN id (1-4094); vxlan: VNI")
    protocol: Optional[Literal["802.1Q", "802.1ad"]] = None
    mode: Optional[str] = Field(None, description="bond or macvlan mode")
    miimon: Optional[int] = Field(None, ge=0, le=60000, description="bond: link monitoring interval, ms")
    vlan_filtering: Optional[bool] = None
    remote: Optional[IpAddress] = None
    group: Optional[IpAddress] = None
    local: Optional[IpAddress] = None
    dstport: Optional[Port] = None
    peer: Optional[Peer] = None

    @model_validator(mode="after")
    def _consistent(self) -> "Link":
        allowed = KIND_OPTIONS[self.kind]
        kind_name = self.kind or "a change to an existing link (no kind)"
        for key in ("ports", "table", "link", "id", "protocol", "mode", "miimon", "vlan_filtering", "remote",
                    "group", "local", "dstport", "peer", "nomaster"):
            value = getattr(self, key)
            if value not in (None, [], False) and key not in allowed:
                raise ValueError(f"'{key}' does not apply to {kind_name}"
                                 + (f": {self.kind} takes {', '.join(allowed)}" if self.kind and allowed else ""))
        for key in REQUIRED.get(self.kind or "", ()):
            if getattr(self, key) is None:
                raise ValueError(f"a {self.kind} link needs '{key}'")
        if self.mode is not None and self.mode not in MODES.get(self.kind or "", ()):
            raise ValueError(f"mode {self.mode!r}: a {self.kind} takes one of {', '.join(MODES[self.kind])}")
        if self.kind == "vlan" and not 1 <= self.id <= 4094:
            raise ValueError(f"VLAN id {self.id} is out of range: use 1-4094")
        if self.kind == "vrf" and self.table in (0, 253, 254, 255):
            raise ValueError(f"table {self.table} is reserved (unspec/default/main/local): pick another number")
        if self.remote and self.group:
            raise ValueError("a vxlan has a remote or a group, not both")
        if self.master and self.nomaster:
            raise ValueError("give master or nomaster, not both")
        if self.kind is None and self.up is None and not (self.mtu or self.mac or self.master or self.nomaster
                                                            or self.addresses):
            raise ValueError("say what to change: up, mtu, mac, master, nomaster or addresses "
                             "(or give 'kind' to create a link)")
        if self.expect_error and (self.addresses or (self.peer and self.peer.addresses)):
            raise ValueError("a change the kernel must refuse cannot also add addresses: add them in a later step")
        return self

    @property
    def created(self) -> bool:
        return self.kind is not None

    @property
    def is_up(self) -> Optional[bool]:
        """True/False to set the link up/down, None to leave it."""
        return (True if self.up is None else self.up) if self.created else self.up

    def phases(self) -> tuple[str, ...]:
        if not self.created:
            return ("attach", "link") if (self.master or self.nomaster) else ("link",)
        first = "create_stacked" if self.kind in STACKED or (self.kind == "vxlan" and self.link) else "create"
        return (first, "attach", "link")

    def summary(self) -> str:
        if self.created:
            return f"link add {self.name} type {self.kind}" + (f" peer {self.peer.name}" if self.peer else "")
        words = [f"link set {self.name}"] + ([f"mtu {self.mtu}"] if self.mtu else [])
        words += [f"master {self.master}"] if self.master else []
        words += ["nomaster"] if self.nomaster else []
        words += [{True: "up", False: "down"}[self.up]] if self.up is not None else []
        return " ".join(words)

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if not self.created:
            yield Ref(("name",), self.namespace, self.name)
        if self.master:
            yield Ref(("master",), self.namespace, self.master)
        if self.link and self.kind != "vxlan":
            yield Ref(("link",), self.namespace, self.link)
        elif self.link:
            yield Ref(("link",), self.namespace, self.link)
        for i, port in enumerate(self.ports):
            yield Ref(("ports", i), self.namespace, port)
        if self.peer:
            yield Ref(("peer", "namespace"), self.peer.namespace)

    def declares(self):
        if self.created:
            yield Declared(("name",), self.namespace, self.name, self.kind)
        if self.peer:
            yield Declared(("peer", "name"), self.peer.namespace, self.peer.name, "veth")

    def derived(self):
        out = [(("addresses", i), Address(namespace=self.namespace, dev=self.name, address=a))
               for i, a in enumerate(self.addresses)]
        if self.peer:
            out += [(("peer", "addresses", i), Address(namespace=self.peer.namespace, dev=self.peer.name, address=a))
                    for i, a in enumerate(self.peer.addresses)]
        return out

    def features(self) -> tuple[str, ...]:
        return (self.kind,) if self.kind else ()

    def enslaved(self) -> list[tuple[str, str]]:
        """``(port, master)`` pairs this item makes, in its namespace."""
        pairs = [(port, self.name) for port in self.ports]
        return pairs + ([(self.name, self.master)] if self.master else [])

    @property
    def vxlan_family(self) -> int:
        for value in (self.remote, self.group, self.local):
            if value:
                return ip_version(value)
        return 4


class DeleteLink(Action):
    """Delete a link (``ip link del``); deleting one end of a veth pair deletes both."""

    section = "delete_links"
    template = "actions/links.sh.j2"
    PHASES = ("delete_link",)
    in_setup = False
    description = "links to delete: {namespace, name}"

    namespace: NsName
    name: IfName

    def summary(self) -> str:
        return f"link del {self.name}"

    def references(self):
        yield Ref(("namespace",), self.namespace)
        yield Ref(("name",), self.namespace, self.name)

"""``sysctls`` in a step: ``{namespace: {net.key: value}}``, written with ``sysctl -w``.

A key of one interface (``net.ipv4.conf.eth0.rp_filter``, ``net.ipv6.neigh.eth0.*``) is
applied after the step's links exist, in slash form (``net/ipv4/conf/eth0.100/rp_filter``) so
that interface names with dots work.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from harness.actions.base import Action
from harness.fields import NsName, Ref, SysctlKey, SysctlValue

_PER_INTERFACE = re.compile(r"net\.(ipv4|ipv6|mpls)\.(conf|neigh)\.(?P<ifname>.+)\.[A-Za-z0-9_-]+")


def interface_of(key: str) -> Optional[str]:
    """The interface a per-interface sysctl key names (``eth0`` for ``net.ipv4.conf.eth0.rp_filter``),
    None for namespace-wide keys (``all``, ``default``, ``net.ipv4.ip_forward``)."""
    found = _PER_INTERFACE.fullmatch(key)
    if not found or found["ifname"] in ("all", "default"):
        return None
    return found["ifname"]


def slash_key(key: str) -> str:
    """``net.ipv4.conf.eth0.100.rp_filter`` -> ``net/ipv4/conf/eth0.100/rp_filter`` (sysctl(8) reads both)."""
    found = _PER_INTERFACE.fullmatch(key)
    if not found:
        return key.replace(".", "/")
    head = key[:found.start("ifname")].rstrip(".").replace(".", "/")
    tail = key[found.end("ifname"):].lstrip(".")
    return f"{head}/{found['ifname']}/{tail}"


class Sysctl(Action):
    """One sysctl in one namespace."""

    template = "actions/sysctls.sh.j2"

    namespace: NsName
    key: SysctlKey
    value: SysctlValue

    @property
    def interface(self) -> Optional[str]:
        return interface_of(self.key)

    def phases(self) -> tuple[str, ...]:
        return ("if_sysctl",) if self.interface else ("sysctl",)

    def summary(self) -> str:
        return f"sysctl {self.key}={self.value}"

    def references(self):
        # Errors point at the key: in YAML the namespace is the key's parent mapping.
        yield Ref((), self.namespace)
        if self.interface:
            yield Ref((), self.namespace, self.interface)


class Sysctls(Action):
    """The ``sysctls`` section of a step: ``{namespace: {key: value}}``."""

    section = "sysctls"
    in_setup = False  # at the top level, sysctls belong to their namespace
    description = "sysctls to write: NAMESPACE: {net.KEY: VALUE}"

    @classmethod
    def section_type(cls) -> Any:
        return dict[NsName, dict[SysctlKey, SysctlValue]]

    @classmethod
    def section_items(cls, value: Any) -> list[tuple[tuple, Action]]:
        return [((ns, key), Sysctl(namespace=ns, key=key, value=setting))
                for ns, settings in value.items() for key, setting in (settings or {}).items()]

"""``namespaces`` (create, with loopback and sysctls) and ``delete_namespaces``.

Every namespace is named ``nh<run id>-<name>`` on the target. Before its own sysctls it gets
the scenario's ``defaults.sysctls`` (the harness's: ``net.ipv4.ip_forward: 0``, since a new
namespace would otherwise inherit IPv4 settings from the host's). Sysctls of one interface
(``net.ipv4.conf.eth0.rp_filter``) are applied once the namespace's links exist.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from harness.actions.base import Action
from harness.actions.sysctls import Sysctl, interface_of
from harness.fields import NsName, Ref, SysctlKey, SysctlValue


class Namespace(Action):
    """A network namespace: ``lo`` up unless ``loopback: false``, and its sysctls (``net.*`` keys)."""

    section = "namespaces"
    description = "namespaces to create: NAME: {loopback, sysctls}"

    loopback: bool = Field(True, description="bring lo up (a new namespace's lo is down)")
    sysctls: dict[SysctlKey, SysctlValue] = Field(default_factory=dict)

    @classmethod
    def section_type(cls) -> Any:
        return dict[NsName, Optional[cls]]

    @classmethod
    def section_items(cls, value: Any) -> list[tuple[tuple, Action]]:
        # "client:" with nothing after it in YAML reads as None: defaults.
        return [((name,), NewNamespace(name=name, **(spec or cls()).model_dump(exclude_unset=True)))
                for name, spec in value.items()]


class NewNamespace(Namespace):
    """A namespace with its name: what ``namespaces`` sections turn into."""

    section = ""
    template = "actions/namespaces.sh.j2"
    # lo comes up with the other links (phase "link"), after the namespace's sysctls: the set-up of
    # one namespace then shares one ``ip -n NS -batch`` with its links and addresses.
    PHASES = ("namespace", "sysctl", "link")

    name: NsName

    def summary(self) -> str:
        return f"netns add {self.name}"

    def references(self):
        for key in self.sysctls:
            ifname = interface_of(key)
            if ifname:
                yield Ref(("sysctls", key), self.name, ifname)

    def namespaces_created(self) -> list[str]:
        return [self.name]

    def global_sysctls(self) -> dict[str, str]:
        """The namespace's own sysctls that name no interface (applied right after it is made)."""
        return {k: v for k, v in self.sysctls.items() if not interface_of(k)}

    def derived(self) -> list[tuple[tuple, Action]]:
        return [(("sysctls", key), Sysctl(namespace=self.name, key=key, value=value))
                for key, value in self.sysctls.items() if interface_of(key)]


class DeleteNamespace(Action):
    """Delete a namespace (and every link in it); processes still running in it are stopped."""

    section = "delete_namespaces"
    template = "actions/namespaces.sh.j2"
    PHASES = ("delete_namespace",)
    in_setup = False
    description = "names of namespaces to delete"

    name: NsName

    @classmethod
    def section_type(cls) -> Any:
        return list[NsName]

    @classmethod
    def section_items(cls, value: Any) -> list[tuple[tuple, Action]]:
        return [((i,), cls(name=name)) for i, name in enumerate(value)]

    def summary(self) -> str:
        return f"netns del {self.name}"

    def references(self):
        yield Ref((), self.name)

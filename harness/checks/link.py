"""``link``: a link exists (or not) with the given state, MTU, kind, master and MAC.

Reads ``ip -d -json link show dev NAME`` (iproute2 4.15+ JSON: ``flags`` list with ``UP`` and
``LOWER_UP``, ``operstate``, ``mtu``, ``address``, ``master``, ``linkinfo.info_kind``). A link
that does not exist (``Device "X" does not exist.``, exit 1) is absent.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import Field

from harness.checks.base import FAIL, PASS, JsonListingCheck, Ref, Verdict, ere_escape
from harness.fields import IfName, Mac, Mtu, NsName, described
from harness.protocol import CheckOutput

NO_DEVICE = r"does not exist|Cannot find device"
Operstate = Literal["UP", "DOWN", "LOWERLAYERDOWN", "UNKNOWN", "DORMANT", "NOTPRESENT", "TESTING"]


class LinkCheck(JsonListingCheck):
    """Link ``name`` in ``namespace``: present (with every field given) or absent."""

    kind = "link"
    no_device_pattern: ClassVar[str] = NO_DEVICE
    tool = "ip link show"
    gone = NO_DEVICE

    namespace: NsName
    name: IfName
    expect: Literal["present", "absent"] = "present"
    up: Optional[bool] = Field(None, description="administratively up (the UP flag)")
    carrier: Optional[bool] = Field(None, description="has carrier (the LOWER_UP flag)")
    operstate: Optional[Operstate] = None
    mtu: Optional[Mtu] = None
    kind_: Optional[str] = Field(None, alias="kind",
                                 pattern=described(r"^[a-z0-9_]{1,16}$", "1-16 lowercase letters, digits or '_'"),
                                 description="link type: veth, dummy, bridge, vrf, vlan, ...")
    master: Optional[IfName] = None
    mac: Optional[Mac] = None

    def references(self):
        yield Ref(("namespace",), self.namespace)

    def title(self) -> str:
        words = [f"link {self.namespace} {self.name}"]
        words += [{True: "up", False: "down"}[self.up]] if self.up is not None else []
        words += [f"carrier {'on' if self.carrier else 'off'}"] if self.carrier is not None else []
        for key, value in (("state", self.operstate), ("mtu", self.mtu), ("kind", self.kind_),
                           ("master", self.master), ("mac", self.mac)):
            words += [f"{key} {value}"] if value is not None else []
        return " ".join(words + [self.expect])

    def expected(self) -> dict[str, Any]:
        return self.model_dump(exclude={"namespace"}, exclude_none=True, by_alias=True)


    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        links, error = self.listing(output)
        if error:
            return error
        if not links:
            observed: dict[str, Any] = {"present": False}
            if self.expect == "absent":
                return Verdict(PASS, expected, observed)
            return Verdict(FAIL, expected, observed, f"no link {self.name} in namespace {self.namespace}")
        link = links[0]
        flags = link.get("flags", [])
        observed = {"present": True, "up": "UP" in flags, "carrier": "LOWER_UP" in flags,
                    "operstate": link.get("operstate"), "mtu": link.get("mtu"),
                    "kind": (link.get("linkinfo") or {}).get("info_kind"), "master": link.get("master"),
                    "mac": link.get("address")}
        wanted = {"up": self.up, "carrier": self.carrier, "operstate": self.operstate, "mtu": self.mtu,
                  "kind": self.kind_, "master": self.master, "mac": self.mac}
        wrong = [k for k, v in wanted.items() if v is not None and observed[k] != v]
        return self.settings_verdict(expected, observed, wanted, wrong, f"link {self.name}")

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        if not observed.get("present"):
            return "absent"
        return f"{observed.get('operstate')}, mtu {observed.get('mtu')}" + (
            f", {observed['kind']}" if observed.get("kind") else "")

    def record_patterns(self) -> list[str]:
        """What the link's JSON record must look like: ``+ERE`` / ``-ERE``."""
        out = []
        flag = lambda name: r'"flags":\[[^]]*"' + name + '"'  # noqa: E731
        if self.up is not None:
            out.append(("+" if self.up else "-") + flag("UP"))
        if self.carrier is not None:
            out.append(("+" if self.carrier else "-") + flag("LOWER_UP"))
        if self.operstate:
            out.append(f'+"operstate":"{self.operstate}"')
        if self.mtu:
            out.append(f'+"mtu":{self.mtu}[,}}]')
        if self.kind_:
            out.append(f'+"info_kind":"{ere_escape(self.kind_)}"')
        if self.master:
            out.append(f'+"master":"{ere_escape(self.master)}"')
        if self.mac:
            out.append(f'+"address":"{ere_escape(self.mac)}"')
        return out

"""``address``: an address is on a link (or in the namespace) with the given flags and scope, or not.

Reads ``ip -json addr show [dev NAME]`` (iproute2 4.15+ JSON: per link an ``addr_info`` list of
``{"family", "local", "prefixlen", "scope", "tentative": true, "dadfailed": true,
"deprecated": true, "noprefixroute": true, ...}``). A flag not printed is false. A link that
does not exist holds no address.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar, Literal, Optional

from pydantic import Field, field_validator

from harness.checks.base import FAIL, PASS, JsonListingCheck, Ref, Verdict, ere_escape
from harness.fields import IfName, NsName, _interface_address, _ip
from harness.protocol import CheckOutput

NO_DEVICE = r"does not exist|Cannot find device"
FLAGS = ("tentative", "dadfailed", "deprecated", "noprefixroute")


class AddressCheck(JsonListingCheck):
    """``address`` (``10.0.0.1`` or ``10.0.0.1/24``: then the prefix length must match too) in
    ``namespace`` (on ``dev``, if given): present with every flag given, or absent."""

    kind = "address"
    no_device_pattern: ClassVar[str] = NO_DEVICE
    tool = "ip addr show"
    gone = NO_DEVICE

    namespace: NsName
    address: str
    dev: Optional[IfName] = None
    expect: Literal["present", "absent"] = "present"
    tentative: Optional[bool] = Field(None, description="DAD has not finished (IPv6)")
    dadfailed: Optional[bool] = Field(None, description="DAD found a duplicate (IPv6)")
    deprecated: Optional[bool] = Field(None, description="preferred lifetime is over")
    noprefixroute: Optional[bool] = None
    scope: Optional[Literal["global", "link", "host", "site"]] = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return (_interface_address if "/" in value else _ip)(value)

    @property
    def ip(self) -> str:
        return str(ipaddress.ip_interface(self.address).ip)

    @property
    def prefixlen(self) -> Optional[int]:
        return ipaddress.ip_interface(self.address).network.prefixlen if "/" in self.address else None

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if self.dev:
            yield Ref(("dev",), self.namespace, self.dev)

    def title(self) -> str:
        words = [f"address {self.namespace} {self.address}"] + ([f"dev {self.dev}"] if self.dev else [])
        words += [flag if getattr(self, flag) else f"not {flag}" for flag in FLAGS if getattr(self, flag) is not None]
        words += [f"scope {self.scope}"] if self.scope else []
        return " ".join(words + [self.expect])


    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        links, error = self.listing(output)
        if error:
            return error
        found = [dict(a, dev=link.get("ifname")) for link in links for a in link.get("addr_info", [])
                 if a.get("local") == self.ip and (self.prefixlen is None or a.get("prefixlen") == self.prefixlen)]
        wanted = {flag: getattr(self, flag) for flag in FLAGS + ("scope",) if getattr(self, flag) is not None}
        entries = [{"dev": a["dev"], "prefixlen": a.get("prefixlen"), "scope": a.get("scope"),
                    **{flag: bool(a.get(flag)) for flag in FLAGS}} for a in found]
        holding = [e for e in entries if all(e[k] == v for k, v in wanted.items())]
        observed: dict[str, Any] = {"present": bool(found)}
        if entries:
            observed.update(holding[0] if holding else entries[0])
            if len(entries) > 1:
                observed["on"] = [e["dev"] for e in entries]
        if self.expect == "absent":
            if holding:
                return Verdict(FAIL, expected, observed, f"{self.address} is present on {holding[0]['dev']}")
            return Verdict(PASS, expected, observed)
        if not found:
            return Verdict(FAIL, expected, observed, f"no address {self.address}"
                           + (f" on {self.dev}" if self.dev else f" in namespace {self.namespace}"))
        if not holding:
            return Verdict(FAIL, expected, observed, "the address differs: " + ", ".join(
                f"{k} {entries[0][k]} (expected {v})" for k, v in wanted.items() if entries[0][k] != v))
        return Verdict(PASS, expected, observed)

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        if not observed.get("present"):
            return "absent"
        flags = [f for f in FLAGS if observed.get(f)]
        return f"on {observed.get('dev')}, scope {observed.get('scope')}" + (f", {' '.join(flags)}" if flags else "")

    def record_patterns(self) -> list[str]:
        """What the address's JSON record (an ``addr_info`` entry) must look like: ``+ERE`` / ``-ERE``."""
        out = [f'+"local":"{ere_escape(self.ip)}"']
        if self.prefixlen is not None:
            out.append(f'+"prefixlen":{self.prefixlen}[,}}]')
        for flag in FLAGS:
            value = getattr(self, flag)
            if value is not None:
                out.append(("+" if value else "-") + f'"{flag}":true')
        if self.scope:
            out.append(f'+"scope":"{self.scope}"')
        return out

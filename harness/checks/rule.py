"""``rule``: a policy routing rule with the given selectors and action is present (or absent).

Reads ``ip -json rule show`` (iproute2 4.15+ JSON: ``{"priority", "src", "srclen", "dst",
"dstlen", "fwmark": "0x7", "fwmask", "iif", "oif", "tos": "0x10", "ipproto", "sport" |
"sport_start"/"sport_end", "dport" ..., "uid_start"/"uid_end", "table": "100", "l3mdev": null,
"goto", "action": "unreachable", "suppress_prefixlen", "not": null}``; a key set to null means
the flag is on; a host prefix has no ``srclen``/``dstlen``).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal, Optional

from pydantic import model_validator

from harness.actions.rules import RuleFields
from harness.checks.base import FAIL, PASS, JsonListingCheck, Verdict, ere_escape
from harness.protocol import CheckOutput


def _prefix(address: Optional[str], length: Optional[int]) -> str:
    """``("10.1.0.0", 24)`` -> ``10.1.0.0/24``; a missing length is the host length."""
    if address in (None, "all"):
        return "all"
    net = ipaddress.ip_network(address)
    return str(ipaddress.ip_network(f"{address}/{length if length is not None else net.max_prefixlen}"))


def _wanted(selector: str) -> str:
    return "all" if selector == "all" else str(ipaddress.ip_network(selector, strict=False))


def _range(rule: dict, key: str) -> Optional[str]:
    if key in rule:
        return str(rule[key])
    if f"{key}_start" in rule:
        low, high = rule[f"{key}_start"], rule[f"{key}_end"]
        return str(low) if low == high else f"{low}-{high}"
    return None


def _same_range(want: str, got: Optional[str]) -> bool:
    if got is None:
        return False
    norm = lambda text: tuple(int(x) for x in (text.split("-") * 2)[:2])  # noqa: E731
    return norm(want) == norm(got)


class RuleCheck(RuleFields, JsonListingCheck):
    """A rule matching every field given is in the namespace's rule list (``expect: present``) or none is."""

    kind = "rule"
    tool = "ip rule show"

    expect: Literal["present", "absent"] = "present"

    @model_validator(mode="after")
    def _consistent(self) -> "RuleCheck":
        self._check()
        return self

    @property
    def where(self) -> str:
        return self.namespace

    def title(self) -> str:
        return "rule " + self.namespace + " " + " ".join(self.words()) + f" {self.expect}"

    def expected(self) -> dict[str, Any]:
        return self.model_dump(exclude={"namespace", "ipv6"}, exclude_none=True,
                               exclude_defaults=True, by_alias=True) | {"expect": self.expect}


    def _matches(self, rule: dict) -> bool:
        mark = lambda v: None if v is None else int(str(v), 0)  # noqa: E731
        checks = [
            self.priority is None or rule.get("priority") == self.priority,
            self.not_ == ("not" in rule),
            self.from_ is None or _prefix(rule.get("src"), rule.get("srclen")) == _wanted(self.from_),
            self.to is None or _prefix(rule.get("dst"), rule.get("dstlen")) == _wanted(self.to),
            self.fwmark is None or mark(rule.get("fwmark")) == mark(self.fwmark),
            self.fwmask is None or mark(rule.get("fwmask", "0xffffffff")) == mark(self.fwmask),
            self.iif is None or rule.get("iif") == self.iif,
            self.oif is None or rule.get("oif") == self.oif,
            self.tos is None or mark(rule.get("tos")) == self.tos,
            self.ipproto is None or rule.get("ipproto") == self.ipproto,
            self.sport is None or _same_range(self.sport, _range(rule, "sport")),
            self.dport is None or _same_range(self.dport, _range(rule, "dport")),
            self.uidrange is None or _same_range(self.uidrange, _range(rule, "uid")),
            self.table is None or str(rule.get("table")) == str(self.table),
            not self.l3mdev or "l3mdev" in rule,
            self.goto is None or rule.get("goto") == self.goto,
            self.action is None or rule.get("action") == self.action,
            self.suppress_prefixlength is None or rule.get("suppress_prefixlen") == self.suppress_prefixlength,
        ]
        return all(checks)

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        rules, error = self.listing(output)
        if error:
            return error
        matching = [r for r in rules if self._matches(r)]
        observed: dict[str, Any] = {"matching": matching[:3], "rules": len(rules)}
        if self.priority is not None:
            observed["at_priority"] = [r for r in rules if r.get("priority") == self.priority]
        if self.expect == "present" and not matching:
            return Verdict(FAIL, expected, observed, "no rule with the expected selectors and action")
        if self.expect == "absent" and matching:
            return Verdict(FAIL, expected, observed, f"a matching rule is present (priority {matching[0].get('priority')})")
        return Verdict(PASS, expected, observed)

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        found = observed.get("matching") or []
        return f"priority {found[0].get('priority')}" if found else "absent"

    def record_patterns(self) -> list[str]:
        """What the rule's JSON record must look like: ``+ERE`` / ``-ERE`` (the screen's view)."""
        esc = ere_escape
        out = []
        if self.priority is not None:
            out.append(f'+"priority":{self.priority}[,}}]')
        out.append(('+' if self.not_ else '-') + '"not":')
        for key, value, length_key in (("src", self.from_, "srclen"), ("dst", self.to, "dstlen")):
            if value is None:
                continue
            if value == "all":
                out.append(f'+"{key}":"all"' if key == "src" else f'-"{key}":')
                continue
            net = ipaddress.ip_network(value, strict=False)
            out.append(f'+"{key}":"{esc(str(net.network_address))}"')
            if net.prefixlen == net.max_prefixlen:
                out.append(f'-"{length_key}":')
            else:
                out.append(f'+"{length_key}":{net.prefixlen}[,}}]')
        if self.fwmark is not None:
            out.append(f'+"fwmark":"{hex(int(str(self.fwmark), 0))}"')
        if self.fwmask is not None:
            out.append(f'+"fwmask":"{hex(int(str(self.fwmask), 0))}"')
        for key in ("iif", "oif", "ipproto", "action"):
            if getattr(self, key):
                out.append(f'+"{key}":"{esc(str(getattr(self, key)))}"')
        if self.tos is not None:
            out.append(f'+"tos":"0x{self.tos:02x}"')  # iproute2 prints two hex digits: 0x08
        for key, value in (("sport", self.sport), ("dport", self.dport), ("uid", self.uidrange)):
            if value is None:
                continue
            low, high = (value.split("-") * 2)[:2]
            out.append(f'+"{key}":{low}[,}}]' if low == high and key != "uid"
                       else f'+"{key}_start":{low},"{key}_end":{high}[,}}]')
        if self.table is not None:
            out.append(f'+"table":"{esc(str(self.table))}"')
        if self.l3mdev:
            out.append('+"l3mdev":')
        if self.goto is not None:
            out.append(f'+"goto":{self.goto}[,}}]')
        if self.suppress_prefixlength is not None:
            out.append(f'+"suppress_prefixlen":{self.suppress_prefixlength}[,}}]')
        return out

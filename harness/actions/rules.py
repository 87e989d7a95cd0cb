"""``rules`` (``ip rule add``) and ``delete_rules`` (``ip rule del``): policy routing.

A rule selects packets (``from``, ``to``, ``fwmark``/``fwmask``, ``iif``, ``oif``, ``tos``,
``ipproto``, ``sport``, ``dport``, ``uidrange``, ``not``) and says what to do with them:
``table`` (lookup), ``l3mdev`` (the VRF's table), ``goto`` another rule, or an ``action``
(unreachable, prohibit, blackhole); ``suppress_prefixlength`` ignores routes of that prefix
length or shorter from the table.
"""

from __future__ import annotations

import re
from typing import Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from harness.actions.base import Action
from harness.fields import IfName, Model, NsName, Ref, Selector, Table, U32, U8, ip_version

PortRange = Union[int, str]


def _range(value: Union[int, str, None], high: int, what: str) -> Optional[str]:
    """``80`` or ``"1000-2000"`` -> ``"80"`` / ``"1000-2000"``, checked against ``high``."""
    if value is None:
        return None
    found = re.fullmatch(r"(\d+)(?:-(\d+))?", str(value))
    if not found or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a {what} or a range such as 1000-2000")
    low, top = int(found[1]), int(found[2] or found[1])
    if not 0 <= low <= top <= high:
        raise ValueError(f"{value!r}: a {what} range is 0-{high}, low end first")
    return str(value)


class RuleFields(Model):
    """A policy routing rule's selectors and action (shared by add, delete and the rule check)."""

    namespace: NsName
    priority: Optional[U32] = Field(None, description="rule preference (ip rule ... pref N)")
    not_: bool = Field(False, alias="not", description="invert the selectors")
    from_: Optional[Selector] = Field(None, alias="from", description="source address or prefix, or all")
    to: Optional[Selector] = None
    fwmark: Optional[Union[U32, str]] = Field(None, description="firewall mark, e.g. 7 or 0x7")
    fwmask: Optional[Union[U32, str]] = Field(None, description="mask for fwmark, e.g. 0xff")
    iif: Optional[IfName] = None
    oif: Optional[IfName] = None
    tos: Optional[U8] = None
    ipproto: Optional[Literal["tcp", "udp", "icmp", "ipv6-icmp", "sctp"]] = None
    sport: Optional[PortRange] = None
    dport: Optional[PortRange] = None
    uidrange: Optional[str] = Field(None, description="user ids, e.g. 1000-1000")
    table: Optional[Table] = Field(None, description="look up this route table")
    l3mdev: bool = Field(False, description="look up the table of the VRF the packet is in")
    goto: Optional[U32] = Field(None, description="continue at the rule with this priority")
    action: Optional[Literal["unreachable", "prohibit", "blackhole"]] = None
    suppress_prefixlength: Optional[int] = Field(None, ge=0, le=128)
    ipv6: Optional[bool] = Field(None, description="IPv6 rule; default: from from/to, else IPv4")

    @field_validator("fwmark", "fwmask")
    @classmethod
    def _mark(cls, value):
        if isinstance(value, str):
            if not re.fullmatch(r"0x[0-9a-fA-F]{1,8}|\d{1,10}", value) or int(value, 0) > 2**32 - 1:
                raise ValueError(f"{value!r} is not a 32-bit mark such as 7 or 0x7")
        return value

    @field_validator("sport", "dport")
    @classmethod
    def _ports(cls, value):
        return _range(value, 65535, "port")

    @field_validator("uidrange")
    @classmethod
    def _uids(cls, value):
        if value is not None and "-" not in value:
            raise ValueError(f"{value!r}: write a uid range such as 1000-1000")
        return _range(value, 2**32 - 1, "uid")

    def _check(self) -> None:
        if self.fwmask is not None and self.fwmark is None:
            raise ValueError("fwmask needs fwmark")
        if (self.sport or self.dport) and self.ipproto not in ("tcp", "udp", "sctp"):
            raise ValueError("sport/dport need ipproto: tcp, udp or sctp")
        versions = {ip_version(v) for v in (self.from_, self.to) if v and v != "all"}
        if len(versions) > 1:
            raise ValueError("from and to are of different IP versions")
        if versions and self.ipv6 is not None and (6 in versions) != self.ipv6:
            raise ValueError(f"ipv6: {str(self.ipv6).lower()} contradicts from/to")

    @property
    def version(self) -> int:
        if self.ipv6 is not None:
            return 6 if self.ipv6 else 4
        for value in (self.from_, self.to):
            if value and value != "all":
                return ip_version(value)
        return 4

    @property
    def mark_word(self) -> Optional[str]:
        """``fwmark`` as iproute2 takes it: ``0x7`` or ``0x7/0xff``."""
        if self.fwmark is None:
            return None
        mark = hex(int(str(self.fwmark), 0))
        return mark + (f"/{hex(int(str(self.fwmask), 0))}" if self.fwmask is not None else "")

    def words(self) -> list[str]:
        """The rule in ``ip rule`` arguments, selectors then action."""
        out = ["not"] if self.not_ else []
        # iproute2 reads a TOS as hex whatever its form ("tos 16" is 0x16): write it as 0x10.
        tos = None if self.tos is None else f"0x{self.tos:02x}"
        pairs = [("pref", self.priority), ("from", self.from_), ("to", self.to), ("tos", tos),
                 ("fwmark", self.mark_word), ("iif", self.iif), ("oif", self.oif), ("uidrange", self.uidrange),
                 ("ipproto", self.ipproto), ("sport", self.sport), ("dport", self.dport)]
        out += [str(w) for k, v in pairs if v is not None for w in (k, v)]
        out += ["l3mdev"] if self.l3mdev else []
        out += ["lookup", str(self.table)] if self.table is not None else []
        out += ["goto", str(self.goto)] if self.goto is not None else []
        out += [self.action] if self.action else []
        out += ["suppress_prefixlength", str(self.suppress_prefixlength)] if self.suppress_prefixlength is not None else []
        return out

    def references(self):
        yield Ref(("namespace",), self.namespace)
        for key in ("iif", "oif"):
            if getattr(self, key):
                yield Ref((key,), self.namespace, getattr(self, key))


class Rule(RuleFields, Action):
    """A rule to add: selectors, then ``table``, ``l3mdev``, ``goto`` or ``action``."""

    section = "rules"
    template = "actions/rules.sh.j2"
    PHASES = ("rule",)
    description = "policy routing rules: {namespace, priority, from, to, fwmark, ..., table}"

    @model_validator(mode="after")
    def _consistent(self) -> "Rule":
        self._check()
        actions = [k for k in ("table", "l3mdev", "goto", "action") if getattr(self, k) not in (None, False)]
        if len(actions) != 1:
            raise ValueError("a rule does one thing: give one of table, l3mdev, goto, action"
                             + (f" (found {' and '.join(actions)})" if actions else ""))
        return self

    def summary(self) -> str:
        return "rule add " + " ".join(self.words())


class DeleteRule(RuleFields, Action):
    """A rule to delete: the first rule matching what is given (``ip rule del``)."""

    section = "delete_rules"
    template = "actions/rules.sh.j2"
    PHASES = ("delete_rule",)
    in_setup = False
    description = "policy routing rules to delete: the selectors of ip rule del"

    @model_validator(mode="after")
    def _consistent(self) -> "DeleteRule":
        self._check()
        return self

    def summary(self) -> str:
        return "rule del " + " ".join(self.words())

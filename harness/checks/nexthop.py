"""``nexthop``: a nexthop object is present (or absent) with its next hop, device, group and flags.

Reads ``ip -json nexthop show id N`` (iproute2 5.3+ JSON: ``{"id", "gateway", "dev", "scope",
"blackhole": null, "group": [{"id", "weight"}], "type": "resilient", "flags": [...]}``; a key
set to null means the flag is on). A nexthop that does not exist (``Error: Nexthop not
found``, exit 2) is absent.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from harness.actions.nexthops import GroupMember
from harness.checks.base import FAIL, PASS, JsonListingCheck, Ref, Verdict
from harness.fields import IfName, IpAddress, NsName, U32
from harness.protocol import CheckOutput

NOT_FOUND = r"Nexthop not found|No such file or directory"


class NexthopCheck(JsonListingCheck):
    """Nexthop object ``id`` in ``namespace``: present with every field given, or absent."""

    kind = "nexthop"
    tool = "ip nexthop show"
    gone = NOT_FOUND

    namespace: NsName
    id: U32
    expect: Literal["present", "absent"] = "present"
    via: Optional[IpAddress] = None
    dev: Optional[IfName] = None
    blackhole: Optional[bool] = None
    group: Optional[list[GroupMember]] = Field(None, description="the group's members (ids and weights), in order")
    type: Optional[Literal["mpath", "resilient"]] = None
    flags: list[str] = Field(default_factory=list, description="flags it carries, e.g. [onlink]")

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if self.dev:
            yield Ref(("dev",), self.namespace, self.dev)

    def title(self) -> str:
        words = [f"nexthop {self.namespace} id {self.id}"]
        words += [f"via {self.via}"] if self.via else []
        words += [f"dev {self.dev}"] if self.dev else []
        words += ["blackhole"] if self.blackhole else []
        words += ["group " + "/".join(f"{m.id},{m.weight}" if m.weight else str(m.id) for m in self.group)] \
            if self.group else []
        return " ".join(words + self.flags + [self.expect])


    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        found, error = self.listing(output)
        if error:
            return error
        found = [n for n in found if n.get("id") == self.id]
        if not found:
            observed: dict[str, Any] = {"present": False}
            if self.expect == "absent":
                return Verdict(PASS, expected, observed)
            return Verdict(FAIL, expected, observed, f"no nexthop with id {self.id}")
        nh = found[0]
        observed = {"present": True, "via": nh.get("gateway"), "dev": nh.get("dev"), "blackhole": "blackhole" in nh,
                    "group": [{"id": m["id"], "weight": m.get("weight", 1)} for m in nh.get("group", [])] or None,
                    "type": nh.get("type", "mpath") if "group" in nh else None, "flags": nh.get("flags", [])}
        wanted = {"via": self.via, "dev": self.dev, "blackhole": self.blackhole, "type": self.type,
                  "group": [{"id": m.id, "weight": m.weight or 1} for m in self.group] if self.group else None}
        wrong = [k for k, v in wanted.items() if v is not None and observed[k] != v]
        wrong += ["flags"] if not set(self.flags) <= set(observed["flags"]) else []
        return self.settings_verdict(expected, observed, {**wanted, "flags": self.flags}, wrong, f"nexthop {self.id}")

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        if not observed.get("present"):
            return "absent"
        return " ".join(filter(None, [observed.get("via") and f"via {observed['via']}",
                                      observed.get("dev") and f"dev {observed['dev']}",
                                      observed.get("blackhole") and "blackhole",
                                      observed.get("group") and f"group of {len(observed['group'])}"]))

    def record_patterns(self) -> list[str]:
        """What the nexthop's JSON record must look like: ``+ERE`` / ``-ERE``."""
        from harness.checks.base import ere_escape

        out = [f'+^\\{{"id":{self.id}[,}}]']  # iproute2 prints the id first
        if self.via:
            out.append(f'+"gateway":"{ere_escape(self.via)}"')
        if self.dev:
            out.append(f'+"dev":"{ere_escape(self.dev)}"')
        if self.blackhole is not None:
            out.append(("+" if self.blackhole else "-") + '"blackhole":')
        if self.group:
            members = ",".join(f'\\{{"id":{m.id}' + (f',"weight":{m.weight}' if m.weight and m.weight != 1 else "")
                               + "\\}" for m in self.group)
            out.append(f'+"group":\\[{members}\\]')
        if self.type == "resilient":
            out.append('+"type":"resilient"')
        elif self.type == "mpath":
            out.append('-"type":"resilient"')
        for flag in self.flags:
            out.append(r'+"flags":\[[^]]*"' + ere_escape(flag) + '"')
        return out

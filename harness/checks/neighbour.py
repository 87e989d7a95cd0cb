"""``neighbour``: an ARP/NDP entry is in a namespace's neighbour table (or not), with its state and
link-layer address.

Reads ``ip -json neigh show [to ADDR] [dev DEV]`` (iproute2 4.15+ JSON: ``{"dst", "dev", "lladdr",
"state": ["REACHABLE"], "router": null}``; ``state`` lists one or more NUD states).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from harness.checks.base import FAIL, PASS, JsonListingCheck, Ref, Verdict, ere_escape
from harness.fields import IfName, IpAddress, Mac, NsName, ip_version
from harness.protocol import CheckOutput

NO_DEVICE = r"does not exist|Cannot find device"
State = Literal["REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "INCOMPLETE", "PERMANENT", "NOARP", "NONE"]


class NeighbourCheck(JsonListingCheck):
    """The neighbour entry for ``address`` in ``namespace`` (on ``dev``): present with the
    ``state`` (one of, if a list) and ``lladdr`` given, or absent."""

    kind = "neighbour"
    tool = "ip neigh show"
    gone = NO_DEVICE

    namespace: NsName
    address: IpAddress
    dev: Optional[IfName] = None
    expect: Literal["present", "absent"] = "present"
    state: Optional[list[State]] = Field(None, description="NUD states that hold, e.g. [REACHABLE, STALE]")
    lladdr: Optional[Mac] = None
    router: Optional[bool] = Field(None, description="the neighbour is a router (IPv6)")

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if self.dev:
            yield Ref(("dev",), self.namespace, self.dev)

    def title(self) -> str:
        words = [f"neighbour {self.namespace} {self.address}"] + ([f"dev {self.dev}"] if self.dev else [])
        words += ["/".join(self.state)] if self.state else []
        words += [f"lladdr {self.lladdr}"] if self.lladdr else []
        words += ["router" if self.router else "not router"] if self.router is not None else []
        return " ".join(words + [self.expect])


    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        entries, error = self.listing(output)  # a device that is gone has no neighbours
        if error:
            return error
        # With "dev DEV" iproute2 filters by device and leaves "dev" out of each entry.
        found = [e for e in entries if e.get("dst") == self.address]
        entries = [{"dev": e.get("dev", self.dev), "state": e.get("state", []), "lladdr": e.get("lladdr"),
                    "router": "router" in e} for e in found]
        holding = [e for e in entries if not self._differs(e)]
        observed: dict[str, Any] = {"present": bool(found)}
        if entries:
            observed.update(holding[0] if holding else entries[0])
            if len(entries) > 1:
                observed["entries"] = entries
        if self.expect == "absent":
            if holding:
                return Verdict(FAIL, expected, observed, f"{self.address} is in the neighbour table")
            return Verdict(PASS, expected, observed)
        if not found:
            return Verdict(FAIL, expected, observed, f"no neighbour entry for {self.address}")
        if not holding:
            return Verdict(FAIL, expected, observed, "the entry differs: " + ", ".join(
                f"{k} {entries[0][k]} (expected {getattr(self, k)})" for k in self._differs(entries[0])))
        return Verdict(PASS, expected, observed)

    def _differs(self, entry: dict) -> list[str]:
        """The fields of ``entry`` that are not as the check wants."""
        wrong = []
        if self.state and not set(entry["state"]) & set(self.state):
            wrong.append("state")
        if self.lladdr and (entry["lladdr"] or "").lower() != self.lladdr:
            wrong.append("lladdr")
        if self.router is not None and entry["router"] != self.router:
            wrong.append("router")
        return wrong

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        if not observed.get("present"):
            return "absent"
        return "/".join(observed.get("state") or []) + (f", {observed['lladdr']}" if observed.get("lladdr") else "")

    def record_patterns(self) -> list[str]:
        """What the entry's JSON record must look like: ``+ERE`` / ``-ERE``."""
        out = [f'+"dst":"{ere_escape(self.address)}"']
        if self.state:
            out.append(r'+"state":\[[^]]*"(' + "|".join(self.state) + ')"')
        if self.lladdr:
            out.append(f'+"lladdr":"{self.lladdr}"')
        if self.router is not None:
            out.append(("+" if self.router else "-") + '"router":')
        return out

    @property
    def family(self) -> str:
        return "-6" if ip_version(self.address) == 6 else "-4"

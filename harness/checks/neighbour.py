"""``neighbour``: an ARP/NDP entry is in a namespace's neighbour table (or not), with its state and
link-layer address.

Reads ``ip -json neigh show [to ADDR] [dev DEV]`` (iproute2 4.15+ JSON: ``{"dst", "dev", "lladdr",
"state": ["REACHABLE"], "router": null}``; ``state`` lists one or more NUD states).
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import Field

from harness.checks.base import ERROR, FAIL, PASS, CheckSpec, Ref, Verdict, ere_escape
from harness.fields import IfName, IpAddress, Mac, NsName, ip_version
from harness.protocol import CheckOutput

State = Literal["REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "INCOMPLETE", "PERMANENT", "NOARP", "NONE"]


class NeighbourCheck(CheckSpec):
    """The neighbour entry for ``address`` in ``namespace`` (on ``dev``): present with the
    ``state`` (one of, if a list) and ``lladdr`` given, or absent."""

    kind = "neighbour"

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

    @classmethod
    def parse_output(cls, stdout: str, stderr: str) -> Any:
        try:
            return json.loads(stdout) if stdout.strip() else []
        except ValueError:
            return None

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        if output.exit_code != 0:
            return Verdict(ERROR, expected, {"exit_code": output.exit_code},
                           f"ip neigh show failed: {output.stderr.strip()[:300]}")
        entries = self.parse_output(output.stdout, output.stderr)
        if entries is None:
            return Verdict(ERROR, expected, {}, "cannot read ip -json neigh's output")
        # With "dev DEV" iproute2 filters by device and leaves "dev" out of each entry.
        found = [e for e in entries if e.get("dst") == self.address]
        observed: dict[str, Any] = {"present": bool(found)}
        if found:
            e = found[0]
            observed.update({"dev": e.get("dev", self.dev), "state": e.get("state", []), "lladdr": e.get("lladdr"),
                             "router": "router" in e})
        wrong = []
        if found:
            if self.state and not set(observed["state"]) & set(self.state):
                wrong.append("state")
            if self.lladdr and (observed["lladdr"] or "").lower() != self.lladdr:
                wrong.append("lladdr")
            if self.router is not None and observed["router"] != self.router:
                wrong.append("router")
        if self.expect == "absent":
            if found and not wrong:
                return Verdict(FAIL, expected, observed, f"{self.address} is in the neighbour table")
            return Verdict(PASS, expected, observed)
        if not found:
            return Verdict(FAIL, expected, observed, f"no neighbour entry for {self.address}")
        if wrong:
            return Verdict(FAIL, expected, observed, "the entry differs: " + ", ".join(
                f"{k} {observed[k]} (expected {getattr(self, k)})" for k in wrong))
        return Verdict(PASS, expected, observed)

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

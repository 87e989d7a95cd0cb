"""Cross-reference checks: every namespace and interface a scenario names must exist.

Runs after model validation. Yields ``(field path, message)`` pairs; the loader turns
them into ``FILE:LINE`` problems.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections import defaultdict
from typing import Iterator, Optional, Union

from harness.model import Scenario

Loc = tuple[Union[str, int], ...]


def _suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


class Inventory:
    """Interfaces per namespace as the scenario declares them: ``{namespace: {ifname: kind}}``."""

    def __init__(self, scenario: Scenario):
        self.namespaces = set(scenario.namespaces)
        self.interfaces: dict[str, dict[str, str]] = defaultdict(dict)
        for ns in scenario.namespaces:
            self.interfaces[ns]["lo"] = "loopback"

    def namespace_problem(self, ns: str) -> Optional[str]:
        if ns in self.namespaces:
            return None
        return f"unknown namespace '{ns}'{_suggest(ns, self.namespaces)} (declare it under 'namespaces')"

    def interface_problem(self, ns: str, name: str, kind: Optional[str] = None) -> Optional[str]:
        if ns not in self.namespaces:
            return None  # reported once, on the namespace field
        found = self.interfaces[ns].get(name)
        if found is None:
            hint = _suggest(name, self.interfaces[ns])
            elsewhere = [n for n, names in self.interfaces.items() if name in names]
            if elsewhere:
                hint += f" ('{name}' is in namespace '{elsewhere[0]}', not '{ns}')"
            return f"unknown interface '{name}' in namespace '{ns}'{hint}"
        if kind and found != kind:
            return f"'{name}' in namespace '{ns}' is a {found}, not a {kind}"
        return None


def find_reference_problems(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    """Yield ``(loc, message)`` for each dangling reference or duplicate name in ``scenario``."""
    inv = Inventory(scenario)

    def declare(loc: Loc, ns: str, name: str, kind: str) -> Iterator[tuple[Loc, str]]:
        problem = inv.namespace_problem(ns)
        if problem:
            yield loc + ("namespace",), problem
            return
        if name in inv.interfaces[ns]:
            yield loc + ("name",), (
                f"interface '{name}' is declared twice in namespace '{ns}'; rename one"
            )
            return
        inv.interfaces[ns][name] = kind

    for i, pair in enumerate(scenario.veths):
        yield from declare(("veths", i), pair.namespace, pair.name, "veth")
        yield from declare(("veths", i, "peer"), pair.peer.namespace, pair.peer.name, "veth")
    for i, vrf in enumerate(scenario.vrfs):
        yield from declare(("vrfs", i), vrf.namespace, vrf.name, "vrf")
    for i, bridge in enumerate(scenario.bridges):
        yield from declare(("bridges", i), bridge.namespace, bridge.name, "bridge")

    def ref(loc: Loc, ns: str, name: Optional[str], kind: Optional[str] = None) -> Iterator[tuple[Loc, str]]:
        problem = inv.namespace_problem(ns)
        if problem:
            yield loc[:-1] + ("namespace",) if loc[-1] != "from" else loc, problem
            return
        if name is not None:
            problem = inv.interface_problem(ns, name, kind)
            if problem:
                yield loc, problem

    enslaved: dict[tuple[str, str], str] = {}
    for group, items in (("vrfs", scenario.vrfs), ("bridges", scenario.bridges)):
        for i, master in enumerate(items):
            for j, port in enumerate(master.interfaces):
                loc = (group, i, "interfaces", j)
                yield from ref(loc, master.namespace, port)
                key = (master.namespace, port)
                if key in enslaved:
                    yield loc, f"'{port}' is already enslaved to '{enslaved[key]}'; a link has one master"
                enslaved[key] = master.name
    for i, bridge in enumerate(scenario.bridges):
        if bridge.vrf:
            yield from ref(("bridges", i, "vrf"), bridge.namespace, bridge.vrf, "vrf")

    for i, addr in enumerate(scenario.addresses):
        yield from ref(("addresses", i, "dev"), addr.namespace, addr.dev)
    yield from _duplicate_addresses(scenario)

    for i, fw in enumerate(scenario.firewall):
        problem = inv.namespace_problem(fw.namespace)
        if problem:
            yield ("firewall", i, "namespace"), problem

    def routes(prefix: Loc, items) -> Iterator[tuple[Loc, str]]:
        for i, route in enumerate(items):
            yield from ref(prefix + (i, "dev"), route.namespace, route.dev)
            if route.vrf:
                yield from ref(prefix + (i, "vrf"), route.namespace, route.vrf, "vrf")

    yield from routes(("routes",), scenario.routes)
    for s, step in enumerate(scenario.steps):
        yield from routes(("steps", s, "routes"), step.routes)
        yield from routes(("steps", s, "delete_routes"), step.delete_routes)
        for ns in step.sysctls:
            problem = inv.namespace_problem(ns)
            if problem:
                yield ("steps", s, "sysctls", ns), problem
        for i, link in enumerate(step.links):
            yield from ref(("steps", s, "links", i, "name"), link.namespace, link.name)

    checks = [(("checks", i), c) for i, c in enumerate(scenario.checks)]
    checks += [(("steps", s, "checks", i), c) for s, st in enumerate(scenario.steps) for i, c in enumerate(st.checks)]
    for loc, check in checks:
        spec, kind = check.spec, check.kind
        loc = loc + (kind,)
        ns = spec.from_ if kind == "ping" else spec.namespace
        ns_loc = loc + (("from",) if kind == "ping" else ("namespace",))
        problem = inv.namespace_problem(ns)
        if problem:
            yield ns_loc, problem
            continue
        for field in ("interface", "dev"):
            name = getattr(spec, field, None)
            if name:
                yield from ref(loc + (field,), ns, name)
        if spec.vrf:
            yield from ref(loc + ("vrf",), ns, spec.vrf, "vrf")


def _duplicate_addresses(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    # The same address twice in one namespace is a mistake unless the two links are in
    # different VRFs (the point of a VRF), so the VRF is part of the key.
    vrf_of = {(v.namespace, port): v.name for v in scenario.vrfs for port in v.interfaces}
    for bridge in scenario.bridges:
        if bridge.vrf:
            vrf_of[(bridge.namespace, bridge.name)] = bridge.vrf
            vrf_of.update({(bridge.namespace, port): bridge.vrf for port in bridge.interfaces})
    entries: list[tuple[Loc, str, str, str]] = []
    for i, pair in enumerate(scenario.veths):
        for end, loc in ((pair, ("veths", i)), (pair.peer, ("veths", i, "peer"))):
            entries += [(loc + ("addresses", j), end.namespace, end.name, a) for j, a in enumerate(end.addresses)]
    for i, br in enumerate(scenario.bridges):
        entries += [(("bridges", i, "addresses", j), br.namespace, br.name, a) for j, a in enumerate(br.addresses)]
    entries += [(("addresses", i, "address"), a.namespace, a.dev, a.address) for i, a in enumerate(scenario.addresses)]
    seen: dict[tuple, Loc] = {}
    for loc, ns, dev, addr in entries:
        key = (ns, vrf_of.get((ns, dev)), str(ipaddress.ip_interface(addr).ip))
        if key in seen:
            yield loc, f"address {key[2]} is already given in namespace '{ns}' at {_fmt(seen[key])}; remove one"
        else:
            seen[key] = loc


def _fmt(loc: Loc) -> str:
    from harness.loader import format_loc

    return format_loc(loc)

"""Cross-reference checks: every namespace and interface a scenario names must exist somewhere in it.

Runs after model validation, over every change (set-up and steps, derived items included)
and every check, through their ``references()`` and ``declares()``. Yields ``(field path,
message)`` pairs; the loader turns them into ``FILE:LINE`` problems. Names are checked
against everything the scenario ever creates (a check may name a link a step deleted);
duplicates are checked in order (a name may be created again after it was deleted).
"""

from __future__ import annotations

import difflib
import ipaddress
from collections import defaultdict
from typing import Iterator, Optional, Union

from harness.actions.addresses import Address, DeleteAddress
from harness.actions.links import DeleteLink, Link
from harness.actions.namespaces import DeleteNamespace

Loc = tuple[Union[str, int], ...]


def _suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


class Inventory:
    """Namespaces and interfaces the scenario creates anywhere: ``{namespace: {ifname: kind}}``."""

    def __init__(self, scenario):
        self.namespaces = set(scenario.namespace_names())
        self.interfaces: dict[str, dict[str, str]] = defaultdict(dict)
        for ns in self.namespaces:
            self.interfaces[ns]["lo"] = "loopback"
        self.addresses: dict[str, set] = defaultdict(set)
        for item in scenario.items():
            for decl in item.action.declares():
                self.interfaces[decl.namespace].setdefault(decl.interface, decl.kind)
            if isinstance(item.action, Address):
                self.addresses[item.action.namespace].add(ipaddress.ip_interface(item.action.address).ip)

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

    def address_problem(self, ns: str, address: str) -> Optional[str]:
        if ns not in self.namespaces:
            return None
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip in self.addresses[ns] or ip.is_loopback or ip.is_link_local:
            return None
        given = ", ".join(sorted(str(a) for a in self.addresses[ns])) or "none"
        return (f"{address} is not an address of namespace '{ns}' (it has: {given}); "
                "give it to one of its links, or use one of those")

    def problems(self, loc: Loc, refs, rename=None) -> Iterator[tuple[Loc, str]]:
        """Problems with the names in ``refs`` (``Ref``s relative to ``loc``)."""
        for ref in refs:
            field = ref.field
            if rename and field and field[0] in rename:
                field = (rename[field[0]],) + field[1:]
            if ref.address is not None:
                problem = self.address_problem(ref.namespace, ref.address)
            elif ref.interface is None:
                problem = self.namespace_problem(ref.namespace)
            else:
                problem = self.interface_problem(ref.namespace, ref.interface, ref.kind)
            if problem:
                yield loc + field, problem


def find_reference_problems(scenario) -> Iterator[tuple[Loc, str]]:
    """Yield ``(loc, message)`` for each dangling reference or duplicate name in ``scenario``."""
    inv = Inventory(scenario)
    seen: set[tuple[Loc, str]] = set()

    def once(found: Iterator[tuple[Loc, str]]) -> Iterator[tuple[Loc, str]]:
        for entry in found:
            if entry not in seen:
                seen.add(entry)
                yield entry

    for item in scenario.items():
        rename = getattr(item.origin, "RENAMES", None) if item.origin is not item.action else None
        yield from once(inv.problems(item.loc, item.action.references(), rename))
    yield from once(_duplicates(scenario))
    for loc, check in _checks(scenario):
        spec = check.spec
        yield from once(inv.problems(loc + (check.kind,), spec.references()))


def _checks(scenario):
    for i, check in enumerate(scenario.checks):
        yield ("checks", i), check
    for s, step in enumerate(scenario.steps):
        for i, check in enumerate(step.checks):
            yield ("steps", s, "checks", i), check


def _duplicates(scenario) -> Iterator[tuple[Loc, str]]:
    """Names created twice while the first still lives; an address given twice in one namespace
    and VRF (the same address in two VRFs is the point of VRFs); a link enslaved twice."""
    live_links: dict[tuple[str, str], Loc] = {}
    peers: dict[tuple[str, str], tuple[str, str]] = {}
    live_addresses: dict[tuple, Loc] = {}
    masters: dict[tuple[str, str], str] = {}
    vrf_of = _vrf_of(scenario)
    for item in scenario.items():
        action = item.action
        if isinstance(action, DeleteNamespace):
            for key in [k for k in live_links if k[0] == action.name]:
                del live_links[key]
            for key in [k for k in live_addresses if k[1] == action.name]:
                del live_addresses[key]
            continue
        if isinstance(action, DeleteLink):
            for key in ((action.namespace, action.name), peers.get((action.namespace, action.name))):
                live_links.pop(key, None)
            continue
        if isinstance(action, DeleteAddress):
            live_addresses.pop((item.step, action.namespace, vrf_of.get((action.namespace, action.dev)),
                                str(ipaddress.ip_interface(action.address).ip)), None)
            continue
        if action.expect_error:
            continue  # a change the kernel must refuse: often the very duplicate
        for decl in action.declares():
            key = (decl.namespace, decl.interface)
            if key in live_links:
                yield item.loc + decl.field, (f"interface '{decl.interface}' is declared twice in namespace "
                                              f"'{decl.namespace}'; rename one (or delete the first before)")
            live_links[key] = item.loc
        if isinstance(action, Link) and action.peer:
            a, b = (action.namespace, action.name), (action.peer.namespace, action.peer.name)
            peers[a], peers[b] = b, a
        if isinstance(action, Link):
            for i, (port, master) in enumerate(action.enslaved()):
                key = (action.namespace, port)
                if item.step is None and masters.get(key, master) != master:
                    yield item.loc, f"'{port}' is already enslaved to '{masters[key]}'; a link has one master"
                masters[key] = master
        if isinstance(action, Address):
            # Only within the set-up, or within one step: between steps the kernel itself may
            # have removed the address (IPv6 addresses go when their link goes down).
            key = (item.step, action.namespace, vrf_of.get((action.namespace, action.dev)), action.ip)
            if key in live_addresses:
                yield item.loc + ("address",) if item.origin is action else item.loc, (
                    f"address {action.ip} is already given in namespace '{action.namespace}' at "
                    f"{_fmt(live_addresses[key])}; remove one")
            else:
                live_addresses[key] = item.loc


def _vrf_of(scenario) -> dict[tuple[str, str], str]:
    """``(namespace, link) -> VRF`` for VRF devices, their ports, and bridges in a VRF with their ports."""
    vrfs = {(i.action.namespace, i.action.name) for i in scenario.items()
            if isinstance(i.action, Link) and i.action.kind == "vrf"}
    vrf_of = {key: key[1] for key in vrfs}
    links = [i.action for i in scenario.items() if isinstance(i.action, Link)]
    for link in links:
        for port, master in link.enslaved():
            if (link.namespace, master) in vrfs:
                vrf_of[(link.namespace, port)] = master
    for link in links:  # ports of a bridge that is in a VRF
        for port, master in link.enslaved():
            if (link.namespace, master) in vrf_of and (link.namespace, port) not in vrf_of:
                vrf_of[(link.namespace, port)] = vrf_of[(link.namespace, master)]
    return vrf_of


def _fmt(loc: Loc) -> str:
    from harness.loader import format_loc

    return format_loc(loc)

"""A scenario's topology as a Mermaid flowchart (bug trackers render it).

Namespaces are boxes listing their links (kind, addresses); veth pairs are edges, ports are
joined to their bridge, bond or VRF; routes, rules and nexthop objects are listed under their
namespace. What a step adds says which step.
"""

from __future__ import annotations

from collections import defaultdict

from harness.actions.addresses import Address
from harness.actions.links import Link
from harness.actions.namespaces import NewNamespace
from harness.actions.nexthops import Nexthop
from harness.actions.routes import Route
from harness.actions.rules import Rule


def _id(text: str) -> str:
    # Distinct names must give distinct ids ("a-b"/"c" vs "a"/"b-c"): escape, don't fold.
    return "n_" + "".join(ch if ch.isalnum() else f"_{ord(ch):02x}" for ch in text)


def _label(text: str) -> str:
    # Mermaid labels in double quotes: escape the quote itself, keep the rest literal.
    return text.replace('"', "#quot;")


def mermaid(scenario) -> str:
    """Return ``flowchart LR`` text: one subgraph per namespace, one edge per veth pair."""
    offset = scenario.first_step_offset
    when = lambda item: "" if item.step is None else f" (step {item.step - offset + 1})"  # noqa: E731
    items = scenario.items()
    links = [i for i in items if isinstance(i.action, Link) and i.action.created]
    addresses = defaultdict(list)
    for i in items:
        if isinstance(i.action, Address):
            addresses[(i.action.namespace, i.action.dev)].append(i.action.address + when(i))
    lines = ["flowchart LR"]
    for ns in scenario.namespace_names():
        sysctls = [f"{k}={v}" for i in items if isinstance(i.action, NewNamespace) and i.action.name == ns
                   for k, v in i.action.global_sysctls().items()]
        lines.append(f'  subgraph {_id("ns_" + ns)}["{_label("<br/>".join([ns] + sysctls))}"]')
        for item in (i for i in links if i.action.namespace == ns or (i.action.peer and i.action.peer.namespace == ns)):
            link = item.action
            ends = [(link.namespace, link.name)] + ([(link.peer.namespace, link.peer.name)] if link.peer else [])
            for end_ns, name in ends:
                if end_ns != ns:
                    continue
                title = {"veth": name, "vrf": f"VRF {name} table {link.table}"}.get(link.kind, f"{link.kind} {name}")
                text = "<br/>".join([title + when(item)] + addresses.get((ns, name), []))
                shape = {"vrf": '{"%s"}', "bridge": '[["%s"]]', "bond": '[["%s"]]'}.get(link.kind, '["%s"]')
                lines.append(f"    {_id(ns + '_' + name)}{shape % _label(text)}")
            for port, master in link.enslaved():
                style = "-.-" if link.kind == "vrf" or (master != link.name) else "---"
                lines.append(f"    {_id(ns + '_' + port)} {style} {_id(ns + '_' + master)}")
        listed = [_route(i.action) + when(i) for i in items if isinstance(i.action, Route) and i.action.namespace == ns]
        listed += ["rule " + " ".join(i.action.words()) + when(i) for i in items
                   if isinstance(i.action, Rule) and i.action.namespace == ns]
        listed += [i.action.summary().replace("nexthop add ", "nexthop ") + when(i) for i in items
                   if isinstance(i.action, Nexthop) and i.action.namespace == ns]
        if listed:
            lines.append(f'    {_id(ns + "_routes")}("{_label("routes:<br/>" + "<br/>".join(listed))}")')
        lines.append("  end")
    for item in links:
        link = item.action
        if link.peer:
            lines.append(f"  {_id(link.namespace + '_' + link.name)} <-- veth --> "
                         f"{_id(link.peer.namespace + '_' + link.peer.name)}")
    return "\n".join(lines) + "\n"


def _route(route: Route) -> str:
    words = [route.type if route.type != "unicast" else "", route.dst]
    words += [f"via {route.via}" if route.via else "", f"dev {route.dev}" if route.dev else ""]
    words += [f"nexthop via {nh.via or ''} dev {nh.dev or ''}".replace("  ", " ") for nh in route.nexthops]
    words += [f"nhid {route.nhid}" if route.nhid else "", f"table {route.table}" if route.table else "",
              f"vrf {route.vrf}" if route.vrf else ""]
    return " ".join(w for w in words if w)

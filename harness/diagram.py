"""A scenario's topology as a Mermaid flowchart (bug trackers render it).

Namespaces are boxes listing their interfaces and addresses; veth pairs are edges;
routes are listed under their namespace (those added by a step say which).
"""

from __future__ import annotations

import re

from harness.model import Scenario


def _id(text: str) -> str:
    # Distinct names must give distinct ids ("a-b"/"c" vs "a"/"b-c"): escape, don't fold.
    return "n_" + "".join(ch if ch.isalnum() else f"_{ord(ch):02x}" for ch in text)


def _label(text: str) -> str:
    # Mermaid labels in double quotes: escape the quote itself, keep the rest literal.
    return text.replace('"', "#quot;")


def mermaid(scenario: Scenario) -> str:
    """Return ``flowchart LR`` text: one subgraph per namespace, one edge per veth pair."""
    lines = ["flowchart LR"]
    ends = [end for pair in scenario.veths for end in (pair, pair.peer)]
    for ns, spec in scenario.namespaces.items():
        title = ns + ("".join(f"<br/>{k}={v}" for k, v in spec.sysctls.items()))
        lines.append(f'  subgraph {_id("ns_" + ns)}["{_label(title)}"]')
        for end in (e for e in ends if e.namespace == ns):
            addrs = "".join(f"<br/>{a}" for a in end.addresses)
            addrs += "".join(f"<br/>{a.address}" for a in scenario.addresses if a.namespace == ns and a.dev == end.name)
            lines.append(f'    {_id(ns + "_" + end.name)}["{_label(end.name + addrs)}"]')
        for vrf in (v for v in scenario.vrfs if v.namespace == ns):
            lines.append(f'    {_id(ns + "_" + vrf.name)}{{"{_label(f"VRF {vrf.name} table {vrf.table}")}"}}')
            for port in vrf.interfaces:
                lines.append(f'    {_id(ns + "_" + port)} -.- {_id(ns + "_" + vrf.name)}')
        for br in (b for b in scenario.bridges if b.namespace == ns):
            addrs = "".join(f"<br/>{a}" for a in br.addresses)
            lines.append(f'    {_id(ns + "_" + br.name)}[["{_label("bridge " + br.name + addrs)}"]]')
            for port in br.interfaces:
                lines.append(f'    {_id(ns + "_" + port)} --- {_id(ns + "_" + br.name)}')
        routes = [(r, "") for r in scenario.routes if r.namespace == ns]
        routes += [(r, f" (step {i + 1})") for i, step in enumerate(scenario.steps) for r in step.routes
                   if r.namespace == ns]
        if routes:
            text = "<br/>".join(
                " ".join(filter(None, [r.type if r.type != "unicast" else "", r.dst, r.via and f"via {r.via}",
                                       r.dev and f"dev {r.dev}", r.table and f"table {r.table}",
                                       r.vrf and f"vrf {r.vrf}"])) + when
                for r, when in routes
            )
            lines.append(f'    {_id(ns + "_routes")}("{_label("routes:<br/>" + text)}")')
        lines.append("  end")
    for pair in scenario.veths:
        lines.append(f'  {_id(pair.namespace + "_" + pair.name)} <-- veth --> {_id(pair.peer.namespace + "_" + pair.peer.name)}')
    return "\n".join(lines) + "\n"

"""Facts about a target: kernel release, iproute2 and ping versions, kernel features, tools.

Gathered once per target by ``templates/facts.sh.j2`` (one round trip) and used to decide
SKIP for scenarios whose needs (``requires``) the target does not meet. A target restored from
a booted snapshot already knows the facts its snapshot gathered (``Target.known_facts``).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Optional

from harness.model import Scenario
from harness.render import environment, new_run_id, scenario_addresses
from harness.targets.base import Target, TargetError

# Tools every scenario needs, plus the optional ones scenarios may ask for.
BASE_TOOLS = ("ip", "ping", "sysctl")
KNOWN_TOOLS = BASE_TOOLS + ("nft", "iptables", "tc", "ethtool", "bridge")


@dataclass
class Facts:
    """Kernel release, tool versions (``ip -V`` and ``ping -V`` first lines), features and tools found."""

    kernel: str = ""
    uname: str = ""
    arch: str = ""
    os: str = ""
    iproute2: str = ""
    ping: str = ""
    features: dict[str, bool] = field(default_factory=dict)
    tools: dict[str, bool] = field(default_factory=dict)
    # Kernel modules asked for: "loaded" (or built in), "available" (can be loaded), "missing".
    modules: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def parse_facts(text: str) -> Facts:
    """Read the ``key=value`` lines printed by ``facts.sh.j2``; unknown keys are ignored."""
    facts = Facts()
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.startswith("feature."):
            facts.features[key[8:]] = value == "yes"
        elif key.startswith("tool."):
            facts.tools[key[5:]] = value == "yes"
        elif key.startswith("module."):
            facts.modules[key[7:]] = value
        elif key in ("kernel", "uname", "arch", "os", "iproute2", "ping"):
            setattr(facts, key, value)
    return facts


def facts_script(tools: tuple[str, ...] = KNOWN_TOOLS, run_id: Optional[str] = None) -> str:
    """The facts script; its probe namespace is ``nh<run_id>-probe`` (random id by default)."""
    run_id = run_id or new_run_id()
    return environment().get_template("facts.sh.j2").render(run_id=run_id, probe_ns=f"nh{run_id}-probe", tools=tools)


def facts_key(tools: tuple[str, ...] = KNOWN_TOOLS) -> str:
    """What a saved facts output depends on: 16 hex digits over the script (fixed run id) and tools."""
    return hashlib.sha256(facts_script(tools, run_id="000000").encode()).hexdigest()[:16]


def gather_facts(target: Target, tools: tuple[str, ...] = KNOWN_TOOLS) -> Facts:
    """The target's facts: one run of the facts script, or what the target already knows.

    A target may offer ``known_facts(key) -> Optional[str]``: the facts script's output it
    got from the very machine image it runs (a VM restored from a booted snapshot), for the
    script ``facts_key(tools)`` names. Raises ``TargetError`` when the script cannot run.
    """
    known = getattr(target, "known_facts", None)
    text = known(facts_key(tools)) if known else None
    if text is None:
        text = run_facts_script(target, tools)
    return parse_facts(text)


def run_facts_script(target: Target, tools: tuple[str, ...] = KNOWN_TOOLS) -> str:
    """Run the facts script on ``target`` and return its output. Raises ``TargetError``."""
    result = target.run(facts_script(tools), timeout=60)
    if result.exit_code != 0 or "kernel=" not in result.stdout:
        raise TargetError(f"could not read the target's facts (exit code {result.exit_code}): {result.stderr.strip()}")
    return result.stdout


def probe_tools(target: Target, facts: Facts, tools: list[str]) -> None:
    """Look for the ``tools`` that ``facts`` has not probed yet (``command -v``) and record them."""
    missing = [tool for tool in tools if tool not in facts.tools]
    if not missing:
        return
    script = "".join(f"command -v {shlex.quote(t)} >/dev/null 2>&1 && echo tool.{t}=yes || echo tool.{t}=no\n"
                     for t in missing)
    result = target.run(script, timeout=30)
    facts.tools.update(parse_facts(result.stdout).tools)


def _version_tuple(text: str) -> tuple[int, ...]:
    match = re.match(r"(\d+(?:\.\d+)*)", text)
    return tuple(int(x) for x in match.group(1).split(".")) if match else ()


# How to probe a feature the facts script does not look at: a command run in a throw-away
# namespace "$ns" (creating such a link loads its kernel module on demand, as any use would).
FEATURE_PROBES = {
    "dummy": 'ip -n "$ns" link add h0 type dummy',
    "vlan": 'ip -n "$ns" link add h1 type veth peer name h1p && ip -n "$ns" link add link h1 name h2 type vlan id 2',
    "macvlan": 'ip -n "$ns" link add h3 type veth peer name h3p && ip -n "$ns" link add link h3 name h4 type macvlan',
    "vxlan": 'ip -n "$ns" link add h5 type vxlan id 5 dstport 4789',
    "bond": 'ip -n "$ns" link add h6 type bond',
    "nexthop": 'ip -n "$ns" link add h7 type veth peer name h7p && ip -n "$ns" link set h7 up && '
               'ip -n "$ns" link set h7p up && ip -n "$ns" nexthop add id 7 dev h7',
    "netem": 'ip -n "$ns" link add h8 type veth peer name h8p && '
             'ip netns exec "$ns" tc qdisc add dev h8 root netem delay 1ms',
    "veth": 'ip -n "$ns" link add h9 type veth peer name h10',
    "vrf": 'ip -n "$ns" link add h11 type vrf table 10',
    "bridge": 'ip -n "$ns" link add h12 type bridge',
    "bridge_vlan_filtering": 'ip -n "$ns" link add h13 type bridge vlan_filtering 1',
    "nftables": 'ip netns exec "$ns" nft list ruleset',
    "ipv6": '[ -e /proc/net/if_inet6 ]',
}


def needs(scenario: Scenario) -> tuple[Optional[str], list[str], list[str]]:
    """What a scenario needs: (minimum kernel, features, tools), declared or implied by what it uses."""
    features = set(scenario.requires.features) | {"netns"}
    tools = set(scenario.requires.tools) | set(BASE_TOOLS)
    for item in scenario.items():
        features.update(item.action.features())
        tools.update(item.action.tools())
    for step in scenario.all_steps:
        for check in step.checks:
            tools.update(check.spec.tools())
    if any(a.version == 6 for a in scenario_addresses(scenario)):
        features.add("ipv6")
    return scenario.requires.kernel, sorted(features), sorted(tools)


def probe_features(target: Target, facts: Facts, features: list[str], modules: list[str] = ()) -> None:
    """Probe ``features`` that ``facts`` has not (``FEATURE_PROBES``) and kernel ``modules``
    (loaded, or available to load), and record the answers in ``facts``."""
    missing = [f for f in features if f not in facts.features and f in FEATURE_PROBES]
    modules = [m for m in modules if m not in facts.modules]
    if not missing and not modules:
        return
    script = environment().get_template("probe.sh.j2").render(
        probe_ns=f"nh{new_run_id()}-probe", probes={f: FEATURE_PROBES[f] for f in missing}, modules=modules)
    result = target.run(script, timeout=60)
    found = parse_facts(result.stdout)
    facts.features.update(found.features)
    facts.modules.update(found.modules)


def unmet_needs(scenario: Scenario, facts: Facts, loads_modules: bool = False) -> list[str]:
    """Reasons the target cannot run ``scenario`` (empty when it can): each a sentence for SKIP.

    ``loads_modules``: the target is a disposable VM where the run script may load a module
    that is available but not loaded; on other targets such a module is an unmet need.
    """
    kernel, features, tools = needs(scenario)
    reasons = []
    if kernel and _version_tuple(facts.kernel) < _version_tuple(kernel):
        reasons.append(f"needs kernel >= {kernel}, target runs {facts.kernel}")
    for feature in features:
        if not facts.features.get(feature, False):
            reasons.append(f"needs kernel support for {feature}, which the target lacks")
    for tool in tools:
        if not facts.tools.get(tool, False):
            reasons.append(f"needs the '{tool}' command, not found on the target")
    for module in scenario.requires.modules:
        state = facts.modules.get(module, "missing")
        if state == "missing":
            reasons.append(f"needs kernel module {module}, which the target's kernel does not have")
        elif state == "available" and not loads_modules:
            reasons.append(f"needs kernel module {module}, not loaded on this target (the harness loads "
                           f"modules only in its VMs): load it with modprobe {module}, or run in a VM")
    return reasons


def expected_failure(scenario: Scenario, facts: Optional[Facts]) -> Optional[str]:
    """The reason (with its reference) when ``scenario`` is expected to fail on this target, else None."""
    xfail = scenario.xfail
    if xfail is None:
        return None
    if xfail.kernel_below and facts is not None and _version_tuple(facts.kernel) >= _version_tuple(xfail.kernel_below):
        return None
    return xfail.reason + (f" ({xfail.ref})" if xfail.ref else "")

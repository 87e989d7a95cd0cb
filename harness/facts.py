"""Facts about a target: kernel release, version and build, iproute2 and ping versions, kernel
features, tools, kernel config options.

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
    """Kernel release, tool versions (``ip -V`` and ``ping -V`` first lines), features and tools found.

    ``kernel``: the release (``uname -r``, ``6.1.0-50-cloud-amd64``); ``kernel_version``: the
    upstream version it was built from (``6.1.176``: Debian's ``uname -v`` says ``Debian
    6.1.176-1``, Ubuntu's ``/proc/version_signature`` ends with it; else the release's own
    numbers); ``build``: ``uname -v`` (build number, preemption, date); ``build_id``: the
    kernel image's GNU build id (hex, from ``/sys/kernel/notes``), which names one build
    exactly; ``config_source``: where the kernel config was read (``/boot/config-RELEASE``,
    ``/proc/config.gz``, "" when neither is readable); ``config``: the options scenarios asked
    for (``requires: {config: [...]}``), ``y``, ``m``, a value, or ``n`` (not set).
    """

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
    kernel_version: str = ""
    build: str = ""
    build_id: str = ""
    config_source: str = ""
    config: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


# NT_GNU_BUILD_ID: an ELF note named "GNU" of type 3 (the linker's --build-id).
_NT_GNU_BUILD_ID = 3


def build_id_from_notes(hex_text: str) -> str:
    """The GNU build id (hex) in ``/sys/kernel/notes`` given as hex digits (``od -An -tx1``),
    "" when there is none.

    The file is the kernel image's ELF note section: 4-byte little-endian ``namesz``, ``descsz``
    and ``type``, then the name and the descriptor, each padded to 4 bytes.
    """
    try:
        data = bytes.fromhex("".join(hex_text.split()))
    except ValueError:
        return ""
    offset = 0
    while offset + 12 <= len(data):
        namesz, descsz, kind = (int.from_bytes(data[offset + i:offset + i + 4], "little") for i in (0, 4, 8))
        name_at = offset + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        end = desc_at + (descsz + 3) // 4 * 4
        if end > len(data) or namesz > 256:
            return ""
        if kind == _NT_GNU_BUILD_ID and data[name_at:name_at + namesz].rstrip(b"\0") == b"GNU":
            return data[desc_at:desc_at + descsz].hex()
        offset = end
    return ""


def upstream_version(release: str, build: str = "", signature: str = "") -> str:
    """The kernel's upstream version: Debian's ``uname -v`` (``... Debian 6.1.176-1 (2026-05-12)``),
    Ubuntu's ``/proc/version_signature`` (``Ubuntu 6.8.0-45.45-generic 6.8.12``), else the
    leading numbers of the release (``6.12.95+deb12-cloud-amd64`` -> ``6.12.95``)."""
    debian = re.search(r"\bDebian (\d+\.\d+(?:\.\d+)?)[-~+]", build)
    if debian:
        return debian.group(1)
    ubuntu = re.search(r"(\d+\.\d+(?:\.\d+)?)\s*$", signature)
    if signature and ubuntu:
        return ubuntu.group(1)
    own = re.match(r"\d+\.\d+(?:\.\d+)?", release)
    return own.group(0) if own else ""


def parse_facts(text: str) -> Facts:
    """Read the ``key=value`` lines printed by ``facts.sh.j2`` (and ``probe.sh.j2``); unknown keys are ignored."""
    facts = Facts()
    signature = notes = ""
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
        elif key.startswith("config.CONFIG_"):
            facts.config[key[7:]] = value
        elif key in ("kernel", "uname", "arch", "os", "iproute2", "ping", "build", "config_source"):
            setattr(facts, key, value)
        elif key == "version_signature":
            signature = value
        elif key == "notes":
            notes = value
    facts.build_id = build_id_from_notes(notes)
    if facts.kernel:
        facts.kernel_version = upstream_version(facts.kernel, facts.build, signature)
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


# The kernel config option behind each feature: named in a SKIP when the feature is missing.
FEATURE_CONFIG = {
    "netns": "CONFIG_NET_NS", "veth": "CONFIG_VETH", "vrf": "CONFIG_NET_VRF", "bridge": "CONFIG_BRIDGE",
    "bridge_vlan_filtering": "CONFIG_BRIDGE_VLAN_FILTERING", "dummy": "CONFIG_DUMMY",
    "vlan": "CONFIG_VLAN_8021Q", "macvlan": "CONFIG_MACVLAN", "vxlan": "CONFIG_VXLAN", "bond": "CONFIG_BONDING",
    "netem": "CONFIG_NET_SCH_NETEM", "nftables": "CONFIG_NF_TABLES", "ipv6": "CONFIG_IPV6",
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


def probe_features(target: Target, facts: Facts, features: list[str], modules: list[str] = (),
                   config: list[str] = ()) -> None:
    """Probe ``features`` that ``facts`` has not (``FEATURE_PROBES``), kernel ``modules`` (loaded,
    or available to load) and kernel ``config`` options (from ``facts.config_source``), and
    record the answers in ``facts``."""
    missing = [f for f in features if f not in facts.features and f in FEATURE_PROBES]
    modules = [m for m in modules if m not in facts.modules]
    # With the options asked for, those of the features that are (or may turn out) missing.
    lacking = [FEATURE_CONFIG[f] for f in features if f in FEATURE_CONFIG and not facts.features.get(f, False)]
    config = [c for c in dict.fromkeys([*config, *lacking]) if c not in facts.config] if facts.config_source else []
    if not missing and not modules and not config:
        return
    script = environment().get_template("probe.sh.j2").render(
        probe_ns=f"nh{new_run_id()}-probe", probes={f: FEATURE_PROBES[f] for f in missing}, modules=modules,
        config=config, config_source=facts.config_source)
    result = target.run(script, timeout=60)
    found = parse_facts(result.stdout)
    facts.features.update(found.features)
    facts.modules.update(found.modules)
    facts.config.update(found.config)


def unmet_needs(scenario: Scenario, facts: Facts, loads_modules: bool = False) -> list[str]:
    """Reasons the target cannot run ``scenario`` (empty when it can): each a sentence for SKIP.

    ``loads_modules``: the target is a disposable VM where the run script may load a module
    that is available but not loaded; on other targets such a module is an unmet need.
    """
    kernel, features, tools = needs(scenario)
    reasons = []
    if kernel and _version_tuple(kernel_version(facts)) < _version_tuple(kernel):
        runs = facts.kernel + (f" ({facts.kernel_version})" if facts.kernel_version
                               and not facts.kernel.startswith(facts.kernel_version) else "")
        reasons.append(f"needs kernel >= {kernel}, target runs {runs}")
    for feature in features:
        if not facts.features.get(feature, False):
            option = FEATURE_CONFIG.get(feature)
            why = (f" ({option} is not set in {facts.config_source})"
                   if option and facts.config.get(option) == "n" else "")
            reasons.append(f"needs kernel support for {feature}, which the target lacks{why}")
    for tool in tools:
        if not facts.tools.get(tool, False):
            reasons.append(f"needs the '{tool}' command, not found on the target")
    for option in scenario.requires.config:
        value = facts.config.get(option)
        if not facts.config_source:
            reasons.append(f"needs {option}, but the target's kernel config cannot be read "
                           f"(no /boot/config-{facts.kernel or 'RELEASE'}, no /proc/config.gz)")
        elif value in (None, "n"):
            reasons.append(f"needs {option}, which kernel {facts.kernel} was built without "
                           f"({facts.config_source})")
    for module in scenario.requires.modules:
        state = facts.modules.get(module, "missing")
        if state == "missing":
            reasons.append(f"needs kernel module {module}, which the target's kernel does not have")
        elif state == "available" and not loads_modules:
            reasons.append(f"needs kernel module {module}, not loaded on this target (the harness loads "
                           f"modules only in its VMs): load it with modprobe {module}, or run in a VM")
    return reasons


def kernel_version(facts: Facts) -> str:
    """The version to compare ``requires: kernel`` and ``xfail: kernel_below`` with: the upstream
    version where known (Debian's ``6.1.0-50`` releases are all ``6.1.0``), else the release."""
    return facts.kernel_version or facts.kernel


def expected_failure(scenario: Scenario, facts: Optional[Facts]) -> Optional[str]:
    """The reason (with its reference) when ``scenario`` is expected to fail on this target, else None."""
    xfail = scenario.xfail
    if xfail is None:
        return None
    if xfail.kernel_below and facts is not None and \
            _version_tuple(kernel_version(facts)) >= _version_tuple(xfail.kernel_below):
        return None
    return xfail.reason + (f" ({xfail.ref})" if xfail.ref else "")

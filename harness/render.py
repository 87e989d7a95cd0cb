"""Render a scenario into bash scripts with the Jinja2 templates in ``templates/``.

Quoting is structural: the environment's ``finalize`` shell-quotes every ``{{ }}``
value (``shlex.quote``), so nothing a scenario says reaches a shell unquoted, whatever a
template author forgets. Only values wrapped in ``ShellSafe`` by this module pass as is.
"""

from __future__ import annotations

import ipaddress
import math
import re
import secrets
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import jinja2

from harness import __version__
from harness.model import Check, Route, Scenario, Step

PREFIX_RE = re.compile(r"^nh[0-9a-f]{6}-")
MARKER_WORD = "@@netns-harness"


class ShellSafe(str):
    """A string already fit for the shell (quoted or a fixed word); ``finalize`` passes it through."""


def _finalize(value: Any) -> str:
    if isinstance(value, ShellSafe):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool reached a shell template; render it with an explicit if")
    return shlex.quote(str(value))


def _family(route: Route) -> ShellSafe:
    """``-4`` or ``-6`` for a route, from its destination or next hop."""
    for value in (route.dst, route.via):
        if value and value != "default":
            return ShellSafe("-6" if ipaddress.ip_network(value, strict=False).version == 6 else "-4")
    return ShellSafe("-4")


def templates_dir() -> Path:
    """The templates folder: ``$HARNESS_TEMPLATES``, the installed package's copy, or the checkout's ``templates/``."""
    from harness.resources import templates_dir as find

    return find()


@lru_cache(maxsize=None)
def _environment(path: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(path),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["family"] = _family
    env.filters["ceil"] = lambda x: math.ceil(x)
    env.filters["combine"] = lambda a, b: {**a, **b}
    return env


def environment() -> jinja2.Environment:
    """The Jinja2 environment (StrictUndefined, shell-quoting finalize) over ``templates_dir()``."""
    return _environment(str(templates_dir()))


@dataclass(frozen=True)
class AddressSpec:
    """An address to add, from any of the places a scenario can give one."""

    namespace: str
    dev: str
    address: str

    @property
    def family(self) -> ShellSafe:
        return ShellSafe("-6" if ipaddress.ip_interface(self.address).version == 6 else "-4")

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_interface(self.address).network.prefixlen


@dataclass(frozen=True)
class PlannedStep:
    """A step as it runs: its position, name, and checks with their ids (``s1c0``...)."""

    index: int
    name: str
    step: Step
    checks: list[tuple[str, Check]]


@dataclass(frozen=True)
class RenderedScenario:
    """The scripts of one run of a scenario, and the names they use.

    ``namespaces`` maps scenario names to the real (prefixed) namespace names.
    ``run`` is self-contained: set-up, steps with checks, tear-down on exit.
    """

    scenario: Scenario
    run_id: str
    prefix: str
    marker: str
    namespaces: dict[str, str]
    plan: list[PlannedStep]
    setup: str
    teardown: str
    run: str

    def check(self, check_id: str) -> tuple[PlannedStep, Check]:
        for planned in self.plan:
            for cid, check in planned.checks:
                if cid == check_id:
                    return planned, check
        raise KeyError(check_id)


def new_run_id() -> str:
    """Six random hex digits: namespace names are ``nh<run_id>-<name>``."""
    return secrets.token_hex(3)


def plan_steps(scenario: Scenario) -> list[PlannedStep]:
    """Number the scenario's steps and give each check an id."""
    return [
        PlannedStep(
            index=i,
            name=step.name or f"step {i + 1}",
            step=step,
            checks=[(f"s{i}c{j}", check) for j, check in enumerate(step.checks)],
        )
        for i, step in enumerate(scenario.all_steps)
    ]


def render(scenario: Scenario, run_id: Union[str, None] = None, capture_state: bool = False) -> RenderedScenario:
    """Render ``scenario`` for one run; ``run_id`` defaults to a fresh ``new_run_id()``.

    The run script keeps each namespace's state after a step whose checks look off (exit
    code or TTL), and when it stops on an error; ``capture_state`` keeps it after every step.

    Raises ``jinja2.TemplateError`` when a template is broken (a harness bug, not bad input).
    """
    run_id = run_id or new_run_id()
    if not re.fullmatch(r"[0-9a-f]{6}", run_id):
        raise ValueError(f"run id {run_id!r} is not six hex digits")
    prefix = f"nh{run_id}-"
    marker = ShellSafe(f"{MARKER_WORD}:{run_id}")
    context = _topology_context(scenario, {name: prefix + name for name in scenario.namespaces})
    context.update(run_id=run_id, prefix=prefix, marker=marker, capture_state=capture_state)
    env = environment()
    return RenderedScenario(
        scenario=scenario,
        run_id=run_id,
        prefix=prefix,
        marker=str(marker),
        namespaces=context["ns"],
        plan=context["plan"],
        setup=env.get_template("setup.sh.j2").render(context),
        teardown=env.get_template("teardown.sh.j2").render(context),
        run=env.get_template("run.sh.j2").render(context),
    )


def base_namespace_sysctls(addresses: list[AddressSpec]) -> dict[str, int]:
    """Sysctls every namespace starts with, before the scenario's own."""
    settings = {"net.ipv4.ip_forward": 0}
    if any(a.family == "-6" for a in addresses):
        settings.update({"net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0})
    return settings


def render_repro(scenario: Scenario, check_names: dict[str, str]) -> str:
    """A standalone ``repro.sh``: set-up, every check judged in bash with expected/observed, tear-down.

    Namespaces get a random prefix when the script runs (``$H_PREFIX``), so it runs
    anywhere, any number of times. ``check_names`` maps check ids to display names.
    """
    # The prefix is chosen at run time: names become "${H_PREFIX}client" (names are [A-Za-z0-9_-]).
    namespaces = {name: ShellSafe(f'"${{H_PREFIX}}{name}"') for name in scenario.namespaces}
    context = _topology_context(scenario, namespaces)
    return environment().get_template("repro.sh.j2").render(context, names=check_names)


def _topology_context(scenario: Scenario, namespaces: dict[str, str]) -> dict:
    """What the set-up, step and check templates need, for namespace names ``namespaces``."""
    ends = [end for pair in scenario.veths for end in (pair, pair.peer)]
    addresses = scenario_addresses(scenario)
    return dict(
        scenario=scenario, ns=namespaces, ends=ends, addresses=addresses,
        base_sysctls=base_namespace_sysctls(addresses), plan=plan_steps(scenario), version=__version__,
    )


def scenario_addresses(scenario: Scenario) -> list[AddressSpec]:
    """Every address the scenario gives: on veth ends, on bridges, and in ``addresses``."""
    ends = [end for pair in scenario.veths for end in (pair, pair.peer)]
    addresses = [AddressSpec(e.namespace, e.name, a) for e in ends for a in e.addresses]
    addresses += [AddressSpec(b.namespace, b.name, a) for b in scenario.bridges for a in b.addresses]
    addresses += [AddressSpec(a.namespace, a.dev, a.address) for a in scenario.addresses]
    return addresses


def render_clean(only_run_id: Union[str, None] = None) -> str:
    """A script that deletes namespaces a harness run left (names ``nh<6 hex>-*``), and only those.

    It prints each namespace it deletes, one a line.
    """
    if only_run_id and not re.fullmatch(r"[0-9a-f]{6}", only_run_id):
        raise ValueError(f"run id {only_run_id!r} is not six hex digits (as in namespace nh3fa2c1-client)")
    return environment().get_template("clean.sh.j2").render(run_id=only_run_id or "")

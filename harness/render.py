"""Render a scenario into bash scripts with the Jinja2 templates in ``templates/``.

Quoting is structural: the environment's ``finalize`` shell-quotes every ``{{ }}`` value, so
nothing a scenario says reaches a shell unquoted, whatever a template author forgets; a value
with a newline or a control character becomes one ``$'...'`` word, so no value spans lines of
the script. Only values wrapped in ``ShellSafe`` by this module pass as they are.

The changes of the set-up and of each step are rendered phase by phase (``harness.actions.base.
PHASES``) through each action's template macros; each check through its kind's template
(``command`` and ``screen`` macros, see ``harness.checks.base``).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Union

import jinja2

from harness import __version__
from harness.actions import PHASES, Action
from harness.actions.sysctls import slash_key
from harness.batch import batched
from harness.checks import CHECK_KINDS, CheckSpec
from harness.checks.refused import RefusedCheck
from harness.model import Item, Scenario

PREFIX_RE = re.compile(r"^nh[0-9a-f]{6}-")
MARKER_WORD = "@@netns-harness"
# A macro of one phase may serve another ("create_stacked" links are made like others).
MACRO_OF_PHASE = {"create_stacked": "create", "link_stacked": "link"}
# Seconds the script may spend on one change (under TCG a command costs ~10-50 ms), and on
# set-up and tear-down beyond that, for its time budget.
CHANGE_S = 0.25
SCRIPT_OVERHEAD_S = 60


class ShellSafe(str):
    """A string already fit for the shell (quoted or a fixed word); ``finalize`` passes it through."""


_ANSI_C = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def shell_quote(value: str) -> str:
    """One shell word for ``value``: ``shlex.quote``, or ``$'...'`` when it has newlines or control
    characters (so a multi-line value stays on one line of the script)."""
    if not re.search(r"[\x00-\x1f\x7f]", value):
        return shlex.quote(value)
    if "\x00" in value:
        raise ValueError("a NUL byte cannot be passed to a command")
    body = "".join(_ANSI_C.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) == 127 else ch)
                   for ch in value)
    return f"$'{body}'"


def _finalize(value: Any) -> str:
    if isinstance(value, ShellSafe):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool reached a shell template; render it with an explicit if")
    return shell_quote(str(value))


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
    env.filters["ceil"] = lambda x: math.ceil(x)
    # Output of a macro of the same template: its values were quoted when it rendered.
    env.filters["rendered"] = lambda text: ShellSafe(text)
    return env


def environment() -> jinja2.Environment:
    """The Jinja2 environment (StrictUndefined, shell-quoting finalize) over ``templates_dir()``."""
    return _environment(str(templates_dir()))


@lru_cache(maxsize=None)
def _module(path: str, name: str):
    return _environment(path).get_template(name).module


def template_module(name: str):
    """The macros of template ``name`` (e.g. ``checks/ping.sh.j2``), cached."""
    return _module(str(templates_dir()), name)


@dataclass(frozen=True)
class PlannedCheck:
    """A check as it runs: its id (``s1c0``; ``s1e0`` for a refused change), display name,
    settings, ``within`` (seconds, or None) and step."""

    id: str
    name: str
    spec: CheckSpec
    step_index: int
    within: Optional[float] = None

    @property
    def kind(self) -> str:
        return self.spec.kind


@dataclass(frozen=True)
class Change:
    """Bash lines of one change; ``refusal`` when the kernel must refuse it (then the lines run as one group)."""

    text: str
    refusal: Optional[PlannedCheck] = None

    @property
    def chained(self) -> ShellSafe:
        """The lines joined with ``&&``: the group stops at the first command the kernel refuses."""
        return ShellSafe(" &&\n  ".join(line for line in self.text.splitlines() if line.strip()))


@dataclass(frozen=True)
class PlannedStep:
    """A step as it runs: position, name, changes, and checks (refusals first, then the step's checks)."""

    index: int
    name: str
    changes: list[Change]
    checks: list[PlannedCheck]

    @property
    def concurrent_checks(self) -> list[PlannedCheck]:
        """The step's own checks, which run side by side after its changes."""
        return [c for c in self.checks if c.kind != "refused"]


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

    def check(self, check_id: str) -> tuple[PlannedStep, PlannedCheck]:
        for planned in self.plan:
            for check in planned.checks:
                if check.id == check_id:
                    return planned, check
        raise KeyError(check_id)


class RenderContext:
    """What action and check macros see as ``r``: real namespace names and the harness's defaults."""

    def __init__(self, scenario: Scenario, namespaces: dict[str, str]):
        self.scenario = scenario
        self.ns = namespaces
        self._dad_on = _namespaces_with_dad(scenario)
        self._any_ipv6 = any(a.version == 6 for a in scenario_addresses(scenario))

    @staticmethod
    def slash_key(key: str) -> str:
        return slash_key(key)

    def namespace_sysctls(self, namespace) -> dict[str, str]:
        """The defaults, then the namespace's own namespace-wide sysctls (``{key: value}``)."""
        settings = dict(self.scenario.defaults.sysctls)
        if self._any_ipv6 and self.scenario.defaults.ipv6_nodad and namespace.name not in self._dad_on:
            # No DAD on link-local addresses either: while one is tentative a router cannot send
            # the neighbour solicitation for a packet it forwards, and the first pings are lost.
            settings.update({"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"})
        settings.update(namespace.global_sysctls())
        return settings

    def nodad(self, address) -> bool:
        """Whether an address gets ``nodad``: as it says, else the default unless its namespace runs DAD."""
        if address.version != 6:
            return False
        if address.nodad is not None:
            return address.nodad
        return self.scenario.defaults.ipv6_nodad and address.namespace not in self._dad_on


def _namespaces_with_dad(scenario: Scenario) -> set[str]:
    """Namespaces whose sysctls (anywhere in the scenario) turn IPv6 DAD on."""
    out = set()
    for item in scenario.items():
        action = item.action
        settings = getattr(action, "sysctls", None) or {}
        name = getattr(action, "name", None)
        if hasattr(action, "key"):  # a single Sysctl item
            settings, name = {action.key: action.value}, action.namespace
        for key, value in settings.items():
            if re.fullmatch(r"net\.ipv6\.conf\..+\.accept_dad", key) and str(value) != "0":
                out.add(name)
    return out


def new_run_id() -> str:
    """Six random hex digits: namespace names are ``nh<run_id>-<name>``."""
    return secrets.token_hex(3)


def check_display_name(check) -> str:
    """A check's name as shown: its ``name``, else its kind's title."""
    return check.name or check.spec.title()


def render_changes(items: list[Item], r: RenderContext, step_index: Optional[int]) -> tuple[list[Change], list[PlannedCheck]]:
    """The bash of ``items``' changes, phase by phase, and the refusal checks they carry."""
    changes: list[Change] = []
    refusals: list[PlannedCheck] = []
    # The plain changes since the last refusal, of every phase: batched as their namespaces allow.
    pending: list[str] = []

    def flush() -> None:
        if pending:
            changes.append(Change(ShellSafe(batched("".join(pending)))))
            pending.clear()

    for phase in PHASES:
        for item in items:
            action = item.action
            phases = action.phases()
            if phase not in phases:
                continue
            if not action.expect_error:
                text = _macro(action, phase, r)
                if text.strip():
                    pending.append(_tagged(text, item, r.scenario))
                continue
            if phase != phases[0]:
                continue  # a change that must be refused runs whole, at its first phase
            flush()
            text = "".join(_macro(action, p, r) for p in phases)
            spec = RefusedCheck(namespace=getattr(action, "namespace", None) or getattr(action, "name", ""),
                                change=action.summary(), pattern=action.expect_error)
            check = PlannedCheck(f"s{step_index}e{len(refusals)}", spec.title(), spec, step_index or 0)
            refusals.append(check)
            changes.append(Change(ShellSafe(text), check))
    flush()
    return changes, refusals


SOURCE_TAG = "# scenario line"
_SOURCE_TAG_RE = re.compile(r"# scenario line (\d+|\?): ([^\s']+)")


def _tagged(text: str, item: Item, scenario: Scenario) -> str:
    """Each command line with a comment naming the scenario line and field it comes from, so
    that a command that fails is reported where the user wrote it (see ``source_of_line``)."""
    from harness.loader import format_loc

    tag = f"  {SOURCE_TAG} {scenario.source_line(item.loc) or '?'}: {format_loc(item.loc)}"
    return "".join(line + tag + "\n" if line.strip() else line + "\n" for line in text.splitlines())


def source_of_line(script: str, line_no: int) -> Optional[str]:
    """``scenario line 23: routes[1]`` for the command on line ``line_no`` of a rendered script, if tagged."""
    lines = script.splitlines()
    if not 1 <= line_no <= len(lines):
        return None
    found = _SOURCE_TAG_RE.search(lines[line_no - 1])
    return f"scenario line {found[1]}: {found[2]}" if found else None


def _macro(action: Action, phase: str, r: RenderContext) -> str:
    module = template_module(action.template)
    macro = getattr(module, MACRO_OF_PHASE.get(phase, phase), None) or getattr(module, phase)
    return str(macro(action, r))


def plan_steps(scenario: Scenario, r: RenderContext) -> list[PlannedStep]:
    """Number the scenario's steps, render their changes, give each check an id."""
    plan = []
    for i, step in enumerate(scenario.all_steps):
        changes, refusals = render_changes(scenario.step_items(i), r, i)
        checks = [PlannedCheck(f"s{i}c{j}", check_display_name(check), check.spec, i, check.within)
                  for j, check in enumerate(step.checks)]
        plan.append(PlannedStep(i, step.name or f"step {i + 1}", changes, refusals + checks))
    return plan


def check_plan(scenario: Scenario) -> list[PlannedStep]:
    """The steps with their checks (ids, names, refusals included) as a run will have them."""
    return plan_steps(scenario, RenderContext(scenario, {n: n for n in scenario.namespace_names()}))


def script_timeout(scenario: Scenario) -> float:
    """Seconds a run script may take: every change, each step's slowest check (with its
    ``within``), and slack for set-up and tear-down."""
    total = SCRIPT_OVERHEAD_S + CHANGE_S * len(scenario.items())
    for step in scenario.all_steps:
        total += max(((c.within or 0) + c.spec.try_seconds() for c in step.checks), default=0)
    return total


def render(scenario: Scenario, run_id: Union[str, None] = None, capture_state: bool = False,
           load_modules: tuple[str, ...] = (), keep_namespaces: bool = False) -> RenderedScenario:
    """Render ``scenario`` for one run; ``run_id`` defaults to a fresh ``new_run_id()``.

    The run script keeps each namespace's state after a step whose checks look off (a
    check's screen says it does not hold), and when it stops on an error; ``capture_state``
    keeps it after every step. ``load_modules``: kernel modules the script loads first (only
    on a disposable target: loading one changes the whole kernel). ``keep_namespaces``: a
    run that ends normally leaves its namespaces (in a VM the harness may keep, for ``harness
    ssh --namespace``); one stopped by an error or a signal still tears down.

    Raises ``ValueError`` for a run id that is not six hex digits, ``jinja2.TemplateError``
    when a template is broken (a harness bug, not bad input).
    """
    run_id = run_id or new_run_id()
    if not re.fullmatch(r"[0-9a-f]{6}", run_id):
        raise ValueError(f"run id {run_id!r} is not six hex digits (as in namespace nh3fa2c1-client)")
    prefix = f"nh{run_id}-"
    marker = ShellSafe(f"{MARKER_WORD}:{run_id}")
    context = script_context(scenario, {name: prefix + name for name in scenario.namespace_names()})
    context.update(run_id=run_id, prefix=prefix, marker=marker, capture_state=capture_state,
                   load_modules=list(load_modules), keep_namespaces=keep_namespaces)
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


def render_repro(scenario: Scenario, check_names: dict[str, str]) -> str:
    """A standalone ``repro.sh``: set-up, every check judged in bash with expected/observed, tear-down.

    Namespaces get a random prefix when the script runs (``$H_PREFIX``), so it runs
    anywhere, any number of times. ``check_names`` maps check ids to display names.
    """
    # The prefix is chosen at run time: names become "${H_PREFIX}client" (names are [A-Za-z0-9_-]).
    namespaces = {name: ShellSafe(f'"${{H_PREFIX}}{name}"') for name in scenario.namespace_names()}
    context = script_context(scenario, namespaces)
    return environment().get_template("repro.sh.j2").render(context, names=check_names)


def script_context(scenario: Scenario, namespaces: dict[str, str]) -> dict:
    """What the run, set-up, tear-down and repro templates need, for namespace names ``namespaces``."""
    r = RenderContext(scenario, namespaces)
    setup, _ = render_changes(scenario.setup_items(), r, None)
    plan = plan_steps(scenario, r)
    kinds = sorted({c.kind for step in plan for c in step.checks})
    checks = {c.id: _check_parts(c, r) for step in plan for c in step.checks}
    return dict(scenario=scenario, ns=namespaces, r=r, setup_changes=setup, plan=plan, checks=checks,
                libs=[_lib(kind) for kind in kinds], version=__version__)


@dataclass(frozen=True)
class CheckParts:
    """A check's command line and screen (bash), rendered from its kind's template."""

    command: str
    screen: str
    expected: str


def _check_parts(check: PlannedCheck, r: RenderContext) -> CheckParts:
    module = template_module(f"checks/{check.kind}.sh.j2")
    return CheckParts(ShellSafe(str(module.command(check.spec, r)).strip()),
                      ShellSafe(str(module.screen(check.spec)).strip()),
                      json.dumps(check.spec.expected(), sort_keys=True))


def _lib(kind: str) -> ShellSafe:
    module = template_module(f"checks/{kind}.sh.j2")
    return ShellSafe(str(module.lib(CHECK_KINDS[kind])).strip("\n"))


def render_clean(only_run_id: Union[str, None] = None, lock_wait_s: float = 0) -> str:
    """A script that deletes namespaces a harness run left (names ``nh<6 hex>-*``), and only those.

    It prints each namespace it deletes, one a line. A run whose lock is held is live and kept;
    ``lock_wait_s`` (seconds) is how long to wait for the lock first (a run the harness just killed).
    Raises ``ValueError`` for a run id that is not six hex digits.
    """
    if only_run_id and not re.fullmatch(r"[0-9a-f]{6}", only_run_id):
        raise ValueError(f"run id {only_run_id!r} is not six hex digits (as in namespace nh3fa2c1-client)")
    return environment().get_template("clean.sh.j2").render(run_id=only_run_id or "",
                                                             lock_wait_s=f"{float(lock_wait_s):g}")


def scenario_addresses(scenario: Scenario) -> list:
    """Every address the scenario adds, in set-up or a step (``Address`` items)."""
    from harness.actions.addresses import Address

    return [i.action for i in scenario.items() if isinstance(i.action, Address)]

"""The scenario model: what a scenario file may say.

A scenario has a topology (its top-level sections: ``namespaces``, ``veths``, ``links``,
``addresses``, ``routes``, ``rules`` ...), checks, and ordered ``steps``, each with changes
(the same sections, plus ``sysctls`` and ``delete_*``) and checks. The sections come from
the step-action registry (``harness.actions``) and the check kinds from the check registry
(``harness.checks``): the ``Scenario``, ``Step`` and ``Check`` models are assembled from
them, so a new action or check kind needs no change here.

Cross-references (a route naming an interface that exists, ...) are checked in
``harness.references``; reading YAML with line numbers lives in ``harness.loader``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator, Literal, Optional

from pydantic import ConfigDict, Field, PrivateAttr, create_model, field_validator, model_validator

from harness.actions import SETUP_SECTIONS, STEP_SECTIONS, Action
from harness.checks import USER_CHECK_KINDS, CheckSpec
from harness.fields import Model, Seconds, SysctlKey, SysctlValue, described

KERNEL_RE = re.compile(r"\d+(\.\d+){0,2}")
FEATURES = ("vrf", "bridge", "bridge_vlan_filtering", "veth", "nftables", "ipv6", "dummy", "vlan", "macvlan",
            "vxlan", "bond", "nexthop", "netem")
NAME_PATTERN = described(r"^[A-Za-z0-9_.-]{1,100}$", "1-100 letters, digits, '_', '.' or '-'")
# A step's or a check's name: any text on one line that reports, JUnit and pytest ids can carry.
LABEL_PATTERN = described(r"^[^\x00-\x1f\x7f|`]{1,120}$", "1-120 characters, no control characters, '|' or '`'")


def _kernel(value: Optional[str]) -> Optional[str]:
    if value is not None and not KERNEL_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a kernel version such as 5.10 or 6.1.0")
    return value


class Requires(Model):
    """What the target must offer; an unmet need makes the scenario SKIP, never FAIL."""

    kernel: Optional[str] = Field(None, description="minimum kernel release, e.g. '5.10'")
    features: list[Literal[FEATURES]] = Field(default_factory=list)  # type: ignore[valid-type]
    tools: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list, description="kernel modules, e.g. br_netfilter")
    config: list[str] = Field(default_factory=list,
                              description="kernel config options that must be y or m, e.g. CONFIG_NET_VRF")

    _v_kernel = field_validator("kernel")(classmethod(lambda cls, v: _kernel(v)))

    @field_validator("config")
    @classmethod
    def _options(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"CONFIG_[A-Z0-9_]{1,100}", name):
                raise ValueError(f"{name!r} is not a kernel config option; write it as in the kernel's "
                                 "config file, e.g. CONFIG_NET_VRF")
        return value

    @field_validator("tools", "modules")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", name):
                raise ValueError(f"{name!r} is not a command or module name")
        return value


class ExpectedFailure(Model):
    """A known bug: the scenario is expected to FAIL (XFAIL); passing is reported as XPASS.

    ``kernel_below``: only on kernels older than this release (e.g. fixed in "6.5").
    """

    reason: str = Field(min_length=1, max_length=2000)
    ref: Optional[str] = Field(None, max_length=500, description="bug tracker link or commit that fixes it")
    kernel_below: Optional[str] = None

    _v_kernel = field_validator("kernel_below")(classmethod(lambda cls, v: _kernel(v)))


DEFAULT_SYSCTLS = {"net.ipv4.ip_forward": "0"}


class Defaults(Model):
    """What the harness adds on its own, and a scenario may change.

    ``sysctls``: written in every namespace before its own (default ``net.ipv4.ip_forward:
    0``: a new namespace would otherwise inherit IPv4 settings from the target's; ``{}``
    gives the kernel's own behaviour). ``ipv6_nodad``: IPv6 addresses skip duplicate
    address detection, and a namespace with IPv6 addresses gets ``accept_dad: 0``, unless
    its sysctls turn DAD on (default true: usable addresses at once).
    """

    sysctls: dict[SysctlKey, SysctlValue] = Field(default_factory=lambda: dict(DEFAULT_SYSCTLS))
    ipv6_nodad: bool = True


def _section_fields(sections: dict[str, type[Action]], required: tuple[str, ...] = ()) -> dict[str, Any]:
    fields = {}
    for key, cls in sections.items():
        annotation = cls.section_type()
        if key in required:
            fields[key] = (annotation, Field(..., min_length=1, description=cls.description))
        else:
            factory = dict if getattr(annotation, "__origin__", None) is dict else list
            fields[key] = (annotation, Field(default_factory=factory, description=cls.description))
    return fields


class CheckBase(Model):
    """A check: exactly one check kind (``ping``, ``route`` ...), an optional ``name`` and ``within``."""

    # For the JSON Schema: exactly one kind's key is given.
    model_config = ConfigDict(json_schema_extra=lambda schema: schema.update(
        oneOf=[{"required": [kind]} for kind in USER_CHECK_KINDS]))

    name: Optional[str] = Field(None, pattern=LABEL_PATTERN)
    within: Optional[Seconds] = Field(None, description="retry until the check holds, for at most this many "
                                                        "seconds (convergence, DAD)")

    @model_validator(mode="after")
    def _one_kind(self) -> "CheckBase":
        kinds = [k for k in USER_CHECK_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a check has exactly one of {', '.join(USER_CHECK_KINDS)} (found {kinds or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in USER_CHECK_KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> CheckSpec:
        return getattr(self, self.kind)


Check = create_model("Check", __base__=CheckBase, __doc__=CheckBase.__doc__,
                     **{kind: (Optional[cls], None) for kind, cls in USER_CHECK_KINDS.items()})


class StepBase(Model):
    """A step: changes (applied phase by phase, see ``harness.actions.base``), then checks run concurrently."""

    name: Optional[str] = Field(None, pattern=LABEL_PATTERN)


Step = create_model("Step", __base__=StepBase, __doc__=StepBase.__doc__,
                    **_section_fields(STEP_SECTIONS), checks=(list[Check], Field(default_factory=list)))


@dataclass(frozen=True)
class Item:
    """One change of a scenario: where it is written (``loc``: field path), in which step (None:
    set-up), the action, and the top-level item it comes from (itself unless derived)."""

    loc: tuple
    step: Optional[int]
    action: Action
    origin: Action


def section_items(container: Any, sections: dict[str, type[Action]], prefix: tuple,
                  step: Optional[int]) -> Iterator[Item]:
    """Every item of ``container``'s sections, derived ones after the item they come from."""

    def walk(loc: tuple, action: Action, origin: Action) -> Iterator[Item]:
        yield Item(loc, step, action, origin)
        for sub_loc, sub in action.derived():
            yield from walk(loc + sub_loc, sub, origin)

    for key, cls in sections.items():
        value = getattr(container, key)
        for loc, action in cls.section_items(value):
            yield from walk(prefix + (key,) + loc, action, action)


class ScenarioBase(Model):
    """A whole scenario file: topology, then ordered steps of changes and checks.

    Top-level ``checks`` are shorthand for a single step placed before ``steps``.
    """

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field("", max_length=4000)
    # The line of each field path in the file it was read from (set by the loader).
    _lines: dict = PrivateAttr(default_factory=dict)
    requires: Requires = Field(default_factory=Requires)
    xfail: Optional[ExpectedFailure] = None
    defaults: Defaults = Field(default_factory=Defaults)

    @model_validator(mode="after")
    def _something_to_check(self) -> "ScenarioBase":
        if not self.checks and not any(step.checks for step in self.steps):
            raise ValueError("a scenario needs at least one check (top-level 'checks' or in 'steps')")
        return self

    @cached_property
    def all_steps(self) -> list[Any]:
        """Steps in run order, the top-level checks first as their own step."""
        first = [Step(name="checks", checks=self.checks)] if self.checks else []
        return first + list(self.steps)

    @property
    def first_step_offset(self) -> int:
        """1 when the top-level checks form step 0 of ``all_steps``, else 0."""
        return 1 if self.checks else 0

    @cached_property
    def _items_by_step(self) -> list[list[Item]]:
        # Computed once: validation, rendering and the feature probe all walk the items.
        steps = self.all_steps
        out = [list(section_items(self, self._as_written(SETUP_SECTIONS, ()), (), None))]
        for index, step in enumerate(steps):
            written = index - self.first_step_offset
            prefix = ("steps", written) if written >= 0 else ("checks",)
            out.append(list(section_items(step, self._as_written(STEP_SECTIONS, prefix), prefix, index)))
        return out

    def _as_written(self, sections: dict[str, type[Action]], prefix: tuple) -> dict[str, type[Action]]:
        """``sections`` in the order the file gives them (within a phase, items apply as written)."""
        if not self._lines:
            return sections
        return dict(sorted(sections.items(), key=lambda kv: self._lines.get(prefix + (kv[0],), 10**9)))

    def setup_items(self) -> list[Item]:
        """The set-up's changes (top-level sections), derived items included."""
        return list(self._items_by_step[0])

    def step_items(self, index: int) -> list[Item]:
        """The changes of ``all_steps[index]``, derived items included."""
        return list(self._items_by_step[index + 1])

    def items(self) -> list[Item]:
        """Every change of the scenario: set-up first, then step by step."""
        return [item for items in self._items_by_step for item in items]

    def items_in_run_order(self) -> list[Item]:
        """Every change in the order the run makes them: set-up, then step by step, each phase
        by phase (``harness.actions.base.PHASES``: deletions first), as written within a phase."""
        from harness.actions.base import PHASES

        out = []
        for items in self._items_by_step:
            first = {id(i): PHASES.index(i.action.phases()[0]) if i.action.phases() else -1 for i in items}
            out += sorted(items, key=lambda i: first[id(i)])  # a stable sort keeps the written order
        return out

    def source_line(self, loc: tuple) -> Optional[int]:
        """The line of the file the field at ``loc`` (or its nearest enclosing field) was read from."""
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self._lines:
                return self._lines[loc[:cut]]
        return None

    def namespace_names(self) -> list[str]:
        """Every namespace the scenario creates, in set-up or in a step, in order."""
        names: list[str] = []
        for item in self.items():
            names += [n for n in item.action.namespaces_created() if n not in names]
        return names


Scenario = create_model(
    "Scenario", __base__=ScenarioBase, __doc__=ScenarioBase.__doc__,
    **_section_fields(SETUP_SECTIONS, required=("namespaces",)),
    checks=(list[Check], Field(default_factory=list)),
    steps=(list[Step], Field(default_factory=list)),
)

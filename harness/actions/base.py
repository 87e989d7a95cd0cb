"""What every step action (a change to the network) has: a model, a template, its phases.

An action kind is one module in ``harness/actions/`` with an ``Action`` subclass per scenario
section it serves (``routes``, ``delete_routes`` ...) and one template
``templates/actions/MODULE.sh.j2`` whose macros are named after the phases the action works
in: ``macro create(a, r)``, ``macro address(a, r)`` ... Each macro prints the commands of one
item for that phase; ``r`` is the render context (``r.ns`` maps scenario namespace names to
the run's real ones).

Set-up (the scenario's top-level sections) and every step apply their changes phase by
phase, in ``PHASES`` order, each phase's items in the order written: deletions first (the
reverse of creation), then namespaces, sysctls, links, masters, per-interface sysctls, link
settings, addresses, neighbour entries, nexthop objects, routes, rules, firewall rules, traffic
control.

An item may say ``expect_error``: the kernel must refuse it. Its commands then run as one
group whose refusal is judged as a check (PASS when refused with a matching message, FAIL
when accepted), and the run goes on.

Subclassing with a ``section`` registers the section (see ``harness.actions.SECTIONS``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, NamedTuple, Optional

from pydantic import Field

from harness.fields import Model, Ref, Regex

PHASES = (
    "delete_qdisc", "delete_rule", "delete_route", "delete_nexthop", "delete_neighbour", "delete_address",
    "delete_link", "delete_namespace",
    "namespace", "sysctl", "create", "create_stacked", "attach", "if_sysctl", "link", "address", "neighbour",
    "nexthop", "route", "rule", "firewall", "qdisc",
)


class Declared(NamedTuple):
    """An interface an item creates: the field that names it, its namespace, name and kind."""

    field: tuple
    namespace: str
    interface: str
    kind: str


SECTIONS: dict[str, type["Action"]] = {}


class Action(Model):
    """Base of every change a scenario makes. Subclasses set ``section`` and ``template``."""

    section: ClassVar[str] = ""
    template: ClassVar[str] = ""
    # Where the section may appear: the top level (set-up), steps, or both.
    in_setup: ClassVar[bool] = True
    in_steps: ClassVar[bool] = True
    description: ClassVar[str] = ""
    # The phases this kind of item works in: its template has a macro of each name.
    PHASES: ClassVar[tuple[str, ...]] = ()

    expect_error: Optional[Regex] = Field(
        None, description="the kernel must refuse this change with a message matching this "
                          "POSIX extended regular expression (a plain substring works)")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("section"):
            SECTIONS[cls.section] = cls

    # -- the section's shape in YAML --------------------------------------------------

    @classmethod
    def section_type(cls) -> Any:
        """The type of the section's value (a list of items unless a subclass says otherwise)."""
        return list[cls]

    @classmethod
    def section_items(cls, value: Any) -> list[tuple[tuple, "Action"]]:
        """The section's items with their field path below the section (``(0,)``, ``("client",)``)."""
        return [((i,), item) for i, item in enumerate(value)]

    # -- what subclasses provide ----------------------------------------------------

    def phases(self) -> tuple[str, ...]:
        """The phases this item works in (each a macro of its template), in ``PHASES`` order."""
        return self.PHASES

    def summary(self) -> str:
        """The change in a few words, as iproute2 would say it: ``route add default via 10.0.0.1``."""
        raise NotImplementedError

    def references(self) -> Iterator[Ref]:
        """Namespaces and interfaces the item names (checked against the scenario)."""
        namespace = getattr(self, "namespace", None)
        if namespace:
            yield Ref(("namespace",), namespace)

    def declares(self) -> Iterator[Declared]:
        """Interfaces the item creates (so later items and checks may name them)."""
        return iter(())

    def derived(self) -> list[tuple[tuple, "Action"]]:
        """Items this one implies, with the field path they come from (a veth end's
        ``addresses`` become ``Address`` items). Rendered in their own phases."""
        return []

    def features(self) -> tuple[str, ...]:
        """Kernel features the item needs (``harness.facts.FEATURE_PROBES`` names); unmet: SKIP."""
        return ()

    def tools(self) -> tuple[str, ...]:
        """Commands the item needs on the target beside ip and sysctl; missing: SKIP."""
        return ()

    def namespaces_created(self) -> list[str]:
        """Namespaces the item creates (torn down at the end of the run)."""
        return []

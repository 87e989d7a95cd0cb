"""``firewall``: a namespace's nftables ruleset, loaded with ``nft -f -``.

The ruleset replaces whatever the namespace had (``flush ruleset`` first, in the same
atomic transaction), so a step's ``firewall`` swaps the rules. The text reaches ``nft`` on
its standard input, one shell word: nothing in it is read by the shell.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from harness.actions.base import Action
from harness.fields import NsName


class Firewall(Action):
    """An nftables ruleset for a namespace (replacing the one it has)."""

    section = "firewall"
    template = "actions/firewall.sh.j2"
    PHASES = ("firewall",)
    description = "nftables rulesets: {namespace, nft}"

    namespace: NsName
    nft: str = Field(min_length=1, max_length=1_000_000)

    @field_validator("nft")
    @classmethod
    def _self_contained(cls, value: str) -> str:
        # An include reads a file of the target: the ruleset would depend on the machine.
        if re.search(r"(?m)^\s*include\s", value):
            raise ValueError("an nft 'include' reads a file of the target: write its rules into the ruleset")
        return value

    def features(self) -> tuple[str, ...]:
        return ("nftables",)

    def tools(self) -> tuple[str, ...]:
        return ("nft",)

    def summary(self) -> str:
        return "nft -f (ruleset)"

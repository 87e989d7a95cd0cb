"""What every check kind has: a model of its settings, a command, a judge, a screen.

A check kind is one module in ``harness/checks/`` with one ``CheckSpec`` subclass (its
fields, ``title``, ``expected``, ``judge``) and one template ``templates/checks/KIND.sh.j2``
with two macros:

- ``command(c, r)``: the command line, run on the target (``r.ns[...]`` maps scenario
  namespace names to the run's real ones);
- ``screen(c)``: the body of a bash function that returns 0 when the check holds, reading
  ``$1`` (exit code), ``$2`` (stdout file) and ``$3`` (stderr file). It decides the
  ``within`` retries, which steps keep their namespace state, and ``repro.sh``'s verdicts;
  the Python ``judge`` has the last word, and the tests hold the two to agreeing.

Subclassing registers the kind under its ``kind`` name (see ``harness.checks.CHECK_KINDS``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Optional

import regex

from harness.fields import Model, Ref  # noqa: F401 - Ref is part of this module's API
from harness.protocol import CheckOutput

PASS, FAIL, ERROR, SKIP, XFAIL, XPASS = "PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS"

# Seconds one try of a check may take when its kind names no deadline of its own.
DEFAULT_TRY_S = 5.0


@dataclass(frozen=True)
class Verdict:
    """A check's outcome: ``status``, what was ``expected`` and ``observed`` (JSON-able dicts), and why."""

    status: str
    expected: dict[str, Any]
    observed: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


KINDS: dict[str, type["CheckSpec"]] = {}


class CheckSpec(Model):
    """Base of every check kind's settings. Subclasses set ``kind`` and implement the judge."""

    kind: ClassVar[str] = ""
    # False for kinds the harness makes itself (a change's expected refusal).
    user_facing: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            KINDS[cls.kind] = cls

    # -- what subclasses provide ----------------------------------------------------

    @property
    def where(self) -> str:
        """The scenario namespace the check's command runs in."""
        return self.namespace  # type: ignore[attr-defined]

    def title(self) -> str:
        """A readable default name, e.g. ``ping client -> 192.168.100.1 ttl=63``."""
        raise NotImplementedError

    def expected(self) -> dict[str, Any]:
        """What must hold, as a JSON-able dict (shown beside ``observed`` when it does not)."""
        return self.model_dump(exclude_none=True, by_alias=True, exclude={"namespace"})

    def judge(self, output: CheckOutput) -> Verdict:
        """The verdict on one run of the command. Never raises on odd output: that is ERROR."""
        raise NotImplementedError

    def references(self) -> Iterator[Ref]:
        """Namespaces and interfaces this check names (checked against the scenario)."""
        yield Ref(("namespace",), self.where)

    def tools(self) -> tuple[str, ...]:
        """Commands the check runs on the target beside ip, ping and sysctl; missing: SKIP."""
        return ()

    def try_seconds(self) -> float:
        """The longest one run of the command may take, in seconds (for the script's time budget)."""
        return DEFAULT_TRY_S

    @classmethod
    def parse_output(cls, stdout: str, stderr: str) -> Any:
        """The command's output as data (for bug-report bundles); None when there is nothing to parse."""
        return None

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        """A few words on what a passing check saw (``3/3 replies, ttl 64``); may be empty."""
        return ""


class JsonListingCheck(CheckSpec):
    """Base of the checks that read a list of objects from an ``ip -json ... show`` (iproute2
    4.15+): the listing, or the ERROR verdict when the command failed for another reason than
    ``gone`` (a pattern of its stderr meaning there is nothing to list, e.g. a device that does
    not exist) or printed no JSON."""

    tool: ClassVar[str] = "ip"  # the command, as messages name it
    gone: ClassVar[Optional[str]] = None

    @classmethod
    def parse_output(cls, stdout: str, stderr: str) -> Any:
        try:
            return json.loads(stdout) if stdout.strip() else []
        except ValueError:
            return None

    def listing(self, output: CheckOutput) -> tuple[Optional[list], Optional[Verdict]]:
        """``(objects, None)``, or ``(None, the ERROR verdict)``."""
        if output.exit_code != 0:
            if self.gone and matches(self.gone, output.stderr):
                return [], None
            return None, Verdict(ERROR, self.expected(), {"exit_code": output.exit_code},
                                 f"{self.tool} failed: {output.stderr.strip()[:300]}")
        listed = self.parse_output(output.stdout, output.stderr)
        if not isinstance(listed, list):
            return None, Verdict(ERROR, self.expected(), {}, f"cannot read {self.tool}'s JSON output")
        return listed, None

    def settings_verdict(self, expected: dict, observed: dict, wanted: dict, wrong: list[str], what: str) -> Verdict:
        """The verdict on the one object found (a link, a nexthop): ``wrong`` lists the keys of
        ``wanted`` that ``observed`` does not hold. For ``expect: absent`` an object with other
        settings is not the one that must be absent, so it PASSes."""
        if getattr(self, "expect", "present") == "absent":
            if wrong:
                return Verdict(PASS, expected, observed)
            return Verdict(FAIL, expected, observed, f"{what} is present")
        if wrong:
            return Verdict(FAIL, expected, observed, f"the {what.split()[0]} differs: " + ", ".join(
                f"{k} {observed[k]} (expected {wanted[k]})" for k in wrong))
        return Verdict(PASS, expected, observed)


_ERE_SPECIAL = re.compile(r"([.\[\]{}()\\*+?^$|])")


def ere_escape(text: str) -> str:
    """``text`` as a POSIX extended regular expression matching it literally (bash ``=~``,
    ``grep -E``, awk and Python ``re`` all read the result the same way)."""
    return _ERE_SPECIAL.sub(r"\\\1", text)


_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "punct": r"!-/:-@\[-`{-~",
    "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e",
}


def python_regex(ere: str) -> str:
    """A POSIX ERE as GNU ``grep -E`` reads it, written for Python ``re``: ``[[:digit:]]`` ->
    ``[0-9]``, ``\\<``/``\\>`` -> word boundaries."""
    text = re.sub(r"\[:([a-z]+):\]", lambda m: _POSIX_CLASSES.get(m[1], m[0]), ere)
    return text.replace(r"\<", r"\b(?=\w)").replace(r"\>", r"\b(?<=\w)")


# How long one pattern may take over one check's output (seconds): `grep -E` answers in linear
# time, a backtracking matcher can take forever on nested repetition such as ^(a+)+$.
MATCH_TIMEOUT_S = 2.0


class PatternTooSlow(ValueError):
    """A pattern took longer than ``MATCH_TIMEOUT_S`` over an output (the check is ERROR)."""


def matches(pattern: Optional[str], text: str) -> bool:
    """Does ``pattern`` (POSIX ERE, as ``grep -E``) match some line of ``text``? None matches anything.

    Line by line, as ``grep`` reads it (so ``\\s`` or ``[^x]`` never span two lines). Matched with
    the ``regex`` module under a time limit; raises ``PatternTooSlow`` past ``MATCH_TIMEOUT_S``."""
    if pattern is None:
        return True
    compiled = regex.compile(python_regex(pattern))
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    try:
        return any(compiled.search(line, timeout=max(deadline - time.monotonic(), 0.001))
                   for line in text.split("\n"))
    except TimeoutError:
        raise PatternTooSlow(f"the pattern {pattern!r} took over {MATCH_TIMEOUT_S:.0f} s on this output "
                             "(nested repetition such as (a+)+ backtracks): write it without") from None

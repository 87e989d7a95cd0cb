"""Check kinds: one module each (its model, judge and template), found through one registry.

``CHECK_KINDS`` maps a kind's YAML key (``ping``, ``route``, ``link`` ...) to its
``CheckSpec`` subclass. Every module in this package is imported here, so adding a kind is
adding its module and its template ``templates/checks/KIND.sh.j2``; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from harness.checks.base import (ERROR, FAIL, KINDS, PASS, SKIP, XFAIL, XPASS, CheckSpec, Ref, Verdict,
                                 matches)
from harness.protocol import CheckOutput

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"{__name__}.{_module}")

CHECK_KINDS: dict[str, type[CheckSpec]] = dict(sorted(KINDS.items()))
USER_CHECK_KINDS: dict[str, type[CheckSpec]] = {k: v for k, v in CHECK_KINDS.items() if v.user_facing}

__all__ = ["CHECK_KINDS", "USER_CHECK_KINDS", "CheckSpec", "Ref", "Verdict", "judge", "status_of", "matches",
           "PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS"]


def judge(spec: CheckSpec, output: CheckOutput) -> Verdict:
    """Judge one check from its command's output; an unexpected exception in a judge is ERROR."""
    try:
        return spec.judge(output)
    except Exception as exc:  # noqa: BLE001 - a judge bug must not lose the other checks' results
        return Verdict(ERROR, spec.expected(), {"exit_code": output.exit_code},
                       f"the {spec.kind} judge failed on this output: {type(exc).__name__}: {exc}")


def status_of(statuses: list[str]) -> str:
    """A scenario's status from its checks': ERROR beats FAIL beats PASS; none at all is ERROR."""
    if not statuses:
        return ERROR
    for status in (ERROR, FAIL):
        if status in statuses:
            return status
    return PASS

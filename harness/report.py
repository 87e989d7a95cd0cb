"""Show results: a terminal report and the ``--json`` results file."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterable

from harness import __version__
from harness.checks import PASS
from harness.runner import CheckResult, ScenarioResult


def _indent(text: str, by: int) -> str:
    return textwrap.indent(text.rstrip("\n"), " " * by)


def _observed_brief(check: CheckResult) -> str:
    """A few words on what a passing check saw (its kind's ``brief``), and how long ``within`` took."""
    from harness.checks import CHECK_KINDS

    kind = CHECK_KINDS.get(check.kind)
    words = [kind.brief(check.observed)] if kind else []
    if check.tries > 1:
        words.append(f"held after {check.duration_s:.2f} s, {check.tries} tries")
    return ", ".join(w for w in words if w)


def format_check(check: CheckResult, verbose: bool = False) -> str:
    """One check as text; a non-PASS check also shows expected, observed and the raw output."""
    seen = f" ({_observed_brief(check)})" if check.status == PASS and _observed_brief(check) else ""
    lines = [f"    {check.status:<5} {check.name}{seen}" + (f": {check.reason}" if check.reason else "")]
    if check.status != PASS or verbose:
        lines.append(f"          expected: {json.dumps(check.expected, sort_keys=True)}")
        lines.append(f"          observed: {json.dumps(check.observed, sort_keys=True)}")
        if check.command:
            lines.append(f"          command:  {check.command}")
        raw = (check.stdout + check.stderr).strip()
        if raw and check.status != PASS:
            lines.append(_indent(raw, 12))
    return "\n".join(lines)


def format_scenario(result: ScenarioResult, verbose: bool = False) -> str:
    """A scenario's verdict, then its checks step by step."""
    head = f"{result.status:<5} {result.name} ({len(result.checks)} checks, {result.duration_s:.2f} s)"
    if result.reason:
        head += f": {result.reason}"
    lines = [head]
    if verbose and result.description:
        lines.append(f"  ({result.description})")
    if result.kernel_warnings:
        lines.append("  kernel log during the run reports trouble:")
        lines += [f"    ! {line}" for line in result.kernel_warnings]
    step = None
    for check in result.checks:
        if check.step != step:
            step = check.step
            lines.append(f"  {step}")
        lines.append(format_check(check, verbose))
    return "\n".join(lines)


def summary_line(results: Iterable[ScenarioResult]) -> str:
    """``3 passed, 1 failed, 0 errors, 1 skipped`` over scenarios."""
    results = list(results)
    count = lambda s: sum(r.status == s for r in results)  # noqa: E731
    line = (f"{count('PASS')} passed, {count('FAIL')} failed, {count('ERROR')} errors, "
            f"{count('SKIP')} skipped")
    extra = [f"{count(s)} {s.lower()}" for s in ("XFAIL", "XPASS") if count(s)]
    return ", ".join([line, *extra])


# Version of the results file's layout (``harness schema results``): raised when a field is
# renamed or removed; adding a field keeps it.
SCHEMA_VERSION = 1


def write_json(path: Path, results: list[ScenarioResult], target: dict[str, Any]) -> None:
    """Write the results file (``-``: standard output): schema version, harness version, target
    facts, and per-scenario, per-check results."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "target": target,
        "summary": summary_line(results),
        "scenarios": [r.to_dict() for r in results],
    }
    text = json.dumps(document, indent=2) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        path.write_text(text, encoding="utf-8")


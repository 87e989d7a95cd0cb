"""Show results: a terminal report and the ``--json`` results file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Iterable, Optional

from harness import __version__
from harness.checks import PASS
from harness.runner import CheckResult, ScenarioResult


def _indent(text: str, by: int) -> str:
    return textwrap.indent(text.rstrip("\n"), " " * by)


def _observed_brief(check: CheckResult) -> str:
    """A few words on what a passing check saw: replies, TTL, RTT."""
    o = check.observed
    if check.kind == "ping" and o.get("received"):
        words = [f"{o['received']}/{o['transmitted']} replies"]
        words += [f"ttl {','.join(map(str, o['ttl']))}"] if o.get("ttl") else []
        words += [f"rtt max {o['rtt_max_ms']} ms"] if o.get("rtt_max_ms") is not None else []
        return ", ".join(words)
    return ""


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


def write_json(path: Path, results: list[ScenarioResult], target: dict[str, Any],
               timings: Optional[dict[str, float]] = None) -> None:
    """Write the results file: harness version, target facts, the run's phase ``timings``
    (seconds; see ``format_timings``), and per-scenario, per-check results."""
    document = {
        "harness_version": __version__,
        "target": target,
        "summary": summary_line(results),
        "timings": timings or {},
        "scenarios": [r.to_dict() for r in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")



def format_timings(run: dict[str, float], results: Iterable[ScenarioResult]) -> str:
    """Where a run's time went (``--timings``), in seconds: the target's phases (``run``: box
    build or cache hit, define, boot, ssh, snapshot save, restore, facts, destroy), each
    scenario's total and its own phases (set-up, steps, tear-down, when the script reports
    them), and the first verdict (from the start of the run to the first scenario's result)."""
    results = list(results)
    lines = ["timings (seconds):"]
    # In the order they happened (the target records them so); destroy comes last.
    before = [p for p in run if p not in ("destroy", "first_verdict")]
    width = max([len(p) for p in before] + [len(r.name) + 2 for r in results] + [len("first verdict after")])
    for phase in before:
        lines.append(f"  {phase:<{width}} {run[phase]:8.2f}")
    lines.append(f"  {'scenarios':<{width}} {sum(r.timings.get('total', 0.0) for r in results):8.2f}")
    for r in results:
        own = ", ".join(f"{k} {v:.2f}" for k, v in r.timings.items() if k != "total")
        total = r.timings.get("total", 0.0)
        lines.append(f"    {r.name:<{width - 2}} {total:8.2f}" + (f"  ({own})" if own else ""))
    if "destroy" in run:
        lines.append(f"  {'destroy':<{width}} {run['destroy']:8.2f}")
    if "first_verdict" in run:
        lines.append(f"  {'first verdict after':<{width}} {run['first_verdict']:8.2f}")
    return "\n".join(lines)

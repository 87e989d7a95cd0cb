"""Show results: a terminal report and the ``--json`` results file.

Everything shown comes from scenario files and from the target (tool output, error
messages), so text is neutralised on the way out: control characters (an escape sequence
in a check name could redraw a FAIL line as PASS) and bidirectional overrides are shown
as ``\\x1b``-style escapes, never sent raw to the terminal.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from harness import __version__
from harness.runner import CheckResult, ScenarioResult

PASS = "PASS"

# C0 and C1 controls, DEL, and the Unicode bidirectional controls ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any) -> str:
    """``text`` fit for a terminal or a Markdown file: newlines and tabs kept, every other
    control character (ESC, CR, BEL, backspace, C1, bidi overrides) shown as ``\\x1b`` / ``\\u202e``."""
    return _UNSAFE.sub(_escape, str(text))


def one_line(text: Any) -> str:
    """Like ``printable`` but newlines and tabs are escaped too: for names, reasons, table cells."""
    return _UNSAFE_ONE_LINE.sub(_escape, str(text))


# The run script's ERR trap (templates/run.sh.j2) reports the command that stopped it so.
_TRAP_LINE = re.compile(r"^netns-harness: command failed \(exit (\d+)\) at line (\d+): (.*)$")


@dataclass(frozen=True)
class ScriptFailure:
    """The command that stopped a run script: its text as bash saw it, exit code, script
    line, and the stderr lines it printed just before the trap's message (at most 20)."""

    command: str
    exit_code: int
    line: int
    stderr: list[str]


def script_failure(script_stderr: str) -> Optional[ScriptFailure]:
    """The first failure the run script's ERR trap reported in ``script_stderr``, or None.

    Later trap messages are dropped: they come from tear-down after the first failure.
    """
    lines = script_stderr.splitlines()
    for index, line in enumerate(lines):
        m = _TRAP_LINE.match(line)
        if m:
            own = [l for l in lines[:index] if l.strip()][-20:]
            return ScriptFailure(m.group(3), int(m.group(1)), int(m.group(2)), own)
    return None


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
    brief = _observed_brief(check) if check.status == PASS else ""
    seen = f" ({one_line(brief)})" if brief else ""
    lines = [f"    {check.status:<5} {one_line(check.name)}{seen}" + (f": {one_line(check.reason)}" if check.reason else "")]
    if check.status != PASS or verbose:
        lines.append(f"          expected: {json.dumps(check.expected, sort_keys=True)}")
        lines.append(f"          observed: {json.dumps(check.observed, sort_keys=True)}")
        if check.command:
            lines.append(f"          command:  {one_line(check.command)}")
        raw = (check.stdout + check.stderr).strip()
        if raw and check.status != PASS:
            lines.append(_indent(printable(raw), 12))
    return "\n".join(lines)


def format_script_failure(failure: ScriptFailure) -> list[str]:
    """Lines naming the command that stopped the run script and what it printed on stderr."""
    lines = [f"  the script stopped at: {one_line(failure.command)} (exit code {failure.exit_code}, "
             f"script line {failure.line})"]
    lines += [f"    {one_line(line)}" for line in failure.stderr] or ["    (it printed nothing on stderr)"]
    return lines


def format_scenario(result: ScenarioResult, verbose: bool = False) -> str:
    """A scenario's verdict, then the command that stopped its script (if one did), then its checks step by step.

    Lines that nft quoted from files on the target are left out (``redact_result``): CI logs are shared too.
    """
    result = redact_result(result)
    head = f"{result.status:<5} {one_line(result.name)} ({len(result.checks)} checks, {result.duration_s:.2f} s)"
    if result.reason:
        head += f": {one_line(result.reason)}"
    lines = [head]
    if verbose and result.description:
        lines.append(f"  ({one_line(result.description)})")
    failure = script_failure(result.script_stderr) if result.status != PASS else None
    if failure:
        lines += format_script_failure(failure)
    if result.kernel_warnings:
        lines.append("  kernel log during the run reports trouble:")
        lines += [f"    ! {one_line(line)}" for line in result.kernel_warnings]
    step = None
    for check in result.checks:
        if check.step != step:
            step = check.step
            lines.append(f"  {one_line(step)}")
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


# nft quotes the offending line of the file it was reading, and an `include "/etc/x"` makes
# that a file of the target: such lines stay on the target.
_FOREIGN_SOURCE = re.compile(r"^(?!/dev/stdin:|-:|stdin:)[^\s:][^:\n]*:\d+:\d+(?:-\d+)?: (?:Error|Warning): ")
_CARETS = re.compile(r"^\s*[\^~]+\s*$")


def foreign_source_lines(stderr: str) -> list[str]:
    """Lines of target files that nft quoted in its error messages (after an
    ``/path:LINE:COL: Error:`` location of a file other than its stdin), in order."""
    lines = stderr.splitlines()
    quoted = []
    for index, line in enumerate(lines[:-1]):
        if _FOREIGN_SOURCE.match(line) and not _CARETS.match(lines[index + 1]):
            quoted.append(lines[index + 1])
    return quoted


def redact_result(result: ScenarioResult) -> ScenarioResult:
    """``result`` with every line that nft quoted from a target file replaced by a note.

    The lines are found in the script's stderr and the checks' stderr and removed from every
    text the result holds (the reason repeats stderr lines). Returns a copy; ``result`` stays.
    """
    import dataclasses

    texts = [result.script_stderr] + [c.stderr for c in result.checks]
    quoted = sorted({line for text in texts for line in foreign_source_lines(text) if line.strip()},
                    key=len, reverse=True)
    if not quoted:
        return result

    def scrub(text: str) -> str:
        for line in quoted:
            text = text.replace(line, "[a line of a file on the target, not copied]")
        return text

    checks = [dataclasses.replace(c, stdout=scrub(c.stdout), stderr=scrub(c.stderr), reason=scrub(c.reason))
              for c in result.checks]
    return dataclasses.replace(result, reason=scrub(result.reason), script_stderr=scrub(result.script_stderr),
                               checks=checks)


# Version of the results file's layout (``harness schema results``): raised when a field is
# renamed or removed; adding a field keeps it.
SCHEMA_VERSION = 1


def write_json(path: Path, results: list[ScenarioResult], target: dict[str, Any],
               timings: Optional[dict[str, float]] = None) -> None:
    """Write the results file (``-``: standard output): schema version, harness version, target
    facts, the run's phase ``timings`` (seconds; see ``format_timings``), and per-scenario,
    per-check results. Lines that nft quoted from files on the target are left out
    (``redact_result``)."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "target": target,
        "summary": summary_line(results),
        "timings": timings or {},
        "scenarios": [redact_result(r).to_dict() for r in results],
    }
    text = json.dumps(document, indent=2) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        path.write_text(text, encoding="utf-8")


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

"""Run scenarios on a target: render, run the script once, split its output, judge each check."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from harness.checks import ERROR, FAIL, PASS, SKIP, XFAIL, XPASS, Verdict, judge, status_of
from harness.facts import Facts, expected_failure, needs, probe_tools, unmet_needs
from harness.model import Check, Scenario
from harness.protocol import CheckOutput, RunOutput, parse_run_output
from harness.render import RenderedScenario, render
from harness.targets.base import ExecResult, Target, TargetError

# Time a run script may take beyond its checks' own deadlines (set-up, tear-down), seconds.
SCRIPT_OVERHEAD_S = 60


@dataclass
class CheckResult:
    """One check's verdict with the raw material it was judged on (durations in seconds)."""

    id: str
    name: str
    kind: str
    step: str
    status: str
    reason: str
    expected: dict[str, Any]
    observed: dict[str, Any]
    command: str = ""
    exit_code: Optional[int] = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0


@dataclass
class ScenarioResult:
    """A scenario's outcome: ``status`` (PASS, FAIL, ERROR, SKIP), ``reason``, its checks, the script's stderr."""

    name: str
    file: str
    status: str
    reason: str = ""
    description: str = ""
    run_id: str = ""
    duration_s: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    script_exit_code: Optional[int] = None
    script_stderr: str = ""
    state: dict[str, str] = field(default_factory=dict)
    kernel_log: str = ""
    kernel_warnings: list[str] = field(default_factory=list)
    # Seconds per phase: "total" (the run script, end to end) and the script's own phases.
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the namespace state dumps (large; bundles keep them as files)."""
        data = asdict(self)
        data.pop("state")
        return data

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status != PASS]


def check_name(check: Check) -> str:
    """A readable default name: ``ping client -> 192.168.100.1``, ``route client default via X``."""
    if check.name:
        return check.name
    c = check.spec
    if check.kind == "ping":
        words = [f"ping {c.from_} -> {c.to}"]
        words += [f"from {c.source or c.interface}"] if (c.source or c.interface) else []
        words += [f"vrf {c.vrf}"] if c.vrf else []
        words += [f"ttl={c.ttl}"] if c.ttl else []
        words += ["unreachable"] if c.expect == "unreachable" else []
    elif check.kind == "route":
        words = [f"route {c.namespace} {c.dst}"]
        words += [f"via {c.via}"] if c.via else []
        words += [f"dev {c.dev}"] if c.dev else []
        words += [f"table {c.table}"] if c.table is not None else []
        words += [f"vrf {c.vrf}"] if c.vrf else []
        words += [c.expect]
    else:
        words = [f"path {c.namespace} -> {c.to}"]
        words += [f"via {c.via}"] if c.via else []
        words += [f"dev {c.dev}"] if c.dev else []
        words += ["unreachable"] if c.expect == "unreachable" else []
    return " ".join(words)


def script_timeout(scenario: Scenario) -> float:
    """Seconds the run script may take: the checks' deadlines, step by step, plus set-up slack."""
    total = SCRIPT_OVERHEAD_S
    for step in scenario.all_steps:
        total += max((c.spec.deadline if c.kind == "ping" else 5 for c in step.checks), default=0)
    return total


# Kernel log lines worth a human's eye even when every check passed.
KERNEL_TROUBLE = re.compile(r"WARNING:|BUG:|Oops|general protection fault|Call Trace:|kernel panic|RIP:")


def kernel_warnings(kernel_log: str) -> list[str]:
    """Lines of a ``dmesg`` excerpt that report a kernel WARN, BUG, oops or panic."""
    return [line for line in kernel_log.splitlines() if KERNEL_TROUBLE.search(line)]


def judge_output(rendered: RenderedScenario, result: ExecResult, output: RunOutput) -> list[CheckResult]:
    """Judge every planned check from the split script output; checks that never ran are ERROR."""
    results = []
    for planned in rendered.plan:
        for check_id, check in planned.checks:
            got: Optional[CheckOutput] = output.checks.get(check_id)
            if got is None:
                verdict = Verdict(ERROR, {}, {}, _why_not_run(output, planned.index, result))
                got = CheckOutput(check_id, -1, "", "", "", 0.0)
            else:
                verdict = judge(check, got)
            results.append(
                CheckResult(
                    id=check_id, name=check_name(check), kind=check.kind, step=planned.name,
                    status=verdict.status, reason=verdict.reason, expected=verdict.expected,
                    observed=verdict.observed, command=got.command,
                    exit_code=None if got.exit_code < 0 else got.exit_code,
                    stdout=got.stdout, stderr=got.stderr, duration_s=got.duration_s,
                )
            )
    return results


def _why_not_run(output, step_index: int, result: ExecResult) -> str:
    # The failing command's own message, then the script's "command failed at line N: CMD".
    last_error = " | ".join([l.strip() for l in result.stderr.splitlines() if l.strip()][-2:])
    if output.last_step is None or output.last_step < step_index:
        where = "set-up" if output.last_step is None else f"step {output.last_step + 1}"
        return f"not run: the script stopped in {where} (exit code {result.exit_code}): {last_error}"
    return f"not run: the script stopped during this step (exit code {result.exit_code}): {last_error}"


def run_scenario(
    scenario: Scenario,
    target: Target,
    *,
    file: Union[str, Path] = "",
    facts: Optional[Facts] = None,
    run_id: Optional[str] = None,
    capture_state: bool = False,
) -> ScenarioResult:
    """Run one validated scenario on ``target`` and judge it.

    SKIP when ``facts`` show an unmet need; ERROR (never PASS) when the target fails
    part-way. ``capture_state`` keeps every namespace's state after every step (for a
    bundle); without it only steps whose checks look off keep theirs. A ``KeyboardInterrupt`` propagates after the run's namespaces are removed.
    """
    result = ScenarioResult(name=scenario.name, file=str(file), status=PASS, description=scenario.description)
    if facts is not None:
        probe_tools(target, facts, needs(scenario)[2])
        reasons = unmet_needs(scenario, facts)
        if reasons:
            result.status, result.reason = SKIP, "; ".join(reasons)
            return result
    rendered = render(scenario, run_id, capture_state=capture_state)
    result.run_id = rendered.run_id
    start = time.monotonic()
    try:
        executed = target.run(rendered.run, timeout=script_timeout(scenario))
    except TargetError as exc:
        result.status, result.reason = ERROR, str(exc)
        _teardown_quietly(target, rendered)
        return result
    except KeyboardInterrupt:
        _teardown_quietly(target, rendered)
        raise
    finally:
        result.duration_s = round(time.monotonic() - start, 3)
        result.timings["total"] = result.duration_s
    result.script_exit_code, result.script_stderr = executed.exit_code, executed.stderr
    output = parse_run_output(executed.stdout, rendered.marker)
    result.checks = judge_output(rendered, executed, output)
    result.state = {name[6:]: text for name, text in output.sections.items() if name.startswith("state/")}
    result.kernel_log = output.sections.get("kernel-log", "")
    result.kernel_warnings = kernel_warnings(result.kernel_log)
    result.status = status_of([c.status for c in result.checks])
    if result.status == ERROR:
        result.reason = next(c.reason for c in result.checks if c.status == ERROR)
    elif executed.exit_code != 0:
        result.status = ERROR
        result.reason = f"the run script exited {executed.exit_code}: {executed.stderr.strip()[-500:]}"
    known_bug = expected_failure(scenario, facts)
    if known_bug and result.status in (PASS, FAIL):
        # A declared known bug: failing is expected (XFAIL); passing is news (XPASS).
        result.status = XFAIL if result.status == FAIL else XPASS
        result.reason = f"expected failure: {known_bug}"
    return result


def _teardown_quietly(target: Target, rendered: RenderedScenario) -> None:
    """Belt and braces after an interrupted run: the script's trap should have done this."""
    try:
        target.run("set +e\n" + rendered.teardown, timeout=30)
    except (TargetError, OSError):
        pass

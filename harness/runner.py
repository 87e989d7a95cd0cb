"""Run scenarios on a target: render, run the script once, split its output, judge each check."""

from __future__ import annotations

import re
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from harness.checks import ERROR, FAIL, PASS, SKIP, XFAIL, XPASS, Verdict, judge, status_of
from harness.facts import Facts, expected_failure, needs, probe_features, probe_tools, unmet_needs
from harness.model import Scenario
from harness.protocol import CheckOutput, RunOutput, parse_run_output
from harness.batch import batch_source
from harness.render import RenderedScenario, render, script_timeout, source_of_line
from harness.targets.base import ExecResult, Target, TargetError


@dataclass
class CheckResult:
    """One check's verdict with the raw material it was judged on (durations in seconds; ``tries``:
    how many times it ran, more than 1 only with ``within``)."""

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
    tries: int = 1
    # Whether the run script's screen saw the check hold (it drives `within` and repro.sh; the
    # judge above has the last word); None when the check never ran.
    screen_held: Optional[bool] = None


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
    # Seconds per phase: "total" (the run script, end to end), then the script's own phases from
    # its marks: "setup", "step 0", "step 1", ..., "teardown".
    timings: dict[str, float] = field(default_factory=dict)
    # Why what the run left on the target could not be removed after it died (else empty).
    cleanup_problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Everything but the namespace state dumps (large; bundles keep them as files)."""
        data = asdict(self)
        data.pop("state")
        return data

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status != PASS]


# Kernel log lines worth a human's eye even when every check passed.
KERNEL_TROUBLE = re.compile(r"WARNING:|BUG:|Oops|general protection fault|Call Trace:|kernel panic|RIP:")


def kernel_warnings(kernel_log: str) -> list[str]:
    """Lines of a ``dmesg`` excerpt that report a kernel WARN, BUG, oops or panic."""
    return [line for line in kernel_log.splitlines() if KERNEL_TROUBLE.search(line)]


def judge_output(rendered: RenderedScenario, result: ExecResult, output: RunOutput) -> list[CheckResult]:
    """Judge every planned check from the split script output; checks that never ran are ERROR."""
    results = []
    for planned in rendered.plan:
        for check in planned.checks:
            got: Optional[CheckOutput] = output.checks.get(check.id)
            if got is None:
                verdict = Verdict(ERROR, check.spec.expected(), {}, _why_not_run(output, planned.index, rendered, result))
                got = CheckOutput(check.id, -1, "", "", "", 0.0)
            else:
                verdict = judge(check.spec, got)
                if check.within and verdict.status == PASS:
                    verdict.observed["held_after_s"] = round(got.duration_s, 3)
            if got.tries > 1:
                verdict.observed["tries"] = got.tries
            results.append(
                CheckResult(
                    id=check.id, name=check.name, kind=check.kind, step=planned.name,
                    status=verdict.status, reason=verdict.reason, expected=verdict.expected,
                    observed=verdict.observed, command=got.command,
                    exit_code=None if got.exit_code < 0 else got.exit_code,
                    stdout=got.stdout, stderr=got.stderr, duration_s=got.duration_s, tries=got.tries,
                    screen_held=got.held,
                )
            )
    return results


def phase_durations(marks: dict[str, float]) -> dict[str, float]:
    """Seconds from each phase mark to the next (``{"setup": 0.08, "step 0": 0.05, ..., "teardown": 0.02}``)."""
    order = sorted((t, name) for name, t in marks.items())
    out = {}
    for (start, name), (end, _next) in zip(order, order[1:]):
        if name not in ("done", "teardown end"):
            out[name] = round(end - start, 3)
    return out


def failed_change(rendered: RenderedScenario, stderr: str) -> str:
    """What stopped a run script: the failing command's own message and where the scenario
    says it (``scenario line 23: routes[1]``), from the script's ERR trap line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    trap = next((i for i in range(len(lines) - 1, -1, -1) if re.match(r"netns-harness: command failed", lines[i])), None)
    if trap is None:
        return " | ".join(lines[-2:])
    found = re.search(r"at line (\d+): (.*)$", lines[trap])
    source = source_of_line(rendered.run, int(found[1])) if found else None
    message = " | ".join(lines[max(0, trap - 4):trap]) or "(no message)"
    command = found[2] if found else lines[trap]
    failed = next((re.match(r"Command failed -:(\d+)$", l) for l in reversed(lines[:trap])
                   if l.startswith("Command failed -:")), None)
    if found and failed:  # a command of an ip -batch: name it, and where the scenario says it
        line = batch_source(rendered.run, int(found[1]), int(failed[1]))
        if line:
            source = source_of_line(line, 1)
            command = re.sub(r"\s*# scenario line.*$", "", line.strip().strip("\\").strip().strip("'"))
            message = " | ".join(l for l in lines[max(0, trap - 4):trap] if not l.startswith("Command failed"))
    return f"{message} [{source or 'the script'}: {command}]"


def _why_not_run(output, step_index: int, rendered: RenderedScenario, result: ExecResult) -> str:
    why = failed_change(rendered, result.stderr)
    if output.last_step is None or output.last_step < step_index:
        where = "in set-up" if output.last_step is None else f"in step {output.last_step + 1}"
    else:
        where = "during this step"
    return f"not run: {how_it_ended(result.exit_code, where)}" + (f": {why}" if why else "")


def how_it_ended(exit_code: int, where: str = "", script: str = "the script") -> str:
    """``the script stopped in set-up (exit code 2)``, or ``the script was killed by SIGKILL in
    set-up`` for a negative code (Popen's -N: signal N ended it). ``where``: "in set-up" etc."""
    where = f" {where}" if where else ""
    if exit_code >= 0:
        return f"{script} stopped{where} (exit code {exit_code})"
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        name = f"signal {-exit_code}"
    return f"{script} was killed by {name}{where}"


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
        _kernel, features, tools = needs(scenario)
        probe_tools(target, facts, tools)
        probe_features(target, facts, features, scenario.requires.modules, scenario.requires.config)
        reasons = unmet_needs(scenario, facts, loads_modules=target.disposable)
        if reasons:
            result.status, result.reason = SKIP, "; ".join(reasons)
            return result
    disposable = target.disposable
    # A VM the harness may keep after a failure keeps the run's namespaces too (harness.lifecycle).
    keep = bool(getattr(target, "keeps_namespaces", False))
    rendered = render(scenario, run_id, capture_state=capture_state,
                      load_modules=tuple(scenario.requires.modules) if disposable else (), keep_namespaces=keep)
    result.run_id = rendered.run_id
    start = time.monotonic()
    try:
        executed = target.run(rendered.run, timeout=script_timeout(scenario))
    except TargetError as exc:
        result.status, result.reason = ERROR, str(exc)
        if exc.partial is not None:  # keep the verdicts of the checks that came back before it
            result.checks = _judge_partial(rendered, exc.partial, str(exc))
            result.script_stderr = exc.partial.stderr
        _aftermath(target, result)
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
    result.timings.update(phase_durations(output.marks))
    result.state = {name[6:]: text for name, text in output.sections.items() if name.startswith("state/")}
    result.kernel_log = output.sections.get("kernel-log", "")
    result.kernel_warnings = kernel_warnings(result.kernel_log)
    result.status = status_of([c.status for c in result.checks])
    if result.status == ERROR:
        result.reason = next(c.reason for c in result.checks if c.status == ERROR)
    elif executed.exit_code != 0:
        result.status = ERROR
        why = failed_change(rendered, executed.stderr)[-500:]
        result.reason = how_it_ended(executed.exit_code, script="the run script") + (f": {why}" if why else "")
    left = keep and executed.exit_code == 0   # the script ended normally and left its namespaces
    if result.status == ERROR and not left:
        _aftermath(target, result)
    known_bug = expected_failure(scenario, facts)
    if known_bug and result.status in (PASS, FAIL):
        # A declared known bug: failing is expected (XFAIL); passing is news (XPASS).
        result.status = XFAIL if result.status == FAIL else XPASS
        result.reason = f"expected failure: {known_bug}"
    if left:
        target.namespaces_left(result, rendered.namespaces)
    return result


def _judge_partial(rendered: RenderedScenario, partial: ExecResult, why: str) -> list[CheckResult]:
    """The checks of a run the target lost: those whose output came back judged, the rest ERROR."""
    output = parse_run_output(partial.stdout, rendered.marker)
    checks = judge_output(rendered, partial, output)
    for check in checks:
        if check.id not in output.checks:
            check.reason = f"not run: {why}"
    return checks


def _aftermath(target: Target, result: ScenarioResult) -> None:
    """After a run that did not end cleanly: remove what it left, fetch the kernel log it missed
    (``harness.cleanup``); say in ``result.cleanup_problem`` when the target cannot be reached."""
    from harness.cleanup import clean_after

    result.cleanup_problem = clean_after(target, result) or ""


def _teardown_quietly(target: Target, rendered: RenderedScenario) -> None:
    """Belt and braces after an interrupted run: the script's trap should have done this."""
    try:
        target.run("set +e\n" + rendered.teardown, timeout=30)
    except (TargetError, OSError):
        pass

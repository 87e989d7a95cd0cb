"""Shared by the kind tests: run a scenario on the local target and hold every check's bash
screen to its Python judge; run one kind's screen on a captured output.

Every check of every run made through ``run()`` must have ``screen_held`` equal to
``status == PASS`` (the screen drives ``within``, the state dumps and repro.sh; the judge has
the last word): a disagreement fails the test with the kind, the check's settings and the
output, so it can be filed as it is.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.checks import CHECK_KINDS, PASS, judge
from harness.facts import gather_facts
from harness.loader import parse_scenario
from harness.model import Check
from harness.protocol import CheckOutput
from harness.render import environment, template_module
from harness.runner import CheckResult, ScenarioResult, run_scenario
from harness.targets.local import LocalTarget

DATA = Path(__file__).resolve().parent / "data"


# --------------------------------------------------------------------------- fixtures (import them)

@pytest.fixture(scope="module")
def target():
    """The local target (root needed), one per test module."""
    with LocalTarget() as t:
        yield t


@pytest.fixture(scope="module")
def facts(target):
    """The local target's facts (kernel, tools, features), gathered once per module."""
    return gather_facts(target)


# --------------------------------------------------------------------------- real runs

def run(text: str, target, facts, *, agree: bool = True, **kwargs) -> ScenarioResult:
    """Parse ``text`` (dedented YAML), run it on ``target`` and, unless ``agree`` is False,
    assert that every check's screen agrees with its judge."""
    scenario = parse_scenario(textwrap.dedent(text), "kind-test.yaml")
    result = run_scenario(scenario, target, facts=facts, **kwargs)
    if agree:
        assert_agree(result)
    return result


def disagreements(result: ScenarioResult) -> list[str]:
    """Checks whose screen (``screen_held``) and judge (``status == PASS``) disagree, described
    for a bug report; checks that never ran (``screen_held`` None) are left out."""
    out = []
    for c in result.checks:
        if c.screen_held is None or c.screen_held == (c.status == PASS):
            continue
        out.append(f"{c.kind} check {c.name!r} in step {c.step!r}: judge {c.status} ({c.reason}), screen says "
                   f"{'held' if c.screen_held else 'not held'}\n  expected: {json.dumps(c.expected)}\n"
                   f"  command: {c.command}\n  exit code: {c.exit_code}\n  stdout: {c.stdout!r}\n"
                   f"  stderr: {c.stderr!r}")
    return out


def assert_agree(result: ScenarioResult) -> None:
    found = disagreements(result)
    assert not found, "screen and judge disagree:\n" + "\n".join(found)


def checks_by_name(result: ScenarioResult) -> dict[str, CheckResult]:
    """The run's checks by display name (names are unique in these tests' scenarios)."""
    named = {c.name: c for c in result.checks}
    assert len(named) == len(result.checks), "check names repeat: " + str([c.name for c in result.checks])
    return named


def assert_marked_statuses(result: ScenarioResult) -> dict[str, CheckResult]:
    """Checks named ``pass: ...`` must PASS and ``fail: ...`` must FAIL (with a reason); returns
    the checks by name for the finer assertions."""
    named = checks_by_name(result)
    wrong = []
    for name, c in named.items():
        want = "PASS" if name.startswith("pass:") else "FAIL" if name.startswith("fail:") else None
        if want and c.status != want:
            wrong.append(f"{name}: {c.status} ({c.reason})\n  observed: {json.dumps(c.observed)}\n"
                         f"  command: {c.command}\n  stdout: {c.stdout!r}\n  stderr: {c.stderr!r}")
        if want == "FAIL" and not c.reason:
            wrong.append(f"{name}: FAIL without a reason")
    assert not wrong, f"{len(wrong)} check(s) not as marked:\n" + "\n".join(wrong)
    return named


# --------------------------------------------------------------------------- one screen, one output

def spec_of(kind: str, fields: dict[str, Any]):
    """The validated settings of one check of ``kind`` (as written in a scenario)."""
    return Check.model_validate({kind: fields}).spec


def screens_hold(cases: list[tuple[Any, int, str, str]]) -> list[bool]:
    """Whether each ``(spec, exit_code, stdout, stderr)``'s bash screen says the check holds, as
    the run script decides it (``set -Eeuo pipefail``, the shared helpers, each kind's library),
    all in one bash."""
    kinds = sorted({spec.kind for spec, *_ in cases})
    lib = environment().get_template("lib.sh.j2").render()
    libs = "\n".join(str(template_module(f"checks/{k}.sh.j2").lib(CHECK_KINDS[k])) for k in kinds)
    with tempfile.TemporaryDirectory() as tmp:
        body = [f"set -Eeuo pipefail\nexport LC_ALL=C\nH_OUT={tmp}\n{lib}\n{libs}"]
        for i, (spec, exit_code, stdout, stderr) in enumerate(cases):
            Path(tmp, f"{i}.out").write_text(stdout)
            Path(tmp, f"{i}.err").write_text(stderr)
            screen = str(template_module(f"checks/{spec.kind}.sh.j2").screen(spec)).strip()
            body.append(f"h_screen_{i}() {{ {screen}; }}\n"
                        f"if h_screen_{i} {int(exit_code)} {tmp}/{i}.out {tmp}/{i}.err; then echo {i} held; "
                        f"else echo {i} not-held; fi")
        done = subprocess.run(["bash", "-c", "\n".join(body)], capture_output=True, text=True, timeout=120)
    verdicts = dict(line.split() for line in done.stdout.splitlines())
    assert done.returncode == 0 and len(verdicts) == len(cases), done.stdout + done.stderr
    return [verdicts[str(i)] == "held" for i in range(len(cases))]


def judge_record(spec, record: dict):
    """The judge's verdict on a captured output (a record of tests/data/kind-outputs.json)."""
    return judge(spec, CheckOutput("t", record["exit_code"], record["command"], record["stdout"], record["stderr"],
                                   0.0))


def records() -> dict[str, dict]:
    """tests/data/kind-outputs.json by id (see tests/data/capture_kind_outputs.py)."""
    data = json.loads((DATA / "kind-outputs.json").read_text())
    return {r["id"]: r for r in data["records"]}


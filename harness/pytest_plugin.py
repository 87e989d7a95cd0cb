"""pytest plugin: every ``*.yaml`` in a ``scenarios/`` directory is a test.

``pytest scenarios/ --target local --junitxml results.xml`` runs each scenario file as one
test; a failure report lists each check's verdict, expected and observed values and raw
output. One target (and so one VM) serves the whole session.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import pytest

from harness.checks import SKIP
from harness.loader import ScenarioError, load_scenario
from harness.report import format_scenario

_TARGET = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netns-harness")
    group.addoption("--target", "--harness-target", dest="harness_target", default="local",
                    help="where scenarios run: local (default), vagrant, ssh://user@host[:port]")
    group.addoption("--box", dest="harness_box", default=None, help="vagrant: the box to boot")
    group.addoption("--box-kernel", dest="harness_box_kernel", default=None,
                    help="vagrant: build (or reuse) a local libvirt box with this Debian kernel package")
    group.addoption("--destroy", dest="harness_destroy", default=None, choices=["always", "passing", "never"],
                    help="vagrant: when to destroy the VM (default passing)")
    group.addoption("--reuse", dest="harness_reuse", action="store_true", default=None,
                    help="vagrant: run on the VM that is already up")
    group.addoption("--identity", dest="harness_identity", default=None, help="ssh: private key file")
    group.addoption("--known-hosts", dest="harness_known_hosts", default=None, help="ssh: known_hosts file")
    group.addoption("--harness-json", dest="harness_json", default=None, help="write results as JSON here")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TARGET] = {"target": None, "facts": None, "results": []}


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> Optional[pytest.Collector]:
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == "scenarios":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailed(Exception):
    """Raised by a scenario item whose status is FAIL or ERROR; carries the text report."""


def _session_target(config: pytest.Config):
    state = config.stash[_TARGET]
    if state["target"] is None:
        from harness.facts import gather_facts
        from harness.targets import get_target

        options = {
            key: getattr(config.option, f"harness_{key}")
            for key in ("box", "box_kernel", "destroy", "reuse", "identity", "known_hosts")
            if getattr(config.option, f"harness_{key}") is not None
        }
        state["target"] = get_target(config.option.harness_target, **options)
        # Booting a VM takes a while: show its progress live, not in the captured output.
        capture = config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            state["facts"] = gather_facts(state["target"])
    return state["target"], state["facts"]


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        from harness.runner import run_scenario

        try:
            scenario = load_scenario(self.path)
        except ScenarioError as err:
            raise ScenarioFailed(f"invalid scenario (nothing was run):\n{err}") from None
        target, facts = _session_target(self.config)
        result = run_scenario(scenario, target, file=self.path, facts=facts)
        self.config.stash[_TARGET]["results"].append(result)
        self.user_properties.append(("status", result.status))
        for check in result.checks:
            self.user_properties.append((f"check {check.id} {check.name}", check.status))
        if result.status == SKIP:
            pytest.skip(result.reason)
        if result.status == "XFAIL":
            pytest.xfail(result.reason)
        if result.status == "XPASS":
            # pytest's own XPASS comes from markers; say it in the report instead.
            self.add_report_section("call", "harness", f"XPASS: {result.reason}")
            return
        if result.status != "PASS":
            raise ScenarioFailed(format_scenario(result))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"scenario {self.name}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_TARGET, None)
    if not state or state["target"] is None:
        return
    target = state["target"]
    try:
        if session.config.option.harness_json:
            from harness.report import write_json

            write_json(Path(session.config.option.harness_json), state["results"],
                       {**target.describe(), **state["facts"].to_dict()})
        if hasattr(target, "set_outcome"):
            target.set_outcome(passed=session.testsfailed == 0)
    finally:
        target.close()

"""pytest plugin: scenario files are collected, and each check is its own test result.

``pytest scenarios/ --harness-target local --junitxml out.xml``: every scenario file found by
the ``harness_scenarios`` globs (default ``scenarios/*.yaml scenarios/*.yml``), and any YAML
file named on the command line, becomes one item per check
(``scenarios/veth-pair.yaml::ping host -> 10.0.0.2 ttl=64``; with steps,
``STEP/CHECK``). The scenario runs once, when its first selected check comes up; ``-k``
selects checks by name, ``-m "not vrf"`` by the kernel features the scenario needs.
A check that FAILs fails its item (the failure names the check, expected, observed, the
command and its output); an ERROR verdict or a target error is an error of the item, in
one line. One target (and so one VM) serves the whole session.

Every option has an ini setting of the same name (``harness_target = vagrant`` in
``pytest.ini`` or ``[tool.pytest.ini_options]``); the command line wins. All are prefixed
``--harness-`` so the plugin sits beside pytest-embedded, pytest-testinfra and others.

Under pytest-xdist a scenario's checks stay on one worker (``-n N`` implies
``--dist loadfile``), and the controller writes one ``--harness-json`` with every worker's
scenarios and timings. On the Vagrant target every worker gets a VM of its own (a VM slot of
the box, ``harness.targets.vagrant``). ``--harness-isolate scenario`` gives every scenario a
fresh copy of the VM. The kernel matrix (``--harness-kernels``) lives in ``harness.pytest_matrix``.
"""

from __future__ import annotations

import contextlib
import json
import re
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from harness.bundle import DEFAULT_BUNDLE_DIR
from harness.checks import ERROR, FAIL, SKIP, XFAIL, XPASS
from harness.loader import ScenarioError, load_scenario

# The options and ini settings, and the kernel matrix's VMs, are plugins of their own
# (pytest imports them after this module, so this module imports neither at the top).
pytest_plugins = ["harness.pytest_settings", "harness.pytest_matrix"]

_STATE = pytest.StashKey["SessionState"]()
_WORKER_OUTPUT_KEY = "netns_harness_results"
# Marker names for the kernel features a scenario needs (harness.facts.needs), for -m.
FEATURE_MARKERS = ("netns", "veth", "vrf", "bridge", "nftables", "ipv6")


def setting(config: pytest.Config, name: str) -> Any:
    """An option's value (``harness.pytest_settings``): the command line, else the ini setting, else None."""
    value = config.getoption(name, None)
    if value is None:
        value = config.getini(name)
    return value or None


@contextlib.contextmanager
def uncaptured(config: pytest.Config):
    """Live output (vagrant progress) during an item, on a line of its own."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None and not hasattr(config, "workerinput"):
            reporter.ensure_newline()
        yield


def _matrix(config: pytest.Config):
    """The kernel matrix plugin (``harness.pytest_matrix``)."""
    return config.pluginmanager.getplugin("harness.pytest_matrix")


@dataclass
class SessionState:
    """This process's target and results (an xdist worker ships its results to the controller)."""

    target: Any = None
    facts: Any = None
    target_error: Optional[str] = None
    results: list = field(default_factory=list)
    shipped: list = field(default_factory=list)  # controller: {"results", "target", "timings"} from each worker
    started_at: float = field(default_factory=time.time)  # epoch seconds: this process's session start
    facts_s: Optional[float] = None            # seconds the facts took (the target's own phases aside)
    first_verdict_at: Optional[float] = None   # epoch seconds of this process's first scenario result
    ran_scenarios: int = 0                     # scenarios run on the session target (for --harness-isolate)
    kept: list = field(default_factory=list)   # how to reach the VMs kept (this process's and the workers')


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = SessionState()
    for feature in FEATURE_MARKERS:
        config.addinivalue_line("markers", f"{feature}: a netns-harness scenario that needs kernel feature {feature}")
    destroy = setting(config, "harness_destroy")
    if destroy not in (None, "always", "passing", "never"):
        raise pytest.UsageError(f"harness_destroy = {destroy}: use always, passing or never")
    _check_vm_settings(config)
    if not setting(config, "harness_kernels"):  # the kernel matrix groups items by kernel itself
        _keep_scenarios_on_one_worker(config)


def _check_vm_settings(config: pytest.Config) -> None:
    """Refuse, before anything boots, what cannot work: an unknown isolation, a fresh VM per
    scenario without VMs, and xdist workers sharing one reused VM."""
    isolate = setting(config, "harness_isolate")
    if isolate not in (None, "run", "scenario"):
        raise pytest.UsageError(f"harness_isolate = {isolate}: use run or scenario")
    target = setting(config, "harness_target") or "local"
    if isolate == "scenario":
        if setting(config, "harness_kernels"):
            raise pytest.UsageError("--harness-isolate scenario is not supported with --harness-kernels: "
                                    "the kernel matrix boots one VM per kernel for all its scenarios")
        if target != "vagrant":
            raise pytest.UsageError(f"--harness-isolate scenario needs a VM target (--harness-target vagrant), "
                                    f"not {target}")
        if setting(config, "harness_reuse"):
            raise pytest.UsageError("--harness-isolate scenario gives every scenario a fresh VM and --harness-reuse "
                                    "runs them on a kept one (which a fresh copy would replace): give one of them")
    workers = getattr(config.option, "numprocesses", None) or 0
    if target == "vagrant" and setting(config, "harness_reuse") and isinstance(workers, int) and workers > 1:
        raise pytest.UsageError(f"--harness-reuse with -n {workers}: every worker would run on the one kept VM, "
                                "and the first to finish would destroy or keep it under the others; without "
                                "--harness-reuse each worker gets a VM of its own")


def _keep_scenarios_on_one_worker(config: pytest.Config) -> None:
    """A scenario runs once, so its checks must not be spread over xdist workers."""
    dist = getattr(config.option, "dist", "no")
    if dist == "load":  # what -n N implies
        config.option.dist = "loadfile"
    elif dist == "worksteal":
        raise pytest.UsageError("netns-harness runs a scenario's checks together: use --dist loadfile "
                                "(what -n N implies here), loadscope or loadgroup, not worksteal")


# -- collection ----------------------------------------------------------------------------


def _looks_like_scenario(path: Path) -> bool:
    """A scenario declares namespaces and checks or steps at the top level; other YAML is not ours."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return bool(re.search(r"(?m)^namespaces:", text) and re.search(r"(?m)^(checks|steps):", text))


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> Optional[pytest.Collector]:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if parent.session.isinitpath(file_path):  # named on the command line: always a scenario
        return ScenarioFile.from_parent(parent, path=file_path)
    globs = parent.config.getini("harness_scenarios")
    if any(file_path.match(pattern) for pattern in globs) and _looks_like_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _node_name(text: str) -> str:
    """A check name fit for a node id: '::' separates node ids and '[' starts parameters."""
    return text.replace("::", "\u2237").replace("[", "(").replace("]", ")")


def check_items_names(scenario) -> list[tuple[str, str]]:
    """``(check id, item name)`` per check, in run order: ``STEP/CHECK``, or ``CHECK`` when the
    scenario has only top-level checks; duplicates get `` #2``, `` #3``."""
    from harness.render import check_plan

    plan = check_plan(scenario)
    only_checks = len(plan) == 1 and not scenario.steps
    names, seen = [], {}
    for planned in plan:
        for check in planned.checks:
            name = _node_name(check.name if only_checks else f"{planned.name}/{check.name}")
            seen[name] = seen.get(name, 0) + 1
            names.append((check.id, name if seen[name] == 1 else f"{name} #{seen[name]}"))
    return names


class ScenarioFile(pytest.File):
    """A scenario file: one ``CheckItem`` per check (and kernel, in the matrix); it runs once per target."""

    def collect(self):
        from harness.facts import needs

        try:
            scenario = load_scenario(self.path)
        except ScenarioError as err:
            yield InvalidScenario.from_parent(self, name="invalid scenario", error=err)
            return
        self.scenario = scenario
        # kernel (None: the session's target) -> (ScenarioResult, its bundle or None), or what the run raised
        self.runs: dict[Optional[str], Any] = {}
        _kernel, features, _tools = needs(scenario)
        for kernel in _matrix(self.config).kernel_ids(self.config):
            for check_id, name in check_items_names(scenario):
                item = CheckItem.from_parent(self, name=name if kernel is None else f"{name}[{kernel}]",
                                             check_id=check_id, kernel=kernel)
                for feature in features:
                    if feature in FEATURE_MARKERS:
                        item.add_marker(feature)
                if self.config.pluginmanager.hasplugin("xdist"):  # --dist loadgroup: one kernel or file per worker
                    item.add_marker(pytest.mark.xdist_group(name=kernel or str(self.path)))
                yield item

    def result(self, kernel: Optional[str]) -> tuple[Any, Optional[Path]]:
        """The scenario's result on ``kernel``'s target and its bundle, running it on first use.

        Raises ``TargetError`` when the target cannot be reached (every later call says so at once).
        """
        if kernel not in self.runs:
            try:
                self.runs[kernel] = _run(self, kernel)
            except Exception as exc:  # a harness bug: every check of the scenario reports it, none re-runs it
                self.runs[kernel] = exc
        if isinstance(self.runs[kernel], Exception):
            raise self.runs[kernel]
        return self.runs[kernel]


class InvalidScenario(pytest.Item):
    """The one item of a scenario file that does not validate: it fails with the loader's message."""

    def __init__(self, *, error: ScenarioError, **kwargs):
        super().__init__(**kwargs)
        self.funcargs: dict = {}  # as CheckItem's
        self.error = error

    def runtest(self) -> None:
        _matrix(self.config).record_invalid(self.config, self.path, self.error)
        raise HarnessFailure(f"invalid scenario (nothing was run):\n{self.error}")

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}: invalid scenario"


class HarnessFailure(Exception):
    """A check that did not hold, or an invalid scenario: reported as its text, no traceback."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class CheckItem(pytest.Item):
    """One check of a scenario (on one kernel, in the matrix)."""

    def __init__(self, *, check_id: str, kernel: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        # No fixtures; but pytest-embedded's pytest_runtest_call reads item.funcargs of every item.
        self.funcargs: dict = {}
        self.check_id = check_id
        self.kernel = kernel  # a --harness-kernels id, or None for the session's one target

    def setup(self) -> None:
        """Run the scenario (once for all its checks); a target error or an ERROR verdict errors the item."""
        from harness.targets.base import TargetError

        try:
            result, self.bundle = self.parent.result(self.kernel)
        except TargetError as exc:
            problem = f"target error: {_one_line(exc)}"
        else:
            problem = None
        if problem:  # outside the except block: one line, no "during handling of ..." chain
            pytest.fail(problem, pytrace=False)
        self.scenario_result = result
        self.check = next((c for c in result.checks if c.id == self.check_id), None)
        self.user_properties.append(("scenario status", result.status))
        if self.check is not None:
            self.user_properties.append(("check status", self.check.status))
        if self.bundle:
            self.user_properties.append(("bundle", str(self.bundle)))
        if result.status == SKIP:
            pytest.skip(result.reason)
        if self.check is None:  # the scenario stopped before its checks were judged
            pytest.fail(f"ERROR {result.name}: {_one_line(result.reason)}", pytrace=False)
        if self.check.status == ERROR:
            pytest.fail(f"ERROR {self.check.name}: {_one_line(self.check.reason)}" + self._bundle_line(),
                        pytrace=False)

    def runtest(self) -> None:
        from harness.report import format_check

        result, check = self.scenario_result, self.check
        if result.status == XPASS:
            # A declared known bug did not show: pytest's XPASS, with the scenario's reason.
            self.add_marker(pytest.mark.xfail(reason=result.reason, strict=False))
            return
        if check.status == FAIL:
            if result.status == XFAIL:
                pytest.xfail(result.reason)
            details = textwrap.dedent(format_check(check).split("\n", 1)[-1])
            raise HarnessFailure(f"FAIL {check.name}: {check.reason}\n{details}{self._bundle_line()}")

    def _bundle_line(self) -> str:
        if not self.bundle:
            return ""
        return f"\nbug-report bundle: {self.bundle}  (replay: harness repro {self.bundle})"

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, HarnessFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}: {self.name}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Skips of a scenario point at its file (not at this plugin's code)."""
    outcome = yield
    report = outcome.get_result()
    if isinstance(item, CheckItem) and report.skipped and isinstance(report.longrepr, tuple):
        _path, _line, reason = report.longrepr
        report.longrepr = (str(item.path), 1, reason)


# -- running -------------------------------------------------------------------------------


def _session_target(config: pytest.Config):
    """The session's one target, connected (and booted) on first use; a failure is remembered."""
    from harness.cli import timed_facts
    from harness.facts import gather_facts
    from harness.targets import get_target
    from harness.targets.base import TargetError

    state = config.stash[_STATE]
    if state.target_error:
        raise TargetError(state.target_error)
    if state.target is None:
        spec = setting(config, "harness_target") or "local"
        options = {key: setting(config, f"harness_{key}")
                   for key in ("box", "box_kernel", "destroy", "reuse", "vm", "identity", "known_hosts")}
        try:
            state.target = get_target(spec, **{k: v for k, v in options.items() if v is not None})
            # Booting a VM takes a while: show its progress live, not in the captured output.
            with uncaptured(config):
                state.facts, state.facts_s = timed_facts(state.target, gather_facts)
        except TargetError as exc:
            state.target_error = f"{spec}: {exc}"
            raise TargetError(state.target_error) from None
    return state.target, state.facts


def _run(node: ScenarioFile, kernel: Optional[str]):
    """Run ``node``'s scenario on the session's target (or kernel's VM) and write its bundle if due."""
    from harness.bundle import BUNDLE_STATUSES, write_bundle
    from harness.runner import run_scenario

    config, report = node.config, bool(setting(node.config, "harness_report"))
    if kernel is None:
        state = config.stash[_STATE]
        target, facts = _session_target(config)
        if state.ran_scenarios and setting(config, "harness_isolate") == "scenario":
            with uncaptured(config):
                target.fresh()  # a new copy of the VM: nothing the last scenario did remains
        state.ran_scenarios += 1
        result = run_scenario(node.scenario, target, file=node.path, facts=facts, capture_state=report)
        state.results.append(result)
        if state.first_verdict_at is None:
            state.first_verdict_at = time.time()
    else:
        result = _matrix(config).run_on_kernel(config, kernel, node.scenario, node.path)
        target, facts = _matrix(config).kernel_target(config, kernel) if result.run_id else (None, None)
    if not result.run_id or not (report or result.status in BUNDLE_STATUSES):
        return result, None
    bundle_dir = Path(setting(config, "harness_bundle_dir") or DEFAULT_BUNDLE_DIR)
    return result, write_bundle(bundle_dir, node.scenario, result, facts, target.describe())


# -- results: one JSON across xdist workers ------------------------------------------------


def _target_info(state: SessionState) -> dict:
    if state.target is None:
        return {}
    return {**state.target.describe(), **(state.facts.to_dict() if state.facts else {})}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: take a finished worker's results."""
    shipped = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT_KEY)
    if shipped:
        node.config.stash[_STATE].shipped.append(json.loads(shipped))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    target = {}
    try:
        target = _target_info(state)
    finally:
        # Closed first: the VM's destroy is a phase of the timings too (as with `harness run`).
        _close_target(state)
    state.kept += getattr(state.target, "kept_hints", [])
    if hasattr(config, "workerinput"):  # an xdist worker: the controller writes the file
        if state.results or state.kept:
            config.workeroutput[_WORKER_OUTPUT_KEY] = json.dumps(
                {"results": [r.to_dict() for r in state.results], "target": target, "timings": _timings(state),
                 "kept": state.kept})
    elif setting(config, "harness_json"):
        _write_results(config, state, target)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Kept VMs (``--harness-destroy passing`` after a failure, or ``never``) and how to reach them."""
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    kept = state.kept + [line for shipped in state.shipped for line in shipped.get("kept", [])]
    if kept:
        terminalreporter.section("netns-harness: kept VMs")
        for line in kept:
            terminalreporter.line(line)


def _close_target(state: SessionState) -> None:
    if state.target is None:
        return
    if hasattr(state.target, "set_outcome"):
        from harness.outcome import run_passed

        # The same rule as `harness run`: a failure outside a scenario keeps the VM too.
        state.target.set_outcome(passed=run_passed([r.status for r in state.results],
                                                   failed_outside_scenarios=bool(state.target_error)))
    state.target.close()


def _timings(state: SessionState) -> dict[str, float]:
    """This process's phases as ``harness run --json`` has them: the target's (box, define, boot,
    ssh, snapshot, restore, destroy), ``facts``, and ``first_verdict_at`` (epoch seconds; the
    controller turns it into ``first_verdict``, seconds from its own start)."""
    timings = dict(getattr(state.target, "timings", {}) or {})
    if state.facts_s is not None:
        timings["facts"] = state.facts_s
    if state.first_verdict_at is not None:
        timings["first_verdict_at"] = state.first_verdict_at
    return timings


def merge_timings(started_at: float, per_process: list[dict[str, float]]) -> dict[str, float]:
    """One ``timings`` for the results file from each process's (``_timings``): under xdist every
    worker has its own target, so a phase is the sum over the workers (machine time, not wall
    time); ``first_verdict`` is the earliest result, in seconds from ``started_at`` (epoch)."""
    merged: dict[str, float] = {}
    firsts = []
    for timings in per_process:
        for phase, seconds in timings.items():
            if phase == "first_verdict_at":
                firsts.append(seconds)
            else:
                merged[phase] = round(merged.get(phase, 0.0) + seconds, 2)
    if firsts:
        merged["first_verdict"] = round(max(0.0, min(firsts) - started_at), 2)
    return merged


def _write_results(config: pytest.Config, state: SessionState, target: dict) -> None:
    from harness.matrix import result_from_dict
    from harness.report import write_json

    results, timings = list(state.results), [_timings(state)]
    for shipped in state.shipped:
        results += [result_from_dict(r) for r in shipped["results"]]
        target = target or shipped["target"]
        timings.append(shipped.get("timings", {}))
    if not results and not target:
        return
    path = Path(setting(config, "harness_json"))
    if not path.is_absolute():
        path = Path(config.invocation_params.dir) / path
    results.sort(key=lambda r: (r.file, r.name))
    write_json(path, results, target, merge_timings(state.started_at, timings))

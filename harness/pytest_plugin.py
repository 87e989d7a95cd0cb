"""pytest plugin: every ``*.yaml`` in a ``scenarios/`` directory is a test.

``pytest scenarios/ --target local --junitxml results.xml`` runs each scenario file as one
test; a failure report lists each check's verdict, expected and observed values and raw
output. One target (and so one VM) serves the whole session.

Kernel matrix: ``--kernels kernel-6.1,kernel-6.12`` (ids from ``harness/kernels.py``, or
Debian kernel packages) makes one item per scenario and kernel (``veth-pair[kernel-6.12]``),
each kernel with its own VM (created on first use, closed after its last item), and an
``xdist_group`` per kernel so ``-n 2 --dist loadgroup`` gives each worker one kernel's VM.
At the end the controller prints the matrix and writes ``--matrix-report`` (Markdown) with
``<kernel-id>.json`` results next to it; workers ship their results in ``workeroutput``.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Optional

import pytest

from harness.bundle import DEFAULT_BUNDLE_DIR
from harness.checks import ERROR, FAIL, SKIP
from harness.loader import ScenarioError, load_scenario
from harness.report import format_scenario

_TARGET = pytest.StashKey[dict]()
_MATRIX = pytest.StashKey[dict]()
_WORKER_OUTPUT_KEY = "netns_harness_matrix"


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
    group.addoption("--harness-report", dest="harness_report", action="store_true", default=False,
                    help="keep namespace state after every step and write a bug-report bundle for every scenario")
    group.addoption("--bundle-dir", dest="harness_bundle_dir", default=DEFAULT_BUNDLE_DIR,
                    help="where bug-report bundles of failing scenarios go (default %(default)s)")
    group.addoption("--kernels", dest="harness_kernels", default=None, metavar="KERNEL[,KERNEL...]",
                    help="kernel matrix: run every scenario in one VM per kernel; ids from harness/kernels.py "
                         "(kernel-6.1, kernel-6.12) or Debian kernel packages. Add -n N --dist loadgroup "
                         "to run the VMs in parallel")
    group.addoption("--matrix-report", dest="harness_matrix_report", default="results/matrix.md", metavar="FILE",
                    help="kernel matrix: write the Markdown report here (default results/matrix.md), "
                         "each kernel's results as <kernel-id>.json next to it")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TARGET] = {"target": None, "facts": None, "results": []}
    if config.option.harness_kernels:
        _configure_matrix(config)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> Optional[pytest.Collector]:
    # A scenario file sits in a scenarios/ directory and declares namespaces; other YAML there
    # (a project's own config) is not ours to collect.
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == "scenarios":
        if re.search(r"(?m)^namespaces:", file_path.read_text(encoding="utf-8", errors="replace")):
            return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        matrix = self.config.stash.get(_MATRIX, None)
        if matrix is None:
            yield ScenarioItem.from_parent(self, name=self.path.stem)
            return
        for kid, _package in matrix["kernels"]:
            item = ScenarioItem.from_parent(self, name=f"{self.path.stem}[{kid}]", kernel=kid)
            item.add_marker(pytest.mark.xdist_group(name=kid))
            yield item


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
    def __init__(self, *, kernel: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self.kernel = kernel  # a --kernels id, or None for the session's one target

    def runtest(self) -> None:
        from harness.runner import run_scenario

        try:
            scenario = load_scenario(self.path)
        except ScenarioError as err:
            if self.kernel is not None:
                _record_invalid(self.config, self.kernel, self.path, err)
            raise ScenarioFailed(f"invalid scenario (nothing was run):\n{err}") from None
        capture = self.config.option.harness_report
        if self.kernel is None:
            target, facts = _session_target(self.config)
            result = run_scenario(scenario, target, file=self.path, facts=facts, capture_state=capture)
            self.config.stash[_TARGET]["results"].append(result)
        else:
            result = _run_on_kernel(self.config, self.kernel, scenario, self.path)
        bundle = self._bundle(scenario, result)
        self.user_properties.append(("status", result.status))
        if bundle:
            self.user_properties.append(("bundle", str(bundle)))
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
            raise ScenarioFailed(format_scenario(result) + (f"\n  bug-report bundle: {bundle}" if bundle else ""))

    def _bundle(self, scenario, result) -> Optional[Path]:
        """Write a bug-report bundle for a failing scenario (any, with --harness-report)."""
        from harness.bundle import BUNDLE_STATUSES, write_bundle
        from harness.targets.base import TargetError

        if not (self.config.option.harness_report or result.status in BUNDLE_STATUSES) or not result.run_id:
            return None
        try:
            target, facts = (_session_target(self.config) if self.kernel is None
                             else _kernel_target(self.config, self.kernel))
        except TargetError:
            return None
        return write_bundle(Path(self.config.option.harness_bundle_dir), scenario, result, facts, target.describe())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"scenario {self.name}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.stash.get(_MATRIX, None) is not None:
        _finish_matrix(session.config)
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


# -- kernel matrix (--kernels) -------------------------------------------------------------


def _configure_matrix(config: pytest.Config) -> None:
    from harness.kernels import parse_kernels

    try:
        kernels = parse_kernels(config.option.harness_kernels)
    except ValueError as exc:
        raise pytest.UsageError(f"--kernels: {exc}") from None
    option = config.option
    if option.harness_box or option.harness_box_kernel:
        raise pytest.UsageError("--kernels chooses the boxes itself: drop --box/--box-kernel")
    if option.harness_target not in ("local", "vagrant"):  # local is the default, i.e. not given
        raise pytest.UsageError(f"--kernels runs on Vagrant VMs, not on --target {option.harness_target}")
    if option.harness_json:
        raise pytest.UsageError("--kernels writes one results file per kernel next to --matrix-report; "
                                "drop --harness-json")
    dist = getattr(option, "dist", "no")
    if hasattr(config, "workerinput"):
        # An xdist worker parses the command line itself: -n alone left it without loadgroup.
        option.loadgroup = True
    elif dist == "load":  # what -n N implies: one kernel's items must stay on one worker (one VM)
        option.dist = "loadgroup"
    elif dist not in ("no", "loadgroup"):
        raise pytest.UsageError(f"--kernels keeps each kernel's scenarios on one worker: use --dist loadgroup, "
                                f"not --dist {dist}")
    config.stash[_MATRIX] = {
        "kernels": kernels,
        "live": {},      # kernel id -> {"target", "facts", "error"}: VMs of this process
        "runs": {kid: _empty_run(package) for kid, package in kernels},  # this process's results
        "worker_errors": [],
        "text": None,    # the rendered matrix, printed in the terminal summary
    }


def _empty_run(package: str) -> dict:
    return {"package": package, "results": [], "facts": None, "target": {}, "needs": {}}


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    matrix = config.stash.get(_MATRIX, None)
    if matrix is None:
        return None
    return "kernel matrix: " + ", ".join(f"{kid} ({package})" for kid, package in matrix["kernels"])


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """One kernel after the other: without xdist only one VM is up at a time."""
    matrix = config.stash.get(_MATRIX, None)
    if matrix is None:
        return
    order = {kid: index for index, (kid, _) in enumerate(matrix["kernels"])}
    items.sort(key=lambda item: order.get(getattr(item, "kernel", None), -1))


# pytest-xdist's loadgroup tags node ids with the group; pytest 9.2's structured node ids
# ignore the tag, and every item is scheduled on its own (pytest-dev/pytest-xdist#1386).
XDIST_GROUPING_BROKEN = ("pytest-xdist does not keep each kernel on one worker with pytest {pytest} "
                         "(pytest-dev/pytest-xdist#1386): two workers would boot the same kernel's VM. "
                         "Install pytest<9.2 (pip install 'pytest<9.2'), or run without -n")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids: list) -> None:
    """xdist controller: stop before any VM boots when loadgroup did not group the kernels' items."""
    matrix = node.config.stash.get(_MATRIX, None)
    if matrix is None:
        return
    if any(nodeid.endswith(f"[{kid}]") for nodeid in ids for kid, _ in matrix["kernels"]):
        pytest.exit(XDIST_GROUPING_BROKEN.format(pytest=pytest.__version__), returncode=pytest.ExitCode.USAGE_ERROR)


def _progress(kid: str):
    return lambda line: print(f"[{kid}] {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _uncaptured(config: pytest.Config):
    """Live output (vagrant progress) during an item, on a line of its own."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None and not hasattr(config, "workerinput"):
            reporter.ensure_newline()
        yield


def _kernel_target(config: pytest.Config, kid: str):
    """The VM of kernel ``kid`` in this process, booted on first use; a failed boot is remembered."""
    from harness.facts import gather_facts
    from harness.targets.base import TargetError
    from harness.targets.vagrant import VagrantTarget

    matrix = config.stash[_MATRIX]
    live = matrix["live"].get(kid)
    if live is not None:
        if live["error"]:
            raise TargetError(live["error"])
        return live["target"], live["facts"]
    live = matrix["live"][kid] = {"target": None, "facts": None, "error": None}
    run = matrix["runs"][kid]
    try:
        live["target"] = VagrantTarget(box_kernel=run["package"], destroy=config.option.harness_destroy,
                                       reuse=config.option.harness_reuse, progress=_progress(kid))
        with _uncaptured(config):
            live["facts"] = gather_facts(live["target"])
            run["target"] = live["target"].describe()
    except Exception as exc:  # noqa: BLE001 - every item of this kernel reports it, none retries the boot
        words = str(exc) if isinstance(exc, TargetError) else f"{type(exc).__name__}: {exc}"
        live["error"] = f"the VM for {kid} ({run['package']}) is not usable: {words}"
        raise TargetError(live["error"]) from None
    run["facts"] = live["facts"].to_dict()
    return live["target"], live["facts"]


def _run_on_kernel(config: pytest.Config, kid: str, scenario, path: Path):
    from harness.facts import needs
    from harness.runner import ScenarioResult, run_scenario
    from harness.targets.base import TargetError

    run = config.stash[_MATRIX]["runs"][kid]
    _kernel, features, tools = needs(scenario)
    run["needs"][scenario.name] = (features, tools)
    try:
        target, facts = _kernel_target(config, kid)
    except TargetError as exc:
        result = ScenarioResult(name=scenario.name, file=str(path), status=ERROR, reason=str(exc))
    else:
        try:
            result = run_scenario(scenario, target, file=path, facts=facts,
                                  capture_state=config.option.harness_report)
        except Exception as exc:  # a harness bug: the cell says ERROR, pytest shows the traceback
            run["results"].append(ScenarioResult(name=scenario.name, file=str(path), status=ERROR,
                                                 reason=f"the harness failed: {type(exc).__name__}: {exc}"))
            raise
    run["results"].append(result)
    return result


def _record_invalid(config: pytest.Config, kid: str, path: Path, err: Exception) -> None:
    from harness.runner import ScenarioResult

    reason = "invalid scenario (nothing was run): " + str(err).splitlines()[0]
    config.stash[_MATRIX]["runs"][kid]["results"].append(
        ScenarioResult(name=path.stem, file=str(path), status=ERROR, reason=reason))


def _close_kernel(config: pytest.Config, kid: str) -> None:
    """Destroy (or keep, per --destroy) kernel ``kid``'s VM; passed = no FAIL/ERROR on that kernel."""
    matrix = config.stash[_MATRIX]
    live = matrix["live"].pop(kid, None)
    if not live or live["target"] is None:
        return
    target = live["target"]
    try:
        target.set_outcome(passed=not any(r.status in (FAIL, ERROR) for r in matrix["runs"][kid]["results"]))
    finally:
        target.close()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Optional[pytest.Item]) -> None:
    """After a kernel's last item in this process, its VM goes (so serial runs hold one VM at a time)."""
    kid = getattr(item, "kernel", None)
    if kid is None or item.config.stash.get(_MATRIX, None) is None:
        return
    if getattr(nextitem, "kernel", None) != kid:
        with _uncaptured(item.config):
            _close_kernel(item.config, kid)


def _payload(matrix: dict) -> dict:
    """This process's results, as plain data (what an xdist worker sends to the controller)."""
    return {kid: {**run, "results": [r.to_dict() for r in run["results"]]}
            for kid, run in matrix["runs"].items() if run["results"] or run["facts"]}


def _merge(into: dict, payload: dict) -> None:
    from harness.matrix import result_from_dict

    for kid, data in payload.items():
        run = into.setdefault(kid, _empty_run(data["package"]))
        run["results"] += [result_from_dict(r) for r in data["results"]]
        run["facts"] = run["facts"] or data["facts"]
        run["target"] = run["target"] or data["target"]
        run["needs"].update({name: tuple(v) for name, v in data["needs"].items()})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: take a finished worker's results."""
    matrix = node.config.stash.get(_MATRIX, None)
    if matrix is None:
        return
    shipped = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT_KEY)
    if shipped:
        matrix.setdefault("shipped", {})
        _merge(matrix["shipped"], json.loads(shipped))
    elif error:
        matrix["worker_errors"].append(f"worker {node.gateway.id} went down without results: {error}")


def _finish_matrix(config: pytest.Config) -> None:
    matrix = config.stash[_MATRIX]
    for kid in list(matrix["live"]):  # VMs still up (an interrupted run)
        _close_kernel(config, kid)
    payload = json.dumps(_payload(matrix))
    if hasattr(config, "workerinput"):  # an xdist worker: the controller writes the report
        config.workeroutput[_WORKER_OUTPUT_KEY] = payload
        return
    collected = matrix.setdefault("shipped", {})
    _merge(collected, json.loads(payload))
    if not any(run["results"] or run["facts"] for run in collected.values()):
        return
    _write_matrix(config, matrix, collected)


def _write_matrix(config: pytest.Config, matrix: dict, collected: dict) -> None:
    from harness.facts import Facts
    from harness.matrix import KernelRun, render_markdown, render_text
    from harness.report import write_json

    report = Path(config.option.harness_matrix_report)
    if not report.is_absolute():
        report = Path(config.invocation_params.dir) / report
    report.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    for kid, package in matrix["kernels"]:
        data = collected.get(kid) or _empty_run(package)
        run = KernelRun(id=kid, package=package, results=data["results"], target=data["target"],
                        facts=Facts(**data["facts"]) if data["facts"] else None, needs=data["needs"])
        if run.results:
            path = report.parent / f"{kid}.json"
            write_json(path, run.results, {"kernel_id": kid, "kernel_package": package,
                                           **run.target, **(data["facts"] or {})})
            run.details = path.name  # relative to the report, for its links
        elif matrix["worker_errors"]:
            run.error = "; ".join(matrix["worker_errors"])
        runs.append(run)
    command = "pytest " + " ".join(config.invocation_params.args)
    report.write_text(render_markdown(runs, command=command), encoding="utf-8")
    for run in runs:  # the terminal names the files as the user would type them
        if run.details:
            run.details = _shown(report.parent / run.details, config)
    matrix["text"] = render_text(runs) + f"\nreport: {_shown(report, config)}"


def _shown(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(Path(config.invocation_params.dir)))
    except ValueError:
        return str(path)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    matrix = config.stash.get(_MATRIX, None)
    if matrix is None or not matrix["text"]:
        return
    terminalreporter.section("kernel matrix")
    for line in matrix["text"].splitlines():
        terminalreporter.line(line)

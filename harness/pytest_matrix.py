"""The kernel matrix (``--harness-kernels kernel-6.1,kernel-6.12``): one VM per kernel.

Every check item exists once per kernel (``CHECK[kernel-6.12]``), each kernel's VM is built
or reused (``harness box build --kernel PKG``), booted on first use and closed after its
kernel's last item, and every item carries an ``xdist_group`` per kernel so ``-n 2`` (which
implies ``--dist loadgroup`` here) gives each worker one kernel's VM. At the end the
controller prints the matrix and writes ``--harness-matrix-report`` (Markdown) with
``<kernel-id>.json`` results next to it; workers ship their results in ``workeroutput``.

``--harness-shard K/N`` keeps part K of the scenario x kernel cells (``harness.shard``) and
deselects the rest; its results files are named ``<kernel-id>.shard-K-of-N.json``, and
``harness matrix merge`` joins the parts (``harness.matrix_files``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import pytest

from harness.checks import ERROR
from harness.pytest_plugin import setting, uncaptured
from harness.pytest_settings import DEFAULT_MATRIX_REPORT

_MATRIX = pytest.StashKey[dict]()
_WORKER_OUTPUT_KEY = "netns_harness_matrix"


def pytest_configure(config: pytest.Config) -> None:
    if setting(config, "harness_kernels"):
        _configure_matrix(config)
    elif setting(config, "harness_shard"):
        raise pytest.UsageError("--harness-shard splits a kernel matrix: add --harness-kernels")


def kernel_ids(config: pytest.Config) -> list[Optional[str]]:
    """The matrix's kernel ids in order, or ``[None]`` (the session's one target) without a matrix."""
    matrix = config.stash.get(_MATRIX, None)
    return [kid for kid, _package in matrix["kernels"]] if matrix else [None]


def _configure_matrix(config: pytest.Config) -> None:
    from harness.kernels import parse_kernels

    from harness.box import parse_kernel_spec

    try:
        kernels = parse_kernels(setting(config, "harness_kernels"))
        for _kid, spec in kernels:
            parse_kernel_spec(spec)   # a bad spec stops the run here, not in every cell
    except ValueError as exc:
        raise pytest.UsageError(f"--harness-kernels: {exc}") from None
    option = config.option
    if setting(config, "harness_box") or setting(config, "harness_box_kernel"):
        raise pytest.UsageError("--harness-kernels chooses the boxes itself: drop --harness-box/--harness-box-kernel")
    target = setting(config, "harness_target")
    if target not in (None, "local", "vagrant"):  # local is the default, i.e. not given
        raise pytest.UsageError(f"--harness-kernels runs on Vagrant VMs, not on --harness-target {target}")
    if setting(config, "harness_json"):
        raise pytest.UsageError("--harness-kernels writes one results file per kernel next to "
                                "--harness-matrix-report; drop --harness-json")
    dist = getattr(option, "dist", "no")
    if hasattr(config, "workerinput"):
        # An xdist worker parses the command line itself: -n alone left it without loadgroup.
        option.loadgroup = True
    elif dist == "load":  # what -n N implies: one kernel's items must stay on one worker (one VM)
        option.dist = "loadgroup"
    elif dist not in ("no", "loadgroup"):
        raise pytest.UsageError(f"--harness-kernels keeps each kernel's scenarios on one worker: use --dist loadgroup, "
                                f"not --dist {dist}")
    shard = None
    if setting(config, "harness_shard"):
        from harness.shard import parse_shard

        try:
            shard = parse_shard(setting(config, "harness_shard"))
        except ValueError as exc:
            raise pytest.UsageError(f"--harness-shard {exc}") from None
    config.stash[_MATRIX] = {
        "kernels": kernels,
        "shard": shard,  # (K, N) or None
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
    shard = f", part {matrix['shard'][0]} of {matrix['shard'][1]}" if matrix["shard"] else ""
    return "kernel matrix: " + ", ".join(f"{kid} ({package})" for kid, package in matrix["kernels"]) + shard


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """One kernel after the other: without xdist only one VM is up at a time."""
    matrix = config.stash.get(_MATRIX, None)
    if matrix is None:
        return
    order = {kid: index for index, (kid, _) in enumerate(matrix["kernels"])}
    items.sort(key=lambda item: order.get(getattr(item, "kernel", None), -1))
    if matrix["shard"]:
        _keep_shard(config, items, order, matrix["shard"])


def _keep_shard(config: pytest.Config, items: list, order: dict[str, int], shard: tuple[int, int]) -> None:
    """Deselect the items outside part K of N of the cells (an invalid scenario's one item goes
    with its cell on the first kernel)."""
    from harness.shard import shard_cells

    first = next(iter(order))

    def cell(item) -> tuple[int, str]:
        return order[getattr(item, "kernel", None) or first], str(item.path)

    mine = set(shard_cells(sorted({cell(item) for item in items}), *shard))
    deselected = [item for item in items if cell(item) not in mine]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if cell(item) in mine]


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


def kernel_target(config: pytest.Config, kid: str):
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
        live["target"] = VagrantTarget(box_kernel=run["package"], destroy=setting(config, "harness_destroy"),
                                       reuse=setting(config, "harness_reuse"), progress=_progress(kid))
        with uncaptured(config):
            live["facts"] = gather_facts(live["target"])
            run["target"] = live["target"].describe()
    except Exception as exc:  # noqa: BLE001 - every item of this kernel reports it, none retries the boot
        words = str(exc) if isinstance(exc, TargetError) else f"{type(exc).__name__}: {exc}"
        live["error"] = f"the VM for {kid} ({run['package']}) is not usable: {words}"
        raise TargetError(live["error"]) from None
    run["facts"] = live["facts"].to_dict()
    return live["target"], live["facts"]


def run_on_kernel(config: pytest.Config, kid: str, scenario, path: Path):
    """Run ``scenario`` in kernel ``kid``'s VM; a VM that cannot boot makes it ERROR (the matrix cell says why)."""
    from harness.facts import needs
    from harness.runner import ScenarioResult, run_scenario
    from harness.targets.base import TargetError

    run = config.stash[_MATRIX]["runs"][kid]
    _kernel, features, tools = needs(scenario)
    from harness.pytest_plugin import check_items_names

    run["needs"][scenario.name] = {"features": features, "tools": tools, "config": list(scenario.requires.config),
                                   "checks": [name for _id, name in check_items_names(scenario)]}
    try:
        target, facts = kernel_target(config, kid)
    except TargetError as exc:
        result = ScenarioResult(name=scenario.name, file=str(path), status=ERROR, reason=str(exc))
    else:
        try:
            result = run_scenario(scenario, target, file=path, facts=facts,
                                  capture_state=bool(setting(config, "harness_report")))
        except Exception as exc:  # a harness bug: the cell says ERROR, pytest shows the traceback
            run["results"].append(ScenarioResult(name=scenario.name, file=str(path), status=ERROR,
                                                 reason=f"the harness failed: {type(exc).__name__}: {exc}"))
            raise
    run["results"].append(result)
    return result


def record_invalid(config: pytest.Config, path: Path, err: Exception) -> None:
    """An invalid scenario is an ERROR cell on every kernel (a no-op without a matrix)."""
    from harness.runner import ScenarioResult

    matrix = config.stash.get(_MATRIX, None)
    if matrix is None:
        return
    reason = "invalid scenario (nothing was run): " + str(err).splitlines()[0]
    for run in matrix["runs"].values():
        run["results"].append(ScenarioResult(name=path.stem, file=str(path), status=ERROR, reason=reason))


def _close_kernel(config: pytest.Config, kid: str) -> None:
    """Destroy (or keep, per --destroy) kernel ``kid``'s VM; passed = no FAIL/ERROR on that kernel."""
    matrix = config.stash[_MATRIX]
    live = matrix["live"].pop(kid, None)
    if not live or live["target"] is None:
        return
    target = live["target"]
    try:
        from harness.outcome import run_passed

        target.set_outcome(passed=run_passed([r.status for r in matrix["runs"][kid]["results"]]))
    finally:
        target.close()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Optional[pytest.Item]) -> None:
    """After a kernel's last item in this process, its VM goes (so serial runs hold one VM at a time)."""
    kid = getattr(item, "kernel", None)
    if kid is None or item.config.stash.get(_MATRIX, None) is None:
        return
    if getattr(nextitem, "kernel", None) != kid:
        with uncaptured(item.config):
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
        run["needs"].update(data["needs"])


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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.stash.get(_MATRIX, None) is not None:
        _finish_matrix(session.config)


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
    from harness.matrix import KernelRun, render_text
    from harness.matrix_files import write_report

    report = Path(setting(config, "harness_matrix_report") or DEFAULT_MATRIX_REPORT)
    if not report.is_absolute():
        report = Path(config.invocation_params.dir) / report
    runs = []
    for kid, package in matrix["kernels"]:
        data = collected.get(kid) or _empty_run(package)
        run = KernelRun(id=kid, package=package, results=data["results"], target=data["target"],
                        facts=Facts(**data["facts"]) if data["facts"] else None, needs=data["needs"])
        if not run.results and matrix["worker_errors"]:
            run.error = "; ".join(matrix["worker_errors"])
        if run.results or run.error or not matrix["shard"]:  # a part shows the kernels it ran
            runs.append(run)
    command = "pytest " + " ".join(config.invocation_params.args)
    write_report(report, runs, command, kernels=[kid for kid, _ in matrix["kernels"]], shard=matrix["shard"])
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

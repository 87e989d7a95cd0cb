"""A kernel matrix's files: each kernel's results JSON, the Markdown report, merging parts, JUnit.

A matrix run (``pytest --harness-kernels ...``, or one part of it with ``--harness-shard K/N``)
writes next to its report one results file per kernel (``harness run --json``'s format,
``<kernel-id>.json``, or ``<kernel-id>.shard-K-of-N.json`` for a part). Its ``target`` holds
the kernel's facts and a ``matrix`` object: the kernel's id and spec, the run's kernels in
order, the part (``"K/N"``), and what each scenario asked for (features, tools, config).

``harness matrix merge FILE...`` reads such files (from any number of parts and machines),
joins each kernel's results and facts, and writes one ``matrix.md`` (with a merged
``<kernel-id>.json`` per kernel beside it) and one JUnit file.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import fields
from pathlib import Path
from typing import Optional, Sequence

from harness.facts import Facts
from harness.matrix import KernelRun, render_markdown, result_from_dict
from harness.report import summary_line, write_json
from harness.shard import shard_label

_FACT_FIELDS = {f.name for f in fields(Facts)}


class MergeError(ValueError):
    """Results files that cannot be joined: one line naming the file and what is wrong."""


def results_file_name(kernel: str, shard: Optional[tuple[int, int]] = None) -> str:
    """``kernel-6.1.json``, or ``kernel-6.1.shard-2-of-4.json`` for part 2 of 4."""
    return f"{kernel}.{shard_label(*shard)}.json" if shard else f"{kernel}.json"


def write_kernel_results(directory: Path, run: KernelRun, kernels: Sequence[str],
                         shard: Optional[tuple[int, int]] = None, merged_from: Sequence[str] = ()) -> Path:
    """Write ``run``'s results file in ``directory`` (see the module docstring); returns its path."""
    path = directory / results_file_name(run.id, shard)
    matrix = {"kernel_id": run.id, "kernel_package": run.package, "kernels": list(kernels),
              "shard": f"{shard[0]}/{shard[1]}" if shard else None,
              "needs": dict(sorted(run.needs.items()))}
    if merged_from:
        matrix["merged_from"] = list(merged_from)
    target = {"kernel_id": run.id, "kernel_package": run.package, **run.target,
              **(run.facts.to_dict() if run.facts else {}), "matrix": matrix}
    write_json(path, run.results, target)
    return path


def write_report(report: Path, runs: list[KernelRun], command: str, kernels: Sequence[str],
                 shard: Optional[tuple[int, int]] = None, merged_from: Sequence[str] = ()) -> None:
    """Each kernel's results file (for the runs that have results) and ``report`` linking to them."""
    report.parent.mkdir(parents=True, exist_ok=True)
    for run in runs:
        if run.results:
            run.details = write_kernel_results(report.parent, run, kernels, shard, merged_from).name
    report.write_text(render_markdown(runs, command=command), encoding="utf-8")


# -- reading and merging --------------------------------------------------------------------


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MergeError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise MergeError(f"{path}: not JSON ({exc})") from None
    target = data.get("target") if isinstance(data, dict) else None
    if not isinstance(target, dict) or not isinstance(target.get("kernel_id"), str):
        raise MergeError(f"{path}: not a kernel matrix results file (no target.kernel_id); give the "
                         "<kernel-id>.json files a matrix run writes next to its report")
    if not isinstance(data.get("scenarios"), list):
        raise MergeError(f"{path}: 'scenarios' is not a list")
    return data


def _merge_facts(into: Optional[Facts], target: dict) -> Facts:
    found = Facts(**{k: v for k, v in target.items() if k in _FACT_FIELDS})
    if into is None:
        return found
    if found.kernel and into.kernel and found.kernel != into.kernel:
        raise MergeError(f"kernel {target['kernel_id']} ran {into.kernel} in one part and {found.kernel} "
                         "in another: the parts did not use the same box")
    for name in ("features", "tools", "modules", "config"):   # what each part probed
        getattr(into, name).update(getattr(found, name))
    return into


def merge_files(paths: Sequence[Path]) -> tuple[list[KernelRun], list[str], list[str]]:
    """Join matrix results files into one run per kernel.

    Returns ``(runs, kernel order, warnings)``: kernels in the order the files' runs listed
    them; a warning for each part of an N-part run that is missing. Raises ``MergeError`` for
    a file that is not a matrix results file, a scenario that two files ran on the same kernel
    (the same part given twice), or one kernel with two different releases.
    """
    if not paths:
        raise MergeError("no results files given")
    runs: dict[str, KernelRun] = {}
    order: list[str] = []
    origin: dict[tuple[str, str], Path] = {}
    parts: dict[int, set[int]] = {}
    for path in paths:
        data = _load(path)
        target = data["target"]
        kid = target["kernel_id"]
        matrix = target.get("matrix") or {}
        for name in [*(matrix.get("kernels") or []), kid]:
            if name not in order:
                order.append(name)
        shard = matrix.get("shard")
        if isinstance(shard, str) and "/" in shard:
            part, total = (int(x) for x in shard.split("/"))
            parts.setdefault(total, set()).add(part)
        run = runs.setdefault(kid, KernelRun(id=kid, package=target.get("kernel_package") or ""))
        run.facts = _merge_facts(run.facts, target)
        run.target = run.target or {k: v for k, v in target.items()
                                    if k not in _FACT_FIELDS and k not in ("kernel_id", "kernel_package", "matrix")}
        run.needs.update(matrix.get("needs") or {})
        for scenario in data["scenarios"]:
            result = result_from_dict(scenario)
            key = (kid, result.name)
            if key in origin:
                raise MergeError(f"{path}: scenario {result.name} on {kid} is also in {origin[key]}: "
                                 "was one part given twice?")
            origin[key] = path
            run.results.append(result)
    warnings = [f"part {k}/{total} is missing: its cells show '-'"
                for total, seen in sorted(parts.items()) for k in range(1, total + 1) if k not in seen]
    ordered = [runs[kid] for kid in order if kid in runs]
    for run in ordered:
        run.results.sort(key=lambda r: r.name)
    return ordered, [run.id for run in ordered], warnings


# -- JUnit ----------------------------------------------------------------------------------

_JUNIT_FAILED = {"FAIL": "failure", "ERROR": "error"}


def _item_name(text: str) -> str:
    """A check name as the pytest plugin names its item (``pytest_plugin._node_name``): ``::``
    separates node ids and ``[`` starts parameters."""
    return text.replace("::", "\u2237").replace("[", "(").replace("]", ")")


def junit_xml(runs: list[KernelRun], suite_name: str = "netns-harness kernel matrix") -> str:
    """One JUnit testsuite with a testcase per check and kernel, named as the pytest plugin names
    items (``STEP/CHECK[kernel-id]``, class name the scenario file): FAIL is a failure, ERROR an
    error, SKIP and XFAIL skipped, with the check's (or scenario's) reason as the message.
    A scenario without check results (skipped, or its VM never came up) is one testcase."""
    cases = []
    for run in runs:
        for result in run.results:
            classname = Path(result.file).name if result.file else result.name
            only_checks = all(c.step in ("checks", "") for c in result.checks)
            if not result.checks:   # skipped, or never ran: each check item the plugin had, else one case
                names = run.needs.get(result.name, {}).get("checks") or [result.name]
                cases += [(classname, f"{name}[{run.id}]", result.status, result.reason, result.duration_s)
                          for name in names]
            seen: dict[str, int] = {}
            for check in result.checks:
                name = _item_name(check.name if only_checks else f"{check.step}/{check.name}")
                seen[name] = seen.get(name, 0) + 1
                name = name if seen[name] == 1 else f"{name} #{seen[name]}"
                status = check.status if result.status not in ("XFAIL", "XPASS") else result.status
                cases.append((classname, f"{name}[{run.id}]", status, check.reason or result.reason,
                              check.duration_s))
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(sum(c[2] == "FAIL" for c in cases)),
                       errors=str(sum(c[2] == "ERROR" for c in cases)),
                       skipped=str(sum(c[2] in ("SKIP", "XFAIL") for c in cases)))
    for classname, name, status, reason, seconds in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds or 0:.3f}")
        if status in _JUNIT_FAILED:
            ET.SubElement(case, _JUNIT_FAILED[status], message=f"{status} {reason}".strip()).text = reason
        elif status in ("SKIP", "XFAIL"):
            ET.SubElement(case, "skipped", message=f"{status} {reason}".strip())
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def merge(paths: Sequence[Path], report: Path, junit: Optional[Path]) -> tuple[list[KernelRun], list[str]]:
    """Join ``paths`` and write ``report`` (with each kernel's merged results beside it) and ``junit``.

    Returns the runs and the warnings; raises ``MergeError`` (see ``merge_files``) or ``OSError``.
    """
    runs, kernels, warnings = merge_files(paths)
    names = [str(p) for p in paths]
    write_report(report, runs, command=f"harness matrix merge ({len(paths)} files)", kernels=kernels,
                 merged_from=names)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(runs), encoding="utf-8")
    return runs, warnings


def summary(runs: list[KernelRun]) -> str:
    """One line per kernel: ``kernel-6.1: 27 passed, 0 failed, 0 errors, 1 skipped``."""
    return "\n".join(f"{run.id}: {summary_line(run.results)}" for run in runs)

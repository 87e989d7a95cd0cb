"""Bug-report bundles: everything needed to read and re-run a failing scenario.

A bundle is a directory (and the same as one ``.tar.gz``)::

    NAME-RUNID/
      REPORT.md            what failed, expected vs observed, target, how to reproduce, topology
      scenario.yaml        the scenario as run
      repro.sh             standalone: set-up, every check with expected/observed, tear-down
      scripts/run.sh ...   the rendered scripts (run, setup, teardown)
      results.json         per check: command, exit code, stdout, stderr, duration, parsed output, verdict
      target.json          box, provider, uname, kernel features, iproute2/ping, harness version
      state/step-N/NS.txt  each namespace after step N, before tear-down (steps whose checks
                           looked off, every step with --report; at-exit/ when the run stopped)
      kernel.log           kernel log lines of the run (WARN/BUG/oops lines also in REPORT.md)

Nothing from the user's machine goes in beyond what the target reports: no environment,
no home paths, no user names (the scenario file is stored by its base name).
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any, Optional

import yaml

from harness import __version__
from harness.diagram import mermaid
from harness.facts import Facts
from harness.model import Scenario
from harness.render import render, render_repro
from harness.resources import harness_commit
from harness.runner import CheckResult, ScenarioResult

# Outcomes that get a bundle without being asked; where bundles go by default.
BUNDLE_STATUSES = ("FAIL", "ERROR", "XPASS")
DEFAULT_BUNDLE_DIR = "results/bundles"

# Keys of a target's description that say what the target is, not who runs it.
TARGET_KEYS = ("target", "box", "box_version", "provider", "provider_version", "vagrant_version",
               "vagrant_libvirt_version")


def _parsed(check: CheckResult) -> Any:
    """The parsed tool output of a check (ping: iputils summary and replies; route/path: iproute2 routes)."""
    from harness.checks import CHECK_KINDS

    kind = CHECK_KINDS.get(check.kind)
    return kind.parse_output(check.stdout, check.stderr) if kind else None


def _scenario_text(scenario: Scenario, file: str) -> str:
    if file and Path(file).is_file():
        return Path(file).read_text(encoding="utf-8")
    return yaml.safe_dump(scenario.model_dump(by_alias=True, exclude_defaults=True), sort_keys=False)


def _cell(value: Any) -> str:
    return json.dumps(value, sort_keys=True).replace("|", "\\|")


def report_markdown(scenario: Scenario, result: ScenarioResult, target: dict[str, Any], bundle_name: str) -> str:
    """``REPORT.md``: a summary to paste into a bug tracker (GitHub/GitLab render the Mermaid block)."""
    kernel = target.get("kernel", "?")
    where = target.get("box") or target.get("target", "?")
    lines = [
        f"# netns-harness: `{scenario.name}` {result.status} on kernel {kernel}",
        "",
        f"- **Target:** {target.get('target')}"
        + (f", box `{target['box']}` version {target.get('box_version')} ({target.get('provider')})" if target.get("box") else ""),
        f"- **Kernel:** `{target.get('uname', kernel)}`",
        f"- **Tools:** {target.get('iproute2', '?')}; {target.get('ping', '?')}",
        f"- **Harness:** {__version__}" + (f" (commit {target['harness_commit'][:12]})" if target.get("harness_commit") else ""),
        f"- **Run:** {result.run_id}, {result.duration_s:.2f} s" + (f"; {result.reason}" if result.reason else ""),
        "",
        "## What did not hold",
        "",
        "| step | check | verdict | expected | observed |",
        "| --- | --- | --- | --- | --- |",
    ]
    failed = result.failed_checks
    for check in failed:
        lines.append(f"| {check.step} | {check.name} | {check.status}: {check.reason} | {_cell(check.expected)} | {_cell(check.observed)} |")
    if not failed:
        lines.append("| | (every check held) | | | |")
    for check in failed[:3]:
        lines += ["", f"`{check.command}` (exit code {check.exit_code}):", "", "```", (check.stdout + check.stderr).rstrip(), "```"]
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        f"harness repro {bundle_name}.tar.gz      # the same scenario on "
        + ("the same box, in a fresh VM" if target.get("box") else f"the same kind of target ({target.get('target')})"),
        "sudo bash repro.sh                        # or by hand on any Linux box with bash, iproute2 and ping",
        "```",
        "",
        "## Topology",
        "",
        "```mermaid",
        mermaid(scenario).rstrip(),
        "```",
        "",
        "## Kernel log",
        "",
    ]
    if result.kernel_warnings:
        lines += ["WARN/BUG/oops lines during the run:", "", "```", *result.kernel_warnings, "```"]
    else:
        lines.append(f"No WARN/BUG/oops lines during the run ({len(result.kernel_log.splitlines())} lines in `kernel.log`).")
    steps = sorted({key.partition("/")[0] for key in result.state})
    if steps:
        lines += ["", "Namespace state before tear-down (`state/`): after step "
                  + ", ".join(str(int(s) + 1) if s.isdigit() else s for s in steps) + "."]
    else:
        lines += ["", "No namespace state was kept (no check looked off in the run script's screen); "
                  "`harness run --report` keeps it after every step."]
    lines += ["All outputs: `results.json`.", ""]
    return "\n".join(lines)


def write_bundle(
    directory: Path,
    scenario: Scenario,
    result: ScenarioResult,
    facts: Optional[Facts],
    target_description: dict[str, Any],
) -> Path:
    """Write the bundle of ``result`` under ``directory``; return the path of its ``.tar.gz``.

    Raises ``OSError`` when the directory cannot be written.
    """
    name = f"{scenario.name}-{result.run_id or 'not-run'}"
    root = Path(directory) / name
    if root.exists():
        shutil.rmtree(root)
    (root / "scripts").mkdir(parents=True)
    (root / "scenario.yaml").write_text(_scenario_text(scenario, result.file), encoding="utf-8")

    if result.run_id:
        rendered = render(scenario, result.run_id)
        for part in ("run", "setup", "teardown"):
            (root / "scripts" / f"{part}.sh").write_text(getattr(rendered, part))
    names = {c.id: c.name for c in result.checks}
    repro = root / "repro.sh"
    repro.write_text(render_repro(scenario, names))
    repro.chmod(0o755)

    results = result.to_dict()
    results["file"] = Path(result.file).name if result.file else ""
    for entry, check in zip(results["checks"], result.checks):
        entry["parsed"] = _parsed(check)
    (root / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    target = {k: v for k, v in target_description.items() if k in TARGET_KEYS}
    target.update(facts.to_dict() if facts else {})
    target.update(harness_version=__version__, harness_commit=harness_commit())
    (root / "target.json").write_text(json.dumps(target, indent=2) + "\n")

    prefix = f"nh{result.run_id}-"
    for key, text in result.state.items():
        step, _, namespace = key.partition("/")
        folder = f"step-{int(step) + 1}" if step.isdigit() else step
        path = root / "state" / folder / f"{namespace.removeprefix(prefix)}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "kernel.log").write_text(result.kernel_log)
    (root / "REPORT.md").write_text(report_markdown(scenario, result, target, name))

    archive = root.with_name(name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=name, filter=_anonymous)
    return archive


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Archive members owned by nobody in particular: no user or group names from this machine."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def open_bundle(path: Path, scratch: Path) -> Path:
    """The bundle directory for ``path`` (a bundle directory, or a ``.tar.gz`` unpacked into ``scratch``).

    Raises ``ValueError`` when ``path`` is not a bundle.
    """
    path = Path(path)
    if path.is_dir():
        root = path
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            # The "data" filter refuses absolute paths, links out and device files.
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(scratch, **kwargs)
        dirs = [p for p in scratch.iterdir() if p.is_dir()]
        if len(dirs) != 1:
            raise ValueError(f"{path}: a bundle archive holds one directory")
        root = dirs[0]
    else:
        raise ValueError(f"{path}: not a bundle directory or .tar.gz")
    for needed in ("scenario.yaml", "results.json", "target.json"):
        if not (root / needed).is_file():
            raise ValueError(f"{path}: not a netns-harness bundle ({needed} is missing)")
    return root

"""Bug-report bundles: everything needed to read and re-run a failing scenario.

A bundle is a directory (and the same as one ``.tar.gz``)::

    NAME-RUNID/
      REPORT.md            what failed, expected vs observed, target, how to reproduce, topology
      scenario.yaml        the scenario as run
      repro.sh             standalone: set-up, every check with expected/observed, tear-down
      scripts/run.sh ...   the rendered scripts (run, setup, teardown)
      results.json         per check: command, exit code, stdout, stderr, duration, parsed output,
                           verdict; the scenario.yaml digest (sha256) that ``repro`` compares
      target.json          box, provider, uname (no host name), kernel features, iproute2/ping, harness version
      state/step-N/NS.txt  each namespace after step N, before tear-down (steps whose checks
                           looked off, every step with --report; at-exit/ when the run stopped)
      kernel.log           kernel log lines of the run (WARN/BUG/oops lines also in REPORT.md)

Nothing from the user's machine goes in beyond what the target reports: no environment,
no home paths, no user or host names (the scenario file is stored by its base name), and no
line of a target file that nft quoted in an error. A bundle is written under a temporary
name and renamed when complete, so a full disk or a kill leaves no half bundle.

Reading one back (``open_bundle``) trusts nothing in it: archives are bounded in size and
member count and may hold only plain files and directories under one top directory; a
directory bundle may hold no symbolic links.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Optional

import yaml

from harness import __version__
from harness.diagram import mermaid
from harness.facts import Facts
from harness.model import Scenario
from harness.render import check_plan, render, render_repro
from harness.report import one_line, printable, redact_result, script_failure
from harness.resources import harness_commit
from harness.runner import CheckResult, ScenarioResult

# Outcomes that get a bundle without being asked; where bundles go by default.
BUNDLE_STATUSES = ("FAIL", "ERROR", "XPASS")
DEFAULT_BUNDLE_DIR = "results/bundles"

# Keys of a target's description that say what the target is, not who runs it.
TARGET_KEYS = ("target", "box", "box_version", "provider", "provider_version", "vagrant_version",
               "vagrant_libvirt_version")

# A bundle's name: the scenario name cut to this many characters (plus a digest of the full
# name when cut) and the run id; well under the 255 bytes a file name may have.
MAX_NAME_CHARS = 64
# What an archive may unpack to: real bundles are a few MB (state dumps of big topologies).
MAX_UNPACKED_BYTES = 256 * 2**20
MAX_MEMBERS = 20000
NEEDED_FILES = ("scenario.yaml", "results.json", "target.json")


class BundleError(ValueError):
    """A path that is not a readable netns-harness bundle; the message says what is wrong."""


def bundle_name(scenario_name: str, run_id: str) -> str:
    """``NAME-RUNID``, safe as a file name: characters outside ``A-Za-z0-9_.-`` become ``-``, a
    leading ``.`` or ``-`` gets a ``_`` before it, and a name changed so or longer than ``MAX_NAME_CHARS`` is cut and given 8 hex digits of its sha256."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", scenario_name) or "scenario"
    if safe[0] in ".-":  # no hidden directory, no name that reads as an option
        safe = "_" + safe
    if len(safe) > MAX_NAME_CHARS or safe != scenario_name:
        tag = hashlib.sha256(scenario_name.encode()).hexdigest()[:8]
        safe = f"{safe[:MAX_NAME_CHARS - 9]}-{tag}"
    return f"{safe}-{run_id}"


def _parsed(check: CheckResult) -> Any:
    """The parsed tool output of a check (ping: iputils summary and replies; route/path: iproute2 routes)."""
    from harness.checks import CHECK_KINDS

    if not check.command:
        return None  # never ran
    kind = CHECK_KINDS.get(check.kind)
    return kind.parse_output(check.stdout, check.stderr) if kind else None


def _scenario_text(scenario: Scenario, file: str) -> str:
    if file and Path(file).is_file():
        return Path(file).read_text(encoding="utf-8")
    return yaml.safe_dump(scenario.model_dump(by_alias=True, exclude_defaults=True), sort_keys=False)


def without_host_name(uname: str) -> str:
    """``uname -a`` without its second field, the node (host) name:
    ``Linux build01 6.1.0-18-amd64 #1 SMP ...`` -> ``Linux 6.1.0-18-amd64 #1 SMP ...``."""
    words = uname.split(" ")
    return " ".join(words[:1] + words[2:]) if len(words) > 2 else uname


def digest(data: bytes) -> str:
    """The sha256 of ``data`` as hex: what results.json records for scenario.yaml."""
    return hashlib.sha256(data).hexdigest()


# -- REPORT.md ----------------------------------------------------------------------------


def md_cell(value: Any) -> str:
    """A Markdown table cell: one line, controls escaped, ``|`` escaped; non-strings as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return one_line(text).replace("|", "\\|")


def md_code(text: str) -> str:
    """An inline code span that ``text`` cannot end early (backticks inside are fenced by more)."""
    text = one_line(text)
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def md_block(text: str, info: str = "") -> list[str]:
    """A fenced code block that ``text`` cannot close early."""
    text = printable(text.rstrip("\n"))
    fence = "`" * max(3, max((len(run) for run in re.findall(r"^ {0,3}(`{3,})", text, re.M)), default=0) + 1)
    return [fence + info, text, fence]


def report_markdown(scenario: Scenario, result: ScenarioResult, target: dict[str, Any], bundle_name: str) -> str:
    """``REPORT.md``: a summary to paste into a bug tracker (GitHub/GitLab render the Mermaid block).

    Every text from the scenario or the target is neutralised: controls escaped, ``|`` escaped
    in table cells, code fences longer than any backtick run inside them.
    """
    kernel = target.get("kernel", "?")
    lines = [
        f"# netns-harness: {md_code(scenario.name)} {result.status} on kernel {one_line(kernel)}",
        "",
        f"- **Target:** {one_line(target.get('target'))}"
        + (f", box {md_code(target['box'])} version {one_line(target.get('box_version'))} "
           f"({one_line(target.get('provider'))})" if target.get("box") else ""),
        f"- **Kernel:** {md_code(target.get('uname') or kernel)}",
        f"- **Tools:** {one_line(target.get('iproute2', '?'))}; {one_line(target.get('ping', '?'))}",
        f"- **Harness:** {__version__}" + (f" (commit {target['harness_commit'][:12]})" if target.get("harness_commit") else ""),
        f"- **Run:** {result.run_id or 'not run'}, {result.duration_s:.2f} s" + (f"; {one_line(result.reason)}" if result.reason else ""),
        "",
        "## What did not hold",
        "",
    ]
    failed = result.failed_checks
    if result.checks:
        lines += ["| step | check | verdict | expected | observed |", "| --- | --- | --- | --- | --- |"]
        for check in failed:
            lines.append(f"| {md_cell(check.step)} | {md_cell(check.name)} | {md_cell(f'{check.status}: {check.reason}')} "
                         f"| {md_cell(check.expected)} | {md_cell(check.observed)} |")
        if not failed:
            lines.append("| | (every check held) | | | |")
    else:
        lines.append(f"No check ran: {one_line(result.reason or result.status)}.")
    failure = script_failure(result.script_stderr)
    if failure:
        lines += ["", "## Where the script stopped", "",
                  f"{md_code(failure.command)} exited {failure.exit_code} (line {failure.line} of `scripts/run.sh`). "
                  "What it printed on stderr:", "",
                  *md_block("\n".join(failure.stderr) or "(nothing)")]
    for check in [c for c in failed if c.command][:3]:
        lines += ["", f"{md_code(check.command)} (exit code {check.exit_code}):", "",
                  *md_block(check.stdout + check.stderr)]
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        f"harness repro {bundle_name}.tar.gz      # the same scenario on "
        + ("the same box, in a fresh VM" if target.get("box") else f"the same kind of target ({one_line(target.get('target'))})"),
        "sudo bash repro.sh                        # or by hand on any Linux box with bash, iproute2 and ping",
        "```",
        "",
        "## Topology",
        "",
        *md_block(mermaid(scenario), "mermaid"),
        "",
        "## Kernel log",
        "",
    ]
    if result.kernel_warnings:
        lines += ["WARN/BUG/oops lines during the run:", "", *md_block("\n".join(result.kernel_warnings))]
    else:
        lines.append(f"No WARN/BUG/oops lines during the run ({len(result.kernel_log.splitlines())} lines in `kernel.log`).")
    steps = sorted({key.partition("/")[0] for key in result.state})
    if steps:
        lines += ["", "Namespace state before tear-down (`state/`): after step "
                  + ", ".join(str(int(s) + 1) if s.isdigit() else one_line(s) for s in steps) + "."]
    else:
        lines += ["", "No namespace state was kept (no check looked off in the run script's screen); "
                  "`harness run --report` keeps it after every step."]
    lines += ["All outputs: `results.json`.", ""]
    return "\n".join(lines)


# -- writing ------------------------------------------------------------------------------


def _check_names(scenario: Scenario, result: ScenarioResult) -> dict[str, str]:
    """A display name for every check the scenario plans, whether or not it ran."""
    names = {check.id: check.name for planned in check_plan(scenario) for check in planned.checks}
    names.update({c.id: c.name for c in result.checks})
    return names


def write_bundle(
    directory: Path,
    scenario: Scenario,
    result: ScenarioResult,
    facts: Optional[Facts],
    target_description: dict[str, Any],
) -> Path:
    """Write the bundle of ``result`` under ``directory``; return the path of its ``.tar.gz``.

    Any result gets one, with or without checks (a SKIP, a script that timed out, a lost
    connection). The bundle is complete or absent: it is built under a hidden name and
    renamed at the end. Raises ``OSError`` when the directory cannot be written (full
    disk, permissions); nothing is left behind then.
    """
    directory = Path(directory)
    result = redact_result(result)
    name = bundle_name(scenario.name, result.run_id or f"notrun-{secrets.token_hex(3)}")
    root = directory / name
    archive = directory / f"{name}.tar.gz"
    partial = directory / f".{name}.partial"
    partial_archive = directory / f".{name}.tar.gz.partial"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        _write_files(partial, scenario, result, facts, target_description, name)
        with tarfile.open(partial_archive, "w:gz") as tar:
            tar.add(partial, arcname=name, filter=_anonymous)
        if root.exists():
            shutil.rmtree(root)
        partial.rename(root)
        os.replace(partial_archive, archive)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        partial_archive.unlink(missing_ok=True)
        raise
    return archive


def _write_files(root: Path, scenario: Scenario, result: ScenarioResult, facts: Optional[Facts],
                 target_description: dict[str, Any], name: str) -> None:
    if root.exists():
        shutil.rmtree(root)
    (root / "scripts").mkdir(parents=True)
    text = _scenario_text(scenario, result.file).encode("utf-8")
    (root / "scenario.yaml").write_bytes(text)

    if result.run_id:
        rendered = render(scenario, result.run_id)
        for part in ("run", "setup", "teardown"):
            (root / "scripts" / f"{part}.sh").write_text(getattr(rendered, part))
    repro = root / "repro.sh"
    repro.write_text(render_repro(scenario, _check_names(scenario, result)))
    repro.chmod(0o755)

    results = result.to_dict()
    results["file"] = Path(result.file).name if result.file else ""
    results["scenario_sha256"] = digest(text)
    for entry, check in zip(results["checks"], result.checks):
        entry["parsed"] = _parsed(check)
    (root / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    target = {k: v for k, v in target_description.items() if k in TARGET_KEYS}
    target.update(facts.to_dict() if facts else {})
    if target.get("uname"):
        target["uname"] = without_host_name(target["uname"])
    target.update(harness_version=__version__, harness_commit=harness_commit())
    (root / "target.json").write_text(json.dumps(target, indent=2) + "\n")

    prefix = f"nh{result.run_id}-"
    for key, state in result.state.items():
        step, _, namespace = key.partition("/")
        folder = f"step-{int(step) + 1}" if step.isdigit() else re.sub(r"[^A-Za-z0-9_.-]", "-", step)
        path = root / "state" / folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', namespace.removeprefix(prefix))}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(state)
    (root / "kernel.log").write_text(result.kernel_log)
    (root / "REPORT.md").write_text(report_markdown(scenario, result, target, name))


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Archive members owned by nobody in particular: no user or group names from this machine."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# -- reading ------------------------------------------------------------------------------


def open_bundle(path: Path, scratch: Path) -> Path:
    """The bundle directory for ``path`` (a bundle directory, or a ``.tar.gz`` unpacked into ``scratch``).

    Raises ``BundleError`` (a ``ValueError``) when ``path`` is not a bundle: no such path, a
    bad or truncated archive, a member that is a link, a device or outside the bundle's one
    top directory, more than ``MAX_MEMBERS`` members or ``MAX_UNPACKED_BYTES`` unpacked, a
    symbolic link inside a directory bundle, or a missing ``scenario.yaml``/``results.json``/``target.json``.
    """
    path = Path(path)
    if path.is_dir():
        root = path
        _refuse_links(root, path)
    elif path.is_file():
        root = _unpack(path, Path(scratch))
    elif path.exists() or path.is_symlink():
        raise BundleError(f"{path}: not a bundle directory or .tar.gz")
    else:
        raise BundleError(f"{path}: no such file or directory")
    for needed in NEEDED_FILES:
        try:
            mode = (root / needed).lstat().st_mode
        except FileNotFoundError:
            raise BundleError(f"{path}: not a netns-harness bundle ({needed} is missing)") from None
        if not stat.S_ISREG(mode):
            raise BundleError(f"{path}: {needed} is not a plain file")
    return root


def _refuse_links(root: Path, shown: Path) -> None:
    """Refuse a directory bundle holding anything but plain files and directories."""
    for folder, dirs, files in os.walk(root):
        for entry in dirs + files:
            mode = os.lstat(os.path.join(folder, entry)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a plain file"
                inside = os.path.relpath(os.path.join(folder, entry), root)
                raise BundleError(f"{shown}: {inside} is {kind}; a bundle holds only plain files")


# Errors a damaged archive raises while being read: tarfile's, gzip/bz2/xz stream errors, EOF.
_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (tarfile.TarError, EOFError, zlib.error, OSError)
try:
    import lzma

    _ARCHIVE_ERRORS += (lzma.LZMAError,)
except ImportError:  # pragma: no cover - Python built without lzma
    pass


def _unpack(path: Path, scratch: Path) -> Path:
    """Unpack a bundle archive into ``scratch`` member by member, checking each before it is written."""
    top: Optional[str] = None
    total = count = 0
    try:
        tar = tarfile.open(path)
    except tarfile.ReadError:
        raise BundleError(f"{path}: not a bundle archive (a .tar.gz) or directory") from None
    except _ARCHIVE_ERRORS as exc:
        raise BundleError(f"{path}: damaged or truncated archive: {exc or type(exc).__name__}") from None
    try:
        with tar:
            for member in tar:
                count += 1
                if count > MAX_MEMBERS:
                    raise BundleError(f"{path}: more than {MAX_MEMBERS} members; not a bundle")
                name = _member_name(path, member)
                first = name.parts[0]
                if top is None:
                    top = first
                elif first != top:
                    raise BundleError(f"{path}: members {top!r} and {first!r}: a bundle archive holds one directory")
                if member.isfile():
                    total += member.size
                    if total > MAX_UNPACKED_BYTES:
                        raise BundleError(f"{path}: unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB; not a bundle")
                    _extract_file(tar, member, scratch / name)
                else:
                    (scratch / name).mkdir(parents=True, exist_ok=True)
    except BundleError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise BundleError(f"{path}: damaged or truncated archive: {exc or type(exc).__name__}") from None
    if top is None or len(PurePosixPath(top).parts) != 1 or not (scratch / top).is_dir():
        raise BundleError(f"{path}: a bundle archive holds one directory")
    return scratch / top


def _member_name(path: Path, member: tarfile.TarInfo) -> PurePosixPath:
    """The member's relative path, refusing links, devices, absolute paths and ``..``."""
    if not (member.isfile() or member.isdir()):
        kind = "a link" if member.issym() or member.islnk() else "not a plain file"
        raise BundleError(f"{path}: member {one_line(member.name)!r} is {kind}; a bundle holds only plain files")
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or not name.parts or "\\" in member.name:
        raise BundleError(f"{path}: member {one_line(member.name)!r} points outside the bundle")
    return name


def _extract_file(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    # O_EXCL|O_NOFOLLOW: a second member of the same name cannot overwrite or follow anything.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        left = member.size
        while left > 0:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                raise EOFError("the archive ends inside a member")
            out.write(chunk)
            left -= len(chunk)


@dataclass(frozen=True)
class BundleContents:
    """What ``repro`` needs from a bundle: the scenario file, the recorded results and target,
    and whether scenario.yaml is the one that ran (``scenario_changed``: True, False, or None
    when the bundle records no digest)."""

    root: Path
    scenario_file: Path
    results: dict[str, Any]
    target: dict[str, Any]
    scenario_changed: Optional[bool]


def read_bundle(root: Path, shown: Path) -> BundleContents:
    """Read and check ``results.json`` and ``target.json`` of an opened bundle.

    Raises ``BundleError`` naming the file and the field that is wrong.
    """
    results = _json_object(root / "results.json", shown)
    target = _json_object(root / "target.json", shown)
    if not isinstance(results.get("status"), str):
        raise BundleError(f"{shown}: results.json: 'status' is missing or not a string")
    checks = results.get("checks")
    if not isinstance(checks, list):
        raise BundleError(f"{shown}: results.json: 'checks' is missing or not a list")
    for index, check in enumerate(checks):
        if not (isinstance(check, dict) and isinstance(check.get("id"), str) and isinstance(check.get("status"), str)):
            raise BundleError(f"{shown}: results.json: checks[{index}] needs an 'id' and a 'status' (strings)")
    for key in ("kernel", "target"):
        if target.get(key) is not None and not isinstance(target[key], str):
            raise BundleError(f"{shown}: target.json: {key!r} is not a string")
    recorded = results.get("scenario_sha256")
    scenario_file = root / "scenario.yaml"
    changed = None
    if isinstance(recorded, str):
        changed = digest(scenario_file.read_bytes()) != recorded
    return BundleContents(root, scenario_file, results, target, changed)


def _json_object(file: Path, shown: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{shown}: {file.name} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{shown}: {file.name} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise BundleError(f"{shown}: {file.name} nests too deeply") from None
    if not isinstance(data, dict):
        raise BundleError(f"{shown}: {file.name} is not a JSON object")
    return data

"""The kernel matrix report: scenarios as rows, kernels as columns, kernel facts underneath.

Pure functions from results and facts to text: ``render_text`` (the terminal) and
``render_markdown`` (``results/matrix.md``, for a bug report). Each cell is the scenario's
status on that kernel (PASS, FAIL, SKIP, XFAIL, XPASS, ERROR; ``-`` when it did not run);
every cell but PASS carries a numbered note with the reason (the unmet need of a SKIP, the
failed checks of a FAIL, ...). In Markdown each cell links to that kernel's results file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from harness import __version__
from harness.checks import FAIL, PASS
from harness.facts import BASE_TOOLS, Facts
from harness.report import summary_line
from harness.runner import ScenarioResult

NOT_RUN = "-"
# Failed checks named in a FAIL note before "and N more".
MAX_CHECKS_IN_NOTE = 3


@dataclass
class KernelRun:
    """One column: a kernel's results and facts.

    ``needs``: scenario name -> what it asked for, ``{"features": [...], "tools": [...],
    "config": [...]}`` (``harness.facts.needs`` and ``requires: config``), and ``"checks"``: its
    check items' names (for JUnit cases of a scenario that did not run);
    ``target``: the target's description (box, provider versions); ``details``: where the
    full results are (a path or a link, relative to the report); ``error``: why the
    column is incomplete (e.g. the VM could not boot), if it is.
    """

    id: str
    package: str = ""
    results: list[ScenarioResult] = field(default_factory=list)
    facts: Optional[Facts] = None
    target: dict = field(default_factory=dict)
    needs: dict[str, dict] = field(default_factory=dict)
    details: str = ""
    error: str = ""


@dataclass
class Cell:
    status: str
    note: Optional[int] = None


@dataclass
class Note:
    number: int
    scenario: str
    kernel: str
    status: str
    text: str


@dataclass
class Matrix:
    kernels: list[str]
    scenarios: list[str]
    cells: dict[tuple[str, str], Cell]
    notes: list[Note]
    facts: list[tuple[str, list[str]]]


def reason_of(result: ScenarioResult) -> str:
    """Why a scenario did not plainly pass: its reason, or for a FAIL the checks that failed."""
    if result.status == FAIL and not result.reason:
        failed = [c for c in result.checks if c.status == FAIL]
        words = [f"{c.name}: {c.reason}" if c.reason else c.name for c in failed[:MAX_CHECKS_IN_NOTE]]
        if len(failed) > MAX_CHECKS_IN_NOTE:
            words.append(f"and {len(failed) - MAX_CHECKS_IN_NOTE} more")
        return "failed checks: " + "; ".join(words) if words else "failed"
    return result.reason or result.status.lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def facts_rows(runs: list[KernelRun]) -> list[tuple[str, list[str]]]:
    """Rows under the table: package, box, kernel release, tool versions, and for every feature
    (and non-base tool) a scenario asked for, whether the kernel had it (``?``: not probed)."""

    def fact(run: KernelRun, name: str) -> str:
        return (getattr(run.facts, name) or "?") if run.facts is not None else "?"

    def present(table: Optional[dict], name: str) -> str:
        if table is None or name not in table:
            return "?"
        return "yes" if table[name] else "no"

    def asked(kind: str) -> set:
        return {name for run in runs for need in run.needs.values() for name in need.get(kind, ())}

    features, options = sorted(asked("features")), sorted(asked("config"))
    tools = sorted(asked("tools") - set(BASE_TOOLS))
    rows = [
        ("package", [run.package or "?" for run in runs]),
        ("box", [str(run.target.get("box") or "?") for run in runs]),
        ("kernel release", [fact(run, "kernel") for run in runs]),
        ("kernel version", [fact(run, "kernel_version") for run in runs]),
        ("userspace", [fact(run, "os") for run in runs]),
        ("iproute2", [fact(run, "iproute2") for run in runs]),
        ("ping", [fact(run, "ping") for run in runs]),
    ]
    rows += [(f"feature {f}", [present(run.facts and run.facts.features, f) for run in runs]) for f in features]
    rows += [(f"tool {t}", [present(run.facts and run.facts.tools, t) for run in runs]) for t in tools]
    rows += [(f"config {o}", [(run.facts.config.get(o) or "?") if run.facts else "?" for run in runs])
             for o in options]
    rows.append(("summary", [summary_line(run.results) if run.results else "nothing ran" for run in runs]))
    return rows


def build_matrix(runs: list[KernelRun]) -> Matrix:
    """Cells and numbered notes (scenarios sorted by name, kernels in the given order)."""
    scenarios = sorted({r.name for run in runs for r in run.results})
    cells: dict[tuple[str, str], Cell] = {}
    notes: list[Note] = []
    for name in scenarios:
        for run in runs:
            result = next((r for r in run.results if r.name == name), None)
            if result is None:
                cells[(name, run.id)] = Cell(NOT_RUN)
                continue
            cell = Cell(result.status)
            if result.status != PASS:
                cell.note = len(notes) + 1
                notes.append(Note(cell.note, name, run.id, result.status, _one_line(reason_of(result))))
            cells[(name, run.id)] = cell
    for run in runs:
        if run.error:
            notes.append(Note(len(notes) + 1, "", run.id, "ERROR", _one_line(run.error)))
    return Matrix([run.id for run in runs], scenarios, cells, notes, facts_rows(runs))


def _cell_text(cell: Cell) -> str:
    return cell.status + (f" [{cell.note}]" if cell.note else "")


def _note_head(note: Note) -> str:
    return f"{note.scenario} on {note.kernel}" if note.scenario else note.kernel


def render_text(runs: list[KernelRun]) -> str:
    """The matrix for the terminal: aligned columns, notes, facts, where the details are."""
    m = build_matrix(runs)
    header = ["scenario", *m.kernels]
    body = [[name, *(_cell_text(m.cells[(name, k)]) for k in m.kernels)] for name in m.scenarios]
    facts = [[label, *values] for label, values in m.facts]
    widths = [max(len(row[i]) for row in [header, *body, *facts]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip()

    out = [line(header), line(["-" * w for w in widths]), *map(line, body)]
    if not m.scenarios:
        out.append("(no scenario ran)")
    out.append("")
    out += [line(row) for row in facts]
    if m.notes:
        out.append("")
        out += [f"[{n.number}] {_note_head(n)}: {n.status}: {n.text}" for n in m.notes]
    details = [f"{run.id}: {run.details}" for run in runs if run.details]
    if details:
        out += ["", "details: " + ", ".join(details)]
    return "\n".join(out)


def _md(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def render_markdown(runs: list[KernelRun], title: str = "netns-harness kernel matrix",
                    command: str = "") -> str:
    """The matrix as Markdown: each cell links to its kernel's results file, notes as footnotes."""
    m = build_matrix(runs)
    details = {run.id: run.details for run in runs}

    def cell(name: str, kernel: str) -> str:
        c = m.cells[(name, kernel)]
        text = f"[{c.status}]({details[kernel]})" if details[kernel] and c.status != NOT_RUN else c.status
        return text + (f"[^{c.note}]" if c.note else "")

    out = [f"# {title}", ""]
    if command:
        out += [f"`{command}` (netns-harness {__version__})", ""]
    out += ["| scenario | " + " | ".join(m.kernels) + " |", "| --- |" + " --- |" * len(m.kernels)]
    out += [f"| {_md(name)} | " + " | ".join(cell(name, k) for k in m.kernels) + " |" for name in m.scenarios]
    if not m.scenarios:
        out.append("| (no scenario ran) |" + " |" * len(m.kernels))
    if any(details.values()):
        out += ["", "Each cell links to that kernel's results (every check: expected, observed, command, output)."]
    out += ["", "## Kernels", "", "| | " + " | ".join(m.kernels) + " |", "| --- |" + " --- |" * len(m.kernels)]
    out += [f"| {_md(label)} | " + " | ".join(_md(v) for v in values) + " |" for label, values in m.facts]
    if m.notes:
        out.append("")
        out += [f"[^{n.number}]: {_md(_note_head(n))}: {n.status}: {_md(n.text)}" for n in m.notes]
    return "\n".join(out) + "\n"


def result_from_dict(data: dict) -> ScenarioResult:
    """Rebuild a ``ScenarioResult`` from its ``to_dict()`` (as shipped from an xdist worker)."""
    from dataclasses import fields

    from harness.runner import CheckResult

    def build(cls, values: dict):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    result = build(ScenarioResult, {k: v for k, v in data.items() if k != "checks"})
    result.checks = [build(CheckResult, c) for c in data.get("checks", [])]
    return result

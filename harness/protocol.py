"""Read the output of a rendered run script (``templates/run.sh.j2``).

The script prints, for each check, a block between marker lines::

    @@netns-harness:RUNID check ID rc=N start=EPOCH end=EPOCH tries=N held=0|1
    @@netns-harness:RUNID command ARGV...
    ...stdout...
    @@netns-harness:RUNID stderr ID
    ...stderr...
    @@netns-harness:RUNID end ID

plus ``setup begin T``, ``step N begin T``, ``done T`` and ``teardown begin|end T`` lines
(``T``: epoch seconds), so a run that died part-way tells how far it got and how long each
phase took, and named sections (``section NAME`` ... ``end-section``) such as
each namespace's state after a step (``state/STEP/NAMESPACE``) and the kernel log. The run id in the marker keeps tool output from faking a marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class CheckOutput:
    """What one check command did: exit code, argv as run, stdout, stderr, duration (seconds,
    all tries), how many tries (``within``) and whether the script's screen saw it hold."""

    check_id: str
    exit_code: int
    command: str
    stdout: str
    stderr: str
    duration_s: float
    tries: int = 1
    held: Optional[bool] = None


@dataclass
class RunOutput:
    """A run script's output, split up: ``checks`` by id, how far it got, and any stray lines."""

    checks: dict[str, CheckOutput] = field(default_factory=dict)
    setup_started: bool = False
    steps_started: list[int] = field(default_factory=list)
    done: bool = False
    sections: dict[str, str] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)
    # When each phase began (epoch seconds): "setup", "step 0", ..., "done", "teardown", "teardown end".
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def last_step(self) -> Optional[int]:
        return self.steps_started[-1] if self.steps_started else None


def parse_run_output(stdout: str, marker: str) -> RunOutput:
    """Split ``stdout`` of a run script whose marker is ``marker`` (``@@netns-harness:RUNID``).

    Returns a ``RunOutput``; a truncated block (the script was killed) is dropped, lines
    outside blocks land in ``stray``. Never raises on odd input.
    """
    head = re.compile(re.escape(marker) + r" (\S+)(?: (.*))?$")
    out = RunOutput()
    block: Optional[dict] = None
    section: Optional[tuple[str, list[str]]] = None
    for line in stdout.splitlines():
        m = head.match(line)
        if not m:
            if section is not None:
                section[1].append(line)
            elif block is not None:
                block[block["into"]].append(line)
            elif line.strip():
                out.stray.append(line)
            continue
        word, rest = m.group(1), m.group(2) or ""
        if word == "section":
            section = (rest, [])
        elif word == "end-section" and section is not None:
            out.sections[section[0]] = _join(section[1])
            section = None
        elif word == "check":
            cm = re.match(r"(\S+) rc=(\d+) start=([\d.]+) end=([\d.]+)(?: tries=(\d+) held=([01]))?$", rest)
            block = None
            if cm:
                block = dict(
                    id=cm.group(1), rc=int(cm.group(2)), t0=float(cm.group(3)), t1=float(cm.group(4)),
                    tries=int(cm.group(5) or 1), held=None if cm.group(6) is None else cm.group(6) == "1",
                    command="", stdout=[], stderr=[], into="stdout",
                )
        elif word == "command" and block is not None:
            block["command"] = rest.rstrip()
        elif word == "stderr" and block is not None:
            block["into"] = "stderr"
        elif word == "end" and block is not None and rest == block["id"]:
            out.checks[block["id"]] = CheckOutput(
                check_id=block["id"],
                exit_code=block["rc"],
                command=block["command"],
                stdout=_join(block["stdout"]),
                stderr=_join(block["stderr"]),
                duration_s=round(block["t1"] - block["t0"], 6),
                tries=block["tries"],
                held=block["held"],
            )
            block = None
        elif word == "setup":
            out.setup_started = True
            _mark(out, "setup", rest.split()[1:])
        elif word == "step":
            out.steps_started.append(int(rest.split()[0]))
            _mark(out, f"step {rest.split()[0]}", rest.split()[2:])
        elif word == "done":
            out.done = True
            _mark(out, "done", rest.split())
        elif word == "teardown":
            words = rest.split()
            _mark(out, "teardown" if words[:1] == ["begin"] else "teardown end", words[1:])
    return out


def _mark(out: RunOutput, name: str, words: list[str]) -> None:
    try:
        out.marks[name] = float(words[-1])
    except (IndexError, ValueError):
        pass


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""

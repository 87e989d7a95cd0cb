"""Fold the ``ip`` commands of a set-up or a step into ``ip -batch`` runs: one process where there were many.

Under software emulation every process costs tens of milliseconds (a VM's ``ip`` start-up is
~60 ms under TCG, against ~1 ms locally), so changes are grouped:

- ``ip -n NS [-4|-6] ARGS`` lines by namespace and family: ``ip -n NS [-4|-6] -batch -``;
- ``ip netns add|del NS`` lines, and ``ip netns exec NS CMD`` lines (sysctls), into one ``ip -batch -``
  (iproute2 runs ``netns exec`` in batch mode as it does on its command line).

A group runs where its first command stood, its commands in their order. A command joins the
last group of its kind only when no command between that group and it names a namespace it
names (``-n NS``, ``netns add|del|exec|pids NS``, a veth peer's ``netns NS``): namespaces share
nothing else, so what it moves past cannot see the difference. Two kinds of line are barriers
for every command: one that names no namespace, and a deletion (``link del``, ``netns del``),
which takes a veth's other end, in a namespace it does not name, with it; a deletion itself
joins only a batch that stands right before it. So the phases of a set-up (namespaces,
sysctls, links, addresses, routes ...) fold into about one batch per namespace, in an order
the phases allow.

Only plain words go into a batch (iproute2's batch reader has no shell quoting); a command
with a quoted word stays a command of its own. A batch stops at its first failing command
(no ``-force``), like ``set -e``, and ``ip`` names it: ``Command failed -:N``; ``batch_source``
maps that back to the command's line in the script and so to its scenario line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

_NS_COMMAND = re.compile(r"^ip -n (?P<ns>\S+)(?P<family> -[46])? (?P<args>[^'\"$`\\|;&<>()]+)$")
_GLOBAL_COMMAND = re.compile(r"^ip (?P<args>netns (?:add|del|exec) [^'\"$`\\|;&<>()]+)$")
# Where a command line names a namespace: ip -n NS, ip netns add|del|exec|pids NS, ... netns NS.
_NAMED_NS = re.compile(r"(?:^|\s)(?:-n|netns(?: (?:add|del|exec|pids))?) +([^\s'\"|;&<>()]+)")
# Deletions that may take a veth's other end (in another namespace) with them.
_DELETION = re.compile(r"\b(?:link|netns) del\b")
# A line of its own is scoped to the namespaces it names only when iproute2 runs it: ip ...,
# or a pipeline into ip netns exec NS (a firewall's ruleset); any other line is a barrier.
_IP_LINE = re.compile(r"^ip |\| ip netns exec \S+ ")
_TAG = re.compile(r"^(?P<command>.*?)(?P<tag>  # scenario line .*)?$")
PRINTF = "printf '%s\\n' \\"


def _key(command: str) -> Optional[tuple[str, str]]:
    """The batch a command can join (``ip -n`` options), or None for a command of its own."""
    found = _NS_COMMAND.match(command)
    if found:
        return f"ip -n {found['ns']}{found['family'] or ''}", found["args"]
    found = _GLOBAL_COMMAND.match(command)
    if found:
        return "ip", found["args"]
    return None


def _named_namespaces(command: str) -> Optional[frozenset[str]]:
    """The namespaces ``command`` touches, or None when that is not known (it may touch anything):
    it is no iproute2 line, names no namespace, or deletes a link or a namespace."""
    if not _IP_LINE.search(command) or _DELETION.search(command):
        return None
    names = frozenset(_NAMED_NS.findall(command))
    return names or None


@dataclass
class _Entry:
    """One line of the output: a group of batchable commands (``options`` set) or a line of its own."""

    lines: list[str]
    touches: Optional[set[str]]   # None: anything
    options: Optional[str] = None
    commands: list[str] = field(default_factory=list)

    def conflicts(self, names: frozenset[str]) -> bool:
        """A command naming ``names`` may not move past this entry."""
        return self.touches is None or bool(self.touches & names)


def batched(text: str) -> str:
    """``text`` (command lines, each maybe with its ``# scenario line`` tag) with the ``ip``
    commands that can share a process folded into ``printf ... | ip [-n NS] -batch -`` runs."""
    entries: list[_Entry] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        split = _TAG.match(line)
        command = split["command"].strip()
        key = _key(command)
        names = _named_namespaces(command)
        deletion = bool(_DELETION.search(command))
        if key is None or (names is None and not deletion):
            entries.append(_Entry([line], None if names is None else set(names)))
            continue
        options, args = key
        if deletion:   # it moves past nothing
            group = entries[-1] if entries and entries[-1].options == options else None
        else:
            group = _joinable(entries, options, names)
        if group is None:
            group = _Entry([], set(), options)
            entries.append(group)
        group.commands.append(args.strip() + (split["tag"] or ""))
        if deletion or group.touches is None:
            group.touches = None   # nothing moves past it
        else:
            group.touches |= names or set()
    out = []
    for entry in entries:
        if entry.options is None:
            out += entry.lines
        elif len(entry.commands) == 1:
            out.append(f"{entry.options} {entry.commands[0]}")
        else:
            out.append(PRINTF)
            out += [f"  '{line}' \\" for line in entry.commands]
            out.append(f"  | {entry.options} -batch -")
    return "".join(line + "\n" for line in out)


def _joinable(entries: list[_Entry], options: str, names: frozenset[str]) -> Optional[_Entry]:
    """The last group with ``options``, when no entry after it names one of ``names``."""
    for entry in reversed(entries):
        if entry.options == options:
            return entry
        if entry.conflicts(names):
            return None
    return None


def batch_source(script: str, line_no: int, failed: int) -> Optional[str]:
    """The script line of command ``failed`` (1-based, from ``Command failed -:N``) of the batch
    whose pipeline ends on line ``line_no``; None when that line ends no batch."""
    lines = script.splitlines()
    if not 1 <= line_no <= len(lines) or not re.search(r"-batch -$", lines[line_no - 1]):
        return None
    start = line_no - 1
    while start > 0 and lines[start - 1].strip() != PRINTF:
        start -= 1
    if start == 0:
        return None
    index = start + failed  # printf is at line `start` (1-based); its arguments follow
    return lines[index - 1] if start < index < line_no else None

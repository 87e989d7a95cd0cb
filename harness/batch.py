"""Fold the ``ip`` commands of one phase into ``ip -batch`` runs: one process where there were many.

Under software emulation every process costs tens of milliseconds (a VM's ``ip`` start-up is
~60 ms under TCG, against ~1 ms locally), so the changes of a phase are grouped:

- ``ip -n NS [-4|-6] ARGS`` lines by namespace and family: ``ip -n NS [-4|-6] -batch -``;
- ``ip netns add|del NS`` lines, and ``ip netns exec NS CMD`` lines (sysctls), into one ``ip -batch -``
  (iproute2 runs ``netns exec`` in batch mode as it does on its command line).

Within a phase the commands of different namespaces do not depend on each other (phases order
what does), so each group runs where its first command stood, its commands in their order.
Only plain words go into a batch (iproute2's batch reader has no shell quoting); a command
with a quoted word stays a command of its own. A batch stops at its first failing command
(no ``-force``), like ``set -e``, and ``ip`` names it: ``Command failed -:N``; ``batch_source``
maps that back to the command's line in the script and so to its scenario line.
"""

from __future__ import annotations

import re
from typing import Optional

_NS_COMMAND = re.compile(r"^ip -n (?P<ns>\S+)(?P<family> -[46])? (?P<args>[^'\"$`\\|;&<>()]+)$")
_GLOBAL_COMMAND = re.compile(r"^ip (?P<args>netns (?:add|del|exec) [^'\"$`\\|;&<>()]+)$")
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


def batched(text: str) -> str:
    """``text`` (command lines, each maybe with its ``# scenario line`` tag) with the ``ip``
    commands that can share a process folded into ``printf ... | ip [-n NS] -batch -`` runs."""
    groups: dict[str, list[str]] = {}
    order: list[tuple[str, Optional[str]]] = []  # (group key or the line itself, None)
    for line in text.splitlines():
        if not line.strip():
            continue
        split = _TAG.match(line)
        key = _key(split["command"].strip())
        if key is None:
            order.append((line, None))
            continue
        options, args = key
        if options not in groups:
            groups[options] = []
            order.append((options, options))
        groups[options].append(args.strip() + (split["tag"] or ""))
    out = []
    for entry, options in order:
        if options is None:
            out.append(entry)
        elif len(groups[options]) == 1:
            out.append(f"{options} {groups[options][0]}")
        else:
            out.append(PRINTF)
            out += [f"  '{line}' \\" for line in groups[options]]
            out.append(f"  | {options} -batch -")
    return "".join(line + "\n" for line in out)


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

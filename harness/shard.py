"""Sharding a kernel matrix: part K of N of its scenario x kernel cells, the same in every process.

A cell is one scenario file on one kernel (its checks run together, in one VM). The cells are
put in kernel order (the order of ``--harness-kernels``), then scenario file order, and cut
into N runs of consecutive cells whose sizes differ by at most one. Consecutive cells keep a
kernel's scenarios together, so a part boots few VMs: with 4 kernels and 4 parts, one each.
Every part must collect the same scenarios and kernels (the same command line but for
``--harness-shard``); the parts' results are joined by ``harness matrix merge``.
"""

from __future__ import annotations

import re
from typing import Hashable, Sequence, TypeVar

Cell = TypeVar("Cell", bound=Hashable)


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``. Raises ``ValueError`` unless it is ``K/N`` with ``1 <= K <= N``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise ValueError(f"{text!r} is not K/N (part K of N, e.g. 1/4)")
    part, parts = int(match.group(1)), int(match.group(2))
    if not 1 <= part <= parts:
        raise ValueError(f"{text!r}: K must be between 1 and N (parts are numbered from 1)")
    return part, parts


def shard_cells(cells: Sequence[Cell], part: int, parts: int) -> list[Cell]:
    """The cells of part ``part`` of ``parts``: ``cells`` (in their order, duplicates dropped) cut
    into ``parts`` runs of consecutive cells, the first ``len % parts`` one cell longer."""
    unique = list(dict.fromkeys(cells))
    size, extra = divmod(len(unique), parts)
    start = (part - 1) * size + min(part - 1, extra)
    return unique[start:start + size + (1 if part <= extra else 0)]


def shard_label(part: int, parts: int) -> str:
    """The part's name in file names: ``shard-2-of-4``."""
    return f"shard-{part}-of-{parts}"

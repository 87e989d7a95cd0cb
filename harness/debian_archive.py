"""Which kernel packages a Debian archive serves: the versions of one kernel line, in order.

apt itself reads the archive (a private state directory under the cache, ``apt-get update``
and ``apt-cache madison``), so the indexes are fetched and their signatures checked as for any
Debian system; the suites read are SUITE, SUITE-security (when the suite has one) and any
extra release (``bookworm-backports``).

A kernel line is the set of packages named like two given ones: ``linux-image-6.1.0-47-cloud-amd64``
and ``linux-image-6.1.0-57-cloud-amd64`` have the line ``linux-image-6.1.0-<N>-cloud-amd64``,
ordered by N (Debian raises the ABI number with every kernel update of a line).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence


class ArchiveError(RuntimeError):
    """The archive could not be read, or the packages do not make a line; one line saying which."""


@dataclass(frozen=True)
class KernelPackage:
    """One package of a kernel line: ``name`` (``linux-image-6.1.0-47-cloud-amd64``), its Debian
    ``version`` (``6.1.170-3``) and the ``suite`` that serves it (``bookworm-security``)."""

    name: str
    version: str
    suite: str


def line_pattern(good: str, bad: str) -> re.Pattern:
    """The kernel line of two package names: their common start and end around a part made of
    numbers and dots (each run of digits any number). Raises ``ArchiveError`` when the names
    share no such line (different flavours or kernel series)."""
    if good == bad:
        raise ArchiveError(f"GOOD and BAD are the same package ({good}): give two versions of one line")
    start = 0
    while start < min(len(good), len(bad)) and good[start] == bad[start]:
        start += 1
    while start and good[start - 1].isdigit():   # the varying number starts at its first digit
        start -= 1
    end = 0
    while end < min(len(good), len(bad)) - start and good[-1 - end] == bad[-1 - end]:
        end += 1
    while end and good[len(good) - end].isdigit():
        end -= 1
    middle_good, middle_bad = good[start:len(good) - end], bad[start:len(bad) - end]
    shape = re.sub(r"\d+", r"\\d+", re.escape(middle_good))
    if not re.fullmatch(r"[\d.]+", middle_good) or not re.fullmatch(shape, middle_bad) \
            or not good.startswith("linux-image-"):
        raise ArchiveError(f"{good} and {bad} are not two versions of one kernel line "
                           "(e.g. linux-image-6.1.0-47-cloud-amd64 and linux-image-6.1.0-57-cloud-amd64)")
    return re.compile(re.escape(good[:start]) + f"({shape})" + re.escape(good[len(good) - end:]))


def _order(pattern: re.Pattern, name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", pattern.fullmatch(name).group(1)))


class Archive:
    """A Debian archive as apt sees it for ``suite`` (plus its security suite and ``releases``).

    ``root``: apt's private state directory (default ``<box cache>/apt/<suite>``).
    """

    def __init__(self, suite: str, mirror: str, security: Optional[str], releases: Sequence[str] = (),
                 root: Optional[Path] = None):
        from harness.box import default_cache_dir

        self.suite = suite
        self.root = root or default_cache_dir() / "apt" / "-".join([suite, *releases])
        self.sources = [f"deb {mirror} {suite} main"]
        if security:
            self.sources.append(f"deb {security} {suite}-security main")
        self.sources += [f"deb {mirror} {release} main" for release in releases]

    def _apt(self, *args: str, timeout: float = 600) -> str:
        lists = self.root / "lists"
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.root / "cache").mkdir(exist_ok=True)
        (self.root / "sources.list").write_text("\n".join(self.sources) + "\n")
        options = [f"Dir::Etc::SourceList={self.root / 'sources.list'}", "Dir::Etc::SourceParts=/nonexistent",
                   f"Dir::State::Lists={lists}", f"Dir::Cache={self.root / 'cache'}",
                   "Dir::State::status=/dev/null", "Debug::NoLocking=1", "APT::Architecture=amd64"]
        argv = [args[0], *(f"-o{o}" for o in options), *args[1:]]
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                 env={**os.environ, "LC_ALL": "C"})
        except FileNotFoundError:
            raise ArchiveError(f"{args[0]} is not installed: listing a Debian archive needs apt") from None
        except subprocess.TimeoutExpired:
            raise ArchiveError(f"{args[0]} {args[1]} took longer than {timeout:.0f} s") from None
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise ArchiveError(f"{args[0]} {args[1]} failed: " + " / ".join(tail))
        return res.stdout

    def update(self) -> None:
        """Fetch the suites' package indexes (``apt-get update``). Raises ``ArchiveError``."""
        # A frozen mirror (an archive snapshot) serves Release files past their Valid-Until.
        self._apt("apt-get", "-oAcquire::Check-Valid-Until=false", "update", "-q")

    def kernel_line(self, good: str, bad: str) -> list[KernelPackage]:
        """The packages of ``good``'s and ``bad``'s line from ``good`` to ``bad`` (both included),
        oldest first. Raises ``ArchiveError`` when either is not served or ``bad`` is not later."""
        pattern = line_pattern(good, bad)
        names = [n for n in self._apt("apt-cache", "pkgnames", "linux-image-").split() if pattern.fullmatch(n)]
        for name in (good, bad):
            if name not in names:
                raise ArchiveError(f"the archive does not serve {name} for {self.suite} "
                                   f"(sources: {'; '.join(self.sources)})")
        names.sort(key=lambda n: _order(pattern, n))
        if names.index(good) >= names.index(bad):
            raise ArchiveError(f"{bad} is not later than {good}: give the older version as --good")
        line = names[names.index(good):names.index(bad) + 1]
        served = {}
        for row in self._apt("apt-cache", "madison", *line).splitlines():
            parts = [p.strip() for p in row.split("|")]
            if len(parts) >= 3 and parts[0] in line and parts[0] not in served:
                served[parts[0]] = (parts[1], parts[2].split()[1].split("/")[0] if len(parts[2].split()) > 1 else "")
        return [KernelPackage(name, *served.get(name, ("?", "?"))) for name in line]

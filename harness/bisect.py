"""``harness bisect``: the first kernel of a Debian kernel line on which a scenario's verdict changes.

The versions between GOOD and BAD come from the archive (``harness.debian_archive``). Each
version visited gets its box (built or reused, ``harness box build --kernel PKG@SUITE``) and one
VM, booted without a snapshot (each box runs once) and destroyed after, and the scenario runs
in it with its state kept for a bundle. GOOD and BAD run first and must differ; then a binary
search keeps ``last`` (GOOD's verdict) and ``first`` (another) until they are neighbours: about
log2(versions) boxes in all. A verdict is the scenario's status and every check's status.

The search assumes one change along the line (as ``git bisect`` does): a version that differs
in yet another way from both counts as differing from GOOD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from harness.debian_archive import Archive, ArchiveError, KernelPackage


class BisectError(RuntimeError):
    """Bisect cannot go on (bad input, an archive or box problem, a VM that did not run the
    scenario); one line naming the version and the cause, and what was learnt so far."""


@dataclass
class Tried:
    """One version's run: its verdict (status and each check's), the result, the bundle."""

    package: KernelPackage
    status: str
    checks: tuple[tuple[str, str], ...]
    kernel: str = ""
    reason: str = ""
    bundle: Optional[Path] = None

    @property
    def verdict(self) -> tuple:
        return self.status, self.checks

    def line(self) -> str:
        why = f": {self.reason}" if self.reason and self.status != "PASS" else ""
        return f"{self.package.name} ({self.package.version}, {self.package.suite}): {self.status}{why}"


@dataclass
class Outcome:
    """What bisect found: the versions of the line, those it tried, and ``last_same`` /
    ``first_different`` (neighbours in the line) with their bundles."""

    scenario: str
    line: list[KernelPackage]
    tried: dict[str, Tried] = field(default_factory=dict)
    last_same: Optional[Tried] = None
    first_different: Optional[Tried] = None

    def text(self) -> str:
        out = [f"{self.scenario}: {len(self.line)} versions from {self.line[0].name} to {self.line[-1].name}, "
               f"{len(self.tried)} booted"]
        for package in self.line:
            tried = self.tried.get(package.name)
            out.append(("  " + tried.line()) if tried else f"  {package.name} ({package.version}): not needed")
        if self.first_different and self.last_same:
            first, last = self.first_different, self.last_same
            out += ["", f"first version whose verdict differs: {first.package.name} ({first.package.version}): "
                        f"{first.status}, after {last.package.name} ({last.package.version}): {last.status}",
                    f"  bundle of {last.package.name}: {last.bundle}",
                    f"  bundle of {first.package.name}: {first.bundle}"]
            changed = [check for (check, status) in first.checks if dict(last.checks).get(check) != status]
            if changed:
                out.append("  checks that changed: " + ", ".join(changed))
        return "\n".join(out)


def _box_spec(package: KernelPackage, suite: str, release: Optional[str]) -> str:
    return f"{package.name}/{release}@{suite}" if release else f"{package.name}@{suite}"


def _run_one(scenario, path: Path, package: KernelPackage, suite: str, release: Optional[str],
             bundle_dir: Path, progress: Callable[[str], None]) -> Tried:
    """Build/boot the box of ``package``, run the scenario, write its bundle, destroy the VM."""
    from harness.bundle import write_bundle
    from harness.facts import gather_facts
    from harness.runner import run_scenario
    from harness.targets.base import TargetError
    from harness.targets.vagrant import VagrantTarget

    progress(f"bisect: {package.name} ({package.version}) ...")
    target = VagrantTarget(box_kernel=_box_spec(package, suite, release), destroy="always", snapshot=False,
                           progress=lambda line: progress(f"  [{package.name}] {line}"))
    try:
        with target:
            facts = gather_facts(target)
            result = run_scenario(scenario, target, file=path, facts=facts, capture_state=True)
            describe = target.describe()
    except TargetError as exc:
        raise BisectError(f"{package.name}: the VM could not run the scenario: {exc}") from None
    if result.status == "ERROR":
        # An error is no verdict about the kernel (a set-up command failed, the VM died).
        raise BisectError(f"{package.name}: the scenario ERRORed ({result.reason}); fix that first, "
                          "then bisect again")
    bundle = write_bundle(bundle_dir / package.name, scenario, result, facts, describe)
    tried = Tried(package, result.status, tuple((c.id, c.status) for c in result.checks),
                  kernel=facts.kernel, reason=result.reason, bundle=bundle)
    progress(f"bisect: {tried.line()}")
    return tried


def bisect_kernels(scenario_path: Path, good: str, bad: str, suite: str = "bookworm", release: Optional[str] = None,
                   bundle_dir: Path = Path("results/bisect"), mirror: Optional[str] = None,
                   progress: Callable[[str], None] = print,
                   run: Optional[Callable[[KernelPackage], Tried]] = None) -> Outcome:
    """Find the first package of ``good``'s kernel line, up to ``bad``, whose verdict on the
    scenario differs from ``good``'s.

    ``release``: install the kernels from this release (``bookworm-backports``) instead of the
    suite and its security suite. ``run``: how one version is tried (default: build its box,
    boot it, run the scenario, write the bundle under ``bundle_dir/<package>/``). Raises
    ``BisectError`` for an invalid scenario, packages the archive does not serve as one line,
    GOOD and BAD with the same verdict, or a version that could not run the scenario.
    """
    from harness.box import host_mirror, security_mirror
    from harness.loader import ScenarioError, load_scenario

    try:
        scenario = load_scenario(scenario_path)
    except ScenarioError as err:
        raise BisectError(f"{scenario_path} is not a valid scenario:\n{err}") from None
    archive = Archive(suite, mirror or host_mirror(suite), None if release else security_mirror(suite),
                      [release] if release else [])
    try:
        progress(f"bisect: reading the archive ({'; '.join(archive.sources)}) ...")
        archive.update()
        line = archive.kernel_line(good, bad)
    except ArchiveError as exc:
        raise BisectError(str(exc)) from None
    run = run or (lambda package: _run_one(scenario, scenario_path, package, suite, release, bundle_dir, progress))
    return search(scenario.name, line, run)


def search(name: str, line: list[KernelPackage], run: Callable[[KernelPackage], Tried]) -> Outcome:
    """Binary search over ``line`` (oldest first) for the first package whose verdict differs from
    the first one's, calling ``run`` once per package it needs: the ends, then about
    log2(len(line)) more. Raises ``BisectError`` when the ends agree or a run fails."""
    outcome = Outcome(name, line)

    def tried(index: int) -> Tried:
        package = line[index]
        if package.name not in outcome.tried:
            try:
                outcome.tried[package.name] = run(package)
            except BisectError as exc:
                raise BisectError(f"{exc}\n{outcome.text()}") from None
        return outcome.tried[package.name]

    low, high = 0, len(line) - 1
    if tried(low).verdict == tried(high).verdict:
        raise BisectError(f"{line[low].name} and {line[high].name} give the same verdict ({tried(low).status}): "
                          f"nothing to bisect\n" + outcome.text())
    while high - low > 1:
        middle = (low + high) // 2
        if tried(middle).verdict == tried(0).verdict:
            low = middle
        else:
            high = middle
    outcome.last_same, outcome.first_different = tried(low), tried(high)
    return outcome

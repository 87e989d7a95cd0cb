"""nox sessions: ``tests`` (``tests_fast`` and ``tests_vm``, its two parts; ``tests_boxes``, the VM
tests that build boxes of their own, stays apart),
``scenarios`` (the main job), ``bench`` and ``bench_vm``, and the kernel matrix: ``kernel(ID)``
and ``matrix``.

``nox -s scenarios`` boots a VM from the Vagrantfile and runs every scenario in it;
``nox -s scenarios -- --harness-target local`` runs them on this machine instead (as root).
``nox -s "kernel(kernel-6.12)"`` runs every scenario on one kernel of ``harness/kernels.py``;
``nox -s matrix`` runs them on all those kernels at once and writes ``results/matrix.md``.
"""

import importlib.util
import os
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

# Ctrl-C must give the harness time to tear down namespaces and destroy the VM
# (nox's default interrupt_timeout is 0.3 s).
INTERRUPT_TIMEOUT_S = 120


def _kernels() -> dict:
    """``KERNELS`` from harness/kernels.py, read by path (the harness is not installed in nox's own Python)."""
    spec = importlib.util.spec_from_file_location("harness_kernels", Path(__file__).parent / "harness" / "kernels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.KERNELS


KERNELS = _kernels()
# One VM per kernel at once, at most one per core: a TCG VM keeps a core busy while it boots.
# Measured on 2 cores: 2 kernels in 99 s in parallel against 186 s one after the other, for
# 1.1 GiB of qemu RSS instead of 0.6 GiB (README, "Kernel matrix").
MATRIX_WORKERS = max(1, min(len(KERNELS), os.cpu_count() or 1))


# The fast tests wait on pings, sshd and namespaces more than they compute: four workers on two
# cores halve the wall time. Tests that clean the whole machine (marked serial) run alone
# afterwards: they would take the leftovers that fault tests make on purpose. -- ARGS go to both runs.
FAST_PARALLEL = ("-n", "4")
# The fast tests start ~150 Python processes (harness, pytest in pytest, xdist workers). Where the
# environment sets PYTHONDONTWRITEBYTECODE (some CI images do), each compiled the checkout's modules
# again and pytest rewrote every test file's asserts again: 0.2 s of CPU per process on 2 cores.
# An empty value turns it off; the caches go to __pycache__/ (ignored by git).
BYTECODE_CACHES = {"PYTHONDONTWRITEBYTECODE": ""}


def _fast_tests(session: nox.Session) -> None:
    session.run("pytest", "tests", "-m", "not vm and not serial", *FAST_PARALLEL, *session.posargs,
                env=BYTECODE_CACHES)
    session.run("pytest", "tests", "-m", "serial and not vm", *session.posargs, env=BYTECODE_CACHES)


@nox.session
def tests(session: nox.Session) -> None:
    """Every test: unit, real namespaces, a real sshd, and the VM tests (marked vm; root needed)
    but those that build boxes of their own (marked boxes: nox -s tests_boxes).

    The fast part first, so a broken parser fails in a minute, not after the VMs. -- ARGS go to
    both pytest runs (e.g. -x); with a marker expression of their own (-- -m "not vm") they go
    to one plain run. tests_fast and tests_vm run one part each.
    """
    session.install("-e", ".[test]")
    if "-m" in session.posargs:
        session.run("pytest", "tests", *session.posargs, interrupt_timeout=INTERRUPT_TIMEOUT_S, env=BYTECODE_CACHES)
        return
    _fast_tests(session)
    _vm_tests(session)


@nox.session
def tests_fast(session: nox.Session) -> None:
    """The tests without VMs (-m "not vm"): unit, real namespaces, a real sshd (under 2 min on 2 cores)."""
    session.install("-e", ".[test]")
    _fast_tests(session)


@nox.session
def tests_vm(session: nox.Session) -> None:
    """The VM tests (-m "vm and not boxes"): box build, booted snapshots, destroy policies, a VM killed mid-run."""
    session.install("-e", ".[test]")
    _vm_tests(session)


def _vm_tests(session: nox.Session, marks: str = "vm and not boxes") -> None:
    if os.geteuid() == 0:
        session.run("harness", "host-setup")
    # pytest exits 5 when no test is selected (e.g. -k picked only fast tests): not a failure here.
    session.run("pytest", "tests", "-m", marks, *session.posargs, success_codes=[0, 5],
                interrupt_timeout=INTERRUPT_TIMEOUT_S, env=BYTECODE_CACHES)


@nox.session
def tests_boxes(session: nox.Session) -> None:
    """The VM tests that build boxes of their own or boot from scratch on purpose (marked boxes:
    a box from a local kernel .deb ~6 min, harness bisect over four boxes ~15 min, the matrix on
    two kernels ~3 min with its trixie box to build, a snapshot that
    no longer restores): kept out of `nox -s tests`, as the kernel matrix is (`nox -s matrix`)."""
    session.install("-e", ".[test]")
    _vm_tests(session, "boxes")


@nox.session
def host_setup(session: nox.Session) -> None:
    """Prepare a libvirt host without systemd: daemons, default pool and network (idempotent)."""
    session.install("-e", ".")
    session.run("harness", "host-setup")


def _uses_local_box(posargs: list) -> bool:
    return bool(os.environ.get("HARNESS_BOX_KERNEL")) or "--harness-box-kernel" in posargs


@nox.session
def scenarios(session: nox.Session) -> None:
    """Run every scenario in scenarios/ (default target: a Vagrant VM) with a JUnit report.

    With HARNESS_BOX_KERNEL=PKG (or -- --harness-box-kernel PKG) the box is built here from Debian
    packages (cached) and the libvirt host is prepared first.
    """
    session.install("-e", ".[test]")
    if _uses_local_box(session.posargs) and os.geteuid() == 0:
        session.run("harness", "host-setup")
    os.makedirs("results", exist_ok=True)
    args = ["--harness-target", os.environ.get("HARNESS_TARGET", "vagrant"), *session.posargs]
    session.run(
        "pytest", "scenarios", "-p", "no:cacheprovider", "-v",
        "--junitxml", "results/scenarios.xml", "--harness-json", "results/scenarios.json",
        *args,
        interrupt_timeout=INTERRUPT_TIMEOUT_S,
    )


# `nox -s scenarios` stays one VM with the default box (the main job, its CI): nox runs every
# parametrization of a session selected by its base name, so the per-kernel sessions are apart.
@nox.session
@nox.parametrize("kernel_id", list(KERNELS), ids=list(KERNELS))
def kernel(session: nox.Session, kernel_id: str) -> None:
    """Every scenario on one kernel of harness/kernels.py: nox -s "kernel(kernel-6.12)"."""
    session.install("-e", ".[test]")
    if os.geteuid() == 0:
        session.run("harness", "host-setup")
    os.makedirs("results", exist_ok=True)
    session.run(
        "pytest", "scenarios", "-p", "no:cacheprovider", "-v", "--harness-target", "vagrant",
        "--harness-box-kernel", KERNELS[kernel_id],
        "--junitxml", f"results/scenarios-{kernel_id}.xml", "--harness-json", f"results/scenarios-{kernel_id}.json",
        *session.posargs,
        interrupt_timeout=INTERRUPT_TIMEOUT_S,
    )


@nox.session
def matrix(session: nox.Session) -> None:
    """Every scenario on every kernel of harness/kernels.py (5.10 on bullseye to sid), one VM per
    kernel, two at a time (xdist), with the matrix in the terminal and in results/matrix.md (per
    kernel: results/<id>.json).

    -- --harness-kernels kernel-6.1 picks kernels; -- -n 1 runs the VMs one after the other;
    -- --harness-shard K/N runs part K of N (results/<id>.shard-K-of-N.json), for
    `harness matrix merge` (.ci/examples/ has CI workflows that do it).
    """
    session.install("-e", ".[test]")
    if os.geteuid() == 0:
        session.run("harness", "host-setup")
    os.makedirs("results", exist_ok=True)
    session.run(
        "pytest", "scenarios", "-p", "no:cacheprovider", "-v",
        "--harness-kernels", ",".join(KERNELS), "-n", str(MATRIX_WORKERS), "--dist", "loadgroup",
        "--harness-matrix-report", "results/matrix.md", "--junitxml", "results/matrix.xml",
        *session.posargs,
        interrupt_timeout=INTERRUPT_TIMEOUT_S,
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: the harness against the same commands in plain bash (and plain ssh)."""
    session.install("-e", ".[test]")
    session.run("python", "bench/local_vs_bash.py", *session.posargs)


@nox.session
def bench_vm(session: nox.Session) -> None:
    """The fast-VM benchmark: cold boot against snapshot restore, the seed demo in a VM against
    locally, and nox -s scenarios end to end (bench/fast_vm.py; root, libvirt)."""
    session.install("-e", ".[test]")
    session.run("python", "bench/fast_vm.py", *session.posargs, interrupt_timeout=INTERRUPT_TIMEOUT_S)

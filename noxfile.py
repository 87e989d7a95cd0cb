"""nox sessions: ``tests`` (unit + local integration), ``scenarios`` (the main job), ``bench``,
and the kernel matrix: ``kernel(ID)`` and ``matrix``.

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


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests and the local-target integration tests (needs root for namespaces)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests", *session.posargs)


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
    """Every scenario on every kernel of harness/kernels.py, one VM per kernel in parallel (xdist),
    with the matrix in the terminal and in results/matrix.md (per kernel: results/<id>.json).

    -- --harness-kernels kernel-6.1 picks kernels; -- -n 1 runs the VMs one after the other.
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

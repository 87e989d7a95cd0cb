"""nox sessions: ``tests`` (unit + local integration), ``scenarios`` (the main job), ``bench``.

``nox -s scenarios`` boots a VM from the Vagrantfile and runs every scenario in it;
``nox -s scenarios -- --target local`` runs them on this machine instead (as root).
"""

import os

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

# Ctrl-C must give the harness time to tear down namespaces and destroy the VM
# (nox's default interrupt_timeout is 0.3 s).
INTERRUPT_TIMEOUT_S = 120


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
    return bool(os.environ.get("HARNESS_BOX_KERNEL")) or "--box-kernel" in posargs


@nox.session
def scenarios(session: nox.Session) -> None:
    """Run every scenario in scenarios/ (default target: a Vagrant VM) with a JUnit report.

    With HARNESS_BOX_KERNEL=PKG (or -- --box-kernel PKG) the box is built here from Debian
    packages (cached) and the libvirt host is prepared first.
    """
    session.install("-e", ".[test]")
    if _uses_local_box(session.posargs) and os.geteuid() == 0:
        session.run("harness", "host-setup")
    os.makedirs("results", exist_ok=True)
    args = ["--target", os.environ.get("HARNESS_TARGET", "vagrant"), *session.posargs]
    session.run(
        "pytest", "scenarios", "-p", "no:cacheprovider", "-v",
        "--junitxml", "results/scenarios.xml", "--harness-json", "results/scenarios.json",
        *args,
        interrupt_timeout=INTERRUPT_TIMEOUT_S,
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: the harness against the same commands in plain bash (and plain ssh)."""
    session.install("-e", ".[test]")
    session.run("python", "bench/local_vs_bash.py", *session.posargs)

"""Shared fixtures: paths, a root check, and a guard that no test leaves namespaces behind."""

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
DATA = Path(__file__).resolve().parent / "data"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creating network namespaces needs root")

# pytester runs pytest inside this test process for the plugin's tests.
pytest_plugins = ["pytester"]


def inner_pytest(pytester, *args: str, new_process: bool = False) -> subprocess.CompletedProcess:
    """``pytest ARGS`` in ``pytester.path`` as a CompletedProcess (returncode, stdout, stderr: the
    inner run's terminal output): in this process, or with ``new_process`` in a new interpreter.

    In this process the plugin loads from its entry point as in a user's pytest, without the
    ~1.3 s of CPU a new interpreter spends importing pytest and the harness. A new process is
    how a user starts it, and needed when inner xdist workers must import a plugin of the
    project: they take the sys.path xdist saw at its import (PYTHONPATH must name the project).
    """
    if new_process:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)
    else:
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    return subprocess.CompletedProcess(["pytest", *args], int(result.ret), "\n".join(result.outlines) + "\n",
                                       "\n".join(result.errlines) + "\n")


def harness_namespaces() -> set[str]:
    """Namespaces named like a harness run's (nh<6 hex>-...)."""
    import re

    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if re.match(r"^nh[0-9a-f]{6}-", line)}


def new_namespaces_after(before: set[str], wait_s: float = 10) -> set[str]:
    """Harness namespaces that are not in ``before`` and stay for ``wait_s`` seconds.

    Another run on this machine (a second pytest, a developer) may own new names for a
    moment; a real leak stays.
    """
    from faultkit import live_runs

    def left() -> set[str]:
        # A run that holds its lock is alive (another test, another session): not a leftover.
        live = live_runs()
        return {n for n in harness_namespaces() - before if n[2:8] not in live}

    deadline = time.monotonic() + wait_s
    while (found := left()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.fixture
def no_leftovers():
    """Fail the test if it leaves harness namespaces that were not there before it."""
    before = harness_namespaces()
    yield
    left = new_namespaces_after(before)
    assert not left, f"namespaces left behind: {sorted(left)}"

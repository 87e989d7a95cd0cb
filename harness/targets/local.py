"""The ``local`` target: scripts run with bash on this machine, as root."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from harness.targets.base import ExecResult, Target, TargetError

# How long the script's own EXIT trap gets to tear down after SIGTERM (seconds).
TEARDOWN_GRACE_S = 15


class LocalTarget(Target):
    """Runs scripts on this machine. Needs root (namespaces); raises ``TargetError`` otherwise."""

    name = "local"

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise TargetError("the local target needs root to create namespaces: run it with sudo, as root")

    def run(self, script: str, *, timeout: float) -> ExecResult:
        """Run ``script`` via ``bash -s`` in its own process group.

        On timeout or Ctrl-C the group gets SIGTERM, so the script's trap tears down what
        it made; ``TargetError`` (timeout) or ``KeyboardInterrupt`` is raised afterwards.
        """
        start = time.monotonic()
        proc = subprocess.Popen(
            ["bash", "-s"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us, not the script: we stop it in order
            env={**os.environ, "LC_ALL": "C"},
        )
        try:
            stdout, stderr = proc.communicate(script, timeout=timeout)
        except subprocess.TimeoutExpired:
            stdout, stderr = self._stop(proc)
            raise TargetError(f"the script ran longer than {timeout:.0f} s and was stopped",
                              partial=ExecResult(proc.returncode, stdout, stderr, time.monotonic() - start)) from None
        except KeyboardInterrupt:
            self._stop(proc)
            raise
        return ExecResult(proc.returncode, stdout, stderr, time.monotonic() - start)

    @staticmethod
    def _stop(proc: subprocess.Popen) -> tuple[str, str]:
        """Stop the script (TERM, then KILL after the grace period); what it printed in all."""
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            return proc.communicate(timeout=TEARDOWN_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.communicate()
        except ProcessLookupError:
            return proc.communicate()

    def describe(self) -> dict:
        return {"target": "local", "host_kernel": os.uname().release}

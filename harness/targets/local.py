"""The ``local`` target: scripts run with bash on this machine, as root."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from harness.targets.base import ExecResult, Target, TargetError

# How long the script's own EXIT trap gets to tear down after SIGTERM (seconds).
TEARDOWN_GRACE_S = 15
# How often a running script is looked at, and how long what it started may hold its output
# after ``bash -s`` itself is gone (seconds).
POLL_S = 0.5
ORPHAN_GRACE_S = 1.0


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
            stdout, stderr = self._communicate(proc, script, start + timeout)
        except subprocess.TimeoutExpired:
            stdout, stderr = self._stop(proc)
            raise TargetError(f"the script ran longer than {timeout:.0f} s and was stopped",
                              partial=ExecResult(proc.returncode, stdout, stderr, time.monotonic() - start)) from None
        except KeyboardInterrupt:
            self._stop(proc)
            raise
        return ExecResult(proc.returncode, stdout, stderr, time.monotonic() - start)

    @staticmethod
    def _communicate(proc: subprocess.Popen, script: str, deadline: float) -> tuple[str, str]:
        """``proc.communicate(script)`` until ``deadline`` (``time.monotonic()``), raising
        ``subprocess.TimeoutExpired`` then. Once ``bash -s`` is gone (killed: its EXIT trap did
        not run) what it started, a check's ping, would hold the pipes open until it ends by
        itself: after ``ORPHAN_GRACE_S`` the rest of its session is killed."""
        script_input: str | None = script
        gone_at = None
        while True:
            now = time.monotonic()
            try:
                return proc.communicate(script_input, timeout=max(0.0, min(POLL_S, deadline - now)))
            except subprocess.TimeoutExpired:
                script_input = None   # sent: communicate() refuses input a second time
                now = time.monotonic()
                if proc.poll() is not None:
                    gone_at = gone_at or now
                    if now - gone_at >= ORPHAN_GRACE_S:
                        _signal_session(proc.pid, signal.SIGKILL)
                        return proc.communicate()
                if now >= deadline:
                    raise

    @staticmethod
    def _stop(proc: subprocess.Popen) -> tuple[str, str]:
        """Stop the script (TERM, then KILL after the grace period); what it printed in all.

        Signals go to the script's whole session: a command check's ``timeout`` runs in a process
        group of its own, which the script's group would miss (it ran on to its own limit)."""
        _signal_session(proc.pid, signal.SIGTERM)
        try:
            return proc.communicate(timeout=TEARDOWN_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_session(proc.pid, signal.SIGKILL)
            return proc.communicate()

    def describe(self) -> dict:
        return {"target": "local", "host_kernel": os.uname().release}


def _signal_session(sid: int, sig: int) -> None:
    """Send ``sig`` to every process of session ``sid`` (the script's: it is its session leader)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if os.getsid(pid) == sid:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

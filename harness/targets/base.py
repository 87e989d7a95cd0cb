"""The target interface: run a bash script, return exit code, output and duration."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional


class TargetError(RuntimeError):
    """The target could not run a script (not root, connection lost, VM gone, timeout).

    ``partial``: what the script printed before it was stopped or lost (an ``ExecResult``), when
    anything came back; the runner keeps the verdicts of the checks it holds.
    """

    def __init__(self, message: str, partial: "Optional[ExecResult]" = None):
        super().__init__(message)
        self.partial = partial


@dataclass(frozen=True)
class ExecResult:
    """What a script did: ``exit_code``, ``stdout``, ``stderr`` (text), ``duration_s`` (seconds)."""

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float


class Target(ABC):
    """Somewhere to run scripts as root. Use as a context manager so ``close`` always runs."""

    name: str = "target"
    # A target the harness made and throws away (a VM): it may load kernel modules there.
    disposable: bool = False

    @abstractmethod
    def run(self, script: str, *, timeout: float) -> ExecResult:
        """Run ``script`` with bash as root; give up after ``timeout`` seconds.

        Raises ``TargetError`` when the script cannot be run or its result cannot be had
        (a failing script is not an error: its exit code says so).
        """

    def describe(self) -> dict:
        """Facts about the target itself (box, provider, host), beside the kernel facts."""
        return {"target": self.name}

    def login_hint(self) -> Optional[str]:
        """How a user logs in to inspect the target, when there is something to say."""
        return None

    def close(self) -> None:
        """Release connections; the default has nothing to release."""

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Targets run a bash script somewhere and return what it did.

``local`` runs on this machine; ``ssh`` on any Linux host over SSH; ``vagrant`` in a
disposable VM. Each is a module with one ``Target`` subclass (as in pytest-testinfra's
backends); ``get_target`` builds one from a ``--target`` spec.
"""

from harness.targets.base import ExecResult, Target, TargetError

__all__ = ["ExecResult", "Target", "TargetError", "get_target"]


def get_target(spec: str, **options) -> Target:
    """Build a target from ``spec``: ``local``, ``vagrant`` or ``ssh://user@host[:port]``.

    Raises ``TargetError`` for an unknown kind, naming the ones there are.
    """
    kind = spec.split("://", 1)[0] if "://" in spec else spec
    if kind == "local":
        from harness.targets.local import LocalTarget

        return LocalTarget()
    if kind == "ssh":
        from harness.targets.ssh import SshTarget

        return SshTarget.from_spec(spec, **options)
    if kind == "vagrant":
        from harness.targets.vagrant import VagrantTarget

        return VagrantTarget(**options)
    raise TargetError(f"unknown target {spec!r}: use local, vagrant or ssh://user@host[:port]")

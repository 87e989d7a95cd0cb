"""After a run that did not end cleanly: remove what it left on the target, fetch its kernel log.

A run script tears down on every exit it sees (its trap), but not when it is killed outright
(SIGKILL, a lost SSH session, a timeout's last resort). Then its namespaces, its lock
``/run/netns-harness/<run id>.lock`` and its temp dir ``netns-harness-<run id>.XXXXXX`` stay;
``templates/clean.sh.j2`` removes them, and only for runs whose lock is free.
"""

from __future__ import annotations

from typing import Optional

from harness.render import render_clean
from harness.runner import ScenarioResult, kernel_warnings
from harness.targets.base import Target, TargetError

# Kernel log lines kept after a run that died: those stamped since it started, plus this slack (s).
KERNEL_LOG_SLACK_S = 5
AFTERMATH_TIMEOUT_S = 60
# After the harness killed a run's script, what the script started may hold the run's lock a
# moment longer (seen on a loaded machine: the clean found the lock held and kept everything).
KILLED_RUN_LOCK_WAIT_S = 5


def kernel_log_script(seconds: float) -> str:
    """Bash that prints the kernel log lines stamped in the last ``seconds`` (``dmesg``, seconds since boot)."""
    return (
        "up=$(cut -d' ' -f1 /proc/uptime)\n"
        f"dmesg 2>/dev/null | awk -v since=\"$(awk -v u=\"$up\" 'BEGIN {{ print u - {float(seconds):.3f} }}')\" "
        "'{ t = $0; sub(/^\\[ */, \"\", t); sub(/\\].*/, \"\", t); if (t + 0 >= since) print }'\n"
    )


def clean_run(target: Target, run_id: str, timeout: float = AFTERMATH_TIMEOUT_S) -> Optional[str]:
    """Remove what run ``run_id`` left on ``target`` (namespaces, lock, temp dir) if it is over.

    Returns None when the clean script ran, or a sentence saying why the target could not be
    reached. Never raises ``TargetError``.
    """
    try:
        target.run(render_clean(run_id), timeout=timeout)
    except (TargetError, OSError) as exc:
        return f"could not clean up after run {run_id}: {exc}"
    return None


def clean_after(target: Target, result: ScenarioResult) -> Optional[str]:
    """Clean up after ``result`` when its run script did not finish, and fetch the kernel log it missed.

    Runs the clean script for the result's run id (its namespaces, lock and temp dir; a run
    that tore down finds nothing to remove) and, when the result has no kernel log, fills in
    ``result.kernel_log`` and ``result.kernel_warnings`` from the lines stamped since the run
    began. Returns None when done, or a sentence saying why the target could not be reached
    (the caller tells the user to run ``harness clean``). Never raises ``TargetError``.
    """
    if not result.run_id:
        return None
    script = render_clean(result.run_id, lock_wait_s=KILLED_RUN_LOCK_WAIT_S)
    fetch_log = not result.kernel_log
    if fetch_log:
        script += "echo '@@netns-harness kernel-log'\n" + kernel_log_script(result.duration_s + KERNEL_LOG_SLACK_S)
    try:
        done = target.run(script, timeout=AFTERMATH_TIMEOUT_S)
    except (TargetError, OSError) as exc:
        return f"could not clean up after run {result.run_id}: {exc}"
    _, _, log = done.stdout.partition("@@netns-harness kernel-log\n")
    if fetch_log and log:
        result.kernel_log = log
        result.kernel_warnings = kernel_warnings(log)
    return None

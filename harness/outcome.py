"""Whether a run counts as passed, for ``--destroy passing``: one rule for the CLI and pytest.

The VM is destroyed after a passing run and kept for inspection otherwise. A failure after
the VM came up but before a scenario produced a result (the facts probe failed, the
connection broke, a harness error) is a failure like a FAIL or an ERROR: the VM is kept.
An interruption (Ctrl-C, SIGTERM) is judged on the results so far.
"""

from __future__ import annotations

from typing import Iterable

# Scenario outcomes that keep the VM; PASS, SKIP, XFAIL and XPASS do not.
FAILING_STATUSES = frozenset({"FAIL", "ERROR"})


def run_passed(statuses: Iterable[str], *, failed_outside_scenarios: bool = False) -> bool:
    """True when no scenario status is FAIL or ERROR and nothing else failed.

    ``statuses``: the scenario outcomes so far (``ScenarioResult.status``).
    ``failed_outside_scenarios``: a failure that produced no scenario result, after the
    target came up (facts probe, lost connection, harness error, an invalid scenario file
    under pytest). Used by ``harness run`` and by the pytest plugin before ``set_outcome``.
    """
    return not failed_outside_scenarios and not any(status in FAILING_STATUSES for status in statuses)

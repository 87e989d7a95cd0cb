"""``refused``: a change the kernel must refuse (a step item with ``expect_error``).

Made by the harness from the item, not written as a check: PASS when the change's commands
fail with a message matching the pattern, FAIL when the kernel accepts the change or
refuses it with another message. The run goes on either way.
"""

from __future__ import annotations

from typing import Any

from harness.checks.base import FAIL, PASS, CheckSpec, Verdict, matches
from harness.fields import NsName
from harness.protocol import CheckOutput


class RefusedCheck(CheckSpec):
    """The kernel refuses ``change`` (in ``namespace``) with a message matching ``pattern``."""

    kind = "refused"
    user_facing = False

    namespace: NsName
    change: str
    pattern: str

    def title(self) -> str:
        return f"{self.change} refused ({self.pattern})"

    def expected(self) -> dict[str, Any]:
        return {"refused": True, "message": self.pattern}

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        message = output.stderr.strip()
        observed = {"exit_code": output.exit_code, "message": message[-500:]}
        if output.exit_code == 0:
            return Verdict(FAIL, expected, observed, "the kernel accepted the change")
        if not matches(self.pattern, message):
            return Verdict(FAIL, expected, observed, f"refused, but with another message: {message[-200:]}")
        return Verdict(PASS, expected, observed)

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        return observed.get("message", "").splitlines()[-1][:120] if observed.get("message") else ""

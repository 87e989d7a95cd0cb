"""``sysctl``: the value a namespace actually has for a ``net.*`` sysctl.

Reads ``sysctl -n KEY`` (procps) run in the namespace; values with several fields
(``net.ipv4.ping_group_range``: ``1	0``) compare field by field, whatever the whitespace.
A key the kernel does not have (``cannot stat /proc/sys/...``) is ``absent``.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Optional

from pydantic import model_validator

from harness.actions.sysctls import interface_of, slash_key
from harness.checks.base import ERROR, FAIL, PASS, CheckSpec, Ref, Verdict
from harness.fields import NsName, SysctlKey, SysctlValue
from harness.protocol import CheckOutput

NO_KEY = r"cannot stat|No such file or directory"


class SysctlCheck(CheckSpec):
    """``key`` in ``namespace`` has ``value`` (``expect: present``, the default), or the kernel has no such key."""

    kind = "sysctl"

    namespace: NsName
    key: SysctlKey
    value: Optional[SysctlValue] = None
    expect: Literal["present", "absent"] = "present"

    @model_validator(mode="after")
    def _consistent(self) -> "SysctlCheck":
        if self.expect == "present" and self.value is None:
            raise ValueError("say the value the sysctl must have (value: ...)")
        if self.expect == "absent" and self.value is not None:
            raise ValueError("an absent sysctl has no value: drop value")
        return self

    @property
    def words(self) -> list[str]:
        """The expected value split into fields (``"0 2147483647"`` -> ``["0", "2147483647"]``)."""
        return str(self.value).split()

    @property
    def path_key(self) -> str:
        """The key as ``sysctl`` is given it: slash form when it names an interface (dots in names)."""
        return slash_key(self.key) if interface_of(self.key) else self.key

    def references(self):
        yield Ref(("namespace",), self.namespace)
        if interface_of(self.key):
            yield Ref(("key",), self.namespace, interface_of(self.key))

    def title(self) -> str:
        return f"sysctl {self.namespace} {self.key}" + (f" = {self.value}" if self.expect == "present" else " absent")

    def expected(self) -> dict[str, Any]:
        return {"key": self.key, "value": " ".join(self.words)} if self.expect == "present" else {
            "key": self.key, "present": False}

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        if output.exit_code != 0:
            if re.search(NO_KEY, output.stderr):
                observed = {"present": False}
                if self.expect == "absent":
                    return Verdict(PASS, expected, observed)
                return Verdict(FAIL, expected, observed, f"the kernel has no sysctl {self.key}")
            return Verdict(ERROR, expected, {"exit_code": output.exit_code},
                           f"sysctl failed: {output.stderr.strip()[:300]}")
        got = output.stdout.split()
        observed = {"present": True, "value": " ".join(got)}
        if self.expect == "absent":
            return Verdict(FAIL, expected, observed, f"{self.key} exists (value {observed['value']})")
        if got != self.words:
            return Verdict(FAIL, expected, observed, f"{self.key} is {observed['value']}, expected {expected['value']}")
        return Verdict(PASS, expected, observed)

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        return observed.get("value", "absent") if observed.get("present") else "absent"

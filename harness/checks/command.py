"""``command``: the escape hatch: any command in a namespace, judged on its exit code and output.

``run`` is a list of arguments (run as they are) or a string (run by ``bash -c``, as one
argument: the script is the scenario's own, never spliced into the harness's). ``user`` runs
it as that user (``runuser``). The check holds when the exit code is ``exit_code`` (default
0; ``nonzero`` for any failure) and the output matches ``stdout``/``stderr`` and does not match
``not_stdout``/``not_stderr`` (POSIX extended regular expressions, as ``grep -E``, any line).
"""

from __future__ import annotations

import re
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator

from harness.checks.base import FAIL, PASS, CheckSpec, Ref, Verdict, matches
from harness.checks.ping import USER_RE
from harness.fields import NsName, Regex, number_text
from harness.protocol import CheckOutput


class CommandCheck(CheckSpec):
    """Run ``run`` in ``namespace``; its exit code and output must be as given."""

    kind = "command"

    namespace: NsName
    run: Union[list[str], str] = Field(description="arguments, or a bash script (bash -c)")
    user: Optional[str] = Field(None, description="run as this user instead of root")
    exit_code: Union[int, Literal["nonzero", "any"]] = 0
    stdout: Optional[Regex] = None
    stderr: Optional[Regex] = None
    not_stdout: Optional[Regex] = None
    not_stderr: Optional[Regex] = None
    timeout: float = Field(10, gt=0, le=600, description="seconds the command may run")

    @field_validator("run", mode="before")
    @classmethod
    def _words(cls, value):
        # YAML reads an unquoted -6, 1 or 0x10 as a number: an argument is its text, as written.
        if isinstance(value, list):
            return [number_text(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in value]
        return value

    @field_validator("run")
    @classmethod
    def _run(cls, value):
        if not value or (isinstance(value, list) and not value[0]):
            raise ValueError("say what to run: a list of arguments or a bash script")
        if any("\x00" in arg for arg in ([value] if isinstance(value, str) else value)):
            raise ValueError("a NUL byte cannot be passed to a command")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value):
        if value is not None and not USER_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a user name such as nobody")
        return value

    @field_validator("exit_code")
    @classmethod
    def _code(cls, value):
        if isinstance(value, int) and not 0 <= value <= 255:
            raise ValueError(f"exit code {value} is out of range: use 0-255, nonzero or any")
        return value

    @property
    def argv(self) -> list[str]:
        return ["bash", "-c", self.run] if isinstance(self.run, str) else list(self.run)

    def tools(self) -> tuple[str, ...]:
        return ("runuser",) if self.user else ()

    def try_seconds(self) -> float:
        return self.timeout + 1

    def references(self):
        yield Ref(("namespace",), self.namespace)

    def title(self) -> str:
        text = self.run if isinstance(self.run, str) else " ".join(self.run)
        text = re.sub(r"\s+", " ", text).strip()
        return f"command {self.namespace}" + (f" as {self.user}" if self.user else "") + ": " + (
            text if len(text) <= 60 else text[:57] + "...")

    def expected(self) -> dict[str, Any]:
        return self.model_dump(include={"exit_code", "stdout", "stderr", "not_stdout", "not_stderr"}, exclude_none=True)

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        observed = {"exit_code": output.exit_code, "stdout": output.stdout[-2000:], "stderr": output.stderr[-2000:]}
        wrong = []
        code = self.exit_code
        if (code == "nonzero" and output.exit_code == 0) or (isinstance(code, int) and output.exit_code != code):
            wrong.append(f"exit code {output.exit_code}, expected {code}")
        for name, text, must in (("stdout", output.stdout, True), ("stderr", output.stderr, True),
                                 ("not_stdout", output.stdout, False), ("not_stderr", output.stderr, False)):
            pattern = getattr(self, name)
            if pattern is not None and matches(pattern, text) != must:
                wrong.append(f"{name.replace('not_', '')} {'does not match' if must else 'matches'} {pattern!r}")
        if wrong:
            return Verdict(FAIL, expected, observed, "; ".join(wrong))
        return Verdict(PASS, expected, observed)

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        return f"exit {observed.get('exit_code')}"

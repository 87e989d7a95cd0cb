"""The error raised by every parser in :mod:`harness.parsers`."""

from __future__ import annotations


class ParseError(ValueError):
    """Raised when tool output cannot be read.

    The message names the reason, the 1-based line number and quotes the offending line,
    e.g. ``unrecognised ping output at line 3: 'garbage'``.  The same facts are available as
    attributes: ``reason`` (str), ``line_no`` (int | None; None when the problem is not tied
    to one line, e.g. empty input or a JSON element) and ``line`` (str | None; the text quoted).
    """

    def __init__(self, reason: str, line_no: int | None = None, line: str | None = None) -> None:
        self.reason = reason
        self.line_no = line_no
        self.line = line
        if line_no is not None:
            message = f"{reason} at line {line_no}: {line!r}"
        elif line is not None:
            message = f"{reason}: {line!r}"
        else:
            message = reason
        super().__init__(message)

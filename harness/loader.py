"""Read a scenario file: YAML with line numbers, model validation, cross-reference checks.

Every problem is reported as ``FILE:LINE: FIELD.PATH: what is wrong; the fix`` before
anything runs, all problems of a file at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import ValidationError

from harness.model import Scenario
from harness.references import find_reference_problems

Loc = tuple[Union[str, int], ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file: where (file, line, field path) and what."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario file is unreadable or invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key and sequence item."""


def _compose_with_lines(text: str) -> tuple[Any, dict[Loc, int]]:
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}

        def walk(n: yaml.Node, loc: Loc) -> Any:
            lines.setdefault(loc, n.start_mark.line + 1)
            if isinstance(n, yaml.MappingNode):
                out = {}
                for key_node, value_node in n.value:
                    key = loader.construct_object(key_node, deep=True)
                    if key in out:
                        raise _Duplicate(key, key_node.start_mark.line + 1, loc)
                    lines[loc + (key,)] = key_node.start_mark.line + 1
                    out[key] = walk(value_node, loc + (key,))
                return out
            if isinstance(n, yaml.SequenceNode):
                return [walk(item, loc + (i,)) for i, item in enumerate(n.value)]
            return loader.construct_object(n, deep=True)

        return (walk(node, ()) if node is not None else None), lines
    finally:
        loader.dispose()


class _Duplicate(Exception):
    def __init__(self, key: Any, line: int, loc: Loc):
        self.key, self.line, self.loc = key, line, loc


def format_loc(loc: Loc) -> str:
    """``("veths", 0, "peer", "name")`` -> ``veths[0].peer.name``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc`` or of its nearest enclosing field that has one."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _allowed_fields(loc: Loc) -> list[str]:
    """Field names valid at the parent of ``loc``, for 'did you mean' on unknown fields."""
    from harness import model

    cls: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return []
        if cls is Scenario and part == "namespaces":
            cls = model.Namespace
            continue
        cls = _model_in(field.annotation)
        if cls is None:
            return []
    fields = getattr(cls, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    from typing import get_args

    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _pydantic_problems(file: str, err: ValidationError, lines: dict[Loc, int]) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-", "list[", "dict["))))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(loc)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed fields: {', '.join(allowed)}"
            msg = f"unknown field '{loc[-1]}'; {hint}"
        elif e["type"] == "missing":
            msg = f"required field '{loc[-1]}' is missing; add it"
        elif e["type"] in ("literal_error",):
            msg = f"{msg} (got {e.get('input')!r})"
        problems.append(Problem(file, line_of(lines, loc), format_loc(loc), msg))
    return problems


def load_scenario(path: Union[str, Path]) -> Scenario:
    """Read and validate a scenario file.

    Returns the ``Scenario``. Raises ``ScenarioError`` listing every problem (YAML syntax,
    unknown or missing fields, bad names or addresses, references to namespaces or
    interfaces that do not exist, duplicate names), each with file, line, field path and fix.
    """
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([Problem(file, None, "", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(file, None, "", f"not UTF-8 text (byte {exc.start}): save it as UTF-8")]) from None
    return parse_scenario(text, file)


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Like ``load_scenario`` but from text; ``file`` names it in error messages."""
    try:
        data, lines = _compose_with_lines(text)
    except _Duplicate as dup:
        raise ScenarioError(
            [Problem(file, dup.line, format_loc(dup.loc + (dup.key,)), f"'{dup.key}' is given twice; keep one")]
        ) from None
    except RecursionError:
        raise ScenarioError([Problem(file, None, "", "a YAML alias refers to itself: remove the loop")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, 1, "", "a scenario file is a mapping with 'name', 'namespaces' and checks")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_pydantic_problems(file, err, lines)) from None
    problems = [
        Problem(file, line_of(lines, loc), format_loc(loc), message)
        for loc, message in find_reference_problems(scenario)
    ]
    if problems:
        raise ScenarioError(problems)
    return scenario

"""Read a scenario file: YAML with line numbers, model validation, cross-reference checks.

Every problem is reported as ``FILE:LINE: FIELD.PATH: what is wrong; the fix`` before
anything runs, all problems of a file at once.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import yaml
from pydantic import ValidationError

from harness.fields import PATTERN_WORDS, SourceFloat, SourceInt, number_text
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
        # One terminal line whatever the file name or a YAML key holds (ESC, CR, newlines, bidi).
        from harness.report import one_line

        where = f"{one_line(self.file)}:{self.line}" if self.line else one_line(self.file)
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return one_line(text)


class ScenarioError(Exception):
    """A scenario file is unreadable or invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key and sequence item."""


# Bounds that keep a hostile file from costing minutes and gigabytes: its size, the values it
# expands to through aliases (the "billion laughs"), and how deep it nests.
MAX_BYTES = 2_000_000
MAX_VALUES = 200_000
MAX_DEPTH = 100
_SCALAR_KEYS = (str, int, float, bool, type(None))


class _Bad(Exception):
    """A structural problem found while reading the YAML (line, field path, message)."""

    def __init__(self, line: Optional[int], loc: "Loc", message: str):
        self.line, self.loc, self.message = line, loc, message


def _compose_with_lines(text: str) -> tuple[Any, dict[Loc, int]]:
    loader = _LineLoader(text)
    budget = [MAX_VALUES]
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}

        def construct(n: yaml.Node, loc: Loc) -> Any:
            try:
                return loader.construct_object(n, deep=True)
            except ValueError:  # e.g. an integer of thousands of digits
                raise _Bad(n.start_mark.line + 1, loc, f"{str(n.value)[:20]}... ({len(str(n.value))} characters) "
                                                       "is far out of range: write a value the field takes") from None

        def walk(n: yaml.Node, loc: Loc, path: tuple) -> Any:
            budget[0] -= 1
            if budget[0] < 0:
                raise _Bad(n.start_mark.line + 1, loc[:1], f"the document expands to more than {MAX_VALUES} values "
                                                       "(YAML aliases repeating each other?): simplify it")
            if len(path) > MAX_DEPTH:
                raise _Bad(n.start_mark.line + 1, loc, f"nested more than {MAX_DEPTH} levels deep: flatten it")
            if id(n) in path:
                raise _Bad(n.start_mark.line + 1, loc, "a YAML alias refers to itself: remove the loop")
            path = path + (id(n),)
            lines.setdefault(loc, n.start_mark.line + 1)
            if isinstance(n, yaml.MappingNode):
                explicit = sum(1 for k, _ in n.value if k.tag != "tag:yaml.org,2002:merge")
                loader.flatten_mapping(n)  # YAML merge keys (<<: *anchor); explicit keys win
                merged = len(n.value) - explicit
                out, given = {}, set()
                for index, (key_node, value_node) in enumerate(n.value):
                    key = construct(key_node, loc)
                    line = key_node.start_mark.line + 1
                    if not isinstance(key, _SCALAR_KEYS):
                        raise _Bad(line, loc, f"a key must be a word, not a {type(key).__name__}")
                    if index >= merged:
                        if key in given:
                            raise _Bad(line, loc + (key,), f"'{key}' is given twice; keep one")
                        given.add(key)
                    lines[loc + (key,)] = line
                    out[key] = walk(value_node, loc + (key,), path)
                return out
            if isinstance(n, yaml.SequenceNode):
                return [walk(item, loc + (i,), path) for i, item in enumerate(n.value)]
            value = construct(n, loc)
            # A number written otherwise than Python prints it keeps its text, for fields that
            # take text (a command's arguments: 52:54:00:12:34:57 is not 41135085297).
            if type(value) in (int, float) and isinstance(n.value, str) and n.value != str(value):
                value = (SourceInt if type(value) is int else SourceFloat)(value)
                value.source = n.value
            return value

        return (walk(node, (), ()) if node is not None else None), lines
    finally:
        loader.dispose()


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
    from typing import get_args, get_origin

    annotation: Any = Scenario
    skip_key = False
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if skip_key:  # a key of a dict section (a namespace name)
            skip_key = False
            continue
        cls = _model_in(annotation)
        field = getattr(cls, "model_fields", {}).get(part) or _by_alias(cls, part)
        if field is None:
            return []
        annotation = field.annotation
        skip_key = get_origin(annotation) is dict or any(get_origin(a) is dict for a in get_args(annotation))
    cls = _model_in(annotation)
    fields = getattr(cls, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


def _by_alias(cls: Any, name: str) -> Any:
    for field in getattr(cls, "model_fields", {}).values():
        if field.alias == name:
            return field
    return None


def _model_in(annotation: Any) -> Any:
    from typing import get_args

    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


# Parts of a pydantic error location that name a type tried (the members of a union), not a field.
_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|\[key\]|(function-|list\[|dict\[|literal\[|tagged-union\[).*)$")


def _pydantic_problems(file: str, err: ValidationError, lines: dict[Loc, int]) -> list[Problem]:
    by_loc: dict[Loc, list[dict]] = {}
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and _TYPE_TAG.match(p)))
        by_loc.setdefault(loc, []).append(e)
    problems = []
    for loc, errors in by_loc.items():
        # A list or mapping that failed as the text member of a union (``run: [true]``) while an
        # item inside it failed too: the item's problem is the one to fix.
        if any(len(other) > len(loc) and other[:len(loc)] == loc for other in by_loc):
            errors = [e for e in errors if not _container_as_text(e)]
        msgs = list(dict.fromkeys(_message(e, loc, alone=len(errors) == 1) for e in errors))
        if msgs:
            # One problem per field: a value that fits no member of a union says so once.
            problems.append(Problem(file, line_of(lines, loc), format_loc(loc),
                                    msgs[0] + "".join("; or " + m.removeprefix("Input should be ") for m in msgs[1:])))
    return problems


def _message(e: dict, loc: Loc, alone: bool) -> str:
    """What is wrong with one field, with the fix. ``alone``: the field's only error; the errors
    of a union's members keep pydantic's words, joined with "or"."""
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        allowed = _allowed_fields(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed fields: {', '.join(allowed)}"
        if loc[-1] in ("within", "name") and len(loc) >= 4 and loc[-4] == "checks":
            # Written inside the check kind's mapping; it belongs beside the kind.
            hint = f"it goes beside the check kind, not inside it: - {{{loc[-1]}: ..., {loc[-2]}: {{...}}}}"
        return f"unknown field '{loc[-1]}'; {hint}"
    if e["type"] == "missing":
        return f"required field '{loc[-1]}' is missing; add it"
    if e["type"] == "literal_error":
        choices = re.findall(r"'([^']*)'", (e.get("ctx") or {}).get("expected", ""))
        close = difflib.get_close_matches(str(e.get("input")), choices, n=1)
        return f"{msg} (got {e.get('input')!r})" + (f"; did you mean '{close[0]}'?" if close else "")
    return (alone and _in_plain_words(e)) or msg


def _container_as_text(e: dict) -> bool:
    return e["type"] == "string_type" and isinstance(e.get("input"), (list, dict))


_YAML_TYPES = {bool: "a boolean", int: "a number", float: "a number"}
_LIMITS = {"greater_than": "more than {gt}", "greater_than_equal": "{ge} or more",
           "less_than": "less than {lt}", "less_than_equal": "at most {le}"}


def _in_plain_words(e: dict) -> Optional[str]:
    """pydantic's message for error ``e`` in the scenario's terms, with the fix; None: keep pydantic's."""
    kind, value, ctx = e["type"], e.get("input"), e.get("ctx") or {}
    if kind in _LIMITS:
        limits = {k: f"{v:g}" if isinstance(v, float) else v for k, v in ctx.items()}
        return f"{value!r} is out of range: use {_LIMITS[kind].format(**limits)}"
    if kind == "string_pattern_mismatch":
        words = PATTERN_WORDS.get(ctx.get("pattern", ""))
        return f"{value!r} is not allowed here: use {words}" if words else None
    if kind == "string_type":
        if isinstance(value, (list, dict)) or value is None:
            return f"expected text, got {_yaml_kind(value)}"
        kind_of = next((words for cls, words in _YAML_TYPES.items() if isinstance(value, cls)), None)
        if kind_of:
            text = yaml.safe_dump(value).removesuffix("\n...\n").strip() if isinstance(value, bool) else number_text(value)
            return f"YAML reads {text} as {kind_of}: quote it for text ('{text}')"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{value!r} is not a whole number: use one such as 5"
    if kind in ("float_parsing", "float_type"):
        return f"{value!r} is not a number: use one such as 1.5"
    if kind in ("bool_parsing", "bool_type"):
        return f"{value!r} is not true or false: write true or false"
    if kind in ("list_type",):
        return f"expected a list ('- item' lines or [a, b]), got {_yaml_kind(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping ('key: value' lines or {{key: value}}), got {_yaml_kind(value)}"
    return None


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(number_text(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value)


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


def _too_deep(text: str) -> Optional[int]:
    """The line where flow brackets (``[``, ``{``) nest past ``MAX_DEPTH``, or None. Linear, so
    a hostile file is refused before PyYAML's scanner spends seconds on it; quotes and comments
    are skipped well enough for that purpose."""
    depth, line, quote = 0, 1, ""
    for i, ch in enumerate(text):
        if ch == "\n":
            line += 1
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and (i == 0 or text[i - 1] in " \t\n[{,:"):
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]}":
            depth = max(0, depth - 1)
    return None


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Like ``load_scenario`` but from text; ``file`` names it in error messages."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise ScenarioError([Problem(file, None, "", f"the file is larger than {MAX_BYTES // 1_000_000} MB: "
                                                      "a scenario is a page or two of YAML")])
    deep = _too_deep(text)
    if deep:
        raise ScenarioError([Problem(file, deep, "", f"nested more than {MAX_DEPTH} levels deep: flatten it")])
    try:
        data, lines = _compose_with_lines(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, ...): no mark
        line = text[:exc.position].count("\n") + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise ScenarioError([Problem(file, line, "", f"character {char} is not allowed in YAML: remove it")]) from None
    except _Bad as bad:
        raise ScenarioError([Problem(file, bad.line, format_loc(bad.loc), bad.message)]) from None
    except RecursionError:
        raise ScenarioError([Problem(file, None, "", "nested too deeply for a scenario: flatten it")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ScenarioError([Problem(file, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, 1, "", "a scenario file is a mapping with 'name', 'namespaces' and checks")])
    # Top-level keys starting with "x-" are the author's own (a place for YAML anchors), as in Compose files.
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_pydantic_problems(file, err, lines)) from None
    scenario._lines = lines
    problems = [
        Problem(file, line_of(lines, loc), format_loc(loc), message)
        for loc, message in find_reference_problems(scenario)
    ]
    if problems:
        raise ScenarioError(problems)
    return scenario

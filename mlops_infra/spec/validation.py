"""Validate a resource's kind fields with the kind's pydantic model; errors become one-line
``SpecError``s located by line, with 'did you mean' hints for unknown fields.

Errors are placed in the user's data, not in pydantic's model: a ``loc`` is split into the
keys/indexes of the data (``schema.3.type``, located at that item's line) and the union
members pydantic tried. For a shorthand such as ``list[SchemaField] | TableSchema``,
pydantic reports both members' failures; the member whose errors got deepest into the
data is the one the user meant (a list gets the list's item errors, not "not a
mapping"), and a value fitting no member at all reads "must be a list or a mapping".
Messages use the spec's words ("must be a mapping", never a model's class name).

Values that still hold ``${ADDRESS.OUTPUT}`` references cannot be type-checked before
plan time, so validation errors on them are ignored here.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops_infra.spec.envelope import type_name
from mlops_infra.spec.errors import SpecError
from mlops_infra.spec.hints import clipped_repr, did_you_mean
from mlops_infra.spec.jsoncopy import copy_json
from mlops_infra.spec.refs import TemplateError, refs_in
from mlops_infra.spec.source import LineMap, join_path


def validate_fields(model: type[BaseModel], fields: dict[str, Any], *, path: str,
                    lines: LineMap, extra_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields as the model dumps them (only those set, by alias, JSON-shaped)."""
    try:
        validated = model.model_validate(fields)
    except ValidationError as exc:
        issues = [i for i in select_issues([issue_of(e, fields) for e in exc.errors()])
                  if not _holds_ref(i.error.get("input"))]
        if issues:
            raise _first_error(issues, model, path, lines, extra_names) from None
        return copy_json(fields)
    return validated.model_dump(exclude_unset=True, by_alias=True, mode="json")


def _holds_ref(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(refs_in(value))
    except TemplateError:
        return False


# --- from pydantic's errors to the user's data ------------------------------------------------

@dataclass(frozen=True)
class Issue:
    """One pydantic error placed in the user's data.

    ``segments`` are the keys/indexes of the data it is about; ``branches`` are the union
    members pydantic tried on the way there, as ``(segments at the union, member tag)``.
    """

    error: Mapping[str, Any]
    segments: tuple[Any, ...]
    branches: tuple[tuple[tuple[Any, ...], str], ...] = ()

    @property
    def type(self) -> str:
        return str(self.error["type"])

    @property
    def is_mismatch(self) -> bool:
        """The value is of the wrong type altogether (not a wrong value of the right type)."""
        return self.type in _NOUNS

    def specificity(self) -> tuple[int, bool]:
        """How far into the data the error got: deeper errors, and errors about a value of
        the right type, tell which union member the user meant."""
        return len(self.segments), not self.is_mismatch


def issue_of(error: Mapping[str, Any], data: Any) -> Issue:
    """``error`` with its ``loc`` split into data segments and union member tags."""
    loc = tuple(error["loc"])
    segments: list[Any] = []
    branches: list[tuple[tuple[Any, ...], str]] = []
    for index, seg in enumerate(loc):
        if _has(data, seg):
            data = data[seg]
            segments.append(seg)
        elif index == len(loc) - 1 and error["type"] == "missing":
            segments.append(seg)                     # the key that is not there
        else:
            branches.append((tuple(segments), str(seg)))
    return Issue(error, tuple(segments), tuple(branches))


def _has(data: Any, seg: Any) -> bool:
    if isinstance(data, dict):
        return seg in data
    return isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data)


def select_issues(issues: list[Issue], level: int = 0) -> list[Issue]:
    """The issues of the union members the user meant: at each union, pydantic reports
    every member's failure (``list[Field] | Schema`` given a list also says "not a
    mapping"); keep the member that got furthest into the data."""
    selected = [i for i in issues if len(i.branches) <= level]
    unions: dict[tuple[Any, ...], list[Issue]] = {}
    for issue in issues:
        if len(issue.branches) > level:
            unions.setdefault(issue.branches[level][0], []).append(issue)
    for at, members in unions.items():
        selected += _choose_member(at, members, level)
    return selected


def _choose_member(at: tuple[Any, ...], issues: list[Issue], level: int) -> list[Issue]:
    by_member: dict[str, list[Issue]] = {}
    for issue in issues:
        by_member.setdefault(issue.branches[level][1], []).append(issue)
    groups = list(by_member.values())
    if len(groups) > 1 and all(i.is_mismatch and i.segments == at for i in issues):
        return [_mismatch(at, issues)]               # the value fits no member at all
    best = max(groups, key=lambda group: max(i.specificity() for i in group))
    return select_issues(best, level + 1)


def _mismatch(at: tuple[Any, ...], issues: list[Issue]) -> Issue:
    nouns = list(dict.fromkeys(_NOUNS[i.type] for i in issues))
    wanted = ", ".join(nouns[:-1]) + " or " + nouns[-1] if len(nouns) > 1 else nouns[0]
    return Issue({"type": "union_mismatch", "msg": f"must be {wanted}",
                  "input": issues[0].error.get("input")}, at)


def _first_error(issues: list[Issue], model: type[BaseModel], path: str, lines: LineMap,
                 extra_names: tuple[str, ...]) -> SpecError:
    issues = sorted(issues, key=lambda i: (i.type == "missing",  # a typo explains a missing field
                                           lines.line(join_path(path, *i.segments)) or 0))
    issue = issues[0]
    field_path = join_path(path, *issue.segments)
    return lines.error(field_path, _message(issue, model, list(issue.segments), extra_names))


_NOUNS = {
    "bool_type": "a boolean", "bool_parsing": "a boolean",
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number",
    "string_type": "a string", "bytes_type": "a string",
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
    "frozen_set_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "dataclass_type": "a mapping", "none_required": "null",
}
_AS_MAPPING = ("dict_type", "model_type", "model_attributes_type", "dataclass_type")
_ABOUT_VALUE = ("value_error", "assertion_error", "too_long", "too_short")
_PREFIXES = ("Value error, ", "Assertion failed, ")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _message(issue: Issue, model: type[BaseModel], segments: list[Any],
             extra_names: tuple[str, ...]) -> str:
    kind, error = issue.type, issue.error
    if kind == "extra_forbidden":
        names = field_names(model_at(model, segments[:-1]))
        if len(segments) == 1:
            names += extra_names
        return f"unknown field{did_you_mean(str(segments[-1]), names)}"
    if kind == "missing":
        return "required field is missing"
    text, value = _wording(kind, error), error.get("input")
    if kind in _ABOUT_VALUE and isinstance(value, (dict, list)):
        return text                                  # a model's own check: the data is the item
    if isinstance(value, str) and _mentions(text, value):
        return text
    return f"{text} (got {_short(value)}{_hint(kind, error)})"


def _mentions(text: str, value: str) -> bool:
    """Whether the message already quotes the value (however much of it it shows)."""
    return _short(value) in text or repr(value)[:40] in text


def _wording(kind: str, error: Mapping[str, Any]) -> str:
    """pydantic's message in the spec's words (no model class names, no "Input")."""
    ctx = error.get("ctx") or {}
    if kind in _AS_MAPPING:
        return "must be a mapping"
    if kind == "list_type":
        return "must be a list"
    if kind in ("too_long", "too_short") and "actual_length" in ctx:
        bound = "at most" if kind == "too_long" else "at least"
        limit = ctx.get("max_length" if kind == "too_long" else "min_length")
        return f"must have {bound} {limit} item{'s' if limit != 1 else ''}, not {ctx['actual_length']}"
    text = str(error["msg"])
    for prefix in _PREFIXES:
        text = text.removeprefix(prefix)
    return re.sub(r"^Input should be ", "must be ", text)


def _hint(kind: str, error: Mapping[str, Any]) -> str:
    """``"; did you mean 'X'?"`` for a near miss of one of a literal's values."""
    value = error.get("input")
    if kind != "literal_error" or not isinstance(value, str):
        return ""
    expected = _QUOTED.findall(str((error.get("ctx") or {}).get("expected", "")))
    hint = did_you_mean(value, expected)
    return f"; {hint.strip()[1:-1]}" if hint else ""


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return type_name(value)
    return clipped_repr(value, 40)


def field_names(model: type[BaseModel] | None) -> tuple[str, ...]:
    """A model's field names and string aliases (candidates for 'did you mean')."""
    if model is None:
        return ()
    names: list[str] = []
    for name, info in model.model_fields.items():
        names.append(name)
        names += [a for a in (info.alias, info.validation_alias) if isinstance(a, str)]
    return tuple(names)


def model_at(model: type[BaseModel], segments: list[Any]) -> type[BaseModel] | None:
    """The nested model reached from ``model`` by following data ``segments``, if any."""
    current: Any = model
    for seg in segments:
        current = _step(current, seg)
        if current is None:
            return None
    return next((c for c in _candidates(current) if _is_model(c)), None)


def _step(annotation: Any, seg: Any) -> Any:
    for candidate in _candidates(annotation):
        if _is_model(candidate):
            info = _field_info(candidate, seg)
            if info is not None:
                return info.annotation
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if origin in (list, tuple, set, frozenset) and isinstance(seg, int) and args:
            return args[0]
        if origin is dict and len(args) == 2:
            return args[1]
    return None


def _field_info(model: type[BaseModel], key: Any) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias, info.validation_alias):
            return info
    return None


def _candidates(annotation: Any) -> list[Any]:
    """The members of a union/Optional/Annotated annotation, flattened."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _candidates(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [c for arg in typing.get_args(annotation) for c in _candidates(arg)]
    return [annotation]


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)

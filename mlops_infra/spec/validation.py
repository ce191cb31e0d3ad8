"""Validate a resource's kind fields with the kind's pydantic model; errors become one-line
``SpecError``s located by line, with 'did you mean' hints for unknown fields.

Values that still hold ``${ADDRESS.OUTPUT}`` references cannot be type-checked before
plan time, so validation errors on them are ignored here.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops_infra.spec.envelope import type_name
from mlops_infra.spec.errors import SpecError
from mlops_infra.spec.hints import did_you_mean
from mlops_infra.spec.refs import RefSyntaxError, refs_in
from mlops_infra.spec.source import LineMap, join_path


def validate_fields(model: type[BaseModel], fields: dict[str, Any], *, path: str,
                    lines: LineMap, extra_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields as the model dumps them (only those set, by alias, JSON-shaped)."""
    try:
        validated = model.model_validate(fields)
    except ValidationError as exc:
        errors = [e for e in exc.errors() if not _holds_ref(e.get("input"))]
        if errors:
            raise _first_error(errors, model, fields, path, lines, extra_names) from None
        return copy.deepcopy(fields)
    return validated.model_dump(exclude_unset=True, by_alias=True, mode="json")


def _holds_ref(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(refs_in(value))
    except RefSyntaxError:
        return False


def _first_error(errors: list[Any], model: type[BaseModel], fields: dict[str, Any], path: str,
                 lines: LineMap, extra_names: tuple[str, ...]) -> SpecError:
    located = [(_data_path(e["loc"], fields), e) for e in errors]
    located.sort(key=lambda pe: (pe[1]["type"] == "missing",  # a typo explains a missing field
                                 lines.line(join_path(path, *pe[0])) or 0))
    segments, error = located[0]
    field_path = join_path(path, *segments)
    return lines.error(field_path, _message(error, model, segments, extra_names))


def _data_path(loc: tuple[Any, ...], data: Any) -> list[Any]:
    """The ``loc`` segments that name real keys/indexes (drops union member tags)."""
    out: list[Any] = []
    for i, seg in enumerate(loc):
        if _has(data, seg):
            data = data[seg]
        elif not (i == len(loc) - 1 and isinstance(data, dict)):  # a missing/unknown key is last
            continue
        out.append(seg)
    return out


def _has(data: Any, seg: Any) -> bool:
    if isinstance(data, dict):
        return seg in data
    return isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data)


def _message(error: Any, model: type[BaseModel], segments: list[Any],
             extra_names: tuple[str, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        names = field_names(model_at(model, segments[:-1]))
        if len(segments) == 1:
            names += extra_names
        return f"unknown field{did_you_mean(str(segments[-1]), names)}"
    if kind == "missing":
        return "required field is missing"
    return f"{error['msg']} (got {_short(error.get('input'))})"


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return type_name(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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

"""The registry of resource kinds: ``kinds/`` modules register here, the engine looks up."""

from __future__ import annotations

import difflib

from mlops_infra.engine.errors import UserError
from mlops_infra.engine.kind import Kind

_KINDS: dict[str, type[Kind]] = {}


def register(kind: type[Kind]) -> type[Kind]:
    """Class decorator: make ``kind`` available under ``kind.name``."""
    _KINDS[kind.name] = kind
    return kind


def kind_class(name: str) -> type[Kind]:
    try:
        return _KINDS[name]
    except KeyError:
        hint = difflib.get_close_matches(name, _KINDS, n=1)
        suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise UserError(f"unknown kind '{name}'{suffix}") from None


def all_kinds() -> dict[str, type[Kind]]:
    return dict(_KINDS)

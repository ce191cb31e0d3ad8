"""Generation / metageneration preconditions (``ifGenerationMatch`` & co.) -> 412 or 304."""

from __future__ import annotations

from typing import Any

from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.util import int_param

_FAILED = "At least one of the pre-conditions you specified did not hold."


class NotModified(Exception):
    """A GET whose ``if...NotMatch`` condition did not hold: answer 304."""


def check_metageneration(query: dict[str, str], resource: dict[str, Any] | None, *,
                         read: bool = False) -> None:
    """``ifMetagenerationMatch`` / ``ifMetagenerationNotMatch`` against ``resource``."""
    current = int(resource["metageneration"]) if resource else None
    match = int_param(query, "ifMetagenerationMatch")
    if match is not None and current != match:
        raise HttpError(412, _FAILED)
    not_match = int_param(query, "ifMetagenerationNotMatch")
    if not_match is not None and current == not_match:
        _not_match_failed(read)


def check_generation(query: dict[str, str], resource: dict[str, Any] | None, *,
                     read: bool = False) -> None:
    """``ifGenerationMatch`` (0 = must not exist) / ``ifGenerationNotMatch``."""
    current = int(resource["generation"]) if resource else 0
    match = int_param(query, "ifGenerationMatch")
    if match is not None and current != match:
        raise HttpError(412, _FAILED)
    not_match = int_param(query, "ifGenerationNotMatch")
    if not_match is not None and current == not_match:
        _not_match_failed(read)


def check_all(query: dict[str, str], resource: dict[str, Any] | None, *,
              read: bool = False) -> None:
    check_generation(query, resource, read=read)
    check_metageneration(query, resource, read=read)


def _not_match_failed(read: bool) -> None:
    if read:
        raise NotModified()
    raise HttpError(412, _FAILED)

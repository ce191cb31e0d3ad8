"""Shared helpers for every resource kind: error translation, call options, patch bodies.

* ``translate_errors(what)`` turns google / transport exceptions into ``engine.errors``
  classes (usable as a context manager or a decorator), so the engine can decide
  "retry or give up" without importing any Google library.
* ``CALL`` is the keyword arguments every API call passes: client-library retries off
  (the engine's retry layer decides) and an explicit timeout.
* ``merge_patch`` builds an RFC 7396 style patch body from the diff's ``FieldChange``s.
* ``SpecModel`` is the pydantic base of every kind's spec model.
"""

from __future__ import annotations

import copy
import http
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import FieldChange

# Module-level alias: inside a Kind class body ``list`` is the ``list()`` method.
FieldChanges = list[FieldChange]

API_TIMEOUT = 30.0
CALL: dict[str, Any] = {"retry": None, "timeout": API_TIMEOUT}

_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Some Google APIs answer rate limiting with a 403 and one of these reasons.
_TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError"})
_MAX_MESSAGE = 300


class SpecModel(BaseModel):
    """Base of the kinds' spec models: unknown fields are errors; REST names are field names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- error translation ----------------------------------------------------------

def _transport_errors() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    return (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError,
            auth_exc.TransportError, gexc.RetryError, ConnectionError, TimeoutError)


def _short(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= _MAX_MESSAGE else line[:_MAX_MESSAGE - 3] + "..."


def _status_phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def _reasons(exc: Any) -> set[str]:
    found = {getattr(exc, "reason", None)}
    for item in getattr(exc, "errors", None) or ():
        if isinstance(item, dict):
            found.add(item.get("reason"))
    return {r for r in found if r}


def _api_error_class(code: int | None, exc: Any) -> type[errors.ApiError]:
    if code == 404:
        return errors.NotFound
    if code == 409:
        return errors.Conflict
    if code == 412:
        return errors.PreconditionFailed
    if code in _TRANSIENT_STATUSES or _reasons(exc) & _TRANSIENT_REASONS:
        return errors.TransientError
    return errors.PermanentError


def translate(exc: BaseException, what: str = "") -> BaseException:
    """The ``engine.errors`` equivalent of ``exc`` (``exc`` itself when it is not Google's)."""
    from google.api_core import exceptions as gexc

    subject = f"{what}: " if what else ""
    if isinstance(exc, gexc.GoogleAPICallError):
        code = exc.code if isinstance(exc.code, int) else None
        if isinstance(exc, gexc.DeadlineExceeded):
            code = code or 504
        cls = _api_error_class(code, exc)
        head = f"{code} {_status_phrase(code)}" if code else type(exc).__name__
        return cls(f"{head}: {subject}{_short(exc.message)}", status=code)
    if isinstance(exc, _transport_errors()):
        return errors.TransientError(f"{type(exc).__name__}: {subject}{_short(str(exc))}")
    if isinstance(exc, gexc.GoogleAPIError):
        return errors.PermanentError(f"{type(exc).__name__}: {subject}{_short(str(exc))}")
    return exc


@contextmanager
def translate_errors(what: str = "") -> Iterator[None]:
    """Re-raise google / transport errors as ``engine.errors``; ``what`` names the resource.

    Works as ``with translate_errors("bucket b"):`` and as ``@translate_errors()``.
    """
    try:
        yield
    except errors.MlopsInfraError:
        raise
    except Exception as exc:
        translated = translate(exc, what)
        if translated is exc:
            raise
        raise translated from exc


# --- patch bodies ------------------------------------------------------------------

def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at ``path`` (see ``engine.paths``) inside ``target``, creating dicts."""
    *parents, leaf = paths.split(path)
    node = target
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def merge_patch(changes: Iterable[FieldChange]) -> dict[str, Any]:
    """A merge-patch body for ``changes``: new values at their paths, ``None`` where removed.

    Lists are atomic values (a change to a list carries the whole new list).
    """
    body: dict[str, Any] = {}
    for change in sorted(changes, key=lambda c: c.path.count(".")):
        value = None if change.op == "remove" else copy.deepcopy(change.new)
        set_path(body, change.path, value)
    return body


def patch_body(desired: dict[str, Any], changes: Iterable[FieldChange]) -> dict[str, Any]:
    """The patch for ``changes``, each touched top-level map completed with its desired value.

    Sending the user's whole map (not only the changed leaf) gives the same result whether
    the API merges nested objects or replaces them.
    """
    body = merge_patch(changes)
    for key, value in body.items():
        want = desired.get(key)
        if isinstance(value, dict) and isinstance(want, dict):
            body[key] = _deep_merge(want, value)
    return body


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- value normalisation -------------------------------------------------------------

def int64(value: Any) -> Any:
    """REST encodes int64 as a JSON string: ``3600`` and ``"3600"`` both become ``"3600"``."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return str(int(value))
    return value


def int64_at(body: dict[str, Any], at: Iterable[str]) -> None:
    """Apply ``int64`` in place at each dotted path present in ``body``."""
    for path in at:
        value = paths.get(body, path)
        if value is not paths.MISSING:
            set_path(body, path, int64(value))


def with_defaults(live: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``live`` with API defaults filled at dotted paths the server leaves out when unset."""
    out = copy.deepcopy(live)
    for path, value in defaults.items():
        if paths.get(out, path, None) is None:
            set_path(out, path, value)
    return out


def check_labels(labels: dict[str, str] | None) -> dict[str, str] | None:
    """Validate GCP label keys/values (lowercase letters, digits, ``_``, ``-``; <= 63 chars)."""
    for key, value in (labels or {}).items():
        if not _label_ok(key) or not key[:1].isalpha():
            raise ValueError(f"label key {key!r}: use lowercase letters, digits, '_' or '-', "
                             "starting with a letter, at most 63 characters")
        if "${" not in value and not (value == "" or _label_ok(value)):
            raise ValueError(f"label {key}={value!r}: values may hold lowercase letters, "
                             "digits, '_' or '-', at most 63 characters")
    return labels


def _label_ok(text: str) -> bool:
    return (0 < len(text) <= 63 and text == text.lower()
            and all(ch.isalnum() or ch in "_-" for ch in text))

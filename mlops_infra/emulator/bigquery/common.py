"""Helpers shared by BigQuery datasets and tables: etags, timestamps, If-Match, errors."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from mlops_infra.emulator.core import HttpError, Request
from mlops_infra.emulator.util import now_ms


def stamp(resource: dict[str, Any], *, sequence: int, created: bool) -> dict[str, Any]:
    """Set ``etag`` (changes on every write) and the ms timestamps (strings)."""
    previous = int(resource.get("lastModifiedTime", "0"))
    moment = max(now_ms(), previous + 1)
    if created:
        resource["creationTime"] = str(moment)
    resource["lastModifiedTime"] = str(moment)
    digest = hashlib.md5(f"{resource.get('id')}:{sequence}:{moment}".encode()).digest()
    resource["etag"] = base64.b64encode(digest).decode()
    return resource


def check_if_match(request: Request, resource: dict[str, Any]) -> None:
    """Honour the ``If-Match`` header (etag) the client sends on patch/update."""
    wanted = request.header("If-Match")
    if wanted and wanted not in ("*", resource["etag"], f'"{resource["etag"]}"'):
        raise HttpError(412, "Precondition check failed.", reason="conditionNotMet")


def not_found(what: str) -> HttpError:
    return HttpError(404, f"Not found: {what}", reason="notFound")


def duplicate(what: str) -> HttpError:
    return HttpError(409, f"Already Exists: {what}", reason="duplicate")


def string_ms(value: Any, *, field: str) -> str:
    """int64 fields arrive as numbers or strings and are answered as strings."""
    try:
        return str(int(value))
    except (TypeError, ValueError):
        raise HttpError(400, f"Invalid value for {field}: {value!r}", reason="invalid") from None


def body_object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object", reason="invalid")
    return body

"""Table schemas: canonical form (server-filled modes, legacy type names) and the
rules for which schema changes an existing table accepts."""

from __future__ import annotations

from typing import Any

from mlops_infra.emulator.core import HttpError

# The API answers with legacy type names whichever spelling was sent.
_CANONICAL_TYPES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
_TYPES = frozenset({"STRING", "BYTES", "INTEGER", "FLOAT", "NUMERIC", "BIGNUMERIC", "BOOLEAN",
                    "TIMESTAMP", "DATE", "TIME", "DATETIME", "GEOGRAPHY", "RECORD", "JSON",
                    "INTERVAL", "RANGE"})
_MODES = frozenset({"NULLABLE", "REQUIRED", "REPEATED"})


def normalise_fields(fields: Any, *, path: str = "") -> list[dict[str, Any]]:
    """Validate a field list and fill ``mode`` / canonical ``type`` recursively."""
    if not isinstance(fields, list):
        raise HttpError(400, "Invalid schema: fields must be a list", reason="invalid")
    seen: set[str] = set()
    return [_normalise_field(field, path, seen) for field in fields]


def _normalise_field(field: Any, path: str, seen: set[str]) -> dict[str, Any]:
    if not isinstance(field, dict) or not field.get("name"):
        raise HttpError(400, f"Invalid schema: a field in '{path or 'schema'}' has no name",
                        reason="invalid")
    name = field["name"]
    if name.lower() in seen:
        raise HttpError(400, f"Duplicate column names: '{path}{name}'", reason="invalid")
    seen.add(name.lower())
    result = dict(field)
    kind = _CANONICAL_TYPES.get(str(field.get("type", "")).upper(), str(field.get("type", "")).upper())
    if kind not in _TYPES:
        raise HttpError(400, f"Invalid field type: {field.get('type')} (field {path}{name})",
                        reason="invalid")
    mode = str(field.get("mode") or "NULLABLE").upper()
    if mode not in _MODES:
        raise HttpError(400, f"Invalid field mode: {mode} (field {path}{name})", reason="invalid")
    result.update(type=kind, mode=mode)
    if kind == "RECORD":
        if not field.get("fields"):
            raise HttpError(400, f"Field {path}{name} is type RECORD but has no schema",
                            reason="invalid")
        result["fields"] = normalise_fields(field["fields"], path=f"{path}{name}.")
    return result


def check_compatible(old: list[dict[str, Any]], new: list[dict[str, Any]], *,
                     table_id: str, path: str = "") -> None:
    """Reject changes other than appending NULLABLE/REPEATED fields or relaxing REQUIRED."""
    new_by_name = {f["name"].lower(): f for f in new}
    for before in old:
        after = new_by_name.get(before["name"].lower())
        where = f"{path}{before['name']}"
        if after is None:
            raise _mismatch(table_id, f"Field {where} is missing in new schema")
        if after["type"] != before["type"]:
            raise _mismatch(table_id, f"Field {where} has changed type from {before['type']} "
                                f"to {after['type']}")
        if after["mode"] != before["mode"] and (before["mode"], after["mode"]) != (
                "REQUIRED", "NULLABLE"):
            raise _mismatch(table_id, f"Field {where} has changed mode from {before['mode']} "
                                f"to {after['mode']}")
        if before["type"] == "RECORD":
            check_compatible(before["fields"], after["fields"], table_id=table_id,
                             path=f"{where}.")
    old_names = {f["name"].lower() for f in old}
    for added in new:
        if added["name"].lower() not in old_names and added["mode"] == "REQUIRED":
            raise HttpError(400, "Provided Schema does not match Table "
                                 f"{table_id}. Cannot add required fields to an existing "
                                 f"schema. (field: {path}{added['name']})", reason="invalid")


def column_type(fields: list[dict[str, Any]], name: str) -> str | None:
    """The type of a top-level column, or ``None`` if there is no such column."""
    return next((f["type"] for f in fields if f["name"].lower() == name.lower()), None)


def _mismatch(table_id: str, detail: str) -> HttpError:
    return HttpError(400, f"Provided Schema does not match Table {table_id}. {detail}.",
                    reason="invalid")

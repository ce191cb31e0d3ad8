"""BigQuery table schemas: canonical form and in-place compatibility of a change.

Canonical form (for the spec and for live tables alike): type aliases resolved and
upper-cased (``INT64`` -> ``INTEGER``, ``STRUCT`` -> ``RECORD`` ...), ``mode`` filled with
``NULLABLE``, int64 attributes as strings, only the attributes a spec can write kept.

A schema change is in place when it only appends ``NULLABLE``/``REPEATED`` columns
(also inside records) or relaxes ``REQUIRED`` to ``NULLABLE``; anything else (dropping,
renaming or retyping a column, tightening a mode) needs the table to be re-created.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.kinds._base import int64

TYPE_ALIASES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD",
                "BIGDECIMAL": "BIGNUMERIC"}
KEPT_KEYS = ("name", "type", "mode", "description", "fields", "maxLength", "precision", "scale",
             "defaultValueExpression")
_INT64_KEYS = ("maxLength", "precision", "scale")


def canonical_type(value: str) -> str:
    upper = value.upper()
    return TYPE_ALIASES.get(upper, upper)


def canonical_field(field: dict[str, Any]) -> dict[str, Any]:
    """One column in canonical form (nested ``fields`` too)."""
    out = {k: field[k] for k in KEPT_KEYS if field.get(k) is not None}
    if isinstance(out.get("type"), str):
        out["type"] = canonical_type(out["type"])
    out["mode"] = str(out.get("mode") or "NULLABLE").upper()
    for key in _INT64_KEYS:
        if key in out:
            out[key] = int64(out[key])
    if "fields" in out:
        out["fields"] = canonical_fields(out["fields"])
    return out


def canonical_fields(fields: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [canonical_field(f) for f in fields or ()]


def schema_fields(value: Any) -> list[dict[str, Any]] | None:
    """The column list of a ``schema`` value (``{fields: [...]}``) or of the list itself."""
    if isinstance(value, dict):
        return value.get("fields") or []
    if isinstance(value, list):
        return value
    return None


def incompatibility(old: list[dict[str, Any]], new: list[dict[str, Any]],
                    prefix: str = "") -> str | None:
    """Why changing columns ``old`` to ``new`` cannot be done in place, or ``None``."""
    by_name = {f["name"].lower(): f for f in new}
    for before in old:
        after = by_name.get(before["name"].lower())
        problem = _column_problem(before, after, prefix + before["name"])
        if problem:
            return problem
    known = {f["name"].lower() for f in old}
    for after in new:
        if after["name"].lower() not in known and _mode(after) == "REQUIRED":
            return f"new column {prefix}{after['name']} is REQUIRED"
    return None


def _mode(field: dict[str, Any]) -> str:
    return str(field.get("mode") or "NULLABLE").upper()


def _column_problem(before: dict[str, Any], after: dict[str, Any] | None,
                    path: str) -> str | None:
    if after is None:
        return f"column {path} dropped or renamed"
    old_type, new_type = canonical_type(before["type"]), canonical_type(after["type"])
    if old_type != new_type:
        return f"column {path} type {old_type} -> {new_type}"
    old_mode, new_mode = _mode(before), _mode(after)
    if old_mode != new_mode and (old_mode, new_mode) != ("REQUIRED", "NULLABLE"):
        return f"column {path} mode {old_mode} -> {new_mode}"
    if old_type == "RECORD":
        return incompatibility(before.get("fields") or [], after.get("fields") or [],
                               prefix=path + ".")
    return None

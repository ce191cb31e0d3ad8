"""Showing list changes item by item, by each item's natural key. Pure.

The diff compares a list as one value (kinds send lists whole), which reads badly: a new
column shows as the old and the new schema side by side. A kind declares the natural key of
its lists (``Kind.list_keys``: ``{"schema.fields": "name"}``; ``""`` means the item itself,
for lists of scalars or of entries without a key), and the plan shows what happened to each
item instead::

    + schema.fields["age"]: {"mode": "NULLABLE", "name": "age", "type": "INTEGER"}
    ~ schema.fields["ts"].mode: "REQUIRED" -> "NULLABLE"
    - includedPermissions["bigquery.tables.list"]

Item paths are for reading (``PATH["KEY"]``); a list whose items lack their key is left whole.
Nested lists of items are expanded too when their path is declared as ``PATH[].FIELD``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mlops_infra.engine.kind import FieldChange

Item = Any


def expand_lists(changes: list[FieldChange] | tuple[FieldChange, ...],
                 keys: Mapping[str, str]) -> tuple[FieldChange, ...]:
    """``changes`` with each change of a keyed list replaced by its item-level changes."""
    out: list[FieldChange] = []
    for change in changes:
        key = keys.get(change.path)
        expanded = _expand(change, key, keys, change.path) if key is not None else None
        out += expanded if expanded is not None else [change]
    return tuple(out)


def _expand(change: FieldChange, key: str, keys: Mapping[str, str],
            declared: str) -> list[FieldChange] | None:
    old = _keyed(change.old, key) if change.op != "add" else {}
    new = _keyed(change.new, key) if change.op != "remove" else {}
    if old is None or new is None:
        return None
    found: list[FieldChange] = []
    for name in [*new, *(k for k in old if k not in new)]:
        path = f"{change.path}[{json.dumps(name)}]"
        if name not in old:
            found.append(_item(change, path, "add", None, new[name]))
        elif name not in new:
            found.append(_item(change, path, "remove", old[name], None))
        elif old[name] != new[name]:
            found += _item_fields(change, path, old[name], new[name], keys, declared)
    return found


def _keyed(items: Any, key: str) -> dict[str, Item] | None:
    """``items`` by natural key (``None`` when it is not a list or a key is missing/duplicated)."""
    if items is None:
        return {}
    if not isinstance(items, list):
        return None
    out: dict[str, Item] = {}
    for item in items:
        name = _name_of(item, key)
        if name is None or name in out:
            return None
        out[name] = item
    return out


def _name_of(item: Item, key: str) -> str | None:
    if key == "":
        return item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
    if isinstance(item, dict) and isinstance(item.get(key), str):
        return str(item[key])
    return None


def _item(change: FieldChange, path: str, op: str, old: Any, new: Any) -> FieldChange:
    return replace(change, path=path, op=op, old=old, new=new)


def _item_fields(change: FieldChange, path: str, old: Any, new: Any, keys: Mapping[str, str],
                 declared: str) -> list[FieldChange]:
    """What changed inside one item that is in both lists (a whole value when not maps)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [_item(change, path, "change", old, new)]
    found: list[FieldChange] = []
    for field in [*new, *(f for f in old if f not in new)]:
        before, after = old.get(field), new.get(field)
        if before == after:
            continue
        op = "add" if field not in old else "remove" if field not in new else "change"
        sub = _item(change, f"{path}.{field}", op, before, after)
        nested = keys.get(f"{declared}[].{field}")
        expanded = _expand(sub, nested, keys, f"{declared}[].{field}") if nested is not None \
            and op == "change" else None
        found += expanded if expanded is not None else [sub]
    return found

"""Protobuf messages of gRPC-only clients as the REST JSON the kinds compare, and back.

monitoring_v3 and the logging_v2 GAPIC clients have no REST transport (research/clients.md
a.): live state is the message written as its REST JSON (camelCase, enum names, int64 as
strings, ``"60s"`` durations, proto3 defaults left out: ``json_format.MessageToDict``), and
requests are built from REST JSON, so a kind's ``desired`` reads like the REST reference.
"""

from __future__ import annotations

import json
import re
from typing import Any


def as_rest(message: Any) -> dict[str, Any]:
    """A proto-plus or protobuf message as the REST JSON the API documents."""
    from google.protobuf import json_format

    raw = getattr(type(message), "pb", None)
    pb = raw(message) if callable(raw) else message
    return dict(json_format.MessageToDict(pb))


def message(cls: Any, body: dict[str, Any]) -> Any:
    """The proto-plus ``cls`` message of REST JSON ``body`` (unknown fields are a bug here)."""
    return cls.from_json(json.dumps(body))


def snake(field: str) -> str:
    """A REST (camelCase) field name as the proto field name an update mask uses."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()


def mask(changed: set[str]) -> dict[str, list[str]]:
    """An update mask of top-level REST fields."""
    return {"paths": sorted(snake(field) for field in changed)}


def top_fields(changes: Any) -> set[str]:
    """The top-level REST fields a list of ``FieldChange`` touches."""
    from mlops_infra.engine import paths

    return {paths.split(c.path)[0] for c in changes}


def with_defaults(live: dict[str, Any], module: str, name: str) -> dict[str, Any]:
    """``live`` with the proto3 defaults the API leaves out put back (``false``, ``0``, ``""``,
    empty lists and maps of fields without presence; json_format's
    ``always_print_fields_with_no_presence``), so a spec that writes ``useSsl: false`` or
    ``thresholdValue: 0`` does not diff forever. ``module.name`` is the (proto-plus or protobuf)
    message class of ``live``; fields it does not know are kept as they are."""
    import importlib

    from google.protobuf import json_format

    cls = getattr(importlib.import_module(module), name)
    pb = cls.pb(cls()) if hasattr(cls, "pb") else cls()       # proto-plus, or protobuf
    json_format.ParseDict(live, pb, ignore_unknown_fields=True)
    full = json_format.MessageToDict(pb, always_print_fields_with_no_presence=True)
    return _merge(full, live)


def _merge(full: Any, live: Any) -> Any:
    """``live`` where it has a value (its own forms win), ``full``'s defaults where not."""
    if isinstance(full, dict) and isinstance(live, dict):
        return {**full, **{k: _merge(full.get(k), v) for k, v in live.items()}}
    if isinstance(full, list) and isinstance(live, list) and len(full) == len(live):
        return [_merge(f, v) for f, v in zip(full, live, strict=True)]
    return live

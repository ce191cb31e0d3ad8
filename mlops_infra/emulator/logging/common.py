"""What the Logging handlers share: message <-> JSON, names, errors, paging, update masks."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import grpc

from mlops_infra.emulator.grpc_core import RpcError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def invalid(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.NOT_FOUND, message)


def already_exists(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.ALREADY_EXISTS, message)


def precondition(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.FAILED_PRECONDITION, message)


def to_json(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    raw = getattr(type(message), "pb", None)
    pb = raw(message) if callable(raw) else message
    return dict(json_format.MessageToDict(pb))


def from_json(cls: Any, value: dict[str, Any]) -> Any:
    return cls.from_json(json.dumps(value), ignore_unknown_fields=True)


def project_of(name: str) -> str:
    parts = name.split("/")
    if len(parts) < 2 or parts[0] != "projects" or not parts[1]:
        raise invalid(f"Invalid resource name {name!r}: expected projects/[PROJECT_ID]/...")
    return parts[1]


def check_id(value: str, pattern: re.Pattern[str], what: str, rule: str) -> str:
    if not pattern.match(value or ""):
        raise invalid(f"Invalid {what} {value!r}: {rule}")
    return value


def page(items: list[dict[str, Any]], *, size: int, token: str) -> tuple[list[dict[str, Any]], str]:
    if size < 0:
        raise invalid("page_size must not be negative")
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    ordered = sorted(items, key=lambda item: str(item["name"]))
    if token:
        ordered = [item for item in ordered if str(item["name"]) > token]
    chosen = ordered[:size]
    return chosen, (str(chosen[-1]["name"]) if len(ordered) > size else "")


def camel(path: str) -> str:
    head, *rest = path.split(".")
    words = head.split("_")
    return words[0] + "".join(w.title() for w in words[1:])


def masked(current: dict[str, Any], body: dict[str, Any], paths: list[str],
           allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    """``current`` with each masked top-level field set from ``body`` (cleared when absent)."""
    out = dict(current)
    for path in paths:
        field = camel(path)
        if field not in allowed:
            raise invalid(f"Invalid update_mask path {path!r} for {what}; updatable: "
                          f"{', '.join(allowed)}")
        if field in body:
            out[field] = body[field]
        else:
            out.pop(field, None)
    return out


def timestamp(epoch: float | None = None) -> str:
    moment = time.gmtime(time.time() if epoch is None else epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)

"""Helpers shared by the IAM admin handlers: errors, etags, paging, update masks."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import grpc

from mlops_infra.emulator.grpc_core import RpcError

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def invalid(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.NOT_FOUND, message)


def already_exists(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.ALREADY_EXISTS, message)


def precondition(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.FAILED_PRECONDITION, message)


def aborted(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.ABORTED, message)


def new_etag(state: dict[str, Any]) -> str:
    """A fresh etag (base64 text of the bytes), different on every call within the state."""
    state["etag_counter"] = state.get("etag_counter", 0) + 1
    return base64.b64encode(b"BwY" + state["etag_counter"].to_bytes(6, "big")).decode()


def etag_bytes(etag: str) -> bytes:
    return base64.b64decode(etag) if etag else b""


def check_etag(given: bytes, current: str, what: str) -> None:
    """ABORTED when the caller sent an etag that is no longer current (empty = no check)."""
    if given and given != etag_bytes(current):
        raise aborted(f"There were concurrent changes to {what}: the etag does not match. "
                      "Please retry the whole read-modify-write with exponential backoff.")


def page(items: Sequence[T], *, key: Callable[[T], str], size: int,
         token: str) -> tuple[list[T], str]:
    """Items after the key carried by ``token``, at most ``size``; next token or ``""``."""
    if size < 0:
        raise invalid("page_size must not be negative")
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = _decode(token)
    ordered = [item for item in sorted(items, key=key) if after is None or key(item) > after]
    chosen = ordered[:size]
    more = len(ordered) > size
    return chosen, (_encode(key(chosen[-1])) if more else "")


def _encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _decode(token: str) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise invalid("Invalid page token") from None


def mask_fields(paths: Iterable[str], allowed: dict[str, str], what: str) -> list[str]:
    """Proto field names named by an update mask (snake_case or camelCase paths)."""
    fields = []
    for path in paths:
        if path not in allowed:
            raise invalid(f"Invalid update_mask path '{path}' for {what}; "
                          f"updatable: {', '.join(sorted(set(allowed.values())))}")
        fields.append(allowed[path])
    return fields


def mask_aliases(*fields: str) -> dict[str, str]:
    """``{"display_name": "display_name", "displayName": "display_name", ...}``."""
    out = {}
    for name in fields:
        head, *rest = name.split("_")
        out[name] = name
        out[head + "".join(part.title() for part in rest)] = name
    return out

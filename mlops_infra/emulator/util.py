"""Small helpers shared by the emulated APIs: merge-patch, timestamps, paging, etags."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from mlops_infra.emulator.core import HttpError

T = TypeVar("T")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge-patch: null deletes a key, objects merge, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def rfc3339(epoch: float) -> str:
    """Cloud Storage's timestamp format: ``2024-05-01T12:00:00.123Z``."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def int_param(query: dict[str, str], name: str) -> int | None:
    """An int64 query parameter, or ``None``; a malformed one is a 400 as in the real APIs."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise HttpError(400, f"Invalid value for {name}: {raw}", reason="invalidParameter") from None


def bool_param(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def page(items: Sequence[T], *, key: Callable[[T], Any], max_results: int | None,
         token: str | None, default_size: int = 1000) -> tuple[list[T], str | None]:
    """Slice sorted ``items`` after the key carried by ``token``; return the next token."""
    start = _decode_token(token)
    ordered = sorted(items, key=key)
    if start is not None:
        ordered = [item for item in ordered if _comparable(key(item)) > _comparable(start)]
    size = max_results if max_results and max_results > 0 else default_size
    chosen = ordered[:size]
    more = len(ordered) > size
    return chosen, (_encode_token(key(chosen[-1])) if more else None)


def _comparable(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _encode_token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _decode_token(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise HttpError(400, "Invalid page token", reason="invalid") from None


def varint(value: int) -> bytes:
    """Protobuf varint encoding (Cloud Storage etags are base64 of a tiny protobuf)."""
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)

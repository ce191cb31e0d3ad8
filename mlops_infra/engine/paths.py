"""Field paths: ``a.b.c``, with keys that hold dots or brackets quoted as ``a["roles/x.y"]``.

IAM role names and member emails contain dots, so a plain dotted string cannot name
``bindings["roles/bigquery.dataViewer"]["user:a@b.com"]``. Simple keys stay dotted, so
paths of ordinary fields read as they always did (``labels.env``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_SIMPLE = re.compile(r"^[A-Za-z0-9_\-/:@*]+$")


@lru_cache(maxsize=16384)        # diffs join the same paths for every resource of a kind
def join(prefix: str, key: str) -> str:
    """``prefix`` extended by one key."""
    if _SIMPLE.match(key) and "." not in key:
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key)}]"


def split(path: str) -> list[str]:
    """The keys of ``path`` (inverse of ``join``)."""
    return list(_split(path))


@lru_cache(maxsize=65536)        # a plan splits the same few hundred paths thousands of times
def _split(path: str) -> tuple[str, ...]:
    if "[" not in path:
        return tuple(key for key in path.split(".") if key)
    keys: list[str] = []
    i = 0
    while i < len(path):
        if path[i] == ".":
            i += 1
        elif path[i] == "[":
            end, key = _quoted(path, i + 1)
            keys.append(key)
            i = end + 1
        else:
            end = _next_separator(path, i)
            keys.append(path[i:end])
            i = end
    return tuple(keys)


def join_all(keys: list[str]) -> str:
    path = ""
    for key in keys:
        path = join(path, key)
    return path


def _quoted(path: str, start: int) -> tuple[int, str]:
    decoder = json.JSONDecoder()
    key, end = decoder.raw_decode(path, start)
    if end >= len(path) or path[end] != "]":
        raise ValueError(f"bad field path: {path!r}")
    return end, str(key)


def _next_separator(path: str, start: int) -> int:
    for i in range(start, len(path)):
        if path[i] in ".[":
            return i
    return len(path)


MISSING: object = object()   # ``get``'s default: nothing at that path


def get(value: object, path: str, default: object = MISSING) -> Any:
    """The value at ``path`` inside nested mappings, or ``default`` when absent."""
    for part in _split(path):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value

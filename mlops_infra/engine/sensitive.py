"""Secret fields: what a kind declares secret is never shown nor stored in clear.

A kind lists its secret paths (``Kind.secret_fields``). The ledger keeps a digest at those
paths instead of the value (``stored_form``), so a changed secret is still noticed, and
every rendering of a plan or result shows ``(sensitive)`` there (``shown_form``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from mlops_infra.engine import paths

SHOWN = "(sensitive)"
_PREFIX = "sha256:"


def digest(value: Any) -> str:
    """A stable digest of ``value`` (its canonical JSON)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return _PREFIX + hashlib.sha256(text.encode()).hexdigest()


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_PREFIX) and len(value) == len(_PREFIX) + 64


def stored_form(desired: dict[str, Any], kind: Any) -> dict[str, Any]:
    """``desired`` as the ledger records it: digests at the kind's secret paths."""
    return _replaced(desired, kind.secret_fields, digest)


def shown_form(value: dict[str, Any], secret_paths: Iterable[str]) -> dict[str, Any]:
    """``value`` as it may be shown: ``(sensitive)`` at the secret paths."""
    return _replaced(value, secret_paths, lambda _: SHOWN)


def is_secret_path(path: str, secret_paths: Iterable[str]) -> bool:
    """Whether ``path`` is, or lies under, one of ``secret_paths``."""
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[")
               for p in secret_paths)


def _replaced(value: dict[str, Any], secret_paths: Iterable[str], how: Any) -> dict[str, Any]:
    chosen = [p for p in secret_paths if paths.get(value, p) is not paths.MISSING]
    if not chosen:
        return value
    out = json.loads(json.dumps(value, default=str))
    for path in chosen:
        *parents, leaf = paths.split(path)
        node = out
        for part in parents:
            node = node[part]
        node[leaf] = how(node[leaf])
    return out

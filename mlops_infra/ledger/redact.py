"""Defensive redaction: values under secret-looking keys never reach the ledger.

The engine already strips a kind's declared ``secret_fields``; this is the last
line of defence for anything it missed (a key named like a password, secret,
token or private key, at any depth).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"password|passwd|secret|token|privatekey|apikey|credentials?$")


def is_secret_key(key: str) -> bool:
    """Whether a dict key looks like it names a secret (case/separator-insensitive)."""
    return bool(_SECRET_KEY.search(re.sub(r"[^a-z0-9]", "", key.lower())))


def redact(value: Any) -> Any:
    """A copy of ``value`` with every value under a secret-looking key replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_key(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value

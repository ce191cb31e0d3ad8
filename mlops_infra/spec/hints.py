"""Wording helpers for error messages: 'did you mean' hints and clipping of user values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from mlops_infra.spec.limits import MAX_SHOWN

_MAX_HINTED = 200      # longer words get no hint (and cost no fuzzy matching)


def did_you_mean(word: str, candidates: Iterable[str], *, quote: str = "'{}'") -> str:
    """``" (did you mean 'x'?)"`` for the closest candidate, or ``""`` when none is close."""
    if len(word) > _MAX_HINTED:
        return ""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean {quote.format(close[0])}?)" if close else ""


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text)} characters)"


def clipped_repr(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters (a huge value is
    not turned into text just to be cut)."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        return f"{value[:limit]!r}...({len(value)} characters)"
    return clip(repr(value), limit)

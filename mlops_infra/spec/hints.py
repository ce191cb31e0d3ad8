"""'Did you mean' hints for unknown names (fields, kinds, variables, addresses)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str], *, quote: str = "'{}'") -> str:
    """``" (did you mean 'x'?)"`` for the closest candidate, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean {quote.format(close[0])}?)" if close else ""

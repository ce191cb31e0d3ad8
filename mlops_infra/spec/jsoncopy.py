"""Deep copies of JSON-shaped values (the spec's fields, API bodies, live state).

Planning copies every live resource at least once (normalising must not change what other
kinds share through ``Clients.read_once``) and kinds copy the bodies they send. For dicts,
lists and scalars ``copy.deepcopy`` spends most of its time on its memo and dispatch, which
such data never needs (no cycles; an object met twice may be copied twice): ``copy_json``
is about four times faster on an API resource. Anything else (a tuple, a set, a dict
subclass, any object) is handed to ``copy.deepcopy`` unchanged, so it copies what
``deepcopy`` copies.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

T = TypeVar("T")

_ATOMIC = frozenset((str, int, float, bool, type(None)))


def copy_json(value: T) -> T:
    """A deep copy of ``value``: dicts and lists rebuilt, immutable scalars shared."""
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in _ATOMIC else copy_json(item)      # type: ignore[return-value]
                for key, item in value.items()}                              # type: ignore[attr-defined]
    if kind is list:
        return [item if type(item) in _ATOMIC else copy_json(item)           # type: ignore[return-value]
                for item in value]                                           # type: ignore[attr-defined]
    if kind in _ATOMIC:
        return value
    copied: Any = copy.deepcopy(value)
    return copied

"""Reading JSON that someone else may have written: plan files, ledgers, the lock, Terraform
state, ``MLOPS_INFRA_ENDPOINTS``.

``json.loads`` signals bad input in more ways than ``JSONDecodeError``: nesting deeper than
the interpreter's recursion limit raises ``RecursionError``, an integer of more than 4,300
digits ``ValueError`` (``sys.get_int_max_str_digits``), and a duplicated key is silently
resolved (the last one wins). ``load_json`` turns each into one ``JsonProblem`` with the line
it is on, which callers print on one line with their file's name. Nesting is refused beyond
``MAX_DEPTH``, well under what the parser accepts, because what reads these documents
afterwards (diffs, secret scans, the digest) recurses too and would fail later, with a
traceback, after the parser had said yes.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from mlops_infra.spec.limits import MAX_DEPTH as SPEC_DEPTH

MAX_DEPTH = 2 * SPEC_DEPTH
"""Nesting of objects and arrays: twice a spec's, for the documents wrapped around its values."""

_CONTAINERS = (dict, list)


class JsonProblem(ValueError):
    """Why a text is not JSON we read: ``why``, and the 1-based ``line`` when it is known."""

    def __init__(self, why: str, line: int | None = None) -> None:
        self.why = why
        self.line = line
        super().__init__(f"line {line}: {why}" if line else why)


def load_json(text: str) -> Any:
    """The JSON value of ``text``; ``JsonProblem`` for anything that is not plain JSON of
    sane depth with unique keys in each object."""
    try:
        value = json.loads(text, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"{exc.msg} (column {exc.colno})", exc.lineno) from None
    except (_Duplicate, RecursionError, ValueError):   # ValueError: int() of too many digits
        raise _located(text) from None
    if not _shallow(value):
        raise _located(text) from None
    return value


class _Duplicate(Exception):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Duplicate
    return obj


def _shallow(value: Any) -> bool:
    """Level by level, containers only (on a 4.4 MB ledger of 5,000 buckets: 55 ms, against
    93 ms for the parse itself)."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return False
        level = ([c for x in level if type(x) is dict for c in x.values() if type(c) in _CONTAINERS]
                 + [c for x in level if type(x) is list for c in x if type(c) in _CONTAINERS])
    return True


# --- only once something is wrong: where ------------------------------------------------------
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|-?[0-9]+(?P<real>[.eE][0-9eE.+-]*)?|[^"{}\[\],:\s]+|\S')


def _located(text: str) -> JsonProblem:
    """The first duplicated key, integer too long or nesting too deep in ``text`` (which the
    parser refused or read), as a problem naming its line."""
    digits = sys.get_int_max_str_digits() or sys.maxsize
    open_keys: list[set[str] | None] = []       # per open container: an object's keys so far
    after_key = False
    for token in _TOKEN.finditer(text):
        value = token.group()
        problem = None
        if value in "{[":
            open_keys.append(set() if value == "{" else None)
            if len(open_keys) > MAX_DEPTH:
                problem = f"nested more than {MAX_DEPTH} levels deep"
        elif value in "}]":
            open_keys = open_keys[:-1]
        elif value == ":":
            after_key = True
            continue
        elif value[0] == '"' and open_keys and open_keys[-1] is not None and not after_key:
            key = json.loads(value)
            if key in open_keys[-1]:
                problem = f"the key {key!r} appears twice in one object"
            open_keys[-1].add(key)
        elif value.lstrip("-").isdigit() and len(value.lstrip("-")) > digits \
                and not token["real"]:
            problem = f"an integer of more than {digits} digits"
        after_key = False
        if problem:
            return JsonProblem(problem, text.count("\n", 0, token.start()) + 1)
    return JsonProblem("not JSON this reader accepts")

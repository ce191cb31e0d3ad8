"""A ledger's entries and intents checked against the kinds this installation knows.

The ledger package checks a document's shape when it reads one (``ledger.document``) but
knows no kinds (it sits beside them in the layers). Before a plan uses a ledger, each entry
and intent must name a registered kind and, when it has one, an API name of that kind
(``Kind.name_problem``); otherwise the whole ledger is refused in one line naming the entry,
before any read is made for the entries or any change planned. An entry is never dropped
or skipped: forgetting it would leave its resource owned by no one, or let a later plan
take its address for another.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from mlops_infra.engine.errors import LedgerError
from mlops_infra.engine.kind import Kind


def check_ledger(*, entries: Mapping[str, Any], intents: Mapping[str, Any], location: str,
                 kinds: Mapping[str, Kind]) -> None:
    """``LedgerError`` naming the first entry or intent whose kind or API name is not one this
    installation can plan with."""
    known: dict[str, Kind | None] = {}          # each kind looked up once
    for what, records in (("entry", entries), ("intent", intents)):
        for key, record in records.items():
            if record.kind not in known:
                known[record.kind] = kinds.get(record.kind)
            problem = _problem(known[record.kind], record.kind, record.id, kinds)
            if problem:
                raise LedgerError(f"ledger {location}: {what} {key!r}: {problem}; refusing to "
                                  "use or overwrite it")


def _problem(kind: Kind | None, kind_name: str, name: str,
             kinds: Mapping[str, Kind]) -> str | None:
    if kind is None:
        return unknown_kind(kind_name, kinds)
    if not name:
        return None                     # a server-named resource announced before its create
    problem = kind.name_problem(name)
    return f"id {name!r}: {problem}" if problem else None


def unknown_kind(kind_name: str, kinds: Mapping[str, Kind]) -> str:
    """Why ``kind_name`` cannot be used: this installation has no such kind (say the nearest)."""
    hint = difflib.get_close_matches(kind_name, list(kinds), n=1)
    near = f" (did you mean '{hint[0]}'?)" if hint else ""
    return (f"kind {kind_name!r} is not one this installation of mlops_infra knows{near}: a "
            "newer version may have written it (upgrade mlops_infra), or it was edited")

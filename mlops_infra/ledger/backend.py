"""The storage contract both ledger backends (GCS, local files) implement.

A backend stores two small objects per stack - ``STACK.json`` (the ledger) and
``STACK.lock`` (the lease) - with GCS-like generations: every write returns a new,
larger generation, and writes/deletes are conditional on the generation the caller
last saw (0 = "must not exist"). A failed condition raises ``LedgerConflict``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from mlops_infra.engine.errors import LedgerError

ObjectKind = Literal["json", "lock"]
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class StoredObject:
    """An object's bytes and the generation they were read at (always > 0)."""

    data: bytes
    generation: int


class Backend(Protocol):
    """Conditional read/write/delete of a stack's ledger and lock objects.

    ``checks_delete_generation`` says whether ``delete`` really honours
    ``if_generation_match`` (GCS and local files do; fake-gcs-server ignores it on DELETE,
    so releasing a lock there re-reads it first).
    """

    stack: str
    checks_delete_generation: bool

    def location(self, what: ObjectKind) -> str:
        """Where the object lives, for messages (``gs://...`` or a file path)."""
        ...

    def read(self, what: ObjectKind) -> StoredObject | None:
        """The object, or ``None`` when it (or its bucket/directory) does not exist."""
        ...

    def write(self, what: ObjectKind, data: bytes, *, if_generation_match: int) -> int:
        """Replace the object if its generation is ``if_generation_match``; new generation."""
        ...

    def delete(self, what: ObjectKind, *, if_generation_match: int) -> bool:
        """Delete the object if at that generation; ``False`` if it was already gone."""
        ...


def check_stack_name(stack: str) -> str:
    """A stack name is used in object and file names: keep it to a safe alphabet."""
    if not _STACK_NAME.match(stack):
        raise LedgerError(f"invalid stack name {stack!r}: use letters, digits, '.', '_', '-'")
    return stack

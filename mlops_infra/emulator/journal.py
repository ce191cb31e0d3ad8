"""The journal: one entry per service request the emulator answered (or dropped)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

READ_METHODS = ("GET", "HEAD")
# gRPC calls are journaled as method "RPC", path "/<service>/<Rpc>"; these RPCs only read.
RPC_METHOD = "RPC"
READ_RPC_PREFIXES = ("Get", "List", "Query")
# Custom methods that only read although sent as POST (Resource Manager's getIamPolicy).
READ_POST_VERBS = (":getIamPolicy", ":testIamPermissions")


@dataclass(frozen=True)
class JournalEntry:
    """One request. ``status`` is what the client saw (0 = connection reset);
    ``fault`` is ``"before"``/``"after"`` when the answer was an injected fault.
    With body recording on (``Emulator.record_bodies``), ``request``/``response`` hold the
    parsed JSON bodies (``None`` when empty or not JSON); for an RPC, ``response`` of a failed
    call is ``{"code": grpc code name, "message", "details": [google.rpc.Status details]}``."""

    service: str
    method: str
    path: str
    query: dict[str, str]
    status: int
    ts: float
    fault: str | None = field(default=None)
    request: Any = field(default=None)
    response: Any = field(default=None)

    @property
    def mutating(self) -> bool:
        if self.method == RPC_METHOD:
            return not self.path.rsplit("/", 1)[-1].startswith(READ_RPC_PREFIXES)
        if self.method == "POST" and self.path.endswith(READ_POST_VERBS):
            return False
        return self.method not in READ_METHODS

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("request", "response"):
            if out[key] is None:
                del out[key]
        out["mutating"] = self.mutating
        return out


class Journal:
    """A thread-safe, append-only list of ``JournalEntry``."""

    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []
        self._lock = threading.Lock()

    def append(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

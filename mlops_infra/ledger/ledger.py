"""The ``Ledger`` facade: read the stack's ledger, write it, lock the stack.

This is the one object the api layer uses; it binds a backend (GCS or local)
to the document format, the coalescing writer and the lease lock.
"""

from __future__ import annotations

import time
from typing import Any

from mlops_infra.engine.retry import RetryPolicy
from mlops_infra.ledger.backend import Backend
from mlops_infra.ledger.document import LedgerState, parse_document
from mlops_infra.ledger.lease import Clock, Lease, break_lock, read_lock
from mlops_infra.ledger.retrying import RetryingBackend
from mlops_infra.ledger.writer import LedgerWriter


class Ledger:
    """A stack's ledger and lock in one backend (transient errors retried under ``retry``)."""

    def __init__(self, backend: Backend, *, retry: RetryPolicy | None = None) -> None:
        self.backend: Backend = RetryingBackend(backend, policy=retry or RetryPolicy.from_env())

    @property
    def location(self) -> str:
        """``gs://bucket/prefix/stack.json`` or the ledger file's path."""
        return self.backend.location("json")

    @property
    def stack(self) -> str:
        return self.backend.stack

    def read(self) -> LedgerState:
        """The current ledger (empty, generation 0, if it does not exist yet)."""
        stored = self.backend.read("json")
        if stored is None:
            return LedgerState.empty(stack=self.stack, location=self.location)
        return parse_document(stored.data, stack=self.stack, location=self.location,
                              generation=stored.generation)

    def writer(self, *, base: LedgerState | None = None, min_interval: float = 1.0,
               max_attempts: int = 5, lease: Lease | None = None) -> LedgerWriter:
        """A coalescing CAS writer starting from ``base`` (read now if not given); under a
        ``lease``, it writes nothing once the lease is lost (``LockLost``)."""
        return LedgerWriter(backend=self.backend, base=base if base is not None else self.read(),
                            reread=self.read, min_interval=min_interval,
                            max_attempts=max_attempts,
                            lock_lost=lease.lost_reason if lease is not None else None)

    def lock(self, *, owner: str, ttl: float = 60.0, run_id: str | None = None,
             clock: Clock = time.time, monotonic: Clock = time.monotonic) -> Lease:
        """Acquire the stack lock (renewed until released); ``LockHeld`` if busy."""
        return Lease(backend=self.backend, owner=owner, ttl=ttl, run_id=run_id,
                     clock=clock, monotonic=monotonic).acquire()

    def lock_holder(self) -> dict[str, Any] | None:
        """Who holds the lock (its JSON document), or ``None``."""
        current = read_lock(self.backend)
        return current.holder if current else None

    def break_lock(self, *, force: bool = False) -> dict[str, Any] | None:
        """Delete the lock if its holder is gone (or with ``force``); the holder, or ``None``."""
        return break_lock(self.backend, force=force)

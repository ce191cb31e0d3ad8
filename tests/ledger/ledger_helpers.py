"""Helpers shared by the ledger tests: backend wrappers (our own classes, not
Google clients) that count writes or force races, and naming helpers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from mlops_infra.engine.errors import TransientError
from mlops_infra.engine.retry import RetryPolicy
from mlops_infra.ledger.backend import Backend, ObjectKind, StoredObject

BackendFactory = Callable[..., Backend]


FAST_RETRY = RetryPolicy(attempts=30, initial=0.001, maximum=0.01, deadline=60)


def unique_bucket() -> str:
    return f"ledger-{uuid.uuid4().hex[:16]}"


class CountingBackend:
    """Wraps a backend to count writes (our own class, not a Google client)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.stack = inner.stack
        self.checks_delete_generation = inner.checks_delete_generation
        self.writes: dict[str, int] = {"json": 0, "lock": 0}

    def location(self, what: ObjectKind) -> str:
        return self.inner.location(what)

    def read(self, what: ObjectKind) -> StoredObject | None:
        return self.inner.read(what)

    def write(self, what: ObjectKind, data: bytes, *, if_generation_match: int) -> int:
        self.writes[what] += 1
        return self.inner.write(what, data, if_generation_match=if_generation_match)

    def delete(self, what: ObjectKind, *, if_generation_match: int) -> bool:
        return self.inner.delete(what, if_generation_match=if_generation_match)


class RendezvousBackend(CountingBackend):
    """Makes N callers all read the lock before any of them writes (forces a race)."""

    def __init__(self, inner: Backend, barrier: threading.Barrier) -> None:
        super().__init__(inner)
        self.barrier = barrier
        self._armed = True

    def read(self, what: ObjectKind) -> StoredObject | None:
        stored = self.inner.read(what)
        if what == "lock" and self._armed:
            self._armed = False
            self.barrier.wait(timeout=30)
        return stored


class LosesResponses(CountingBackend):
    """Each write of ``what`` lands, but its first ``count`` responses are lost
    (as after a connection reset): the caller sees a transient error and retries."""

    def __init__(self, inner: Backend, *, what: ObjectKind, count: int = 1) -> None:
        super().__init__(inner)
        self.what = what
        self.remaining = count

    def write(self, what: ObjectKind, data: bytes, *, if_generation_match: int) -> int:
        generation = super().write(what, data, if_generation_match=if_generation_match)
        if what == self.what and self.remaining > 0:
            self.remaining -= 1
            raise TransientError("connection reset after the write landed")
        return generation

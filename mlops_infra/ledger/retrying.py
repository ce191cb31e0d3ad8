"""A backend wrapper that retries transient errors (429, 5xx, resets) with the
engine's one retry layer, so every ledger and lock call - including the writer's
and the lease's background threads - survives a flaky network.

A retried conditional write may find that its first attempt did land (the
response was lost): it then fails with ``LedgerConflict``, which the writer and
the lease resolve by re-reading (see ``writer.apply_ops`` and ``Lease``).
"""

from __future__ import annotations

from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.ledger.backend import Backend, ObjectKind, StoredObject


class RetryingBackend:
    """``inner`` with every call retried on ``TransientError`` under ``policy``."""

    def __init__(self, inner: Backend, *, policy: RetryPolicy) -> None:
        self.inner = inner
        self.policy = policy
        self.stack = inner.stack
        self.checks_delete_generation = inner.checks_delete_generation

    def location(self, what: ObjectKind) -> str:
        return self.inner.location(what)

    def read(self, what: ObjectKind) -> StoredObject | None:
        return call_with_retries(lambda: self.inner.read(what), policy=self.policy)

    def write(self, what: ObjectKind, data: bytes, *, if_generation_match: int) -> int:
        return call_with_retries(
            lambda: self.inner.write(what, data, if_generation_match=if_generation_match),
            policy=self.policy)

    def delete(self, what: ObjectKind, *, if_generation_match: int) -> bool:
        return call_with_retries(
            lambda: self.inner.delete(what, if_generation_match=if_generation_match),
            policy=self.policy)

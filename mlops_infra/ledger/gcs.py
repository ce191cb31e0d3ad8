"""GCS ledger backend: ``gs://BUCKET/PREFIX/STACK.json`` and ``.../STACK.lock``.

Every call passes ``retry=None`` (the engine owns retries) and is conditional on
the object generation. Google errors are translated here: 412 -> ``LedgerConflict``,
404 -> "absent", 429/5xx/connection errors -> ``TransientError``, anything else ->
``LedgerError`` naming the location. ``ensure_ledger_bucket`` creates the bucket
that holds ledgers with versioning on and public access prevented.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from mlops_infra.engine.errors import LedgerConflict, LedgerError, TransientError
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.ledger.backend import ObjectKind, StoredObject, check_stack_name


class _Google:
    """google.api_core's exceptions and requests, imported only when a GCS ledger is used
    (a local run never pays for them)."""

    def __getattr__(self, name: str) -> Any:
        from google.api_core import exceptions

        return getattr(exceptions, name)

    @property
    def transient(self) -> tuple[type[BaseException], ...]:
        import requests
        from google.api_core import exceptions as e

        return (e.TooManyRequests, e.InternalServerError, e.BadGateway, e.ServiceUnavailable,
                e.GatewayTimeout, requests.ConnectionError, requests.Timeout)


gexc = _Google()


class GcsBackend:
    """Ledger objects in a GCS bucket, through a ``google.cloud.storage.Client``."""

    def __init__(self, storage_client: Any, *, bucket: str, prefix: str = "mlops-infra",
                 stack: str, timeout: float = 30.0, checks_delete_generation: bool = True) -> None:
        self.checks_delete_generation = checks_delete_generation
        self.client = storage_client
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.stack = check_stack_name(stack)
        self.timeout = timeout

    def object_name(self, what: ObjectKind) -> str:
        base = f"{self.stack}.{what}"
        return f"{self.prefix}/{base}" if self.prefix else base

    def location(self, what: ObjectKind) -> str:
        return f"gs://{self.bucket_name}/{self.object_name(what)}"

    def read(self, what: ObjectKind) -> StoredObject | None:
        blob = self._blob(what)
        with self._translated(what):
            try:
                # One GET: the generation comes back in the same response's headers,
                # so data and generation are consistent without a second request.
                data = blob.download_as_bytes(retry=None, timeout=self.timeout)
            except gexc.NotFound:
                return None
            if blob.generation is None:  # a server that omits x-goog-generation
                blob.reload(retry=None, timeout=self.timeout)
        return StoredObject(data=data, generation=int(blob.generation))

    def write(self, what: ObjectKind, data: bytes, *, if_generation_match: int) -> int:
        blob = self._blob(what)
        with self._translated(what):
            try:
                blob.upload_from_string(data, content_type="application/json",
                                        if_generation_match=if_generation_match,
                                        retry=None, timeout=self.timeout)
            except gexc.NotFound:
                raise LedgerError(f"cannot write {self.location(what)}: bucket "
                                  f"{self.bucket_name} does not exist (run `mlops_infra init`)"
                                  ) from None
        return int(blob.generation)

    def delete(self, what: ObjectKind, *, if_generation_match: int) -> bool:
        with self._translated(what):
            try:
                self._blob(what).delete(if_generation_match=if_generation_match,
                                        retry=None, timeout=self.timeout)
            except gexc.NotFound:
                return False
        return True

    # --- internals ------------------------------------------------------------
    def _blob(self, what: ObjectKind) -> Any:
        # A fresh Blob per call: Blob objects carry mutable state and are not thread-safe.
        return self.client.bucket(self.bucket_name).blob(self.object_name(what))

    @contextlib.contextmanager
    def _translated(self, what: ObjectKind) -> Iterator[None]:
        try:
            yield
        except gexc.PreconditionFailed:
            raise LedgerConflict(f"{self.location(what)} changed since it was read "
                                 "(generation precondition failed)") from None
        except gexc.transient as exc:
            raise TransientError(f"{self.location(what)}: {_short(exc)}",
                                 status=getattr(exc, "code", None)) from exc
        except gexc.GoogleAPICallError as exc:
            raise LedgerError(f"cannot access {self.location(what)}: {_short(exc)}") from None


def ensure_ledger_bucket(storage_client: Any, bucket: str, *, project: str,
                         location: str = "US", retry: RetryPolicy | None = None) -> bool:
    """Create the ledger bucket if missing (versioned, uniform access, public access
    prevented); ``True`` if this call created it. Transient errors are retried."""
    return call_with_retries(
        lambda: _ensure_bucket_once(storage_client, bucket, project=project, location=location),
        policy=retry or RetryPolicy.from_env())


def _ensure_bucket_once(storage_client: Any, bucket: str, *, project: str, location: str) -> bool:
    try:
        if storage_client.lookup_bucket(bucket, retry=None) is not None:
            return False
        new = storage_client.bucket(bucket)
        new.versioning_enabled = True
        new.iam_configuration.uniform_bucket_level_access_enabled = True
        new.iam_configuration.public_access_prevention = "enforced"
        storage_client.create_bucket(new, project=project, location=location, retry=None)
    except gexc.Conflict:
        return False  # created concurrently by someone else: fine
    except gexc.transient as exc:
        raise TransientError(f"ledger bucket gs://{bucket}: {_short(exc)}") from exc
    except gexc.GoogleAPICallError as exc:
        raise LedgerError(f"cannot create ledger bucket gs://{bucket}: {_short(exc)}") from None
    return True


def _short(exc: BaseException) -> str:
    if isinstance(exc, gexc.GoogleAPICallError):
        return f"{exc.code} {exc.message}".strip().splitlines()[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

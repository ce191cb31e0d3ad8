"""The stack lock: a lease object (``STACK.lock``) next to the ledger.

Acquiring creates the object only if absent (generation 0). A holder whose lease
has expired, or whose process is known to be gone (same host, boot and PID namespace,
and its pid is no longer that process: ``holder_is_dead``), can be taken over with a
write conditional on that holder's generation, so of two racing takers exactly one wins. While held, a daemon
thread renews the lease every ``ttl/3`` (conditional on our last write); if that
fails because someone else replaced or removed the lock, ``lost`` turns true.
Release deletes the lock only if it is still ours.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from mlops_infra.engine.errors import LedgerConflict, LockHeld, UserError
from mlops_infra.ledger.backend import Backend
from mlops_infra.ledger.document import format_time, parse_time
from mlops_infra.ledger.process import holder_is_dead, process_identity
from mlops_infra.spec.jsonload import JsonProblem, load_json

Clock = Callable[[], float]
_ACQUIRE_ATTEMPTS = 5


@dataclass(frozen=True)
class LockRecord:
    """A lock object as read: its holder document and generation."""

    holder: dict[str, Any]
    generation: int

    def expired(self, now: float) -> bool:
        """Whether the lease has run out; an unreadable lock is never treated as expired."""
        left = self.seconds_left(now)
        return left is not None and left <= 0

    def seconds_left(self, now: float) -> float | None:
        """Seconds until the lease expires (``None`` when unreadable)."""
        try:
            return parse_time(str(self.holder["expires"])) - now
        except (KeyError, ValueError):
            return None

    def free(self, now: float) -> bool:
        """Whether it may be taken over: expired, or its holder's process is gone."""
        return self.expired(now) or holder_is_dead(self.holder)


def lock_held(current: LockRecord, now: float) -> LockHeld:
    left = current.seconds_left(now)
    return LockHeld(current.holder, seconds_left=max(0.0, left) if left is not None else None)


def read_lock(backend: Backend) -> LockRecord | None:
    """The current lock, or ``None``; an unparseable lock keeps its raw text as holder."""
    stored = backend.read("lock")
    if stored is None:
        return None
    why = "not a JSON object"
    try:
        holder = load_json(stored.data.decode("utf-8"))
    except UnicodeDecodeError:
        holder, why = None, "not UTF-8 text"
    except JsonProblem as exc:
        holder, why = None, f"not valid JSON ({exc})"
    if not isinstance(holder, dict):
        holder = {"owner": f"<unreadable lock {backend.location('lock')}: {why}>",
                  "raw": stored.data[:200].decode(errors="replace")}
    return LockRecord(holder=holder, generation=stored.generation)


class Lease:
    """A held stack lock, renewed in the background until released."""

    def __init__(self, *, backend: Backend, owner: str, ttl: float, run_id: str | None = None,
                 clock: Clock = time.time) -> None:
        self._backend = backend
        self._clock = clock
        self.owner = owner
        self.ttl = ttl
        self.run_id = run_id or uuid.uuid4().hex
        self.generation = 0
        self.holder: dict[str, Any] = {}
        self.lost = False
        self._acquired_at = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- acquiring ------------------------------------------------------------
    def acquire(self) -> Lease:
        """Take the lock (or an expired one) and start renewing; ``LockHeld`` if busy."""
        self._acquired_at = format_time(self._clock())
        if self._try_write(0):          # the common case, one request: nobody holds it
            self._start_renewing()
            return self
        for _ in range(_ACQUIRE_ATTEMPTS):
            current = read_lock(self._backend)
            if current is not None and not current.free(self._clock()):
                raise lock_held(current, self._clock())
            if self._try_write(current.generation if current else 0):
                self._start_renewing()
                return self
        raise LockHeld(_holder_or_unknown(self._backend))

    def _try_write(self, expected: int) -> bool:
        doc = self._document()
        try:
            self.generation = self._backend.write("lock", _encode(doc),
                                                  if_generation_match=expected)
        except LedgerConflict:
            current = read_lock(self._backend)
            if current is None or current.holder != doc:
                return False
            # Our write landed but its response was lost and the retry hit our own write.
            self.generation = current.generation
        self.holder = doc
        return True

    def _document(self) -> dict[str, Any]:
        now = self._clock()
        return {"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                "acquiredAt": self._acquired_at, "expires": format_time(now + self.ttl),
                "runId": self.run_id, **process_identity()}

    # --- renewing -------------------------------------------------------------
    def renew(self) -> bool:
        """Extend the lease now; ``False`` (and ``lost``) if the lock is no longer ours."""
        if self.lost:
            return False
        if not self._try_write(self.generation):
            self.lost = True
        return not self.lost

    def _start_renewing(self) -> None:
        self._thread = threading.Thread(target=self._renew_loop, name="ledger-lease",
                                        daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.renew():
                    return
            except Exception:  # noqa: BLE001, S112 - keep trying: the lease holds until it expires
                continue

    # --- releasing ------------------------------------------------------------
    def release(self) -> None:
        """Stop renewing and delete the lock if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.lost or self.generation == 0:
            return
        if not self._backend.checks_delete_generation:
            # fake-gcs-server ignores ifGenerationMatch on DELETE: look before deleting.
            current = read_lock(self._backend)
            if current is None or current.generation != self.generation:
                self.lost = True  # broken or taken over: not ours to delete
                return
        try:
            self._backend.delete("lock", if_generation_match=self.generation)
        except LedgerConflict:
            self.lost = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def break_lock(backend: Backend, *, force: bool = False,
               clock: Clock = time.time) -> dict[str, Any] | None:
    """Delete the lock (for humans: `state unlock`); its holder, or ``None`` if there was none.

    A live lease (not expired, holder not known to be gone) is only broken with ``force``.
    """
    for _ in range(_ACQUIRE_ATTEMPTS):
        current = read_lock(backend)
        if current is None:
            return None
        if not force and not current.free(clock()):
            held = lock_held(current, clock())
            raise UserError(f"{held.describe()}; it looks alive, so it was left alone "
                            "(pass --force to break it anyway)")
        try:
            backend.delete("lock", if_generation_match=current.generation)
            return current.holder
        except LedgerConflict:
            continue  # renewed meanwhile: delete the newer one
    raise LedgerConflict(f"{backend.location('lock')} keeps changing; is its holder alive?")


def _holder_or_unknown(backend: Backend) -> dict[str, Any]:
    current = read_lock(backend)
    return current.holder if current else {"owner": "<unknown: lock is changing hands>"}


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True).encode()

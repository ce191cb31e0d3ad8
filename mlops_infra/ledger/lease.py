"""The stack lock: a lease object (``STACK.lock``) next to the ledger.

Acquiring creates the object only if absent (generation 0). A holder whose lease
has expired, or whose process is known to be gone (same host, boot and PID namespace,
and its pid is no longer that process: ``holder_is_dead``), can be taken over with a
write conditional on that holder's generation, so of two racing takers exactly one wins. While held, a daemon
thread renews the lease every ``ttl/3`` (conditional on our last write); if that
fails because someone else replaced or removed the lock, ``lost`` turns true.
Release deletes the lock only if it is still ours.

A lease is held only until ``ttl`` after its last successful write began, measured on the
monotonic clock: a process stopped (or cut off from the lock's storage) past that point
learns it the moment it asks (``lost_reason``/``check``), before the renewal thread has
run, and from then on it stays lost. Whoever mutates under the lock asks before each
mutation and each ledger write, so a run whose lock another run may have taken changes nothing more.
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

from mlops_infra.engine.errors import LedgerConflict, LockHeld, LockLost, UserError
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
                 clock: Clock = time.time, monotonic: Clock = time.monotonic) -> None:
        self._backend = backend
        self._clock = clock             # wall time: what the lock document says, for others
        self._monotonic = monotonic     # our own view of how long the lease lasts
        self._valid_until = float("-inf")
        self._renewed_at = 0.0
        self._why_lost: str | None = None
        self._stolen = False            # a renewal found the lock replaced or removed
        self._released = False
        self._state = threading.Lock()
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
        sent = self._monotonic()        # others count the new expiry from no earlier than this
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
        with self._state:
            self._renewed_at, self._valid_until = sent, sent + self.ttl
        return True

    def _document(self) -> dict[str, Any]:
        now = self._clock()
        return {"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                "acquiredAt": self._acquired_at, "expires": format_time(now + self.ttl),
                "runId": self.run_id, **process_identity()}

    # --- holding --------------------------------------------------------------
    def lost_reason(self) -> str | None:
        """``None`` while the lease is surely ours; once it is not (taken over, broken, or run
        out without renewal), why, for good: a lease seen lost is never trusted again."""
        with self._state:
            if self._why_lost is None and self._released:
                return "lost the stack's lock: this run released it; plan again"
            if self._why_lost is None:
                age = self._monotonic() - self._renewed_at
                if self._stolen:
                    self._why_lost = (f"another run took it over (or it was broken) after "
                                      f"{age:.0f}s")
                elif age >= self.ttl:
                    self._why_lost = (f"its lease ran out ({age:.0f}s without renewal, it lasts "
                                      f"{self.ttl:g}s), so another run may have taken it over")
                else:
                    return None
            self.lost = True
            return f"lost the stack's lock: {self._why_lost}; nothing more was changed; plan again"

    def held(self) -> bool:
        """Whether the lease is still ours (see ``lost_reason``)."""
        return self.lost_reason() is None

    def check(self) -> None:
        """Raise ``LockLost`` unless the lease is still ours."""
        why = self.lost_reason()
        if why is not None:
            raise LockLost(why)

    # --- renewing -------------------------------------------------------------
    def renew(self) -> bool:
        """Extend the lease now; ``False`` (and ``lost``) if the lock is no longer ours.

        A renewal after the lease ran out but before anyone noticed is sound: it is conditional
        on our generation, so it succeeds only if no one took the lock meanwhile."""
        if self.lost:
            return False
        if not self._try_write(self.generation):
            with self._state:
                self._stolen = True
            self.lost_reason()
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
        with self._state:
            self._released = True       # from now on, nothing more is done under it
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._stolen or self.generation == 0:
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

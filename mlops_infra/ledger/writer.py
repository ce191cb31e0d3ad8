"""Coalescing, compare-and-swap writer of a ledger.

``put``/``remove``/``record_run`` only queue an operation (cheap, thread-safe);
a background thread writes at most once per ``min_interval`` seconds (GCS allows
about one write per second to one object), and ``flush``/``close`` write now.
Each write is conditional on the generation last read or written. When another
run wrote in between, the writer re-reads the ledger, replays only its own
pending operations onto the fresh document (others' entries are kept) and tries
again, a bounded number of times, before raising ``LedgerConflict``.

A writer made under the stack's lease asks it before every write attempt (the first and
each replay): once the lease is lost it stops for good and writes nothing more
(``LockLost``), so a run that another run took the lock from never replays its operations
over the new holder's entries.

If the re-read shows the ledger went backwards (deleted, or missing entries this writer
wrote) the writer stops for good instead of recreating it with fewer entries: it keeps
what it knows in a rescue file and says how to recover (``LedgerRolledBack``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Self

from mlops_infra.engine.errors import LedgerConflict, LedgerError, LockLost
from mlops_infra.ledger.backend import Backend
from mlops_infra.ledger.document import (
    MAX_RUNS,
    Intent,
    LedgerEntry,
    LedgerState,
    render_document,
    utc_now,
)
from mlops_infra.ledger.rescue import save_rescue_copy

OBJECT_WRITE_GAP = 1.0   # seconds: GCS sustains about one write per second to one object


class LedgerRolledBack(LedgerError):
    """The ledger lost what this run wrote (deleted or restored behind our back)."""


@dataclass(frozen=True)
class _Put:
    entry: LedgerEntry


@dataclass(frozen=True)
class _Remove:
    key: str


@dataclass(frozen=True)
class _Run:
    run: dict[str, Any]


@dataclass(frozen=True)
class _Intend:
    intents: tuple[Intent, ...]


_Op = _Put | _Remove | _Run | _Intend


def apply_ops(state: LedgerState, ops: list[_Op]) -> LedgerState:
    """``state`` with the operations replayed in order (pure)."""
    entries = dict(state.entries)
    intents = dict(state.intents)
    runs = list(state.runs)
    for op in ops:
        if isinstance(op, _Put):
            entries[op.entry.key] = _stamped(op.entry, entries.get(op.entry.key))
            intents.pop(op.entry.key, None)
        elif isinstance(op, _Remove):
            entries.pop(op.key, None)
            intents.pop(op.key, None)
        elif isinstance(op, _Intend):
            intents.update({i.key: i for i in op.intents})
        else:
            runs = [r for r in runs if "id" not in op.run or r.get("id") != op.run["id"]]
            runs.append(op.run)   # replacing a run with the same id keeps replays idempotent
    return replace(state, entries=entries, intents=intents, runs=runs[-MAX_RUNS:])


def _stamped(entry: LedgerEntry, previous: LedgerEntry | None) -> LedgerEntry:
    """Fill missing timestamps: ``created_at`` survives updates of the same key."""
    now = utc_now()
    created = entry.created_at or (previous.created_at if previous else "") or now
    return replace(entry, created_at=created, updated_at=entry.updated_at or now)


class LedgerWriter:
    """Queues ledger changes and writes them, coalesced, with compare-and-swap."""

    def __init__(self, *, backend: Backend, base: LedgerState, reread: Callable[[], LedgerState],
                 min_interval: float = 1.0, max_attempts: int = 5,
                 lock_lost: Callable[[], str | None] | None = None) -> None:
        self._backend = backend
        self._reread = reread
        self._lock_lost = lock_lost     # why the stack's lease is no longer ours, or None
        self._min_interval = min_interval
        self._max_attempts = max_attempts
        self._committed = base
        self._pending: list[_Op] = []
        self._cond = threading.Condition()
        self._io_lock = threading.Lock()
        self._last_write = float("-inf")
        self._closing = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None   # last background failure, if any
        self.stopped = False                       # the ledger went backwards: write nothing
        self._stop_reason: LedgerError | LockLost = LedgerRolledBack(f"ledger {base.location}: writing stopped")
        self._wrote: set[str] = set()              # keys whose entries this writer wrote
        self.writes = 0

    # --- queueing -----------------------------------------------------------
    def put(self, entry: LedgerEntry) -> None:
        """Record that a resource is owned with this last-applied spec and outputs."""
        self._enqueue(_Put(entry))

    def remove(self, key: str) -> None:
        """Forget a resource (after deleting it) and any intent for it."""
        self._enqueue(_Remove(key))

    def intend(self, intents: list[Intent]) -> None:
        """Record intents to create, and return once they are written (CAS, as every write)."""
        op = _Intend(tuple(intents))
        self._enqueue(op)
        with self._io_lock:          # the background thread may have written it already
            with self._cond:
                pending = any(queued is op for queued in self._pending)
            if pending:
                self._flush_locked()

    def record_run(self, run: dict[str, Any]) -> None:
        """Append a run summary (only the last ``MAX_RUNS`` are kept)."""
        self._enqueue(_Run(dict(run)))

    @property
    def generation(self) -> int:
        """The generation last read or written by this writer."""
        with self._cond:
            return self._committed.generation

    # --- writing ------------------------------------------------------------
    def flush(self) -> None:
        """Write now if anything is pending (CAS, re-read and replay on conflict)."""
        with self._io_lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self.stopped:
            raise self._stop_reason
        for attempt in range(self._max_attempts):
            if self._write_once():
                return
            time.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # de-synchronise racers
        raise LedgerConflict(
            f"ledger {self._committed.location}: lost the write race {self._max_attempts} "
            "times in a row; another run keeps writing this stack's ledger (is it locked?)")

    def close(self) -> None:
        """Stop the background thread and write whatever is pending (no sooner than
        ``OBJECT_WRITE_GAP`` after the previous write: GCS sustains about one a second)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._cond:
            pending = bool(self._pending)
            wait = self._last_write + min(self._min_interval, OBJECT_WRITE_GAP) - time.monotonic()
        if pending and wait > 0:
            time.sleep(wait)
        self.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ------------------------------------------------------------
    def _enqueue(self, op: _Op) -> None:
        with self._cond:
            self._pending.append(op)
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(target=self._loop, name="ledger-writer",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _write_once(self) -> bool:
        """One CAS attempt; ``True`` when nothing is left to write from before the call."""
        with self._cond:
            ops = list(self._pending)
            base = self._committed
        if not ops:
            return True
        self._refuse_without_lock()
        state = apply_ops(base, ops)
        try:
            generation = self._backend.write("json", render_document(state),
                                             if_generation_match=base.generation)
        except LedgerConflict:
            fresh = self._reread()
            self._refuse_rollback(base, fresh, state)
            with self._cond:
                self._committed = fresh
            return False
        with self._cond:
            self._committed = replace(state, generation=generation)
            self._wrote |= {op.entry.key for op in ops if isinstance(op, _Put)}
            self._wrote -= {op.key for op in ops if isinstance(op, _Remove)}
            del self._pending[:len(ops)]
            self._last_write = time.monotonic()
            self.writes += 1
        return True

    def _refuse_without_lock(self) -> None:
        """Stop for good once the lease is lost: another run may own the ledger now."""
        why = self._lock_lost() if self._lock_lost is not None else None
        if why is None:
            return
        self._stop_reason = LockLost(why)
        self.stopped = True
        raise self._stop_reason

    def _refuse_rollback(self, base: LedgerState, fresh: LedgerState, ours: LedgerState) -> None:
        """Stop for good if the ledger lost what we wrote (rather than rewrite it with less)."""
        lost = [k for k in self._wrote if k not in fresh.entries]
        if not (base.generation > 0 and (fresh.generation == 0 or lost)):
            return
        rescue = save_rescue_copy(ours)
        what = "was deleted" if fresh.generation == 0 else f"lost {len(lost)} entries we wrote"
        self._stop_reason = LedgerRolledBack(
            f"ledger {base.location} {what} while this run was writing it; not rewriting it "
            f"with fewer entries. What this run knows is saved in {rescue}: restore the ledger "
            "(an earlier object version, or that file) and run again")
        self.stopped = True
        raise self._stop_reason

    def _loop(self) -> None:
        while self._wait_for_work():
            try:
                with self._io_lock:
                    if self._due():         # an intent may have been written meanwhile
                        self._flush_locked()
                self.error = None
            except Exception as exc:  # noqa: BLE001 - kept for close()/callers; retried later
                self.error = exc
                if self.stopped:
                    return
                with self._cond:
                    self._last_write = time.monotonic()

    def _due(self) -> bool:
        with self._cond:
            return time.monotonic() >= self._last_write + self._min_interval

    def _wait_for_work(self) -> bool:
        """Block until a write is due; ``False`` when closing."""
        with self._cond:
            while not self._closing:
                if not self._pending:
                    self._cond.wait()
                    continue
                delay = self._last_write + self._min_interval - time.monotonic()
                if delay <= 0:
                    return True
                self._cond.wait(timeout=delay)
            return False

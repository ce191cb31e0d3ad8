"""The executor: applies a plan in dependency order with bounded concurrency and retries.

Each change runs in a worker thread once everything it depends on is done; a
failure skips its dependents and leaves everything else to finish. Every API call
goes through the one retry layer. What is applied is what the plan shows: an update
re-reads live state and applies only the planned paths that still differ.

Creates never duplicate and never take what is not ours:
- before creating a resource whose kind carries no labels, or whose name the server
  chooses, the intent to create it is written to the ledger durably (one write for all of
  them, made while the first creates that need none already run; those that need it wait
  for it), so a run killed between the create and the ledger write converges on rerun, or
  finds it to delete when the next run no longer wants it;
- a server-named resource is first looked for by its ownership labels, every attempt,
  so a create retried after a lost response finds the one it made; its API name is
  recorded right after the create returns;
- a 409 on create is adopted only when provably ours: our labels, or an earlier attempt
  of this run whose outcome is unknown (its response was lost).

Under the stack's lock, ``ExecutionSettings.lock_lost`` is asked right before every change
starts and every mutating call (create, update, delete, remove, each retry included): once
the lock is lost, whatever has not been sent fails with ``LockLost`` and nothing more changes.

Secrets (``engine.sensitive``): every ``${secrets.NAME}`` the plan references is resolved
before the first mutation (a missing one fails the apply, having changed nothing); values
are substituted only into what is sent, the ledger records keyed hashes at the change's
``secret_paths``, and errors are scrubbed of every value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mlops_infra.engine import ownership, paths, sensitive
from mlops_infra.engine.concurrency import APPLY_CONCURRENCY
from mlops_infra.engine.diff import compare, leaves
from mlops_infra.engine.errors import (
    Conflict,
    EventuallyConsistent,
    LockLost,
    MlopsInfraError,
    NotFound,
    PermanentError,
    TransientError,
)
from mlops_infra.engine.graph import dependency_keys
from mlops_infra.engine.kind import FieldChange, Kind, ResourceId
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.result import ApplyResult, Outcome, ProgressListener
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.engine.schedule import Schedule
from mlops_infra.engine.waiting import reporting_to, resume_waiting, stop_waiting
from mlops_infra.spec import find_refs, resolve_refs


class LedgerSink(Protocol):
    """Where the executor records what it did (the api layer adapts the ledger writer)."""

    def intend(self, changes: list[ResourceChange]) -> None:
        """Record durably that these resources are about to be created (returns once written)."""

    def record(self, *, change: ResourceChange, name: str, applied: dict[str, Any],
               outputs: dict[str, Any], depends_on: tuple[str, ...]) -> None:
        """Record ``change``'s resource as owned under API name ``name``."""

    def forget(self, *, change: ResourceChange) -> None:
        """Drop ``change``'s resource (and any intent for it) from the ledger."""


DEFAULT_APPLY_CONCURRENCY = APPLY_CONCURRENCY


@dataclass(frozen=True)
class ExecutionSettings:
    policy: RetryPolicy
    concurrency: int = DEFAULT_APPLY_CONCURRENCY
    secrets: sensitive.SecretValues | None = None    # resolves ${secrets.NAME}
    # why the stack's lock is no longer this run's (``None`` while it is); asked before each
    # mutating call. Left out (``None``), nothing is checked: no lock is held.
    lock_lost: Callable[[], str | None] | None = None


def apply_plan(plan: Plan, *, kinds: Mapping[str, Kind], sink: LedgerSink,
               settings: ExecutionSettings, progress: ProgressListener | None = None) -> ApplyResult:
    """Apply every change of ``plan``; returns per-resource outcomes (failures do not raise,
    except a secret that cannot be resolved: ``SecretUnavailable`` before any change)."""
    sensitive.require_all(settings.secrets, (c.desired for c in plan.resources if c.desired))
    started = time.monotonic()
    runner = _Runner(plan, kinds=kinds, sink=sink, settings=settings, progress=progress)
    outcomes = runner.run()
    outputs = {name: resolve_refs(t, runner.lookup) for name, t in plan.outputs.items()}
    return ApplyResult(outcomes=tuple(outcomes), outputs=outputs, seconds=time.monotonic() - started,
                       interrupted=runner.interrupted, in_flight=runner.in_flight)


def needs_intent(kind: Kind, change: ResourceChange) -> bool:
    """Whether it needs a recorded intent: nothing on the resource would say it is ours, or
    (server-named) nothing in the ledger would say where to look for it by its labels once the
    address leaves the spec (a ``destroy``, an address removed). For a part of a shared thing,
    the intent also says which parts were there before, so a run killed after adding its own
    finds them its own, not someone else's."""
    if change.blocked:
        return False
    if kind.shared:
        return change.action in (Action.CREATE, Action.UPDATE)
    return change.action in (Action.CREATE, Action.REPLACE) and not ownership.labelled_by_name(kind)


class _Runner:
    def __init__(self, plan: Plan, *, kinds: Mapping[str, Kind], sink: LedgerSink,
                 settings: ExecutionSettings, progress: ProgressListener | None) -> None:
        self.plan, self.kinds, self.sink, self.settings = plan, kinds, sink, settings
        self.progress = progress
        self.changes = {c.key: c for c in plan.resources if not c.blocked}
        self.outputs: dict[str, dict[str, Any]] = {c.address: dict(c.outputs)
                                                   for c in plan.resources if not c.removing}
        self.deps = dependency_keys(list(self.changes.values()))
        self._serial: dict[str, threading.Lock] = {}
        self._found_there: dict[str, tuple[str, ...]] = {}   # key -> parts someone else added
        self._guard = threading.Lock()
        self.interrupted = False
        self.in_flight: tuple[str, ...] = ()

    def run(self) -> list[Outcome]:
        resume_waiting()                         # an earlier interrupted apply stopped them
        self._record_intents([c for c in self.changes.values()
                              if needs_intent(self.kinds[c.kind], c)])
        schedule = Schedule(self.deps)
        outcomes: list[Outcome] = []
        running: dict[Future[Outcome], str] = {}
        limit = self.settings.concurrency
        with ThreadPoolExecutor(max_workers=limit) as pool:
            try:
                while True:
                    for key in schedule.take(limit - len(running)):
                        running[pool.submit(self._run_one, self.changes[key])] = key
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        outcome = future.result()
                        outcomes.append(outcome)
                        outcomes += self._record(schedule, running.pop(future), outcome)
            except KeyboardInterrupt:
                self.interrupted = True          # start nothing more; let in-flight calls end,
                stop_waiting()                   # but not wait out long operations (a rerun does)
                self.in_flight = tuple(sorted(self.changes[k].address for k in running.values()))
                outcomes += [future.result() for future in list(running)]
                return outcomes + [self._not_started(self.changes[k]) for k in schedule.stuck()]
        outcomes += [self._skipped(self.changes[k], "its dependencies form a cycle")
                     for k in schedule.stuck()]
        return outcomes

    def _not_started(self, change: ResourceChange) -> Outcome:
        return Outcome(address=change.address, kind=change.kind, action=change.action,
                       status="not started", error="interrupted before it started")

    def _record_intents(self, intents: list[ResourceChange]) -> None:
        """Write the intents in the background; creates that need them wait (``_intended``)."""
        self._intents_done = threading.Event()
        self._intents_error: BaseException | None = None
        if not intents:
            self._intents_done.set()
            return

        def write() -> None:
            try:
                self.sink.intend(intents)
            except BaseException as exc:  # noqa: BLE001 - reported by every create that needed it
                self._intents_error = exc
            finally:
                self._intents_done.set()
        threading.Thread(target=write, name="ledger-intents", daemon=True).start()

    def _intended(self) -> None:
        """Block until the intents are durable; refuse to create without them."""
        self._intents_done.wait()
        if self._intents_error is not None:
            raise PermanentError(f"not created: its intent could not be recorded in the ledger "
                                 f"({self._intents_error})")

    def _record(self, schedule: Schedule, key: str, outcome: Outcome) -> list[Outcome]:
        if outcome.status == "done":
            schedule.finished(key)
            return []
        return [self._skipped(self.changes[k], "a dependency failed") for k in schedule.failed(key)]

    def lookup(self, address: str, output: str) -> Any:
        value = self.outputs.get(address, {}).get(output)
        return value if value is not None else f"${{{address}.{output}}}"

    def _skipped(self, change: ResourceChange, why: str) -> Outcome:
        outcome = Outcome(address=change.address, kind=change.kind, action=change.action,
                          status="skipped", error=why)
        if self.progress:
            self.progress.finished(outcome)
        return outcome

    def _run_one(self, change: ResourceChange) -> Outcome:
        if self.progress:
            self.progress.started(address=change.address, kind=change.kind, action=change.action)
        started = time.monotonic()
        status, error, adopted = "done", None, False
        try:
            with reporting_to(self._reporter(change)):
                adopted = self._apply(change)
        except MlopsInfraError as exc:
            status, error = "failed", self._scrub(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug or an unexpected library error: report it, keep going
            status, error = "failed", self._scrub(f"{type(exc).__name__}: {exc}")
        outcome = Outcome(address=change.address, kind=change.kind, action=change.action,
                          status=status, error=error, seconds=time.monotonic() - started,
                          adopted=adopted)
        if self.progress:
            self.progress.finished(outcome)
        return outcome

    def _reporter(self, change: ResourceChange) -> Callable[[str], None] | None:
        """Where the kind's operation statuses for ``change`` go (the progress display)."""
        notify = getattr(self.progress, "operation", None)
        if notify is None:
            return None
        return lambda status: notify(address=change.address, status=status)

    def _apply(self, change: ResourceChange) -> bool:
        kind = self.kinds[change.kind]
        rid = ResourceId(kind=change.kind, name=change.id, scope=change.scope,
                         parts=dict(change.parts), address=change.address)
        with self._serialised(kind.serial_key(rid)):
            return self._apply_in_turn(kind, rid, change)

    def _serialised(self, key: str | None) -> AbstractContextManager[Any]:
        """The lock of ``key`` (changes sharing one run one at a time), or no lock."""
        if key is None:
            return nullcontext()
        with self._guard:
            return self._serial.setdefault(key, threading.Lock())

    def _still_locked(self) -> None:
        """``LockLost`` once the stack's lock may be someone else's (asked before each mutation)."""
        lock_lost = self.settings.lock_lost
        why = lock_lost() if lock_lost is not None else None
        if why is not None:
            raise LockLost(why)

    def _apply_in_turn(self, kind: Kind, rid: ResourceId, change: ResourceChange) -> bool:
        self._still_locked()
        if needs_intent(kind, change):
            self._intended()
        if change.action is Action.DELETE:
            self._remove(kind, rid, change)
        if change.removing or change.desired is None:      # deleted, abandoned, or gone outside us
            self.sink.forget(change=change)
            if rid.name and ((change.action is Action.DELETE and kind.soft_delete)
                             or (change.action is Action.ABANDON and not change.preexisting
                                 and ownership.kept_unprovable(kind))):
                self.sink.intend([change])     # still ours while restorable, or while it lives
            return False
        desired = self._resolved(change)
        rid, live, adopted = self._converge(kind, rid, change, desired)
        outputs = {**change.outputs, **kind.outputs_of(rid, live)}
        self.outputs[change.address] = outputs
        found_there = self._found_there.pop(change.key, ())
        if found_there:     # another run added these parts since the plan: theirs, not ours
            change = replace(change, preexisting=tuple(sorted({*change.preexisting, *found_there})))
        self.sink.record(change=change, name=rid.name,
                         applied=sensitive.protect(desired, change.secret_paths),
                         outputs=outputs, depends_on=tuple(sorted(self.deps.get(change.key, ()))))
        return adopted

    def _resolved(self, change: ResourceChange) -> dict[str, Any]:
        desired = resolve_refs(change.desired, self.lookup)
        unresolved = find_refs(desired)
        if unresolved:
            names = ", ".join(f"${{{a}.{o}}}" for a, o in sorted(unresolved))
            raise PermanentError(f"cannot resolve {names}: the output is not known")
        secrets = self.settings.secrets
        return secrets.render(desired) if secrets is not None else desired

    def _scrub(self, text: str) -> str:
        secrets = self.settings.secrets
        return secrets.scrub(text) if secrets is not None else text

    def _converge(self, kind: Kind, rid: ResourceId, change: ResourceChange,
                  desired: dict[str, Any]) -> tuple[ResourceId, dict[str, Any] | None, bool]:
        if change.action is Action.REPLACE:
            old = rid if not change.previous_id else \
                replace(kind.id_from_name(change.previous_id), address=rid.address)
            if kind.replace_order == "create-first" and not change.previous_id:
                return self._create_first(kind, old, change, desired)
            self._delete(kind, old, force=change.allow_data_loss)
        if change.action in (Action.CREATE, Action.REPLACE) and kind.naming == "server":
            rid = replace(rid, name="")     # the server names the new one (the old may be gone)
        if kind.merges and change.action in (Action.CREATE, Action.UPDATE):
            return rid, self._merge(kind, rid, desired, change), change.adopt
        if change.action in (Action.CREATE, Action.REPLACE):
            return self._create_or_adopt(kind, rid, desired, change)
        if change.action is Action.UPDATE:
            return rid, self._update(kind, rid, desired, change.changes, change.exact), change.adopt
        return rid, None, change.adopt          # no-op: only the ledger entry is refreshed

    def _create_first(self, kind: Kind, old: ResourceId, change: ResourceChange,
                      desired: dict[str, Any]) -> tuple[ResourceId, dict[str, Any] | None, bool]:
        """Create-before-destroy: the replacement is ready before the old one is deleted."""
        new = replace(kind.replacement(old), address=old.address)
        made = self._create_or_adopt(kind, new, desired, change)
        self._delete(kind, old, force=change.allow_data_loss)
        return made

    def _create_or_adopt(self, kind: Kind, rid: ResourceId, desired: dict[str, Any],
                         change: ResourceChange) -> tuple[ResourceId, dict[str, Any] | None, bool]:
        unknown_outcome = False

        def attempt() -> tuple[ResourceId, dict[str, Any], bool]:
            nonlocal unknown_outcome
            if kind.naming == "server":
                found = self._find_owned(kind, rid)
                if found is not None:
                    return found[0], found[1], True
            self._still_locked()        # after the find: it may have stalled past the lease
            try:
                live = kind.create(rid, desired)
            except TransientError:
                unknown_outcome = True      # it may have been created: the response was lost
                raise
            return self._named(kind, rid, live), live, False

        try:
            # 412s retried too: a create that edits a shared policy re-reads its etag and redoes
            made, live, found = self._retry(attempt, retry_preconditions=True)
        except Conflict:
            return rid, self._adopt_conflict(kind, rid, desired, change, unknown_outcome), True
        if found:
            return made, self._update(kind, made, desired, change.changes, change.exact,
                                      just_made=True), True
        return made, live, False

    def _adopt_conflict(self, kind: Kind, rid: ResourceId, desired: dict[str, Any],
                        change: ResourceChange, unknown_outcome: bool) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            found = kind.get(rid)
            if found is None:        # 409 says it exists: the read has not caught up yet
                raise EventuallyConsistent(f"create of {rid.name} returned 409, but it cannot "
                                           "be read yet", waiting_for=f"{rid.name} to become readable")
            return found
        live = self._retry(read)
        intended = unknown_outcome or change.adopt_reason == ownership.INTENDED
        verdict = ownership.judge(kind, live, stack=self.plan.stack, intent=intended,
                                  requested=False)
        if not verdict.ours:
            if change.action is Action.CREATE and not unknown_outcome:
                self.sink.forget(change=change)  # it was there before: the 409 refutes our intent
            raise PermanentError(f"create of {rid.name} returned 409 Conflict: {verdict.reason}")
        return self._update(kind, rid, desired, change.changes, change.exact, just_made=True)

    def _find_owned(self, kind: Kind, rid: ResourceId) -> tuple[ResourceId, dict[str, Any]] | None:
        listed = kind.list(rid.scope) or {}
        names = ownership.owned_matches(kind, listed, stack=self.plan.stack, address=rid.address)
        if not names:
            return None
        return replace(kind.id_from_name(names[0]), address=rid.address), listed[names[0]]

    def _named(self, kind: Kind, rid: ResourceId, live: dict[str, Any]) -> ResourceId:
        if rid.name:
            return rid
        return replace(kind.id_from_name(kind.api_name(live)), address=rid.address)

    def _update(self, kind: Kind, rid: ResourceId, desired: dict[str, Any],
                planned: tuple[FieldChange, ...], exact: tuple[str, ...], *,
                just_made: bool = False) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            live = kind.get(rid)
            if live is None and just_made:   # it exists (409, or found): reads lag behind
                raise EventuallyConsistent(f"{rid.name} exists but cannot be read yet",
                                           waiting_for=f"{rid.name} to become readable")
            if live is None:
                raise NotFound(f"{rid.name} disappeared during the apply")
            changes = fresh_changes(kind, desired, live, planned, exact)
            if not changes:
                return live
            self._still_locked()
            return kind.update(rid, desired, changes, live)
        return self._retry(attempt, retry_preconditions=True)

    def _merge(self, kind: Kind, rid: ResourceId, desired: dict[str, Any],
               change: ResourceChange) -> dict[str, Any]:
        """The planned parts of a shared thing written onto the live state just read, on that
        read's etag (``Kind.merges``). A planned addition found there already was added by
        someone else since the plan (two stacks granting one pair at once): it is recorded as
        pre-existing, so this stack's removal leaves it to them. Not after a write whose
        outcome is unknown (its response lost): that part may be this run's own."""
        ours = {p for p, _ in leaves(change.last_applied or {})} - set(change.preexisting)
        # a first share writes every part of the (resolved) desired state, as ``create``
        # does: its planned paths may still hold references (a sink's writer identity)
        planned = change.changes if change.action is Action.UPDATE else ()
        adds = [c.path for c in planned if c.op == "add"] if planned else \
            [p for p, _ in leaves(desired) if p not in set(change.preexisting)]
        uncertain = False

        def attempt() -> dict[str, Any]:
            nonlocal uncertain
            live = kind.get(rid)
            if live is None:
                raise NotFound(f"{kind.name} {rid.name}: what it is a part of does not exist")
            changes = fresh_changes(kind, desired, live, planned, change.exact)
            there = [p for p, _ in leaves(desired) if p not in ours
                     and any(_related(p, a) for a in adds)
                     and not any(_related(p, c.path) for c in changes)]
            self._found_there[change.key] = () if uncertain else tuple(there)
            if not changes:
                return live
            self._still_locked()
            try:
                return kind.update(rid, desired, changes, live)
            except TransientError:
                uncertain = True
                raise
        return self._retry(attempt, retry_preconditions=True)  # type: ignore[no-any-return]

    def _remove(self, kind: Kind, rid: ResourceId, change: ResourceChange) -> None:
        def attempt() -> None:
            self._still_locked()
            kind.remove(rid, applied=change.last_applied, force=change.allow_data_loss)
        try:
            self._retry(attempt, retry_preconditions=True)
        except NotFound:
            pass

    def _delete(self, kind: Kind, rid: ResourceId, *, force: bool) -> None:
        def attempt() -> None:
            self._still_locked()
            kind.delete(rid, force=force)
        try:
            self._retry(attempt)
        except NotFound:
            pass

    def _retry(self, fn: Callable[[], Any], *, retry_preconditions: bool = False) -> Any:
        return call_with_retries(fn, policy=self.settings.policy,
                                 retry_preconditions=retry_preconditions)


def fresh_changes(kind: Kind, desired: dict[str, Any], live: dict[str, Any],
                  planned: tuple[FieldChange, ...], exact: tuple[str, ...]) -> list[FieldChange]:
    """The planned changes still needed against fresh live state, and nothing else.

    Paths the plan did not show are never touched (what is applied is what was approved);
    planned removals are kept while the value is still there. An empty ``planned`` (a
    create that found its resource) allows every path of ``desired``.
    """
    normalized = kind.normalize(live)
    changes = compare(kind, desired, normalized, exact=exact)
    if planned:
        shown = [c.path for c in planned]
        changes = [c for c in changes if any(_related(c.path, p) for p in shown)]
    seen = {c.path for c in changes}
    for c in planned:
        if c.op == "remove" and c.path not in seen \
                and paths.get(normalized, c.path, None) is not None:
            changes.append(FieldChange(path=c.path, op="remove", old=paths.get(normalized, c.path)))
    return changes


def _related(path: str, shown: str) -> bool:
    """Whether ``path`` is ``shown``, inside it, or contains it."""
    return path == shown or path.startswith((shown + ".", shown + "[")) \
        or shown.startswith((path + ".", path + "["))

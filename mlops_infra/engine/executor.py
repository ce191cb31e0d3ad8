"""The executor: applies a plan in dependency order with bounded concurrency and retries.

Each change runs in a worker thread once everything it depends on is done; a
failure skips its dependents and leaves everything else to finish. Every API call
goes through the one retry layer. Creates are idempotent: a 409 (including one
caused by our own retried create whose response was lost) reads the resource and
adopts it when its labels say it is ours. Updates re-read live state and re-diff,
so a retried or stale update applies only what is still different.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from mlops_infra.engine import ownership
from mlops_infra.engine.diff import _MISSING, diff, get_path
from mlops_infra.engine.errors import Conflict, MlopsInfraError, NotFound, PermanentError
from mlops_infra.engine.kind import FieldChange, Kind, ResourceId
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.result import ApplyResult, Outcome, ProgressListener
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.spec import find_refs, resolve_refs


class LedgerSink(Protocol):
    """Where the executor records what it did (the api layer adapts the ledger writer)."""

    def record(self, *, change: ResourceChange, applied: dict[str, Any],
               outputs: dict[str, Any], depends_on: tuple[str, ...]) -> None: ...

    def forget(self, *, change: ResourceChange) -> None: ...


@dataclass(frozen=True)
class ExecutionSettings:
    policy: RetryPolicy
    concurrency: int = 8


def apply_plan(plan: Plan, *, kinds: Mapping[str, Kind], sink: LedgerSink,
               settings: ExecutionSettings, progress: ProgressListener | None = None) -> ApplyResult:
    """Apply every change of ``plan``; returns per-resource outcomes (failures do not raise)."""
    started = time.monotonic()
    runner = _Runner(plan, kinds=kinds, sink=sink, settings=settings, progress=progress)
    outcomes = runner.run()
    outputs = {name: resolve_refs(t, runner.lookup) for name, t in plan.outputs.items()}
    return ApplyResult(outcomes=tuple(outcomes), outputs=outputs, seconds=time.monotonic() - started)


class _Runner:
    def __init__(self, plan: Plan, *, kinds: Mapping[str, Kind], sink: LedgerSink,
                 settings: ExecutionSettings, progress: ProgressListener | None) -> None:
        self.plan, self.kinds, self.sink, self.settings = plan, kinds, sink, settings
        self.progress = progress
        self.changes = {c.key: c for c in plan.resources if _has_work(c)}
        self.outputs: dict[str, dict[str, Any]] = {c.address: dict(c.outputs)
                                                   for c in plan.resources if c.action is not Action.DELETE}
        self.deps = _dependency_keys(list(self.changes.values()))

    def run(self) -> list[Outcome]:
        done: set[str] = set()
        failed: set[str] = set()
        outcomes: list[Outcome] = []
        running: dict[Future[Outcome], str] = {}
        waiting = dict(self.deps)
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            while waiting or running:
                for key in [k for k, d in waiting.items() if d & failed]:
                    del waiting[key]
                    failed.add(key)
                    outcomes.append(self._skipped(self.changes[key]))
                for key in [k for k, d in waiting.items() if d <= done]:
                    del waiting[key]
                    running[pool.submit(self._run_one, self.changes[key])] = key
                if not running:
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = running.pop(future)
                    outcome = future.result()
                    outcomes.append(outcome)
                    (done if outcome.status == "done" else failed).add(key)
        return outcomes

    def lookup(self, address: str, output: str) -> Any:
        value = self.outputs.get(address, {}).get(output)
        return value if value is not None else f"${{{address}.{output}}}"

    def _skipped(self, change: ResourceChange) -> Outcome:
        outcome = Outcome(address=change.address, kind=change.kind, action=change.action,
                          status="skipped", error="a dependency failed")
        if self.progress:
            self.progress.finished(outcome)
        return outcome

    def _run_one(self, change: ResourceChange) -> Outcome:
        if self.progress:
            self.progress.started(address=change.address, kind=change.kind, action=change.action)
        started = time.monotonic()
        status, error, adopted = "done", None, False
        try:
            adopted = self._apply(change)
        except MlopsInfraError as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # a bug or an unexpected library error: report it, keep going
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        outcome = Outcome(address=change.address, kind=change.kind, action=change.action,
                          status=status, error=error, seconds=time.monotonic() - started,
                          adopted=adopted)
        if self.progress:
            self.progress.finished(outcome)
        return outcome

    def _apply(self, change: ResourceChange) -> bool:
        kind = self.kinds[change.kind]
        rid = ResourceId(kind=change.kind, name=change.id, scope=change.scope, parts=dict(change.parts))
        if change.action is Action.DELETE:
            self._remove(kind, rid, change)
            self.sink.forget(change=change)
            return False
        if change.action is Action.ABANDON:
            self.sink.forget(change=change)
            return False
        if change.desired is None:                         # gone outside us: forget it
            self.sink.forget(change=change)
            return False
        desired = self._resolved(change)
        live, adopted = self._converge(kind, rid, change, desired)
        outputs = {**change.outputs, **kind.outputs_of(rid, live)}
        self.outputs[change.address] = outputs
        self.sink.record(change=change, applied=desired, outputs=outputs,
                         depends_on=tuple(sorted(self.deps.get(change.key, ()))))
        return adopted

    def _resolved(self, change: ResourceChange) -> dict[str, Any]:
        desired = resolve_refs(change.desired, self.lookup)
        unresolved = find_refs(desired)
        if unresolved:
            names = ", ".join(f"${{{a}.{o}}}" for a, o in sorted(unresolved))
            raise PermanentError(f"cannot resolve {names}: the output is not known")
        return desired

    def _converge(self, kind: Kind, rid: ResourceId, change: ResourceChange,
                  desired: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
        if change.action is Action.REPLACE:
            self._delete(kind, rid, force=change.allow_data_loss)
        if change.action in (Action.CREATE, Action.REPLACE):
            return self._create_or_adopt(kind, rid, desired, change.exact)
        if change.action is Action.UPDATE:
            return self._update(kind, rid, desired, change.changes, change.exact), change.adopt
        return None, change.adopt          # no-op: only the ledger entry is refreshed

    def _create_or_adopt(self, kind: Kind, rid: ResourceId, desired: dict[str, Any],
                         exact: tuple[str, ...]) -> tuple[dict[str, Any] | None, bool]:
        try:
            # 412s retried too: a create that edits a shared policy re-reads its etag and redoes
            return self._retry(lambda: kind.create(rid, desired), retry_preconditions=True), False
        except Conflict:
            live = self._retry(lambda: kind.get(rid))
            if live is None:
                raise
            reason = ownership.foreign_owner(kind, live, self.plan.stack)
            if reason:
                raise PermanentError(f"create returned 409: {reason}") from None
            return self._update(kind, rid, desired, (), exact), True

    def _update(self, kind: Kind, rid: ResourceId, desired: dict[str, Any],
                planned: tuple[FieldChange, ...], exact: tuple[str, ...]) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            live = kind.get(rid)
            if live is None:
                raise NotFound(f"{rid.name} disappeared during the apply")
            changes = _fresh_changes(kind, desired, live, planned, exact)
            return kind.update(rid, desired, changes, live) if changes else live
        return self._retry(attempt, retry_preconditions=True)

    def _remove(self, kind: Kind, rid: ResourceId, change: ResourceChange) -> None:
        try:
            self._retry(lambda: kind.remove(rid, applied=change.last_applied,
                                            force=change.allow_data_loss), retry_preconditions=True)
        except NotFound:
            pass

    def _delete(self, kind: Kind, rid: ResourceId, *, force: bool) -> None:
        try:
            self._retry(lambda: kind.delete(rid, force=force))
        except NotFound:
            pass

    def _retry(self, fn: Callable[[], Any], *, retry_preconditions: bool = False) -> Any:
        return call_with_retries(fn, policy=self.settings.policy,
                                 retry_preconditions=retry_preconditions)


def _fresh_changes(kind: Kind, desired: dict[str, Any], live: dict[str, Any],
                   planned: tuple[FieldChange, ...], exact: tuple[str, ...]) -> list[FieldChange]:
    """Re-diff against fresh live state; keep planned removals still present live."""
    normalized = kind.normalize(live)
    changes = diff(desired, normalized, exact=exact)
    seen = {c.path for c in changes}
    for c in planned:
        if c.op == "remove" and c.path not in seen \
                and get_path(normalized, c.path) not in (_MISSING, None):
            changes.append(FieldChange(path=c.path, op="remove", old=get_path(normalized, c.path)))
    return changes


def _has_work(change: ResourceChange) -> bool:
    """Every change runs: no-ops only refresh their ledger entry, without any API call."""
    return not change.blocked


def _dependency_keys(changes: list[ResourceChange]) -> dict[str, set[str]]:
    """Map each change key to the keys it must wait for (deletes wait on their dependents' deletes)."""
    removing = (Action.DELETE, Action.ABANDON)
    live_keys = {c.address: c.key for c in changes if c.action not in removing}
    delete_keys = {c.address: c.key for c in changes if c.action in removing}
    deps: dict[str, set[str]] = {}
    for c in changes:
        pool = delete_keys if c.action in removing else live_keys
        deps[c.key] = {pool[a] for a in c.depends_on if a in pool and pool[a] != c.key}
    return deps

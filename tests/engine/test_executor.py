"""The executor on an in-memory kind: ordering, failure isolation, retries, adoption, abandon.

``MemoryKind`` implements the engine's Kind contract over a dict; it stands in for no Google
client (kinds are tested against the emulator with the real libraries elsewhere).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from mlops_infra.engine.errors import Conflict, PermanentError, TransientError
from mlops_infra.engine.executor import ExecutionSettings, apply_plan
from mlops_infra.engine.kind import FieldChange, Kind, ResourceContext, ResourceId
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.retry import RetryPolicy

FAST = ExecutionSettings(policy=RetryPolicy(attempts=5, initial=0.001, maximum=0.002, deadline=5),
                         concurrency=4)


class _Model(BaseModel):
    size: int | None = None


class MemoryKind(Kind):
    name = "test.Thing"
    model = _Model
    outputs = frozenset({"name"})

    def __init__(self) -> None:
        super().__init__(clients=None)
        self.store: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_create: dict[str, list[Exception]] = {}
        self.lock = threading.Lock()

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return self.id_from_name(f"things/{ctx.name}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(fields)

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return self.store.get(rid.name)

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append(("create", rid.name))
            errors = self.fail_create.get(rid.name)
            if errors:
                raise errors.pop(0)
            if rid.name in self.store:
                raise Conflict(f"{rid.name} exists")
            self.store[rid.name] = dict(desired)
            return self.store[rid.name]

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: list[FieldChange],
               live: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append(("update", rid.name))
            self.store[rid.name] = {**live, **desired}
            return self.store[rid.name]

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        with self.lock:
            self.calls.append(("delete", rid.name))
            self.store.pop(rid.name, None)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.name.split("/")[-1]}


class Sink:
    def __init__(self) -> None:
        self.recorded: dict[str, dict[str, Any]] = {}
        self.forgotten: list[str] = []
        self.intents: list[str] = []

    def intend(self, changes: list[ResourceChange]) -> None:
        self.intents += [c.address for c in changes]

    def record(self, *, change: ResourceChange, name: str, applied: dict[str, Any],
               outputs: dict[str, Any], depends_on: tuple[str, ...]) -> None:
        self.recorded[change.address] = {"applied": applied, "depends_on": depends_on, "name": name}

    def forget(self, *, change: ResourceChange) -> None:
        self.forgotten.append(change.address)


def _change(address: str, action: Action = Action.CREATE, *, deps: tuple[str, ...] = (),
            desired: dict[str, Any] | None = None) -> ResourceChange:
    return ResourceChange(address=address, kind="test.Thing", id=f"things/{address}", action=action,
                          desired=desired if desired is not None else
                          ({"labels": {"managed-by": "mlops-infra", "mlops-infra-stack": "s"}}
                           if action is not Action.DELETE else None),
                          depends_on=deps, scope="things")


def _plan(*changes: ResourceChange) -> Plan:
    return Plan(stack="s", project="p", env=None, spec_path="x.yaml", ledger_location="mem",
                ledger_generation=0, created_at="now", resources=tuple(changes))


def _apply(kind: MemoryKind, plan: Plan) -> tuple[Any, Sink]:
    sink = Sink()
    return apply_plan(plan, kinds={"test.Thing": kind}, sink=sink, settings=FAST), sink


def test_dependencies_finish_before_dependents() -> None:
    kind = MemoryKind()
    result, sink = _apply(kind, _plan(_change("c", deps=("b",)), _change("b", deps=("a",)), _change("a")))
    assert result.ok and [o.address for o in result.outcomes] == ["a", "b", "c"]
    assert sink.recorded["c"]["depends_on"] == ("test.Thing:b",)


def test_a_failure_skips_its_dependents_and_nothing_else() -> None:
    kind = MemoryKind()
    kind.fail_create["things/a"] = [PermanentError("400 bad")]
    result, sink = _apply(kind, _plan(_change("a"), _change("b", deps=("a",)), _change("c")))
    status = {o.address: o.status for o in result.outcomes}
    assert status == {"a": "failed", "b": "skipped", "c": "done"}
    assert set(sink.recorded) == {"c"}                     # nothing unapplied reaches the ledger
    assert ("create", "things/b") not in kind.calls


def test_transient_errors_are_retried() -> None:
    kind = MemoryKind()
    kind.fail_create["things/a"] = [TransientError("503"), TransientError("429")]
    result, _ = _apply(kind, _plan(_change("a")))
    assert result.ok and kind.calls.count(("create", "things/a")) == 3


def test_lost_create_response_is_adopted_not_duplicated() -> None:
    kind = MemoryKind()

    class LostResponse(TransientError):
        pass

    original = kind.create

    def create_then_lose(rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        original(rid, desired)
        if kind.calls.count(("create", rid.name)) == 1:
            raise LostResponse("connection reset after the server created it")
        return kind.store[rid.name]

    kind.create = create_then_lose  # type: ignore[method-assign]
    result, _ = _apply(kind, _plan(_change("a")))
    assert result.ok and result.outcomes[0].adopted
    assert list(kind.store) == ["things/a"]


def test_conflict_with_a_foreign_resource_fails_clearly() -> None:
    kind = MemoryKind()
    kind.store["things/a"] = {"labels": {"owner": "someone-else"}}
    result, sink = _apply(kind, _plan(_change("a")))
    assert not result.ok and "409" in (result.outcomes[0].error or "")
    assert "not this stack's" in (result.outcomes[0].error or "")
    assert kind.store["things/a"] == {"labels": {"owner": "someone-else"}} and not sink.recorded


def test_deletes_and_abandons_update_the_ledger() -> None:
    kind = MemoryKind()
    kind.store["things/old"] = {}
    kind.store["things/kept"] = {}
    result, sink = _apply(kind, _plan(_change("old", Action.DELETE),
                                      _change("kept", Action.ABANDON, desired={})))
    assert result.ok and set(sink.forgotten) == {"old", "kept"}
    assert "things/kept" in kind.store and "things/old" not in kind.store


def test_unresolvable_reference_fails_that_change_only() -> None:
    kind = MemoryKind()
    bad = _change("a", desired={"size": "${ghost.size}"})
    result, _ = _apply(kind, _plan(bad, _change("b")))
    status = {o.address: (o.status, o.error) for o in result.outcomes}
    assert status["b"] == ("done", None)
    assert status["a"][0] == "failed" and "${ghost.size}" in status["a"][1]


def test_a_resource_of_another_stack_is_never_taken_on_409() -> None:
    kind = MemoryKind()
    kind.store["things/a"] = {"labels": {"managed-by": "mlops-infra", "mlops-infra-stack": "other"}}
    result, sink = _apply(kind, _plan(_change("a")))
    assert not result.ok and "stack 'other'" in (result.outcomes[0].error or "")
    assert not sink.recorded


def test_a_cycle_in_a_plan_is_skipped_not_spun_on() -> None:
    kind = MemoryKind()
    result, sink = _apply(kind, _plan(_change("a", deps=("b",)), _change("b", deps=("a",)),
                                      _change("c")))
    status = {o.address: (o.status, o.error) for o in result.outcomes}
    assert status["c"] == ("done", None)
    assert status["a"] == status["b"] == ("skipped", "its dependencies form a cycle")


class LabellessKind(MemoryKind):
    labels_path = None


def test_creates_of_labelless_kinds_record_their_intent_first() -> None:
    kind = LabellessKind()
    seen_before_create: list[list[str]] = []
    original = kind.create

    def create(rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        seen_before_create.append(list(sink.intents))
        return original(rid, desired)

    kind.create = create  # type: ignore[method-assign]
    sink = Sink()
    plan = _plan(_change("a", desired={"size": 1}), _change("b", desired={"size": 2}))
    result = apply_plan(plan, kinds={"test.Thing": kind}, sink=sink, settings=FAST)
    assert result.ok and sorted(sink.intents) == ["a", "b"]
    assert all(sorted(seen) == ["a", "b"] for seen in seen_before_create)


def test_a_labelless_409_on_the_first_attempt_is_someone_elses() -> None:
    kind = LabellessKind()
    kind.store["things/a"] = {"size": 9}
    result, sink = _apply(kind, _plan(_change("a", desired={"size": 1})))
    assert not result.ok and "409" in (result.outcomes[0].error or "")
    assert kind.store["things/a"] == {"size": 9} and not sink.recorded


def test_a_labelless_409_after_a_lost_response_is_ours() -> None:
    kind = LabellessKind()
    original = kind.create

    def create_then_lose(rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        original(rid, desired)
        if kind.calls.count(("create", rid.name)) == 1:
            raise TransientError("connection reset after the server created it")
        return kind.store[rid.name]

    kind.create = create_then_lose  # type: ignore[method-assign]
    result, sink = _apply(kind, _plan(_change("a", desired={"size": 1})))
    assert result.ok and result.outcomes[0].adopted and list(kind.store) == ["things/a"]


def test_creates_that_need_no_intent_do_not_wait_for_the_intents_write() -> None:
    labelled, bare = MemoryKind(), LabellessKind()
    bare.name = "test.Bare"  # type: ignore[misc]
    labelled_created = threading.Event()
    original = labelled.create

    def create(rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        labelled_created.set()
        return original(rid, desired)

    labelled.create = create  # type: ignore[method-assign]

    class SlowSink(Sink):
        def intend(self, changes: list[ResourceChange]) -> None:
            assert labelled_created.wait(timeout=10), "a labelled create waited for the intents"
            super().intend(changes)

    plan = _plan(_change("a"), ResourceChange(address="b", kind="test.Bare", id="things/b",
                                              action=Action.CREATE, desired={"size": 1},
                                              scope="things"))
    sink = SlowSink()
    result = apply_plan(plan, kinds={"test.Thing": labelled, "test.Bare": bare}, sink=sink,
                        settings=FAST)
    assert result.ok and sink.intents == ["b"]



class _LockThatIsLost:
    """``ExecutionSettings.lock_lost`` of a lock that is lost once ``trip`` is called."""

    def __init__(self) -> None:
        self.why: str | None = None

    def trip(self) -> None:
        self.why = "lost the stack's lock: another run took it over after 61s; plan again"

    def __call__(self) -> str | None:
        return self.why


class LosesTheLockOnItsFirstCall(MemoryKind):
    """Its first mutating call is made, then the run's lock is lost (the run stalled in it)."""

    def __init__(self, lock: _LockThatIsLost, *, fail_first: bool = False) -> None:
        super().__init__()
        self.lost_lock, self.fail_first = lock, fail_first

    def _then_lose_the_lock(self) -> None:
        if self.lost_lock.why is None:
            self.lost_lock.trip()
            if self.fail_first:
                raise TransientError("503 after stalling")

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        if self.fail_first:
            self.calls.append(("create", rid.name))
            self._then_lose_the_lock()
        made = super().create(rid, desired)
        self._then_lose_the_lock()
        return made

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: list[FieldChange],
               live: dict[str, Any]) -> dict[str, Any]:
        updated = super().update(rid, desired, changes, live)
        self._then_lose_the_lock()
        return updated

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        super().delete(rid, force=force)
        self._then_lose_the_lock()


def test_once_the_lock_is_lost_no_further_change_is_sent() -> None:
    lock = _LockThatIsLost()
    kind = LosesTheLockOnItsFirstCall(lock)
    kind.store["things/old"] = {}
    kind.store["things/u"] = {"size": 1}
    update = replace(_change("u", Action.UPDATE, desired={"size": 2}),
                     changes=(FieldChange(path="size", op="set", old=1, new=2),))
    plan = _plan(_change("a"), _change("b", deps=("a",)), _change("c"),
                 _change("old", Action.DELETE), update)
    sink = Sink()
    result = apply_plan(plan, kinds={"test.Thing": kind}, sink=sink,
                        settings=replace(FAST, concurrency=1, lock_lost=lock))
    assert len(kind.calls) == 1                       # whichever change ran first, and no other
    assert len(sink.recorded) + len(sink.forgotten) == 1
    done = [o for o in result.outcomes if o.status == "done"]
    failed = [o for o in result.outcomes if o.status == "failed"]
    skipped = [o for o in result.outcomes if o.status == "skipped"]
    assert len(done) == 1 and len(failed) + len(skipped) == 4 and not result.ok
    assert failed and all("lost the stack's lock" in (o.error or "") for o in failed)
    assert [o.address for o in skipped] in ([], ["b"])   # b, if a failed before it


def test_a_retry_after_the_lock_was_lost_is_not_sent() -> None:
    lock = _LockThatIsLost()
    kind = LosesTheLockOnItsFirstCall(lock, fail_first=True)   # 503 after stalling past the lease
    result = apply_plan(_plan(_change("a")), kinds={"test.Thing": kind}, sink=Sink(),
                        settings=replace(FAST, lock_lost=lock))
    assert kind.calls == [("create", "things/a")] and kind.store == {}
    assert result.outcomes[0].status == "failed"
    assert "lost the stack's lock" in (result.outcomes[0].error or "")

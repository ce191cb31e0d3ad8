"""Ownership and identity, planner + executor together, on in-memory kinds.

The kinds here implement the engine's Kind contract over a dict (they stand in for no
Google client; kinds are tested against the emulator with the real libraries elsewhere):
``test.Thing`` carries labels, ``test.Bare`` carries none, ``test.Server`` is named by its
"server" (a counter) and found again by its ownership labels, ``test.Share`` manages
parts of a shared map (like IAM bindings).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from mlops_infra.engine import paths
from mlops_infra.engine.errors import TransientError
from mlops_infra.engine.executor import ExecutionSettings, apply_plan
from mlops_infra.engine.kind import FieldChange, Kind, ResourceContext, ResourceId
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.planner import LedgerView, build_plan
from mlops_infra.engine.retry import RetryPolicy
from mlops_infra.spec import KindSchema, load_spec_text

POLICY = RetryPolicy(attempts=5, initial=0.001, maximum=0.002, deadline=5)
FAST = ExecutionSettings(policy=POLICY, concurrency=4)


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int | None = None
    labels: dict[str, str] | None = None
    members: dict[str, bool] | None = None


class World:
    """The "cloud": resources by API name, with an optional lost response per create."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.lose_next_create_response = False
        self.creates = 0
        self.lock = threading.Lock()
        self.ids = itertools.count(1000)
        self.lag: dict[str, int] = {}          # name -> reads that still miss it (eventual consistency)

    def visible(self, name: str) -> bool:
        with self.lock:
            left = self.lag.get(name, 0)
            if left:
                self.lag[name] = left - 1
            return not left


class MemoryKind(Kind):
    model = _Fields
    outputs = frozenset({"name"})
    collection = "things"

    def __init__(self, world: World) -> None:
        super().__init__(clients=None)
        self.world = world

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return self.id_from_name(f"{self.collection}/{ctx.name}")

    def id_from_name(self, name: str) -> ResourceId:
        return ResourceId(kind=self.name, name=name, scope=name.split("/")[0])

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(fields)

    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in list(self.world.store.items())
                if k.startswith(scope + "/") and self.world.visible(k)}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return self.world.store.get(rid.name) if self.world.visible(rid.name) else None

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        with self.world.lock:
            name = rid.name or f"{self.collection}/{next(self.world.ids)}"
            if name in self.world.store:
                from mlops_infra.engine.errors import Conflict

                raise Conflict(f"{name} exists")
            self.world.store[name] = {**desired, "name": name}
            self.world.creates += 1
            if self.world.lose_next_create_response:
                self.world.lose_next_create_response = False
                raise TransientError("connection reset after the create was processed")
            return dict(self.world.store[name])

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: list[FieldChange],
               live: dict[str, Any]) -> dict[str, Any]:
        with self.world.lock:
            self.world.store[rid.name] = {**live, **desired}
            return dict(self.world.store[rid.name])

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        self.world.store.pop(rid.name, None)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.name}


class Thing(MemoryKind):
    name = "test.Thing"


class Bare(MemoryKind):
    name = "test.Bare"
    labels_path = None
    collection = "bare"


class Server(MemoryKind):
    name = "test.Server"
    naming = "server"
    collection = "servers"

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return ResourceId(kind=self.name, name="", scope=self.collection)


class Share(MemoryKind):
    """Members of one shared map ``shared/map``; only ours are ever removed."""

    name = "test.Share"
    labels_path = None
    shared = True
    listable = False

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return ResourceId(kind=self.name, name="shared/map", scope="shared")

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return self.world.store.setdefault("shared/map", {"members": {}})

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        return self.update(rid, desired, [], self.get(rid) or {})

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: list[FieldChange],
               live: dict[str, Any]) -> dict[str, Any]:
        members = dict(live.get("members", {}))
        members.update(desired.get("members", {}))
        for change in changes:
            if change.op == "remove":
                members.pop(paths.split(change.path)[-1], None)
        self.world.store["shared/map"] = {"members": members}
        return self.world.store["shared/map"]

    def remove(self, rid: ResourceId, *, applied: dict[str, Any] | None, force: bool) -> None:
        members = dict(self.world.store["shared/map"]["members"])
        for member in (applied or {}).get("members", {}):
            members.pop(member, None)
        self.world.store["shared/map"] = {"members": members}


KINDS = (Thing, Bare, Server, Share)
SCHEMAS = {k.name: KindSchema(model=k.model, outputs=k.outputs) for k in KINDS}


@dataclass
class Entry:
    kind: str
    id: str
    address: str
    applied: dict[str, Any]
    outputs: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    preexisting: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.address}"


@dataclass
class Intent:
    kind: str
    id: str
    address: str
    scope: str = ""
    preexisting: tuple[str, ...] = ()


@dataclass
class MemoryLedger:
    """The ledger as the planner sees it, and the sink the executor writes to."""

    entries: dict[str, Entry] = field(default_factory=dict)
    intents: dict[str, Intent] = field(default_factory=dict)
    generation: int = 0
    drop_records: bool = False           # a run killed before it wrote the ledger

    def view(self) -> LedgerView:
        return LedgerView(entries=dict(self.entries), generation=self.generation, location="mem",
                          intents=dict(self.intents))

    def intend(self, changes: list[Any]) -> None:
        self.intents.update({c.key: Intent(c.kind, c.id, c.address, c.scope, c.preexisting)
                             for c in changes})

    def record(self, *, change: Any, name: str, applied: dict[str, Any],
               outputs: dict[str, Any], depends_on: tuple[str, ...]) -> None:
        if self.drop_records:
            return
        if change.moved_from:
            self.entries.pop(change.moved_from, None)
        self.entries[change.key] = Entry(change.kind, name, change.address, applied, outputs,
                                         depends_on, change.preexisting)
        self.intents.pop(change.key, None)

    def forget(self, *, change: Any) -> None:
        self.entries.pop(change.key, None)
        self.intents.pop(change.key, None)


def _spec(resources: str) -> Any:
    text = f"apiVersion: mlops-infra/v1\nstack: s\nproject: proj-1\nresources:\n{resources}"
    return load_spec_text(text, filename="spec.yaml", kinds=SCHEMAS)


def _kinds(world: World) -> dict[str, Kind]:
    return {k.name: k(world) for k in KINDS}


def _plan(world: World, ledger: MemoryLedger, resources: str) -> Plan:
    return build_plan(_spec(resources), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY)


def _reconcile(world: World, ledger: MemoryLedger, resources: str) -> Plan:
    plan = _plan(world, ledger, resources)
    assert not plan.blocked, plan.blocked
    result = apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST)
    assert result.ok, result.failures
    return plan


def _only(plan: Plan, address: str) -> Any:
    return next(c for c in plan.resources if c.address == address)


SERVER = "  alert:\n    kind: test.Server\n    size: 1\n"


def test_server_named_create_whose_response_is_lost_leaves_exactly_one() -> None:
    world, ledger = World(), MemoryLedger()
    world.lose_next_create_response = True
    _reconcile(world, ledger, SERVER)
    assert world.creates == 1 and len(world.store) == 1
    (name,) = world.store
    assert ledger.entries["test.Server:alert"].id == name       # the server's name, recorded
    again = _plan(world, ledger, SERVER)
    assert not again.has_changes and not again.ledger_sync


def test_server_named_resource_created_by_a_killed_run_is_found_by_its_labels() -> None:
    world = World()
    _reconcile(world, MemoryLedger(drop_records=True), SERVER)      # the ledger write was lost
    ledger = MemoryLedger()
    plan = _plan(world, ledger, SERVER)
    change = _only(plan, "alert")
    assert change.action is Action.NOOP and change.adopt and "labels" in change.adopt_reason
    apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST)
    assert world.creates == 1 and ledger.entries["test.Server:alert"].id == change.id


def test_a_second_server_named_resource_gets_its_own_identity() -> None:
    world, ledger = World(), MemoryLedger()
    _reconcile(world, ledger, SERVER + "  other:\n    kind: test.Server\n    size: 2\n")
    assert world.creates == 2
    assert ledger.entries["test.Server:alert"].id != ledger.entries["test.Server:other"].id


def _crashed_server_create(world: World, resources: str = SERVER) -> MemoryLedger:
    """A run that created a server-named resource and was killed before recording it: the
    ledger it leaves holds only the intent."""
    crashed = MemoryLedger(drop_records=True)
    _reconcile(world, crashed, resources)
    return MemoryLedger(intents=dict(crashed.intents))


def test_destroy_after_a_crash_finds_the_server_named_resource_by_its_labels() -> None:
    world = World()
    ledger = _crashed_server_create(world)
    (name,) = world.store
    plan = build_plan(_spec(SERVER), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY,
                      destroy=True)
    change = _only(plan, "alert")
    assert change.action is Action.DELETE and change.id == name and not change.blocked
    result = apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST)
    assert result.ok and world.store == {} and not ledger.intents


THING = "  data:\n    kind: test.Thing\n    size: 1\n"
OURS = {"managed-by": "mlops-infra", "mlops-infra-stack": "s"}


def _destroy(world: World, ledger: MemoryLedger, resources: str) -> Plan:
    return build_plan(_spec(resources), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY,
                      destroy=True)


def test_destroy_after_a_crash_finds_a_labelled_resource_the_ledger_never_recorded() -> None:
    """A user-named kind with labels writes no intent: the name the spec gives it and the
    labels it was created with are how ``destroy`` finds it after a run stopped before its
    record."""
    world = World()
    _reconcile(world, MemoryLedger(drop_records=True), THING)        # made, never recorded
    ledger = MemoryLedger()
    plan = _destroy(world, ledger, THING)
    change = _only(plan, "data")
    assert change.action is Action.DELETE and change.id == "things/data" and not change.blocked
    assert "stopped before recording it (its labels name this stack)" in change.reason
    assert change.last_applied == {} and not change.preexisting
    from mlops_infra.engine.authority import unproven

    labelled = lambda c: world.store.get(c.id, {}).get("labels") == OURS  # noqa: E731
    assert unproven(plan, ledger.view(), kinds=_kinds(world), adoptable=labelled,
                    labelled=labelled) is None
    result = apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST)
    assert result.ok and world.store == {} and not ledger.entries


def test_destroy_leaves_a_same_named_resource_whose_labels_do_not_name_this_stack() -> None:
    for labels in ({"team": "x"}, {**OURS, "mlops-infra-stack": "other"}, None):
        world = World()
        world.store["things/data"] = {"size": 1, **({"labels": labels} if labels else {})}
        plan = _destroy(world, MemoryLedger(), THING)
        assert plan.resources == () and not plan.has_changes, labels
        from mlops_infra.engine.authority import unproven

        forged = replace(plan, resources=(ResourceChange(
            address="data", kind="test.Thing", id="things/data", action=Action.DELETE,
            scope="things", parts={}),))
        why = unproven(forged, MemoryLedger().view(), kinds=_kinds(world),
                       adoptable=lambda c: True, labelled=lambda c: False)
        assert why is not None and "live labels do not name this stack" in why


def test_destroy_does_not_look_for_a_recorded_or_intended_resource_twice() -> None:
    world, ledger = World(), MemoryLedger()
    _reconcile(world, ledger, THING + BARE)
    plan = _destroy(world, ledger, THING + BARE)
    assert sorted(c.address for c in plan.resources) == ["data", "net"]
    assert all(c.action is Action.DELETE for c in plan.resources)


def test_destroy_of_a_spec_that_no_longer_resolves_still_deletes_what_the_ledger_records() -> None:
    world, ledger = World(), MemoryLedger()
    _reconcile(world, ledger, THING)
    aliases = THING + "  copy:\n    kind: test.Thing\n    name: data\n    size: 2\n"
    plan = _destroy(world, ledger, aliases)          # two addresses name one resource
    assert [(c.address, c.action) for c in plan.resources] == [("data", Action.DELETE)]
    assert any("were not looked for: the spec does not resolve" in note for note in plan.notes)


def test_an_address_dropped_from_the_spec_after_a_crash_deletes_what_it_made() -> None:
    world = World()
    ledger = _crashed_server_create(world, SERVER + BARE)
    world.store["servers/77"] = {"size": 1, "labels": {"team": "x"}}   # not ours: no labels
    _reconcile(world, ledger, BARE)
    assert set(world.store) == {"bare/net", "servers/77"} and not ledger.intents


def test_two_resources_labelled_for_one_intent_block_the_removal_naming_both() -> None:
    world = World()
    ledger = _crashed_server_create(world)
    (name,) = world.store
    world.store["servers/99"] = dict(world.store[name], name="servers/99")
    plan = build_plan(_spec(SERVER), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY,
                      destroy=True)
    change = _only(plan, "alert")
    assert change.blocked and name in change.blocked and "servers/99" in change.blocked


def test_an_intent_whose_server_named_resource_was_never_made_is_dropped() -> None:
    world = World()
    ledger = MemoryLedger(intents={"test.Server:alert": Intent("test.Server", "", "alert",
                                                                 "servers")})
    world.store["servers/5"] = {"size": 1, "labels": {"mlops-infra-stack": "s",
                                                      "managed-by": "mlops-infra",
                                                      "mlops-infra-address": "other"}}
    plan = build_plan(_spec(SERVER), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY,
                      destroy=True)
    change = _only(plan, "alert")
    assert change.action is Action.NOOP and not change.blocked and plan.ledger_sync
    apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST)
    assert not ledger.intents and "servers/5" in world.store


BARE = "  net:\n    kind: test.Bare\n    size: 1\n"


def test_a_labelless_resource_nobody_recorded_is_a_conflict_not_an_adoption() -> None:
    world, ledger = World(), MemoryLedger()
    world.store["bare/net"] = {"size": 1}                           # another team's network
    plan = _plan(world, ledger, BARE)
    change = _only(plan, "net")
    assert change.blocked and "adopt: true" in change.blocked and not change.adopt


def test_adopt_true_takes_a_foreign_resource_over_deliberately() -> None:
    world, ledger = World(), MemoryLedger()
    world.store["bare/net"] = {"size": 1}
    plan = _reconcile(world, ledger, BARE + "    adopt: true\n")
    assert _only(plan, "net").adopt and "adopt: true" in _only(plan, "net").adopt_reason
    assert "test.Bare:net" in ledger.entries


def test_an_intent_recorded_before_a_crash_proves_a_labelless_resource_ours() -> None:
    world = World()
    crashed = MemoryLedger(drop_records=True)
    _reconcile(world, crashed, BARE)                 # created; intent written, entry lost
    ledger = MemoryLedger(intents=dict(crashed.intents))
    plan = _plan(world, ledger, BARE)
    assert _only(plan, "net").adopt and "intent" in _only(plan, "net").adopt_reason


def test_a_409_after_a_crash_is_ours_when_the_intent_was_recorded_though_not_yet_readable() -> None:
    # The rerun comes so soon that the resource cannot be read yet (a new service account
    # takes a while): the plan says create, the create says 409, and the intent proves it ours.
    world = World()
    crashed = MemoryLedger(drop_records=True)
    _reconcile(world, crashed, BARE)
    world.lag["bare/net"] = 3
    ledger = MemoryLedger(intents=dict(crashed.intents))
    plan = _plan(world, ledger, BARE)
    assert _only(plan, "net").action is Action.CREATE
    result = apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST)
    assert result.ok, result.failures
    assert world.creates == 1 and "test.Bare:net" in ledger.entries and not ledger.intents


def test_destroy_right_after_a_crash_reads_an_intended_resource_again_while_reads_lag(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind whose new resources read as absent for a while (``Kind.read_lag``: a service
    account): destroy reads an intended one again until that lag is over, instead of
    dropping its intent as never made and leaving the resource."""
    monkeypatch.setattr(Bare, "read_lag", 2.0)
    world = World()
    crashed = MemoryLedger(drop_records=True)
    _reconcile(world, crashed, BARE)
    world.lag["bare/net"] = 3                      # the list and two more reads miss it
    ledger = MemoryLedger(intents=dict(crashed.intents))
    plan = build_plan(_spec(BARE), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY,
                      destroy=True)
    change = _only(plan, "net")
    assert change.action is Action.DELETE and change.id == "bare/net", change
    assert apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST).ok
    assert world.store == {} and not ledger.intents


def test_an_intended_resource_never_made_is_dropped_once_the_read_lag_is_over(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Bare, "read_lag", 0.05)
    world = World()
    ledger = MemoryLedger(intents={"test.Bare:net": Intent("test.Bare", "bare/net", "net", "bare")})
    plan = build_plan(_spec(BARE), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY,
                      destroy=True)
    change = _only(plan, "net")
    assert change.action is Action.NOOP and "already gone" in (change.reason or "")


def test_a_resource_labelled_for_another_stack_is_never_adopted() -> None:
    world, ledger = World(), MemoryLedger()
    world.store["things/t"] = {"labels": {"managed-by": "mlops-infra", "mlops-infra-stack": "x"}}
    plan = _plan(world, ledger, "  t:\n    kind: test.Thing\n    adopt: true\n")
    assert "stack 'x'" in (_only(plan, "t").blocked or "")


SHARE = "  access:\n    kind: test.Share\n    members: {alice: true, bob: true}\n"


def test_shared_parts_that_existed_before_are_recorded_and_left_in_place() -> None:
    world, ledger = World(), MemoryLedger()
    world.store["shared/map"] = {"members": {"alice": True, "carol": True}}
    plan = _reconcile(world, ledger, SHARE)
    assert not _only(plan, "access").adopt
    assert ledger.entries["test.Share:access"].preexisting == ("members.alice",)
    plan = _reconcile(world, ledger, "  access:\n    kind: test.Share\n    members: {dave: true}\n")
    assert any("members.alice" in n and "left in place" in n for n in _only(plan, "access").notes)
    assert world.store["shared/map"]["members"] == {"alice": True, "carol": True, "dave": True}


def test_removing_a_shared_part_takes_back_only_what_this_stack_added() -> None:
    world, ledger = World(), MemoryLedger()
    world.store["shared/map"] = {"members": {"alice": True, "carol": True}}
    _reconcile(world, ledger, SHARE)
    plan = _reconcile(world, ledger, BARE)            # access removed from the spec
    assert _only(plan, "access").action is Action.DELETE
    assert world.store["shared/map"]["members"] == {"alice": True, "carol": True}


def test_a_live_object_many_resources_share_is_normalised_once_per_plan() -> None:
    """Bindings of one project policy: normalising all of it for each would be quadratic."""
    world, ledger = World(), MemoryLedger()
    world.store["shared/map"] = {"members": {"alice": True}}
    calls: list[int] = []

    class CountingShare(Share):            # one resource per address, all in one object
        def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
            return ResourceId(kind=self.name, name=f"shared/map/{ctx.address}", scope="shared")

        def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
            calls.append(id(live))
            return super().normalize(live)

    kinds = {**_kinds(world), Share.name: CountingShare(world)}
    spec = _spec("".join(f"  a{i}:\n    kind: test.Share\n    members: {{m{i}: true}}\n"
                         for i in range(5)))
    plan = build_plan(spec, kinds=kinds, ledger=ledger.view(), policy=POLICY)
    assert len(calls) == 1
    assert {c.address: [f.path for f in c.changes] for c in plan.resources} == {
        f"a{i}": [f"members.m{i}"] for i in range(5)}
    build_plan(spec, kinds=kinds, ledger=ledger.view(), policy=POLICY)
    assert len(calls) == 2                  # the next plan reads, and normalises, afresh


def test_renaming_an_address_moves_the_ledger_entry_without_touching_the_resource() -> None:
    world, ledger = World(), MemoryLedger()
    _reconcile(world, ledger, "  old:\n    kind: test.Thing\n    name: t\n    size: 1\n")
    plan = _reconcile(world, ledger, "  new:\n    kind: test.Thing\n    name: t\n    size: 1\n")
    assert [c.action for c in plan.resources] == [Action.NOOP]
    assert _only(plan, "new").moved_from == "test.Thing:old"
    assert set(ledger.entries) == {"test.Thing:new"} and "things/t" in world.store


def test_changing_a_user_chosen_name_replaces_under_the_same_identity() -> None:
    world, ledger = World(), MemoryLedger()
    _reconcile(world, ledger, "  t:\n    kind: test.Thing\n    name: one\n")
    plan = _reconcile(world, ledger, "  t:\n    kind: test.Thing\n    name: two\n")
    change = _only(plan, "t")
    assert change.action is Action.REPLACE and change.previous_id == "things/one"
    assert set(world.store) == {"things/two"} and ledger.entries["test.Thing:t"].id == "things/two"


# --- restarts, create-before-destroy, serialised changes -----------------------------------

class Machine(MemoryKind):
    """Changing ``size`` needs the machine stopped; ``labels`` do not."""

    name = "test.Machine"
    collection = "machines"

    def restart_reason(self, changes: list[FieldChange], live: dict[str, Any]) -> str | None:
        hits = [c.path for c in changes if c.path == "size"]
        return f"{', '.join(hits)} changes only while it is stopped" if hits else None


class Pool(MemoryKind):
    """Replaced create-first under a suffixed name; ``size`` is immutable."""

    name = "test.Pool"
    collection = "pools"
    replace_order = "create-first"
    immutable = frozenset({"size"})

    def same_resource(self, rid: ResourceId, name: str) -> bool:
        return name == rid.name or name.startswith(rid.name + "-")

    def replacement(self, rid: ResourceId) -> ResourceId:
        base = rid.name.split("-")[0]
        return self.id_from_name(f"{base}-{next(self.world.ids)}")

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        self.world.deleted_while_others.append(sorted(self.world.store))
        super().delete(rid, force=force)


EXTRA = (Machine, Pool)
SCHEMAS.update({k.name: KindSchema(model=k.model, outputs=k.outputs) for k in EXTRA})


def _more(world: World) -> dict[str, Kind]:
    return {**_kinds(world), **{k.name: k(world) for k in EXTRA}}


def _plan_more(world: World, ledger: MemoryLedger, resources: str, **options: Any) -> Plan:
    return build_plan(_spec(resources), kinds=_more(world), ledger=ledger.view(), policy=POLICY,
                      **options)


def _reconcile_more(world: World, ledger: MemoryLedger, resources: str) -> Plan:
    plan = _plan_more(world, ledger, resources)
    assert not plan.blocked, plan.blocked
    assert apply_plan(plan, kinds=_more(world), sink=ledger, settings=FAST).ok
    return plan


def test_a_change_that_needs_a_restart_is_shown_and_needs_the_allow() -> None:
    world, ledger = World(), MemoryLedger()
    _reconcile_more(world, ledger, "  m:\n    kind: test.Machine\n    size: 1\n")
    bigger = "  m:\n    kind: test.Machine\n    size: 2\n"
    plan = _plan_more(world, ledger, bigger)
    change = _only(plan, "m")
    assert change.action is Action.UPDATE and "stopped" in (change.restart or "")
    assert change.blocked and "allowRestart" in change.blocked
    assert not _only(_plan_more(world, ledger, bigger, allow_restart=True), "m").blocked
    assert not _only(_plan_more(world, ledger, bigger + "    allowRestart: true\n"), "m").blocked
    labels = "  m:\n    kind: test.Machine\n    size: 1\n    labels: {a: b}\n"
    assert _only(_plan_more(world, ledger, labels), "m").restart is None


def test_a_create_first_replacement_is_ready_before_the_old_one_goes() -> None:
    world, ledger = World(), MemoryLedger()
    world.deleted_while_others = []  # type: ignore[attr-defined]
    _reconcile_more(world, ledger, "  pool:\n    kind: test.Pool\n    name: gpu\n    size: 1\n")
    plan = _reconcile_more(world, ledger, "  pool:\n    kind: test.Pool\n    name: gpu\n    size: 2\n")
    assert _only(plan, "pool").action is Action.REPLACE and "created first" in _only(plan, "pool").reason
    (before_delete,) = world.deleted_while_others  # type: ignore[attr-defined]
    assert len([n for n in before_delete if n.startswith("pools/")]) == 2   # both existed
    (name,) = [n for n in world.store if n.startswith("pools/")]
    assert name != "pools/gpu" and ledger.entries["test.Pool:pool"].id == name
    again = _plan_more(world, ledger, "  pool:\n    kind: test.Pool\n    name: gpu\n    size: 2\n")
    assert not again.has_changes and not again.ledger_sync        # the suffixed name is it


def test_changes_sharing_a_serial_key_never_overlap() -> None:
    world, ledger = World(), MemoryLedger()
    running: list[int] = [0]
    most: list[int] = [0]

    class Serial(Thing):
        def serial_key(self, rid: ResourceId) -> str | None:
            return "one-cluster"

        def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
            with self.world.lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                import time

                time.sleep(0.01)
                return super().create(rid, desired)
            finally:
                with self.world.lock:
                    running[0] -= 1

    spec = "".join(f"  t{i}:\n    kind: test.Thing\n" for i in range(6))
    plan = build_plan(_spec(spec), kinds={**_kinds(world), "test.Thing": Serial(world)},
                      ledger=ledger.view(), policy=POLICY)
    assert apply_plan(plan, kinds={**_kinds(world), "test.Thing": Serial(world)}, sink=ledger,
                      settings=FAST).ok
    assert most[0] == 1 and world.creates == 6


# --- a ledger entry for what another stack's labels claim -------------------------------------

OTHERS = {"labels": {"managed-by": "mlops-infra", "mlops-infra-stack": "other"}}


def _claimed_by_other_stack(world: World, ledger: MemoryLedger) -> None:
    """``things/data`` is labelled for stack ``other``, yet this stack's ledger records it
    (an entry copied in by hand, or the other stack adopted it since)."""
    world.store["things/data"] = {"size": 1, **OTHERS, "name": "things/data"}
    ledger.entries["test.Thing:data"] = Entry("test.Thing", "things/data", "data",
                                              {"size": 1}, {})


def test_a_recorded_resource_labelled_for_another_stack_is_never_deleted() -> None:
    world, ledger = World(), MemoryLedger()
    _claimed_by_other_stack(world, ledger)
    plan = _plan(world, ledger, "  keep:\n    kind: test.Bare\n    size: 1\n")
    change = _only(plan, "data")
    assert change.action is Action.ABANDON, change
    assert "'other'" in (change.reason or "")
    assert apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST).ok
    assert world.store["things/data"]["labels"] == OTHERS["labels"]   # untouched, still theirs
    assert "test.Thing:data" not in ledger.entries


def test_a_recorded_resource_labelled_for_another_stack_is_not_relabelled_ours() -> None:
    world, ledger = World(), MemoryLedger()
    _claimed_by_other_stack(world, ledger)
    plan = _plan(world, ledger, "  data:\n    kind: test.Thing\n    size: 2\n")
    change = _only(plan, "data")
    assert change.blocked and "mlops-infra stack 'other'" in change.blocked, change
    assert change.action is Action.NOOP


# --- a saved plan is proven against the ledger again when applied (engine.authority) ---------

def test_an_honest_plan_is_backed_by_its_ledger_and_an_edited_removal_is_not() -> None:
    from dataclasses import replace

    from mlops_infra.engine.authority import unproven

    world, ledger = World(), MemoryLedger()
    world.store["shared/map"] = {"members": {"carol": True}}          # someone else's member
    _reconcile(world, ledger, SHARE + "  data:\n    kind: test.Thing\n    size: 1\n")
    removal = _plan(world, ledger, "  data:\n    kind: test.Thing\n    size: 2\n")
    check = lambda plan: unproven(plan, ledger.view(), kinds=_kinds(world),  # noqa: E731
                                  adoptable=lambda change: False, labelled=lambda change: False)
    assert check(removal) is None                                      # as the planner made it
    access = _only(removal, "access")
    assert access.action is Action.DELETE
    grabbing = replace(access, last_applied={"members": {"alice": True, "bob": True, "carol": True}})
    edited = replace(removal, resources=tuple(grabbing if c is access else c
                                              for c in removal.resources))
    why = check(edited)
    assert why is not None and "test.Share access" in why and "what was applied" in why
    renamed = replace(removal, resources=tuple(replace(c, id="things/other") if c.address == "data"
                                               else c for c in removal.resources))
    assert "the ledger records things/data" in (check(renamed) or "")


def test_a_create_refused_with_409_drops_its_intent_and_the_next_plan_does_not_adopt() -> None:
    """Planned while free, made by someone else before the apply: the 409 proves it was there
    before this run, so the intent announced for it must not prove it ours later."""
    world, ledger = World(), MemoryLedger()
    spec = "  net:\n    kind: test.Bare\n    size: 1\n"
    plan = _plan(world, ledger, spec)
    world.store["bare/net"] = {"size": 9, "name": "bare/net"}          # someone else's, meanwhile
    result = apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=FAST)
    assert not result.ok and "409" in str(result.failures)
    assert "test.Bare:net" not in ledger.intents
    again = _plan(world, ledger, spec)
    assert _only(again, "net").blocked and not _only(again, "net").adopt


def test_a_shared_part_added_by_a_killed_run_is_taken_back_later_not_left_as_preexisting() -> None:
    """Review finding: killed after the policy write and before the ledger's, the rerun
    recorded the stack's own grant as pre-existing, so it was never removed."""
    world, ledger = World(), MemoryLedger()
    world.store["shared/map"] = {"members": {"alice": True}}          # someone else's, before
    spec = "  access:\n    kind: test.Share\n    members: {alice: true, bob: true}\n"
    ledger.drop_records = True                                         # killed before the record
    apply_plan(_plan(world, ledger, spec), kinds=_kinds(world), sink=ledger, settings=FAST)
    assert world.store["shared/map"]["members"] == {"alice": True, "bob": True}
    assert "test.Share:access" not in ledger.entries and "test.Share:access" in ledger.intents
    ledger.drop_records = False
    _reconcile(world, ledger, spec)                                    # the rerun
    assert ledger.entries["test.Share:access"].preexisting == ("members.alice",)
    _reconcile(world, ledger, "  other:\n    kind: test.Thing\n    size: 1\n")
    assert world.store["shared/map"]["members"] == {"alice": True}    # bob taken back, alice kept

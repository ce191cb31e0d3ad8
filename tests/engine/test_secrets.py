"""Secrets through the planner and the executor, on in-memory kinds (``test_ownership``'s).

A secret is resolved only when a plan or an apply needs it, reaches only what is sent to the
"API", shows ``(sensitive)`` in every change, is kept in the ledger as a keyed hash that
notices a change, and never appears in a plan document or an error. References to outputs a
server chooses are filled in from live state, so they do not make a perpetual diff.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from mlops_infra.engine import sensitive
from mlops_infra.engine.errors import PermanentError, SpecError
from mlops_infra.engine.executor import ExecutionSettings, apply_plan
from mlops_infra.engine.kind import FieldChange, Kind, ResourceId
from mlops_infra.engine.plan import Action, Plan
from mlops_infra.engine.planner import build_plan
from mlops_infra.engine.sensitive import SHOWN, SecretUnavailable, SecretValues
from mlops_infra.spec import KindSchema, load_spec_text
from mlops_infra.spec.secrets import SecretSource
from tests.engine.test_ownership import POLICY, MemoryKind, MemoryLedger, Server, World

TOKEN = "xoxb-0123456789-very-secret-token"
OTHER = "xoxb-9876543210-rotated-token"


class _ChannelFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: dict[str, str] | None = None
    token: str | None = None
    url: str | None = None


class Channel(MemoryKind):
    """A server-named channel with a declared secret field, returned obfuscated."""

    name = "test.Channel"
    model = _ChannelFields
    naming = "server"
    collection = "channels"
    secret_fields: ClassVar[frozenset[str]] = frozenset({"token"})
    sent: ClassVar[list[dict[str, Any]]] = []

    def identify(self, ctx: Any, fields: dict[str, Any]) -> ResourceId:
        return ResourceId(kind=self.name, name="", scope=self.collection)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.name} if rid.name else {}      # chosen by the server: known after

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        live = self.world.store.get(rid.name)
        return None if live is None else {**live, "token": "*******"}

    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        return {k: {**v, "token": "*******"} for k, v in super().list(scope).items()}

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        Channel.sent.append(desired)
        if desired.get("url") == "fail":
            raise PermanentError(f"400 Bad Request: invalid token {desired.get('token')}")
        assert not rid.name, "the server chooses the name"
        return super().create(rid, desired)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: list[FieldChange],
               live: dict[str, Any]) -> dict[str, Any]:
        Channel.sent.append({c.path: c.new for c in changes})
        return super().update(rid, desired, changes, live)


class _PolicyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[str] | None = None


class Policy(Server):
    name = "test.Policy"
    model = _PolicyFields
    collection = "policies"


KINDS = (Channel, Policy)
SCHEMAS = {k.name: KindSchema(model=k.model, outputs=k.outputs) for k in KINDS}
FAST = ExecutionSettings(policy=POLICY, concurrency=4)
SPEC = """\
secrets:
  slack: {env: SLACK}
resources:
  slack:
    kind: test.Channel
    token: ${secrets.slack}
    labels: {channel: alerts}
  policy:
    kind: test.Policy
    channels: ["${slack.name}"]
"""


def _spec(text: str = SPEC) -> Any:
    head = "apiVersion: mlops-infra/v1\nstack: s\nproject: proj-1\n"
    return load_spec_text(head + text, filename="spec.yaml", kinds=SCHEMAS)


def _values(token: str | None, fetched: list[str] | None = None) -> SecretValues:
    def fetch(source: SecretSource) -> str:
        if fetched is not None:
            fetched.append(source.name)
        if token is None:
            raise SecretUnavailable(f"secret '{source.name}' ({source.describe()}): not set")
        return token
    return SecretValues({"slack": SecretSource("slack", "env", "SLACK")}, fetch)


def _kinds(world: World) -> dict[str, Kind]:
    return {k.name: k(world) for k in KINDS}


def _plan(world: World, ledger: MemoryLedger, values: SecretValues, text: str = SPEC) -> Plan:
    return build_plan(_spec(text), kinds=_kinds(world), ledger=ledger.view(), policy=POLICY,
                      secrets=values)


def _apply(world: World, ledger: MemoryLedger, plan: Plan, values: SecretValues) -> Any:
    settings = ExecutionSettings(policy=POLICY, concurrency=4, secrets=values)
    return apply_plan(plan, kinds=_kinds(world), sink=ledger, settings=settings)


def _change(plan: Plan, address: str) -> Any:
    return next(c for c in plan.resources if c.address == address)


@pytest.fixture(autouse=True)
def _fresh_sent() -> None:
    Channel.sent.clear()


def test_the_value_reaches_only_the_api_and_the_ledger_keeps_a_keyed_hash() -> None:
    world, ledger, values = World(), MemoryLedger(), _values(TOKEN)
    plan = _plan(world, ledger, values)
    document = plan.to_json()
    assert TOKEN not in document and "${secrets.slack}" in document   # the plan keeps the reference
    change = _change(plan, "slack")
    assert change.secret_paths == ("token",)
    assert {c.path: c.new for c in change.changes}["token"] == SHOWN
    assert _apply(world, ledger, plan, values).ok
    assert Channel.sent[0]["token"] == TOKEN                           # sent as the value
    stored = ledger.entries["test.Channel:slack"].applied["token"]
    assert TOKEN not in json.dumps(ledger.entries["test.Channel:slack"].applied)
    assert sensitive.matches(stored, TOKEN) and not sensitive.matches(stored, OTHER)


def test_an_unchanged_secret_is_a_no_op_and_a_changed_one_an_update_of_that_path_only() -> None:
    world, ledger = World(), MemoryLedger()
    _apply(world, ledger, _plan(world, ledger, _values(TOKEN)), _values(TOKEN))
    again = _plan(world, ledger, _values(TOKEN))
    assert not again.has_changes and not again.ledger_sync, [c.changes for c in again.resources]
    rotated = _plan(world, ledger, _values(OTHER))
    change = _change(rotated, "slack")
    assert change.action is Action.UPDATE
    assert [(c.path, c.old, c.new) for c in change.changes] == [("token", SHOWN, SHOWN)]
    assert OTHER not in rotated.to_json()
    assert _apply(world, ledger, rotated, _values(OTHER)).ok
    assert Channel.sent[-1] == {"token": OTHER}
    assert not _plan(world, ledger, _values(OTHER)).has_changes


def test_a_missing_secret_is_one_line_naming_it_before_anything_is_read_or_made() -> None:
    world, ledger = World(), MemoryLedger()
    with pytest.raises(SecretUnavailable, match=r"^secret 'slack' \(env SLACK\): not set$"):
        _plan(world, ledger, _values(None))
    plan = _plan(world, ledger, _values(TOKEN))                # planned while it was there ...
    with pytest.raises(SecretUnavailable):                     # ... gone when applying
        _apply(world, ledger, plan, _values(None))
    assert world.creates == 0 and not ledger.entries


def test_secrets_are_fetched_only_when_referenced() -> None:
    fetched: list[str] = []
    world, ledger = World(), MemoryLedger()
    unused = "secrets:\n  slack: {env: SLACK}\nresources:\n  policy:\n    kind: test.Policy\n"
    _plan(world, ledger, _values(TOKEN, fetched), unused)
    assert fetched == []
    _plan(world, ledger, _values(TOKEN, fetched))
    assert fetched == ["slack"]


def test_a_secret_field_written_as_a_value_is_refused() -> None:
    text = "resources:\n  slack:\n    kind: test.Channel\n    token: xoxb-literal\n"
    with pytest.raises(SpecError, match=r"token is secret: write a \$\{secrets.NAME\}"):
        _plan(World(), MemoryLedger(), _values(TOKEN), text)


def test_a_secret_inside_an_ordinary_field_is_sensitive_there_too() -> None:
    text = ("secrets:\n  slack: {env: SLACK}\nresources:\n  hook:\n    kind: test.Channel\n"
            "    url: https://hooks.example.com/${secrets.slack}\n    token: ${secrets.slack}\n")
    world, ledger = World(), MemoryLedger()
    plan = _plan(world, ledger, _values(TOKEN), text)
    assert _change(plan, "hook").secret_paths == ("token", "url")
    assert _apply(world, ledger, plan, _values(TOKEN)).ok
    assert Channel.sent[0]["url"] == f"https://hooks.example.com/{TOKEN}"
    assert TOKEN not in json.dumps(ledger.entries["test.Channel:hook"].applied)
    assert not _plan(world, ledger, _values(TOKEN), text).has_changes


def test_errors_of_an_apply_never_carry_the_value() -> None:
    text = ("secrets:\n  slack: {env: SLACK}\nresources:\n  bad:\n    kind: test.Channel\n"
            "    url: fail\n    token: ${secrets.slack}\n")
    world, ledger = World(), MemoryLedger()
    result = _apply(world, ledger, _plan(world, ledger, _values(TOKEN), text), _values(TOKEN))
    (failure,) = [o for o in result.outcomes if o.status == "failed"]
    assert TOKEN not in (failure.error or "") and SHOWN in (failure.error or "")


def test_a_reference_to_a_server_chosen_name_converges_without_a_perpetual_diff() -> None:
    world, ledger = World(), MemoryLedger()
    first = _plan(world, ledger, _values(TOKEN))
    assert _change(first, "policy").desired == {
        "channels": ["${slack.name}"], "labels": _change(first, "policy").desired["labels"]}
    assert _apply(world, ledger, first, _values(TOKEN)).ok
    channel = ledger.entries["test.Channel:slack"].id
    policy = world.store[ledger.entries["test.Policy:policy"].id]
    assert policy["channels"] == [channel]
    again = _plan(world, ledger, _values(TOKEN))
    assert not again.has_changes, [(c.address, c.changes) for c in again.resources]
    assert _change(again, "policy").desired["channels"] == [channel]


def test_a_replaced_dependency_leaves_the_reference_to_its_new_name() -> None:
    world, ledger = World(), MemoryLedger()
    _apply(world, ledger, _plan(world, ledger, _values(TOKEN)), _values(TOKEN))
    old = ledger.entries["test.Channel:slack"].id
    world.store.pop(old)                              # the channel was deleted outside us
    plan = _plan(world, ledger, _values(TOKEN))
    assert _change(plan, "slack").action is Action.CREATE
    assert _change(plan, "policy").desired["channels"] == ["${slack.name}"]
    assert _apply(world, ledger, plan, _values(TOKEN)).ok
    new = ledger.entries["test.Channel:slack"].id
    assert new != old and world.store[ledger.entries["test.Policy:policy"].id]["channels"] == [new]


class _SetKind:
    secret_fields: ClassVar[tuple[str, ...]] = ()
    set_paths: ClassVar[frozenset[str]] = frozenset({"notificationChannels", "rule.members"})


class _ListKind(_SetKind):
    set_paths: ClassVar[frozenset[str]] = frozenset()


def test_a_set_recorded_in_another_order_is_the_same_record() -> None:
    # Applied with its references resolved in spec order; planned once the server-chosen names
    # are known, which the kind sorts: the same set, so no ledger write (the flaky no-op plan).
    applied = {"notificationChannels": ["channels/24060", "channels/8387"],
               "rule": {"members": ["b", "a"], "order": [2, 1]}}
    desired = {"notificationChannels": ["channels/8387", "channels/24060"],
               "rule": {"members": ["a", "b"], "order": [2, 1]}}
    assert sensitive.same_record(applied, desired, _SetKind(), ())
    assert not sensitive.same_record(applied, desired, _ListKind(), ())      # order matters
    changed = {**desired, "notificationChannels": ["channels/8387", "channels/1"]}
    assert not sensitive.same_record(applied, changed, _SetKind(), ())
    reordered = {**desired, "rule": {"members": ["a", "b"], "order": [1, 2]}}
    assert not sensitive.same_record(applied, reordered, _SetKind(), ())   # not a set path


def test_a_secret_dropped_from_the_spec_shows_its_recorded_hash_as_sensitive() -> None:
    world, ledger = World(), MemoryLedger()
    _apply(world, ledger, _plan(world, ledger, _values(TOKEN)), _values(TOKEN))
    dropped = SPEC.replace("    token: ${secrets.slack}\n", "")
    plan = _plan(world, ledger, _values(TOKEN), dropped)
    changes = {c.path: c for c in _change(plan, "slack").changes}
    assert "token" in changes, changes        # the ledger recorded it: no longer written
    assert (changes["token"].old, changes["token"].new) == (SHOWN, None)
    assert "sha256:" not in plan.to_json()    # the keyed hash is not shown either

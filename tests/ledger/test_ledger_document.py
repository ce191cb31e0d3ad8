"""The ledger document format: validation, refusal messages, redaction (pure, no I/O)."""

from __future__ import annotations

import json

import pytest

from mlops_infra.engine.errors import LedgerError
from mlops_infra.ledger import LEDGER_SCHEMA_VERSION, Intent, LedgerEntry, LedgerState
from mlops_infra.ledger.document import (
    format_time,
    parse_document,
    parse_time,
    render_document,
    utc_now,
)

LOC = "gs://b/mlops-infra/s.json"


def _parse(doc: object) -> LedgerState:
    return parse_document(json.dumps(doc).encode(), stack="s", location=LOC, generation=7)


def _entry(**overrides: object) -> LedgerEntry:
    fields: dict[str, object] = {
        "kind": "storage.Bucket", "id": "projects/p/buckets/b", "address": "raw",
        "applied": {"location": "US"}, "outputs": {"url": "gs://b"},
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-02T00:00:00.000Z"}
    fields.update(overrides)
    return LedgerEntry(**fields)  # type: ignore[arg-type]


def test_render_then_parse_round_trips() -> None:
    entry = _entry()
    state = LedgerState(stack="s", location=LOC, generation=3, entries={entry.key: entry},
                        runs=[{"id": "r1", "result": "ok"}])
    back = parse_document(render_document(state), stack="s", location=LOC, generation=9)
    assert back.entries == {entry.key: entry}
    assert back.runs == [{"id": "r1", "result": "ok"}]
    assert back.generation == 9


def test_rendered_document_has_the_documented_shape() -> None:
    entry = _entry()
    doc = json.loads(render_document(LedgerState(stack="s", location=LOC,
                                                 entries={entry.key: entry})))
    assert doc["schemaVersion"] == LEDGER_SCHEMA_VERSION
    assert doc["stack"] == "s"
    assert doc["resources"]["storage.Bucket:raw"] == {
        "kind": "storage.Bucket", "id": "projects/p/buckets/b", "address": "raw",
        "applied": {"location": "US"}, "outputs": {"url": "gs://b"},
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z", "dependsOn": []}
    assert doc["runs"] == [] and doc["intents"] == {}


def test_only_the_last_20_runs_are_rendered() -> None:
    state = LedgerState(stack="s", location=LOC, runs=[{"id": str(i)} for i in range(30)])
    runs = json.loads(render_document(state))["runs"]
    assert [r["id"] for r in runs] == [str(i) for i in range(10, 30)]


@pytest.mark.parametrize("data, fragment", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b'{"stack": "s", "resources": {}}', "schemaVersion"),
    (b'{"schemaVersion": "1", "stack": "s"}', "schemaVersion"),
    (b'{"schemaVersion": 2, "stack": "other"}', "stack 'other'"),
    (b'{"schemaVersion": 2, "stack": "s"}', "no 'resources'"),
    (b'{"schemaVersion": 2, "stack": "s", "resources": []}', "'resources'"),
    (b'{"schemaVersion": 2, "stack": "s", "resources": {"k": {"kind": 1, "id": "x"}}}', "'kind'"),
    ((b'{"schemaVersion": 2, "stack": "s", "resources": {"k": {"kind": "s.A", "id": "x", '
      b'"applied": []}}}'), "'applied'"),
    ((b'{"schemaVersion": 2, "stack": "s", "resources": {"s.A:x": {"kind": "s.A", "id": "x", '
      b'"address": "y"}}}'), "entry 's.A:x' is filed under the wrong key"),
    ((b'{"schemaVersion": 2, "stack": "s", "resources": {"s.A:": {"kind": "s.A", "id": "x", '
      b'"address": ""}}}'), "entry 's.A:' has no address"),
    ((b'{"schemaVersion": 2, "stack": "s", "resources": {"x:y": {"kind": "x", "id": "i", '
      b'"address": "y"}}}'), "entry 'x:y': kind 'x' is not a kind name (SERVICE.Kind)"),
    ((b'{"schemaVersion": 2, "stack": "s", "resources": {}, "intents": {"s.A:zz": '
      b'{"kind": "s.B", "id": "", "address": "zz"}}}'), "intent 's.A:zz' is filed under the wrong"),
    (b'{"schemaVersion": 2, "stack": "s", "resources": {}, "runs": {}}', "'runs'"),
    (b'{"schemaVersion": 2, "stack": "s", "resources": {}, "intents": []}', "'intents'"),
    (b'{"schemaVersion": 2, "stack": "s", "resources": {}, "intents": {"k": {"kind": "a"}}}',
     "'id'"),
    (b"[" * 100_000 + b"]" * 100_000, "line 1: nested more than 200 levels deep"),
    (b'{"schemaVersion":\n' + b"9" * 5000 + b"}", "line 2: an integer of more than"),
    ((b'{"schemaVersion": 2, "stack": "s", "resources": {\n'
      b' "a:x": {"kind": "a", "id": "1", "address": "x"},\n'
      b' "a:x": {"kind": "a", "id": "2", "address": "x"}}}'),
     "line 3: the key 'a:x' appears twice"),
])
def test_bad_documents_are_refused_with_one_line_naming_the_location(
        data: bytes, fragment: str) -> None:
    with pytest.raises(LedgerError) as info:
        parse_document(data, stack="s", location=LOC, generation=1)
    message = str(info.value)
    assert LOC in message and fragment in message
    assert "\n" not in message


def test_newer_schema_is_refused_with_upgrade_hint() -> None:
    with pytest.raises(LedgerError, match="schemaVersion 3.*upgrade"):
        _parse({"schemaVersion": LEDGER_SCHEMA_VERSION + 1, "stack": "s", "resources": {}})


def test_missing_optional_sections_read_as_empty() -> None:
    state = _parse({"schemaVersion": 2, "stack": "s", "resources": {}})
    assert state.entries == {} and state.runs == [] and state.intents == {}


def test_a_version_1_ledger_is_migrated_to_logical_keys_and_says_so() -> None:
    v1 = {"schemaVersion": 1, "stack": "s", "resources": {
        "storage.Bucket:projects/p/buckets/b": {
            "kind": "storage.Bucket", "id": "projects/p/buckets/b", "address": "raw"},
        "storage.BucketBindings:projects/p/buckets/b/iamBindings/acl": {
            "kind": "storage.BucketBindings", "id": "projects/p/buckets/b/iamBindings/acl",
            "address": "acl", "dependsOn": ["storage.Bucket:projects/p/buckets/b"]}}}
    state = _parse(v1)
    assert set(state.entries) == {"storage.Bucket:raw", "storage.BucketBindings:acl"}
    assert state.entries["storage.BucketBindings:acl"].depends_on == ("storage.Bucket:raw",)
    assert state.entries["storage.Bucket:raw"].id == "projects/p/buckets/b"
    assert state.migrated_from == 1 and "schema version 1" in state.notes[0]
    again = parse_document(render_document(state), stack="s", location=LOC, generation=8)
    assert again.entries == state.entries and again.migrated_from is None


def test_intents_round_trip() -> None:
    intent = Intent(kind="iam.ServiceAccount", id="projects/p/serviceAccounts/a@p.iam",
                    address="trainer", run_id="r1", at="2026-01-01T00:00:00.000Z")
    state = LedgerState(stack="s", location=LOC, intents={intent.key: intent})
    back = parse_document(render_document(state), stack="s", location=LOC, generation=2)
    assert back.intents == {"iam.ServiceAccount:trainer": intent}


def test_a_shared_intent_keeps_what_was_there_before() -> None:
    intent = Intent(kind="iam.ProjectBindings", id="projects/p", address="access", run_id="r1",
                    at="2026-01-01T00:00:00.000Z",
                    preexisting=('bindings["roles/viewer"]["user:a@example.com"]',))
    state = LedgerState(stack="s", location=LOC, intents={intent.key: intent})
    rendered = render_document(state)
    assert json.loads(rendered)["intents"]["iam.ProjectBindings:access"]["preexisting"] == \
        list(intent.preexisting)
    back = parse_document(rendered, stack="s", location=LOC, generation=2)
    assert back.intents == {"iam.ProjectBindings:access": intent}


def test_whose_ledger_it_is_round_trips_and_an_older_ledger_reads_as_unknown() -> None:
    state = LedgerState(stack="ml-dev", location=LOC,
                        origin="stack 'ml' in environment 'dev', project 'p'")
    back = parse_document(render_document(state), stack="ml-dev", location=LOC, generation=3)
    assert back.origin == state.origin
    older = json.loads(render_document(LedgerState(stack="ml-dev", location=LOC)))
    assert "origin" not in older
    assert parse_document(json.dumps(older).encode(), stack="ml-dev", location=LOC,
                          generation=1).origin == ""


def test_a_server_named_intent_keeps_its_scope_and_older_intents_read_without_one() -> None:
    intent = Intent(kind="monitoring.NotificationChannel", id="", address="oncall",
                    scope="projects/p")
    state = LedgerState(stack="s", location=LOC, intents={intent.key: intent})
    back = parse_document(render_document(state), stack="s", location=LOC, generation=2)
    assert back.intents[intent.key].scope == "projects/p"
    old = (b'{"schemaVersion": 2, "stack": "s", "resources": {}, "intents": {"s.K:a": '
           b'{"kind": "s.K", "id": "", "address": "a", "runId": "r", "at": ""}}}')
    assert parse_document(old, stack="s", location=LOC, generation=3).intents["s.K:a"].scope == ""


def test_values_are_stored_as_given_labels_included() -> None:
    entry = _entry(applied={"labels": {"api-token-owner": "team-ml"}})
    doc = render_document(LedgerState(stack="s", location=LOC, entries={entry.key: entry}))
    assert b"team-ml" in doc          # secrets are the kinds' secret_fields, stored as digests


def test_timestamps_are_utc_iso_with_z_and_parse_back() -> None:
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert parse_time("1970-01-01T00:01:00.000Z") == 60.0
    assert utc_now().endswith("Z")

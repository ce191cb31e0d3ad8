"""The ledger document format: validation, refusal messages, redaction (pure, no I/O)."""

from __future__ import annotations

import json

import pytest

from mlops_infra.engine.errors import LedgerError
from mlops_infra.ledger import LEDGER_SCHEMA_VERSION, LedgerEntry, LedgerState
from mlops_infra.ledger.document import (
    format_time,
    parse_document,
    parse_time,
    render_document,
    utc_now,
)
from mlops_infra.ledger.redact import REDACTED, redact

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
    assert doc["resources"]["storage.Bucket:projects/p/buckets/b"] == {
        "kind": "storage.Bucket", "id": "projects/p/buckets/b", "address": "raw",
        "applied": {"location": "US"}, "outputs": {"url": "gs://b"},
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z", "dependsOn": []}
    assert doc["runs"] == []


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
    (b'{"schemaVersion": 1, "stack": "other"}', "stack 'other'"),
    (b'{"schemaVersion": 1, "stack": "s", "resources": []}', "'resources'"),
    (b'{"schemaVersion": 1, "stack": "s", "resources": {"k": {"kind": 1, "id": "x"}}}', "'kind'"),
    ((b'{"schemaVersion": 1, "stack": "s", "resources": {"k": {"kind": "a", "id": "x", '
      b'"applied": []}}}'), "'applied'"),
    (b'{"schemaVersion": 1, "stack": "s", "runs": {}}', "'runs'"),
])
def test_bad_documents_are_refused_with_one_line_naming_the_location(
        data: bytes, fragment: str) -> None:
    with pytest.raises(LedgerError) as info:
        parse_document(data, stack="s", location=LOC, generation=1)
    message = str(info.value)
    assert LOC in message and fragment in message
    assert "\n" not in message


def test_newer_schema_is_refused_with_upgrade_hint() -> None:
    with pytest.raises(LedgerError, match="schemaVersion 2.*upgrade"):
        _parse({"schemaVersion": LEDGER_SCHEMA_VERSION + 1, "stack": "s", "resources": {}})


def test_missing_optional_sections_read_as_empty() -> None:
    state = _parse({"schemaVersion": 1, "stack": "s"})
    assert state.entries == {} and state.runs == []


def test_redaction_replaces_secret_looking_keys_at_any_depth() -> None:
    value = {"name": "db", "password": "hunter2", "nested": [{"apiToken": "t", "size": 3}],
             "private_key": {"pem": "x"}, "clientSecret": "s", "labels": {"team": "ml"}}
    assert redact(value) == {"name": "db", "password": REDACTED,
                             "nested": [{"apiToken": REDACTED, "size": 3}],
                             "private_key": REDACTED, "clientSecret": REDACTED,
                             "labels": {"team": "ml"}}


def test_rendering_redacts_applied_and_outputs() -> None:
    entry = _entry(applied={"masterAuth": {"password": "p"}}, outputs={"privateKeyData": "k"})
    doc = render_document(LedgerState(stack="s", location=LOC, entries={entry.key: entry}))
    assert b"\"p\"" not in doc and b"\"k\"" not in doc
    assert doc.count(REDACTED.encode()) == 2


def test_timestamps_are_utc_iso_with_z_and_parse_back() -> None:
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert parse_time("1970-01-01T00:01:00.000Z") == 60.0
    assert utc_now().endswith("Z")

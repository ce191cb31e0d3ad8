"""storage.Bucket: spec shorthands, and every operation against the emulator via the real client."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.engine import errors
from mlops_infra.engine.diff import diff
from mlops_infra.engine.kind import FieldChange
from mlops_infra.kinds._clients import STORAGE
from mlops_infra.kinds.storage.bucket import Bucket
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, managed, mismatches

FULL = {
    "location": "europe-west1", "storageClass": "standard", "labels": {"team": "ml"},
    "versioning": False,       # GCS refuses versioning together with a retention policy
    "lifecycle": {"rule": [
        {"action": {"type": "Delete"}, "condition": {"age": 30, "isLive": False}},
        {"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
         "condition": {"createdBefore": "2024-01-31", "matchesPrefix": ["tmp/"]}}]},
    "uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced",
    "defaultKmsKeyName": "projects/test-project/locations/europe-west1/keyRings/r/cryptoKeys/k",
    "retentionPeriod": 3600, "softDeleteRetentionSeconds": 0,
}


@pytest.fixture
def kind(clients: Clients) -> Bucket:
    return Bucket(clients)


def build(name: str, raw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    c = ctx(name)
    kind = Bucket(None)
    f = fields(Bucket, raw)
    return kind.identify(c, f), managed(kind.desired(c, f))


# --- pure shape ---------------------------------------------------------------------------

def test_desired_expands_shorthands_and_canonicalises() -> None:
    desired = Bucket(None).desired(ctx("demo-raw"), fields(Bucket, FULL))
    assert desired["name"] == "demo-raw"
    assert desired["location"] == "EUROPE-WEST1" and desired["storageClass"] == "STANDARD"
    assert desired["versioning"] == {"enabled": False}
    assert desired["iamConfiguration"] == {"uniformBucketLevelAccess": {"enabled": True},
                                           "publicAccessPrevention": "enforced"}
    assert desired["encryption"] == {"defaultKmsKeyName": FULL["defaultKmsKeyName"]}
    assert desired["retentionPolicy"] == {"retentionPeriod": "3600"}
    assert desired["softDeletePolicy"] == {"retentionDurationSeconds": "0"}
    assert not set(desired) & {"uniformBucketLevelAccess", "publicAccessPrevention",
                               "defaultKmsKeyName", "retentionPeriod", "softDeleteRetentionSeconds"}


def test_desired_holds_only_what_was_written() -> None:
    desired = Bucket(None).desired(ctx("demo-raw"), fields(Bucket, {"labels": {"a": "b"}}))
    assert desired == {"name": "demo-raw", "labels": {"a": "b"}}


def test_identity_and_outputs_before_creation() -> None:
    kind = Bucket(None)
    rid = kind.identify(ctx("demo-raw"), {})
    assert (rid.name, rid.scope) == (f"projects/{PROJECT}/buckets/demo-raw", f"projects/{PROJECT}")
    assert kind.outputs_of(rid, None) == {"name": "demo-raw", "url": "gs://demo-raw"}


@pytest.mark.parametrize("raw", [
    {"versioning": True, "nope": 1},
    {"retentionPeriod": 10, "retentionPolicy": {"retentionPeriod": 10}},
    {"publicAccessPrevention": "sometimes"},
    {"labels": {"Team": "x"}},
    {"lifecycle": {"rule": [{"action": {"type": "Explode"}, "condition": {"age": 1}}]}},
])
def test_invalid_specs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Bucket.model.model_validate(raw)


def test_int64_strings_and_case_leave_no_diff() -> None:
    kind = Bucket(None)
    desired = kind.desired(ctx("b"), fields(Bucket, {"location": "eu", "retentionPeriod": 60,
                                                     "publicAccessPrevention": "ENFORCED"}))
    live = {"name": "b", "location": "EU", "retentionPolicy": {"retentionPeriod": "60"},
            "iamConfiguration": {"publicAccessPrevention": "enforced"}}
    assert diff(desired, kind.normalize(live)) == []


def test_location_change_replaces() -> None:
    kind = Bucket(None)
    reason = kind.replace_reason([FieldChange(path="location", op="change", old="US", new="EU")])
    assert reason and "location" in reason
    assert kind.replace_reason([FieldChange(path="labels.a", op="add", new="b")]) is None
    assert kind.replace_loses_data(kind.identify(ctx("b"), {}), []) is True


# --- against the emulator -------------------------------------------------------------------

def test_create_then_get_round_trips_every_written_path(kind: Bucket) -> None:
    rid, desired = build("demo-full", FULL)
    created = kind.create(rid, desired)
    assert created["name"] == "demo-full"
    live = kind.get(rid)
    assert live is not None
    assert mismatches(desired, kind.normalize(live)) == []
    assert diff(desired, kind.normalize(live)) == []
    assert kind.outputs_of(rid, live)["selfLink"]


def test_get_missing_is_none(kind: Bucket) -> None:
    rid, _ = build("absent", {})
    assert kind.get(rid) is None


def test_list_returns_buckets_keyed_by_identity(kind: Bucket) -> None:
    for name in ("list-a", "list-b"):
        rid, desired = build(name, {"labels": {"n": name}})
        kind.create(rid, desired)
    listed = kind.list(f"projects/{PROJECT}")
    assert {f"projects/{PROJECT}/buckets/list-a", f"projects/{PROJECT}/buckets/list-b"} <= set(listed)
    assert listed[f"projects/{PROJECT}/buckets/list-b"]["labels"]["n"] == "list-b"


def test_create_existing_raises_conflict(kind: Bucket) -> None:
    rid, desired = build("twice", {})
    kind.create(rid, desired)
    with pytest.raises(errors.Conflict, match="409 Conflict: bucket twice already exists"):
        kind.create(rid, desired)


def test_update_changes_adds_and_removes_labels_and_fields(kind: Bucket) -> None:
    first = {"labels": {"team": "a", "old": "x"}, "versioning": False, "retentionPeriod": 60}
    rid, before = build("upd", first)
    kind.create(rid, before)
    second = {"labels": {"team": "b", "new": "y"}, "versioning": True,
              "publicAccessPrevention": "enforced"}
    _, after = build("upd", second)
    changes = diff(after, kind.normalize(kind.get(rid)), before)
    assert {c.path for c in changes} >= {"labels.team", "labels.new", "labels.old",
                                         "versioning.enabled", "retentionPolicy.retentionPeriod"}
    assert kind.replace_reason(changes) is None
    returned = kind.update(rid, after, changes, kind.get(rid))
    live = kind.normalize(kind.get(rid))
    assert returned["labels"] == live["labels"]
    assert live["labels"]["team"] == "b" and live["labels"]["new"] == "y"
    assert "old" not in live["labels"]
    assert live["versioning"]["enabled"] is True
    assert live["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert "retentionPeriod" not in (live.get("retentionPolicy") or {})
    assert diff(after, live, after) == []


def test_update_sends_only_changed_fields(kind: Bucket, emulator: Any) -> None:
    rid, desired = build("minimal", {"labels": {"a": "1"}, "storageClass": "STANDARD"})
    kind.create(rid, desired)
    emulator.clear_journal()
    kind.update(rid, desired, [FieldChange(path="labels.a", op="change", old="1", new="2")],
                kind.get(rid))
    mutating = emulator.mutating_requests("storage")
    assert [(e.method, e.path) for e in mutating] == [("PATCH", "/storage/v1/b/minimal")]


def test_holds_data_and_delete_without_force_refuses(kind: Bucket, clients: Clients) -> None:
    rid, desired = build("full-of-data", {"versioning": True})
    kind.create(rid, desired)
    assert kind.holds_data(rid) is False
    blob = clients.storage().bucket("full-of-data").blob("a/b.txt")
    blob.upload_from_string(b"one")
    blob.upload_from_string(b"two")  # a noncurrent version too
    assert kind.holds_data(rid) is True
    with pytest.raises(errors.PermanentError, match="full-of-data"):
        kind.delete(rid, force=False)
    assert kind.get(rid) is not None
    kind.delete(rid, force=True)
    assert kind.get(rid) is None


def test_delete_empty_and_missing(kind: Bucket) -> None:
    rid, desired = build("empty", {})
    kind.create(rid, desired)
    kind.delete(rid, force=False)
    assert kind.get(rid) is None
    kind.delete(rid, force=False)  # already gone: not an error


def test_false_settings_match_a_server_that_omits_them(kind: Bucket) -> None:
    rid, plain = build("falsy", {})
    kind.create(rid, plain)
    _, desired = build("falsy", {"versioning": False, "uniformBucketLevelAccess": False,
                                 "publicAccessPrevention": "inherited"})
    assert diff(desired, kind.normalize({"name": "falsy", "labels": desired["labels"]})) == []
    assert diff(desired, kind.normalize(kind.get(rid))) == []


def test_the_storage_client_makes_no_background_bucket_reads(emulator, kind: Bucket) -> None:  # type: ignore[no-untyped-def]
    """google-cloud-storage 3.17 reads bucket metadata in the background for its tracing;
    the client we build turns that off (clients.py), so a plan's reads are only ours."""
    import time

    rid, desired = build("quiet-reads", {"location": "US"})
    kind.create(rid, desired)
    emulator.clear_journal()
    fresh = Clients(project=PROJECT, endpoints=emulator.endpoints)   # nothing cached yet
    fresh.get(STORAGE, PROJECT).bucket("quiet-reads").get_iam_policy(retry=None)
    time.sleep(0.3)                                  # a background fetch would land by now
    assert [(e.method, e.path) for e in emulator.journal] == [
        ("GET", "/storage/v1/b/quiet-reads/iam")]

"""Cloud Storage buckets through the real google-cloud-storage client."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc
from google.cloud import storage

from mlops_infra.emulator import Emulator
from tests.emulator.support import PROJECT, gcs, raw

KMS = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"


def _full_bucket(client: storage.Client, name: str) -> storage.Bucket:
    bucket = client.bucket(name)
    bucket.labels = {"team": "ml", "env": "dev"}
    bucket.versioning_enabled = True
    bucket.storage_class = "NEARLINE"
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.iam_configuration.public_access_prevention = "enforced"
    bucket.add_lifecycle_delete_rule(age=30)
    bucket.add_lifecycle_set_storage_class_rule("COLDLINE", age=10)
    bucket.default_kms_key_name = KMS
    bucket.soft_delete_policy.retention_duration_seconds = 0
    return client.create_bucket(bucket, location="us-central1", retry=None)


def test_every_field_round_trips(emulator: Emulator) -> None:
    client = gcs(emulator)
    _full_bucket(client, "full-bucket")
    got = client.get_bucket("full-bucket")._properties
    assert got["labels"] == {"team": "ml", "env": "dev"}
    assert got["versioning"] == {"enabled": True}
    assert got["storageClass"] == "NEARLINE"
    assert got["location"] == "US-CENTRAL1" and got["locationType"] == "region"
    assert got["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
    assert "lockedTime" in got["iamConfiguration"]["uniformBucketLevelAccess"]
    assert got["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert got["lifecycle"]["rule"] == [
        {"action": {"type": "Delete"}, "condition": {"age": 30}},
        {"action": {"type": "SetStorageClass", "storageClass": "COLDLINE"},
         "condition": {"age": 10}}]
    assert got["encryption"] == {"defaultKmsKeyName": KMS}
    assert got["softDeletePolicy"]["retentionDurationSeconds"] == "0"


def test_a_retention_policy_round_trips(emulator: Emulator) -> None:
    client = gcs(emulator)
    bucket = client.bucket("retained")
    bucket.retention_period = 3600
    client.create_bucket(bucket, retry=None)
    got = client.get_bucket("retained")._properties
    assert got["retentionPolicy"]["retentionPeriod"] == "3600"
    assert "effectiveTime" in got["retentionPolicy"]


def test_versioning_and_a_retention_policy_conflict(emulator: Emulator) -> None:
    client = gcs(emulator)
    both = client.bucket("both")
    both.versioning_enabled, both.retention_period = True, 3600
    with pytest.raises(gexc.BadRequest, match="retention policy and object versioning"):
        client.create_bucket(both, retry=None)
    versioned = client.bucket("versioned")
    versioned.versioning_enabled = True
    client.create_bucket(versioned, retry=None)
    versioned.retention_period = 60
    with pytest.raises(gexc.BadRequest, match="retention policy and object versioning"):
        versioned.patch(retry=None)


@pytest.mark.parametrize("seconds", [1, 86400, 604799, 7776001])
def test_soft_delete_is_off_or_seven_to_ninety_days(emulator: Emulator, seconds: int) -> None:
    client = gcs(emulator)
    bucket = client.bucket(f"soft-{seconds}")
    bucket.soft_delete_policy.retention_duration_seconds = seconds
    with pytest.raises(gexc.BadRequest, match="0 .off. or between 604800"):
        client.create_bucket(bucket, retry=None)
    for ok in (0, 604800, 7776000):
        fine = client.bucket(f"soft-{seconds}-{ok}")
        fine.soft_delete_policy.retention_duration_seconds = ok
        client.create_bucket(fine, retry=None)


def test_turbo_replication_needs_a_dual_region(emulator: Emulator) -> None:
    client = gcs(emulator)
    regional = client.bucket("turbo")
    regional.rpo = "ASYNC_TURBO"
    with pytest.raises(gexc.BadRequest, match="dual-region"):
        client.create_bucket(regional, location="us-central1", retry=None)
    dual = client.bucket("turbo-dual")
    dual.rpo = "ASYNC_TURBO"
    assert client.create_bucket(dual, location="NAM4", retry=None).rpo == "ASYNC_TURBO"


def test_server_defaults_and_output_only_fields(emulator: Emulator) -> None:
    got = gcs(emulator).create_bucket("plain-bucket", retry=None)._properties
    assert got["kind"] == "storage#bucket" and got["id"] == "plain-bucket"
    assert got["location"] == "US" and got["locationType"] == "multi-region"
    assert got["storageClass"] == "STANDARD" and got["rpo"] == "DEFAULT"
    assert got["metageneration"] == "1"
    assert got["iamConfiguration"] == {
        "uniformBucketLevelAccess": {"enabled": False},
        "bucketPolicyOnly": {"enabled": False}, "publicAccessPrevention": "inherited"}
    assert got["softDeletePolicy"]["retentionDurationSeconds"] == "604800"
    assert got["projectNumber"].isdigit()
    for absent in ("labels", "versioning", "lifecycle", "encryption", "retentionPolicy"):
        assert absent not in got
    for present in ("etag", "timeCreated", "updated", "selfLink"):
        assert got[present]


def test_patch_is_a_merge_patch(emulator: Emulator) -> None:
    client = gcs(emulator)
    bucket = _full_bucket(client, "merge-bucket")
    bucket.labels = {"team": "ml", "owner": "me"}      # client sends env: null
    bucket.clear_lifecyle_rules()
    bucket.add_lifecycle_delete_rule(age=7)              # lists are replaced
    bucket.patch(retry=None)
    got = client.get_bucket("merge-bucket")._properties
    assert got["labels"] == {"team": "ml", "owner": "me"}
    assert got["lifecycle"] == {"rule": [{"action": {"type": "Delete"}, "condition": {"age": 7}}]}
    assert got["metageneration"] == "2"
    assert got["versioning"] == {"enabled": True}        # untouched fields are kept


def test_nested_objects_merge_and_null_deletes(emulator: Emulator) -> None:
    gcs(emulator).create_bucket("nested-bucket", retry=None)
    path = "/storage/v1/b/nested-bucket"
    body = {"iamConfiguration": {"publicAccessPrevention": "enforced"},
            "labels": {"a": "1"}, "encryption": {"defaultKmsKeyName": KMS}}
    assert raw(emulator, "storage", "PATCH", path, json=body).status_code == 200
    got = raw(emulator, "storage", "PATCH", path,
              json={"encryption": None, "labels": {"a": None, "b": "2"}}).json()
    assert got["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert got["iamConfiguration"]["uniformBucketLevelAccess"] == {"enabled": False}
    assert "encryption" not in got and got["labels"] == {"b": "2"}
    assert got["metageneration"] == "3"


def test_update_replaces_writable_fields(emulator: Emulator) -> None:
    client = gcs(emulator)
    _full_bucket(client, "put-bucket")
    got = raw(emulator, "storage", "PUT", "/storage/v1/b/put-bucket",
              json={"name": "put-bucket", "labels": {"only": "this"}}).json()
    assert got["labels"] == {"only": "this"}
    assert "versioning" not in got and "lifecycle" not in got
    assert got["location"] == "US-CENTRAL1" and got["storageClass"] == "STANDARD"


def test_insert_existing_is_409_and_missing_is_404(emulator: Emulator) -> None:
    client = gcs(emulator)
    client.create_bucket("dup-bucket", retry=None)
    with pytest.raises(gexc.Conflict):
        client.create_bucket("dup-bucket", retry=None)
    with pytest.raises(gexc.NotFound):
        client.get_bucket("no-such-bucket", retry=None)
    response = raw(emulator, "storage", "GET", "/storage/v1/b/no-such-bucket")
    assert response.json()["error"]["errors"][0]["reason"] == "notFound"
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_invalid_name_and_location_change_are_400(emulator: Emulator) -> None:
    client = gcs(emulator)
    with pytest.raises(gexc.BadRequest):
        client.create_bucket("Bad_Name", retry=None)
    client.create_bucket("stay-put", location="EU", retry=None)
    response = raw(emulator, "storage", "PATCH", "/storage/v1/b/stay-put", json={"location": "US"})
    assert response.status_code == 400


def test_metageneration_preconditions(emulator: Emulator) -> None:
    client = gcs(emulator)
    bucket = client.create_bucket("cas-bucket", retry=None)
    bucket.labels = {"x": "1"}
    with pytest.raises(gexc.PreconditionFailed):
        bucket.patch(if_metageneration_match=7, retry=None)
    bucket.patch(if_metageneration_match=1, retry=None)
    with pytest.raises(gexc.PreconditionFailed):
        bucket.delete(if_metageneration_match=1, retry=None)
    bucket.delete(if_metageneration_match=2, retry=None)
    with pytest.raises(gexc.NotFound):
        client.get_bucket("cas-bucket", retry=None)


def test_delete_non_empty_bucket_is_409(emulator: Emulator) -> None:
    bucket = gcs(emulator).create_bucket("full-of-stuff", retry=None)
    bucket.blob("a").upload_from_string(b"x", retry=None)
    with pytest.raises(gexc.Conflict):
        bucket.delete(retry=None)
    bucket.blob("a").delete(retry=None)
    bucket.delete(retry=None)


def test_list_pages_and_filters_by_project_and_prefix(emulator: Emulator) -> None:
    client = gcs(emulator)
    names = [f"bkt-{i:02d}" for i in range(7)]
    for name in names:
        client.create_bucket(name, retry=None)
    gcs(emulator, project="other-project").create_bucket("bkt-other", retry=None)
    pages = list(client.list_buckets(max_results=None, page_size=3).pages)
    assert [len(list(p)) for p in pages] == [3, 3, 1]
    assert [b.name for b in client.list_buckets(page_size=3)] == names
    assert [b.name for b in client.list_buckets(prefix="bkt-0")] == names
    assert [b.name for b in gcs(emulator, project="other-project").list_buckets()] == ["bkt-other"]
    assert [b.name for b in client.list_buckets(prefix="nope")] == []


def test_list_requires_project(emulator: Emulator) -> None:
    response = raw(emulator, "storage", "GET", "/storage/v1/b")
    assert response.status_code == 400
    assert PROJECT not in response.text

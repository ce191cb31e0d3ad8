"""storage.BucketBindings (bucket IAM over google-cloud-storage) and bigquery.DatasetBindings
(dataset access entries over google-cloud-bigquery) against the emulator: additive, stale
etags re-read, and ``Kind.remove`` taking back only the members it applied."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.cloud import bigquery

from mlops_infra.clients import Clients
from mlops_infra.engine import errors
from mlops_infra.kinds._clients import BIGQUERY
from mlops_infra.kinds.bigquery.bindings import (
    DatasetBindings,
    access_to_policy,
    entry_of,
    member_of,
)
from mlops_infra.kinds.storage.bindings import BucketBindings
from tests.emulator.support import raw
from tests.kinds.bindings_testlib import iam_emulator, pending, reconcile  # noqa: F401  (fixture)
from tests.kinds.kinds_testlib import PROJECT, ctx, fields

CALL: dict[str, Any] = {"retry": None, "timeout": 10}
VIEWER = "roles/storage.objectViewer"
SA = f"serviceAccount:trainer@{PROJECT}.iam.gserviceaccount.com"


def _bucket_members(clients: Clients, bucket: str, role: str) -> list[str]:
    policy = clients.storage().bucket(bucket).get_iam_policy(requested_policy_version=3, **CALL)
    return sorted(m for b in policy.to_api_repr().get("bindings", []) if b["role"] == role
                  for m in b["members"])


def _grant_on_bucket(clients: Clients, bucket: str, role: str, member: str) -> None:
    handle = clients.storage().bucket(bucket)
    policy = handle.get_iam_policy(requested_policy_version=3, **CALL)
    policy[role] = set(policy.get(role, set())) | {member}
    handle.set_iam_policy(policy, **CALL)


def test_bucket_bindings_are_additive_and_removal_takes_back_only_ours(clients: Clients) -> None:
    clients.storage().create_bucket("shared-bucket", **CALL)
    kind, c = BucketBindings(clients), ctx("bucket-grants")
    spec = {"bucket": "shared-bucket", "bindings": [{"role": VIEWER, "members": ["group:data@acme.com"]}]}
    _grant_on_bucket(clients, "shared-bucket", VIEWER, "user:outsider@acme.com")
    last = reconcile(kind, c, spec)
    assert _bucket_members(clients, "shared-bucket", VIEWER) == ["group:data@acme.com",
                                                                  "user:outsider@acme.com"]
    assert _bucket_members(clients, "shared-bucket", "roles/storage.legacyBucketOwner") == [
        f"projectEditor:{PROJECT}", f"projectOwner:{PROJECT}"]
    assert pending(kind, c, spec, last) == []
    rid = kind.identify(c, fields(BucketBindings, spec))
    assert rid.name == f"projects/{PROJECT}/buckets/shared-bucket/iamBindings/bucket_grants"
    kind.remove(rid, applied=last, force=False)
    assert _bucket_members(clients, "shared-bucket", VIEWER) == ["user:outsider@acme.com"]


def test_bucket_stale_etag_is_a_precondition_failure(clients: Clients) -> None:
    clients.storage().create_bucket("race-bucket", **CALL)
    kind = BucketBindings(clients)
    rid = kind.identify(ctx("g"), {"bucket": "race-bucket", "bindings": []})
    stale = kind.get_policy(rid) or {}
    _grant_on_bucket(clients, "race-bucket", VIEWER, "user:first@acme.com")
    with pytest.raises(errors.PreconditionFailed):
        kind.set_policy(rid, {**stale, "bindings": [{"role": VIEWER, "members": ["user:late@acme.com"]}]})
    assert _bucket_members(clients, "race-bucket", VIEWER) == ["user:first@acme.com"]


def test_bucket_policy_of_a_missing_bucket_is_none(clients: Clients) -> None:
    kind = BucketBindings(clients)
    assert kind.get(kind.identify(ctx("g"), {"bucket": "nope-bucket", "bindings": []})) is None


def _dataset(clients: Clients, name: str, view: bool = False) -> None:
    ds = bigquery.Dataset(f"{PROJECT}.{name}")
    if view:
        ds.access_entries = [*ds.access_entries, bigquery.AccessEntry(
            None, "view", {"projectId": PROJECT, "datasetId": "other", "tableId": "v"}),
            bigquery.AccessEntry("OWNER", "specialGroup", "projectOwners")]
    clients.get(BIGQUERY).create_dataset(ds, **CALL)


def _access(clients: Clients, name: str) -> list[dict[str, Any]]:
    return clients.get(BIGQUERY).get_dataset(f"{PROJECT}.{name}", **CALL).to_api_repr()["access"]


def test_dataset_bindings_add_entries_and_keep_everything_else(clients: Clients) -> None:
    _dataset(clients, "features", view=True)
    before = _access(clients, "features")
    kind, c = DatasetBindings(clients), ctx("ds-grants")
    spec = {"dataset": "features", "bindings": [
        {"role": "roles/bigquery.dataViewer", "members": [SA, "group:analysts@acme.com"]},
        {"role": "roles/bigquery.metadataViewer", "members": ["domain:acme.com"]}]}
    last = reconcile(kind, c, spec)
    after = _access(clients, "features")
    assert all(entry in after for entry in before)
    assert {"role": "READER", "userByEmail": SA.split(":", 1)[1]} in after
    assert {"role": "READER", "groupByEmail": "analysts@acme.com"} in after
    assert {"role": "roles/bigquery.metadataViewer", "domain": "acme.com"} in after
    assert pending(kind, c, spec, last) == []
    # someone else adds a reader; we drop one of ours: only ours goes
    ds = clients.get(BIGQUERY).get_dataset(f"{PROJECT}.features", **CALL)
    ds.access_entries = [*ds.access_entries, bigquery.AccessEntry("READER", "userByEmail", "o@acme.com")]
    clients.get(BIGQUERY).update_dataset(ds, ["access"], **CALL)
    smaller = {"dataset": "features", "bindings": [
        {"role": "roles/bigquery.dataViewer", "members": [SA]}]}
    last = reconcile(kind, c, smaller, last)
    after = _access(clients, "features")
    assert {"role": "READER", "groupByEmail": "analysts@acme.com"} not in after
    assert {"role": "roles/bigquery.metadataViewer", "domain": "acme.com"} not in after
    assert {"role": "READER", "userByEmail": "o@acme.com"} in after
    assert all(entry in after for entry in before)
    kind.remove(kind.identify(c, fields(DatasetBindings, smaller)), applied=last, force=False)
    assert _canonical(_access(clients, "features")) == _canonical(
        [*before, {"role": "READER", "userByEmail": "o@acme.com"}])


def _canonical(entries: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps({k: v for k, v in e.items() if v is not None}, sort_keys=True)
                  for e in entries)


def test_dataset_concurrent_change_is_a_precondition_failure(clients: Clients) -> None:
    _dataset(clients, "racy")
    kind = DatasetBindings(clients)
    rid = kind.identify(ctx("g"), {"dataset": "racy", "bindings": []})
    stale = kind.get_policy(rid) or {}
    ds = clients.get(BIGQUERY).get_dataset(f"{PROJECT}.racy", **CALL)
    ds.description = "someone else"
    clients.get(BIGQUERY).update_dataset(ds, ["description"], **CALL)
    with pytest.raises(errors.PreconditionFailed):
        kind.set_policy(rid, {**stale, "bindings": [{"role": "roles/bigquery.dataViewer",
                                                    "members": ["user:late@acme.com"]}]})


def test_member_mapping_round_trips() -> None:
    for role, member in [("roles/bigquery.dataEditor", "user:a@acme.com"), ("roles/x", SA),
                         ("roles/bigquery.dataOwner", "group:g@acme.com"),
                         ("roles/bigquery.dataViewer", "specialGroup:projectReaders"),
                         ("roles/bigquery.dataViewer", "allAuthenticatedUsers"),
                         ("roles/bigquery.dataViewer", "allUsers"),
                         ("roles/bigquery.dataViewer", "domain:acme.com")]:
        entry = entry_of(role, member)
        assert member_of(entry) == member
        assert access_to_policy({"access": [entry]})["bindings"] == [{"role": role, "members": [member]}]
    assert entry_of("roles/bigquery.dataViewer", "allUsers") == {"role": "READER", "iamMember": "allUsers"}


COND = {"title": "until-2030", "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")'}


def test_someone_elses_conditional_dataset_entry_survives_our_grant_and_removal(
        clients: Clients, emulator: Any) -> None:
    base = f"/bigquery/v2/projects/{PROJECT}/datasets"
    theirs = {"role": "READER", "userByEmail": "temp@acme.com", "condition": COND}
    body = {"datasetReference": {"datasetId": "cond_ds"},
            "access": [{"role": "OWNER", "specialGroup": "projectOwners"}, theirs]}
    made = raw(emulator, "bigquery", "POST", base, params={"accessPolicyVersion": 3}, json=body)
    assert made.status_code == 200, made.text
    kind, c = DatasetBindings(clients), ctx("cond")
    spec = {"dataset": "cond_ds", "bindings": [
        {"role": "roles/bigquery.dataViewer", "members": ["user:Ana@Acme.com"]}]}
    last = reconcile(kind, c, spec)
    access = raw(emulator, "bigquery", "GET", base + "/cond_ds",
                 params={"accessPolicyVersion": 3}).json()["access"]
    assert theirs in access and {"role": "READER", "userByEmail": "ana@acme.com"} in access
    assert pending(kind, c, spec, last) == []        # a mixed-case member is no change
    kind.remove(kind.identify(c, fields(DatasetBindings, spec)), applied=last, force=False)
    access = raw(emulator, "bigquery", "GET", base + "/cond_ds",
                 params={"accessPolicyVersion": 3}).json()["access"]
    assert theirs in access and not [e for e in access if e.get("userByEmail") == "ana@acme.com"]


def test_dataset_bindings_may_be_conditional(clients: Clients, emulator: Any) -> None:
    clients.get(BIGQUERY).create_dataset(f"{PROJECT}.conditional", **CALL)
    kind, c = DatasetBindings(clients), ctx("timed")
    spec = {"dataset": "conditional", "bindings": [
        {"role": "roles/bigquery.dataViewer", "members": ["user:a@acme.com"], "condition": COND}]}
    last = reconcile(kind, c, spec)
    access = raw(emulator, "bigquery", "GET", f"/bigquery/v2/projects/{PROJECT}/datasets/conditional",
                 params={"accessPolicyVersion": 3}).json()["access"]
    assert {"role": "READER", "userByEmail": "a@acme.com", "condition": COND} in access
    assert pending(kind, c, spec, last) == []

"""bigquery.Dataset: spec shapes, and every operation against the emulator via the real client."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.engine import errors
from mlops_infra.engine.diff import diff
from mlops_infra.engine.kind import FieldChange
from mlops_infra.kinds.bigquery.dataset import Dataset
from mlops_infra.kinds.bigquery.table import Table
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, managed, mismatches

FULL = {
    "location": "eu", "description": "features", "friendlyName": "Features",
    "labels": {"team": "ml"}, "defaultTableExpirationMs": 86400000,
    "defaultPartitionExpirationMs": "172800000",
    "access": [{"role": "OWNER", "specialGroup": "projectOwners"},
               {"role": "roles/bigquery.dataViewer", "groupByEmail": "ds@example.com"}],
    "defaultKmsKeyName": "projects/test-project/locations/eu/keyRings/r/cryptoKeys/k",
}


@pytest.fixture
def kind(clients: Clients) -> Dataset:
    return Dataset(clients)


def build(name: str, raw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    c = ctx(name)
    kind = Dataset(None)
    f = fields(Dataset, raw)
    return kind.identify(c, f), managed(kind.desired(c, f))


# --- pure shape ---------------------------------------------------------------------------

def test_desired_shape() -> None:
    desired = Dataset(None).desired(ctx("features"), fields(Dataset, FULL))
    assert desired["datasetReference"] == {"projectId": PROJECT, "datasetId": "features"}
    assert desired["location"] == "EU"
    assert desired["defaultTableExpirationMs"] == "86400000"
    assert desired["defaultPartitionExpirationMs"] == "172800000"
    assert desired["defaultEncryptionConfiguration"] == {"kmsKeyName": FULL["defaultKmsKeyName"]}
    assert "defaultKmsKeyName" not in desired
    assert {"role": "READER", "groupByEmail": "ds@example.com"} in desired["access"]


def test_desired_holds_only_what_was_written() -> None:
    desired = Dataset(None).desired(ctx("features"), fields(Dataset, {"description": "d"}))
    assert desired == {"datasetReference": {"projectId": PROJECT, "datasetId": "features"},
                       "description": "d"}


def test_dashed_name_is_a_clear_spec_error() -> None:
    with pytest.raises(errors.SpecError, match="letters, digits and underscores"):
        Dataset(None).identify(ctx("my-features"), {})


@pytest.mark.parametrize("raw", [
    {"access": [{"role": "READER"}]},
    {"access": [{"role": "READER", "userByEmail": "a@b.c", "domain": "b.c"}]},
    {"defaultKmsKeyName": "k", "defaultEncryptionConfiguration": {"kmsKeyName": "k"}},
    {"location": "US", "unknown": True},
])
def test_invalid_specs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Dataset.model.model_validate(raw)


def test_normalisation_leaves_no_diff() -> None:
    kind = Dataset(None)
    desired = kind.desired(ctx("ds"), fields(Dataset, {
        "location": "europe-WEST1", "defaultTableExpirationMs": 3600000,
        "access": [{"role": "WRITER", "userByEmail": "b@x.io"},
                   {"role": "roles/bigquery.dataOwner", "userByEmail": "a@x.io"}]}))
    live = {"location": "europe-west1", "defaultTableExpirationMs": "3600000",
            "datasetReference": {"projectId": PROJECT, "datasetId": "ds"},
            "access": [{"role": "OWNER", "userByEmail": "a@x.io"},
                       {"role": "WRITER", "userByEmail": "b@x.io"}]}
    assert diff(desired, kind.normalize(live)) == []


def test_location_change_replaces() -> None:
    kind = Dataset(None)
    assert kind.replace_reason([FieldChange(path="location", op="change", old="US", new="EU")])
    assert kind.replace_reason([FieldChange(path="description", op="add", new="x")]) is None


def test_outputs_before_creation() -> None:
    kind = Dataset(None)
    rid = kind.identify(ctx("features"), {})
    assert kind.outputs_of(rid, None) == {"name": "features", "id": f"{PROJECT}:features",
                                          "ref": f"{PROJECT}.features"}


# --- against the emulator -------------------------------------------------------------------

def test_create_then_get_round_trips_every_written_path(kind: Dataset) -> None:
    rid, desired = build("features", FULL)
    kind.create(rid, desired)
    live = kind.get(rid)
    assert live is not None
    assert mismatches(desired, kind.normalize(live)) == []
    assert diff(desired, kind.normalize(live)) == []
    assert kind.outputs_of(rid, live)["selfLink"]


def test_server_default_access_is_not_compared_when_unwritten(kind: Dataset) -> None:
    rid, desired = build("plain", {"description": "x"})
    kind.create(rid, desired)
    live = kind.get(rid)
    assert "access" not in desired
    assert diff(desired, kind.normalize(live)) == []


def test_get_missing_is_none(kind: Dataset) -> None:
    rid, _ = build("absent", {})
    assert kind.get(rid) is None


def test_list_is_partial_and_keyed_by_identity(kind: Dataset) -> None:
    for name in ("list_a", "list_b"):
        rid, desired = build(name, {"labels": {"n": name.replace("_", "-")}})
        kind.create(rid, desired)
    listed = kind.list(f"projects/{PROJECT}")
    assert set(listed) >= {f"projects/{PROJECT}/datasets/list_a", f"projects/{PROJECT}/datasets/list_b"}
    assert kind.complete_listing is False


def test_create_existing_raises_conflict(kind: Dataset) -> None:
    rid, desired = build("twice", {})
    kind.create(rid, desired)
    with pytest.raises(errors.Conflict, match="already exists"):
        kind.create(rid, desired)


def test_update_changes_adds_and_removes_labels_and_fields(kind: Dataset) -> None:
    first = {"labels": {"team": "a", "old": "x"}, "description": "one",
             "defaultTableExpirationMs": 3600000}
    rid, before = build("upd", first)
    kind.create(rid, before)
    second = {"labels": {"team": "b", "new": "y"}, "description": "two", "friendlyName": "F"}
    _, after = build("upd", second)
    changes = diff(after, kind.normalize(kind.get(rid)), before)
    assert {c.path for c in changes} >= {"labels.team", "labels.new", "labels.old", "description",
                                         "friendlyName", "defaultTableExpirationMs"}
    assert kind.replace_reason(changes) is None
    kind.update(rid, after, changes, kind.get(rid))
    live = kind.normalize(kind.get(rid))
    assert live["labels"]["team"] == "b" and live["labels"]["new"] == "y"
    assert "old" not in live["labels"]
    assert live["description"] == "two" and live["friendlyName"] == "F"
    assert live.get("defaultTableExpirationMs") is None
    assert diff(after, live, after) == []


def test_holds_data_and_delete(kind: Dataset, clients: Clients) -> None:
    rid, desired = build("with_tables", {})
    kind.create(rid, desired)
    assert kind.holds_data(rid) is False
    tables = Table(clients)
    c = ctx("t1")
    f = fields(Table, {"dataset": "with_tables", "schema": [{"name": "a", "type": "STRING"}]})
    tables.create(tables.identify(c, f), tables.desired(c, f))
    assert kind.holds_data(rid) is True
    with pytest.raises(errors.PermanentError, match="with_tables"):
        kind.delete(rid, force=False)
    assert kind.get(rid) is not None
    kind.delete(rid, force=True)
    assert kind.get(rid) is None
    kind.delete(rid, force=False)  # already gone: not an error


def test_access_in_mixed_case_and_iam_member_form_makes_no_diff(kind: Dataset) -> None:
    raw = {"access": [
        {"role": "roles/bigquery.dataOwner", "specialGroup": "projectOwners"},
        {"role": "READER", "iamMember": "user:Ana.Smith@Example.com"},
        {"role": "WRITER", "groupByEmail": "ML-Team@Example.com"}]}
    rid, desired = build("mixed_case", raw)
    kind.create(rid, desired)
    live = kind.normalize(kind.get(rid))
    assert {"role": "READER", "userByEmail": "ana.smith@example.com"} in live["access"]
    assert diff(desired, live, desired) == []


def test_removing_the_default_table_expiration_clears_it_with_zero(kind: Dataset,
                                                                    emulator: Any) -> None:
    rid, before = build("expiring", {"defaultTableExpirationMs": 7_200_000})
    kind.create(rid, before)
    _, after = build("expiring", {})
    changes = diff(after, kind.normalize(kind.get(rid)), before)
    assert [c.path for c in changes] == ["defaultTableExpirationMs"]
    emulator.clear_journal()
    kind.update(rid, after, changes, kind.get(rid))
    assert "defaultTableExpirationMs" not in kind.get(rid)
    patch = next(e for e in emulator.journal if e.method == "PATCH")
    assert patch.status == 200

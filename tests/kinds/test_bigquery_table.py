"""bigquery.Table: spec shapes, schema evolution rules, and operations against the emulator."""

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

SCHEMA = [{"name": "id", "type": "INT64", "mode": "required"},
          {"name": "ts", "type": "timestamp"},
          {"name": "tags", "type": "STRING", "mode": "REPEATED", "description": "free tags"},
          {"name": "rec", "type": "STRUCT", "fields": [{"name": "x", "type": "FLOAT64"}]}]
FULL = {
    "dataset": "features", "schema": SCHEMA,
    "timePartitioning": {"type": "day", "field": "ts", "expirationMs": 86400000},
    "clustering": ["id"], "labels": {"team": "ml"}, "expirationTime": 4102444800000,
    "description": "events", "friendlyName": "Events",
}


@pytest.fixture
def kind(clients: Clients) -> Table:
    Dataset(clients).create(*_dataset("features"))
    return Table(clients)


def _dataset(name: str) -> tuple[Any, dict[str, Any]]:
    kind = Dataset(None)
    return kind.identify(ctx(name), {}), kind.desired(ctx(name), {})


def build(name: str, raw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    c = ctx(name)
    kind = Table(None)
    f = fields(Table, raw)
    return kind.identify(c, f), managed(kind.desired(c, f))


def change(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[FieldChange]:
    """The diff between two written schemas, as the engine computes it."""
    _, before = build("t", {"dataset": "d", "schema": old})
    _, after = build("t", {"dataset": "d", "schema": new})
    return diff(after, before)


# --- pure shape ---------------------------------------------------------------------------

def test_desired_expands_shorthands_and_canonicalises() -> None:
    desired = Table(None).desired(ctx("events"), fields(Table, FULL))
    assert desired["tableReference"] == {"projectId": PROJECT, "datasetId": "features",
                                         "tableId": "events"}
    assert "dataset" not in desired
    assert desired["schema"]["fields"][0] == {"name": "id", "type": "INTEGER", "mode": "REQUIRED"}
    assert desired["schema"]["fields"][3]["type"] == "RECORD"
    assert desired["schema"]["fields"][3]["fields"] == [{"name": "x", "type": "FLOAT",
                                                        "mode": "NULLABLE"}]
    assert desired["clustering"] == {"fields": ["id"]}
    assert desired["timePartitioning"] == {"type": "DAY", "field": "ts", "expirationMs": "86400000"}
    assert desired["expirationTime"] == "4102444800000"


def test_rest_shaped_schema_is_accepted_too() -> None:
    short = Table(None).desired(ctx("t"), fields(Table, {"dataset": "d", "schema": SCHEMA}))
    long = Table(None).desired(ctx("t"), fields(Table, {"dataset": "d",
                                                        "schema": {"fields": SCHEMA}}))
    assert short == long


def test_identity() -> None:
    rid = Table(None).identify(ctx("events"), {"dataset": "features"})
    assert rid.name == f"projects/{PROJECT}/datasets/features/tables/events"
    assert rid.scope == f"projects/{PROJECT}/datasets/features"


@pytest.mark.parametrize("raw", [
    {"schema": []},  # no dataset
    {"dataset": "d", "schema": [{"name": "a", "type": "VARCHAR"}]},
    {"dataset": "d", "schema": [{"name": "a", "type": "RECORD"}]},
    {"dataset": "d", "timePartitioning": {"type": "WEEK"}},
    {"dataset": "d", "clustering": ["a", "b", "c", "d", "e"]},
])
def test_invalid_specs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Table.model.model_validate(raw)


def test_normalisation_leaves_no_diff() -> None:
    kind = Table(None)
    desired = kind.desired(ctx("t"), fields(Table, {"dataset": "d", "schema": SCHEMA,
                                                    "expirationTime": 100}))
    live = {"tableReference": {"projectId": PROJECT, "datasetId": "d", "tableId": "t"},
            "expirationTime": "100",
            "schema": {"fields": [
                {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
                {"name": "ts", "type": "TIMESTAMP", "mode": "NULLABLE"},
                {"name": "tags", "type": "STRING", "mode": "REPEATED", "description": "free tags"},
                {"name": "rec", "type": "RECORD", "mode": "NULLABLE",
                 "fields": [{"name": "x", "type": "FLOAT", "mode": "NULLABLE"}]}]}}
    assert diff(desired, kind.normalize(live)) == []


def test_appending_a_nullable_column_is_an_update() -> None:
    changes = change(SCHEMA, SCHEMA + [{"name": "extra", "type": "STRING"}])
    assert changes and Table(None).replace_reason(changes) is None


def test_dropping_a_column_is_a_replace_that_loses_data() -> None:
    kind = Table(None)
    changes = change(SCHEMA, SCHEMA[1:])
    reason = kind.replace_reason(changes)
    assert reason and "column id dropped" in reason
    assert kind.replace_loses_data(kind.identify(ctx("t"), {"dataset": "d"}), changes) is True


def test_partitioning_is_immutable_but_its_expiration_is_not() -> None:
    kind = Table(None)
    assert kind.replace_reason([FieldChange(path="timePartitioning.field", op="change",
                                            old="ts", new="day")])
    assert kind.replace_reason([FieldChange(path="timePartitioning.type", op="add", new="DAY")])
    assert kind.replace_reason([FieldChange(path="timePartitioning.expirationMs", op="change",
                                            old="1", new="2")]) is None
    assert kind.replace_reason([FieldChange(path="clustering.fields", op="change",
                                            old=["a"], new=["b"])]) is None


# --- against the emulator -------------------------------------------------------------------

def test_create_then_get_round_trips_every_written_path(kind: Table) -> None:
    rid, desired = build("events", FULL)
    kind.create(rid, desired)
    live = kind.get(rid)
    assert live is not None
    assert mismatches(desired, kind.normalize(live)) == []
    assert diff(desired, kind.normalize(live)) == []
    outputs = kind.outputs_of(rid, live)
    assert outputs["ref"] == f"{PROJECT}.features.events" and outputs["selfLink"]


def test_get_missing_is_none(kind: Table) -> None:
    rid, _ = build("absent", {"dataset": "features"})
    assert kind.get(rid) is None


def test_list_in_dataset_and_in_a_missing_dataset(kind: Table) -> None:
    for name in ("t_a", "t_b"):
        kind.create(*build(name, {"dataset": "features"}))
    listed = kind.list(f"projects/{PROJECT}/datasets/features")
    assert set(listed) == {f"projects/{PROJECT}/datasets/features/tables/t_a",
                           f"projects/{PROJECT}/datasets/features/tables/t_b"}
    assert kind.list(f"projects/{PROJECT}/datasets/nowhere") == {}


def test_create_existing_raises_conflict(kind: Table) -> None:
    rid, desired = build("twice", {"dataset": "features"})
    kind.create(rid, desired)
    with pytest.raises(errors.Conflict, match="already exists"):
        kind.create(rid, desired)


def test_update_labels_fields_and_appended_column(kind: Table) -> None:
    first = {"dataset": "features", "schema": SCHEMA, "labels": {"team": "a", "old": "x"},
             "description": "one", "clustering": ["id"]}
    rid, before = build("upd", first)
    kind.create(rid, before)
    second = {"dataset": "features", "schema": SCHEMA + [{"name": "extra", "type": "STRING"}],
              "labels": {"team": "b", "new": "y"}, "friendlyName": "F", "clustering": ["ts"]}
    _, after = build("upd", second)
    changes = diff(after, kind.normalize(kind.get(rid)), before)
    assert kind.replace_reason(changes) is None
    kind.update(rid, after, changes, kind.get(rid))
    live = kind.normalize(kind.get(rid))
    assert live["labels"]["team"] == "b" and live["labels"]["new"] == "y"
    assert "old" not in live["labels"]
    assert live.get("description") is None and live["friendlyName"] == "F"
    assert [f["name"] for f in live["schema"]["fields"]][-1] == "extra"
    assert live["clustering"] == {"fields": ["ts"]}
    assert diff(after, live, after) == []


def test_empty_table_holds_no_data_and_deletes(kind: Table) -> None:
    rid, desired = build("gone", {"dataset": "features"})
    kind.create(rid, desired)
    assert kind.holds_data(rid) is False
    kind.delete(rid, force=False)
    assert kind.get(rid) is None
    kind.delete(rid, force=False)  # already gone: not an error


def test_relaxing_required_is_applied_in_place(kind: Table) -> None:
    rid, before = build("relax", {"dataset": "features", "schema": SCHEMA})
    kind.create(rid, before)
    relaxed = [{**SCHEMA[0], "mode": "NULLABLE"}] + SCHEMA[1:]
    _, after = build("relax", {"dataset": "features", "schema": relaxed})
    changes = diff(after, kind.normalize(kind.get(rid)))
    assert changes and kind.replace_reason(changes) is None
    kind.update(rid, after, changes, kind.get(rid))
    assert kind.normalize(kind.get(rid))["schema"]["fields"][0]["mode"] == "NULLABLE"


def test_the_api_refuses_in_place_what_we_classify_as_replace(kind: Table) -> None:
    rid, before = build("drop", {"dataset": "features", "schema": SCHEMA})
    kind.create(rid, before)
    _, after = build("drop", {"dataset": "features", "schema": SCHEMA[1:]})
    changes = diff(after, kind.normalize(kind.get(rid)))
    assert kind.replace_reason(changes)
    with pytest.raises(errors.PermanentError, match="400"):
        kind.update(rid, after, changes, kind.get(rid))
    kind.delete(rid, force=True)  # the engine's replace: delete, then create
    kind.create(rid, after)
    assert diff(after, kind.normalize(kind.get(rid))) == []

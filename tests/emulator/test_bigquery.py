"""BigQuery datasets and tables through the real google-cloud-bigquery client."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from mlops_infra.emulator import Emulator
from tests.emulator.support import PROJECT, bq, raw

KMS = "projects/p/locations/us/keyRings/r/cryptoKeys/k"
F = bigquery.SchemaField


def _dataset(client: bigquery.Client, name: str, **props: object) -> bigquery.Dataset:
    dataset = bigquery.Dataset(f"{PROJECT}.{name}")
    for key, value in props.items():
        setattr(dataset, key, value)
    return client.create_dataset(dataset, retry=None)


def _table(client: bigquery.Client, name: str, fields: list[F], **props: object
           ) -> bigquery.Table:
    table = bigquery.Table(f"{PROJECT}.ds.{name}", schema=fields)
    for key, value in props.items():
        setattr(table, key, value)
    return client.create_table(table, retry=None)


def test_dataset_round_trip_and_defaults(emulator: Emulator) -> None:
    client = bq(emulator)
    access = [bigquery.AccessEntry("OWNER", "userByEmail", "me@example.com")]
    _dataset(client, "full", description="d", friendly_name="Full", labels={"env": "dev"},
             default_table_expiration_ms=3_600_000, default_partition_expiration_ms=86_400_000,
             location="EU", access_entries=access,
             default_encryption_configuration=bigquery.EncryptionConfiguration(KMS))
    got = client.get_dataset(f"{PROJECT}.full", retry=None)._properties
    assert (got["description"], got["friendlyName"], got["labels"]) == ("d", "Full", {"env": "dev"})
    assert got["defaultTableExpirationMs"] == "3600000"
    assert got["defaultPartitionExpirationMs"] == "86400000"
    assert got["location"] == "EU"
    assert got["access"] == [{"role": "OWNER", "userByEmail": "me@example.com"}]
    assert got["defaultEncryptionConfiguration"] == {"kmsKeyName": KMS}
    assert got["id"] == f"{PROJECT}:full" and got["kind"] == "bigquery#dataset"
    plain = _dataset(client, "plain")._properties
    assert plain["location"] == "US" and plain["type"] == "DEFAULT"
    assert {"role": "OWNER", "specialGroup": "projectOwners"} in plain["access"]
    assert "labels" not in plain
    assert int(plain["lastModifiedTime"]) >= int(plain["creationTime"]) > 0


def test_dataset_patch_merges_labels_and_changes_etag(emulator: Emulator) -> None:
    client = bq(emulator)
    dataset = _dataset(client, "patched", labels={"a": "1", "b": "2"}, description="x")
    before = dataset.etag
    dataset.labels = {"a": None, "c": "3"}
    dataset = client.update_dataset(dataset, ["labels"], retry=None)
    assert dataset.labels == {"b": "2", "c": "3"}
    assert dataset.description == "x" and dataset.etag != before


def test_dataset_if_match_etag(emulator: Emulator) -> None:
    client = bq(emulator)
    dataset = _dataset(client, "guarded")
    stale = client.get_dataset(f"{PROJECT}.guarded", retry=None)
    dataset.description = "first"
    client.update_dataset(dataset, ["description"], retry=None)
    stale.description = "second"
    with pytest.raises(gexc.PreconditionFailed):
        client.update_dataset(stale, ["description"], retry=None)


def test_dataset_conflicts_and_missing(emulator: Emulator) -> None:
    client = bq(emulator)
    _dataset(client, "once")
    with pytest.raises(gexc.Conflict):
        _dataset(client, "once")
    with pytest.raises(gexc.NotFound):
        client.get_dataset(f"{PROJECT}.never", retry=None)
    with pytest.raises(gexc.BadRequest):
        _dataset(client, "bad-name")


def test_dataset_delete_needs_delete_contents(emulator: Emulator) -> None:
    client = bq(emulator)
    _dataset(client, "ds")
    _table(client, "t", [F("x", "STRING")])
    with pytest.raises(gexc.BadRequest) as caught:
        client.delete_dataset(f"{PROJECT}.ds", retry=None)
    assert caught.value.errors[0]["reason"] == "resourceInUse"
    client.delete_dataset(f"{PROJECT}.ds", delete_contents=True, retry=None)
    with pytest.raises(gexc.NotFound):
        client.get_table(f"{PROJECT}.ds.t", retry=None)


def test_dataset_list_items_paging_filter_and_hidden(emulator: Emulator) -> None:
    client = bq(emulator)
    for i in range(5):
        _dataset(client, f"d{i}", labels={"tier": "gold" if i % 2 else "silver"})
    _dataset(client, "_hidden")
    listed = list(client.list_datasets(page_size=2, retry=None))
    assert [d.dataset_id for d in listed] == [f"d{i}" for i in range(5)]
    assert set(listed[0]._properties) <= {"kind", "id", "datasetReference", "labels",
                                          "friendlyName", "location", "type"}
    assert "_hidden" in [d.dataset_id for d in client.list_datasets(include_all=True)]
    gold = client.list_datasets(filter="labels.tier:gold", retry=None)
    assert [d.dataset_id for d in gold] == ["d1", "d3"]


def test_table_round_trip_and_server_fields(emulator: Emulator) -> None:
    client = bq(emulator)
    _dataset(client, "ds", location="EU")
    fields = [F("ts", "TIMESTAMP", mode="REQUIRED", description="when"),
              F("user", "STRUCT", fields=[F("id", "INT64"), F("tags", "STRING", mode="REPEATED")]),
              F("amount", "FLOAT64")]
    _table(client, "events", fields, labels={"k": "v"}, description="desc",
           friendly_name="Events", expires=None,
           time_partitioning=bigquery.TimePartitioning(field="ts", expiration_ms=1000),
           clustering_fields=["amount"])
    got = client.get_table(f"{PROJECT}.ds.events", retry=None)._properties
    assert got["schema"]["fields"] == [
        {"name": "ts", "type": "TIMESTAMP", "mode": "REQUIRED", "description": "when"},
        {"name": "user", "type": "RECORD", "mode": "NULLABLE", "fields": [
            {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"}]},
        {"name": "amount", "type": "FLOAT", "mode": "NULLABLE"}]
    assert got["timePartitioning"] == {"type": "DAY", "field": "ts", "expirationMs": "1000"}
    assert got["clustering"] == {"fields": ["amount"]}
    assert (got["labels"], got["description"], got["friendlyName"]) == ({"k": "v"}, "desc", "Events")
    assert got["id"] == f"{PROJECT}:ds.events" and got["type"] == "TABLE"
    assert (got["numRows"], got["numBytes"], got["location"]) == ("0", "0", "EU")


def test_table_inherits_dataset_expirations(emulator: Emulator) -> None:
    client = bq(emulator)
    _dataset(client, "ds", default_table_expiration_ms=3_600_000,
             default_partition_expiration_ms=5_000)
    table = _table(client, "t", [F("d", "DATE")],
                   time_partitioning=bigquery.TimePartitioning(field="d"))
    props = table._properties
    assert int(props["expirationTime"]) - int(props["creationTime"]) in range(3_599_000, 3_601_000)
    assert props["timePartitioning"]["expirationMs"] == "5000"


@pytest.mark.parametrize("change, allowed", [
    (lambda s: s + [F("new", "STRING")], True),
    (lambda s: s + [F("many", "STRING", mode="REPEATED")], True),
    (lambda s: [F("id", "INTEGER", mode="NULLABLE")] + s[1:], True),       # relax REQUIRED
    (lambda s: s + [F("must", "STRING", mode="REQUIRED")], False),
    (lambda s: s[:1], False),                                             # drop a column
    (lambda s: [F("id", "STRING", mode="REQUIRED")] + s[1:], False),      # change a type
    (lambda s: s[:1] + [F("name", "STRING", mode="REQUIRED")], False),    # tighten a mode
])
def test_schema_change_rules(emulator: Emulator, change, allowed: bool) -> None:  # type: ignore[no-untyped-def]
    client = bq(emulator)
    _dataset(client, "ds")
    table = _table(client, "t", [F("id", "INTEGER", mode="REQUIRED"), F("name", "STRING")])
    table.schema = change(list(table.schema))
    if allowed:
        assert client.update_table(table, ["schema"], retry=None).schema == table.schema
    else:
        with pytest.raises(gexc.BadRequest):
            client.update_table(table, ["schema"], retry=None)


def test_table_patch_keeps_other_fields_and_checks_etag(emulator: Emulator) -> None:
    client = bq(emulator)
    _dataset(client, "ds")
    table = _table(client, "t", [F("x", "STRING")], labels={"a": "1"}, description="keep")
    stale = client.get_table(f"{PROJECT}.ds.t", retry=None)
    table.labels = {"a": None, "b": "2"}
    table = client.update_table(table, ["labels"], retry=None)
    assert table.labels == {"b": "2"} and table.description == "keep"
    stale.description = "lost update"
    with pytest.raises(gexc.PreconditionFailed):
        client.update_table(stale, ["description"], retry=None)


def test_tables_need_a_dataset_and_unique_names(emulator: Emulator) -> None:
    client = bq(emulator)
    with pytest.raises(gexc.NotFound):
        _table(client, "t", [F("x", "STRING")])
    _dataset(client, "ds")
    _table(client, "t", [F("x", "STRING")])
    with pytest.raises(gexc.Conflict):
        _table(client, "t", [F("x", "STRING")])
    client.delete_table(f"{PROJECT}.ds.t", retry=None)
    with pytest.raises(gexc.NotFound):
        client.delete_table(f"{PROJECT}.ds.t", retry=None)


def test_partitioning_spec_is_fixed(emulator: Emulator) -> None:
    client = bq(emulator)
    _dataset(client, "ds")
    _table(client, "t", [F("d", "DATE"), F("e", "DATE")],
           time_partitioning=bigquery.TimePartitioning(field="d"))
    path = f"/bigquery/v2/projects/{PROJECT}/datasets/ds/tables/t"
    moved = raw(emulator, "bigquery", "PATCH", path, json={"timePartitioning": {"field": "e"}})
    assert moved.status_code == 400
    longer = raw(emulator, "bigquery", "PATCH", path,
                 json={"timePartitioning": {"expirationMs": "99"}})
    assert longer.json()["timePartitioning"] == {"type": "DAY", "field": "d", "expirationMs": "99"}


def test_table_list_partial_items_and_paging(emulator: Emulator) -> None:
    client = bq(emulator)
    _dataset(client, "ds")
    for i in range(3):
        _table(client, f"t{i}", [F("x", "STRING")], labels={"i": str(i)})
    listed = list(client.list_tables(f"{PROJECT}.ds", page_size=2, retry=None))
    assert [t.table_id for t in listed] == ["t0", "t1", "t2"]
    assert "schema" not in listed[0]._properties
    assert listed[2].labels == {"i": "2"} and listed[0].table_type == "TABLE"
    body = raw(emulator, "bigquery", "GET", f"/bigquery/v2/projects/{PROJECT}/datasets/ds/tables",
               params={"maxResults": 2}).json()
    assert body["totalItems"] == 3 and len(body["tables"]) == 2 and body["nextPageToken"]

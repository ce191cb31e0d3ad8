"""Table resources: validation, server-set defaults (some inherited from the dataset),
merge-patch with the schema-change rules, list items."""

from __future__ import annotations

import copy
import re
from typing import Any

from mlops_infra.emulator.bigquery import schema
from mlops_infra.emulator.bigquery.common import string_ms
from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.util import merge_patch, now_ms

WRITABLE = frozenset({
    "biglakeConfiguration", "clustering", "defaultCollation", "defaultRoundingMode",
    "description", "encryptionConfiguration", "expirationTime", "externalDataConfiguration",
    "friendlyName", "labels", "materializedView", "maxStaleness", "rangePartitioning",
    "requirePartitionFilter", "resourceTags", "schema", "tableConstraints", "timePartitioning",
    "view",
})
_ID = re.compile(r"^[\w\-$ ]{1,1024}$")
_PARTITION_COLUMN_TYPES = frozenset({"DATE", "TIMESTAMP", "DATETIME"})
_LIST_ITEM_KEYS = ("kind", "id", "tableReference", "type", "labels", "friendlyName",
                   "timePartitioning", "rangePartitioning", "clustering", "creationTime",
                   "expirationTime", "requirePartitionFilter")


def validate_reference(body: dict[str, Any], *, project: str, dataset_id: str) -> str:
    reference = body.get("tableReference") or {}
    table_id = reference.get("tableId")
    if not table_id:
        raise HttpError(400, "Required parameter is missing: tableReference.tableId",
                        reason="required")
    if not _ID.match(table_id):
        raise HttpError(400, f"Invalid table ID \"{table_id}\".", reason="invalid")
    if (reference.get("projectId", project), reference.get("datasetId", dataset_id)) != (
            project, dataset_id):
        raise HttpError(400, "The tableReference does not match the URL", reason="invalid")
    return table_id


def new_table(body: dict[str, Any], *, dataset: dict[str, Any], table_id: str,
              base_url: str) -> dict[str, Any]:
    reference = dict(dataset["datasetReference"], tableId=table_id)
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    table = _normalise(user)
    _inherit_dataset_defaults(table, dataset)
    table.update({
        "kind": "bigquery#table",
        "id": f"{reference['projectId']}:{reference['datasetId']}.{table_id}",
        "tableReference": reference,
        "selfLink": f"https://bigquery.googleapis.com/bigquery/v2/projects/{reference['projectId']}/datasets/"
                    f"{reference['datasetId']}/tables/{table_id}",
        "numBytes": "0", "numLongTermBytes": "0", "numRows": "0",
        "type": _table_type(table), "location": dataset["location"],
    })
    return table


def patch_table(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    patch = {k: v for k, v in body.items() if k in WRITABLE}
    return _replace_user_part(current, merge_patch(_user_part(current), patch))


def update_table(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    return _replace_user_part(current, user)


def list_item(table: dict[str, Any]) -> dict[str, Any]:
    """The partial representation ``tables.list`` returns."""
    return {k: copy.deepcopy(table[k]) for k in _LIST_ITEM_KEYS if k in table}


def _user_part(table: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in table.items() if k in WRITABLE}


def _replace_user_part(current: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    table = _normalise(user)
    old_fields = (current.get("schema") or {}).get("fields", [])
    new_fields = (table.get("schema") or {}).get("fields", [])
    if current["type"] == "TABLE":
        schema.check_compatible(old_fields, new_fields, table_id=current["id"])
        _check_partitioning_kept(current, table)
    server = {k: v for k, v in current.items() if k not in WRITABLE}
    table.update(server)
    return table


def _normalise(user: dict[str, Any]) -> dict[str, Any]:
    table = dict(user)
    if "schema" in table:
        table["schema"] = {"fields": schema.normalise_fields(
            (table["schema"] or {}).get("fields", []))}
    if "expirationTime" in table:
        table["expirationTime"] = string_ms(table["expirationTime"], field="expirationTime")
    fields = (table.get("schema") or {}).get("fields", [])
    if "timePartitioning" in table:
        table["timePartitioning"] = _time_partitioning(table["timePartitioning"], fields)
    if "clustering" in table:
        _check_clustering(table["clustering"], fields)
    for key in ("labels", "clustering"):
        if not table.get(key):
            table.pop(key, None)
    return table


def _time_partitioning(value: Any, fields: list[dict[str, Any]]) -> dict[str, Any]:
    partitioning = dict(value or {})
    partitioning["type"] = str(partitioning.get("type") or "DAY").upper()
    if partitioning["type"] not in ("HOUR", "DAY", "MONTH", "YEAR"):
        raise HttpError(400, f"Invalid timePartitioning.type: {partitioning['type']}",
                        reason="invalid")
    if "expirationMs" in partitioning:
        partitioning["expirationMs"] = string_ms(partitioning["expirationMs"],
                                                 field="timePartitioning.expirationMs")
    column = partitioning.get("field")
    if column and schema.column_type(fields, column) not in _PARTITION_COLUMN_TYPES:
        raise HttpError(400, f"The field specified for time partitioning can only be of type "
                             f"TIMESTAMP, DATE or DATETIME. The type found is: "
                             f"{schema.column_type(fields, column)} (field {column}).",
                        reason="invalid")
    return partitioning


def _check_clustering(value: Any, fields: list[dict[str, Any]]) -> None:
    columns = (value or {}).get("fields") or []
    if len(columns) > 4:
        raise HttpError(400, "Too many clustering fields: at most 4 are allowed", reason="invalid")
    for column in columns:
        if schema.column_type(fields, column) is None:
            raise HttpError(400, f"The field specified for clustering cannot be found in the "
                                 f"schema. Invalid field: {column}.", reason="invalid")


def _check_partitioning_kept(current: dict[str, Any], table: dict[str, Any]) -> None:
    """Partitioning type and column are fixed at creation; expiration may change."""
    def spec(t: dict[str, Any]) -> tuple[Any, Any] | None:
        p = t.get("timePartitioning")
        return (p.get("type"), (p.get("field") or "").lower()) if p else None

    if spec(current) != spec(table):
        raise HttpError(400, "Cannot change partitioning/clustering spec for a partitioned "
                             f"table {current['id']}: the time partitioning type and field "
                             "cannot be changed.", reason="invalid")


def _inherit_dataset_defaults(table: dict[str, Any], dataset: dict[str, Any]) -> None:
    """The real API copies the dataset's default expirations into new tables."""
    if "defaultTableExpirationMs" in dataset and "expirationTime" not in table:
        table["expirationTime"] = str(now_ms() + int(dataset["defaultTableExpirationMs"]))
    partitioning = table.get("timePartitioning")
    if partitioning is not None and "defaultPartitionExpirationMs" in dataset:
        partitioning.setdefault("expirationMs", dataset["defaultPartitionExpirationMs"])


def _table_type(table: dict[str, Any]) -> str:
    if "view" in table:
        return "VIEW"
    if "materializedView" in table:
        return "MATERIALIZED_VIEW"
    return "EXTERNAL" if "externalDataConfiguration" in table else "TABLE"

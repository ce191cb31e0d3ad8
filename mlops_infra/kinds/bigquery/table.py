"""The ``bigquery.Table`` kind.

Fields a spec may write (REST names of the BigQuery v2 ``Table`` resource):

| path                               | notes                                                    |
|------------------------------------|----------------------------------------------------------|
| ``dataset``                        | required: the dataset id, often ``${features.name}`` (identity, not sent) |
| ``name`` (the resource name)       | the table id: Unicode letters, marks, numbers, ``_``, dashes and spaces, at most 1024 UTF-8 bytes |
| ``schema.fields[]``                | ``{name, type, mode, description, fields, maxLength, precision, scale, defaultValueExpression}``; shorthand ``schema: [ ... ]``; type aliases (``INT64``, ``STRUCT`` ...) and default mode ``NULLABLE`` are normalised |
| ``timePartitioning.type``          | ``DAY``/``HOUR``/``MONTH``/``YEAR``; immutable            |
| ``timePartitioning.field``         | immutable                                                |
| ``timePartitioning.expirationMs``  | milliseconds; updated in place                           |
| ``clustering.fields``              | shorthand ``clustering: [a, b]``; updated in place        |
| ``requirePartitionFilter``         |                                                          |
| ``labels``                         | map; ``managed-by``/stack labels are added                |
| ``expirationTime``                 | milliseconds since the epoch                             |
| ``description``, ``friendlyName``  |                                                          |

Schema changes that only append ``NULLABLE``/``REPEATED`` columns (also nested) or relax
``REQUIRED`` to ``NULLABLE`` are in-place updates; dropping, renaming or retyping a column,
or tightening a mode, replaces the table (and so loses its rows).
Outputs: ``name`` (table id), ``id`` (``project:dataset.table``), ``ref``
(``project.dataset.table``), ``selfLink``. Identity ``projects/P/datasets/D/tables/T``,
listed per ``projects/P/datasets/D`` (partial items: the engine reads the ones it needs).

Moving in: ``google_bigquery_table`` (its ``schema`` is a JSON string) and live tables map to
these fields, columns keeping only the attributes above (``NULLABLE`` left out); views,
materialized views and external tables are not this kind and are not imported. An
``expiration_time`` is not carried over (BigQuery often computes it from the dataset's
default: the table keeps it live, unmanaged).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import (
    FieldChange,
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import (
    CALL,
    FieldChanges,
    SpecModel,
    check_labels,
    int64_at,
    patch_body,
    translate_errors,
    with_defaults,
)
from mlops_infra.kinds._clients import BIGQUERY
from mlops_infra.kinds._imports import (
    block,
    embedded_json,
    leftovers,
    put,
    terraform_labels,
    user_labels,
)
from mlops_infra.kinds._names import UPPER, DatasetId, table_id_problem
from mlops_infra.kinds.bigquery import schema as bq_schema
from mlops_infra.spec.jsoncopy import copy_json

_INT64_PATHS = ("expirationTime", "timePartitioning.expirationMs")
_LIVE_DEFAULTS = {"requirePartitionFilter": False}
_PARTITION_IDENTITY = ("timePartitioning.type", "timePartitioning.field", "rangePartitioning")


# --- spec model -----------------------------------------------------------------------

def _canonical_type(value: Any) -> Any:
    return bq_schema.canonical_type(value) if isinstance(value, str) else value


# Column types and modes: https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema
# (STRING, BYTES, INTEGER or INT64, FLOAT or FLOAT64, BOOLEAN or BOOL, TIMESTAMP, DATE, TIME,
# DATETIME, GEOGRAPHY, NUMERIC, BIGNUMERIC, JSON, RECORD or STRUCT, RANGE; INTERVAL and the
# BIGDECIMAL alias as the client library knows them), in any case; an alias is written as the
# type it stands for (INT64 -> INTEGER), which is how the API reports it.
CanonicalType = Literal["STRING", "BYTES", "INTEGER", "FLOAT", "NUMERIC", "BIGNUMERIC", "BOOLEAN",
                        "TIMESTAMP", "DATE", "TIME", "DATETIME", "GEOGRAPHY", "RECORD", "JSON",
                        "INTERVAL", "RANGE"]
# The JSON Schema lists the aliases too, so editors accept what the loader accepts.
ColumnType = Annotated[CanonicalType, BeforeValidator(_canonical_type),
                       WithJsonSchema({"type": "string", "enum": [*get_args(CanonicalType),
                                                                  *bq_schema.TYPE_ALIASES]})]
ColumnMode = Annotated[Literal["NULLABLE", "REQUIRED", "REPEATED"], UPPER]
# Partitioning: https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TimePartitioning
PartitionType = Annotated[Literal["DAY", "HOUR", "MONTH", "YEAR"], UPPER]


# BigQuery quotas and limits, table limits: a column description of at most 1,024 characters,
# a table description of at most 16,384
_COLUMN_DESCRIPTION_MAX, _TABLE_DESCRIPTION_MAX = 1024, 16384


class SchemaField(SpecModel):
    name: str = Field(min_length=1, max_length=300)
    type: ColumnType
    mode: ColumnMode | None = None
    description: str | None = Field(default=None, max_length=_COLUMN_DESCRIPTION_MAX)
    fields: list[SchemaField] | None = None
    maxLength: int | None = Field(default=None, ge=0)
    precision: int | None = Field(default=None, ge=0)
    scale: int | None = Field(default=None, ge=0)
    defaultValueExpression: str | None = None

    @model_validator(mode="after")
    def _record_has_fields(self) -> SchemaField:
        is_record = bq_schema.canonical_type(self.type) == "RECORD"
        if is_record != bool(self.fields):
            raise ValueError(f"column {self.name}: 'fields' is required for RECORD/STRUCT "
                             "columns and allowed only for them")
        return self


class TableSchema(SpecModel):
    fields: list[SchemaField]


class TimePartitioning(SpecModel):
    type: PartitionType
    field: str | None = None
    expirationMs: int | None = Field(default=None, ge=0)


ClusteringFields = Annotated[list[str], Field(min_length=1, max_length=4)]


class Clustering(SpecModel):
    fields: ClusteringFields


class TableSpec(SpecModel):
    """A BigQuery table (REST field names, plus ``schema``/``clustering`` list shorthands)."""

    dataset: DatasetId
    schema_: list[SchemaField] | TableSchema | None = Field(default=None, alias="schema")
    timePartitioning: TimePartitioning | None = None
    clustering: ClusteringFields | Clustering | None = None
    requirePartitionFilter: bool | None = None
    labels: dict[str, str] | None = None
    expirationTime: int | None = Field(default=None, ge=0)
    description: str | None = Field(default=None, max_length=_TABLE_DESCRIPTION_MAX)
    friendlyName: str | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)


# --- canonical form (applied to desired and live alike) ----------------------------------

def canonical(body: dict[str, Any]) -> dict[str, Any]:
    out = copy_json(body)
    if "schema" in out and out["schema"] is not None:
        out["schema"] = {"fields": bq_schema.canonical_fields(
            bq_schema.schema_fields(out["schema"]))}
    if isinstance(out.get("clustering"), list):
        out["clustering"] = {"fields": out["clustering"]}
    kind = paths.get(out, "timePartitioning.type", None)
    if isinstance(kind, str):
        out["timePartitioning"]["type"] = kind.upper()
    int64_at(out, _INT64_PATHS)
    return out


def _parts(rid: ResourceId) -> tuple[str, str, str]:
    # ``parts`` keys follow ``Kind.id_from_name``: collection -> value.
    return rid.parts["projects"], rid.parts["datasets"], rid.parts["tables"]


def _ref(project: str, dataset: str, table: str) -> Any:
    from google.cloud.bigquery import DatasetReference

    return DatasetReference(project, dataset).table(table)


def _partitioning_problem(change: FieldChange) -> str | None:
    if change.path == "timePartitioning":
        strip = [{k: v for k, v in (x or {}).items() if k != "expirationMs"}
                 for x in (change.old, change.new)]
        return None if strip[0] == strip[1] else "partitioning changed"
    if any(change.path == p or change.path.startswith(p + ".") for p in _PARTITION_IDENTITY):
        return f"partitioning changed ({change.path})"
    return None


def _schema_problem(change: FieldChange) -> str | None:
    if not (change.path == "schema" or change.path.startswith("schema.")):
        return None
    old, new = bq_schema.schema_fields(change.old), bq_schema.schema_fields(change.new)
    if old is None or new is None:  # adding a schema is in place; a removed one is not sent
        return None
    problem = bq_schema.incompatibility(old, new)
    return f"schema: {problem}" if problem else None


def _sendable(changes: list[FieldChange]) -> list[FieldChange]:
    """A table's schema cannot be removed: a ``schema`` dropped from the spec is left alone."""
    return [c for c in changes
            if not (c.op == "remove" and (c.path == "schema" or c.path.startswith("schema.")))]


# --- moving in -----------------------------------------------------------------------------

_TF_KNOWN = ("table_id", "dataset_id", "schema", "time_partitioning", "clustering",
             "require_partition_filter", "labels", "description", "friendly_name",
             "expiration_time", "max_staleness", "type", "num_bytes", "num_rows",
             "num_long_term_bytes", "generated_schema_columns", "ignore_auto_generated_schema",
             "ignore_schema_changes")
_NOT_TABLES = ("view", "materialized_view", "external_data_configuration")


def _columns(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns with only what a spec can write, ``NULLABLE`` left out."""
    out = []
    for column in fields:
        kept = {k: column[k] for k in bq_schema.KEPT_KEYS if column.get(k) not in (None, "", [])}
        if str(kept.get("mode", "")).upper() == "NULLABLE":
            del kept["mode"]
        if "fields" in kept:
            kept["fields"] = _columns(kept["fields"])
        out.append(kept)
    return out


def _partitioning(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    if not raw or not raw.get("type"):
        return None
    out: dict[str, Any] = {"type": raw["type"]}
    put(out, "field", raw.get("field"))
    expiration = raw.get("expiration_ms", raw.get("expirationMs"))
    put(out, "expirationMs", int(expiration) if expiration not in (None, "", 0, "0") else None)
    return out


def _tf_fields(a: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"dataset": str(a["dataset_id"])}
    schema = embedded_json(a.get("schema"), ("schema",))
    put(fields, "schema", _columns(schema) if schema else None)
    put(fields, "timePartitioning", _partitioning(block(a, "time_partitioning")))
    put(fields, "clustering", list(a.get("clustering") or []))
    if a.get("require_partition_filter") or block(a, "time_partitioning").get(
            "require_partition_filter"):
        fields["requirePartitionFilter"] = True
    put(fields, "labels", terraform_labels(a))
    put(fields, "description", a.get("description"))
    put(fields, "friendlyName", a.get("friendly_name"))
    return fields


def _tf_notes(a: Mapping[str, Any]) -> tuple[str, ...]:
    notes = leftovers(a, _TF_KNOWN)
    if a.get("expiration_time"):
        notes += ("its expiration time is not carried over (left as it is live)",)
    return notes


def _live_fields(live: dict[str, Any]) -> dict[str, Any]:
    ref = live.get("tableReference") or {}
    fields: dict[str, Any] = {"dataset": str(ref.get("datasetId"))}
    put(fields, "schema", _columns((live.get("schema") or {}).get("fields") or []))
    put(fields, "timePartitioning", _partitioning(live.get("timePartitioning") or {}))
    put(fields, "clustering", list((live.get("clustering") or {}).get("fields") or []))
    if live.get("requirePartitionFilter"):
        fields["requirePartitionFilter"] = True
    put(fields, "labels", user_labels(live.get("labels")))
    for key in ("description", "friendlyName"):
        put(fields, key, live.get(key))
    return fields


# --- the kind -----------------------------------------------------------------------------

@register
class Table(Kind):
    """A BigQuery table."""

    name = "bigquery.Table"
    name_pattern = "projects/*/datasets/*/tables/*"
    layer = "Data"
    model = TableSpec
    outputs = frozenset({"name", "id", "ref", "selfLink"})
    immutable = frozenset(_PARTITION_IDENTITY)
    data_bearing = True
    loss = "it holds rows"
    complete_listing = False
    api = "bigquery.googleapis.com"
    uses = (BIGQUERY,)
    list_keys = {"schema.fields": "name", "schema.fields[].fields": "name"}
    terraform_types = ("google_bigquery_table",)
    terraform_refs = {"dataset": "name"}

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return table_id_problem(ctx.name)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        dataset = fields["dataset"]
        return ResourceId(kind=self.name,
                          name=f"projects/{ctx.project}/datasets/{dataset}/tables/{ctx.name}",
                          scope=f"projects/{ctx.project}/datasets/{dataset}",
                          parts={"projects": ctx.project, "datasets": dataset,
                                 "tables": ctx.name})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        ref = {"projectId": ctx.project, "datasetId": fields["dataset"], "tableId": ctx.name}
        body = {k: copy_json(v) for k, v in fields.items() if k != "dataset"}
        return canonical({"tableReference": ref, **body})

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return canonical(with_defaults(live, _LIVE_DEFAULTS))

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        project, dataset, table = _parts(rid)
        out: dict[str, Any] = {"name": table, "id": f"{project}:{dataset}.{table}",
                               "ref": f"{project}.{dataset}.{table}"}
        if live and live.get("selfLink"):
            out["selfLink"] = live["selfLink"]
        return out

    def replace_reason(self, changes: FieldChanges) -> str | None:
        reasons = [r for c in changes for r in (_partitioning_problem(c), _schema_problem(c)) if r]
        return "; ".join(reasons) or None

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        kinds = [k for k in _NOT_TABLES if block(attributes, k)]
        if kinds:
            raise NotImportable(f"a {kinds[0].replace('_', ' ')} table is not a kind here yet")
        return [Imported(name=str(attributes["table_id"]), project=attributes.get("project"),
                         fields=_tf_fields(attributes), notes=_tf_notes(attributes))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        if live.get("type", "TABLE") != "TABLE":
            raise NotImportable(f"a {str(live['type']).lower()} is not a kind here yet")
        ref = live.get("tableReference") or {}
        return [Imported(name=str(ref.get("tableId")), project=ref.get("projectId"),
                         fields=_live_fields(live))]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        with translate_errors(f"datasets in projects/{project}"):
            datasets = [d.dataset_id for d in self.clients.get(BIGQUERY, project).list_datasets(
                project=project, **CALL)]
        found: dict[str, dict[str, Any]] = {}
        for dataset in datasets:
            for name in self.list(f"projects/{project}/datasets/{dataset}"):
                live = self.get(self.id_from_name(name))
                if live is not None:
                    found[name] = live
        return found

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        _, project, _, dataset = scope.split("/")
        from google.api_core.exceptions import NotFound
        from google.cloud.bigquery import DatasetReference

        with translate_errors(f"tables in {scope}"):
            client = self.clients.get(BIGQUERY, project)
            try:
                items = list(client.list_tables(DatasetReference(project, dataset), **CALL))
            except NotFound:  # no dataset yet: no tables
                return {}
            return {f"{scope}/tables/{t.table_id}": dict(t._properties) for t in items}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        project, dataset, table = _parts(rid)
        from google.api_core.exceptions import NotFound

        with translate_errors(f"table {project}:{dataset}.{table}"):
            try:
                return self.clients.get(BIGQUERY, project).get_table(
                    _ref(project, dataset, table), **CALL).to_api_repr()
            except NotFound:
                return None

    def holds_data(self, rid: ResourceId) -> bool:
        live = self.get(rid)
        if not live:
            return False
        rows = int(live.get("numRows") or 0) + int(live.get("numBytes") or 0)
        return rows > 0 or bool(live.get("streamingBuffer"))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        project, dataset, table = _parts(rid)
        from google.api_core.exceptions import Conflict
        from google.cloud.bigquery import Table as BqTable

        with translate_errors(f"table {project}:{dataset}.{table}"):
            try:
                return self.clients.get(BIGQUERY, project).create_table(
                    BqTable.from_api_repr(copy_json(desired)), **CALL).to_api_repr()
            except Conflict as exc:
                raise errors.Conflict(f"409 Conflict: table {project}:{dataset}.{table} "
                                      "already exists", status=409) from exc

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        project, dataset, table = _parts(rid)
        from google.cloud.bigquery import Table as BqTable

        body = canonical(patch_body(desired, _sendable(changes)))
        with translate_errors(f"table {project}:{dataset}.{table}"):
            client = self.clients.get(BIGQUERY, project)
            if not body:
                return client.get_table(_ref(project, dataset, table), **CALL).to_api_repr()
            # A fresh object: no etag, so a retried patch after a lost response cannot 412.
            bq_table = BqTable(_ref(project, dataset, table))
            bq_table._properties.update(body)
            return client.update_table(bq_table, list(body), **CALL).to_api_repr()

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        project, dataset, table = _parts(rid)
        if not force and self.holds_data(rid):
            raise errors.PermanentError(f"table {project}:{dataset}.{table} holds rows: "
                                        "deleting it needs allowDataLoss")
        with translate_errors(f"table {project}:{dataset}.{table}"):
            self.clients.get(BIGQUERY, project).delete_table(
                _ref(project, dataset, table), not_found_ok=True, **CALL)

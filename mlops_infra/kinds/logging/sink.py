"""``logging.Sink``: route log entries (audit, application, system) to a destination.

Fields a spec may write (REST names of ``LogSink``):

| field | notes |
|---|---|
| ``destination`` | ``bigquery.googleapis.com/projects/P/datasets/D``, ``storage.googleapis.com/BUCKET``, ``pubsub.googleapis.com/projects/P/topics/T`` or ``logging.googleapis.com/projects/P/locations/L/buckets/B``; or one shorthand: |
| ``bigqueryDataset`` | a dataset id of the sink's project (``${audit.name}``) or ``projects/P/datasets/D`` |
| ``storageBucket`` | a bucket name (``${archive.name}``) |
| ``pubsubTopic`` | ``projects/P/topics/T`` |
| ``logBucket`` | a log bucket's name (``${app-logs.id}``: ``projects/P/locations/L/buckets/B``) |
| ``filter`` | the Logging query of the entries to export (empty: all) |
| ``description``, ``disabled`` | |
| ``exclusions[]`` | ``{name, filter, description, disabled}``: entries the sink skips |
| ``bigqueryOptions.usePartitionedTables`` | shorthand ``usePartitionedTables: true`` |

The sink is created with a **unique writer identity** (``uniqueWriterIdentity``), output
``writerIdentity`` (``serviceAccount:...``), known once the sink exists. That identity must be
allowed to write to the destination (logging_config.proto ``writer_identity``: "Until you
grant this identity write-access to the destination, log entry exports from this sink will
fail"), so the plan also **grants** it, ordered after the sink, as CMEK grants are implied:
``roles/bigquery.dataEditor`` on a BigQuery dataset (a ``bigquery.DatasetBindings``),
``roles/storage.objectCreator`` on a bucket (a ``storage.BucketBindings``) - the roles
https://cloud.google.com/logging/docs/export/configure_export_v2#dest-auth names. A log
bucket of the sink's own project needs no grant (the sink has no writer identity then). A
Pub/Sub topic needs ``roles/pubsub.publisher`` for the identity, which no kind manages yet:
grant it outside this stack.

An update always sends an explicit update mask: an empty one "is temporarily treated as
destination,filter,includeChildren" (logging_config.proto ``UpdateSinkRequest``), which would
silently drop other changes. Identity ``projects/P/sinks/NAME``; sink names are at most 100
of letters, digits, ``_``, ``-``, ``.``. Sinks carry no labels: ownership is the ledger's.
Outputs ``name``, ``writerIdentity``.

Moving in: ``google_logging_project_sink`` or a live sink (``import live``): the destination
becomes its shorthand; Google's ``_Default`` and ``_Required`` sinks are left out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Imported, ImportedList, Kind, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, translate_errors
from mlops_infra.kinds._clients import LOGGING_CONFIG
from mlops_infra.kinds._imports import block, leftovers, put, shaped
from mlops_infra.kinds._proto import as_rest, mask, message, top_fields, with_defaults
from mlops_infra.kinds.logging._common import LOGGING_API, SINK_NAME, sink_name_problem

SHORTHANDS = {"bigqueryDataset": "bigquery.googleapis.com/",
              "storageBucket": "storage.googleapis.com/",
              "pubsubTopic": "pubsub.googleapis.com/", "logBucket": "logging.googleapis.com/"}
_DATASET_PATH = re.compile(r"^projects/([^/]+)/datasets/([^/]+)$")
_PAGE_SIZE = 200
DATA_EDITOR = "roles/bigquery.dataEditor"
OBJECT_CREATOR = "roles/storage.objectCreator"
_GOOGLE_SINKS = ("_Default", "_Required")
# The legacy shared writer of sinks made without a unique writer identity
# (logging_config.proto ``CreateSinkRequest.unique_writer_identity``).
_SHARED_WRITER = "serviceAccount:cloud-logs@system.gserviceaccount.com"


class Exclusion(SpecModel):
    name: str = Field(pattern=SINK_NAME.pattern)
    filter: str = Field(min_length=1)
    description: str | None = None
    disabled: bool | None = None


class SinkSpec(SpecModel):
    """A log sink (REST names of ``LogSink``) and its destination shorthands."""

    destination: str | None = None
    bigqueryDataset: str | None = None
    storageBucket: str | None = None
    pubsubTopic: str | None = None
    logBucket: str | None = None
    filter: str | None = None
    description: str | None = None
    disabled: bool | None = None
    exclusions: list[Exclusion] | None = Field(default=None, max_length=50)
    usePartitionedTables: bool | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> SinkSpec:
        given = [k for k in ("destination", *SHORTHANDS) if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("write exactly one of destination, " + ", ".join(SHORTHANDS))
        return self


def destination(fields: dict[str, Any], project: str) -> str:
    """The sink's destination string, from ``destination`` or a shorthand."""
    if fields.get("destination"):
        return str(fields["destination"])
    if fields.get("bigqueryDataset"):
        dataset = str(fields["bigqueryDataset"])
        path = dataset if dataset.startswith("projects/") else \
            f"projects/{project}/datasets/{dataset}"
        return SHORTHANDS["bigqueryDataset"] + path
    for key in ("storageBucket", "pubsubTopic", "logBucket"):
        if fields.get(key):
            return SHORTHANDS[key] + str(fields[key])
    return ""


def _shorthand(value: str, project: str) -> dict[str, str]:
    """A destination as its shorthand: a dataset of the sink's project by its id, a bucket by
    its name, a log bucket by its full name (what those kinds output)."""
    for key, prefix in SHORTHANDS.items():
        if value.startswith(prefix):
            rest = value.removeprefix(prefix)
            match = _DATASET_PATH.match(rest)
            if key == "bigqueryDataset" and match and match.group(1) == project:
                rest = match.group(2)
            return {key: rest}
    return {"destination": value} if value else {}


@register
class Sink(Kind):
    """A log sink with a unique writer identity (see the module docstring)."""

    name = "logging.Sink"
    name_pattern = "projects/*/sinks/*"
    model = SinkSpec
    layer = "Operations"
    outputs = frozenset({"name", "writerIdentity"})
    labels_path = None
    api = LOGGING_API
    uses = (LOGGING_CONFIG,)
    terraform_types = ("google_logging_project_sink",)
    terraform_refs = {"logBucket": "id", "storageBucket": "name", "bigqueryDataset": "name"}

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        """``google_logging_project_sink`` (hand-written resource_logging_project_sink.go):
        ``destination`` becomes its shorthand (a dataset or bucket of the import becomes a
        reference to it), ``exclusions`` and ``bigquery_options`` their REST fields.
        ``writer_identity`` is output-only; a sink made without ``unique_writer_identity``
        writes as Google's shared logs account (noted: this kind's sinks have their own)."""
        a = attributes
        fields = shaped(SinkSpec, a, skip=("destination", *SHORTHANDS, "usePartitionedTables"))
        fields.update(_shorthand(str(a.get("destination") or ""), str(a.get("project"))))
        if block(a, "bigquery_options").get("use_partitioned_tables"):
            fields["usePartitionedTables"] = True
        known = ("name", "destination", "filter", "description", "disabled", "exclusions",
                 "bigquery_options", "writer_identity", "unique_writer_identity")
        notes = leftovers(a, known)
        if a.get("unique_writer_identity") is False:
            notes += ("it writes as the shared logs service account; managed here, it keeps "
                      "that identity until replaced",)
        return [Imported(name=str(a["name"]), project=a.get("project"), fields=fields,
                         notes=notes)]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live sink, as from Terraform: its destination as a shorthand (a dataset, bucket
        or log bucket of the import becomes a reference), ``disabled`` only when true,
        exclusions without ``disabled: false`` and their server times; ``writerIdentity``,
        ``createTime`` and ``updateTime`` are the server's."""
        project = name.split("/")[1]
        fields: dict[str, Any] = _shorthand(str(live.get("destination") or ""), project)
        put(fields, "filter", live.get("filter"))
        put(fields, "description", live.get("description"))
        if live.get("disabled"):
            fields["disabled"] = True
        exclusions = [{k: v for k, v in e.items() if k in Exclusion.model_fields
                       and (k, v) != ("disabled", False)} for e in live.get("exclusions") or []]
        put(fields, "exclusions", exclusions)
        if (live.get("bigqueryOptions") or {}).get("usePartitionedTables"):
            fields["usePartitionedTables"] = True
        notes: tuple[str, ...] = ()
        if live.get("writerIdentity") == _SHARED_WRITER:
            notes = ("it writes as the shared logs service account; managed here, it keeps "
                     "that identity until replaced",)
        extra = sorted(k for k in ("includeChildren", "interceptChildren", "outputVersionFormat")
                       if live.get(k) not in (None, False, "", "VERSION_FORMAT_UNSPECIFIED"))
        if extra:
            notes += (f"not carried over (left as it is live): {', '.join(extra)}",)
        return [Imported(name=name.rsplit("/", 1)[-1], project=project, fields=fields,
                         notes=notes)]

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        sink = name.rsplit("/", 1)[-1]
        if sink in _GOOGLE_SINKS:
            return (f"Google's own {sink} sink, in every project (\"Cloud Logging provides two "
                    "predefined log sinks for each Google Cloud project: _Required and "
                    "_Default\", https://cloud.google.com/logging/docs/export)")
        return None

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return sink_name_problem(ctx.name)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return self.id_from_name(f"projects/{ctx.project}/sinks/{ctx.name}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in fields.items()
                if k not in SHORTHANDS and k not in ("destination", "usePartitionedTables")}
        body["destination"] = destination(fields, ctx.project)
        if "usePartitionedTables" in fields:
            body["bigqueryOptions"] = {"usePartitionedTables": fields["usePartitionedTables"]}
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        """The proto3 defaults the API leaves out of its answers (``disabled: false``, also of
        exclusions; ``usePartitionedTables: false``), put back so a spec may write them."""
        out = with_defaults({"disabled": False, **live}, "google.cloud.logging_v2.types", "LogSink")
        if "exclusions" in out:
            out["exclusions"] = [{"disabled": False, **e} for e in out["exclusions"]]
        if "bigqueryOptions" in out:
            out["bigqueryOptions"] = {"usePartitionedTables": False, **out["bigqueryOptions"]}
        return out

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        out = {"name": rid.name}
        if live and live.get("writerIdentity"):
            out["writerIdentity"] = live["writerIdentity"]
        return out

    def implied_resources(self, res: Any) -> list[Any]:
        """The writer identity's grant on the destination, after the sink (module docstring)."""
        grant = _grant(res)
        if grant is None:
            return []
        kind, project, fields = grant
        depends = _refs(fields) | {res.address}
        address = f"{res.address}-writer"
        return [dataclasses.replace(res, address=address, kind=kind, name=address,
                                    project=project, fields=fields, adopt=False,
                                    depends_on=frozenset(depends - {address}),
                                    allow_data_loss=False, waivers={}, field_lines={})]

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with translate_errors(f"sinks of {scope}"):
            pager = self.clients.get(LOGGING_CONFIG).list_sinks(
                request={"parent": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {f"{scope}/sinks/{s.name}": as_rest(s) for s in pager}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"sink {rid.name}"):
            try:
                return as_rest(self.clients.get(LOGGING_CONFIG).get_sink(
                    request={"sink_name": rid.name}, **CALL))
            except NotFound:
                return None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud.logging_v2.types import LogSink

        body = message(LogSink, {**desired, "name": rid.parts["sinks"]})
        with translate_errors(f"sink {rid.name}"):
            try:
                return as_rest(self.clients.get(LOGGING_CONFIG).create_sink(
                    request={"parent": rid.scope, "sink": body, "unique_writer_identity": True},
                    **CALL))
            except AlreadyExists as exc:
                raise errors.Conflict(f"409 Conflict: sink {rid.name} already exists",
                                      status=409) from exc

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.logging_v2.types import LogSink

        fields = top_fields(changes)
        if not fields:
            return live
        body = {"name": rid.parts["sinks"], **{k: desired[k] for k in fields if k in desired}}
        with translate_errors(f"sink {rid.name}"):
            return as_rest(self.clients.get(LOGGING_CONFIG).update_sink(
                request={"sink_name": rid.name, "sink": message(LogSink, body),
                         "update_mask": mask(fields), "unique_writer_identity": True}, **CALL))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"sink {rid.name}"):
            try:
                self.clients.get(LOGGING_CONFIG).delete_sink(request={"sink_name": rid.name},
                                                             **CALL)
            except NotFound:
                return


def _grant(res: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(kind, project, fields) of the grant the sink's writer needs on its destination."""
    writer = f"${{{res.address}.writerIdentity}}"
    fields = res.fields
    target = destination(fields, res.project)
    if target.startswith(SHORTHANDS["bigqueryDataset"]):
        found = _DATASET_PATH.match(target.removeprefix(SHORTHANDS["bigqueryDataset"]))
        if found is None:
            return None
        return "bigquery.DatasetBindings", found.group(1), {
            "dataset": found.group(2), "bindings": [{"role": DATA_EDITOR, "members": [writer]}]}
    if target.startswith(SHORTHANDS["storageBucket"]):
        return "storage.BucketBindings", res.project, {
            "bucket": target.removeprefix(SHORTHANDS["storageBucket"]),
            "bindings": [{"role": OBJECT_CREATOR, "members": [writer]}]}
    return None


def _refs(fields: dict[str, Any]) -> set[str]:
    from mlops_infra.spec import find_refs

    return {address for address, _ in find_refs(fields)}

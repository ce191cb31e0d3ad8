"""``monitoring.MetricDescriptor``: a custom metric's schema (ML model metrics: prediction
latency, drift scores), so alert policies and dashboards can name it before the first point.

Fields a spec may write (REST names of ``MetricDescriptor``):

| field | notes |
|---|---|
| ``type`` | required: ``custom.googleapis.com/...`` or ``external.googleapis.com/...``; it is the identity |
| ``metricKind`` | ``GAUGE``, ``DELTA``, ``CUMULATIVE``; required; immutable |
| ``valueType`` | ``BOOL``, ``INT64``, ``DOUBLE``, ``STRING``, ``DISTRIBUTION``; required; immutable |
| ``labels[]`` | ``{key, valueType (STRING, BOOL, INT64), description}``; immutable |
| ``unit`` | UCUM, e.g. ``ms``, ``1``, ``By`` |
| ``description``, ``displayName`` | text |
| ``launchStage`` | immutable |

Identity ``projects/P/metricDescriptors/TYPE``. Creating an existing type replaces its
descriptor, which is how a change of ``unit``, ``description`` or ``displayName`` is applied
(magic-modules MetricDescriptor.yaml ``update_verb: POST`` to the create URL); the other
fields are immutable there (a change replaces it). Deleting or altering a descriptor "stops
data collection and makes the metric type's existing data unusable" (MetricDescriptor.yaml),
so deleting one needs ``allowDataLoss``. Descriptors carry no labels of ours: ownership is
the ledger's (with a create intent). Read one by one (a project's listing holds every
Google metric). Output ``type``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from mlops_infra.engine.kind import Imported, ImportedList, Kind, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel
from mlops_infra.kinds._clients import MONITORING_METRICS
from mlops_infra.kinds._imports import leftovers, shaped
from mlops_infra.kinds._proto import with_defaults
from mlops_infra.kinds.monitoring._common import (
    MONITORING_API,
    as_rest,
    known_only,
    monitoring_errors,
    read_or_none,
    serial_key,
)

_SEP = "/metricDescriptors/"
_PAGE_SIZE = 1000
# What a live import lists: the user-defined types (https://cloud.google.com/monitoring/custom-metrics)
# and the descriptors Cloud Logging makes for log-based metrics (logging_metrics.proto
# ``LogMetric.metric_descriptor``: "name, type, and description ... are output only"), which
# are skipped: they belong to their logging.Metric.
_LOG_METRIC = "logging.googleapis.com/user/"
_LISTED = ("custom.googleapis.com/", "external.googleapis.com/", _LOG_METRIC)
_TYPE = re.compile(r"^(custom|external)\.googleapis\.com/[A-Za-z0-9_/.-]{1,200}$")


class DescriptorLabel(SpecModel):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,99}$")
    valueType: Literal["STRING", "BOOL", "INT64"] | None = None
    description: str | None = None


class MetricDescriptorSpec(SpecModel):
    """A custom metric descriptor (REST names of ``MetricDescriptor``)."""

    type: str = Field(pattern=_TYPE.pattern)
    metricKind: Literal["GAUGE", "DELTA", "CUMULATIVE"]
    valueType: Literal["BOOL", "INT64", "DOUBLE", "STRING", "DISTRIBUTION"]
    labels: list[DescriptorLabel] | None = Field(default=None, max_length=30)
    unit: str | None = None
    description: str | None = None
    displayName: str | None = None
    launchStage: Literal["ALPHA", "BETA", "GA", "DEPRECATED", "EARLY_ACCESS", "PRELAUNCH"] | None = None


@register
class MetricDescriptor(Kind):
    """A custom metric descriptor (see the module docstring)."""

    name = "monitoring.MetricDescriptor"
    name_pattern = "projects/*/metricDescriptors/**"
    model = MetricDescriptorSpec
    layer = "Operations"
    outputs = frozenset({"type"})
    labels_path = None
    listable = False
    data_bearing = True
    loss = "the metric's time series are deleted with it"
    immutable = frozenset({"type", "metricKind", "valueType", "labels", "launchStage"})
    set_paths = frozenset({"labels"})
    api = MONITORING_API
    uses = (MONITORING_METRICS,)
    terraform_types = ("google_monitoring_metric_descriptor",)

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        """``google_monitoring_metric_descriptor`` (magic-modules MetricDescriptor.yaml): the
        REST fields in snake_case; a label's ``value_type`` defaults to STRING there as in
        the API, so it is left out. ``metadata`` (sample period, ingest delay) has no field
        here: noted. ``monitored_resource_types`` is output-only."""
        a = attributes
        fields = shaped(MetricDescriptorSpec, a, skip=("labels",))
        labels = [{k: v for k, v in shaped(DescriptorLabel, raw).items()
                   if (k, v) != ("valueType", "STRING")} for raw in a.get("labels") or []]
        if labels:
            fields["labels"] = labels
        known = ("type", "metric_kind", "value_type", "unit", "description", "display_name",
                 "launch_stage", "name", "monitored_resource_types")
        name = str(a["type"]).rsplit("/", 1)[-1]
        return [Imported(name=name, project=a.get("project"), fields=fields,
                         notes=leftovers(a, known))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live user-defined descriptor: its REST fields, without the server's ``name``,
        ``monitoredResourceTypes`` (output only) and a label's ``valueType`` STRING (the
        default); ``metadata`` has no field here (noted)."""
        fields, dropped = known_only(MetricDescriptorSpec, {
            k: v for k, v in live.items() if k not in ("name", "monitoredResourceTypes")})
        if fields.get("launchStage") == "LAUNCH_STAGE_UNSPECIFIED":
            del fields["launchStage"]
        if "labels" in fields:
            fields["labels"] = [{k: v for k, v in label.items()
                                 if (k, v) != ("valueType", "STRING")}
                                for label in fields["labels"]] or None
        fields = {k: v for k, v in fields.items() if v not in (None, "", [])}
        notes = (f"not carried over (left as it is live): {', '.join(dropped)}",) \
            if dropped else ()
        return [Imported(name=str(live["type"]).rsplit("/", 1)[-1],
                         project=name.split("/")[1], fields=fields, notes=notes)]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """The project's descriptors of the user-defined prefixes (``_LISTED``), each listed
        with ``metric.type = starts_with(...)`` (https://cloud.google.com/monitoring/api/v3/filters):
        an unfiltered listing holds every built-in Google metric too (thousands)."""
        found: dict[str, dict[str, Any]] = {}
        client = self.clients.get(MONITORING_METRICS)
        for prefix in _LISTED:
            with monitoring_errors(f"metric descriptors {prefix}* of projects/{project}"):
                pager = client.list_metric_descriptors(request={
                    "name": f"projects/{project}", "page_size": _PAGE_SIZE,
                    "filter": f'metric.type = starts_with("{prefix}")'}, **CALL)
                found.update({d.name: as_rest(d) for d in pager})
        return found

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        kind = str(live.get("type") or name.partition(_SEP)[2])
        if kind.startswith(_LOG_METRIC):
            return (f"the descriptor of the log-based metric {kind.removeprefix(_LOG_METRIC)} "
                    "(Cloud Logging keeps it: imported as that logging.Metric)")
        if not _TYPE.match(kind):
            return "a built-in Google metric (https://cloud.google.com/monitoring/api/metrics)"
        return None

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        """The identity is the ``type`` (the resource name is only an address)."""
        kind = str(fields.get("type", ""))
        if "${" in kind or _TYPE.match(kind):
            return None
        return (f"invalid metric type {kind!r}: user-defined metrics are "
                "custom.googleapis.com/PATH or external.googleapis.com/PATH "
                "(https://cloud.google.com/monitoring/custom-metrics)")

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return self.id_from_name(f"projects/{ctx.project}{_SEP}{fields['type']}")

    def id_from_name(self, name: str) -> ResourceId:
        scope, _, metric = name.partition(_SEP)
        return ResourceId(kind=self.name, name=name, scope=scope,
                          parts={"projects": scope.removeprefix("projects/"), "type": metric})

    def serial_key(self, rid: ResourceId) -> str | None:
        return serial_key(rid)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = dict(fields)
        if "labels" in body:
            body["labels"] = [{"valueType": "STRING", **label} for label in body["labels"]]
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        out = with_defaults(live, "google.api.metric_pb2", "MetricDescriptor")
        if "labels" in out:     # STRING is the proto3 default: not returned
            out["labels"] = [{"valueType": "STRING", **label} for label in out["labels"]]
        return out

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"type": rid.parts["type"]}

    def holds_data(self, rid: ResourceId) -> bool:
        return True     # its points cannot be counted through this API; assume it has some

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return read_or_none(f"metric descriptor {rid.name}", lambda: self.clients.get(MONITORING_METRICS).get_metric_descriptor(
            request={"name": rid.name}, **CALL))

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.api import metric_pb2
        from google.protobuf import json_format

        descriptor = json_format.ParseDict(desired, metric_pb2.MetricDescriptor())
        with monitoring_errors(f"metric descriptor {rid.name}"):
            return as_rest(self.clients.get(MONITORING_METRICS).create_metric_descriptor(
                request={"name": rid.scope, "metric_descriptor": descriptor}, **CALL))

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        return self.create(rid, desired)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with monitoring_errors(f"metric descriptor {rid.name}"):
            try:
                self.clients.get(MONITORING_METRICS).delete_metric_descriptor(
                    request={"name": rid.name}, **CALL)
            except NotFound:
                return

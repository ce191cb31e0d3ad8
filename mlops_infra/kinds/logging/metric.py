"""``logging.Metric``: a log-based metric (prediction errors counted from the serving logs).

Fields a spec may write (REST names of ``LogMetric``):

| field | notes |
|---|---|
| ``filter`` | required: the Logging query of the entries counted |
| ``description``, ``disabled`` | |
| ``metricDescriptor`` | ``{metricKind, valueType, unit, displayName, labels[] {key, valueType, description}}``; without it a counter (``DELTA``/``INT64``, unit ``1``); ``metricKind`` and ``valueType`` are immutable (a change replaces the metric) |
| ``labelExtractors`` | label -> extractor (``EXTRACT(jsonPayload.model)``, ``REGEXP_EXTRACT(...)``); each label must be a descriptor label |
| ``valueExtractor`` | a distribution's value (``EXTRACT(jsonPayload.latency_ms)``) |
| ``bucketOptions`` | a distribution's buckets: ``linearBuckets {numFiniteBuckets, width, offset}``, ``exponentialBuckets {numFiniteBuckets, growthFactor, scale}`` or ``explicitBuckets {bounds[]}`` |
| ``bucketName`` | a log bucket the metric reads (``${app-logs.id}``) |

Rules and their sources: logging_metrics.proto (a DISTRIBUTION needs ``valueExtractor`` and
``bucketOptions``; label extractors name descriptor labels; the counter default). The API
fills the descriptor's ``name``, ``type``, ``displayName`` and ``description``; only what the
spec writes is compared. ``UpdateLogMetric`` replaces the whole metric (a PUT, research/
clients.md e.), so an update sends the full desired metric. The metric's name is the resource
name (at most 100 of ``A-Za-z0-9_-.,+!*',()%/``, not starting with ``/``). Identity
``projects/P/metrics/NAME``. Outputs ``name``, ``type`` (the metric type alert policies use:
``logging.googleapis.com/user/NAME``).

Moving in: ``google_logging_metric`` or a live metric (``import live``): what the API fills
into the descriptor is left out; ``bucketName`` becomes a reference to an imported log
bucket. The metric's descriptor (``logging.googleapis.com/user/NAME``) is its own, never a
monitoring.MetricDescriptor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Imported, ImportedList, Kind, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, translate_errors
from mlops_infra.kinds._clients import LOGGING_METRICS
from mlops_infra.kinds._imports import block, blocks, leftovers, put, shaped
from mlops_infra.kinds._proto import as_rest, message, with_defaults
from mlops_infra.kinds.logging._common import LOGGING_API, metric_name_problem

_PAGE_SIZE = 200
_SEP = "/metrics/"


class MetricLabel(SpecModel):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,99}$")
    valueType: Literal["STRING", "BOOL", "INT64"] | None = None
    description: str | None = None


class Descriptor(SpecModel):
    metricKind: Literal["DELTA", "GAUGE", "CUMULATIVE"] | None = None
    valueType: Literal["INT64", "DOUBLE", "DISTRIBUTION", "BOOL", "STRING"] | None = None
    unit: str | None = None
    displayName: str | None = None
    labels: list[MetricLabel] | None = None


class LogMetricSpec(SpecModel):
    """A log-based metric (REST names of ``LogMetric``)."""

    filter: str = Field(min_length=1, max_length=20000)
    description: str | None = None
    disabled: bool | None = None
    metricDescriptor: Descriptor | None = None
    labelExtractors: dict[str, str] | None = None
    valueExtractor: str | None = None
    bucketOptions: dict[str, Any] | None = None
    bucketName: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LogMetricSpec:
        kind = self.metricDescriptor.valueType if self.metricDescriptor else None
        if kind == "DISTRIBUTION" and not (self.valueExtractor and self.bucketOptions):
            raise ValueError("a DISTRIBUTION metric needs valueExtractor and bucketOptions")
        keys = {label.key for label in (self.metricDescriptor.labels or [])} \
            if self.metricDescriptor else set()
        extra = sorted(set(self.labelExtractors or {}) - keys)
        if extra:
            raise ValueError(f"labelExtractors {extra} are not labels of metricDescriptor.labels")
        return self


_COUNTER = {"metricKind": "DELTA", "valueType": "INT64"}   # logging_metrics.proto's default


def _tf_descriptor(raw: dict[str, Any]) -> dict[str, Any]:
    out = shaped(Descriptor, raw, skip=("labels",))
    if out.get("unit") == "1":
        del out["unit"]
    labels = [{k: v for k, v in shaped(MetricLabel, label).items()
               if (k, v) != ("valueType", "STRING")} for label in blocks(raw, "labels")]
    if labels:
        out["labels"] = labels
    return {} if out == _COUNTER else out


def _live_descriptor(raw: dict[str, Any], metric: str) -> dict[str, Any]:
    """A live metric's descriptor as a spec writes it: what the API fills in left out."""
    out = {k: v for k, v in raw.items() if k in Descriptor.model_fields and k != "labels"}
    if out.get("unit") == "1":
        del out["unit"]
    if out.get("displayName") == metric:
        del out["displayName"]
    labels = [{k: v for k, v in label.items() if k in MetricLabel.model_fields
               and (k, v) != ("valueType", "STRING")} for label in raw.get("labels") or []]
    if labels:
        out["labels"] = labels
    return {} if out == _COUNTER else out


def _tf_bucket_options(raw: dict[str, Any]) -> dict[str, Any]:
    """``bucket_options`` blocks as the REST ``BucketOptions`` (one of three shapes)."""
    shapes = {"linear_buckets": ("linearBuckets", ("num_finite_buckets", "width", "offset")),
              "exponential_buckets": ("exponentialBuckets",
                                      ("num_finite_buckets", "growth_factor", "scale")),
              "explicit_buckets": ("explicitBuckets", ("bounds",))}
    for attr, (key, names) in shapes.items():
        given = block(raw, attr)
        if given:
            return {key: {_camel(n): given[n] for n in names if given.get(n) is not None}}
    return {}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@register
class LogMetric(Kind):
    """A log-based metric (see the module docstring)."""

    name = "logging.Metric"
    name_pattern = "projects/*/metrics/*"
    model = LogMetricSpec
    layer = "Operations"
    outputs = frozenset({"name", "type"})
    labels_path = None
    immutable = frozenset({"metricDescriptor.metricKind", "metricDescriptor.valueType"})
    api = LOGGING_API
    uses = (LOGGING_METRICS,)
    terraform_types = ("google_logging_metric",)
    terraform_refs = {"bucketName": "id"}

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        """``google_logging_metric`` (magic-modules logging/Metric.yaml): REST fields in
        snake_case. ``metric_descriptor`` is ``default_from_api`` (state holds the counter
        the API makes, DELTA/INT64) and its ``unit`` defaults to ``"1"``, a label's
        ``value_type`` to STRING: those are left out."""
        a = attributes
        fields = shaped(LogMetricSpec, a, skip=("metricDescriptor", "bucketOptions"))
        descriptor = _tf_descriptor(block(a, "metric_descriptor"))
        put(fields, "metricDescriptor", descriptor)
        put(fields, "bucketOptions", _tf_bucket_options(block(a, "bucket_options")))
        known = ("name", "filter", "description", "disabled", "metric_descriptor",
                 "label_extractors", "value_extractor", "bucket_options", "bucket_name")
        return [Imported(name=str(a["name"]), project=a.get("project"), fields=fields,
                         notes=leftovers(a, known))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live metric: its REST fields, ``disabled`` only when true, its descriptor without
        what the API fills in (``name``, ``type``, ``description``, ``displayName`` at the
        metric's name, unit ``1``, a label's ``valueType`` STRING; the counter's DELTA/INT64:
        module docstring) and without ``createTime``, ``updateTime``, ``resourceName``,
        ``version``."""
        metric = name.partition(_SEP)[2]
        fields: dict[str, Any] = {}
        for key in ("filter", "description", "labelExtractors", "valueExtractor",
                    "bucketOptions", "bucketName"):
            put(fields, key, live.get(key))
        if live.get("disabled"):
            fields["disabled"] = True
        put(fields, "metricDescriptor", _live_descriptor(live.get("metricDescriptor") or {},
                                                         metric))
        return [Imported(name=metric, project=name.split("/")[1], fields=fields)]

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return metric_name_problem(ctx.name)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return self.id_from_name(f"projects/{ctx.project}{_SEP}{ctx.name}")

    def id_from_name(self, name: str) -> ResourceId:
        scope, _, metric = name.partition(_SEP)
        return ResourceId(kind=self.name, name=name, scope=scope,
                          parts={"projects": scope.removeprefix("projects/"), "metrics": metric})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = dict(fields)
        descriptor = body.get("metricDescriptor")
        if descriptor and "labels" in descriptor:
            body["metricDescriptor"] = {**descriptor, "labels": [
                {"valueType": "STRING", **label} for label in descriptor["labels"]]}
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        out = with_defaults({"disabled": False, **live}, "google.cloud.logging_v2.types",
                            "LogMetric")
        descriptor = out.get("metricDescriptor")
        if descriptor and "labels" in descriptor:     # STRING, the proto3 default, is omitted
            out["metricDescriptor"] = {**descriptor, "labels": [
                {"valueType": "STRING", **label} for label in descriptor["labels"]]}
        return out

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        metric = rid.parts["metrics"]
        return {"name": metric, "type": f"logging.googleapis.com/user/{metric}"}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with translate_errors(f"log metrics of {scope}"):
            pager = self.clients.get(LOGGING_METRICS).list_log_metrics(
                request={"parent": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {f"{scope}{_SEP}{m.name}": as_rest(m) for m in pager}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"log metric {rid.name}"):
            try:
                return as_rest(self.clients.get(LOGGING_METRICS).get_log_metric(
                    request={"metric_name": rid.name}, **CALL))
            except NotFound:
                return None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud.logging_v2.types import LogMetric as Message

        body = message(Message, {**desired, "name": rid.parts["metrics"]})
        with translate_errors(f"log metric {rid.name}"):
            try:
                return as_rest(self.clients.get(LOGGING_METRICS).create_log_metric(
                    request={"parent": rid.scope, "metric": body}, **CALL))
            except AlreadyExists as exc:
                raise errors.Conflict(f"409 Conflict: log metric {rid.name} already exists",
                                      status=409) from exc

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.logging_v2.types import LogMetric as Message

        body = message(Message, {**desired, "name": rid.parts["metrics"]})
        with translate_errors(f"log metric {rid.name}"):
            return as_rest(self.clients.get(LOGGING_METRICS).update_log_metric(
                request={"metric_name": rid.name, "metric": body}, **CALL))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"log metric {rid.name}"):
            try:
                self.clients.get(LOGGING_METRICS).delete_log_metric(
                    request={"metric_name": rid.name}, **CALL)
            except NotFound:
                return

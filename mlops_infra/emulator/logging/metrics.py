"""Log-based metrics (``MetricsServiceV2``).

| behaviour | source |
|---|---|
| name ``projects/P/metrics/M``; M at most 100 of ``A-Za-z0-9_-.,+!*',()%/``, not starting with ``/`` | logging_metrics.proto ``LogMetric.name`` |
| ``filter`` required | logging_metrics.proto ``LogMetric.filter`` REQUIRED |
| without a descriptor a metric is a counter: ``metricKind: DELTA``, ``valueType: INT64``, ``unit: "1"``; the server fills the descriptor's ``name``, ``type`` (``logging.googleapis.com/user/M``), ``description`` and ``displayName`` | logging_metrics.proto ``metric_descriptor`` ("... a DELTA metric kind, INT64 value type, with no labels and a unit of "1""); magic-modules logging Metric.yaml (``default_from_api`` on metricDescriptor fields) |
| a DISTRIBUTION metric needs ``valueExtractor`` and ``bucketOptions``; every ``labelExtractors`` key is a descriptor label | logging_metrics.proto ``value_extractor``, ``bucket_options``, ``label_extractors`` |
| ``UpdateLogMetric`` replaces the whole metric and creates it when missing; ``metricKind``, ``valueType`` and a label's ``valueType`` cannot change | research/clients.md e.; logging_metrics.proto ``UpdateLogMetric`` ("Creates or updates a logs-based metric") |
"""

from __future__ import annotations

import copy
import re
from typing import Any

from google.cloud.logging_v2.types import logging_metrics
from google.protobuf import empty_pb2

from mlops_infra.emulator.logging import common

METRIC_ID = re.compile(r"^[A-Za-z0-9_\-.,+!*'()%][A-Za-z0-9_\-.,+!*'()%/]{0,99}$")


class LogMetrics:
    """Log-metric handlers over ``service.state["metrics"]`` (name -> stored JSON)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("metrics", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        body = common.to_json(request.metric)
        name = f"projects/{project}/metrics/{self._id(body)}"
        if name in self.items:
            raise common.already_exists(f"Metric {body['name']} already exists")
        self.items[name] = self._checked(body, project, previous=None)
        return self._message(self.items[name])

    def get(self, request: Any) -> Any:
        return self._message(self._find(request.metric_name))

    def list(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        mine = [{**m, "_key": n} for n, m in self.items.items() if common.project_of(n) == project]
        ordered = [{**m, "name": m["_key"]} for m in mine]
        chosen, token = common.page(ordered, size=request.page_size, token=request.page_token)
        return logging_metrics.ListLogMetricsResponse(
            metrics=[self._message(self.items[m["name"]]) for m in chosen], next_page_token=token)

    def update(self, request: Any) -> Any:
        project = common.project_of(request.metric_name)
        body = common.to_json(request.metric)
        metric_id = request.metric_name.split("/metrics/", 1)[1]
        if body.get("name", metric_id) != metric_id:
            raise common.invalid("The metric name in the body does not match metric_name")
        previous = self.items.get(request.metric_name)
        self.items[request.metric_name] = self._checked({**body, "name": metric_id}, project,
                                                        previous=previous)
        return self._message(self.items[request.metric_name])

    def delete(self, request: Any) -> Any:
        self._find(request.metric_name)
        del self.items[request.metric_name]
        return empty_pb2.Empty()

    def _find(self, name: str) -> dict[str, Any]:
        common.project_of(name)
        if name not in self.items:
            raise common.not_found(f"Metric {name.rsplit('/metrics/', 1)[-1]} does not exist")
        return self.items[name]

    def _id(self, body: dict[str, Any]) -> str:
        return common.check_id(body.get("name", ""), METRIC_ID, "metric name",
                               "at most 100 of A-Z, a-z, 0-9 and _-.,+!*',()%/, not starting "
                               "with '/'")

    def _checked(self, body: dict[str, Any], project: str, *,
                 previous: dict[str, Any] | None) -> dict[str, Any]:
        out = copy.deepcopy({k: v for k, v in body.items() if k not in ("createTime",
                                                                         "updateTime")})
        self._id(out)
        if not out.get("filter"):
            raise common.invalid("A log-based metric needs a filter")
        descriptor = out.setdefault("metricDescriptor", {})
        descriptor.setdefault("metricKind", "DELTA")
        descriptor.setdefault("valueType", "INT64")
        if descriptor["valueType"] != "DISTRIBUTION":
            descriptor.setdefault("unit", "1")
        if descriptor["valueType"] == "DISTRIBUTION" and not (
                out.get("valueExtractor") and out.get("bucketOptions")):
            raise common.invalid("A DISTRIBUTION metric needs value_extractor and bucket_options")
        labels = {label["key"] for label in descriptor.get("labels", [])}
        extra = sorted(set(out.get("labelExtractors", {})) - labels)
        if extra:
            raise common.invalid(f"label_extractors {extra} are not labels of the metric "
                                 "descriptor")
        descriptor.update(name=f"projects/{project}/metricDescriptors/logging.googleapis.com/user/"
                               f"{out['name']}",
                          type=f"logging.googleapis.com/user/{out['name']}")
        descriptor.setdefault("description", out.get("description", ""))
        descriptor.setdefault("displayName", out["name"])
        if previous is not None:
            self._check_change(previous["metricDescriptor"], descriptor)
        now = common.timestamp()
        out["createTime"] = (previous or {}).get("createTime", now)
        out["updateTime"] = now
        return out

    def _check_change(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        for field in ("metricKind", "valueType"):
            if before.get(field) != after.get(field):
                raise common.invalid(f"metric_descriptor.{field} of a log-based metric cannot "
                                     "be changed")
        kinds = {label["key"]: label.get("valueType", "STRING") for label in before.get("labels", [])}
        for label in after.get("labels", []):
            if label["key"] in kinds and kinds[label["key"]] != label.get("valueType", "STRING"):
                raise common.invalid(f"The value type of label {label['key']} cannot be changed")

    def _message(self, stored: dict[str, Any]) -> Any:
        return common.from_json(logging_metrics.LogMetric, stored)

"""``UptimeCheckService`` and the metric descriptors of ``MetricService``.

Uptime checks:

| behaviour | source |
|---|---|
| name ``projects/P/uptimeCheckConfigs/ID``, ID chosen by the server (here: the display name's slug and a random suffix) | uptime.proto ``UptimeCheckConfig.name`` ("assigned by the server") |
| ``displayName`` and ``timeout`` (1-60 s) required; ``period`` 60s, 300s, 600s or 900s, default 60s | uptime.proto ``display_name``, ``timeout``, ``period`` |
| exactly one of ``monitoredResource``/``resourceGroup``/``syntheticMonitor``; an HTTP or TCP check | uptime.proto ``resource`` and ``check_request_type`` oneofs |
| HTTP defaults: ``path`` "/" (a "/" is prepended when missing), ``port`` 80, or 443 with ``useSsl``, ``requestMethod`` GET; ``checkerType`` STATIC_IP_CHECKERS | uptime.proto ``HttpCheck.path``/``port``; magic-modules UptimeCheckConfig.yaml (``default_from_api`` on port, headers, checkerType) |
| update: the mask's fields, or everything with an empty mask; ``monitoredResource``, ``resourceGroup``, ``syntheticMonitor``, ``checkerType`` and ``httpCheck.requestMethod`` cannot change | uptime_service.proto ``UpdateUptimeCheckConfigRequest``; magic-modules UptimeCheckConfig.yaml ``immutable`` |
| delete refused (400) while an alert policy's filter names the check | magic-modules custom_delete monitoring_uptime_check_config ("please ensure all associated Alert Policies are deleted") |

Metric descriptors: name ``projects/P/metricDescriptors/TYPE``; only user-defined types
(``custom.googleapis.com/``, ``external.googleapis.com/``) may be created, and creating an
existing type replaces it (magic-modules MetricDescriptor.yaml: ``update_verb: POST`` to the
create URL); ``metricKind`` and ``valueType`` are required (MetricDescriptor.yaml
``required``). Every create, update and delete takes part in the one-edit-per-project rule.
A project's listing (and ``get``) also holds Google's built-in metric types (a few of the
thousands: ``BUILT_IN``, from https://cloud.google.com/monitoring/api/metrics_gcp), which
cannot be created or deleted, and the descriptor of every log-based metric of the project
(``logging.googleapis.com/user/NAME``, its ``LogMetric.metricDescriptor``: logging_metrics.proto
"The name, type, and description fields in the metric_descriptor are output only"; the
descriptor goes with its metric, https://cloud.google.com/logging/docs/logs-based-metrics).
"""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from google.api import metric_pb2
from google.cloud.monitoring_v3.types import metric_service, uptime, uptime_service
from google.protobuf import empty_pb2

from mlops_infra.emulator.monitoring import common

_PERIODS = ("60s", "300s", "600s", "900s")
_RESOURCES = ("monitoredResource", "resourceGroup", "syntheticMonitor")
_IMMUTABLE = ("monitoredResource", "resourceGroup", "syntheticMonitor", "checkerType")
_USER_TYPES = ("custom.googleapis.com/", "external.googleapis.com/")
BUILT_IN: tuple[dict[str, Any], ...] = (       # https://cloud.google.com/monitoring/api/metrics_gcp
    {"type": "compute.googleapis.com/instance/cpu/utilization", "metricKind": "GAUGE",
     "valueType": "DOUBLE", "unit": "10^2.%", "displayName": "CPU utilization",
     "labels": [{"key": "instance_name", "description": "The name of the VM instance."}],
     "launchStage": "GA", "monitoredResourceTypes": ["gce_instance"]},
    {"type": "logging.googleapis.com/log_entry_count", "metricKind": "DELTA",
     "valueType": "INT64", "unit": "1", "displayName": "Log entries",
     "labels": [{"key": "log", "description": "The name of the log."},
                {"key": "severity", "description": "The severity of the log entry."}],
     "launchStage": "GA"},
    {"type": "aiplatform.googleapis.com/prediction/online/prediction_count",
     "metricKind": "DELTA", "valueType": "INT64", "unit": "1",
     "displayName": "Prediction count", "launchStage": "GA",
     "monitoredResourceTypes": ["aiplatform.googleapis.com/Endpoint"]},
)


class UptimeChecks:
    """Uptime-check handlers over ``service.state["uptime"]`` (name -> stored JSON)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("uptime", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        body = self._checked(common.to_json(request.uptime_check_config))

        def commit() -> Any:
            name = f"projects/{project}/uptimeCheckConfigs/{_slug(body['displayName'])}-" \
                   f"{secrets.token_hex(4)}"
            self.items[name] = {**body, "name": name}
            return self._message(self.items[name])
        return self.service.edits.edit(project, commit)

    def get(self, request: Any) -> Any:
        return self._message(self._find(request.name))

    def list(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        keep = common.listing_filter(request.filter)
        mine = [c for n, c in self.items.items() if common.project_of(n) == project and keep(c)]
        chosen, token = common.page(mine, size=request.page_size, token=request.page_token)
        return uptime_service.ListUptimeCheckConfigsResponse(
            uptime_check_configs=[self._message(c) for c in chosen], next_page_token=token,
            total_size=len(mine))

    def update(self, request: Any) -> Any:
        body = common.to_json(request.uptime_check_config)
        name = body.get("name", "")
        current = self._find(name)
        paths = [common.camel_path(p)[0] for p in request.update_mask.paths]
        merged = copy.deepcopy(current) if paths else {**body, "name": name}
        for field in paths:
            if field in body:
                merged[field] = body[field]
            else:
                merged.pop(field, None)
        checked = self._checked({k: v for k, v in merged.items() if k != "name"})
        for field in _IMMUTABLE:
            if checked.get(field) != current.get(field):
                raise common.invalid(f"{field} of an uptime check cannot be changed")
        if current.get("httpCheck", {}).get("requestMethod") != \
                checked.get("httpCheck", {}).get("requestMethod"):
            raise common.invalid("http_check.request_method of an uptime check cannot be changed")

        def commit() -> Any:
            self.items[name] = {**checked, "name": name}
            return self._message(self.items[name])
        return self.service.edits.edit(common.project_of(name), commit)

    def delete(self, request: Any) -> Any:
        self._find(request.name)
        check_id = request.name.rsplit("/", 1)[1]
        users = [n for n, p in self.service.policies.items.items() if check_id in str(p)]
        if users:
            raise common.precondition(f"Uptime check {request.name} is used by alert policies "
                                      f"({', '.join(sorted(users))})")

        def commit() -> Any:
            self.items.pop(request.name, None)
            return empty_pb2.Empty()
        return self.service.edits.edit(common.project_of(request.name), commit)

    def _find(self, name: str) -> dict[str, Any]:
        common.project_of(name)
        if name not in self.items:
            raise common.not_found(f"Requested entity was not found: {name}")
        return self.items[name]

    def _checked(self, body: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(body)
        if not out.get("displayName"):
            raise common.invalid("display_name is required")
        if sum(1 for key in _RESOURCES if key in out) != 1:
            raise common.invalid("exactly one of monitored_resource, resource_group and "
                                 "synthetic_monitor is required")
        if ("httpCheck" in out) == ("tcpCheck" in out) and "syntheticMonitor" not in out:
            raise common.invalid("exactly one of http_check and tcp_check is required")
        timeout = _seconds(out.get("timeout"))
        if timeout is None or not 1 <= timeout <= 60:
            raise common.invalid("timeout is required and must be between 1 and 60 seconds")
        out["period"] = out.get("period") or "60s"
        if out["period"] not in _PERIODS:
            raise common.invalid(f"period must be one of {', '.join(_PERIODS)}")
        out.setdefault("checkerType", "STATIC_IP_CHECKERS")
        if "httpCheck" in out:
            self._http_defaults(out["httpCheck"])
        common.check_user_labels(out.get("userLabels", {}), "uptime check")
        return out

    def _http_defaults(self, check: dict[str, Any]) -> None:
        path = check.get("path") or "/"
        check["path"] = path if path.startswith("/") else "/" + path
        check.setdefault("port", 443 if check.get("useSsl") else 80)
        check.setdefault("requestMethod", "GET")

    def _message(self, stored: dict[str, Any]) -> Any:
        return common.from_json(uptime.UptimeCheckConfig, stored)


class MetricDescriptors:
    """Metric-descriptor handlers over ``service.state["descriptors"]`` (name -> JSON)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("descriptors", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        project = common.project_of(request.name)
        body = common.to_json(request.metric_descriptor)
        kind = str(body.get("type", ""))
        if not kind.startswith(_USER_TYPES):
            raise common.invalid(f"Metric type {kind!r}: only user-defined metrics "
                                 f"({', '.join(_USER_TYPES)}...) can be created")
        for field in ("metricKind", "valueType"):
            if not body.get(field):
                raise common.invalid(f"{field} is required")

        def commit() -> Any:
            name = f"projects/{project}/metricDescriptors/{kind}"
            self.items[name] = {**body, "name": name}
            return _descriptor(self.items[name])
        return self.service.edits.edit(project, commit)

    def get(self, request: Any) -> Any:
        found = self._every(common.project_of(request.name)).get(request.name)
        if found is None:
            raise common.not_found(f"Could not find descriptor for metric {request.name}")
        return _descriptor(found)

    def list(self, request: Any) -> Any:
        project = common.project_of(request.name)
        prefix = _type_prefix(request.filter)
        mine = [d for d in self._every(project).values()
                if str(d.get("type", "")).startswith(prefix)]
        chosen, token = common.page(mine, size=request.page_size, token=request.page_token)
        return metric_service.ListMetricDescriptorsResponse(
            metric_descriptors=[_descriptor(d) for d in chosen], next_page_token=token)

    def delete(self, request: Any) -> Any:
        if request.name not in self.items:
            if request.name in self._every(common.project_of(request.name)):
                raise common.invalid(f"{request.name} is not a user-defined metric: only "
                                     "custom and external metric descriptors can be deleted")
            raise common.not_found(f"Could not find descriptor for metric {request.name}")

        def commit() -> Any:
            self.items.pop(request.name, None)
            return empty_pb2.Empty()
        return self.service.edits.edit(common.project_of(request.name), commit)


    def _every(self, project: str) -> dict[str, dict[str, Any]]:
        """The project's descriptors: Google's built-in ones, those of its log-based metrics
        and its own (user-defined) ones."""
        every = {f"projects/{project}/metricDescriptors/{d['type']}":
                 {**d, "name": f"projects/{project}/metricDescriptors/{d['type']}"}
                 for d in BUILT_IN}
        logging = getattr(self.service.emulator, "services", {}).get("logging")
        for name, metric in (logging.state.get("metrics", {}) if logging else {}).items():
            descriptor = dict(metric.get("metricDescriptor") or {})
            if name.startswith(f"projects/{project}/") and descriptor.get("name"):
                every[descriptor["name"]] = descriptor
        every.update({n: d for n, d in self.items.items() if common.project_of(n) == project})
        return every


def _descriptor(stored: dict[str, Any]) -> Any:
    from google.protobuf import json_format

    return json_format.ParseDict(stored, metric_pb2.MetricDescriptor(), ignore_unknown_fields=True)


_STARTS_WITH = re.compile(r'^\s*metric\.type\s*=\s*starts_with\(\s*"([^"]*)"\s*\)\s*$')


def _type_prefix(text: str) -> str:
    """The list filter ``metric.type = starts_with("P")`` (the only one the emulator reads)."""
    if not text.strip():
        return ""
    match = _STARTS_WITH.match(text)
    if match is None:
        raise common.invalid(f"Unsupported filter {text!r} (the emulator accepts "
                             'metric.type = starts_with("PREFIX"))')
    return match.group(1)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "uptime-check"


def _seconds(value: Any) -> float | None:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None

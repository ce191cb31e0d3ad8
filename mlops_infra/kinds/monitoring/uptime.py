"""``monitoring.UptimeCheck``: an uptime check of an endpoint (the serving VM).

Fields a spec may write (REST names of ``UptimeCheckConfig``):

| field | notes |
|---|---|
| ``displayName`` | required |
| ``host`` | shorthand: ``monitoredResource: {type: uptime_url, labels: {host: HOST, project_id: PROJECT}}`` |
| ``monitoredResource`` | ``{type, labels}``; immutable |
| ``httpCheck`` | ``{path, port, useSsl, validateSsl, requestMethod (immutable), headers, maskHeaders, contentType, customContentType, body, acceptedResponseStatusCodes[]}``; a path without a leading ``/`` gets one (the API prepends it) |
| ``tcpCheck`` | ``{port}`` |
| ``period`` | ``60s``, ``300s``, ``600s`` or ``900s`` (or 60, "1m", ...) |
| ``timeout`` | 1 to 60 seconds; required |
| ``contentMatchers[]`` | ``{content, matcher}`` |
| ``selectedRegions[]`` | ``USA``, ``EUROPE``, ``SOUTH_AMERICA``, ``ASIA_PACIFIC``, ...; order is ignored |
| ``checkerType`` | ``STATIC_IP_CHECKERS`` (API default) or ``VPC_CHECKERS``; immutable |
| ``userLabels`` | map; the ownership labels go here |

Rules and sources: uptime.proto (``period`` values, ``timeout`` range, path prefixing, the
oneofs); immutables from magic-modules UptimeCheckConfig.yaml. Identity: named by the server
(``projects/P/uptimeCheckConfigs/ID``), found by its ownership labels before every create.
Outputs ``name`` and ``checkId`` (what an alert policy filters on:
``metric.labels.check_id = "${check.checkId}"``). Changes of a project's Monitoring
configuration run one at a time (``_common``).

Moving in: ``google_monitoring_uptime_check_config`` (magic-modules UptimeCheckConfig.yaml):
an ``uptime_url`` monitored resource of the check's own project becomes ``host``; the values
the provider writes when unset are left out (``request_method`` GET, ``path`` ``/``, the port
the API chose, ``checker_type`` STATIC_IP_CHECKERS; ``period`` unless it is uptime.proto's
60s default); the state's ``name`` goes to the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine.kind import ImportedList, Kind, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels
from mlops_infra.kinds._clients import MONITORING_UPTIME
from mlops_infra.kinds._imports import block, blocks, put, shaped, user_labels
from mlops_infra.kinds._proto import with_defaults
from mlops_infra.kinds.monitoring._common import (
    MONITORING_API,
    as_rest,
    imported_server_named,
    known_only,
    live_server_named,
    mask,
    message,
    monitoring_errors,
    read_or_none,
    seconds,
    serial_key,
    server_named_id,
    top_fields,
)

_PERIODS = ("60s", "300s", "600s", "900s")
_PAGE_SIZE = 100


class MonitoredResource(SpecModel):
    type: str
    labels: dict[str, str]


class HttpCheck(SpecModel):
    path: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    useSsl: bool | None = None
    validateSsl: bool | None = None
    requestMethod: Literal["GET", "POST"] | None = None
    headers: dict[str, str] | None = None
    maskHeaders: bool | None = None
    contentType: Literal["TYPE_UNSPECIFIED", "URL_ENCODED", "USER_PROVIDED"] | None = None
    customContentType: str | None = None
    body: str | None = None
    acceptedResponseStatusCodes: list[dict[str, Any]] | None = None


class TcpCheck(SpecModel):
    port: int = Field(ge=1, le=65535)


class ContentMatcher(SpecModel):
    content: str
    matcher: Literal["CONTAINS_STRING", "NOT_CONTAINS_STRING", "MATCHES_REGEX",
                     "NOT_MATCHES_REGEX", "MATCHES_JSON_PATH", "NOT_MATCHES_JSON_PATH"] | None = None


class UptimeCheckSpec(SpecModel):
    """An uptime check (REST names of ``UptimeCheckConfig``)."""

    displayName: str = Field(min_length=1)
    host: str | None = None
    monitoredResource: MonitoredResource | None = None
    httpCheck: HttpCheck | None = None
    tcpCheck: TcpCheck | None = None
    period: int | str | None = None
    timeout: int | str
    contentMatchers: list[ContentMatcher] | None = None
    selectedRegions: list[str] | None = None
    checkerType: Literal["STATIC_IP_CHECKERS", "VPC_CHECKERS"] | None = None
    userLabels: dict[str, str] | None = None

    @field_validator("userLabels")
    @classmethod
    def _user_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @field_validator("period")
    @classmethod
    def _period(cls, value: int | str | None) -> int | str | None:
        if value is not None and "${" not in str(value) and seconds(value) not in _PERIODS:
            raise ValueError(f"period must be one of {', '.join(_PERIODS)} (uptime.proto)")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: int | str) -> int | str:
        text = seconds(value)
        if "${" not in str(value) and not (isinstance(text, str) and text.endswith("s")
                                           and 1 <= float(text[:-1]) <= 60):
            raise ValueError("timeout must be between 1 and 60 seconds (uptime.proto)")
        return value

    @model_validator(mode="after")
    def _shape(self) -> UptimeCheckSpec:
        if (self.host is None) == (self.monitoredResource is None):
            raise ValueError("write exactly one of 'host' and 'monitoredResource'")
        if (self.httpCheck is None) == (self.tcpCheck is None):
            raise ValueError("write exactly one of 'httpCheck' and 'tcpCheck'")
        return self


# google_monitoring_uptime_check_config attributes read (magic-modules UptimeCheckConfig.yaml);
# ``uptime_check_id`` is output-only.
_TF_KNOWN = ("display_name", "monitored_resource", "http_check", "tcp_check", "period",
             "timeout", "content_matchers", "selected_regions", "checker_type", "uptime_check_id")


def _tf_http_check(raw: dict[str, Any]) -> dict[str, Any] | None:
    """An ``http_check`` block without the values the provider fills in when unset: its
    ``request_method`` (default GET), ``path`` (default ``/``) and the port the API chooses
    (``default_from_api``: 80, or 443 with SSL)."""
    if not raw:
        return None
    out = _without_http_defaults(shaped(HttpCheck, raw, skip=("acceptedResponseStatusCodes",)))
    codes = [{k: v for k, v in (("statusValue", c.get("status_value")),
                                ("statusClass", c.get("status_class"))) if v}
             for c in blocks(raw, "accepted_response_status_codes")]
    if codes:
        out["acceptedResponseStatusCodes"] = codes
    return out


def _without_http_defaults(check: dict[str, Any]) -> dict[str, Any]:
    """An ``httpCheck`` without what the API fills in when unset (``requestMethod`` GET,
    ``path`` ``/``, port 80, or 443 with SSL) and without proto3 defaults."""
    out = {k: v for k, v in check.items() if v not in (False, "", None, [], {})}
    if out.get("requestMethod") == "GET":
        del out["requestMethod"]
    if out.get("path") == "/":
        del out["path"]
    if out.get("port") == (443 if out.get("useSsl") else 80):
        del out["port"]
    if out.get("contentType") == "TYPE_UNSPECIFIED":
        del out["contentType"]
    return out


@register
class UptimeCheck(Kind):
    """An uptime check (server-named; see the module docstring)."""

    name = "monitoring.UptimeCheck"
    name_pattern = "projects/*/uptimeCheckConfigs/*"
    model = UptimeCheckSpec
    layer = "Operations"
    outputs = frozenset({"name", "checkId"})
    naming = "server"
    labels_path = "userLabels"
    immutable = frozenset({"monitoredResource", "resourceGroup", "syntheticMonitor",
                           "checkerType", "httpCheck.requestMethod"})
    set_paths = frozenset({"selectedRegions"})
    api = MONITORING_API
    uses = (MONITORING_UPTIME,)
    terraform_types = ("google_monitoring_uptime_check_config",)

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        fields = shaped(UptimeCheckSpec, a, skip=("host", "monitoredResource", "httpCheck",
                                                  "period", "checkerType", "userLabels"))
        resource = block(a, "monitored_resource")
        labels = dict(resource.get("labels") or {})
        if resource.get("type") == "uptime_url" and labels.get("project_id") == a.get("project"):
            fields["host"] = labels.get("host")
        elif resource:
            fields["monitoredResource"] = {"type": resource.get("type"), "labels": labels}
        http = _tf_http_check(block(a, "http_check"))
        if http is not None:
            fields["httpCheck"] = http
        put(fields, "period", a.get("period"), default="60s")     # uptime.proto's default
        put(fields, "checkerType", a.get("checker_type"), default="STATIC_IP_CHECKERS")
        put(fields, "userLabels", user_labels(a.get("user_labels")))
        unheld = sorted(k for k in ("auth_info", "service_agent_authentication", "ping_config")
                        if block(a, "http_check").get(k))
        notes = (f"http_check {', '.join(unheld)} not carried over (left as it is live)",) \
            if unheld else ()
        return imported_server_named(a, fields, _TF_KNOWN, notes=notes)

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live check, as from Terraform: an ``uptime_url`` of its own project becomes
        ``host``; the values the API fills in when unset are left out (``requestMethod`` GET,
        ``path`` ``/``, port 80 or 443 with SSL, ``checkerType`` STATIC_IP_CHECKERS, ``period``
        60s: uptime.proto, UptimeCheckConfig.yaml ``default_from_api``)."""
        project = name.split("/")[1]
        body = {k: v for k, v in live.items() if k not in ("name", "isInternal",
                                                           "internalCheckers")}
        resource = body.pop("monitoredResource", None) or {}
        http = body.pop("httpCheck", None)
        fields, dropped = known_only(UptimeCheckSpec, body)
        labels = dict(resource.get("labels") or {})
        if resource.get("type") == "uptime_url" and labels.get("project_id") == project:
            fields["host"] = labels.get("host")
        elif resource:
            fields["monitoredResource"] = {"type": resource.get("type"), "labels": labels}
        if http is not None:
            check, lost = known_only(HttpCheck, http)
            dropped += [f"httpCheck.{path}" for path in lost]
            fields["httpCheck"] = _without_http_defaults(check)
        for key, default in (("period", "60s"), ("checkerType", "STATIC_IP_CHECKERS")):
            if fields.get(key) == default:
                del fields[key]
        fields.pop("userLabels", None)
        put(fields, "userLabels", user_labels(live.get("userLabels")))
        notes = (f"not carried over (left as it is live): {', '.join(dropped)}",) \
            if dropped else ()
        return live_server_named(name, live, fields, notes)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return server_named_id(self.name, ctx)

    def serial_key(self, rid: ResourceId) -> str | None:
        return serial_key(rid)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if k != "host"}
        if "host" in fields:
            body["monitoredResource"] = {"type": "uptime_url", "labels": {
                "host": fields["host"], "project_id": ctx.project}}
        for key in ("period", "timeout"):
            if key in body:
                body[key] = seconds(body[key])
        if "path" in body.get("httpCheck", {}):
            body["httpCheck"] = {**body["httpCheck"], "path": _slashed(body["httpCheck"]["path"])}
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return with_defaults(live, "google.cloud.monitoring_v3", "UptimeCheckConfig")

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        if not rid.name:
            return {}
        return {"name": rid.name, "checkId": rid.name.rsplit("/", 1)[1]}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with monitoring_errors(f"uptime checks of {scope}"):
            pager = self.clients.get(MONITORING_UPTIME).list_uptime_check_configs(
                request={"parent": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {c.name: as_rest(c) for c in pager}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return read_or_none(f"uptime check {rid.name}", lambda: self.clients.get(MONITORING_UPTIME).get_uptime_check_config(
            request={"name": rid.name}, **CALL))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.monitoring_v3 import UptimeCheckConfig

        with monitoring_errors(f"uptime check in {rid.scope}"):
            made = self.clients.get(MONITORING_UPTIME).create_uptime_check_config(
                request={"parent": rid.scope,
                         "uptime_check_config": message(UptimeCheckConfig, desired)}, **CALL)
            return as_rest(made)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.monitoring_v3 import UptimeCheckConfig

        fields = top_fields(changes)
        if not fields:
            return live
        body = {"name": rid.name, **{k: desired[k] for k in fields if k in desired}}
        if "httpCheck" in body and "requestMethod" in live.get("httpCheck", {}):
            body["httpCheck"] = {"requestMethod": live["httpCheck"]["requestMethod"],
                                 **body["httpCheck"]}
        with monitoring_errors(f"uptime check {rid.name}"):
            return as_rest(self.clients.get(MONITORING_UPTIME).update_uptime_check_config(
                request={"uptime_check_config": message(UptimeCheckConfig, body),
                         "update_mask": mask(fields)}, **CALL))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with monitoring_errors(f"uptime check {rid.name}"):
            try:
                self.clients.get(MONITORING_UPTIME).delete_uptime_check_config(
                    request={"name": rid.name}, **CALL)
            except NotFound:
                return


def _slashed(path: Any) -> Any:
    return path if not isinstance(path, str) or path.startswith(("/", "${")) else "/" + path

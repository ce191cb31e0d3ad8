"""``monitoring.Dashboard``: a Cloud Monitoring dashboard, its body written in YAML.

Fields a spec may write (REST names of ``Dashboard``, monitoring v1):

| field | notes |
|---|---|
| ``displayName`` | required |
| ``mosaicLayout`` / ``gridLayout`` / ``rowLayout`` / ``columnLayout`` | exactly one: the body as the dashboards API documents it (``tiles``, ``widgets``, ``xyChart``, ``scorecard``, ``text``, ...), checked against the ``Dashboard`` message of the installed client |
| ``dashboardFilters[]`` | filters shown on the dashboard |
| ``labels`` | map; the ownership labels go here |

The dashboard id is the resource name (``name:``, default the address): 1-128 of letters,
digits, ``-`` and ``_``. Identity ``projects/P/dashboards/ID``.

**Only what you wrote is compared.** The API decorates charts (``plotType``, ``targetAxis``,
``minAlignmentPeriod``, ``chartOptions``, ``yAxis``: hashicorp/terraform-provider-google#7242,
#16173, #9976; a broad diff suppressor was declined, magic-modules PR #18515) and leaves out
proto3 defaults (``xPos: 0``): the spec's body is compared on its own keys only, with its
proto3 defaults dropped (the API cannot return them). An update replaces the whole
dashboard (a full-replace PATCH, research/clients.md e.) carrying the etag read; a stale etag
(someone changed it meanwhile) is re-read and redone. Output ``name``.

Moving in: ``google_monitoring_dashboard`` (its ``dashboard_json``) or a live dashboard
(``import live``): the body without the server's ``name``/``etag`` and, live, without the
chart decorations above at their server values. ``projects.dashboards`` holds custom
dashboards (monitoring v1 discovery: create "Creates a new custom dashboard", patch "Replaces
an existing custom dashboard"); Google's predefined dashboards are not among them, so none is
skipped as Google's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import field_validator, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    BadAttribute,
    Imported,
    ImportedList,
    Kind,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels, translate_errors
from mlops_infra.kinds._clients import DASHBOARDS
from mlops_infra.kinds._imports import embedded_json, last_segment, put, user_labels
from mlops_infra.kinds.monitoring._common import MONITORING_API, as_rest, message

LAYOUTS = ("mosaicLayout", "gridLayout", "rowLayout", "columnLayout")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_PAGE_SIZE = 1000


class DashboardSpec(SpecModel):
    """A dashboard (REST names of ``Dashboard``); the layout is free-form and checked against
    the client's ``Dashboard`` message."""

    displayName: str
    mosaicLayout: dict[str, Any] | None = None
    gridLayout: dict[str, Any] | None = None
    rowLayout: dict[str, Any] | None = None
    columnLayout: dict[str, Any] | None = None
    dashboardFilters: list[dict[str, Any]] | None = None
    labels: dict[str, str] | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @model_validator(mode="after")
    def _one_layout(self) -> DashboardSpec:
        given = [k for k in LAYOUTS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"write exactly one layout: {', '.join(LAYOUTS)}")
        problem = body_problem(self.model_dump(exclude_none=True, by_alias=True, mode="json"))
        if problem:
            raise ValueError(problem)
        return self


def body_problem(body: dict[str, Any]) -> str | None:
    """Why the installed client's ``Dashboard`` message does not take ``body`` (an unknown
    field, a wrong type, an unknown enum), or ``None``; bodies holding ``${...}`` references
    are checked once resolved."""
    if "${" in str(body):
        return None
    from google.cloud.monitoring_dashboard_v1.types import Dashboard
    from google.protobuf import json_format

    try:
        json_format.ParseDict(body, Dashboard.pb()())
    except json_format.ParseError as exc:
        return f"not a dashboard body: {exc}"
    return None


@register
class MonitoringDashboard(Kind):
    """A dashboard (user-named; see the module docstring)."""

    name = "monitoring.Dashboard"
    name_pattern = "projects/*/dashboards/*"
    model = DashboardSpec
    layer = "Operations"
    outputs = frozenset({"name"})
    labels_path = "labels"
    api = MONITORING_API
    uses = (DASHBOARDS,)
    terraform_types = ("google_monitoring_dashboard",)

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        """``google_monitoring_dashboard`` keeps the whole body as ``dashboard_json`` (the REST
        ``Dashboard`` as JSON, hand-written resource_monitoring_dashboard.go); its ``id`` is
        ``projects/P/dashboards/ID``. The body's ``name`` and ``etag`` are the server's."""
        a = attributes
        body = embedded_json(a.get("dashboard_json"), ("dashboard_json",)) or {}
        if not isinstance(body, dict):
            raise BadAttribute(("dashboard_json",), "must hold a JSON object (a Dashboard)")
        fields: dict[str, Any] = {"displayName": body.get("displayName", "")}
        for key in (*LAYOUTS, "dashboardFilters"):
            put(fields, key, body.get(key))
        put(fields, "labels", user_labels(body.get("labels")))
        notes = tuple(f"{key} is not carried over (left as it is live)" for key in sorted(body)
                      if key not in (*LAYOUTS, "dashboardFilters", "labels", "displayName",
                                     "name", "etag"))
        return [Imported(name=last_segment(str(a.get("id") or body.get("name"))),
                         project=a.get("project"), fields=fields, notes=notes)]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live dashboard: its body without the server's ``name`` and ``etag`` and without
        what the server adds to every chart (``_SERVER_CHART``: the decorations the module
        docstring names, at their values); its id is its name, also when the server chose
        it (then the spec says ``name: ID``)."""
        fields: dict[str, Any] = {"displayName": live.get("displayName", "")}
        for key in (*LAYOUTS, "dashboardFilters"):
            put(fields, key, _undecorated(live.get(key)))
        put(fields, "labels", user_labels(live.get("labels")))
        notes = tuple(f"{key} is not carried over (left as it is live)" for key in sorted(live)
                      if key not in (*LAYOUTS, "dashboardFilters", "labels", "displayName",
                                     "name", "etag"))
        return [Imported(name=last_segment(name), project=name.split("/")[1], fields=fields,
                         notes=notes)]

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        if _ID.match(ctx.name):
            return None
        return (f"invalid dashboard id {ctx.name!r}: 1-128 of letters, digits, '-' and '_', "
                "starting with a letter or digit")

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return ResourceId(kind=self.name, name=f"projects/{ctx.project}/dashboards/{ctx.name}",
                          scope=f"projects/{ctx.project}",
                          parts={"projects": ctx.project, "dashboards": ctx.name})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return without_defaults(fields)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.name}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with translate_errors(f"dashboards of {scope}"):
            pager = self.clients.get(DASHBOARDS).list_dashboards(
                request={"parent": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {d.name: as_rest(d) for d in pager}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"dashboard {rid.name}"):
            try:
                return as_rest(self.clients.get(DASHBOARDS).get_dashboard(
                    request={"name": rid.name}, **CALL))
            except NotFound:
                return None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.monitoring_dashboard_v1.types import Dashboard

        body = message(Dashboard, {**desired, "name": rid.name})
        with translate_errors(f"dashboard {rid.name}"):
            return as_rest(self.clients.get(DASHBOARDS).create_dashboard(
                request={"parent": rid.scope, "dashboard": body}, **CALL))

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.api_core.exceptions import Conflict
        from google.cloud.monitoring_dashboard_v1.types import Dashboard

        body = message(Dashboard, {**desired, "name": rid.name, "etag": live.get("etag", "")})
        with translate_errors(f"dashboard {rid.name}"):
            try:
                return as_rest(self.clients.get(DASHBOARDS).update_dashboard(
                    request={"dashboard": body}, **CALL))
            except Conflict as exc:
                raise errors.PreconditionFailed(f"409 Conflict: dashboard {rid.name} changed "
                                                f"since it was read: {exc.message}",
                                                status=409) from exc

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"dashboard {rid.name}"):
            try:
                self.clients.get(DASHBOARDS).delete_dashboard(request={"name": rid.name}, **CALL)
            except NotFound:
                return


# What the server adds to every xyChart when unset (hashicorp/terraform-provider-google#7242,
# #16173, #9976): left out of an import at these values.
_SERVER_DATA_SET = {"plotType": "LINE", "targetAxis": "Y1", "minAlignmentPeriod": "60s"}
_SERVER_CHART = {"chartOptions": {"mode": "COLOR"}, "yAxis": {"label": "y1Axis", "scale": "LINEAR"}}


def _undecorated(value: Any) -> Any:
    """A live layout without the server's chart decorations (``_SERVER_CHART``)."""
    if isinstance(value, list):
        return [_undecorated(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _undecorated(item) for key, item in value.items()}
    chart = out.get("xyChart")
    if isinstance(chart, dict):
        chart = {k: v for k, v in chart.items() if _SERVER_CHART.get(k) != v}
        if isinstance(chart.get("dataSets"), list):
            chart["dataSets"] = [{k: v for k, v in d.items() if _SERVER_DATA_SET.get(k) != v}
                                 if isinstance(d, dict) else d for d in chart["dataSets"]]
        out["xyChart"] = chart
    return out


def without_defaults(value: Any) -> Any:
    """``value`` without proto3 scalar defaults (``0``, ``false``, ``""``), which the API never
    returns; empty maps stay (an empty message, such as ``blank: {}``, means something)."""
    if isinstance(value, dict):
        return {k: without_defaults(v) for k, v in value.items()
                if not (v is False or v == "" or (isinstance(v, (int, float))
                                                  and not isinstance(v, bool) and v == 0))}
    if isinstance(value, list):
        return [without_defaults(item) for item in value]
    return value

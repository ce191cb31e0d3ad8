"""``DashboardsService``: Cloud Monitoring dashboards v1 (``monitoring.projects.dashboards``).

| behaviour | source |
|---|---|
| routes ``POST/GET /v1/projects/P/dashboards``, ``GET/PATCH/DELETE /v1/projects/P/dashboards/D``; ``validateOnly`` on create and patch checks without saving | monitoring v1 discovery ``projects.dashboards.*`` |
| a client may choose the name (``projects/P/dashboards/ID``, P the parent's project) or leave it to the server; an existing name is 409 | dashboard.proto ``Dashboard.name``; dashboards_service.proto ``CreateDashboardRequest`` |
| ``displayName`` required; one layout (grid, mosaic, row or column) | dashboard.proto (``display_name`` REQUIRED, ``layout`` oneof) |
| bodies are parsed as the ``Dashboard`` proto: unknown fields are a 400, enums may come as numbers (the REST client sends ``enum-encoding=int``) and are returned as names, proto3 defaults (``xPos: 0``) are not returned | google-cloud-monitoring-dashboards REST transport; proto3 JSON mapping |
| the server decorates charts: each ``xyChart`` data set gains ``plotType: LINE``, ``targetAxis: Y1``, ``minAlignmentPeriod: 60s``; the chart gains ``chartOptions.mode: COLOR`` and ``yAxis {label: y1Axis, scale: LINEAR}`` | hashicorp/terraform-provider-google#7242 (the dashboard read back carries them), #16173, #9976; GoogleCloudPlatform/k8s-config-connector PR #2167 (server-side defaulting of y1Axis) |
| every write sets a new ``etag``; a PATCH carrying an older etag is a 409 ABORTED, one without an etag overwrites; a PATCH replaces the whole dashboard | dashboard.proto ``etag`` ("optimistic concurrency control"); research/clients.md e. (full-replace PATCH, Terraform copies the old etag in) |
| list is paged (``pageSize`` up to 1000, ``pageToken``) | monitoring v1 discovery ``projects.dashboards.list`` |

State (JSON): ``dashboards`` name -> REST JSON; ``counter``. The API is
``monitoring.googleapis.com`` (dashboards are part of it), on by default.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from typing import Any

from mlops_infra.emulator.core import HttpError, Request, Response, Route, Service
from mlops_infra.emulator.util import bool_param, int_param, page

BASE = "/v1/projects/{project}/dashboards"
_LAYOUTS = ("gridLayout", "mosaicLayout", "rowLayout", "columnLayout")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class DashboardsService(Service):
    """Dashboards of Cloud Monitoring v1."""

    name = "dashboards"
    api = "monitoring.googleapis.com"
    api_title = "Cloud Monitoring API"

    def initial_state(self) -> dict[str, Any]:
        return {"dashboards": {}, "counter": 0}

    def routes(self) -> list[Route]:
        return [Route("POST", BASE, self.create), Route("GET", BASE, self.list),
                Route("GET", BASE + "/{dashboard}", self.get),
                Route("PATCH", BASE + "/{dashboard}", self.patch),
                Route("DELETE", BASE + "/{dashboard}", self.delete)]

    def project_of(self, request: Request) -> str | None:
        return request.params.get("project")

    def create(self, request: Request) -> dict[str, Any]:
        project = request.params["project"]
        body = _parsed(request.json())
        name = body.get("name") or f"projects/{project}/dashboards/{uuid.uuid4()}"
        _check_name(name, project)
        if name in self.state["dashboards"]:
            raise HttpError(409, f"Dashboard {name} already exists.", status="ALREADY_EXISTS")
        stored = self._stored(body, name)
        if not bool_param(request.query, "validateOnly"):
            self.state["dashboards"][name] = stored
        return stored

    def get(self, request: Request) -> dict[str, Any]:
        return copy.deepcopy(self._find(request))

    def list(self, request: Request) -> dict[str, Any]:
        prefix = f"projects/{request.params['project']}/dashboards/"
        mine = [d for n, d in self.state["dashboards"].items() if n.startswith(prefix)]
        size = min(int_param(request.query, "pageSize") or 1000, 1000)
        chosen, token = page(mine, key=lambda d: d["name"], max_results=size,
                             token=request.query.get("pageToken"))
        out: dict[str, Any] = {"dashboards": chosen}
        if token:
            out["nextPageToken"] = token
        return out

    def patch(self, request: Request) -> dict[str, Any]:
        current = self._find(request)
        body = _parsed(request.json())
        if body.get("name", current["name"]) != current["name"]:
            raise HttpError(400, "The dashboard name in the body does not match the URL.")
        if body.get("etag") and body["etag"] != current["etag"]:
            raise HttpError(409, f"The dashboard {current['name']} was changed since it was read "
                                 "(etag mismatch); read it again and retry.", status="ABORTED")
        stored = self._stored(body, current["name"])
        if not bool_param(request.query, "validateOnly"):
            self.state["dashboards"][current["name"]] = stored
        return stored

    def delete(self, request: Request) -> Response:
        current = self._find(request)
        del self.state["dashboards"][current["name"]]
        return Response.of_json({})

    def _find(self, request: Request) -> dict[str, Any]:
        name = f"projects/{request.params['project']}/dashboards/{request.params['dashboard']}"
        if name not in self.state["dashboards"]:
            raise HttpError(404, f"Requested entity was not found: {name}", status="NOT_FOUND")
        return self.state["dashboards"][name]  # type: ignore[no-any-return]

    def _stored(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        if not body.get("displayName"):
            raise HttpError(400, "Field displayName is required.", reason="invalid")
        if sum(1 for key in _LAYOUTS if key in body) != 1:
            raise HttpError(400, "A dashboard needs exactly one layout: gridLayout, mosaicLayout, "
                                 "rowLayout or columnLayout.")
        stored = _decorated({**body, "name": name})
        self.state["counter"] += 1
        text = json.dumps(stored, sort_keys=True) + str(self.state["counter"])
        stored["etag"] = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
        return stored


def _parsed(body: Any) -> dict[str, Any]:
    """``body`` read as the ``Dashboard`` proto and written back as Google's JSON."""
    from google.cloud.monitoring_dashboard_v1.types import Dashboard
    from google.protobuf import json_format

    if not isinstance(body, dict):
        raise HttpError(400, "Invalid JSON payload received: expected an object.")
    try:
        message = json_format.ParseDict(body, Dashboard.pb()())
    except json_format.ParseError as exc:
        raise HttpError(400, f"Invalid JSON payload received. {exc}") from None
    return dict(json_format.MessageToDict(message))


def _check_name(name: str, project: str) -> None:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "dashboards" \
            or not _ID.match(parts[3]):
        raise HttpError(400, f"Invalid dashboard name {name!r}: expected "
                             "projects/PROJECT/dashboards/ID")
    if parts[1] != project:
        raise HttpError(400, f"The dashboard's project {parts[1]!r} does not match the parent "
                             f"projects/{project}.")


def _decorated(value: Any) -> Any:
    """``value`` with the defaults the server adds to every xyChart (see the module table)."""
    if isinstance(value, list):
        return [_decorated(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _decorated(item) for key, item in value.items()}
    chart = out.get("xyChart")
    if isinstance(chart, dict):
        for data_set in chart.get("dataSets", []):
            data_set.setdefault("plotType", "LINE")
            data_set.setdefault("targetAxis", "Y1")
            data_set.setdefault("minAlignmentPeriod", "60s")
        chart.setdefault("chartOptions", {}).setdefault("mode", "COLOR")
        chart.setdefault("yAxis", {"label": "y1Axis", "scale": "LINEAR"})
    return out

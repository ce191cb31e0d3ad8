"""The Service Usage v1 service: API enablement per project, with long-running operations.

Semantics kept (enablement state lives in the emulator's ``Platform``, shared with the API
gate of every other service): a fresh project has Google's default-enabled APIs on
(``platform.DEFAULT_ENABLED``) and everything else off. ``enable``/``disable``/``batchEnable``
answer an operation lasting ``Delays.operation_for("serviceusage")``; the API's state changes
when the operation is done, and an enabled API is usable by the other services only
``Delays.api_enablement`` seconds later (their 403 SERVICE_DISABLED until then). Enabling an
enabled API answers GCP's already-done ``operations/noop.DONE_OPERATION``. ``list`` knows the
default-enabled APIs and those ever changed here (GCP would list every public API as
DISABLED); ``filter=state:ENABLED|DISABLED`` is honoured. Service dependencies (enabling one
enables others) are not modelled.

State (JSON): ``operations`` name -> stored op; ``sequence`` numbers operations (API states
are in the platform state).
"""

from __future__ import annotations

import re
from typing import Any

from mlops_infra.emulator import operations
from mlops_infra.emulator.core import HttpError, Request, Route, Service
from mlops_infra.emulator.platform import Platform
from mlops_infra.emulator.util import int_param, page

SV = "/v1/projects/{project}/services"
_TYPES = "type.googleapis.com/google.api.serviceusage.v1."
_API_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$")
NOOP_OPERATION = "operations/noop.DONE_OPERATION"
_BATCH_LIMIT = 20


class ServiceUsageService(Service):
    """``services.*`` and ``operations.get`` of the Service Usage API v1."""

    name = "serviceusage"
    api = "serviceusage.googleapis.com"
    api_title = "Service Usage API"

    def __init__(self) -> None:
        super().__init__()
        self._own_platform = Platform(api_delay=lambda: 0.0)

    def initial_state(self) -> dict[str, Any]:
        return {"operations": {}, "sequence": 0}

    def load_state(self, state: dict[str, Any]) -> None:
        legacy = state.pop("projects", None)          # states saved before the platform existed
        super().load_state(state)
        for project, apis in (legacy or {}).items():
            for api, value in apis.items():
                if value == "ENABLED" and self.platform.api_state(project, api) != "ENABLED":
                    self.platform.preenable(project, [api])

    @property
    def platform(self) -> Platform:
        return self.emulator.platform if self.emulator is not None else self._own_platform

    def project_of(self, request: Request) -> str | None:
        return request.params.get("project")

    def routes(self) -> list[Route]:
        return [
            Route("POST", SV + ":batchEnable", self.batch_enable),
            Route("GET", SV, self.list_services),
            Route("POST", SV + "/{service}:enable", self.enable),
            Route("POST", SV + "/{service}:disable", self.disable),
            Route("GET", SV + "/{service}", self.get_service),
            Route("GET", "/v1/operations/{operation}", self.get_operation),
        ]

    # -- services -------------------------------------------------------------------------
    def get_service(self, request: Request) -> dict[str, Any]:
        project, api = request.params["project"], _api(request.params["service"])
        return render(project, api, self._state_of(project, api))

    def list_services(self, request: Request) -> dict[str, Any]:
        project = request.params["project"]
        wanted = _state_filter(request.query.get("filter", ""))
        states = {api: self._state_of(project, api) for api in self.platform.known_apis(project)}
        found = [render(project, api, state) for api, state in states.items()
                 if wanted is None or state == wanted]
        chosen, token = page(found, key=lambda s: s["name"],
                             max_results=_page_size(request), token=request.query.get("pageToken"),
                             default_size=50)
        result: dict[str, Any] = {}
        if chosen:
            result["services"] = chosen
        if token:
            result["nextPageToken"] = token
        return result

    def enable(self, request: Request) -> dict[str, Any]:
        project, api = request.params["project"], _api(request.params["service"])
        return self._change(project, [api], "ENABLED", "EnableServiceResponse")

    def disable(self, request: Request) -> dict[str, Any]:
        project, api = request.params["project"], _api(request.params["service"])
        return self._change(project, [api], "DISABLED", "DisableServiceResponse")

    def batch_enable(self, request: Request) -> dict[str, Any]:
        project = request.params["project"]
        ids = request.json().get("serviceIds") or []
        if not isinstance(ids, list) or not ids or len(ids) > _BATCH_LIMIT:
            raise HttpError(400, f"serviceIds must list 1 to {_BATCH_LIMIT} services")
        return self._change(project, [_api(i) for i in ids], "ENABLED",
                            "BatchEnableServicesResponse")

    # -- operations -----------------------------------------------------------------------
    def get_operation(self, request: Request) -> dict[str, Any]:
        name = "operations/" + request.params["operation"]
        op = self.state["operations"].get(name)
        if op is None:
            raise HttpError(404, f"Operation '{name}' not found.")
        return operations.render(op)

    def _change(self, project: str, apis: list[str], target: str, response_type: str
                ) -> dict[str, Any]:
        if all(self._state_of(project, api) == target for api in apis):
            return _noop(project, apis, target, response_type)
        self.state["sequence"] += 1
        name = f"operations/acat.p2-{self.state['sequence']:06d}"
        op = operations.start(self.state["operations"], name=name, duration=self._duration(),
                              response=_response(project, apis, target, response_type),
                              metadata=_metadata(project, apis))
        for api in apis:                       # takes effect when the operation is done
            self.platform.change_api(project, api, target, at=op["doneAt"])
        return operations.render(op)

    def _duration(self) -> float:
        delays = self.emulator.delays if self.emulator is not None else None
        return delays.operation_for(self.name) if delays is not None else 0.0

    def _state_of(self, project: str, api: str) -> str:
        return self.platform.api_state(project, api)


def render(project: str, api: str, state: str) -> dict[str, Any]:
    """A ``GoogleApiServiceusageV1Service`` resource."""
    return {"name": f"projects/{project}/services/{api}", "parent": f"projects/{project}",
            "config": {"name": api, "title": api.split(".")[0]}, "state": state}


def _noop(project: str, apis: list[str], state: str, response_type: str) -> dict[str, Any]:
    return {"name": NOOP_OPERATION, "done": True,
            "response": _response(project, apis, state, response_type)}


def _response(project: str, apis: list[str], state: str, response_type: str) -> dict[str, Any]:
    """The operation's response: the service(s) as they are once it is done."""
    services = [render(project, api, state) for api in apis]
    response: dict[str, Any] = {"@type": _TYPES + response_type}
    if response_type == "BatchEnableServicesResponse":
        response["services"] = services
    else:
        response["service"] = services[0]
    return response


def _metadata(project: str, apis: list[str]) -> dict[str, Any]:
    return {"@type": _TYPES + "OperationMetadata",
            "resourceNames": [f"projects/{project}/services/{api}" for api in apis]}


def _api(value: Any) -> str:
    if not isinstance(value, str) or not _API_NAME.match(value):
        raise HttpError(400, f"Invalid service name {value!r}: expected e.g. "
                             "'compute.googleapis.com'")
    return value


def _state_filter(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    match = re.fullmatch(r"state\s*[:=]\s*(ENABLED|DISABLED)", text)
    if not match:
        raise HttpError(400, f"Invalid filter {text!r}: only state:ENABLED or state:DISABLED")
    return match.group(1)


def _page_size(request: Request) -> int | None:
    size = int_param(request.query, "pageSize")
    if size is not None and not 0 <= size <= 200:
        raise HttpError(400, "pageSize must be between 0 and 200")
    return size

"""Fidelity of the operations emulators: the dashboards and Secret Manager REST routes exist,
with the same HTTP method, in Google's discovery documents (monitoring v1, secretmanager v1)
and answer with documented fields only; the Monitoring and Logging gRPC tables are the
installed clients' own (request and response classes), and every RPC served is one a client
calls."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.grpc_core import client_methods
from mlops_infra.emulator.logging.service import LoggingService
from mlops_infra.emulator.logging.service import transports as logging_transports
from mlops_infra.emulator.monitoring.service import MonitoringService
from mlops_infra.emulator.monitoring.service import transports as monitoring_transports
from mlops_infra.emulator.services import build_service
from mlops_infra.kinds._clients import DASHBOARDS, SECRET_MANAGER
from tests.emulator.support import PROJECT, raw
from tests.emulator.test_routes_match_discovery import DOCUMENTS, _methods, _undefined_keys
from tests.emulator.test_serviceusage_kms_routes import _pattern

DISCOVERY = {"dashboards": "monitoring.v1.json", "secretmanager": "secretmanager.v1.json"}
pytestmark = pytest.mark.emulator_services("dashboards", "secretmanager")


@cache
def _document(service: str) -> dict[str, Any]:
    return dict(json.loads((DOCUMENTS / DISCOVERY[service]).read_text()))


def _is_documented(service: str, method: str, template: str) -> bool:
    sample = re.sub(r"\{[^}]*\}", "x1", template)
    return any(m["httpMethod"] == method and _pattern(m.get("flatPath", m["path"])).match(sample)
               for m in _methods(_document(service)))


@pytest.mark.parametrize("service", ["dashboards", "secretmanager"])
def test_every_route_is_documented(service: str) -> None:
    routes = build_service(service).route_table
    assert routes
    assert [(r.method, r.template) for r in routes
            if not _is_documented(service, r.method, r.template)] == []


def test_an_undocumented_route_would_be_caught() -> None:
    assert not _is_documented("dashboards", "PUT", "/v1/projects/{p}/dashboards/{d}")
    assert not _is_documented("secretmanager", "GET", "/v1/projects/{p}/secrets/{s}:access")


def _check(service: str, schema: str, value: dict[str, Any]) -> None:
    doc = _document(service)
    assert value and _undefined_keys(value, doc["schemas"][schema], doc, schema) == []


def test_dashboard_and_secret_answers_fit_the_documented_schemas(emulator: Emulator) -> None:
    clients = Clients(project=PROJECT, endpoints=emulator.endpoints)
    clients.get(DASHBOARDS).create_dashboard(request={"parent": f"projects/{PROJECT}", "dashboard": {
        "name": f"projects/{PROJECT}/dashboards/d1", "display_name": "D", "labels": {"a": "b"},
        "mosaic_layout": {"columns": 12, "tiles": [{"width": 6, "height": 4, "widget": {
            "title": "t", "xy_chart": {"data_sets": [{"time_series_query": {
                "time_series_filter": {"filter": 'metric.type="a/b"'}}}]}}}]}}}, retry=None)
    _check("dashboards", "Dashboard", raw(emulator, "dashboards", "GET",
                                          f"/v1/projects/{PROJECT}/dashboards/d1").json())
    _check("dashboards", "ListDashboardsResponse", raw(
        emulator, "dashboards", "GET", f"/v1/projects/{PROJECT}/dashboards").json())
    manager = clients.get(SECRET_MANAGER)
    manager.create_secret(request={"parent": f"projects/{PROJECT}", "secret_id": "s",
                                   "secret": {"replication": {"automatic": {}}}}, retry=None)
    manager.add_secret_version(request={"parent": f"projects/{PROJECT}/secrets/s",
                                        "payload": {"data": b"v"}}, retry=None)
    base = f"/v1/projects/{PROJECT}/secrets/s"
    _check("secretmanager", "Secret", raw(emulator, "secretmanager", "GET", base).json())
    _check("secretmanager", "SecretVersion",
           raw(emulator, "secretmanager", "GET", base + "/versions/1").json())
    _check("secretmanager", "AccessSecretVersionResponse",
           raw(emulator, "secretmanager", "GET", base + "/versions/latest:access").json())


@pytest.mark.parametrize("transport", monitoring_transports() + logging_transports(),
                         ids=lambda t: t.__name__)
def test_the_method_table_is_read_from_the_installed_client(transport: type) -> None:
    table = client_methods(transport)
    assert len(table) >= 4
    for method in table.values():
        request, response = method.rpc(lambda r: r).deserialize(b""), None
        assert isinstance(request, method.request)
        response = method.response.deserialize(b"") if hasattr(method.response, "deserialize") \
            else method.response.FromString(b"")
        assert method.rpc(lambda r: r).serialize(response) == b""


@pytest.mark.parametrize("service", [MonitoringService, LoggingService], ids=lambda s: s.name)
def test_every_rpc_served_is_one_the_clients_call(service: type) -> None:
    served = service().rpcs()
    known = {(m.service, m.name) for t in (monitoring_transports() + logging_transports())
             for m in client_methods(t).values()}
    assert served and all((rpc.service, rpc.name) in known for rpc in served)

"""Fidelity of the Compute emulator: every route exists, with the same HTTP method, in Google's
compute.v1 discovery document, and responses only use fields the document defines."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from mlops_infra.emulator import Emulator
from mlops_infra.emulator.services import build_service
from tests.emulator.support import PROJECT, raw
from tests.emulator.test_routes_match_discovery import (
    DOCUMENTS,
    _methods,
    _normalise,
    _undefined_keys,
)

BASE = f"/compute/v1/projects/{PROJECT}"


@cache
def _document() -> dict[str, Any]:
    return json.loads((DOCUMENTS / "compute.v1.json").read_text())


@cache
def _documented() -> frozenset[tuple[str, str]]:
    doc = _document()
    base = "/" + doc["servicePath"]
    return frozenset((m["httpMethod"], _normalise(base + m["path"])) for m in _methods(doc))


def _check(schema: str, value: dict[str, Any]) -> None:
    doc = _document()
    assert value
    assert _undefined_keys(value, doc["schemas"][schema], doc, schema) == []


pytestmark = pytest.mark.emulator_services("compute")


def test_every_compute_route_is_documented() -> None:
    routes = build_service("compute").route_table
    assert len(routes) >= 20
    undocumented = [(r.method, r.template) for r in routes
                    if (r.method, _normalise(r.template)) not in _documented()]
    assert undocumented == []


def test_an_undocumented_compute_route_would_be_caught() -> None:
    assert ("DELETE", _normalise(BASE + "/global/networks")) not in _documented()
    assert ("PUT", _normalise(BASE + "/global/networks/{n}")) not in _documented()


def _post(emu: Emulator, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = raw(emu, "compute", "POST", BASE + path, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _get(emu: Emulator, path: str) -> dict[str, Any]:
    response = raw(emu, "compute", "GET", BASE + path)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_compute_responses_fit_the_documented_schemas(emulator: Emulator) -> None:
    op = _post(emulator, "/global/networks", {"name": "vpc", "autoCreateSubnetworks": False,
                                              "routingConfig": {"routingMode": "GLOBAL"}})
    _check("Operation", op)
    _check("Operation", _get(emulator, f"/global/operations/{op['name']}"))
    sub_op = _post(emulator, "/regions/r1/subnetworks", {
        "name": "s", "network": "global/networks/vpc", "ipCidrRange": "10.0.0.0/24",
        "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.1.0.0/16"}],
        "logConfig": {"enable": True}})
    _check("Operation", _get(emulator, f"/regions/r1/operations/{sub_op['name']}"))
    _post(emulator, "/global/firewalls", {
        "name": "fw", "network": "global/networks/vpc",
        "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}], "logConfig": {"enable": True}})
    failed = _post(emulator, "/global/firewalls", {
        "name": "fw2", "network": "global/networks/missing", "allowed": [{"IPProtocol": "icmp"}]})
    _check("Operation", _get(emulator, f"/global/operations/{failed['name']}"))
    _check("Network", _get(emulator, "/global/networks/vpc"))
    _check("NetworkList", _get(emulator, "/global/networks"))
    _check("Subnetwork", _get(emulator, "/regions/r1/subnetworks/s"))
    _check("SubnetworkList", _get(emulator, "/regions/r1/subnetworks"))
    _check("Firewall", _get(emulator, "/global/firewalls/fw"))
    _check("FirewallList", _get(emulator, "/global/firewalls"))

"""Fidelity of the Resource Manager emulator: its routes exist in Google's discovery document
(cloudresourcemanager v3, by ``flatPath``) and its responses use only documented fields."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from mlops_infra.emulator.services import build_service
from tests.conftest import start_emulator
from tests.emulator.support import raw
from tests.emulator.test_routes_match_discovery import (
    DOCUMENTS,
    _methods,
    _normalise,
    _undefined_keys,
)


@cache
def _document() -> dict[str, Any]:
    return json.loads((DOCUMENTS / "cloudresourcemanager.v3.json").read_text())


@cache
def _documented() -> frozenset[tuple[str, str]]:
    return frozenset((m["httpMethod"], _normalise("/" + m.get("flatPath", m["path"])))
                     for m in _methods(_document()))


def test_every_route_is_documented() -> None:
    routes = build_service("resourcemanager").route_table
    assert routes
    assert [(r.method, r.template) for r in routes
            if (r.method, _normalise(r.template)) not in _documented()] == []
    assert ("POST", _normalise("/v3/projects/{p}:madeUp")) not in _documented()


def test_storage_bucket_iam_routes_are_documented() -> None:
    from tests.emulator.test_routes_match_discovery import _documented as storage_documented

    iam_routes = [r for r in build_service("storage").route_table if r.template.endswith("/iam")]
    assert {r.method for r in iam_routes} == {"GET", "PUT"}
    assert all((r.method, _normalise(r.template)) in storage_documented("storage")
               for r in iam_routes)


def _check(schema: str, value: dict[str, Any]) -> None:
    doc = _document()
    assert value
    assert _undefined_keys(value, doc["schemas"][schema], doc, schema) == []


def test_responses_fit_the_documented_schemas() -> None:
    with start_emulator(("resourcemanager",)) as emu:
        base = "/v3/projects/test-project"
        _check("Project", raw(emu, "resourcemanager", "GET", base).json())
        policy = raw(emu, "resourcemanager", "POST", base + ":getIamPolicy", json={}).json()
        policy["auditConfigs"] = [{"service": "allServices",
                                   "auditLogConfigs": [{"logType": "DATA_READ"}]}]
        policy["bindings"].append({"role": "roles/x.y", "members": ["user:a@b.com"],
                                   "condition": {"title": "t", "expression": "true"}})
        policy["version"] = 3
        written = raw(emu, "resourcemanager", "POST", base + ":setIamPolicy",
                      json={"policy": policy, "updateMask": "bindings,etag,auditConfigs"})
        assert written.status_code == 200, written.text
        _check("Policy", written.json())

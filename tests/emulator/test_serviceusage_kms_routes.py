"""Fidelity of the Service Usage and KMS emulators: every route exists, with the same HTTP
method, in Google's discovery documents (paths compared on their ``flatPath``), and
responses only use documented fields."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from mlops_infra.emulator import Emulator
from mlops_infra.emulator.services import build_service
from tests.conftest import start_emulator
from tests.emulator.support import PROJECT, raw
from tests.emulator.test_routes_match_discovery import DOCUMENTS, _methods, _undefined_keys

DISCOVERY = {"serviceusage": "serviceusage.v1.json", "kms": "cloudkms.v1.json"}


@cache
def _document(service: str) -> dict[str, Any]:
    return json.loads((DOCUMENTS / DISCOVERY[service]).read_text())


def _pattern(flat_path: str) -> re.Pattern[str]:
    """A documented flat path as a regex: each ``{x}`` is one path segment."""
    parts = re.split(r"(\{[^}]*\})", "/" + flat_path)
    return re.compile("".join("[^/:]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


@cache
def _documented(service: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    doc = _document(service)
    return tuple((m["httpMethod"], _pattern(m.get("flatPath", m["path"])))
                 for m in _methods(doc))


def _is_documented(service: str, method: str, template: str) -> bool:
    sample = re.sub(r"\{[^}]*\}", "x1", template)
    return any(m == method and p.match(sample) for m, p in _documented(service))


@pytest.mark.parametrize("service", sorted(DISCOVERY))
def test_every_route_is_documented(service: str) -> None:
    routes = build_service(service).route_table
    assert routes
    assert [(r.method, r.template) for r in routes
            if not _is_documented(service, r.method, r.template)] == []


def test_the_matcher_rejects_wrong_methods_and_paths() -> None:
    assert not _is_documented("kms", "DELETE", "/v1/projects/{p}/locations/{l}/keyRings")
    assert not _is_documented("kms", "GET", "/v1/projects/{p}/locations/{l}/keyRings/{r}:nope")
    assert not _is_documented("serviceusage", "PUT", "/v1/projects/{p}/services/{s}")
    assert _is_documented("serviceusage", "POST", "/v1/projects/{p}/services/{s}:enable")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = start_emulator(("serviceusage", "kms", "storage", "bigquery"))
    try:
        yield emulator
    finally:
        emulator.stop()


def _check(service: str, schema: str, value: dict[str, Any]) -> None:
    doc = _document(service)
    assert value
    assert _undefined_keys(value, doc["schemas"][schema], doc, schema) == []


def test_responses_fit_the_documented_schemas(emu: Emulator) -> None:
    su = f"/v1/projects/{PROJECT}/services"
    op = raw(emu, "serviceusage", "POST", su + "/compute.googleapis.com:enable").json()
    _check("serviceusage", "Operation", op)
    _check("serviceusage", "GoogleApiServiceusageV1Service",
           raw(emu, "serviceusage", "GET", su + "/compute.googleapis.com").json())
    _check("serviceusage", "ListServicesResponse", raw(emu, "serviceusage", "GET", su).json())
    loc = f"/v1/projects/{PROJECT}/locations/us"
    _check("kms", "KeyRing", raw(emu, "kms", "POST", loc + "/keyRings",
                                 params={"keyRingId": "r"}, json={}).json())
    key = raw(emu, "kms", "POST", loc + "/keyRings/r/cryptoKeys", params={"cryptoKeyId": "k"},
              json={"purpose": "ENCRYPT_DECRYPT", "rotationPeriod": "86400s",
                    "nextRotationTime": "2030-01-01T00:00:00Z", "labels": {"a": "b"}}).json()
    _check("kms", "CryptoKey", key)
    _check("kms", "ListCryptoKeysResponse",
           raw(emu, "kms", "GET", loc + "/keyRings/r/cryptoKeys").json())
    _check("kms", "ListKeyRingsResponse", raw(emu, "kms", "GET", loc + "/keyRings").json())
    _check("kms", "ListCryptoKeyVersionsResponse",
           raw(emu, "kms", "GET", loc + "/keyRings/r/cryptoKeys/k/cryptoKeyVersions").json())
    _check("kms", "CryptoKeyVersion", raw(
        emu, "kms", "POST", loc + "/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1:destroy").json())
    policy = {"bindings": [{"role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                            "members": ["user:a@example.com"]}]}
    _check("kms", "Policy", raw(emu, "kms", "POST", loc + "/keyRings/r/cryptoKeys/k:setIamPolicy",
                                json={"policy": policy}).json())


def test_service_agent_routes_are_documented() -> None:
    from tests.emulator.test_routes_match_discovery import _documented as documented
    from tests.emulator.test_routes_match_discovery import _normalise

    assert ("GET", _normalise("/storage/v1/projects/{p}/serviceAccount")) in documented("storage")
    assert ("GET", _normalise("/bigquery/v2/projects/{p}/serviceAccount")) in \
        documented("bigquery")

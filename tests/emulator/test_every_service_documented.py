"""Fidelity, for every emulated service at once: each REST route the emulator serves is a
method (same HTTP verb, same path shape) of that service's discovery document.

The per-service route tests check their own service in more depth (media paths, response
schemas); this one enrols every service automatically, so a new service cannot ship a route
Google does not have, nor a REST service without its discovery document.
"""

from __future__ import annotations

import re

import pytest

from mlops_infra.emulator.services import build_service, service_names
from tests.emulator.discovery_check import DISCOVERY, method_of

_PARAMETER = re.compile(r"\{[^}]*\}")


def _rest_services() -> list[str]:
    return [name for name in service_names() if build_service(name).route_table]


def _sample_path(template: str) -> str:
    """A concrete path for a route template: every parameter one plain segment."""
    return _PARAMETER.sub("sample-1", template)


def undocumented_routes(service: str) -> list[tuple[str, str]]:
    """The (HTTP verb, template) routes of ``service`` no discovery method serves."""
    return [(route.method, route.template) for route in build_service(service).route_table
            if method_of(service, route.method, _sample_path(route.template)) is None]


@pytest.mark.parametrize("service", _rest_services())
def test_every_rest_route_is_a_documented_method(service: str) -> None:
    assert service in DISCOVERY, f"{service} serves REST: name its discovery document"
    assert undocumented_routes(service) == []


def test_a_made_up_route_or_verb_would_be_caught() -> None:
    assert method_of("storage", "GET", _sample_path("/storage/v1/b/{bucket}/nonsense")) is None
    assert method_of("storage", "PUT", _sample_path("/storage/v1/b")) is None
    assert method_of("storage", "GET", _sample_path("/storage/v1/b/{bucket}")) is not None


def test_every_service_is_enrolled() -> None:
    rest = set(_rest_services())
    assert {"storage", "bigquery", "compute", "kms"} <= rest
    assert rest <= set(service_names())

"""The Service Usage emulator through the real google-cloud-service-usage REST client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from google.api_core import exceptions as gexc

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.platform import DEFAULT_ENABLED
from mlops_infra.kinds._clients import SERVICE_USAGE
from tests.conftest import start_emulator
from tests.emulator.support import PROJECT, raw

COMPUTE = f"projects/{PROJECT}/services/compute.googleapis.com"
CALL = {"retry": None, "timeout": 10}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = start_emulator(("serviceusage",))
    try:
        yield emulator
    finally:
        emulator.set_operation_duration(0)
        emulator.stop()


def client(emu: Emulator):  # type: ignore[no-untyped-def]
    return Clients(project=PROJECT, endpoints=emu.endpoints).get(SERVICE_USAGE)


def _state(emu: Emulator, name: str = COMPUTE) -> str:
    return client(emu).get_service(request={"name": name}, **CALL).state.name


def test_a_fresh_project_has_only_the_default_apis_enabled(emu: Emulator) -> None:
    assert _state(emu) == "DISABLED"
    listed = client(emu).list_services(request={"parent": f"projects/{PROJECT}",
                                                "filter": "state:ENABLED"}, **CALL)
    names = {s.config.name for s in listed}
    assert names == DEFAULT_ENABLED
    assert {"storage.googleapis.com", "bigquery.googleapis.com"} <= names
    assert not names & {"compute.googleapis.com", "cloudkms.googleapis.com", "iam.googleapis.com"}


def test_enable_then_list_enabled_and_disable(emu: Emulator) -> None:
    su = client(emu)
    result = su.enable_service(request={"name": COMPUTE}, **CALL).result(timeout=10)
    assert result.service.state.name == "ENABLED"
    assert _state(emu) == "ENABLED"
    listed = su.list_services(request={"parent": f"projects/{PROJECT}",
                                       "filter": "state:ENABLED"}, **CALL)
    assert {s.config.name for s in listed} - DEFAULT_ENABLED == {"compute.googleapis.com"}
    su.disable_service(request={"name": COMPUTE}, **CALL).result(timeout=10)
    assert _state(emu) == "DISABLED"


def test_state_changes_only_when_the_operation_is_done(emu: Emulator) -> None:
    emu.set_operation_duration(0.4)
    op = client(emu).enable_service(request={"name": COMPUTE}, **CALL)
    assert not op.done(retry=None)
    assert _state(emu) == "DISABLED"
    time.sleep(0.45)
    assert op.done(retry=None)
    assert _state(emu) == "ENABLED"
    polls = [e for e in emu.journal if e.path.startswith("/v1/operations/")]
    assert polls and all(e.method == "GET" for e in polls)


def test_enabling_an_enabled_api_is_a_done_noop(emu: Emulator) -> None:
    su = client(emu)
    su.enable_service(request={"name": COMPUTE}, **CALL).result(timeout=10)
    emu.set_operation_duration(30)
    op = su.enable_service(request={"name": COMPUTE}, **CALL)
    assert op.operation.name == "operations/noop.DONE_OPERATION"
    assert op.done(retry=None)


def test_batch_enable(emu: Emulator) -> None:
    su = client(emu)
    op = su.batch_enable_services(request={
        "parent": f"projects/{PROJECT}",
        "service_ids": ["storage.googleapis.com", "bigquery.googleapis.com"]}, **CALL)
    assert sorted(s.config.name for s in op.result(timeout=10).services) == [
        "bigquery.googleapis.com", "storage.googleapis.com"]
    assert _state(emu, f"projects/{PROJECT}/services/bigquery.googleapis.com") == "ENABLED"


def test_list_pages(emu: Emulator) -> None:
    su = client(emu)
    apis = [f"api{i}.googleapis.com" for i in range(5)]
    su.batch_enable_services(request={"parent": f"projects/{PROJECT}", "service_ids": apis},
                             **CALL).result(timeout=10)
    pager = su.list_services(request={"parent": f"projects/{PROJECT}", "page_size": 2}, **CALL)
    names = sorted(s.config.name for s in pager)
    assert set(apis) <= set(names) and len(names) == len(set(names))
    assert len([e for e in emu.journal if e.path.endswith("/services")]) == -(-len(names) // 2)


def test_bad_names_and_unknown_operations(emu: Emulator) -> None:
    with pytest.raises(gexc.BadRequest):
        client(emu).get_service(request={"name": f"projects/{PROJECT}/services/nope"}, **CALL)
    assert raw(emu, "serviceusage", "GET", "/v1/operations/acat.missing").status_code == 404
    bad = raw(emu, "serviceusage", "GET", f"/v1/projects/{PROJECT}/services",
              params={"filter": "name:x"})
    assert bad.status_code == 400

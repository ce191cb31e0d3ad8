"""The Workbench (notebooks v2) emulator through the real notebooks_v2 REST client: zones,
start/stop, the server's metadata keys and tags, input-only fields, STOPPED-only updates, one
operation at a time, and every route and answer fitting the notebooks v2 discovery document."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.protobuf import json_format

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.notebooks.instances import PROVIDED_METADATA, PROVIDED_TAGS
from mlops_infra.emulator.services import build_service
from mlops_infra.kinds._clients import NOTEBOOKS
from tests.emulator import discovery_check
from tests.emulator.support import PROJECT, raw

pytestmark = pytest.mark.emulator_services("notebooks")
ZONE = f"projects/{PROJECT}/locations/us-central1-a"
NAME = f"{ZONE}/instances/wb"


def _client(emu: Emulator) -> Any:
    return Clients(project=PROJECT, endpoints=emu.endpoints).get(NOTEBOOKS)


def _done(client: Any, operation: Any) -> None:
    for _ in range(500):
        try:
            found = client.transport.operations_client.get_operation(
                operation.operation.name, retry=None, timeout=5)
        except json_format.ParseError:
            return          # done: the response has fields this client version lacks
        if found.done:
            return
        time.sleep(0.01)
    raise AssertionError("operation never done")


def _create(client: Any, **setup: Any) -> None:
    _done(client, client.create_instance(request={
        "parent": ZONE, "instance_id": "wb",
        "instance": {"gce_setup": {"metadata": {"idle-timeout-seconds": "3600"}, **setup},
                     "instance_owners": ["alice@acme.com"], "labels": {"team": "ml"}}},
        retry=None))


def test_a_new_instance_gets_the_servers_defaults_and_keeps_no_input_only_field(emulator: Emulator):
    client = _client(emulator)
    _create(client, data_disks=[{"disk_size_gb": 200, "disk_type": 3}])
    got = client.get_instance(request={"name": NAME}, retry=None)
    assert got.state.name == "ACTIVE"
    assert got.gce_setup.machine_type.endswith("/zones/us-central1-a/machineTypes/e2-standard-4")
    assert dict(got.gce_setup.metadata).items() >= {"idle-timeout-seconds": "3600",
                                                    **PROVIDED_METADATA}.items()
    assert set(PROVIDED_TAGS) <= set(got.gce_setup.tags)
    assert list(got.instance_owners) == []                       # input only
    assert got.gce_setup.data_disks[0].disk_size_gb == 200
    assert got.gce_setup.data_disks[0].disk_type == 0            # input only for a data disk
    assert got.gce_setup.boot_disk.disk_size_gb == 150


def test_machine_type_changes_only_while_stopped_and_start_stop_change_the_state(emulator: Emulator):
    client = _client(emulator)
    _create(client)
    change = {"instance": {"name": NAME, "gce_setup": {"machine_type": "n1-standard-8"}},
              "update_mask": {"paths": ["gce_setup.machine_type"]}}
    with pytest.raises(gexc.BadRequest, match="must be STOPPED"):
        client.update_instance(request=change, retry=None)
    with pytest.raises(gexc.BadRequest, match="Invalid update_mask"):
        client.update_instance(request={**change, "update_mask": {"paths": ["gce_setup"]}}, retry=None)
    emulator.set_delays(operations={"notebooks.lifecycle": 0.3})
    stopping = client.stop_instance(request={"name": NAME}, retry=None)
    assert client.get_instance(request={"name": NAME}, retry=None).state.name == "STOPPING"
    with pytest.raises(gexc.Conflict, match="unable to queue the operation"):
        client.start_instance(request={"name": NAME}, retry=None)
    _done(client, stopping)
    assert client.get_instance(request={"name": NAME}, retry=None).state.name == "STOPPED"
    _done(client, client.update_instance(request=change, retry=None))
    _done(client, client.start_instance(request={"name": NAME}, retry=None))
    got = client.get_instance(request={"name": NAME}, retry=None)
    assert got.state.name == "ACTIVE" and got.gce_setup.machine_type.endswith("/n1-standard-8")


def test_a_metadata_update_replaces_the_users_keys_and_keeps_the_servers(emulator: Emulator):
    client = _client(emulator)
    _create(client)
    _done(client, client.update_instance(request={
        "instance": {"name": NAME, "gce_setup": {"metadata": {"idle-timeout-seconds": "",
                                                              "mine": "1"}}},
        "update_mask": {"paths": ["gce_setup.metadata"]}}, retry=None))
    metadata = dict(client.get_instance(request={"name": NAME}, retry=None).gce_setup.metadata)
    assert metadata.get("mine") == "1" and "idle-timeout-seconds" not in metadata
    assert metadata.items() >= PROVIDED_METADATA.items()


def test_public_ip_is_only_turned_off_and_locations_are_zones(emulator: Emulator):
    client = _client(emulator)
    _create(client)
    with pytest.raises(gexc.BadRequest, match="only be set to true"):
        client.update_instance(request={"instance": {"name": NAME, "gce_setup": {}},
                                        "update_mask": {"paths": ["gce_setup.disable_public_ip"]}},
                               retry=None)
    response = raw(emulator, "notebooks", "GET", f"/v2/projects/{PROJECT}/locations/us-central1/instances")
    assert response.status_code == 400 and "zone" in response.json()["error"]["message"]


def test_delete_removes_it_when_its_operation_is_done(emulator: Emulator):
    client = _client(emulator)
    _create(client)
    _done(client, client.delete_instance(request={"name": NAME}, retry=None))
    with pytest.raises(gexc.NotFound):
        client.get_instance(request={"name": NAME}, retry=None)


def test_every_route_is_in_the_discovery_document():
    routes = build_service("notebooks").route_table
    missing = [(r.method, r.template) for r in routes
               if discovery_check.method_of("notebooks", r.method,
                                            re.sub(r"\{([^}]+)\}", "x", r.template)) is None]
    assert routes and missing == []


def test_answers_fit_the_documented_schemas(emulator: Emulator):
    emulator.record_bodies()
    client = _client(emulator)
    _create(client, accelerator_configs=[{"type": 4, "core_count": 1}],
            network_interfaces=[{"network": f"projects/{PROJECT}/global/networks/vpc"}])
    _done(client, client.stop_instance(request={"name": NAME}, retry=None))
    list(client.list_instances(request={"parent": ZONE}, retry=None))
    problems = [p for e in emulator.journal for p in discovery_check.check_entry(e)]
    assert len(emulator.journal) > 3 and problems == []

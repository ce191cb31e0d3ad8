"""workbench.Instance over the real notebooks_v2 REST client against the emulator: the
canonical shape and its guardrails, no perpetual diff from the server's keys and URLs or from
input-only fields, restarts only where a change needs the instance stopped (and never of a
stopped one), metadata removal, replaces for what cannot change in place, and a data disk
that is never deleted without the allow."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.diff import compare
from mlops_infra.engine.kind import ResourceId
from mlops_infra.engine.ownership import with_managed_labels
from mlops_infra.kinds._clients import NOTEBOOKS
from mlops_infra.kinds.workbench.instance import Instance
from tests.kinds.kinds_testlib import PROJECT, STACK, ctx, fields

pytestmark = pytest.mark.emulator_services("notebooks", "resourcemanager")
KEY = f"projects/{PROJECT}/locations/europe-west1/keyRings/ml/cryptoKeys/disks"
BASE = {"zone": "europe-west1-b", "machineType": "e2-standard-4", "instanceOwners": ["alice@acme.com"],
        "idleShutdownSeconds": 3600, "dataDisk": {"diskSizeGb": 200}, "labels": {"owner": "alice"}}


def _place(raw: dict[str, Any], clients: Clients | None = None) -> tuple[Instance, ResourceId, dict[str, Any]]:
    kind = Instance(clients)
    values = fields(Instance, raw)
    place = ctx("wb-alice")
    return kind, kind.identify(place, values), with_managed_labels(kind, kind.desired(place, values),
                                                                    STACK, place.address)


def _stop(clients: Clients, rid: ResourceId) -> None:
    Instance(clients)._call("stop", "stop_instance", {"name": rid.name})


def test_shorthands_no_public_ip_by_default_and_the_guardrails() -> None:
    kind, rid, desired = _place({**BASE, "kmsKey": KEY, "network": "ml-vpc",
                                 "subnetwork": "projects/host-project/regions/europe-west1/subnetworks/s"})
    assert rid.name == f"projects/{PROJECT}/locations/europe-west1-b/instances/wb-alice"
    setup = desired["gceSetup"]
    assert setup["disablePublicIp"] is True
    assert setup["networkInterface"] == {"network": f"projects/{PROJECT}/global/networks/ml-vpc",
                                         "subnet": "projects/host-project/regions/europe-west1/subnetworks/s"}
    assert setup["bootDisk"] == {"diskEncryption": "CMEK", "kmsKey": KEY}
    assert setup["dataDisk"] == {"diskSizeGb": "200", "diskEncryption": "CMEK", "kmsKey": KEY}
    assert setup["metadata"] == {"idle-timeout-seconds": "3600"}
    assert kind.check_policy(desired, {"require_cmek": True}) == []
    _, _, public = _place({**BASE, "disablePublicIp": False})
    rules = {v.rule for v in kind.check_policy(public, {"require_cmek": True})}
    assert rules == {"workbench-no-public-ip", "require-cmek"}


@pytest.mark.parametrize("raw", [{"zone": "europe-west1"}, {"zone": "europe-west1-b", "instanceOwners": ["a@x", "b@x"]},
                                 {"zone": "europe-west1-b", "instanceOwners": ["user:a@x.com"]},
                                 {"zone": "europe-west1-b", "idleShutdownSeconds": 60},
                                 {"zone": "europe-west1-b", "gpu": {"type": "NVIDIA_T4"}}])
def test_invalid_specs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Instance.model.model_validate(raw)


def test_a_min_cpu_platform_the_client_cannot_send_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="google-cloud-notebooks 1.18.0"):
        Instance.model.model_validate({"zone": "europe-west1-b", "minCpuPlatform": "Intel Ice Lake"})


def test_a_key_of_another_region_is_refused_before_any_call() -> None:
    other = KEY.replace("europe-west1", "us-central1")
    assert "zone's region ('europe-west1')" in Instance(None).check_name(
        ctx("wb"), fields(Instance, {**BASE, "kmsKey": other}))


def test_what_the_server_returns_makes_no_diff_and_input_only_changes_replace(clients: Clients) -> None:
    kind, rid, desired = _place(BASE, clients)
    live = kind.create(rid, desired)
    assert live["state"] == "ACTIVE" and "instanceOwners" not in live
    assert compare(kind, desired, kind.normalize(live), desired) == []
    other = {**desired, "instanceOwners": ["bob@acme.com"]}
    changes = compare(kind, other, kind.normalize(live), desired)
    assert [c.path for c in changes] == ["instanceOwners"]
    assert kind.replace_reason(changes)
    bigger = {**desired, "gceSetup": {**desired["gceSetup"], "dataDisk": {"diskSizeGb": "300"}}}
    resize = compare(kind, bigger, kind.normalize(live), desired)
    assert "resizeDisk" in (kind.replace_reason(resize) or "")


def test_a_machine_type_change_restarts_an_active_instance(clients: Clients, emulator: Emulator) -> None:
    kind, rid, desired = _place(BASE, clients)
    live = kind.create(rid, desired)
    bigger = {**desired, "gceSetup": {**desired["gceSetup"], "machineType": "n1-standard-8"}}
    changes = compare(kind, bigger, kind.normalize(live), desired)
    assert "stopped" in (kind.restart_reason(changes, live) or "")
    emulator.clear_journal()
    updated = kind.update(rid, bigger, changes, live)
    assert updated["state"] == "ACTIVE" and updated["gceSetup"]["machineType"].endswith("/n1-standard-8")
    verbs = [e.path.rsplit(":", 1)[-1] if ":" in e.path.rsplit("/", 1)[-1] else e.method
             for e in emulator.mutating_requests("notebooks")]
    assert verbs == ["stop", "PATCH", "start"]


def test_a_stopped_instance_is_updated_as_it_is_and_left_stopped(clients: Clients) -> None:
    kind, rid, desired = _place(BASE, clients)
    kind.create(rid, desired)
    _stop(clients, rid)
    live = kind.get(rid)
    bigger = {**desired, "gceSetup": {**desired["gceSetup"], "machineType": "n1-standard-8"}}
    changes = compare(kind, bigger, kind.normalize(live), desired)
    assert kind.restart_reason(changes, live) is None
    assert kind.update(rid, bigger, changes, live)["state"] == "STOPPED"


def test_only_the_users_metadata_keys_are_compared_and_a_removed_one_goes(clients: Clients) -> None:
    kind, rid, desired = _place({**BASE, "metadata": {"team-flag": "on"}}, clients)
    live = kind.create(rid, desired)
    assert len(live["gceSetup"]["metadata"]) > 5            # the server's own keys
    without = _place(BASE)[2]
    changes = compare(kind, without, kind.normalize(live), desired)
    assert [c.path for c in changes] == ["gceSetup.metadata.team-flag"]
    assert kind.restart_reason(changes, live) is None
    updated = kind.update(rid, without, changes, live)
    assert "team-flag" not in updated["gceSetup"]["metadata"]
    assert updated["gceSetup"]["metadata"]["idle-timeout-seconds"] == "3600"
    assert compare(kind, without, kind.normalize(updated), without) == []


def test_the_data_disk_is_never_deleted_without_the_allow(clients: Clients) -> None:
    kind, rid, desired = _place(BASE, clients)
    kind.create(rid, desired)
    assert kind.data_bearing and kind.holds_data(rid)
    with pytest.raises(errors.PermanentError, match="data disk"):
        kind.delete(rid, force=False)
    assert kind.get(rid) is not None
    kind.delete(rid, force=True)
    assert kind.get(rid) is None


def test_an_operation_in_flight_is_retried_not_a_conflict(clients: Clients, emulator: Emulator) -> None:
    kind, rid, desired = _place(BASE, clients)
    kind.create(rid, desired)
    emulator.set_delays(operations={"notebooks.lifecycle": 5.0})
    clients.get(NOTEBOOKS).stop_instance(request={"name": rid.name}, retry=None)
    with pytest.raises(errors.TransientError, match="unable to queue"):
        kind.delete(rid, force=True)

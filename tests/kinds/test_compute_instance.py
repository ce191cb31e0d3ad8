"""compute.Instance and compute.Router: desired shape (GPUs, spot, families, no external IP),
restarts, the guardrail, and every operation over the real compute client against the
emulator (zone operations waited on, fingerprints re-read, stop/change/start)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.diff import compare
from mlops_infra.engine.kind import ResourceId
from mlops_infra.kinds.compute.instance import Instance
from mlops_infra.kinds.compute.network import Network
from mlops_infra.kinds.compute.router import Router
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, managed

ROOT = "https://www.googleapis.com/compute/v1/"
FAMILY = "projects/debian-cloud/global/images/family/debian-12"
VM: dict[str, Any] = {"zone": "europe-west1-b", "machineType": "n1-standard-4",
                      "bootDisk": {"image": FAMILY, "sizeGb": 20}, "network": "vpc",
                      "serviceAccount": "ml-trainer@test-project.iam.gserviceaccount.com",
                      "metadata": {"startup-script": "echo hi"}, "tags": ["training"],
                      "labels": {"role": "training"}}

pytestmark = pytest.mark.emulator_services("compute")


def build(raw: dict[str, Any], name: str = "vm") -> tuple[ResourceId, dict[str, Any]]:
    kind, f = Instance(None), fields(Instance, raw)
    return kind.identify(ctx(name), f), managed(kind.desired(ctx(name), f))


# --- pure shape ---------------------------------------------------------------------------------

def test_gpus_force_terminate_on_host_maintenance() -> None:
    _, desired = build({**VM, "guestAccelerators": [{"acceleratorType": "nvidia-tesla-t4",
                                                      "acceleratorCount": 1}]})
    assert desired["scheduling"] == {"onHostMaintenance": "TERMINATE"}
    with pytest.raises(ValidationError, match="cannot live-migrate"):
        fields(Instance, {**VM, "guestAccelerators": [{"acceleratorType": "nvidia-tesla-t4",
                                                       "acceleratorCount": 1}],
                          "scheduling": {"onHostMaintenance": "MIGRATE"}})


def test_no_external_ip_unless_written_and_the_guardrail_says_so() -> None:
    _, private = build(VM)
    assert private["networkInterfaces"] == [{"network": f"{ROOT}projects/{PROJECT}/global/networks/vpc",
                                             "accessConfigs": []}]
    assert Instance(None).check_policy(private, {}) == []
    _, public = build({**VM, "externalIp": True})
    (violation,) = Instance(None).check_policy(public, {})
    assert violation.rule == "no-external-ip" and violation.path == "externalIp"


def test_a_family_and_a_pinned_image_are_told_apart() -> None:
    _, family = build(VM)
    assert family["bootDisk"] == {"imageFamily": FAMILY, "sizeGb": "20"}
    _, pinned = build({**VM, "bootDisk": {"image": "projects/debian-cloud/global/images/debian-12-x"}})
    assert pinned["bootDisk"] == {"image": "projects/debian-cloud/global/images/debian-12-x"}


def test_machine_type_gpus_and_service_account_changes_restart_a_running_vm() -> None:
    kind = Instance(None)
    _, desired = build(VM)
    live = {**desired, "machineType": "n1-standard-2", "status": "RUNNING"}
    changes = compare(kind, desired, live)
    assert "machineType" in (kind.restart_reason(changes, live) or "")
    assert kind.restart_reason(changes, {**live, "status": "TERMINATED"}) is None
    labels = compare(kind, desired, {**desired, "labels": {}, "status": "RUNNING"})
    assert kind.restart_reason(labels, {"status": "RUNNING"}) is None


def test_deleting_a_vm_loses_its_boot_disk() -> None:
    assert Instance.data_bearing


# --- against the emulator -------------------------------------------------------------------------

@pytest.fixture
def vm(clients: Clients, emulator: Emulator) -> tuple[Instance, ResourceId, dict[str, Any]]:
    network = Network(clients)
    network.create(network.identify(ctx("vpc"), {}), network.desired(ctx("vpc"), {}))
    kind = Instance(clients)
    rid, desired = build(VM)
    kind.create(rid, desired)
    return kind, rid, desired


def _apply(kind: Instance, rid: ResourceId, wanted: dict[str, Any],
           last: dict[str, Any] | None = None) -> dict[str, Any]:
    live = kind.get(rid)
    assert live is not None
    return kind.update(rid, wanted, compare(kind, wanted, kind.normalize(live), last), live)


def test_a_created_vm_reads_back_as_written(vm: Any, emulator: Emulator) -> None:
    kind, rid, desired = vm
    live = kind.get(rid)
    assert compare(kind, desired, kind.normalize(live)) == []
    assert live["bootDisk"]["image"].startswith("projects/debian-cloud/global/images/debian-12-")
    assert kind.outputs_of(rid, live)["internalIp"]


def test_a_newer_image_in_the_family_is_no_change(vm: Any, emulator: Emulator) -> None:
    kind, rid, desired = vm
    emulator.services["compute"].add_image(  # type: ignore[attr-defined]
        "debian-cloud", "debian-12-bookworm-v20990101", family="debian-12")
    assert compare(kind, desired, kind.normalize(kind.get(rid))) == []


def test_a_machine_type_change_stops_changes_and_starts(vm: Any, emulator: Emulator) -> None:
    kind, rid, desired = vm
    emulator.clear_journal()
    live = _apply(kind, rid, {**desired, "machineType": "n1-standard-8"})
    assert live["machineType"].endswith("/n1-standard-8") and live["status"] == "RUNNING"
    verbs = [e.path.rsplit("/", 1)[-1] for e in emulator.mutating_requests()
             if "/instances/" in e.path]
    assert verbs == ["stop", "setMachineType", "start"]


def test_setters_use_fresh_fingerprints_and_keep_what_others_set(vm: Any, clients: Clients,
                                                                 emulator: Emulator) -> None:
    from google.cloud import compute_v1

    from mlops_infra.kinds._clients import COMPUTE_INSTANCES, COMPUTE_ZONE_OPERATIONS
    kind, rid, desired = vm
    api = clients.get(COMPUTE_INSTANCES)
    current = api.get(project=PROJECT, zone="europe-west1-b", instance="vm", retry=None)
    items = [*current.metadata.items, compute_v1.Items(key="ssh-keys", value="alice:key")]
    op = api.set_metadata_unary(project=PROJECT, zone="europe-west1-b", instance="vm", retry=None,
                                metadata_resource=compute_v1.Metadata(
                                    fingerprint=current.metadata.fingerprint, items=items))
    clients.get(COMPUTE_ZONE_OPERATIONS).wait(project=PROJECT, zone="europe-west1-b",
                                              operation=op.name, retry=None)
    wanted = {**desired, "metadata": {"startup-script": "echo bye"}, "tags": ["serving"],
              "labels": {**desired["labels"], "tier": "gold"}}
    live = _apply(kind, rid, wanted, desired)
    assert kind.normalize(live)["metadata"] == {"startup-script": "echo bye", "ssh-keys": "alice:key"}
    assert compare(kind, wanted, kind.normalize(live)) == []


def test_stopping_is_written_as_status(vm: Any) -> None:
    kind, rid, desired = vm
    assert _apply(kind, rid, {**desired, "status": "TERMINATED"})["status"] == "TERMINATED"
    assert _apply(kind, rid, desired)["status"] == "RUNNING"


def test_gpus_are_added_to_a_stopped_vm_with_terminate_on_maintenance(vm: Any) -> None:
    kind, rid, desired = vm
    gpus = [{"acceleratorType": "nvidia-tesla-t4", "acceleratorCount": 1}]
    wanted = {**desired, "guestAccelerators": gpus, "scheduling": {"onHostMaintenance": "TERMINATE"}}
    live = _apply(kind, rid, wanted)
    assert kind.normalize(live)["guestAccelerators"] == gpus and live["status"] == "RUNNING"


def test_deleting_needs_the_data_loss_allow(vm: Any) -> None:
    kind, rid, _ = vm
    with pytest.raises(errors.PermanentError, match="boot disk"):
        kind.delete(rid, force=False)
    kind.delete(rid, force=True)
    assert kind.get(rid) is None


def test_a_router_with_cloud_nat_is_created_and_its_nats_patched(clients: Clients) -> None:
    network = Network(clients)
    network.create(network.identify(ctx("vpc"), {}), network.desired(ctx("vpc"), {}))
    kind = Router(clients)
    f = fields(Router, {"network": "vpc", "nats": [{"name": "nat"}]})
    rid, desired = kind.identify(ctx("r"), f), kind.desired(ctx("r"), f)
    live = kind.create(rid, desired)
    assert compare(kind, desired, kind.normalize(live)) == []
    wanted = {**desired, "nats": [{**desired["nats"][0], "logConfig": {"enable": True, "filter": "ALL"}}]}
    live = kind.update(rid, wanted, compare(kind, wanted, live), live)
    assert live["nats"][0]["logConfig"] == {"enable": True, "filter": "ALL"}
    kind.delete(rid, force=False)
    assert kind.get(rid) is None

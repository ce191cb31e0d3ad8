"""The Compute emulator's instances, boot disks, images and routers: their lifecycle over zone
operations, fingerprints (412 when stale), the stopped-only setters, image families, GPU and
spot scheduling rules, Cloud NAT defaults - with the real compute_v1 client - and their
responses against the compute v1 discovery schemas."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import compute_v1

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds import _clients as decl
from tests.emulator.support import PROJECT, raw
from tests.emulator.test_compute_routes import _check

ZONE = "us-central1-a"
BASE = f"/compute/v1/projects/{PROJECT}"
FAMILY = "projects/debian-cloud/global/images/family/debian-12"

pytestmark = pytest.mark.emulator_services("compute")


class Api:
    def __init__(self, emulator: Emulator) -> None:
        clients = Clients(project=PROJECT, endpoints=emulator.endpoints)
        self.instances = clients.get(decl.COMPUTE_INSTANCES)
        self.ops = clients.get(decl.COMPUTE_ZONE_OPERATIONS)
        self.routers = clients.get(decl.COMPUTE_ROUTERS)
        self.images = clients.get(decl.COMPUTE_IMAGES)
        self.emulator = emulator

    def wait(self, op: Any) -> Any:
        return self.ops.wait(project=PROJECT, zone=ZONE, operation=op.name, retry=None)

    def get(self, name: str = "vm") -> Any:
        return self.instances.get(project=PROJECT, zone=ZONE, instance=name, retry=None)

    def insert(self, name: str = "vm", **extra: Any) -> Any:
        extra.setdefault("network_interfaces",
                         [compute_v1.NetworkInterface(network="global/networks/vpc")])
        instance = compute_v1.Instance(
            name=name, machine_type=f"zones/{ZONE}/machineTypes/n1-standard-4",
            disks=[compute_v1.AttachedDisk(boot=True, auto_delete=True,
                                           initialize_params=compute_v1.AttachedDiskInitializeParams(
                                               source_image=FAMILY))], **extra)
        return self.instances.insert_unary(project=PROJECT, zone=ZONE, instance_resource=instance,
                                           retry=None)

    def call(self, method: str, name: str = "vm", **kwargs: Any) -> Any:
        return getattr(self.instances, method)(project=PROJECT, zone=ZONE, instance=name,
                                               retry=None, **kwargs)


@pytest.fixture
def api(emulator: Emulator) -> Api:
    raw(emulator, "compute", "POST", f"{BASE}/global/networks",
        json={"name": "vpc", "autoCreateSubnetworks": False})
    return Api(emulator)


def test_an_instance_boots_over_its_operation_and_gets_its_disk(api: Api) -> None:
    api.emulator.set_delays(operations={"compute.instance": 0.5})
    op = api.insert()
    assert op.zone.endswith(f"/zones/{ZONE}") and api.get().status == "STAGING"
    assert api.wait(op).status == compute_v1.Operation.Status.DONE
    vm = api.get()
    assert vm.status == "RUNNING" and vm.disks[0].boot and vm.disks[0].auto_delete
    disk = raw(api.emulator, "compute", "GET", f"{BASE}/zones/{ZONE}/disks/vm").json()
    assert disk["sourceImage"].endswith("/debian-cloud/global/images/debian-12-bookworm-v20261110")
    assert vm.scheduling.on_host_maintenance == "MIGRATE" and vm.scheduling.automatic_restart
    assert vm.shielded_instance_config.enable_vtpm and not vm.shielded_instance_config.enable_secure_boot


def test_a_family_resolves_to_its_newest_image(api: Api) -> None:
    compute = api.emulator.services["compute"]
    compute.add_image("debian-cloud", "debian-12-bookworm-v20270101", family="debian-12")  # type: ignore[attr-defined]
    newest = api.images.get_from_family(project="debian-cloud", family="debian-12", retry=None)
    assert newest.name == "debian-12-bookworm-v20270101" and newest.family == "debian-12"
    with pytest.raises(gexc.BadRequest, match="referenced image resource cannot be found"):
        api.instances.insert_unary(project=PROJECT, zone=ZONE, retry=None, instance_resource=compute_v1.Instance(
            name="vm", machine_type=f"zones/{ZONE}/machineTypes/n1-standard-4",
            disks=[compute_v1.AttachedDisk(boot=True, initialize_params=compute_v1.AttachedDiskInitializeParams(
                source_image="projects/debian-cloud/global/images/family/debian-99"))]))


def test_machine_type_changes_only_while_stopped(api: Api) -> None:
    api.wait(api.insert())
    request = compute_v1.InstancesSetMachineTypeRequest(machine_type=f"zones/{ZONE}/machineTypes/n1-standard-8")
    with pytest.raises(gexc.BadRequest, match="must be stopped"):
        api.call("set_machine_type_unary", instances_set_machine_type_request_resource=request)
    api.wait(api.call("stop_unary"))
    assert api.get().status == "TERMINATED"
    api.wait(api.call("set_machine_type_unary", instances_set_machine_type_request_resource=request))
    api.wait(api.call("start_unary"))
    vm = api.get()
    assert vm.status == "RUNNING" and vm.machine_type.endswith("/n1-standard-8")


@pytest.mark.parametrize(("method", "field", "message"), [
    ("set_labels_unary", "instances_set_labels_request_resource", "Labels fingerprint"),
    ("set_metadata_unary", "metadata_resource", "does not match current metadata fingerprint"),
    ("set_tags_unary", "tags_resource", "Invalid fingerprint"),
])
def test_a_stale_fingerprint_is_412(api: Api, method: str, field: str, message: str) -> None:
    api.wait(api.insert())
    stale = {"instances_set_labels_request_resource": compute_v1.InstancesSetLabelsRequest(
                 labels={"a": "b"}, label_fingerprint="c3RhbGU="),
             "metadata_resource": compute_v1.Metadata(fingerprint="c3RhbGU=", items=[]),
             "tags_resource": compute_v1.Tags(fingerprint="c3RhbGU=", items=["x"])}[field]
    with pytest.raises(gexc.PreconditionFailed, match=message):
        api.call(method, **{field: stale})


def test_a_fresh_fingerprint_works_and_changes(api: Api) -> None:
    api.wait(api.insert())
    before = api.get()
    api.wait(api.call("set_labels_unary", instances_set_labels_request_resource=compute_v1.InstancesSetLabelsRequest(
        labels={"a": "b"}, label_fingerprint=before.label_fingerprint)))
    after = api.get()
    assert after.labels == {"a": "b"} and after.label_fingerprint != before.label_fingerprint


def test_gpus_cannot_live_migrate(api: Api) -> None:
    gpu = [compute_v1.AcceleratorConfig(accelerator_type="nvidia-tesla-t4", accelerator_count=1)]
    with pytest.raises(gexc.BadRequest, match="do not support live migration"):
        api.insert(guest_accelerators=gpu)
    api.wait(api.insert(guest_accelerators=gpu,
                        scheduling=compute_v1.Scheduling(on_host_maintenance="TERMINATE")))
    assert api.get().guest_accelerators[0].accelerator_type.endswith("/acceleratorTypes/nvidia-tesla-t4")


def test_spot_vms_are_terminated_not_migrated(api: Api) -> None:
    api.wait(api.insert(scheduling=compute_v1.Scheduling(provisioning_model="SPOT")))
    scheduling = api.get().scheduling
    assert scheduling.on_host_maintenance == "TERMINATE" and not scheduling.automatic_restart
    assert scheduling.instance_termination_action == "STOP"


def test_deleting_an_instance_deletes_its_boot_disk_unless_protected(api: Api) -> None:
    api.wait(api.insert(deletion_protection=True))
    with pytest.raises(gexc.BadRequest, match="protected against deletion"):
        api.call("delete_unary")
    api.wait(api.instances.set_deletion_protection_unary(request={
        "project": PROJECT, "zone": ZONE, "resource": "vm", "deletion_protection": False}, retry=None))
    api.wait(api.call("delete_unary"))
    assert raw(api.emulator, "compute", "GET", f"{BASE}/zones/{ZONE}/disks/vm").status_code == 404


def test_no_external_ip_unless_asked(api: Api) -> None:
    api.wait(api.insert())
    assert not api.get().network_interfaces[0].access_configs
    api.wait(api.insert("public", network_interfaces=[compute_v1.NetworkInterface(
        network="global/networks/vpc", access_configs=[compute_v1.AccessConfig(type_="ONE_TO_ONE_NAT")])]))
    config = api.get("public").network_interfaces[0].access_configs[0]
    assert config.nat_i_p and config.name == "External NAT"


def test_instance_responses_fit_the_documented_schemas(api: Api) -> None:
    op = api.insert()
    _check("Operation", raw(api.emulator, "compute", "GET", f"{BASE}/zones/{ZONE}/operations/{op.name}").json())
    _check("Instance", raw(api.emulator, "compute", "GET", f"{BASE}/zones/{ZONE}/instances/vm").json())
    _check("InstanceList", raw(api.emulator, "compute", "GET", f"{BASE}/zones/{ZONE}/instances").json())
    _check("InstanceAggregatedList",
           raw(api.emulator, "compute", "GET", f"{BASE}/aggregated/instances").json())
    _check("Disk", raw(api.emulator, "compute", "GET", f"{BASE}/zones/{ZONE}/disks/vm").json())
    _check("Image", raw(api.emulator, "compute", "GET",
                        "/compute/v1/projects/debian-cloud/global/images/family/debian-12").json())


def test_an_aggregated_list_holds_every_zone_and_pages(api: Api) -> None:
    api.wait(api.insert("a"))
    api.wait(api.insert("b"))
    other = compute_v1.Instance(
        name="c", machine_type="zones/europe-west1-b/machineTypes/e2-small",
        network_interfaces=[compute_v1.NetworkInterface(network="global/networks/vpc")],
        disks=[compute_v1.AttachedDisk(boot=True, auto_delete=True,
                                       initialize_params=compute_v1.AttachedDiskInitializeParams(
                                           source_image=FAMILY))])
    api.instances.insert_unary(project=PROJECT, zone="europe-west1-b", instance_resource=other,
                               retry=None)
    api.call("delete_unary", "b")
    pages = api.instances.aggregated_list(request={"project": PROJECT, "max_results": 1}, retry=None)
    found = sorted((scope, i.name) for scope, listed in pages for i in listed.instances)
    assert found == [("zones/europe-west1-b", "c"), (f"zones/{ZONE}", "a")]
    first = raw(api.emulator, "compute", "GET", f"{BASE}/aggregated/instances",
                params={"maxResults": "1"}).json()
    assert first["nextPageToken"] and first["items"][f"zones/{ZONE}"]["warning"]["code"] == \
        "NO_RESULTS_ON_PAGE"


# --- routers and Cloud NAT --------------------------------------------------------------------

def _router(api: Api, **nat: Any) -> Any:
    body = compute_v1.Router(name="r", network="global/networks/vpc",
                             nats=[compute_v1.RouterNat(name="nat", **nat)])
    return api.routers.insert_unary(project=PROJECT, region="us-central1", router_resource=body,
                                    retry=None)


def test_a_nat_gets_the_documented_defaults(api: Api) -> None:
    _router(api, nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES")
    nat = api.routers.get(project=PROJECT, region="us-central1", router="r", retry=None).nats[0]
    assert (nat.udp_idle_timeout_sec, nat.tcp_established_idle_timeout_sec, nat.type_) == (
        30, 1200, "PUBLIC")
    assert not nat.log_config.enable
    _check("Router", raw(api.emulator, "compute", "GET",
                         f"{BASE}/regions/us-central1/routers/r").json())


def test_a_nat_names_how_it_allocates_addresses(api: Api) -> None:
    with pytest.raises(gexc.BadRequest, match="natIpAllocateOption"):
        _router(api, source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES")


def test_a_network_with_a_router_cannot_be_deleted(api: Api) -> None:
    _router(api, nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES")
    response = raw(api.emulator, "compute", "DELETE", f"{BASE}/global/networks/vpc")
    assert response.status_code == 400 and "routers/r" in response.json()["error"]["message"]

"""`import live` of the compute layer: VMs, Cloud Routers with their NATs, GKE clusters and node
pools - what it imports, what it leaves to Google, and a first plan that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.api import Stack, validate
from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.importers import ImportResult, Options, import_live
from mlops_infra.kinds._clients import COMPUTE_INSTANCES, COMPUTE_ZONE_OPERATIONS, CONTAINER
from tests.conftest import PROJECT
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("iam", "kms", "serviceusage", "compute", "container",
                                           "resourcemanager", "storage")
TF = FIXTURES / "terraform"
KINDS = ["compute", "container", "iam"]
IMAGE = "projects/debian-cloud/global/images/family/debian-12"


def _import(emulator: Emulator, tmp_path: Path, *, regions: list[str],
            stack: str = "live", kinds: list[str] | None = None) -> tuple[ImportResult, Path]:
    out = tmp_path / f"{stack}.yaml"
    result = import_live(PROJECT, kinds_wanted=kinds or KINDS, regions=regions, env=None,
                         options=Options(out=out, stack=stack, endpoints=emulator.endpoints))
    return result, out


def _resources(out: Path) -> dict[str, dict[str, Any]]:
    return dict(yaml.safe_load(out.read_text())["resources"])


def _mutating(emulator: Emulator, out: Path) -> list[str]:
    plan = Stack.load(out, endpoints=emulator.endpoints).plan()
    return [c.address for c in plan.resources if c.mutates]


def _by_name(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r.get("name", address): r for address, r in resources.items() if r["kind"] == kind}


def _vm(emulator: Emulator, zone: str, name: str, *, external: bool = False, **extra: Any) -> None:
    """A VM made straight through Compute (as GKE's instance groups, Workbench or a person do)."""
    from google.cloud import compute_v1

    clients = Clients(project=PROJECT, endpoints=emulator.endpoints)
    body = {"name": name, "machineType": f"zones/{zone}/machineTypes/e2-small",
            "disks": [{"boot": True, "autoDelete": True,
                       "initializeParams": {"sourceImage": IMAGE}}],
            "networkInterfaces": [{"network": "global/networks/vm-vpc",
                                   **({"subnetwork": f"regions/{zone[:-2]}/subnetworks/vm-subnet"}
                                      if zone.startswith("us-central1") else {}),
                                   **({"accessConfigs": [{"type": "ONE_TO_ONE_NAT"}]}
                                      if external else {})}], **extra}
    op = clients.get(COMPUTE_INSTANCES).insert_unary(
        project=PROJECT, zone=zone, instance_resource=compute_v1.Instance.from_json(json.dumps(body)))
    clients.get(COMPUTE_ZONE_OPERATIONS).wait(project=PROJECT, zone=zone, operation=op.name)


def _metadata(**items: str) -> dict[str, Any]:
    return {"metadata": {"items": [{"key": k, "value": v} for k, v in items.items()]}}


def test_terraform_made_compute_layer_round_trips(emulator: Emulator, tmp_path: Path) -> None:
    for name in ("google_container", "google_compute_instance", "google_compute_router"):
        TerraformApply(emulator.endpoints).apply(TF / f"{name}.tfstate")
    emulator.clear_journal()
    result, out = _import(emulator, tmp_path, regions=["us-central1"])
    assert result.clean, [c.address for c in result.checks[None].differences]
    assert emulator.mutating_requests() == [] or all(
        e.service == "storage" for e in emulator.mutating_requests())   # only the ledger
    paths = {e.path for e in emulator.journal if e.service == "compute"}
    assert f"/compute/v1/projects/{PROJECT}/aggregated/instances" in paths
    validate(out)
    assert _mutating(emulator, out) == []

    resources = _resources(out)
    vms = _by_name(resources, "compute.Instance")
    assert set(vms) == {"gpu-trainer", "ml-tools"}
    trainer = vms["gpu-trainer"]
    assert trainer["subnetwork"] == "${vm-subnet.selfLink}"
    assert trainer["serviceAccount"].startswith("${") and trainer["spot"] is True
    assert "scheduling" not in trainer and "scopes" not in trainer      # at their defaults
    assert set(vms["ml-tools"]["bootDisk"]) == {"image", "type"}         # the image's own size
    assert vms["ml-tools"]["status"] == "TERMINATED"

    routers = _by_name(resources, "compute.Router")
    nats = {n["name"]: n for n in routers["wl-router"]["nats"]}
    assert set(nats) == {"wl-nat-batch", "wl-nat-nodes"}
    assert nats["wl-nat-nodes"]["subnetworks"][0]["name"] == "${wl-nodes.selfLink}"
    for nat in nats.values():
        assert not {"icmpIdleTimeoutSec", "tcpEstablishedIdleTimeoutSec", "natIpAllocateOption",
                    "type", "endpointTypes", "tcpTimeWaitTimeoutSec"} & set(nat)
    assert "nats" not in routers["wl-edge"]

    (cluster_address, cluster), = ((a, r) for a, r in resources.items()
                                   if r["kind"] == "container.Cluster")
    assert cluster["network"] == "${gke-vpc.selfLink}" and cluster["releaseChannel"] == "STABLE"
    assert not {"shieldedNodes", "loggingConfig", "deletionProtection"} & set(cluster)
    pools = _by_name(resources, "container.NodePool")
    assert set(pools) == {"cpu-pool", "gpu-t4"}
    for pool in pools.values():
        assert pool["cluster"] == f"${{{cluster_address}.id}}"
    assert pools["gpu-t4"]["nodeCount"] == 2 and "management" not in pools["gpu-t4"]
    assert pools["cpu-pool"]["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 5}
    assert "metadata" not in pools["cpu-pool"]["config"]      # GKE's disable-legacy-endpoints


def test_vms_other_google_services_make_are_left_to_them(emulator: Emulator,
                                                         tmp_path: Path) -> None:
    TerraformApply(emulator.endpoints).apply(TF / "google_compute_instance.tfstate")
    zone = "us-central1-c"
    _vm(emulator, zone, "gke-ml-gke-cpu-pool-2c974999-x1z2",
        labels={"goog-gke-node": "", "goog-k8s-cluster-name": "ml-gke"},
        **_metadata(**{"cluster-name": "ml-gke", "kube-env": "KUBERNETES_MASTER: 'false'",
                       "created-by": "projects/1/zones/us-central1-c/instanceGroupManagers/"
                                     "gke-ml-gke-cpu-pool-2c974999-grp"}))
    _vm(emulator, zone, "ds-notebook", tags={"items": ["deeplearning-vm", "notebook-instance"]},
        **_metadata(**{"notebooks-api": "PROD", "proxy-mode": "service_account"}))
    _vm(emulator, zone, "web-7f2k", **_metadata(
        **{"created-by": "projects/1/zones/us-central1-c/instanceGroupManagers/web"}))
    _vm(emulator, zone, "bastion", labels={"role": "bastion"}, external=True,
        **_metadata(**{"enable-oslogin": "TRUE"}))
    _vm(emulator, "europe-west1-b", "eu-runner")

    result, out = _import(emulator, tmp_path, regions=["us-central1"], kinds=["compute"])
    assert result.clean
    managed = {s.origin.rsplit("/", 1)[-1]: s.reason for s in result.skipped
               if s.category == "google-managed" and s.what == "compute.Instance"}
    assert set(managed) == {"gke-ml-gke-cpu-pool-2c974999-x1z2", "ds-notebook", "web-7f2k"}
    assert "ml-gke" in managed["gke-ml-gke-cpu-pool-2c974999-x1z2"]
    assert "Workbench" in managed["ds-notebook"]
    vms = _by_name(_resources(out), "compute.Instance")
    assert set(vms) == {"gpu-trainer", "ml-tools", "bastion"}    # europe-west1 not asked for
    assert vms["bastion"]["metadata"] == {"enable-oslogin": "TRUE"}
    assert vms["bastion"]["externalIp"] is True and "no-external-ip" in vms["bastion"]["waivers"]
    assert vms["bastion"]["bootDisk"]["image"].startswith("projects/debian-cloud/global/images/")
    assert _mutating(emulator, out) == []

    both, out = _import(emulator, tmp_path, regions=["us-central1", "europe-west1"],
                        stack="both", kinds=["compute"])
    assert "eu-runner" in _by_name(_resources(out), "compute.Instance")
    assert _mutating(emulator, out) == []


SEED = """\
apiVersion: mlops-infra/v1
stack: seed
project: test-project
region: us-central1
ledger: {prefix: lost}          # the spec and its ledger are lost: the import rebuilds both
resources:
  net:
    kind: compute.Network
    name: seed-vpc
  nodes:
    kind: compute.Subnetwork
    name: seed-nodes
    network: ${net.selfLink}
    ipCidrRange: 10.30.0.0/20
    secondaryIpRanges:
    - {rangeName: pods, ipCidrRange: 10.32.0.0/14}
    - {rangeName: services, ipCidrRange: 10.36.0.0/20}
  nat:
    kind: compute.Router
    name: seed-router
    network: ${net.selfLink}
    nats:
    - name: egress
      minPortsPerVm: 256
  gke:
    kind: container.Cluster
    name: seed-gke
    network: ${net.selfLink}
    subnetwork: ${nodes.selfLink}
    ipAllocationPolicy: {clusterSecondaryRangeName: pods, servicesSecondaryRangeName: services}
    releaseChannel: RAPID
    resourceLabels: {team: ml}
  cpu:
    kind: container.NodePool
    name: cpu
    cluster: ${gke.id}
    nodeCount: 2
    management: {autoRepair: false, autoUpgrade: true}
    config: {machineType: e2-standard-4, labels: {tier: batch}}
  runner:
    kind: compute.Instance
    name: seed-runner
    zone: us-central1-f
    machineType: e2-small
    bootDisk: {image: projects/debian-cloud/global/images/family/debian-12, sizeGb: 30}
    subnetwork: ${nodes.selfLink}
    network: ${net.selfLink}
    labels: {team: ml}
"""


def test_what_the_tools_own_reconcile_made_round_trips(emulator: Emulator,
                                                       tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    stack = Stack.load(seed, endpoints=emulator.endpoints)
    applied = stack.apply(stack.plan())
    assert applied.ok, [(o.address, o.status, o.error) for o in applied.outcomes if o.status != "done"]
    # a cluster made by hand keeps GKE's default pool: it becomes a node pool of its own
    from google.cloud import container_v1

    gke = Clients(project=PROJECT, endpoints=emulator.endpoints).get(CONTAINER)
    op = gke.create_cluster(parent=f"projects/{PROJECT}/locations/us-central1-b",
                            cluster=container_v1.Cluster(name="handmade", initial_node_count=1,
                                                         network="seed-vpc",
                                                         subnetwork="seed-nodes"))
    for _ in range(500):
        if gke.get_operation(name=f"projects/{PROJECT}/locations/us-central1-b/operations/"
                                  f"{op.name}").status == container_v1.Operation.Status.DONE:
            break

    result, out = _import(emulator, tmp_path, regions=["us-central1"], stack="seed")
    assert result.clean, [c.address for c in result.checks[None].differences]
    validate(out)
    assert _mutating(emulator, out) == []
    resources = _resources(out)
    pools = {(r["cluster"], r.get("name", a)) for a, r in resources.items()
             if r["kind"] == "container.NodePool"}
    clusters = {r.get("name", a): a for a, r in resources.items() if r["kind"] == "container.Cluster"}
    assert set(clusters) == {"seed-gke", "handmade"}
    assert pools == {(f"${{{clusters['seed-gke']}.id}}", "cpu"),
                     (f"${{{clusters['handmade']}.id}}", "default-pool")}
    cpu = _by_name(resources, "container.NodePool")["cpu"]
    assert cpu["management"] == {"autoRepair": False} and cpu["nodeCount"] == 2
    text = out.read_text()
    assert "mlops-infra-bootstrap" not in text and "managed-by" not in text
    runner = _by_name(resources, "compute.Instance")["seed-runner"]
    assert runner["bootDisk"]["sizeGb"] == 30 and runner["labels"] == {"team": "ml"}
    router = _by_name(resources, "compute.Router")["seed-router"]
    assert router["nats"] == [{"name": "egress", "minPortsPerVm": 256}]


def test_a_node_pool_auto_provisioning_made_is_google_s(emulator: Emulator) -> None:
    from mlops_infra.kinds.container.node_pool import NodePool

    kind = NodePool(Clients(project=PROJECT, endpoints=emulator.endpoints))
    name = f"projects/{PROJECT}/locations/us-central1/clusters/c/nodePools/nap-e2-standard-4-1x2"
    assert kind.google_managed(name, {"autoscaling": {"enabled": True, "autoprovisioned": True}})
    assert kind.google_managed(name, {"autoscaling": {"enabled": True}}) is None

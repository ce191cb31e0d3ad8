"""The Kubernetes Engine emulator: routes and schemas against container v1 discovery, and the
behaviours a reconciler meets - operations over time, one operation per cluster (GKE's own
included), label fingerprints, server defaults, Workload Identity pools, network and CMEK
checks - driven with the real container_v1 client and raw HTTP."""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import container_v1

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.services import build_service
from mlops_infra.kinds._clients import CONTAINER
from tests.emulator.support import PROJECT, eventually, raw
from tests.emulator.test_routes_match_discovery import (
    DOCUMENTS,
    _methods,
    _normalise,
    _undefined_keys,
)

LOC = f"/v1/projects/{PROJECT}/locations/us-central1"
PARENT = f"projects/{PROJECT}/locations/us-central1"
CLUSTER = f"{PARENT}/clusters/ml"

pytestmark = pytest.mark.emulator_services("container", "kms")


@cache
def _document() -> dict[str, Any]:
    return json.loads((DOCUMENTS / "container.v1.json").read_text())


def _check(schema: str, value: dict[str, Any]) -> None:
    doc = _document()
    assert value
    assert _undefined_keys(value, doc["schemas"][schema], doc, schema) == []


@pytest.fixture
def gke(emulator: Emulator) -> Any:
    return Clients(project=PROJECT, endpoints=emulator.endpoints).get(CONTAINER)


def _create(gke: Any, name: str = "ml", **extra: Any) -> Any:
    cluster = container_v1.Cluster(name=name, node_pools=[container_v1.NodePool(
        name="boot", initial_node_count=1)], **extra)
    return gke.create_cluster(parent=PARENT, cluster=cluster, retry=None)


def _wait(gke: Any, op: Any) -> Any:
    def done() -> Any:
        found = gke.get_operation(name=f"{PARENT}/operations/{op.name}", retry=None)
        if found.status != container_v1.Operation.Status.DONE:
            raise gexc.NotFound("still running")
        return found
    return eventually(done)


# --- routes and schemas ---------------------------------------------------------------------

def test_every_container_route_is_documented() -> None:
    doc = _document()
    documented = {(m["httpMethod"], _normalise("/" + doc["servicePath"] + m.get("flatPath", m["path"])))
                  for m in _methods(doc)}
    routes = build_service("container").route_table
    assert len(routes) >= 15
    assert [(r.method, r.template) for r in routes
            if (r.method, _normalise(r.template)) not in documented] == []
    assert ("DELETE", _normalise(LOC + "/clusters")) not in documented


def test_container_responses_fit_the_documented_schemas(emulator: Emulator, gke: Any) -> None:
    op = _create(gke, workload_identity_config={"workload_pool": f"{PROJECT}.svc.id.goog"},
                 resource_labels={"team": "ml"})
    _wait(gke, op)
    _check("Operation", raw(emulator, "container", "GET", f"{LOC}/operations/{op.name}").json())
    _check("ListOperationsResponse", raw(emulator, "container", "GET", f"{LOC}/operations").json())
    _check("Cluster", raw(emulator, "container", "GET", f"{LOC}/clusters/ml").json())
    _check("ListClustersResponse", raw(emulator, "container", "GET", f"{LOC}/clusters").json())
    _check("NodePool", raw(emulator, "container", "GET", f"{LOC}/clusters/ml/nodePools/boot").json())


# --- operations and one operation per cluster ------------------------------------------------

def test_an_operation_runs_for_its_duration_then_is_done(emulator: Emulator, gke: Any) -> None:
    emulator.set_delays(operations={"container.cluster": 1.0})
    op = _create(gke)
    assert op.status == container_v1.Operation.Status.PENDING
    assert op.operation_type == container_v1.Operation.Type.CREATE_CLUSTER
    assert gke.get_cluster(name=CLUSTER, retry=None).status == container_v1.Cluster.Status.PROVISIONING
    assert _wait(gke, op).end_time
    assert gke.get_cluster(name=CLUSTER, retry=None).status == container_v1.Cluster.Status.RUNNING


def test_a_second_operation_on_a_busy_cluster_is_refused(emulator: Emulator, gke: Any) -> None:
    emulator.set_delays(operations={"container.cluster": 5.0})
    op = _create(gke)
    with pytest.raises(gexc.BadRequest) as caught:
        gke.set_labels(request={"name": CLUSTER, "resource_labels": {"a": "b"},
                                "label_fingerprint": "x"}, retry=None)
    body = caught.value.response.json()["error"]
    assert body["status"] == "FAILED_PRECONDITION"
    assert f"Operation {op.name} is currently creating cluster ml. Please wait" in body["message"]


def test_gke_operations_of_its_own_count_against_the_limit(emulator: Emulator, gke: Any) -> None:
    _wait(gke, _create(gke))
    name = emulator.services["container"].start_system_operation(  # type: ignore[attr-defined]
        PROJECT, "us-central1", "ml", seconds=5.0)
    with pytest.raises(gexc.BadRequest, match=f"{name} is currently upgrading cluster ml"):
        gke.create_node_pool(parent=CLUSTER, node_pool=container_v1.NodePool(
            name="cpu", initial_node_count=1), retry=None)
    listed = gke.list_operations(parent=PARENT, retry=None).operations
    assert any(o.name == name and o.status == container_v1.Operation.Status.RUNNING for o in listed)


def test_management_updates_may_overlap_other_operations(emulator: Emulator, gke: Any) -> None:
    _wait(gke, _create(gke))
    emulator.services["container"].start_system_operation(  # type: ignore[attr-defined]
        PROJECT, "us-central1", "ml", seconds=5.0)
    op = gke.set_node_pool_management(request={"name": f"{CLUSTER}/nodePools/boot", "management": {
        "auto_upgrade": True, "auto_repair": False}}, retry=None)
    assert op.operation_type == container_v1.Operation.Type.SET_NODE_POOL_MANAGEMENT


def test_operation_links_name_the_project_by_number(gke: Any) -> None:
    op = _create(gke)
    assert "/projects/" in op.target_link and f"/projects/{PROJECT}/" not in op.target_link
    assert op.target_link.endswith("/locations/us-central1/clusters/ml")


def test_deleting_a_cluster_stops_it_then_it_is_gone(emulator: Emulator, gke: Any) -> None:
    _wait(gke, _create(gke))
    emulator.set_delays(operations={"container.cluster": 0.5})
    op = gke.delete_cluster(name=CLUSTER, retry=None)
    assert gke.get_cluster(name=CLUSTER, retry=None).status == container_v1.Cluster.Status.STOPPING
    _wait(gke, op)
    with pytest.raises(gexc.NotFound):
        gke.get_cluster(name=CLUSTER, retry=None)


# --- fingerprints, defaults, validation --------------------------------------------------------

def test_labels_need_the_current_fingerprint(gke: Any) -> None:
    _wait(gke, _create(gke, resource_labels={"a": "1"}))
    current = gke.get_cluster(name=CLUSTER, retry=None).label_fingerprint
    with pytest.raises(gexc.BadRequest, match="fingerprint mismatch.*incorrect fingerprint supplied "
                                              f"was \"stale\", the expected one is \"{current}\""):
        gke.set_labels(request={"name": CLUSTER, "resource_labels": {"a": "2"},
                                "label_fingerprint": "stale"}, retry=None)
    _wait(gke, gke.set_labels(request={"name": CLUSTER, "resource_labels": {"a": "2"},
                                       "label_fingerprint": current}, retry=None))
    after = gke.get_cluster(name=CLUSTER, retry=None)
    assert after.resource_labels == {"a": "2"} and after.label_fingerprint != current


def test_the_server_fills_documented_defaults(emulator: Emulator, gke: Any) -> None:
    _wait(gke, _create(gke, workload_identity_config={"workload_pool": f"{PROJECT}.svc.id.goog"}))
    cluster = raw(emulator, "container", "GET", f"{LOC}/clusters/ml").json()
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["shieldedNodes"] == {"enabled": True}
    assert cluster["databaseEncryption"]["currentState"] == "CURRENT_STATE_DECRYPTED"
    assert cluster["locations"] == ["us-central1-a", "us-central1-b", "us-central1-c"]
    pool = cluster["nodePools"][0]
    assert pool["config"]["machineType"] == "e2-medium" and pool["config"]["diskSizeGb"] == 100
    assert pool["config"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pool["management"] == {"autoUpgrade": True, "autoRepair": True}
    assert pool["maxPodsConstraint"] == {"maxPodsPerNode": "110"}


def test_enums_arrive_as_numbers_and_unknown_fields_are_refused(emulator: Emulator, gke: Any) -> None:
    _create(gke, release_channel=container_v1.ReleaseChannel(channel=3))       # STABLE, as an int
    assert raw(emulator, "container", "GET", f"{LOC}/clusters/ml").json()["releaseChannel"] == {
        "channel": "STABLE"}
    bad = raw(emulator, "container", "POST", f"{LOC}/clusters",
              json={"cluster": {"name": "x", "initialNodeCount": 1, "nodeCount": 3}})
    assert bad.status_code == 400 and "Invalid JSON payload" in bad.json()["error"]["message"]


@pytest.mark.parametrize(("cluster", "words"), [
    ({"name": "ml"}, "initial_node_count must be greater than zero"),
    ({"name": "ML", "initialNodeCount": 1}, "must start with a lowercase letter"),
    ({"name": "ml", "initialNodeCount": 1, "privateClusterConfig": {
        "enablePrivateNodes": True, "masterIpv4CidrBlock": "172.16.0.0/28"}}, "VPC-native"),
    ({"name": "ml", "initialNodeCount": 1, "ipAllocationPolicy": {"useIpAliases": True},
      "privateClusterConfig": {"enablePrivateNodes": True, "masterIpv4CidrBlock": "172.16.0.0/24"}},
     "must be a /28"),
])
def test_google_refuses_clusters_it_cannot_make(emulator: Emulator, cluster: dict[str, Any],
                                                words: str) -> None:
    response = raw(emulator, "container", "POST", f"{LOC}/clusters", json={"cluster": cluster})
    assert response.status_code == 400 and words in response.json()["error"]["message"]


def test_an_empty_node_pool_update_is_refused(emulator: Emulator, gke: Any) -> None:
    _wait(gke, _create(gke))
    response = raw(emulator, "container", "PUT", f"{LOC}/clusters/ml/nodePools/boot",
                   json={"nodeVersion": "-"})
    assert response.status_code == 400 and "At least one of" in response.json()["error"]["message"]


def test_update_cluster_takes_exactly_one_field(emulator: Emulator, gke: Any) -> None:
    _wait(gke, _create(gke))
    response = raw(emulator, "container", "PUT", f"{LOC}/clusters/ml", json={"update": {
        "desiredShieldedNodes": {"enabled": True}, "desiredReleaseChannel": {"channel": "STABLE"}}})
    assert response.status_code == 400 and "Exactly one update" in response.json()["error"]["message"]


# --- Workload Identity, CMEK, the network ---------------------------------------------------------

def test_a_workload_identity_cluster_brings_its_pool_once_created(emulator: Emulator, gke: Any) -> None:
    member = f"serviceAccount:{PROJECT}.svc.id.goog[ml/trainer]"
    emulator.set_delays(operations={"container.cluster": 0.5})
    assert "Identity Pool does not exist" in (emulator.member_error(member) or "")
    op = _create(gke, workload_identity_config={"workload_pool": f"{PROJECT}.svc.id.goog"})
    assert emulator.member_error(member) is not None          # not while it is being created
    _wait(gke, op)
    assert emulator.member_error(member) is None


def test_secrets_encryption_needs_the_gke_agent_granted_on_the_key(emulator: Emulator, gke: Any) -> None:
    kms = emulator.services["kms"]
    key = f"projects/{PROJECT}/locations/us-central1/keyRings/r/cryptoKeys/k"
    kms.state["cryptoKeys"][key] = {"name": key}
    encryption = container_v1.DatabaseEncryption(state=1, key_name=key)
    with pytest.raises(gexc.Forbidden, match="cloudkms.cryptoKeyVersions.useToEncrypt"):
        _create(gke, database_encryption=encryption)


@pytest.mark.emulator_services("container", "compute")
def test_the_network_and_its_ranges_must_exist(emulator: Emulator, gke: Any) -> None:
    policy = container_v1.IPAllocationPolicy(use_ip_aliases=True, cluster_secondary_range_name="pods")
    with pytest.raises(gexc.BadRequest, match='Network "vpc" does not exist'):
        _create(gke, network="vpc", subnetwork="s", ip_allocation_policy=policy)
    base = f"/compute/v1/projects/{PROJECT}"
    raw(emulator, "compute", "POST", f"{base}/global/networks",
        json={"name": "vpc", "autoCreateSubnetworks": False})
    raw(emulator, "compute", "POST", f"{base}/regions/us-central1/subnetworks", json={
        "name": "s", "network": "global/networks/vpc", "ipCidrRange": "10.0.0.0/20"})
    with pytest.raises(gexc.BadRequest, match='Pod secondary range "pods" not found'):
        _create(gke, network="vpc", subnetwork="s", ip_allocation_policy=policy)
    time.sleep(0)   # the same request with the range: accepted
    raw(emulator, "compute", "PATCH", f"{base}/regions/us-central1/subnetworks/s", json={
        "fingerprint": raw(emulator, "compute", "GET",
                           f"{base}/regions/us-central1/subnetworks/s").json()["fingerprint"],
        "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"}]})
    op = _create(gke, network="vpc", subnetwork="s", ip_allocation_policy=policy)
    assert op.operation_type == container_v1.Operation.Type.CREATE_CLUSTER
    got = gke.get_cluster(name=CLUSTER, retry=None)
    assert got.network == "vpc" and got.ip_allocation_policy.cluster_ipv4_cidr_block == "10.4.0.0/14"


@pytest.mark.emulator_services("container", "compute")
def test_a_pools_instance_groups_carry_its_size(emulator: Emulator, gke: Any) -> None:
    compute = f"/compute/v1/projects/{PROJECT}"
    raw(emulator, "compute", "POST", f"{compute}/global/networks",
        json={"name": "default", "autoCreateSubnetworks": False}).raise_for_status()
    raw(emulator, "compute", "POST", f"{compute}/regions/us-central1/subnetworks",
        json={"name": "default", "network": f"projects/{PROJECT}/global/networks/default",
              "ipCidrRange": "10.0.0.0/20"}).raise_for_status()
    _wait(gke, _create(gke))
    (url, *others) = gke.get_node_pool(name=f"{CLUSTER}/nodePools/boot", retry=None).instance_group_urls
    assert len(others) == 2                                  # a regional pool: three zones
    path = url.split("www.googleapis.com", 1)[1]
    group = raw(emulator, "compute", "GET", path).json()
    assert group["targetSize"] == 1 and group["selfLink"] == url
    doc = json.loads((DOCUMENTS / "compute.v1.json").read_text())
    assert _undefined_keys(group, doc["schemas"]["InstanceGroupManager"], doc, "group") == []
    _wait(gke, gke.set_node_pool_size(request={"name": f"{CLUSTER}/nodePools/boot",
                                               "node_count": 4}, retry=None))
    assert raw(emulator, "compute", "GET", path).json()["targetSize"] == 4
    assert gke.get_node_pool(name=f"{CLUSTER}/nodePools/boot", retry=None).initial_node_count == 1
    missing = raw(emulator, "compute", "GET", path.rsplit("/", 1)[0] + "/gke-other-grp")
    assert missing.status_code == 404

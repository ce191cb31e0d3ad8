"""container.Cluster and container.NodePool: desired shape, identity across replacements, and
every operation over the real container_v1 client against the emulator (operations waited on,
one at a time per cluster, GKE's own operations waited out, errors classified)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.diff import compare
from mlops_infra.engine.kind import ResourceId
from mlops_infra.kinds._clients import CONTAINER
from mlops_infra.kinds.container import _common as common
from mlops_infra.kinds.container.cluster import BOOTSTRAP_POOL, Cluster
from mlops_infra.kinds.container.node_pool import NodePool
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, managed

CLUSTER_ID = f"projects/{PROJECT}/locations/europe-west1/clusters/ml"
POOL = {"cluster": CLUSTER_ID, "initialNodeCount": 1,
        "autoscaling": {"minNodeCount": 1, "maxNodeCount": 3},
        "config": {"machineType": "e2-standard-4", "labels": {"pool": "cpu"},
                   "oauthScopes": ["cloud-platform"]}}

pytestmark = pytest.mark.emulator_services("container")


def cluster_of(raw: dict[str, Any], name: str = "ml") -> tuple[ResourceId, dict[str, Any]]:
    kind, f = Cluster(None), fields(Cluster, raw)
    return kind.identify(ctx(name), f), managed_cluster(kind.desired(ctx(name), f))


def managed_cluster(desired: dict[str, Any]) -> dict[str, Any]:
    labels = managed({"labels": desired.get("resourceLabels", {})})["labels"]
    return {**desired, "resourceLabels": labels}


def pool_of(raw: dict[str, Any], name: str = "cpu") -> tuple[ResourceId, dict[str, Any]]:
    kind, f = NodePool(None), fields(NodePool, raw)
    return kind.identify(ctx(name), f), kind.desired(ctx(name), f)


# --- pure shape ---------------------------------------------------------------------------------

def test_a_clusters_workload_pool_is_its_projects() -> None:
    with pytest.raises(errors.SpecError, match=f"'{PROJECT}.svc.id.goog'"):
        cluster_of({"workloadPool": "other.svc.id.goog"})
    rid, desired = cluster_of({"workloadPool": f"{PROJECT}.svc.id.goog"})
    assert Cluster(None).provides(ctx("ml"), desired) == {f"workload-pool:{PROJECT}.svc.id.goog"}
    assert Cluster(None).outputs_of(rid, None) == {
        "name": "ml", "id": CLUSTER_ID, "workloadPool": f"{PROJECT}.svc.id.goog",
        "selfLink": f"https://container.googleapis.com/v1/{CLUSTER_ID}"}


def test_a_zonal_cluster_has_a_zonal_self_link() -> None:
    rid, _ = cluster_of({"location": "europe-west1-b"})
    assert Cluster(None).outputs_of(rid, None)["selfLink"].endswith(
        f"/projects/{PROJECT}/zones/europe-west1-b/clusters/ml")


def test_changes_of_one_cluster_and_its_pools_share_a_serial_key() -> None:
    cluster, _ = cluster_of({})
    pool, _ = pool_of(POOL)
    assert Cluster(None).serial_key(cluster) == NodePool(None).serial_key(pool) == CLUSTER_ID


def test_the_control_plane_range_is_a_slash_28() -> None:
    with pytest.raises(ValidationError, match="/28"):
        fields(Cluster, {"privateClusterConfig": {"masterIpv4CidrBlock": "172.16.0.0/24"}})


def test_a_running_cluster_still_carrying_the_bootstrap_pool_is_not_yet_created() -> None:
    live = {"name": "ml", "status": "RUNNING", "nodePools": [{"name": BOOTSTRAP_POOL}]}
    assert Cluster(None).normalize(live)["status"] == "PROVISIONING"
    assert Cluster(None).normalize({**live, "nodePools": []})["status"] == "RUNNING"


def test_a_replacement_pool_gets_a_short_stable_suffix_and_stays_this_resource() -> None:
    kind = NodePool(None)
    rid, _ = pool_of(POOL, "a" * 40)
    new = kind.replacement(rid)
    assert len(new.parts["pool"]) == 40 and new.parts["pool"].startswith("a" * 34 + "-r")
    assert kind.replacement(rid) == new                       # a rerun finds the same one
    assert kind.same_resource(rid, new.name)
    assert kind.replacement(new).name not in (rid.name, new.name)
    assert kind.same_resource(rid, kind.replacement(new).name)
    other, _ = pool_of(POOL, "b")
    assert not kind.same_resource(other, new.name)


def test_create_only_fields_replace_the_pool_create_first() -> None:
    kind = NodePool(None)
    assert kind.replace_order == "create-first"
    _, desired = pool_of({**POOL, "config": {**POOL["config"], "spot": True}})
    changes = compare(kind, desired, {**desired, "config": {**desired["config"], "spot": False}})
    assert kind.replace_reason(changes) and "config.spot" in kind.replace_reason(changes)  # type: ignore[operator]
    labels = compare(kind, desired, {**desired, "config": {**desired["config"], "labels": {}}})
    assert kind.replace_reason(labels) is None


# --- against the emulator -------------------------------------------------------------------------

@pytest.fixture
def gke(clients: Clients) -> Any:
    return clients.get(CONTAINER)


@pytest.fixture
def cluster(clients: Clients) -> tuple[Cluster, ResourceId, dict[str, Any]]:
    kind = Cluster(clients)
    rid, desired = cluster_of({"workloadPool": f"{PROJECT}.svc.id.goog", "resourceLabels": {"team": "ml"},
                               "releaseChannel": "STABLE",
                               "maintenancePolicy": {"window": {"dailyMaintenanceWindow": {
                                   "startTime": "03:00"}}}})
    kind.create(rid, desired)
    return kind, rid, desired


def test_a_cluster_is_created_without_a_node_pool_left_behind(cluster: Any, emulator: Emulator) -> None:
    kind, rid, desired = cluster
    live = kind.get(rid)
    assert live["status"] == "RUNNING" and not live.get("nodePools")
    assert compare(kind, desired, kind.normalize(live)) == []
    assert emulator.member_error(f"serviceAccount:{PROJECT}.svc.id.goog[ml/ksa]") is None


def test_updates_go_one_aspect_per_call_with_a_fresh_fingerprint(cluster: Any,
                                                                emulator: Emulator) -> None:
    kind, rid, desired = cluster
    wanted = {**desired, "resourceLabels": {**desired["resourceLabels"], "tier": "gold"},
              "releaseChannel": {"channel": "REGULAR"}, "shieldedNodes": {"enabled": False}}
    emulator.clear_journal()
    live = kind.update(rid, wanted, compare(kind, wanted, kind.normalize(kind.get(rid))),
                       kind.get(rid))
    assert compare(kind, wanted, kind.normalize(live)) == []
    writes = [(e.method, e.path.rsplit("/", 1)[-1]) for e in emulator.mutating_requests()]
    assert writes.count(("PUT", "ml")) == 2 and ("POST", "ml:setResourceLabels") in writes


def test_gkes_own_operation_is_waited_out_before_a_change(cluster: Any, emulator: Emulator) -> None:
    kind, rid, desired = cluster
    emulator.services["container"].start_system_operation(  # type: ignore[attr-defined]
        PROJECT, "europe-west1", "ml", seconds=0.5)
    wanted = {**desired, "releaseChannel": {"channel": "RAPID"}}
    live = kind.update(rid, wanted, compare(kind, wanted, kind.normalize(kind.get(rid))),
                       kind.get(rid))
    assert live["releaseChannel"] == {"channel": "RAPID"}


def test_operation_in_progress_and_stale_labels_are_retryable(cluster: Any, gke: Any,
                                                              emulator: Emulator) -> None:
    _, rid, _ = cluster
    emulator.services["container"].start_system_operation(  # type: ignore[attr-defined]
        PROJECT, "europe-west1", "ml", seconds=5)
    busy_cluster = pytest.raises(errors.EventuallyConsistent, match="is currently upgrading cluster ml")
    with busy_cluster as busy, common.gke_errors("cluster ml"):
        gke.set_labels(request={"name": rid.name, "resource_labels": {},
                                "label_fingerprint": "x"}, retry=None)
    assert "operation-" in busy.value.waiting_for
    emulator.services["container"].state["projects"][PROJECT]["operations"].clear()
    stale = pytest.raises(errors.PreconditionFailed, match="fingerprint mismatch")
    with stale, common.gke_errors("cluster ml"):
        gke.set_labels(request={"name": rid.name, "resource_labels": {},
                                "label_fingerprint": "stale"}, retry=None)


def test_an_interrupted_create_is_finished_not_repeated(clients: Clients, gke: Any,
                                                        emulator: Emulator) -> None:
    from google.cloud import container_v1

    kind = Cluster(clients)
    rid, desired = cluster_of({"resourceLabels": {"team": "ml"}})
    emulator.set_delays(operations={"container.cluster": 0.5})
    gke.create_cluster(parent=rid.scope, cluster=container_v1.Cluster(   # a run stopped here
        name="ml", resource_labels=desired["resourceLabels"],
        node_pools=[container_v1.NodePool(name=BOOTSTRAP_POOL, initial_node_count=1)]), retry=None)
    changes = compare(kind, desired, kind.normalize(kind.get(rid)))
    assert [(c.path, c.old) for c in changes] == [("status", "PROVISIONING")]
    live = kind.update(rid, desired, changes, kind.get(rid))
    assert live["status"] == "RUNNING" and not live.get("nodePools")
    creates = [e for e in emulator.journal if e.method == "POST" and e.path.endswith("/clusters")]
    assert len(creates) == 1


def test_deletion_protection_refuses_removal(cluster: Any) -> None:
    kind, rid, desired = cluster
    with pytest.raises(errors.PermanentError, match="deletionProtection"):
        kind.remove(rid, applied={**desired, "deletionProtection": True}, force=True)
    kind.remove(rid, applied=desired, force=True)
    assert kind.get(rid) is None


def test_node_pools_are_created_updated_per_aspect_and_deleted(cluster: Any, clients: Clients,
                                                              emulator: Emulator) -> None:
    kind = NodePool(clients)
    rid, desired = pool_of(POOL)
    desired = {**desired, "config": {**desired["config"], "resourceLabels": {"managed-by": "mlops-infra"}}}
    live = kind.create(rid, desired)
    assert compare(kind, desired, kind.normalize(live)) == []
    wanted = {**desired, "autoscaling": {"enabled": True, "minNodeCount": 0, "maxNodeCount": 5},
              "management": {"autoRepair": False, "autoUpgrade": True},
              "config": {**desired["config"], "machineType": "e2-standard-8",
                         "labels": {"pool": "cpu", "x": "y"},
                         "taints": [{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}]}}
    emulator.clear_journal()
    live = kind.update(rid, wanted, compare(kind, wanted, kind.normalize(kind.get(rid))),
                       kind.get(rid))
    assert compare(kind, wanted, kind.normalize(live)) == []
    writes = sorted(e.path.rsplit("/", 1)[-1] for e in emulator.mutating_requests())
    assert writes == ["cpu", "cpu", "cpu", "cpu:setAutoscaling", "cpu:setManagement"]
    kind.delete(rid, force=False)
    assert kind.get(rid) is None


def test_an_empty_aspect_clears_it(cluster: Any, clients: Clients) -> None:
    kind = NodePool(clients)
    rid, desired = pool_of({**POOL, "config": {**POOL["config"], "tags": ["a"]}})
    kind.create(rid, desired)
    wanted = {**desired, "config": {k: v for k, v in desired["config"].items() if k != "tags"}}
    changes = compare(kind, wanted, kind.normalize(kind.get(rid)), desired)
    assert [c.path for c in changes] == ["config.tags"]
    assert kind.update(rid, wanted, changes, kind.get(rid))["config"].get("tags", []) == []


def test_node_count_and_autoscaling_do_not_go_together() -> None:
    with pytest.raises(ValidationError, match="autoscaler sizes it"):
        fields(NodePool, {**POOL, "nodeCount": 2})
    fields(NodePool, {**POOL, "nodeCount": 2, "autoscaling": {"enabled": False}})


@pytest.mark.emulator_services("container", "compute")
def test_a_pool_is_resized_in_place_and_its_size_read_from_its_groups(clients: Clients,
                                                                      emulator: Emulator) -> None:
    from mlops_infra.kinds.compute.network import Network
    from mlops_infra.kinds.compute.subnetwork import Subnetwork

    network = Network(clients)
    network.create(network.identify(ctx("default"), {}), network.desired(ctx("default"), {}))
    subnet, sub = Subnetwork(clients), {"network": "default", "ipCidrRange": "10.0.0.0/20"}
    subnet.create(subnet.identify(ctx("default"), sub), subnet.desired(ctx("default"), sub))
    cluster = Cluster(clients)
    cluster.create(*cluster_of({"location": "europe-west1"}))    # regional: groups in 3 zones
    kind = NodePool(clients)
    fixed = {k: v for k, v in POOL.items() if k not in ("autoscaling", "initialNodeCount")}
    rid, desired = pool_of({**fixed, "nodeCount": 2})
    live = kind.create(rid, desired)
    assert live["initialNodeCount"] == 2 and live["nodeCount"] == 2
    assert len(live["instanceGroupUrls"]) == 3
    wanted = {**desired, "nodeCount": 5}
    changes = compare(kind, wanted, kind.normalize(kind.get(rid)))
    assert [c.path for c in changes] == ["nodeCount"] and kind.replace_reason(changes) is None
    emulator.clear_journal()
    live = kind.update(rid, wanted, changes, kind.get(rid))
    assert [e.path.rsplit("/", 1)[-1] for e in emulator.mutating_requests()] == ["cpu:setSize"]
    assert live["nodeCount"] == 5 and live["initialNodeCount"] == 2
    assert compare(kind, wanted, kind.normalize(live)) == []


def test_turning_only_auto_repair_off_keeps_auto_upgrade_on_a_release_channel(
        cluster: Any, clients: Clients) -> None:
    kind = NodePool(clients)
    rid, desired = pool_of({**POOL, "management": {"autoRepair": False}})
    live = kind.create(rid, desired)        # the cluster is on the STABLE channel
    assert live["management"] == {"autoRepair": False, "autoUpgrade": True}
    assert compare(kind, desired, kind.normalize(live)) == []
    kind.delete(rid, force=False)
    rid, desired = pool_of(POOL)
    kind.create(rid, desired)
    wanted = {**desired, "management": {"autoRepair": False}}
    live = kind.update(rid, wanted, compare(kind, wanted, kind.normalize(kind.get(rid))),
                       kind.get(rid))
    assert live["management"] == {"autoRepair": False, "autoUpgrade": True}

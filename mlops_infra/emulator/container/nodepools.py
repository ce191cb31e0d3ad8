"""Kubernetes Engine node pools: the stored resource as the server completes it, and the
per-aspect updates (``UpdateNodePool``, ``setAutoscaling``, ``setManagement``, ``setSize``).

Server-set defaults and their sources (googleapis ``google/container/v1/cluster_service.proto``
at f8291d2, unless named otherwise):

| field | default | source |
|---|---|---|
| ``config.machineType`` | ``e2-medium`` | proto ``NodeConfig.machine_type`` |
| ``config.diskSizeGb`` | ``100`` | proto ``NodeConfig.disk_size_gb`` ("smallest allowed disk size is 10GB") |
| ``config.diskType`` | ``pd-standard`` | proto ``NodeConfig.disk_type`` |
| ``config.imageType`` | ``COS_CONTAINERD`` | https://cloud.google.com/kubernetes-engine/docs/concepts/node-images |
| ``config.serviceAccount`` | ``default`` | proto ``NodeConfig.service_account`` |
| ``config.oauthScopes`` | logging.write and monitoring when unset | proto ``NodeConfig.oauth_scopes`` ("no scopes are added, unless Cloud Logging or Cloud Monitoring are enabled") |
| ``config.metadata`` | ``disable-legacy-endpoints: "true"`` | hashicorp/terraform-provider-google#3230 (the key GKE adds) |
| ``config.workloadMetadataConfig.mode`` | ``GKE_METADATA`` in a cluster with Workload Identity | https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity |
| ``config.shieldedInstanceConfig`` | integrity monitoring on, secure boot off | https://cloud.google.com/kubernetes-engine/docs/how-to/shielded-gke-nodes |
| ``management`` | auto-upgrade and auto-repair on | https://cloud.google.com/kubernetes-engine/docs/how-to/node-auto-upgrades; proto ``ReleaseChannel``: "Node auto-upgrade defaults to true and cannot be disabled" |
| ``upgradeSettings`` | surge, ``maxSurge: 1``, ``maxUnavailable: 0`` | https://cloud.google.com/kubernetes-engine/docs/concepts/node-pool-upgrade-strategies |
| ``maxPodsConstraint.maxPodsPerNode`` | ``"110"`` | https://cloud.google.com/kubernetes-engine/docs/how-to/flexible-pod-cidr |
| ``locations`` | the cluster's | proto ``NodePool.locations`` |
| ``autoscaling.locationPolicy`` | ``BALANCED`` when autoscaling | proto ``NodePoolAutoscaling.location_policy`` |

An ``UpdateNodePool`` naming nothing to change is refused ("At least one of [...] must be
specified", terraform-google-modules/terraform-google-kubernetes-engine#2014); wrapper messages
sent empty (``{"labels": {}}``) clear what they wrap (clients.md, measured).
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from mlops_infra.emulator.container.clusters import check_name, invalid

_LOGGING_SCOPES = ["https://www.googleapis.com/auth/logging.write",
                   "https://www.googleapis.com/auth/monitoring"]
# UpdateNodePoolRequest aspect -> where it lands in the NodePool (wrappers hold a list/map).
_CONFIG_ASPECTS = {"labels": ("labels", "labels"), "resourceLabels": ("resourceLabels", "labels"),
                   "taints": ("taints", "taints"), "tags": ("tags", "tags"),
                   "workloadMetadataConfig": ("workloadMetadataConfig", None),
                   "kubeletConfig": ("kubeletConfig", None), "linuxNodeConfig": ("linuxNodeConfig", None),
                   "gcfsConfig": ("gcfsConfig", None), "gvnic": ("gvnic", None),
                   "imageType": ("imageType", None), "machineType": ("machineType", None),
                   "diskType": ("diskType", None), "diskSizeGb": ("diskSizeGb", None)}
_POOL_ASPECTS = ("locations", "upgradeSettings", "nodeNetworkConfig")
# Aspects that recreate the nodes (long), the others only change metadata.
RECREATING = frozenset({"machineType", "diskType", "diskSizeGb", "imageType", "locations"})


def new_node_pool(body: dict[str, Any], *, cluster: dict[str, Any], self_link: str) -> dict[str, Any]:
    """The stored pool for a CreateNodePool body (or a cluster's ``nodePools[]`` entry)."""
    check_name(body.get("name"), "Node pool")
    pool = copy.deepcopy(body)
    config = pool.setdefault("config", {})
    config.setdefault("machineType", "e2-medium")
    config.setdefault("diskSizeGb", 100)
    if config["diskSizeGb"] < 10:
        raise invalid("Disk size must be at least 10 GB.")
    config.setdefault("diskType", "pd-standard")
    config.setdefault("imageType", "COS_CONTAINERD")
    config.setdefault("serviceAccount", "default")
    config.setdefault("oauthScopes", list(_LOGGING_SCOPES))
    config.setdefault("metadata", {}).setdefault("disable-legacy-endpoints", "true")
    config.setdefault("shieldedInstanceConfig", {"enableIntegrityMonitoring": True})
    if (cluster.get("workloadIdentityConfig") or {}).get("workloadPool"):
        config.setdefault("workloadMetadataConfig", {"mode": "GKE_METADATA"})
    _check_accelerators(config)
    pool.setdefault("initialNodeCount", 1 if not pool.get("autoscaling") else 0)
    pool.setdefault("locations", list(cluster.get("locations") or []))
    pool.setdefault("management", {"autoUpgrade": True, "autoRepair": True})
    _check_management(pool["management"], cluster)
    pool.setdefault("upgradeSettings", {"maxSurge": 1, "strategy": "SURGE"})
    pool.setdefault("maxPodsConstraint", {"maxPodsPerNode": "110"})
    pool.setdefault("podIpv4CidrSize", 24)
    if pool.get("autoscaling"):
        pool["autoscaling"] = _autoscaling(pool["autoscaling"])
    pool.update(version=cluster.get("currentNodeVersion"), selfLink=self_link,
                instanceGroupUrls=_groups(cluster, pool), etag=_etag(pool))
    return pool


def _groups(cluster: dict[str, Any], pool: dict[str, Any]) -> list[str]:
    digest = hashlib.sha256(f"{cluster['id']}/{pool['name']}".encode()).hexdigest()[:8]
    project = cluster["networkConfig"]["network"].split("/")[1]
    return [f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/"
            f"instanceGroupManagers/gke-{cluster['name'][:12]}-{pool['name'][:12]}-{digest}-grp"
            for zone in pool["locations"]]


def _etag(pool: dict[str, Any]) -> str:
    content = {k: v for k, v in pool.items() if k != "etag"}
    return hashlib.sha256(repr(sorted(content.items())).encode()).hexdigest()[:16]


def _check_accelerators(config: dict[str, Any]) -> None:
    for item in config.get("accelerators") or []:
        if int(item.get("acceleratorCount") or 0) < 1 or not item.get("acceleratorType"):
            raise invalid("Accelerators need an acceleratorType and an acceleratorCount of at "
                          "least 1.")


def _check_management(management: dict[str, Any], cluster: dict[str, Any]) -> None:
    channel = (cluster.get("releaseChannel") or {}).get("channel")
    if channel and channel != "UNSPECIFIED" and not management.get("autoUpgrade"):
        raise invalid("Auto-upgrade cannot be disabled for node pools of a cluster enrolled in "
                      f"the {channel} release channel.")


def _autoscaling(value: dict[str, Any]) -> dict[str, Any]:
    scaling = copy.deepcopy(value)
    if not scaling.get("enabled"):
        return {}
    low = scaling.get("minNodeCount", scaling.get("totalMinNodeCount", 0))
    high = scaling.get("maxNodeCount", scaling.get("totalMaxNodeCount", 0))
    if high < 1 or low > high:
        raise invalid(f"Autoscaling needs 0 <= min ({low}) <= max ({high}) and max >= 1.")
    scaling.setdefault("locationPolicy", "BALANCED")
    return scaling


def update(pool: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The pool after an ``UpdateNodePool`` body, and the aspects it changed."""
    present = {k for k in body if k in _CONFIG_ASPECTS or k in _POOL_ASPECTS}
    if not present:
        raise invalid("At least one of ['node_version', 'image_type', 'updated_node_pool', "
                      "'locations', 'workload_metadata_config', 'upgrade_settings', 'tags', "
                      "'taints', 'labels', 'kubelet_config', 'linux_node_config', 'gcfs_config', "
                      "'gvnic', 'machine_type', 'disk_type', 'disk_size_gb', 'resource_labels'] "
                      "must be specified.")
    out = copy.deepcopy(pool)
    for key in present & set(_CONFIG_ASPECTS):
        field, inner = _CONFIG_ASPECTS[key]
        value = copy.deepcopy(body[key])
        value = (value or {}).get(inner) if inner else value
        if value in (None, {}, []):
            out["config"].pop(field, None)
        else:
            out["config"][field] = value
    for key in present & set(_POOL_ASPECTS):
        out[key] = copy.deepcopy(body[key])
    out["etag"] = _etag(out)
    return out, present


def set_autoscaling(pool: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(pool)
    scaling = _autoscaling(body.get("autoscaling") or {})
    if scaling:
        out["autoscaling"] = scaling
    else:
        out.pop("autoscaling", None)
    out["etag"] = _etag(out)
    return out


def set_management(pool: dict[str, Any], body: dict[str, Any], cluster: dict[str, Any]) -> dict[str, Any]:
    management = dict(body.get("management") or {})
    _check_management(management, cluster)
    out = copy.deepcopy(pool)
    out["management"] = management
    out["etag"] = _etag(out)
    return out


def set_size(pool: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """``setSize``: the pool (unchanged: the size lives in its instance groups, not in the
    NodePool, whose ``initialNodeCount`` stays what it was created with) and the new size of
    each of its groups ("the desired node count for the pool", per zone as gcloud's
    ``--num-nodes``; Terraform reads it back from the groups' ``targetSize``:
    terraform-provider-google resource_container_node_pool.go ``getNodePoolSize``)."""
    count = int(body.get("nodeCount") or 0)
    if count < 0:
        raise invalid("nodeCount must be >= 0.")
    return copy.deepcopy(pool), count


def group_view(url: str, size: int) -> dict[str, Any]:
    """A pool's managed instance group as Compute's ``instanceGroupManagers.get`` shows it
    (compute v1 discovery ``InstanceGroupManager``; GKE names them
    ``gke-CLUSTER-POOL-HASH-grp``, the instance group of the same name beside it)."""
    name = url.rsplit("/", 1)[-1]
    digest = hashlib.sha256(url.encode()).hexdigest()
    return {"kind": "compute#instanceGroupManager", "id": str(int(digest[:15], 16)), "name": name,
            "zone": url.split("/instanceGroupManagers/")[0], "selfLink": url,
            "baseInstanceName": name.removesuffix("-grp"), "targetSize": size,
            "instanceGroup": url.replace("/instanceGroupManagers/", "/instanceGroups/"),
            "status": {"isStable": True}}

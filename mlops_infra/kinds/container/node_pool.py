"""``container.NodePool``: a node pool of a GKE cluster.

| path | notes |
|---|---|
| ``cluster`` | required: the cluster's id, usually ``${gke.id}`` (``projects/P/locations/L/clusters/C``) |
| ``initialNodeCount`` | nodes per zone at creation; create-only (a change replaces the pool) |
| ``nodeCount`` | nodes per zone, resized in place (``setSize``); read back from the pool's instance groups (their ``targetSize``, as Terraform's ``node_count``); the initial count when ``initialNodeCount`` is not written; not with ``autoscaling`` (the autoscaler sizes the pool) |
| ``autoscaling`` | ``{minNodeCount, maxNodeCount}`` per zone or ``{totalMinNodeCount, totalMaxNodeCount}``, ``locationPolicy`` ``BALANCED``/``ANY``; ``enabled`` true unless written (``setAutoscaling``) |
| ``management`` | ``{autoRepair, autoUpgrade}`` (``setManagement``); API default both on (a release channel requires auto-upgrade) |
| ``locations`` | node zones (a set); default the cluster's |
| ``maxPodsPerNode`` | shorthand for ``maxPodsConstraint.maxPodsPerNode``; create-only |
| ``upgradeSettings`` | ``{maxSurge, maxUnavailable, strategy}`` |
| ``config.machineType``, ``config.diskSizeGb``, ``config.diskType`` | one ``UpdateNodePool`` (nodes are recreated) |
| ``config.imageType`` | e.g. ``COS_CONTAINERD`` |
| ``config.accelerators[]`` | ``{acceleratorType, acceleratorCount, gpuDriverInstallationConfig: {gpuDriverVersion: DEFAULT\\|LATEST\\|INSTALLATION_DISABLED}}``; create-only |
| ``config.spot`` / ``config.preemptible`` | create-only |
| ``config.serviceAccount`` | ``${trainer.email}``; create-only |
| ``config.oauthScopes`` | a set; ``cloud-platform`` stands for ``https://www.googleapis.com/auth/cloud-platform``; create-only |
| ``config.workloadMetadataConfig.mode`` | ``GKE_METADATA`` (Workload Identity) or ``GCE_METADATA`` |
| ``config.labels`` / ``config.taints`` / ``config.tags`` | Kubernetes labels, taints ``{key, value, effect: NO_SCHEDULE\\|PREFER_NO_SCHEDULE\\|NO_EXECUTE}`` (a set), network tags (a set); each its own ``UpdateNodePool`` |
| ``config.resourceLabels`` | labels of the pool's VMs; ``managed-by``/stack labels are added (ownership) |
| ``config.shieldedInstanceConfig`` / ``config.metadata`` | create-only |

Updates go through the per-aspect methods, one aspect per call (``setAutoscaling``,
``setManagement``, ``setSize``, ``UpdateNodePool``). A change to a create-only field replaces the pool
**create-before-destroy**: the new pool, named ``NAME-rXXXX`` (``NAME`` cut to 34 characters, a
suffix derived from the old pool's name so a rerun after a crash finds the same one), is
created and ready before the old one is deleted, so the cluster always keeps a pool and
workloads move over; the next plan knows the suffixed pool as this resource (its API name is in
the ledger). Pool names are GKE names; ones ending in ``-r`` and four hex digits are kept for
replacements. Outputs: ``name`` (the API name), ``id``. Changes run one at a time per cluster
and wait for the operations running on it; ``status`` is ``RUNNING`` in the desired state
(an interrupted create is waited for). Deadline: 2 h per operation.

Moving in: ``google_container_node_pool`` (resource_container_node_pool.go and node_config.go
in magic-modules ``services/container``). ``cluster`` is written as the cluster's id (a bare
name is completed with the pool's project and location) so it becomes ``${gke.id}``. Left out
at GKE's defaults (the emulator's table: machine ``e2-medium``, 100 GB ``pd-standard``,
``COS_CONTAINERD``, the ``default`` service account with logging.write and monitoring, metadata
``disable-legacy-endpoints``, integrity monitoring on and secure boot off, auto-repair and
auto-upgrade on, surge 1/0, 110 pods per node, ``BALANCED``) and node zones that are GKE's
choice (three for a regional cluster, the cluster's zone for a zonal one). Without autoscaling
``node_count`` becomes ``nodeCount`` (``initialNodeCount`` only when it differs); with it, the
initial count. GPU partitioning/sharing, local SSDs, kubelet/linux settings, the boot disk's
key and the other blocks set are noted, not carried over.

Live pools (``import live``) are the pools of every cluster ``locations/-`` lists in the regions
asked for, sized from their instance groups, the same defaults left out, ``cluster`` written as
the cluster's id. GKE's ``default-pool`` (made with a cluster created with a node count, as
gcloud and the console do) is a pool like any other here: ``container.Cluster`` has no inline
pools, so it becomes a ``container.NodePool`` (noted). Left to GKE: pools node
auto-provisioning made (``autoscaling.autoprovisioned``; every pool of an Autopilot cluster)
and the bootstrap pool ``container.Cluster`` creates a cluster with and removes once it runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import (
    CALL,
    FieldChanges,
    SpecModel,
    check_labels,
    int64_at,
    translate_errors,
)
from mlops_infra.kinds._clients import COMPUTE_GROUP_MANAGERS, CONTAINER
from mlops_infra.kinds._imports import block, blocks, leftovers, put, user_labels
from mlops_infra.kinds.container import _common as common
from mlops_infra.spec.jsoncopy import copy_json

SCOPE_ROOT = "https://www.googleapis.com/auth/"
_SUFFIX = re.compile(r"-r[0-9a-f]{4}$")
_CLUSTER = re.compile(r"^projects/[^/]+/locations/[^/]+/clusters/[^/]+$")
_BASE_MAX = 34
# UpdateNodePool aspects: config path -> (request field, wrapper field or None).
_CONFIG_UPDATES = {"imageType": ("imageType", None), "labels": ("labels", "labels"),
                   "resourceLabels": ("resourceLabels", "labels"), "taints": ("taints", "taints"),
                   "tags": ("tags", "tags"),
                   "workloadMetadataConfig": ("workloadMetadataConfig", None)}
_SIZING = ("machineType", "diskSizeGb", "diskType")


class GpuDriver(SpecModel):
    gpuDriverVersion: Literal["DEFAULT", "LATEST", "INSTALLATION_DISABLED"]


class Accelerator(SpecModel):
    acceleratorType: str
    acceleratorCount: int = Field(ge=1)
    gpuDriverInstallationConfig: GpuDriver | None = None


class Taint(SpecModel):
    key: str
    value: str = ""
    effect: Literal["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"]


class WorkloadMetadata(SpecModel):
    mode: Literal["GKE_METADATA", "GCE_METADATA"]


class ShieldedInstance(SpecModel):
    enableSecureBoot: bool | None = None
    enableIntegrityMonitoring: bool | None = None


class NodeConfig(SpecModel):
    machineType: str | None = Field(default=None, pattern=r"^(\$\{.+|[a-z0-9]+-[a-z0-9-]+)$")
    diskSizeGb: int | None = Field(default=None, ge=10)
    diskType: Literal["pd-standard", "pd-ssd", "pd-balanced", "hyperdisk-balanced"] | None = None
    imageType: str | None = None
    accelerators: list[Accelerator] | None = None
    spot: bool | None = None
    preemptible: bool | None = None
    serviceAccount: str | None = None
    oauthScopes: list[str] | None = None
    workloadMetadataConfig: WorkloadMetadata | None = None
    labels: dict[str, str] | None = None
    taints: list[Taint] | None = None
    tags: list[str] | None = None
    resourceLabels: dict[str, str] | None = None
    shieldedInstanceConfig: ShieldedInstance | None = None
    metadata: dict[str, str] | None = None

    @field_validator("resourceLabels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)


class Autoscaling(SpecModel):
    enabled: bool = True
    minNodeCount: int | None = Field(default=None, ge=0)
    maxNodeCount: int | None = Field(default=None, ge=1)
    totalMinNodeCount: int | None = Field(default=None, ge=0)
    totalMaxNodeCount: int | None = Field(default=None, ge=1)
    locationPolicy: Literal["BALANCED", "ANY"] | None = None


class Management(SpecModel):
    autoRepair: bool | None = None
    autoUpgrade: bool | None = None


class UpgradeSettings(SpecModel):
    maxSurge: int | None = Field(default=None, ge=0)
    maxUnavailable: int | None = Field(default=None, ge=0)
    strategy: Literal["SURGE", "BLUE_GREEN"] | None = None


class NodePoolSpec(SpecModel):
    """A GKE node pool (REST field names, plus ``maxPodsPerNode``)."""

    cluster: str
    initialNodeCount: int | None = Field(default=None, ge=0)
    nodeCount: int | None = Field(default=None, ge=0)
    autoscaling: Autoscaling | None = None
    management: Management | None = None
    locations: list[str] | None = None
    maxPodsPerNode: int | None = Field(default=None, ge=8, le=256)
    upgradeSettings: UpgradeSettings | None = None
    config: NodeConfig | None = None

    @model_validator(mode="after")
    def _sized_once(self) -> NodePoolSpec:
        if self.nodeCount is not None and self.autoscaling is not None and self.autoscaling.enabled:
            raise ValueError("'nodeCount' sizes a pool without autoscaling: with 'autoscaling' "
                             "the autoscaler sizes it (write initialNodeCount for its start)")
        return self


def _scopes(scopes: list[str]) -> list[str]:
    return [s if s.startswith("https://") else SCOPE_ROOT + s for s in scopes]


def _expanded(fields: dict[str, Any]) -> dict[str, Any]:
    body = {k: copy_json(v) for k, v in fields.items() if k != "cluster"}
    if "maxPodsPerNode" in body:
        body["maxPodsConstraint"] = {"maxPodsPerNode": body.pop("maxPodsPerNode")}
    config = body.get("config")
    if isinstance(config, dict):
        if "oauthScopes" in config:
            config["oauthScopes"] = _scopes(config["oauthScopes"])
        for item in config.get("accelerators") or []:
            if isinstance(item, dict):
                int64_at(item, ("acceleratorCount",))
    int64_at(body, ("maxPodsConstraint.maxPodsPerNode",))
    return body


def _normalized(live: dict[str, Any]) -> dict[str, Any]:
    out = common.canonical("NodePool", live)
    if "nodeCount" in live:                       # read from the pool's instance groups
        out["nodeCount"] = live["nodeCount"]
    out["status"] = common.resting(out.get("status"))
    int64_at(out, ("maxPodsConstraint.maxPodsPerNode",))
    for item in (out.get("config") or {}).get("accelerators") or []:
        int64_at(item, ("acceleratorCount",))
    return out


def base_name(pool: str) -> str:
    """The spec's name of a pool that may be a replacement (``NAME-rXXXX``)."""
    return _SUFFIX.sub("", pool)


@register
class NodePool(Kind):
    """A GKE node pool, replaced create-before-destroy."""

    name = "container.NodePool"
    name_pattern = "projects/*/locations/*/clusters/*/nodePools/*"
    model = NodePoolSpec
    api = common.API
    uses = (CONTAINER, COMPUTE_GROUP_MANAGERS)
    outputs = frozenset({"name", "id"})
    layer = "Compute"
    labels_path = "config.resourceLabels"
    replace_order = "create-first"
    immutable = frozenset({"initialNodeCount", "maxPodsConstraint", "config.accelerators",
                           "config.spot", "config.preemptible", "config.serviceAccount",
                           "config.oauthScopes", "config.shieldedInstanceConfig",
                           "config.metadata"})
    set_paths = frozenset({"locations", "config.oauthScopes", "config.tags", "config.taints"})
    list_keys = {"locations": "", "config.oauthScopes": "", "config.tags": "", "config.taints": "",
                 "config.accelerators": "acceleratorType"}
    terraform_types = ("google_container_node_pool",)
    terraform_refs = {"cluster": "id", "config.serviceAccount": "email"}

    # --- identity ---
    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        if _SUFFIX.search(ctx.name):
            return (f"node pool name {ctx.name!r}: names ending in '-r' and four hex digits are "
                    "kept for the pools that replace it")
        return common.name_problem(ctx.name, "node pool")

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        cluster = str(fields.get("cluster", ""))
        if not _CLUSTER.match(cluster):
            raise errors.SpecError(f"cluster {cluster!r}: expected the cluster's id "
                                   "projects/P/locations/L/clusters/C (usually ${gke.id})",
                                   field=f"{ctx.address}.cluster")
        return self.id_from_name(f"{cluster}/nodePools/{ctx.name}")

    def id_from_name(self, name: str) -> ResourceId:
        cluster, _, pool = name.partition("/nodePools/")
        return ResourceId(kind=self.name, name=name, scope=cluster,
                          parts={**common.cluster_of(cluster), "pool": pool})

    def serial_key(self, rid: ResourceId) -> str | None:
        return rid.scope         # the cluster: GKE runs one of its operations at a time

    def same_resource(self, rid: ResourceId, name: str) -> bool:
        cluster, _, pool = name.partition("/nodePools/")
        spec = rid.parts["pool"]
        return cluster == rid.scope and (pool == spec or (
            bool(_SUFFIX.search(pool)) and base_name(pool) == spec[:_BASE_MAX]))

    def replacement(self, rid: ResourceId) -> ResourceId:
        base = base_name(rid.parts["pool"])[:_BASE_MAX]
        suffix = hashlib.sha256(rid.name.encode()).hexdigest()[:4]
        return self.id_from_name(f"{rid.scope}/nodePools/{base}-r{suffix}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = _expanded(fields)
        if isinstance(body.get("autoscaling"), dict):
            body["autoscaling"] = {"enabled": True, **body["autoscaling"]}
        body["status"] = "RUNNING"
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return _normalized(live)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.parts["pool"], "id": rid.name}

    def describe(self, rid: ResourceId) -> str:
        return f"node pool {rid.parts['pool']} of cluster {rid.parts['cluster']}"

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        project, location = str(a["project"]), str(a["location"])
        cluster = str(a["cluster"])
        if not cluster.startswith("projects/"):
            cluster = f"projects/{project}/locations/{location}/clusters/{cluster}"
        fields: dict[str, Any] = {"cluster": cluster}
        notes: list[str] = []
        scaling = _tf_autoscaling(block(a, "autoscaling"))
        if scaling:
            fields["autoscaling"] = scaling
            put(fields, "initialNodeCount", a.get("initial_node_count"))
        else:
            count = a.get("node_count")
            put(fields, "nodeCount", count)
            if a.get("initial_node_count") not in (None, count):
                fields["initialNodeCount"] = a["initial_node_count"]
        management = block(a, "management")
        put(fields, "management", {k: False for k, t in (("autoRepair", "auto_repair"),
                                                         ("autoUpgrade", "auto_upgrade"))
                                   if management.get(t) is False})
        zones = sorted(a.get("node_locations") or [])
        if zones and not _gke_chosen(zones, location):
            fields["locations"] = zones
        put(fields, "maxPodsPerNode", a.get("max_pods_per_node"), default=110)
        put(fields, "upgradeSettings", _tf_upgrade(block(a, "upgrade_settings")))
        put(fields, "config", _tf_node_config(block(a, "node_config"), notes))
        return [Imported(name=str(a["name"]), project=project, fields=fields,
                         notes=(*notes, *leftovers(a, _TF_KNOWN)))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """The inverse of ``desired`` for a pool as ``list`` reads it (with ``nodeCount``),
        GKE's defaults left out; ``cluster`` is the cluster's id, so it becomes ``${gke.id}``."""
        rid = self.id_from_name(name)
        if _SUFFIX.search(rid.parts["pool"]):
            raise NotImportable(f"its name ends like a replacement's (-rXXXX): a spec entry "
                                f"named {base_name(rid.parts['pool'])!r} would stand for it")
        out = _normalized(live)
        notes: list[str] = []
        fields: dict[str, Any] = {"cluster": rid.scope}
        scaling = _live_autoscaling(out.get("autoscaling") or {})
        if scaling:
            fields["autoscaling"] = scaling
            put(fields, "initialNodeCount", out.get("initialNodeCount"))
        else:
            count = live.get("nodeCount", out.get("initialNodeCount"))
            put(fields, "nodeCount", count)
            if out.get("initialNodeCount") not in (None, count):
                fields["initialNodeCount"] = out["initialNodeCount"]
        management = out.get("management") or {}
        put(fields, "management", {k: False for k in ("autoRepair", "autoUpgrade")
                                   if management.get(k) is False})
        zones = sorted(out.get("locations") or [])
        if zones and not _gke_chosen(zones, rid.parts["location"]):
            fields["locations"] = zones
        pods = (out.get("maxPodsConstraint") or {}).get("maxPodsPerNode")
        put(fields, "maxPodsPerNode", int(pods) if pods else None, default=110)
        put(fields, "upgradeSettings", _live_upgrade(out.get("upgradeSettings") or {}))
        put(fields, "config", _live_node_config(out.get("config") or {}, notes))
        if rid.parts["pool"] == "default-pool":
            notes.append("GKE's default pool, made with the cluster: a node pool of its own here "
                         "(container.Cluster has no inline pools)")
        return [Imported(name=rid.parts["pool"], project=rid.parts["project"], fields=fields,
                         notes=tuple(notes))]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """The pools of every cluster in ``regions`` (one ``locations/-`` listing, then each
        cluster's ``ListNodePools``, sizes read from the instance groups)."""
        found: dict[str, dict[str, Any]] = {}
        for cluster in common.live_clusters(self.clients, project, regions):
            found.update(self.list(cluster))
        return found

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        """Pools GKE makes and removes by itself: node auto-provisioning's (every pool of an
        Autopilot cluster; proto ``NodePoolAutoscaling.autoprovisioned``: "Can this node pool
        be deleted automatically"), and the bootstrap pool ``container.Cluster`` creates a
        cluster with and removes once it runs."""
        if (live.get("autoscaling") or {}).get("autoprovisioned"):
            return "a node pool GKE's node auto-provisioning made (it creates and deletes it)"
        if name.endswith(f"/nodePools/{common.BOOTSTRAP_POOL}"):
            return ("the bootstrap pool a cluster is created with, removed once the cluster "
                    "runs (container.Cluster's own)")
        return None

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        from google.api_core.exceptions import NotFound

        with common.gke_errors(f"node pools of {scope}"):
            try:
                found = self.clients.get(CONTAINER).list_node_pools(parent=scope, **CALL)
            except NotFound:
                return {}
        listed = {f"{scope}/nodePools/{p['name']}": p
                  for p in (common.to_dict(x) for x in found.node_pools)}
        for name, live in listed.items():      # complete, as ``get`` reads it: with nodeCount
            self._with_size(self.id_from_name(name), live)
        return listed

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        live = common.get_or_none(self.clients.get(CONTAINER).get_node_pool,
                                  what=self.describe(rid), name=rid.name)
        if live is not None:
            self._with_size(rid, live)
        return live

    def _with_size(self, rid: ResourceId, live: dict[str, Any]) -> None:
        """``nodeCount`` added to a pool the autoscaler does not size."""
        if not (live.get("autoscaling") or {}).get("enabled"):
            size = self._size(rid, live.get("instanceGroupUrls") or [])
            if size is not None:
                live["nodeCount"] = size

    def _size(self, rid: ResourceId, groups: Sequence[str]) -> int | None:
        """Nodes per zone: the mean ``targetSize`` of the pool's instance groups (GKE keeps the
        size there, not in the NodePool; Terraform reads it so: ``getNodePoolSize``)."""
        from google.api_core.exceptions import NotFound

        sizes = []
        for url in groups:
            project = url.split("/projects/")[1].split("/")[0]
            zone, name = url.split("/zones/")[1].split("/")[0], url.rsplit("/", 1)[-1]
            with translate_errors(f"instance group {name} of {self.describe(rid)}"):
                try:
                    group = self.clients.get(COMPUTE_GROUP_MANAGERS).get(
                        project=project, zone=zone, instance_group_manager=name, **CALL)
                except NotFound:
                    continue          # being made or removed with the pool
            sizes.append(int(group.target_size))
        return sum(sizes) // len(sizes) if sizes else None

    def _read(self, rid: ResourceId) -> dict[str, Any]:
        live = self.get(rid)
        if live is None:
            raise errors.NotFound(f"{self.describe(rid)} disappeared")
        return live

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        pool = {"name": rid.parts["pool"], **{k: copy_json(v) for k, v in desired.items()
                                             if k not in ("status", "nodeCount")}}
        if "nodeCount" in desired:
            pool.setdefault("initialNodeCount", desired["nodeCount"])
        if "management" in pool:
            pool["management"] = _management(desired)
        common.call(self.clients, "create_node_pool", "CreateNodePoolRequest",
                    {"parent": rid.scope, "nodePool": pool}, parts=rid.parts,
                    what=self.describe(rid), deadline=common.NODE_POOL_DEADLINE)
        return self._ready(rid)

    def _ready(self, rid: ResourceId) -> dict[str, Any]:
        common.await_idle(self.clients, rid.parts, what=self.describe(rid),
                          deadline=common.NODE_POOL_DEADLINE, node_pool=rid.parts["pool"])
        live = self._read(rid)
        if live.get("status") == "ERROR":
            raise errors.PermanentError(f"{self.describe(rid)} is in the ERROR state: "
                                        f"{live.get('statusMessage')}")
        return live

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        tops = {c.path.split(".", 1)[0] for c in changes}
        config = {c.path.split(".")[1] for c in changes if c.path.startswith("config.")}
        if "status" in tops:
            self._ready(rid)
        if "autoscaling" in tops:
            self._call(rid, "set_node_pool_autoscaling", "SetNodePoolAutoscalingRequest",
                       {"autoscaling": desired.get("autoscaling") or {"enabled": False}})
        if "management" in tops:
            self._call(rid, "set_node_pool_management", "SetNodePoolManagementRequest",
                       {"management": _management(desired)})
        if "nodeCount" in tops:
            self._call(rid, "set_node_pool_size", "SetNodePoolSizeRequest",
                       {"nodeCount": desired.get("nodeCount") or 0})
        if "locations" in tops:
            self._update(rid, {"locations": desired.get("locations") or live.get("locations")})
        if "upgradeSettings" in tops:
            self._update(rid, {"upgradeSettings": desired.get("upgradeSettings") or {}})
        if config & set(_SIZING):
            self._update(rid, self._sizing(rid, desired))
        for aspect in sorted(config & set(_CONFIG_UPDATES)):
            self._update(rid, self._config_aspect(rid, aspect, desired, changes))
        return self._read(rid)

    def _sizing(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        """Machine type and disk together, as Terraform sends them (one call recreates nodes)."""
        current = self._read(rid).get("config") or {}
        want = desired.get("config") or {}
        return {key: want.get(key, current.get(key)) for key in _SIZING
                if want.get(key, current.get(key)) is not None}

    def _config_aspect(self, rid: ResourceId, aspect: str, desired: dict[str, Any],
                       changes: FieldChanges) -> dict[str, Any]:
        field, wrapper = _CONFIG_UPDATES[aspect]
        value = copy_json((desired.get("config") or {}).get(aspect))
        if aspect == "resourceLabels":        # merged with labels others set, ours removed
            current = (self._read(rid).get("config") or {}).get("resourceLabels") or {}
            removed = {c.path.split(".", 2)[2] for c in changes if c.op == "remove"
                       and c.path.startswith("config.resourceLabels.")}
            value = {k: v for k, v in {**current, **(value or {})}.items() if k not in removed}
        if wrapper is None:
            return {field: value} if value is not None else {field: {}}
        empty: Any = [] if aspect in ("taints", "tags") else {}
        return {field: {wrapper: value if value is not None else empty}}

    def _update(self, rid: ResourceId, aspect: dict[str, Any]) -> None:
        self._call(rid, "update_node_pool", "UpdateNodePoolRequest", aspect)

    def _call(self, rid: ResourceId, method: str, message: str, body: dict[str, Any]) -> None:
        common.call(self.clients, method, message, {"name": rid.name, **body}, parts=rid.parts,
                    what=self.describe(rid), deadline=common.NODE_POOL_DEADLINE)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self._call(rid, "delete_node_pool", "DeleteNodePoolRequest", {})
        except (errors.NotFound, NotFound):
            return


# --- moving in: google_container_node_pool (resource_container_node_pool.go, node_config.go) --------

_TF_KNOWN = ("name", "cluster", "location", "autoscaling", "initial_node_count", "node_count",
             "management", "node_locations", "max_pods_per_node", "upgrade_settings", "node_config",
             # computed, or the provider's own
             "name_prefix", "version", "instance_group_urls", "managed_instance_group_urls",
             "operation", "network_config", "placement_policy", "queued_provisioning")
_DEFAULT_SCOPES = ["https://www.googleapis.com/auth/logging.write",
                   "https://www.googleapis.com/auth/monitoring"]
_NODE_KNOWN = frozenset({
    "machine_type", "disk_size_gb", "disk_type", "image_type", "guest_accelerator", "spot",
    "preemptible", "service_account", "oauth_scopes", "workload_metadata_config", "labels",
    "taint", "effective_taints", "tags", "resource_labels", "shielded_instance_config",
    "metadata", "logging_variant", "boot_disk", "reservation_affinity", "kubelet_config",
    "gcfs_config", "gvnic", "confidential_nodes", "advanced_machine_features",
    "windows_node_config"})   # computed: the server's values when the configuration says nothing


def _gke_chosen(zones: list[str], location: str) -> bool:
    """Whether these are the zones GKE picks: three of a region, or the cluster's own zone."""
    if location.count("-") == 2:                 # a zone
        return zones == [location]
    return len(zones) == 3 and all(z.rsplit("-", 1)[0] == location for z in zones)


def _tf_autoscaling(s: dict[str, Any]) -> dict[str, Any]:
    out = {key: s[attr] for key, attr in (("minNodeCount", "min_node_count"),
                                          ("maxNodeCount", "max_node_count"),
                                          ("totalMinNodeCount", "total_min_node_count"),
                                          ("totalMaxNodeCount", "total_max_node_count"))
           if s.get(attr)}
    if s.get("min_node_count") == 0 and s.get("max_node_count"):
        out["minNodeCount"] = 0
    if out:
        put(out, "locationPolicy", s.get("location_policy"), default="BALANCED")
    return out


def _tf_upgrade(u: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if u.get("strategy") == "BLUE_GREEN":
        out["strategy"] = "BLUE_GREEN"
        return out
    if u and u.get("max_surge") != 1:
        out["maxSurge"] = u.get("max_surge", 0)
    if u.get("max_unavailable"):
        out["maxUnavailable"] = u["max_unavailable"]
    return out


def _tf_node_config(c: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put_machine(out, c.get("machine_type"), c.get("disk_size_gb"), c.get("disk_type"),
                 c.get("image_type"))
    put(out, "accelerators", [
        _accelerator(g["type"], g["count"],
                     block(g, "gpu_driver_installation_config").get("gpu_driver_version"),
                     shared=bool(g.get("gpu_partition_size") or g.get("gpu_sharing_config")),
                     where="node_config.guest_accelerator", notes=notes)
        for g in blocks(c, "guest_accelerator")])
    _put_identity(out, c, c.get("service_account"), c.get("oauth_scopes"))
    put(out, "workloadMetadataConfig",
        {"mode": m} if (m := block(c, "workload_metadata_config").get("mode")) else None)
    _put_labels_taints_tags(out, c.get("labels"), blocks(c, "taint"), c.get("tags"))
    put(out, "resourceLabels", user_labels(c.get("resource_labels")))
    shielded = block(c, "shielded_instance_config")
    _put_hardening(out, shielded.get("enable_secure_boot"),
                   shielded.get("enable_integrity_monitoring"), c.get("metadata"))
    extra = sorted(k for k, v in c.items() if k not in _NODE_KNOWN and v not in
                   (None, "", 0, False, [], {}))
    if c.get("boot_disk_kms_key"):
        notes.append("node_config.boot_disk_kms_key is not carried over")
    extra = [k for k in extra if k != "boot_disk_kms_key"]
    if extra:
        notes.append(f"node_config: not carried over (left as it is live): {', '.join(extra)}")
    return out


# --- moving in: live node pools -------------------------------------------------------------------

def _live_autoscaling(s: dict[str, Any]) -> dict[str, Any]:
    if not s.get("enabled"):
        return {}
    out = {k: int(s[k]) for k in ("minNodeCount", "maxNodeCount", "totalMinNodeCount",
                                  "totalMaxNodeCount") if s.get(k)}
    if s.get("maxNodeCount") and not s.get("minNodeCount"):
        out["minNodeCount"] = 0
    put(out, "locationPolicy", s.get("locationPolicy"), default="BALANCED")
    return out


def _live_upgrade(u: dict[str, Any]) -> dict[str, Any]:
    if u.get("strategy") == "BLUE_GREEN":
        return {"strategy": "BLUE_GREEN"}
    out: dict[str, Any] = {}
    if u and u.get("maxSurge", 1) != 1:
        out["maxSurge"] = u.get("maxSurge", 0)
    if u.get("maxUnavailable"):
        out["maxUnavailable"] = u["maxUnavailable"]
    return out


# NodeConfig fields this kind holds, and those GKE fills in with nothing set (proto zero values
# or the server's own): kept out of the notes.
_NODE_LIVE_KNOWN = frozenset({*NodeConfig.model_fields, "effectiveCgroupMode", "nodeGroup",
                              "enableConfidentialStorage", "loggingConfig", "windowsNodeConfig",
                              "advancedMachineFeatures", "gcfsConfig", "gvnic",
                              "confidentialNodes", "reservationAffinity", "resourceManagerTags",
                              "kubeletConfig", "linuxNodeConfig", "soleTenantConfig",
                              "fastSocket", "containerdConfig", "ephemeralStorageLocalSsdConfig",
                              "localNvmeSsdBlockConfig", "sandboxConfig", "maxRunDuration",
                              "flexStart", "bootDisk", "localSsdEncryptionMode"})


def _live_node_config(c: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """``config`` as written: the inverse of ``_tf_node_config`` from the REST shape."""
    out: dict[str, Any] = {}
    _put_machine(out, c.get("machineType"), c.get("diskSizeGb"), c.get("diskType"),
                 c.get("imageType"))
    put(out, "accelerators", [
        _accelerator(g["acceleratorType"], int(g["acceleratorCount"]), _live_driver(g),
                     shared=bool(g.get("gpuPartitionSize") or g.get("gpuSharingConfig")),
                     where="config.accelerators", notes=notes)
        for g in c.get("accelerators") or []])
    _put_identity(out, c, c.get("serviceAccount"), c.get("oauthScopes"))
    mode = (c.get("workloadMetadataConfig") or {}).get("mode")
    if mode in ("GKE_METADATA", "GCE_METADATA"):
        out["workloadMetadataConfig"] = {"mode": mode}
    _put_labels_taints_tags(out, c.get("labels"), c.get("taints") or [], c.get("tags"))
    # GKE's own goog-gke-* VM labels (e.g. goog-gke-node-pool-provisioning-model) are not the user's
    put(out, "resourceLabels", {k: v for k, v in user_labels(c.get("resourceLabels")).items()
                                if not k.startswith("goog-gke-")})
    shielded = c.get("shieldedInstanceConfig") or {}
    _put_hardening(out, shielded.get("enableSecureBoot"),
                   shielded.get("enableIntegrityMonitoring"), c.get("metadata"))
    if c.get("bootDiskKmsKey"):
        notes.append("config.bootDiskKmsKey is not carried over")
    if c.get("localSsdCount"):
        notes.append("config.localSsdCount is not carried over")
    extra = sorted(k for k, v in c.items() if k not in _NODE_LIVE_KNOWN and k not in
                   ("bootDiskKmsKey", "localSsdCount", "minCpuPlatform", "secondaryBootDisks",
                    "storagePools") and v not in (None, "", 0, False, [], {}))
    if c.get("minCpuPlatform"):
        extra.append("minCpuPlatform")
    if extra:
        notes.append(f"config: not carried over (left as it is live): {', '.join(sorted(extra))}")
    return out


def _management(desired: dict[str, Any]) -> dict[str, Any]:
    """The whole ``NodeManagement`` to send: a flag the spec leaves out keeps the API's default
    (on), as a proto3 bool that is not sent reads as off, and a release channel refuses a pool
    without auto-upgrade (cluster_service.proto ``NodeManagement``; the kind's table above)."""
    return {"autoUpgrade": True, "autoRepair": True, **(desired.get("management") or {})}


# --- the parts of ``config`` both readers write (Terraform's and the API's spellings differ) ---

def _put_machine(out: dict[str, Any], machine: Any, disk_size: Any, disk_type: Any,
                 image: Any) -> None:
    put(out, "machineType", machine, default="e2-medium")
    put(out, "diskSizeGb", disk_size, default=100)
    put(out, "diskType", disk_type, default="pd-standard")
    put(out, "imageType", image, default="COS_CONTAINERD")


def _accelerator(kind: str, count: Any, driver: str | None, *, shared: bool, where: str,
                 notes: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"acceleratorType": kind, "acceleratorCount": count}
    if driver:
        item["gpuDriverInstallationConfig"] = {"gpuDriverVersion": driver}
    if shared:
        notes.append(f"{where} partitioning/sharing is not carried over")
    return item


def _live_driver(accelerator: dict[str, Any]) -> str | None:
    driver = (accelerator.get("gpuDriverInstallationConfig") or {}).get("gpuDriverVersion")
    return None if driver == "GPU_DRIVER_VERSION_UNSPECIFIED" else driver


def _put_identity(out: dict[str, Any], c: dict[str, Any], service_account: Any,
                  scopes: Any) -> None:
    """Spot/preemptible (the same key in both spellings), the service account and its scopes."""
    for key in ("spot", "preemptible"):
        if c.get(key):
            out[key] = True
    put(out, "serviceAccount", service_account, default="default")
    chosen = sorted(scopes or [])
    if chosen and chosen != _DEFAULT_SCOPES:
        out["oauthScopes"] = [s.removeprefix(SCOPE_ROOT) for s in chosen]


def _put_labels_taints_tags(out: dict[str, Any], labels: Any, taints: Any, tags: Any) -> None:
    put(out, "labels", dict(labels or {}))
    shaped = [{"key": t["key"], "value": t.get("value") or "", "effect": t["effect"]}
              for t in taints]
    put(out, "taints", sorted(shaped, key=lambda t: (t["key"], t["effect"])))
    put(out, "tags", sorted(tags or []))


def _put_hardening(out: dict[str, Any], secure_boot: Any, integrity_monitoring: Any,
                   metadata: Any) -> None:
    """Shielded-VM choices away from GKE's defaults, and the metadata the user set (GKE's
    ``disable-legacy-endpoints: true`` is its default)."""
    config = {}
    if secure_boot:
        config["enableSecureBoot"] = True
    if integrity_monitoring is False:
        config["enableIntegrityMonitoring"] = False
    put(out, "shieldedInstanceConfig", config)
    put(out, "metadata", {k: str(v) for k, v in (metadata or {}).items()
                          if not (k == "disable-legacy-endpoints" and str(v) == "true")})

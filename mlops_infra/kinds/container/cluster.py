"""``container.Cluster``: a GKE Standard cluster, created without a default node pool left
behind (node pools are ``container.NodePool`` resources).

| path | notes |
|---|---|
| ``location`` | a region (regional cluster, nodes in three zones) or a zone; default the spec's region; part of the identity |
| ``description`` | immutable |
| ``releaseChannel`` | ``RAPID``, ``REGULAR``, ``STABLE``, ``EXTENDED`` (shorthand for ``{channel: ...}``); API default ``REGULAR`` |
| ``network`` / ``subnetwork`` | ``${vpc.selfLink}`` / ``${subnet.selfLink}``, a name or ``projects/P/...``; immutable. GKE answers names: compared as Compute selfLinks |
| ``ipAllocationPolicy`` | VPC-native: ``{clusterSecondaryRangeName, servicesSecondaryRangeName}`` (the subnetwork's range names), ``useIpAliases`` true unless written; immutable |
| ``privateClusterConfig`` | ``{enablePrivateNodes, enablePrivateEndpoint, masterIpv4CidrBlock}`` (a /28); private nodes and the control-plane range are immutable, the private endpoint is not |
| ``masterAuthorizedNetworksConfig`` | ``{enabled, cidrBlocks: [{displayName, cidrBlock}]}``; the blocks are a set, updated as a whole (hashicorp/terraform-provider-google#1029) |
| ``workloadPool`` | shorthand for ``workloadIdentityConfig.workloadPool``: ``PROJECT.svc.id.goog`` of the cluster's project; provides ``workload-pool:PROJECT.svc.id.goog`` |
| ``shieldedNodes`` | ``true``/``false`` (shorthand for ``{enabled: ...}``); API default on |
| ``databaseEncryption`` | application-layer secrets encryption ``{keyName: ${key.id}}`` (``state`` ``ENCRYPTED`` unless written); a key of the spec implies the grant to the GKE service agent |
| ``loggingConfig`` / ``monitoringConfig`` | ``{componentConfig: {enableComponents: [SYSTEM_COMPONENTS, WORKLOADS, ...]}}``, monitoring also ``managedPrometheusConfig: {enabled}``; the components are a set |
| ``maintenancePolicy`` | ``{window: {dailyMaintenanceWindow: {startTime: "03:00"}}}`` or ``{window: {recurringWindow: {window: {startTime, endTime}, recurrence}}}`` |
| ``verticalPodAutoscaling`` | ``{enabled}`` |
| ``resourceLabels`` | map; ``managed-by``/stack labels are added (ownership) |
| ``deletionProtection`` | the tool's own (GKE has none): ``true`` refuses to delete the cluster when it is removed from the spec or destroyed, even with ``--allow-data-loss``; default false |

Each update is one GKE call per aspect (``UpdateCluster`` takes exactly one ``desired*``
field; labels and the maintenance policy have their own setters, the labels with a fresh
``labelFingerprint``). Outputs: ``name``, ``id`` (``projects/P/locations/L/clusters/C``),
``selfLink``, ``workloadPool`` (the project's ``PROJECT.svc.id.goog``), all known before
creation, and ``endpoint`` (once it exists). Deleting or
replacing a cluster destroys its workloads: it is data-bearing. Changes to one cluster run one
at a time and wait for the operations running on it (``_common``); ``status`` is always
``RUNNING`` in the desired state, so a create interrupted by a stopped run is waited for on
the next one. Deadline: 90 min per operation.

Moving in: ``google_container_cluster`` (terraform-provider-google's handwritten
``resource_container_cluster.go``, in magic-modules ``services/container``). Its ``network`` and
``subnetwork`` are relative paths in state (``NetworkConfig``): written as Compute selfLinks so
they become references. Left out at GKE's defaults (the emulator's table): release channel
REGULAR, shielded nodes on, logging ``[SYSTEM_COMPONENTS, WORKLOADS]``, monitoring
``[SYSTEM_COMPONENTS]`` with Managed Prometheus on, secrets decrypted, VPA off. Terraform's
``deletion_protection`` (its own, default true) becomes the tool's own ``deletionProtection``.
The inline ``node_pool``/``node_config`` blocks are read-only mirrors of the pools (import the
``google_container_node_pool`` resources); a cluster that kept its default pool
(``remove_default_node_pool`` unset) is noted: that pool stays as it is live, unmanaged.
Addons, DNS, Binary Authorization and the other blocks have no field here: the ones set are
noted. Live clusters (``import live``) come from one ``ListClusters`` of
``projects/P/locations/-``, kept in the regions asked for, with the same defaults left out;
an Autopilot cluster is not importable (this kind is a Standard cluster).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    FieldChange,
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    Removal,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._agents import GKE_AGENT
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels
from mlops_infra.kinds._clients import CONTAINER
from mlops_infra.kinds._imports import block, blocks, leftovers, put, user_labels
from mlops_infra.kinds._names import CryptoKeyName, NetworkRef
from mlops_infra.kinds.container import _common as common
from mlops_infra.spec.jsoncopy import copy_json

Channel = Literal["RAPID", "REGULAR", "STABLE", "EXTENDED"]
# GKE's logging/monitoring components (container v1 discovery, ComponentConfig / LoggingComponentConfig).
Component = Literal["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER", "SCHEDULER",
                    "CONTROLLER_MANAGER", "STORAGE", "HPA", "POD", "DAEMONSET", "DEPLOYMENT",
                    "STATEFULSET", "CADVISOR", "KUBELET", "DCGM", "JOBSET", "KCP_SSHD",
                    "KCP_CONNECTION", "KCP_HPA"]
BOOTSTRAP_POOL = common.BOOTSTRAP_POOL   # the node pool a cluster must be created with, removed after
_LOCAL = frozenset({"deletionProtection"})
# Server defaults an aspect goes back to when the spec stops writing it.
_CLEARED: dict[str, Any] = {
    "releaseChannel": {"channel": "REGULAR"}, "shieldedNodes": {"enabled": True},
    "workloadIdentityConfig": {}, "databaseEncryption": {"state": "DECRYPTED"},
    "masterAuthorizedNetworksConfig": {"enabled": False},
    "loggingConfig": {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]}},
    "monitoringConfig": {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS"]},
                         "managedPrometheusConfig": {"enabled": True}},
    "verticalPodAutoscaling": {"enabled": False}}
_UPDATES = {"releaseChannel": "desiredReleaseChannel",
            "masterAuthorizedNetworksConfig": "desiredMasterAuthorizedNetworksConfig",
            "workloadIdentityConfig": "desiredWorkloadIdentityConfig",
            "shieldedNodes": "desiredShieldedNodes",
            "databaseEncryption": "desiredDatabaseEncryption",
            "loggingConfig": "desiredLoggingConfig", "monitoringConfig": "desiredMonitoringConfig",
            "verticalPodAutoscaling": "desiredVerticalPodAutoscaling"}


# --- spec model ----------------------------------------------------------------------------

class ReleaseChannel(SpecModel):
    channel: Channel


class IpAllocationPolicy(SpecModel):
    useIpAliases: bool | None = None
    clusterSecondaryRangeName: str | None = None
    servicesSecondaryRangeName: str | None = None


class PrivateClusterConfig(SpecModel):
    enablePrivateNodes: bool | None = None
    enablePrivateEndpoint: bool | None = None
    masterIpv4CidrBlock: str | None = None

    @field_validator("masterIpv4CidrBlock")
    @classmethod
    def _slash_28(cls, value: str | None) -> str | None:
        import ipaddress

        if value is None or "${" in value:
            return value
        try:
            block = ipaddress.IPv4Network(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 range with its network address") from None
        if block.prefixlen != 28:
            raise ValueError("the control plane range must be a /28 (GKE private clusters)")
        return str(block)


class CidrBlock(SpecModel):
    cidrBlock: str
    displayName: str | None = None


class AuthorizedNetworks(SpecModel):
    enabled: bool = True
    cidrBlocks: list[CidrBlock] | None = None


class WorkloadIdentityConfig(SpecModel):
    workloadPool: str


class Enabled(SpecModel):
    enabled: bool


class DatabaseEncryption(SpecModel):
    keyName: CryptoKeyName | None = None
    state: Literal["ENCRYPTED", "DECRYPTED"] | None = None


class ComponentConfig(SpecModel):
    enableComponents: list[Component]


class LoggingConfig(SpecModel):
    componentConfig: ComponentConfig


class MonitoringConfig(SpecModel):
    componentConfig: ComponentConfig | None = None
    managedPrometheusConfig: Enabled | None = None


class DailyWindow(SpecModel):
    startTime: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class TimeWindow(SpecModel):
    startTime: str
    endTime: str


class RecurringWindow(SpecModel):
    window: TimeWindow
    recurrence: str


class MaintenanceWindow(SpecModel):
    dailyMaintenanceWindow: DailyWindow | None = None
    recurringWindow: RecurringWindow | None = None

    @model_validator(mode="after")
    def _one(self) -> MaintenanceWindow:
        if (self.dailyMaintenanceWindow is None) == (self.recurringWindow is None):
            raise ValueError("write exactly one of dailyMaintenanceWindow and recurringWindow")
        return self


class MaintenancePolicy(SpecModel):
    window: MaintenanceWindow


class ClusterSpec(SpecModel):
    """A GKE cluster (REST field names, plus the documented shorthands)."""

    location: str | None = Field(default=None, pattern=common.LOCATION.pattern)
    description: str | None = None
    releaseChannel: Channel | ReleaseChannel | None = None
    network: NetworkRef | None = None
    subnetwork: str | None = None
    ipAllocationPolicy: IpAllocationPolicy | None = None
    privateClusterConfig: PrivateClusterConfig | None = None
    masterAuthorizedNetworksConfig: AuthorizedNetworks | None = None
    workloadPool: str | None = Field(default=None, pattern=r"^(\$\{.+|[a-z][-a-z0-9:.]*\.svc\.id\.goog)$")
    workloadIdentityConfig: WorkloadIdentityConfig | None = None
    shieldedNodes: bool | Enabled | None = None
    databaseEncryption: DatabaseEncryption | None = None
    loggingConfig: LoggingConfig | None = None
    monitoringConfig: MonitoringConfig | None = None
    maintenancePolicy: MaintenancePolicy | None = None
    verticalPodAutoscaling: Enabled | None = None
    resourceLabels: dict[str, str] | None = None
    deletionProtection: bool | None = None

    @field_validator("resourceLabels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @model_validator(mode="after")
    def _no_double_spelling(self) -> ClusterSpec:
        if self.workloadPool is not None and self.workloadIdentityConfig is not None:
            raise ValueError("'workloadPool' is a shorthand for 'workloadIdentityConfig."
                             "workloadPool': write only one of them")
        return self


# --- desired and live in one shape ----------------------------------------------------------------

def _link(value: Any, project: str, collection: str) -> Any:
    """A network/subnetwork reference as Compute's selfLink (templates left alone)."""
    if not isinstance(value, str) or "${" in value or value.startswith("https://"):
        return value
    if value.startswith("projects/"):
        return common.COMPUTE_ROOT + value
    if collection == "networks":
        return f"{common.COMPUTE_ROOT}projects/{project}/global/networks/{value}"
    return value


def _expanded(fields: dict[str, Any], project: str) -> dict[str, Any]:
    body = {k: copy_json(v) for k, v in fields.items() if k != "location"}
    if isinstance(body.get("releaseChannel"), str):
        body["releaseChannel"] = {"channel": body["releaseChannel"]}
    if "workloadPool" in body:
        body["workloadIdentityConfig"] = {"workloadPool": body.pop("workloadPool")}
    if isinstance(body.get("shieldedNodes"), bool):
        body["shieldedNodes"] = {"enabled": body["shieldedNodes"]}
    if isinstance(body.get("masterAuthorizedNetworksConfig"), dict):
        body["masterAuthorizedNetworksConfig"] = {"enabled": True,
                                                  **body["masterAuthorizedNetworksConfig"]}
    if isinstance(body.get("ipAllocationPolicy"), dict):
        body["ipAllocationPolicy"] = {"useIpAliases": True, **body["ipAllocationPolicy"]}
    encryption = body.get("databaseEncryption")
    if isinstance(encryption, dict) and encryption.get("keyName"):
        body["databaseEncryption"] = {"state": "ENCRYPTED", **encryption}
    for key, collection in (("network", "networks"), ("subnetwork", "subnetworks")):
        if key in body:
            body[key] = _link(body[key], project, collection)
    return body


def _normalized(live: dict[str, Any]) -> dict[str, Any]:
    out = common.canonical("Cluster", live)
    config = out.get("networkConfig") or {}
    for key in ("network", "subnetwork"):
        if config.get(key):
            out[key] = common.COMPUTE_ROOT + config[key]
    status = common.resting(out.get("status"))
    if status == "RUNNING" and any(p.get("name") == BOOTSTRAP_POOL for p in out.get("nodePools") or []):
        status = "PROVISIONING"      # our create ends by removing the bootstrap pool
    if status is not None:
        out["status"] = status
    return out


def _relative(link: Any) -> Any:
    return link.removeprefix(common.COMPUTE_ROOT) if isinstance(link, str) else link


@register
class Cluster(Kind):
    """A GKE cluster."""

    name = "container.Cluster"
    name_pattern = "projects/*/locations/*/clusters/*"
    model = ClusterSpec
    api = common.API
    uses = (CONTAINER,)
    outputs = frozenset({"name", "endpoint", "id", "workloadPool", "selfLink"})
    layer = "Compute"
    labels_path = "resourceLabels"
    local_fields = _LOCAL
    data_bearing = True
    loss = "its workloads, and the state they keep in the cluster, go with it"
    immutable = frozenset({"description", "network", "subnetwork", "ipAllocationPolicy",
                           "privateClusterConfig.enablePrivateNodes",
                           "privateClusterConfig.masterIpv4CidrBlock"})
    set_paths = frozenset({"masterAuthorizedNetworksConfig.cidrBlocks",
                           "loggingConfig.componentConfig.enableComponents",
                           "monitoringConfig.componentConfig.enableComponents"})
    list_keys = {"masterAuthorizedNetworksConfig.cidrBlocks": "cidrBlock",
                 "loggingConfig.componentConfig.enableComponents": "",
                 "monitoringConfig.componentConfig.enableComponents": ""}
    service_agent = GKE_AGENT
    cmek_fields = ("databaseEncryption.keyName",)
    terraform_types = ("google_container_cluster",)
    terraform_refs = {"network": "selfLink", "subnetwork": "selfLink",
                      "databaseEncryption.keyName": "id"}
    region_field = "location"

    # --- identity ---
    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return common.name_problem(ctx.name, "cluster")

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        location = fields.get("location") or ctx.region
        if not location:
            raise errors.SpecError("a cluster needs a location (or a spec region)",
                                   field=f"{ctx.address}.location")
        pool = fields.get("workloadPool") or (fields.get("workloadIdentityConfig") or {}).get("workloadPool")
        if isinstance(pool, str) and "${" not in pool and pool != f"{ctx.project}.svc.id.goog":
            raise errors.SpecError(f"workload pool {pool!r}: a cluster's pool is "
                                   f"'{ctx.project}.svc.id.goog' (PROJECT_ID.svc.id.goog of its "
                                   "project)", field=f"{ctx.address}.workloadPool")
        return common.cluster_id(self.name, ctx.project, location, ctx.name)

    def id_from_name(self, name: str) -> ResourceId:
        parts = common.cluster_of(name)
        return common.cluster_id(self.name, parts["project"], parts["location"], parts["cluster"])

    def serial_key(self, rid: ResourceId) -> str | None:
        return rid.name          # GKE: one operation at a time per cluster

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return {"name": ctx.name, **_expanded(fields, ctx.project), "status": "RUNNING"}

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return _normalized(live)

    def provides(self, ctx: ResourceContext, fields: dict[str, Any]) -> frozenset[str]:
        pool = (fields.get("workloadIdentityConfig") or {}).get("workloadPool")
        return frozenset({f"workload-pool:{pool}"}) if pool else frozenset()

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": rid.parts["cluster"], "id": rid.name,
                               "selfLink": common.self_link(rid.parts),
                               "workloadPool": f"{rid.parts['project']}.svc.id.goog"}
        if live and live.get("endpoint"):
            out["endpoint"] = live["endpoint"]
        return out

    def removal(self, applied: dict[str, Any], *, allow_data_loss: bool) -> Removal:
        return "delete"

    def holds_data(self, rid: ResourceId) -> bool:
        """Its workloads (and the state they keep in the cluster) go with it."""
        return self.get(rid) is not None

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        project, location = str(a["project"]), str(a["location"])
        fields: dict[str, Any] = {"location": location}
        notes: list[str] = []
        put(fields, "description", a.get("description"))
        channel = block(a, "release_channel").get("channel")
        put(fields, "releaseChannel", channel, default="REGULAR")
        for key in ("network", "subnetwork"):
            value = a.get(key)
            if value and str(value).startswith("projects/"):
                value = common.COMPUTE_ROOT + str(value)
            if key == "network" and value and str(value).endswith("/global/networks/default"):
                continue
            put(fields, key, value)
        fields.update(_tf_networking(a, notes))
        pool = block(a, "workload_identity_config").get("workload_pool")
        put(fields, "workloadPool", pool)
        if a.get("enable_shielded_nodes") is False:
            fields["shieldedNodes"] = False
        encryption = block(a, "database_encryption")
        if encryption.get("state") == "ENCRYPTED" and encryption.get("key_name"):
            fields["databaseEncryption"] = {"keyName": encryption["key_name"]}
        fields.update(_tf_observability(a))
        put(fields, "maintenancePolicy", _tf_maintenance(block(a, "maintenance_policy"), notes))
        if block(a, "vertical_pod_autoscaling").get("enabled"):
            fields["verticalPodAutoscaling"] = {"enabled": True}
        labels = a.get("terraform_labels")
        put(fields, "resourceLabels", user_labels(labels if isinstance(labels, dict)
                                                  else a.get("resource_labels")))
        if a.get("deletion_protection") is not False:       # Terraform's default is true
            fields["deletionProtection"] = True
        if not a.get("remove_default_node_pool") and any(
                p.get("name") == "default-pool" for p in blocks(a, "node_pool")):
            notes.append("its default node pool (remove_default_node_pool unset) is not "
                         "carried over: it stays as it is live, unmanaged")
        rest = {k: v for k, v in a.items() if _TF_AT_DEFAULT.get(k, _NONE) != v}
        return [Imported(name=str(a["name"]), project=project, region=location, fields=fields,
                         notes=(*notes, *leftovers(rest, _TF_KNOWN)))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """The inverse of ``desired`` for a cluster as GKE lists it, GKE's defaults left out.
        Its node pools are ``container.NodePool`` entries of their own (this kind has no field
        for pools: it creates a cluster with a bootstrap pool and removes it)."""
        rid = self.id_from_name(name)
        if (live.get("autopilot") or {}).get("enabled"):
            raise NotImportable("an Autopilot cluster: container.Cluster is a GKE Standard cluster")
        out = _normalized(live)
        notes: list[str] = []
        fields: dict[str, Any] = {"location": rid.parts["location"]}
        put(fields, "description", out.get("description"))
        channel = (out.get("releaseChannel") or {}).get("channel")
        put(fields, "releaseChannel", channel if channel in _CHANNELS else None, default="REGULAR")
        if channel == "UNSPECIFIED":
            notes.append("not enrolled in a release channel: releaseChannel cannot say so")
        network = str(out.get("network") or "")
        if network and not network.endswith("/global/networks/default"):
            fields["network"] = network
            put(fields, "subnetwork", out.get("subnetwork"))
        fields.update(_live_networking(out, notes))
        put(fields, "workloadPool", (out.get("workloadIdentityConfig") or {}).get("workloadPool"))
        if (out.get("shieldedNodes") or {}).get("enabled") is False:
            fields["shieldedNodes"] = False
        encryption = out.get("databaseEncryption") or {}
        if encryption.get("state") == "ENCRYPTED" and encryption.get("keyName"):
            fields["databaseEncryption"] = {"keyName": encryption["keyName"]}
        fields.update(_live_observability(out))
        put(fields, "maintenancePolicy", _live_maintenance(out.get("maintenancePolicy") or {}, notes))
        if (out.get("verticalPodAutoscaling") or {}).get("enabled"):
            fields["verticalPodAutoscaling"] = {"enabled": True}
        put(fields, "resourceLabels", user_labels(out.get("resourceLabels")))
        return [Imported(name=str(live["name"]), project=rid.parts["project"],
                         region=rid.parts["location"], fields=fields, notes=tuple(notes))]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        return common.live_clusters(self.clients, project, regions)

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with common.gke_errors(f"clusters in {scope}"):
            found = self.clients.get(CONTAINER).list_clusters(parent=scope, **CALL)
        return {f"{scope}/clusters/{c['name']}": c for c in (common.to_dict(x) for x in found.clusters)}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return common.get_or_none(self.clients.get(CONTAINER).get_cluster, what=self.describe(rid),
                                  name=rid.name)

    def describe(self, rid: ResourceId) -> str:
        return f"cluster {rid.parts['cluster']}"

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import container_v1

        body = {k: copy_json(v) for k, v in desired.items() if k not in _LOCAL | {"status"}}
        for key in ("network", "subnetwork"):
            if key in body:
                body[key] = _relative(body[key])
        # A Standard cluster is created with a node pool (proto Cluster.node_pools); this one
        # is removed once the cluster runs, as Terraform's remove_default_node_pool does.
        body["nodePools"] = [{"name": BOOTSTRAP_POOL, "initialNodeCount": 1,
                              "config": {"machineType": "e2-small", "diskSizeGb": 20}}]
        with common.gke_errors(self.describe(rid)):
            operation = self.clients.get(CONTAINER).create_cluster(
                parent=rid.scope, cluster=common.to_message(container_v1.Cluster, body), **CALL)
        common.wait_for(self.clients, operation, parts=rid.parts, what=self.describe(rid),
                        deadline=common.CLUSTER_DEADLINE)
        return self._settled(rid)

    def _settled(self, rid: ResourceId) -> dict[str, Any]:
        """Once nothing runs on it: the bootstrap pool removed, the cluster read back."""
        what = self.describe(rid)
        common.await_idle(self.clients, rid.parts, what=what, deadline=common.CLUSTER_DEADLINE)
        live = self._read(rid)
        if any(p.get("name") == BOOTSTRAP_POOL for p in live.get("nodePools") or []):
            self._remove_bootstrap(rid)
            live = self._read(rid)
        if live.get("status") == "ERROR":
            raise errors.PermanentError(f"{what} is in the ERROR state: {live.get('statusMessage')}")
        return live

    def _remove_bootstrap(self, rid: ResourceId) -> None:
        from google.api_core.exceptions import NotFound

        what = f"bootstrap node pool of {self.describe(rid)}"
        try:
            common.call(self.clients, "delete_node_pool", "DeleteNodePoolRequest",
                        {"name": f"{rid.name}/nodePools/{BOOTSTRAP_POOL}"}, parts=rid.parts,
                        what=what, deadline=common.CLUSTER_DEADLINE)
        except (errors.NotFound, NotFound):
            return

    def _read(self, rid: ResourceId) -> dict[str, Any]:
        live = self.get(rid)
        if live is None:
            raise errors.NotFound(f"{self.describe(rid)} disappeared")
        return live

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        aspects = _aspects(changes)
        if "status" in aspects:
            self._settled(rid)
        if "resourceLabels" in aspects:
            self._set_labels(rid, desired, changes)
        if "maintenancePolicy" in aspects:
            self._set_maintenance(rid, desired)
        if "privateClusterConfig" in aspects:
            enabled = bool((desired.get("privateClusterConfig") or {}).get("enablePrivateEndpoint"))
            self._update(rid, {"desiredEnablePrivateEndpoint": enabled})
        for aspect in sorted(aspects & set(_UPDATES)):
            value = desired.get(aspect, _CLEARED[aspect])
            self._update(rid, {_UPDATES[aspect]: copy_json(value)})
        return self._read(rid)

    def _update(self, rid: ResourceId, update: dict[str, Any]) -> None:
        common.call(self.clients, "update_cluster", "UpdateClusterRequest",
                    {"name": rid.name, "update": update}, parts=rid.parts,
                    what=self.describe(rid), deadline=common.CLUSTER_DEADLINE)

    def _set_labels(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges) -> None:
        """``setResourceLabels`` with the fingerprint read just now (a stale one: re-read)."""
        common.await_idle(self.clients, rid.parts, what=self.describe(rid),
                          deadline=common.CLUSTER_DEADLINE)
        current = self._read(rid)
        removed = {c.path.split(".", 1)[1] for c in changes
                   if c.op == "remove" and c.path.startswith("resourceLabels.")}
        labels = {**(current.get("resourceLabels") or {}), **(desired.get("resourceLabels") or {})}
        body = {"name": rid.name, "labelFingerprint": current.get("labelFingerprint", ""),
                "resourceLabels": {k: v for k, v in labels.items() if k not in removed}}
        common.call(self.clients, "set_labels", "SetLabelsRequest", body, parts=rid.parts,
                    what=self.describe(rid), deadline=common.CLUSTER_DEADLINE)

    def _set_maintenance(self, rid: ResourceId, desired: dict[str, Any]) -> None:
        current = self._read(rid).get("maintenancePolicy") or {}
        policy = {**copy_json(desired.get("maintenancePolicy") or {})}
        if current.get("resourceVersion"):
            policy["resourceVersion"] = current["resourceVersion"]
        common.call(self.clients, "set_maintenance_policy", "SetMaintenancePolicyRequest",
                    {"name": rid.name, "maintenancePolicy": policy}, parts=rid.parts,
                    what=self.describe(rid), deadline=common.CLUSTER_DEADLINE)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        try:
            common.call(self.clients, "delete_cluster", "DeleteClusterRequest", {"name": rid.name},
                        parts=rid.parts, what=self.describe(rid),
                        deadline=common.CLUSTER_DEADLINE)
        except (errors.NotFound, NotFound):
            return

    def remove(self, rid: ResourceId, *, applied: dict[str, Any] | None, force: bool) -> None:
        if (applied or {}).get("deletionProtection"):
            raise errors.PermanentError(
                f"{self.describe(rid)} has deletionProtection: true; set it to false and apply "
                "before removing the cluster")
        self.delete(rid, force=force)


def _aspects(changes: list[FieldChange]) -> set[str]:
    return {c.path.split(".", 1)[0] for c in changes}


# --- moving in: google_container_cluster (resource_container_cluster.go) ---------------------------

_NONE = object()
_TF_KNOWN = (
    "name", "location", "description", "release_channel", "network", "subnetwork",
    "ip_allocation_policy", "private_cluster_config", "master_authorized_networks_config",
    "workload_identity_config", "enable_shielded_nodes", "database_encryption", "logging_config",
    "monitoring_config", "maintenance_policy", "vertical_pod_autoscaling", "resource_labels",
    "remove_default_node_pool", "initial_node_count", "node_pool", "node_config",
    "node_locations", "networking_mode",
    # computed, or the provider's own
    "endpoint", "master_version", "min_master_version", "node_version", "services_ipv4_cidr",
    "cluster_ipv4_cidr", "label_fingerprint", "operation", "master_auth", "addons_config",
    "logging_service", "monitoring_service", "default_max_pods_per_constraint",
    "default_max_pods_per_node", "tpu_ipv4_cidr_block", "private_ipv6_google_access",
    "datapath_provider", "default_snat_status", "notification_config", "dns_config",
    "cost_management_config", "binary_authorization", "service_external_ips_config",
    "security_posture_config", "gateway_api_config", "node_pool_defaults",
    "node_pool_auto_config", "cluster_autoscaling", "mesh_certificates",
    "enterprise_config", "secret_manager_config", "control_plane_endpoints_config",
    "fleet", "user_managed_keys_config", "enable_l4_ilb_subsetting", "enable_intranode_visibility",
    "allow_net_admin", "authenticator_groups_config", "confidential_nodes",
    "enable_multi_networking", "enable_fqdn_network_policy", "enable_cilium_clusterwide_network_policy",
    "in_transit_encryption_config", "anonymous_authentication_config", "rbac_binding_config",
    "identity_service_config", "pod_autoscaling", "disable_l4_lb_firewall_reconciliation",
    "network_performance_config", "resource_usage_export_config", "node_kubelet_config")
# set by GKE or the provider when the configuration says nothing (kept out of the notes)
_TF_AT_DEFAULT: dict[str, Any] = {"enable_kubernetes_alpha": False, "enable_legacy_abac": False,
                                  "enable_tpu": False, "enable_autopilot": False}
_LOGGING_DEFAULT = ["SYSTEM_COMPONENTS", "WORKLOADS"]
_MONITORING_DEFAULT = ["SYSTEM_COMPONENTS"]


def _tf_networking(a: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    policy = block(a, "ip_allocation_policy")
    ranges = {k: policy[t] for k, t in (("clusterSecondaryRangeName", "cluster_secondary_range_name"),
                                        ("servicesSecondaryRangeName", "services_secondary_range_name"))
              if policy.get(t)}
    put(out, "ipAllocationPolicy", ranges)
    if policy and not ranges and policy.get("cluster_ipv4_cidr_block"):
        notes.append("ip_allocation_policy with CIDR blocks (no range names) is not carried over")
    private = block(a, "private_cluster_config")
    config: dict[str, Any] = {}
    for attr, key in (("enable_private_nodes", "enablePrivateNodes"),
                      ("enable_private_endpoint", "enablePrivateEndpoint")):
        if private.get(attr):
            config[key] = True
    if config.get("enablePrivateNodes"):
        put(config, "masterIpv4CidrBlock", private.get("master_ipv4_cidr_block"))
    put(out, "privateClusterConfig", config)
    authorized = block(a, "master_authorized_networks_config")
    if authorized:
        cidrs = sorted(({"cidrBlock": c["cidr_block"],
                         **({"displayName": c["display_name"]} if c.get("display_name") else {})}
                        for c in blocks(authorized, "cidr_blocks")), key=lambda c: c["cidrBlock"])
        out["masterAuthorizedNetworksConfig"] = {"cidrBlocks": cidrs} if cidrs else {}
    return out


def _tf_observability(a: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    logging = sorted(block(a, "logging_config").get("enable_components") or [])
    if logging and logging != sorted(_LOGGING_DEFAULT):
        out["loggingConfig"] = {"componentConfig": {"enableComponents": logging}}
    monitoring = block(a, "monitoring_config")
    config: dict[str, Any] = {}
    components = sorted(monitoring.get("enable_components") or [])
    if components and components != _MONITORING_DEFAULT:
        config["componentConfig"] = {"enableComponents": components}
    prometheus = block(monitoring, "managed_prometheus")
    if monitoring and prometheus.get("enabled") is False or (monitoring and not prometheus):
        config["managedPrometheusConfig"] = {"enabled": False}
    put(out, "monitoringConfig", config)
    return out


def _tf_maintenance(policy: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    daily = block(policy, "daily_maintenance_window")
    if daily.get("start_time"):
        return {"window": {"dailyMaintenanceWindow": {"startTime": daily["start_time"]}}}
    recurring = block(policy, "recurring_window")
    if recurring.get("start_time"):
        return {"window": {"recurringWindow": {
            "window": {"startTime": recurring["start_time"], "endTime": recurring["end_time"]},
            "recurrence": recurring["recurrence"]}}}
    if blocks(policy, "maintenance_exclusion"):
        notes.append("maintenance_policy.maintenance_exclusion is not carried over")
    return None


# --- moving in: live clusters --------------------------------------------------------------------

_CHANNELS = frozenset({"RAPID", "REGULAR", "STABLE", "EXTENDED"})


def _live_networking(out: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """``ipAllocationPolicy``, ``privateClusterConfig`` and ``masterAuthorizedNetworksConfig``
    as written (the inverse of ``_expanded``: ``useIpAliases`` and ``enabled`` implied)."""
    result: dict[str, Any] = {}
    policy = out.get("ipAllocationPolicy") or {}
    ranges = {k: policy[k] for k in ("clusterSecondaryRangeName", "servicesSecondaryRangeName")
              if policy.get(k)}
    put(result, "ipAllocationPolicy", ranges)
    if policy.get("useIpAliases") and not ranges:
        notes.append("ipAllocationPolicy with CIDR blocks (no range names) is not carried over")
    private = out.get("privateClusterConfig") or {}
    config = {k: True for k in ("enablePrivateNodes", "enablePrivateEndpoint") if private.get(k)}
    if config.get("enablePrivateNodes"):
        put(config, "masterIpv4CidrBlock", private.get("masterIpv4CidrBlock"))
    put(result, "privateClusterConfig", config)
    authorized = out.get("masterAuthorizedNetworksConfig") or {}
    if authorized.get("enabled"):
        cidrs = sorted(({"cidrBlock": c["cidrBlock"],
                         **({"displayName": c["displayName"]} if c.get("displayName") else {})}
                        for c in authorized.get("cidrBlocks") or []), key=lambda c: c["cidrBlock"])
        result["masterAuthorizedNetworksConfig"] = {"cidrBlocks": cidrs} if cidrs else {}
    return result


def _live_observability(out: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    logging = sorted((out.get("loggingConfig") or {}).get("componentConfig", {})
                     .get("enableComponents") or [])
    if logging and logging != sorted(_LOGGING_DEFAULT):
        result["loggingConfig"] = {"componentConfig": {"enableComponents": logging}}
    monitoring = out.get("monitoringConfig") or {}
    config: dict[str, Any] = {}
    components = sorted((monitoring.get("componentConfig") or {}).get("enableComponents") or [])
    if components and components != _MONITORING_DEFAULT:
        config["componentConfig"] = {"enableComponents": components}
    if (monitoring.get("managedPrometheusConfig") or {}).get("enabled") is False:
        config["managedPrometheusConfig"] = {"enabled": False}
    put(result, "monitoringConfig", config)
    return result


def _live_maintenance(policy: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    window = policy.get("window") or {}
    daily = window.get("dailyMaintenanceWindow") or {}
    if daily.get("startTime"):
        return {"window": {"dailyMaintenanceWindow": {"startTime": daily["startTime"]}}}
    recurring = window.get("recurringWindow") or {}
    times = recurring.get("window") or {}
    if times.get("startTime"):
        return {"window": {"recurringWindow": {
            "window": {"startTime": times["startTime"], "endTime": times["endTime"]},
            "recurrence": recurring.get("recurrence", "")}}}
    if window.get("maintenanceExclusions"):
        notes.append("maintenancePolicy.window.maintenanceExclusions is not carried over")
    return None

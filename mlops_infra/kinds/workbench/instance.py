"""``workbench.Instance``: a Vertex AI Workbench instance (google-cloud-notebooks
``notebooks_v2.NotebookServiceClient`` over REST; Workbench instances replace the managed and
user-managed notebooks, whose creation Google removed in 2025).

| field | notes |
|---|---|
| (the resource name) | the instance id: a Compute Engine name (1-63 of ``a-z0-9-``, starting with a letter) |
| ``zone`` | required: a zone (``us-central1-a``) |
| ``machineType`` | e.g. ``e2-standard-4`` (the API's default); a change needs the instance **stopped** |
| ``gpu`` | ``{type: NVIDIA_TESLA_T4, coreCount: 1}`` (one accelerator configuration); ``installGpuDriver: true`` lets Google install the driver; a change needs it stopped |
| ``bootDisk`` | ``{diskSizeGb, diskType}`` (default 150 GB) |
| ``dataDisk`` | ``{diskSizeGb, diskType, resourcePolicies}`` (default 100 GB): it holds the users' work (``/home/jupyter``), so the instance is **data-bearing** |
| ``kmsKey`` | the CMEK key of both disks (``${key.id}``, a key of the zone's region or ``global``); ``bootDisk.kmsKey``/``dataDisk.kmsKey`` set one; the Compute Engine service agent is granted it |
| ``network``, ``subnetwork`` | the VPC (``${vpc.selfLink}``, ``${subnet.selfLink}``); immutable |
| ``disablePublicIp`` | default **true**: no external IP (guardrail ``workbench-no-public-ip``; waive it to write ``false``) |
| ``serviceAccount`` | the VM's identity (``${sa.email}``); immutable |
| ``instanceOwners`` | ``[alias@example.com]``: single-user access (one owner); immutable |
| ``idleShutdownSeconds`` | shorthand for the ``idle-timeout-seconds`` metadata key (Google's default 10800; 600-86400) |
| ``metadata`` | map; only the keys written are compared (the server adds dozens of its own) |
| ``labels``, ``tags`` | updated in place (the server adds the tags ``deeplearning-vm``, ``notebook-instance``) |
| ``vmImage`` / ``containerImage`` | ``{project, family}`` or ``{name}`` / ``{repository, tag}``; the VM image is immutable, a container image change needs it stopped |
| ``enableSecureBoot`` | shielded VM secure boot; a change needs it stopped (vTPM and integrity monitoring stay on: the notebooks_v2 client cannot send ``false``, proto3 drops it) |

Identity ``projects/P/locations/ZONE/instances/ID``, listed per zone. Changes that need the
instance stopped are shown as restarts and need ``allowRestart: true`` (or
``--allow-restart``); the update then stops it, applies them and starts it again, like
Terraform. An instance that is already STOPPED (idle shutdown) is updated as it is and left
stopped: the tool never fights idle shutdown. A change of a disk's size, type or key, the
network, the service account, the owners or the VM image replaces the instance (the disk
resize method is not in the notebooks_v2 client), and a replace or delete destroys the data
disk: both need ``allowDataLoss``. Input-only fields (owners, the disks' keys and
encryption, the data disk's type) are never returned by the API: they are compared with
what was last applied. Outputs: ``id`` (full name), ``name``, ``proxyUri`` (after creation).
Sources: notebooks v2 discovery and instance.proto/gce_setup.proto (field behaviours);
magic-modules workbench Instance.yaml and its pre_update/post_update/constants templates
(update masks, stop-before-update, provided metadata and tags, restart-required keys);
research/clients.md section e; the Workbench idle shutdown guide (``idle-timeout-seconds``).

Moving in: ``google_workbench_instance`` (magic-modules workbench ``Instance.yaml``): its
``gce_setup`` block becomes the flat fields. ``gce_setup`` is ``default_from_api``, so state
holds what the server chose too; left out: the server's own metadata keys and tags
(``WorkbenchInstanceProvidedMetadata``, ``metadataDefaults`` at their defaults,
``WorkbenchInstanceProvidedTags``: constants/workbench_instance.go.tmpl), machine type
``e2-standard-4``, disk sizes 150/100 GB, the Compute default service account, vTPM and
integrity monitoring on, secure boot off, ``disable_public_ip = true`` (the kind's default;
``false`` is written, and waived). One key on both disks becomes ``kmsKey``.
``idle-timeout-seconds`` becomes ``idleShutdownSeconds``. ``desired_state``, proxy access, EUC,
deletion protection, IP forwarding, NIC type and confidential computing have no field: noted.

From a live project (``import live``): the instances of the ``--region``s' zones, listed at
once through ``projects/P/locations/-`` ("to list instances in all locations": notebooks v2
discovery, ``instances.list`` ``parent``; the zones it answers ``unreachable`` are listed one by
one). The same flat fields are read back from the API's answer with the same defaults and
server keys left out. What the API never returns (input only: ``instanceOwners``,
``vmImage``, the data disk's type, the disks' CMEK key) cannot be imported: noted (writing it
later replaces the instance). Google creates no Workbench instance by itself (each is made
by a user's create call), so none is skipped as Google's; labels starting with ``goog-`` are
Google's system labels (terraform-provider-google 5.0 upgrade guide: ``goog-caip-notebook``)
and are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import (
    Imported,
    ImportedList,
    Kind,
    Requirement,
    ResourceContext,
    ResourceId,
    Violation,
    api_capability,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds import _lro
from mlops_infra.kinds._agents import COMPUTE_AGENT
from mlops_infra.kinds._base import (
    CALL,
    FieldChanges,
    SpecModel,
    check_labels,
    int64_at,
    translate_errors,
    with_defaults,
)
from mlops_infra.kinds._clients import NOTEBOOKS, RESOURCE_MANAGER
from mlops_infra.kinds._imports import (
    block,
    last_segment,
    leftovers,
    put,
    terraform_labels,
    user_labels,
)
from mlops_infra.kinds._names import (
    NETWORK_URL,
    SUBNETWORK_URL,
    ZONE,
    CryptoKeyName,
    NetworkRef,
    SubnetworkRef,
    Zone,
    region_problem,
    rfc1035_problem,
)
from mlops_infra.kinds._policy import CMEK_SETTINGS, REQUIRE_CMEK, cmek_violations
from mlops_infra.spec.jsoncopy import copy_json

API = "notebooks.googleapis.com"
OPERATION_DEADLINE = 2400.0      # Terraform's create timeout (40 min: magic-modules Instance.yaml)
IDLE_KEY = "idle-timeout-seconds"
NO_PUBLIC_IP = {"workbench-no-public-ip": "Workbench instances have no external IP "
                                          "(disablePublicIp, the default)"}
PROVIDED_TAGS = ("deeplearning-vm", "notebook-instance")   # magic-modules WorkbenchInstanceProvidedTags
# Metadata keys whose change needs a restart (magic-modules pre_update/workbench_instance.go.tmpl)
RESTART_KEYS = frozenset({"disable-mixer", "notebook-disable-terminal", "notebook-disable-downloads",
                          "notebook-disable-nbconvert", "notebook-disable-root",
                          "enable-jupyterlab4-preview", "enable-jupyterlab4", "geminicli-disabled",
                          "geminicli-tc-accepted"})
NEEDS_STOPPED = ("gceSetup.machineType", "gceSetup.accelerator", "gceSetup.shieldedInstanceConfig",
                 "gceSetup.containerImage")
# canonical path prefix -> the leaf update mask the API takes (it refuses ``gce_setup`` alone)
_MASKS = {
    "labels": "labels", "gceSetup.machineType": "gce_setup.machine_type",
    "gceSetup.accelerator": "gce_setup.accelerator_configs",
    "gceSetup.gpuDriverConfig": "gce_setup.gpu_driver_config",
    "gceSetup.metadata": "gce_setup.metadata", "gceSetup.tags": "gce_setup.tags",
    "gceSetup.containerImage": "gce_setup.container_image",
    "gceSetup.shieldedInstanceConfig": "gce_setup.shielded_instance_config",
    "gceSetup.minCpuPlatform": "gce_setup.min_cpu_platform",
    "gceSetup.disablePublicIp": "gce_setup.disable_public_ip",
    "gceSetup.dataDisk.resourcePolicies": "gce_setup.data_disks.resource_policies",
}
_IMMUTABLE = frozenset({
    "instanceOwners", "gceSetup.bootDisk", "gceSetup.dataDisk.diskSizeGb",
    "gceSetup.dataDisk.diskType", "gceSetup.dataDisk.diskEncryption", "gceSetup.dataDisk.kmsKey",
    "gceSetup.networkInterface", "gceSetup.serviceAccount", "gceSetup.vmImage"})
_INPUT_ONLY = frozenset({"instanceOwners", "gceSetup.bootDisk.diskEncryption",
                         "gceSetup.bootDisk.kmsKey", "gceSetup.dataDisk.diskType",
                         "gceSetup.dataDisk.diskEncryption", "gceSetup.dataDisk.kmsKey",
                         "gceSetup.vmImage"})
_LIVE_DEFAULTS = {"gceSetup.disablePublicIp": False,
                  "gceSetup.shieldedInstanceConfig.enableSecureBoot": False,
                  "gceSetup.gpuDriverConfig.enableGpuDriver": False}
_INT64 = ("gceSetup.bootDisk.diskSizeGb", "gceSetup.dataDisk.diskSizeGb",
          "gceSetup.accelerator.coreCount")

# Enums of the notebooks v2 discovery document (AcceleratorConfig.type, DataDisk.diskType).
Accelerator = Literal["NVIDIA_TESLA_P100", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P4", "NVIDIA_TESLA_T4",
                      "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_L4", "NVIDIA_H100_80GB",
                      "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB", "NVIDIA_TESLA_T4_VWS",
                      "NVIDIA_TESLA_P100_VWS", "NVIDIA_TESLA_P4_VWS", "NVIDIA_B200", "NVIDIA_RTX6000"]
DiskType = Literal["PD_STANDARD", "PD_SSD", "PD_BALANCED", "PD_EXTREME", "HYPERDISK_BALANCED",
                   "HYPERDISK_EXTREME", "HYPERDISK_THROUGHPUT", "HYPERDISK_BALANCED_HIGH_AVAILABILITY",
                   "HYPERDISK_ML"]


# --- spec model -------------------------------------------------------------------------------------

class Gpu(SpecModel):
    type: Accelerator
    coreCount: int = Field(default=1, ge=1)


class Disk(SpecModel):
    diskSizeGb: int | None = Field(default=None, ge=10, le=64000)
    diskType: DiskType | None = None
    kmsKey: CryptoKeyName | None = None


class DataDisk(Disk):
    resourcePolicies: list[str] | None = None


class VmImage(SpecModel):
    project: str
    family: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> VmImage:
        if (self.family is None) == (self.name is None):
            raise ValueError("write one of 'family' and 'name'")
        return self


class ContainerImage(SpecModel):
    repository: str
    tag: str | None = None


# The notebooks v2 discovery document has GceSetup.minCpuPlatform; the newest client
# (google-cloud-notebooks 1.18.0) has no such field and refuses a body that holds it
# (json_format.ParseError "has no field named minCpuPlatform"), so it cannot be sent.
MIN_CPU_UNSENDABLE = ("minCpuPlatform cannot be set through google-cloud-notebooks 1.18.0 (its "
                      "GceSetup has no such field, though the API documents one); leave it out")


class InstanceSpec(SpecModel):
    """A Workbench instance (flat shorthands of the API's ``gceSetup``)."""

    zone: Zone
    machineType: str | None = None
    gpu: Gpu | None = None
    installGpuDriver: bool | None = None
    bootDisk: Disk | None = None
    dataDisk: DataDisk | None = None
    kmsKey: CryptoKeyName | None = None
    network: NetworkRef | None = None
    subnetwork: SubnetworkRef | None = None
    disablePublicIp: bool | None = None
    serviceAccount: str | None = None
    instanceOwners: list[str] | None = Field(default=None, max_length=1)
    idleShutdownSeconds: int | None = Field(default=None, ge=600, le=86400)
    metadata: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    tags: list[str] | None = None
    vmImage: VmImage | None = None
    containerImage: ContainerImage | None = None
    enableSecureBoot: bool | None = None
    minCpuPlatform: str | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @field_validator("minCpuPlatform")
    @classmethod
    def _unsendable(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError(MIN_CPU_UNSENDABLE)
        return value

    @field_validator("instanceOwners")
    @classmethod
    def _owners(cls, value: list[str] | None) -> list[str] | None:
        bad = [v for v in value or [] if "${" not in v and ("@" not in v or ":" in v)]
        if bad:
            raise ValueError(f"instance owner {bad[0]!r}: write an email (alias@example.com), "
                             "no 'user:' prefix")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> InstanceSpec:
        if self.vmImage and self.containerImage:
            raise ValueError("write 'vmImage' or 'containerImage', not both")
        if self.metadata and IDLE_KEY in self.metadata and self.idleShutdownSeconds is not None:
            raise ValueError(f"'idleShutdownSeconds' is the metadata key '{IDLE_KEY}': write one")
        if self.kmsKey and any(d is not None and d.kmsKey for d in (self.bootDisk, self.dataDisk)):
            raise ValueError("'kmsKey' sets both disks' key: write it or the disks' 'kmsKey'")
        return self


# --- canonical form -------------------------------------------------------------------------------

def _disk_body(disk: dict[str, Any] | None, key: str | None) -> dict[str, Any]:
    out = {k: v for k, v in (disk or {}).items() if v is not None}
    chosen = out.pop("kmsKey", None) or key
    if "diskSizeGb" in out:
        out["diskSizeGb"] = str(out["diskSizeGb"])
    if chosen:
        out.update(diskEncryption="CMEK", kmsKey=chosen)
    return out


def _relative(value: str, pattern: Any, template: str, project: str) -> str:
    """A network or subnetwork as ``projects/P/...`` (a selfLink's host dropped)."""
    if "${" in value:
        return value
    match = pattern.fullmatch(value)
    if match is None:
        return value
    groups = [match.group(1) or project, *match.groups()[1:]]
    return template.format(*groups)


def _network_of(fields: dict[str, Any], project: str) -> dict[str, Any]:
    out = {}
    if fields.get("network"):
        value = fields["network"]
        out["network"] = _relative(value if "/" in value else f"global/networks/{value}",
                                   NETWORK_URL, "projects/{}/global/networks/{}", project)
    if fields.get("subnetwork"):
        out["subnet"] = _relative(fields["subnetwork"], SUBNETWORK_URL,
                                  "projects/{}/regions/{}/subnetworks/{}", project)
    return out


def _setup(fields: dict[str, Any], project: str) -> dict[str, Any]:
    setup: dict[str, Any] = {"disablePublicIp": fields.get("disablePublicIp", True)}
    simple = {"machineType": "machineType", "tags": "tags", "vmImage": "vmImage",
              "containerImage": "containerImage", "minCpuPlatform": "minCpuPlatform"}
    setup.update({target: fields[source] for source, target in simple.items() if source in fields})
    if "gpu" in fields:
        setup["accelerator"] = {**fields["gpu"], "coreCount": str(fields["gpu"].get("coreCount", 1))}
    if fields.get("installGpuDriver") is not None:
        setup["gpuDriverConfig"] = {"enableGpuDriver": fields["installGpuDriver"]}
    if fields.get("bootDisk") or fields.get("kmsKey"):
        setup["bootDisk"] = _disk_body(fields.get("bootDisk"), fields.get("kmsKey"))
    if fields.get("dataDisk") or fields.get("kmsKey"):
        setup["dataDisk"] = _disk_body(fields.get("dataDisk"), fields.get("kmsKey"))
    interface = _network_of(fields, project)
    if interface:
        setup["networkInterface"] = interface
    if fields.get("serviceAccount"):
        setup["serviceAccount"] = fields["serviceAccount"]
    metadata = dict(fields.get("metadata") or {})
    if fields.get("idleShutdownSeconds") is not None:
        metadata[IDLE_KEY] = str(fields["idleShutdownSeconds"])
    if metadata:
        setup["metadata"] = metadata
    if fields.get("enableSecureBoot") is not None:
        setup["shieldedInstanceConfig"] = {"enableSecureBoot": fields["enableSecureBoot"]}
    return setup


def canonical_live(live: dict[str, Any]) -> dict[str, Any]:
    """The API's instance in the kind's canonical form (singular sub-objects, short names)."""
    out = copy_json(live)
    setup = out.get("gceSetup") or {}
    if setup.get("machineType"):
        setup["machineType"] = str(setup["machineType"]).rsplit("/", 1)[-1]
    for plural, single in (("acceleratorConfigs", "accelerator"), ("dataDisks", "dataDisk"),
                           ("networkInterfaces", "networkInterface")):
        items = setup.pop(plural, None)
        if items:
            setup[single] = items[0]
    accounts = setup.pop("serviceAccounts", None)
    if accounts and accounts[0].get("email"):
        setup["serviceAccount"] = accounts[0]["email"]
    interface = setup.get("networkInterface") or {}
    for key, pattern, template in (
            ("network", NETWORK_URL, "projects/{}/global/networks/{}"),
            ("subnet", SUBNETWORK_URL, "projects/{}/regions/{}/subnetworks/{}")):
        if interface.get(key):
            interface[key] = _relative(interface[key], pattern, template, "")
    if "tags" in setup:
        setup["tags"] = [t for t in setup["tags"] if t not in PROVIDED_TAGS]
    int64_at(out, _INT64)
    # proto3 drops false on the wire, so the API never returns these when they are off
    return with_defaults(out, _LIVE_DEFAULTS) if out.get("gceSetup") else out


def rest_body(desired: dict[str, Any]) -> dict[str, Any]:
    """The API's ``Instance`` JSON for the canonical ``desired`` (lists where it has lists)."""
    body = copy_json(desired)
    setup = body.get("gceSetup") or {}
    for single, plural in (("accelerator", "acceleratorConfigs"), ("dataDisk", "dataDisks"),
                           ("networkInterface", "networkInterfaces")):
        if single in setup:
            setup[plural] = [setup.pop(single)]
    if "serviceAccount" in setup:
        setup["serviceAccounts"] = [{"email": setup.pop("serviceAccount")}]
    return body


# --- the kind ---------------------------------------------------------------------------------------

@register
class Instance(Kind):
    """A Vertex AI Workbench instance."""

    name = "workbench.Instance"
    name_pattern = "projects/*/locations/*/instances/*"
    model = InstanceSpec
    api = API
    uses = (NOTEBOOKS, RESOURCE_MANAGER)
    outputs = frozenset({"id", "name", "proxyUri"})
    immutable = _IMMUTABLE
    input_only = _INPUT_ONLY
    set_paths = frozenset({"gceSetup.tags"})
    list_keys = {"gceSetup.tags": ""}
    data_bearing = True
    loss = "its data disk holds the users' work (/home/jupyter), deleted with the instance"
    layer = "ML Platform"
    service_agent = COMPUTE_AGENT
    cmek_fields = ("kmsKey", "bootDisk.kmsKey", "dataDisk.kmsKey")
    guardrails = {**NO_PUBLIC_IP, **REQUIRE_CMEK}
    policy_settings = CMEK_SETTINGS
    terraform_types = ("google_workbench_instance",)
    terraform_refs = {"network": "selfLink", "subnetwork": "selfLink", "serviceAccount": "email",
                      "kmsKey": "id", "bootDisk.kmsKey": "id", "dataDisk.kmsKey": "id"}

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return rfc1035_problem(ctx.name, "Workbench instance") or _key_problem(fields)

    def requires(self, ctx: ResourceContext, fields: dict[str, Any]) -> list[Requirement]:
        """The VM is a Compute Engine instance: after Compute Engine's enablement when the spec has it."""
        return [Requirement(api_capability(ctx.project, "compute.googleapis.com"))]

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return self.id_from_name(f"projects/{ctx.project}/locations/{fields['zone']}/instances/{ctx.name}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"gceSetup": _setup(fields, ctx.project)}
        for key in ("instanceOwners", "labels"):
            if key in fields:
                body[key] = fields[key]
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return canonical_live(live)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": rid.name, "name": rid.parts["instances"]}
        if live and live.get("proxyUri"):
            out["proxyUri"] = live["proxyUri"]
        return out

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        found = cmek_violations(desired, policy, at=("gceSetup.bootDisk.kmsKey",
                                                     "gceSetup.dataDisk.kmsKey"),
                                field="kmsKey", what="Workbench instance's disks")
        if paths.get(desired, "gceSetup.disablePublicIp", None) is not True:
            found.append(Violation(rule="workbench-no-public-ip", path="disablePublicIp",
                                   message="a Workbench instance with an external IP is reachable "
                                           "from the internet: keep disablePublicIp (the default)"))
        return found

    def replace_reason(self, changes: FieldChanges) -> str | None:
        sizes = [c.path for c in changes if c.path in ("gceSetup.bootDisk.diskSizeGb",
                                                       "gceSetup.dataDisk.diskSizeGb")]
        reason = super().replace_reason(changes)
        if sizes:
            return f"{', '.join(sizes)}: resizing a disk (instances.resizeDisk) is not in the " \
                   "notebooks_v2 client"
        turned_on = [c for c in changes if c.path == "gceSetup.disablePublicIp" and not c.new]
        if turned_on:
            return "an external IP cannot be added to an instance (disablePublicIp is one-way)"
        return reason

    def restart_reason(self, changes: FieldChanges, live: dict[str, Any]) -> str | None:
        if live.get("state") == "STOPPED":
            return None                      # updated as it is, left stopped
        hits = sorted({c.path for c in changes if c.path.startswith(NEEDS_STOPPED)
                       or (c.path.startswith("gceSetup.metadata.")
                           and paths.split(c.path)[-1] in RESTART_KEYS)})
        return f"{', '.join(hits)} can only change while the instance is stopped" if hits else None

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        setup = block(a, "gce_setup")
        notes: list[str] = []
        fields: dict[str, Any] = {"zone": str(a["location"]), **_tf_setup(setup, notes)}
        put(fields, "instanceOwners", list(a.get("instance_owners") or []))
        put(fields, "labels", terraform_labels(a))
        for attr in ("disable_proxy_access", "enable_third_party_identity", "enable_managed_euc",
                     "enable_deletion_protection"):
            if a.get(attr):
                notes.append(f"{attr} = true has no field here: not carried over")
        if a.get("desired_state") == "STOPPED":
            notes.append("desired_state = STOPPED: the instance is left stopped as it is "
                         "(updates never start a stopped instance)")
        name = last_segment(str(a["name"]))
        return [Imported(name=name, project=str(a["project"]), fields=fields,
                         notes=(*notes, *leftovers(a, _TF_KNOWN)))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        notes: list[str] = []
        fields: dict[str, Any] = {"zone": name.split("/")[3], **_live_setup(live, notes)}
        labels = {k: v for k, v in user_labels(live.get("labels")).items()
                  if not k.startswith("goog-")}
        put(fields, "labels", labels)
        for key in ("disableProxyAccess", "enableThirdPartyIdentity", "enableManagedEuc",
                    "enableDeletionProtection"):
            if live.get(key):
                notes.append(f"{key}: true has no field here: not carried over")
        if live.get("state") == "STOPPED":
            notes.append("the instance is STOPPED: it is left stopped as it is (updates never "
                         "start a stopped instance)")
        notes.append(_INPUT_ONLY_NOTE)
        return [Imported(name=name.rsplit("/", 1)[1], project=name.split("/")[1], fields=fields,
                         notes=tuple(notes))]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        wanted = {r for r in regions if region_problem(r) is None}
        if not wanted:
            return {}
        found, unreachable = _listed(self._client(), f"projects/{project}/locations/-")
        for zone in sorted(z for z in unreachable if _region_of(z) in wanted):
            found.update(self.list(f"projects/{project}/locations/{zone}"))
        return {n: i for n, i in found.items() if _region_of(n.split("/")[3]) in wanted}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        return _listed(self._client(), scope)[0]

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with translate_errors(f"Workbench instance {rid.name}"):
            try:
                return _as_dict(self._client().get_instance(request={"name": rid.name}, **CALL))
            except NotFound:
                return None

    def holds_data(self, rid: ResourceId) -> bool:
        """Deleting an instance deletes its data disk, where the users' work is."""
        live = self.get(rid)
        return bool(live and (live.get("gceSetup") or {}).get("dataDisks"))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import notebooks_v2

        instance = notebooks_v2.Instance.from_json(json.dumps(rest_body(desired)))
        self._call(f"creating Workbench instance {rid.name}", "create_instance", {
            "parent": rid.scope, "instance_id": rid.parts["instances"], "instance": instance})
        return self._read(rid)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        stop = self.restart_reason(changes, live) is not None
        if stop:
            self._call(f"stopping Workbench instance {rid.name}", "stop_instance", {"name": rid.name})
        mask, body = _update_of(desired, changes, live)
        from google.cloud import notebooks_v2

        instance = notebooks_v2.Instance.from_json(json.dumps({**body, "name": rid.name}))
        self._call(f"updating Workbench instance {rid.name}", "update_instance", {
            "instance": instance, "update_mask": {"paths": mask}})
        if stop:
            self._call(f"starting Workbench instance {rid.name}", "start_instance", {"name": rid.name})
        return self._read(rid)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        if not force and self.holds_data(rid):
            raise errors.PermanentError(f"Workbench instance {rid.name}: deleting it deletes its "
                                        "data disk (the users' work); that needs allowDataLoss")
        try:
            self._call(f"deleting Workbench instance {rid.name}", "delete_instance", {"name": rid.name})
        except errors.NotFound:
            return

    # --- helpers ---
    def _client(self) -> Any:
        return self.clients.get(NOTEBOOKS)

    def _call(self, what: str, method: str, request: dict[str, Any]) -> None:
        """Start ``method`` and wait for its operation; another operation of the instance in
        flight (409 "unable to queue the operation") is retried by the engine."""
        client = self._client()
        try:
            with translate_errors(what):
                operation = getattr(client, method)(request=request, **CALL)
        except errors.Conflict as exc:
            if "unable to queue the operation" in str(exc).lower():
                raise errors.TransientError(str(exc), status=409) from exc
            raise
        _lro.wait(client.transport.operations_client, operation.operation, what=what,
                  deadline=OPERATION_DEADLINE)

    def _read(self, rid: ResourceId) -> dict[str, Any]:
        live = self.get(rid)
        if live is None:
            raise errors.TransientError(f"Workbench instance {rid.name}: not readable after its operation")
        return live


def _listed(client: Any, scope: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The instances of ``scope`` and the locations the answer says were unreachable."""
    with translate_errors(f"Workbench instances in {scope}"):
        pager = client.list_instances(request={"parent": scope}, **CALL)
        found: dict[str, dict[str, Any]] = {}
        unreachable: list[str] = []
        for page in pager.pages:
            found.update({item.name: _as_dict(item) for item in page.instances})
            unreachable += [last_segment(u) for u in page.unreachable]
        return found, unreachable


def _region_of(zone: str) -> str | None:
    match = ZONE.fullmatch(zone)
    return match.group(1) if match else None


def _as_dict(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    data: dict[str, Any] = json_format.MessageToDict(type(message).pb(message))
    return data


def _key_problem(fields: dict[str, Any]) -> str | None:
    """Compute Engine disks take a key of the zone's region or a global one."""
    zone = ZONE.fullmatch(str(fields.get("zone", "")))
    keys = [fields.get("kmsKey"), *((fields.get(d) or {}).get("kmsKey") for d in ("bootDisk", "dataDisk"))]
    for key in (k for k in keys if k and "${" not in k):
        location = key.split("/")[3]
        if zone and location not in (zone.group(1), "global"):
            return (f"kmsKey {key!r} is in location {location!r}: a Workbench disk needs a key of "
                    f"its zone's region ({zone.group(1)!r}) or a global one")
    return None


def _update_of(desired: dict[str, Any], changes: FieldChanges, live: dict[str, Any]
               ) -> tuple[list[str], dict[str, Any]]:
    """The leaf update mask and the body for ``changes`` (metadata and labels merged with live)."""
    mask: list[str] = []
    for change in changes:
        prefix = next((p for p in _MASKS if change.path == p or change.path.startswith(p + ".")), None)
        if prefix is None:
            raise errors.PermanentError(f"{change.path}: cannot be updated in place")
        if _MASKS[prefix] not in mask:
            mask.append(_MASKS[prefix])
    body = rest_body({"gceSetup": copy_json(desired.get("gceSetup") or {})})
    setup = body["gceSetup"]
    if "gce_setup.metadata" in mask:
        setup["metadata"] = _merged_metadata(desired, changes, live)
    if "labels" in mask:
        body["labels"] = _merged(live.get("labels"), desired.get("labels"), changes, "labels")
    return mask, body


def _merged(live: Any, want: Any, changes: FieldChanges, prefix: str) -> dict[str, str]:
    removed = {paths.split(c.path)[-1] for c in changes
               if c.op == "remove" and c.path.startswith(prefix + ".")}
    merged = {**(live or {}), **(want or {})}
    return {k: v for k, v in merged.items() if k not in removed}


def _merged_metadata(desired: dict[str, Any], changes: FieldChanges,
                     live: dict[str, Any]) -> dict[str, str]:
    """The whole map, as Terraform sends it: live keys (the server's included), ours set, the
    ones removed from the spec sent empty (which removes them: magic-modules post_update)."""
    want = (desired.get("gceSetup") or {}).get("metadata") or {}
    have = (live.get("gceSetup") or {}).get("metadata") or {}
    removed = {paths.split(c.path)[-1] for c in changes
               if c.op == "remove" and c.path.startswith("gceSetup.metadata.")}
    return {**have, **want, **dict.fromkeys(removed, "")}


# --- moving in: google_workbench_instance (magic-modules workbench Instance.yaml) -----------------

# What the server puts in gce_setup.metadata itself (constants/workbench_instance.go.tmpl)
_TF_PROVIDED_METADATA = frozenset({
    "agent-health-check-interval-seconds", "agent-health-check-path", "container",
    "cos-update-strategy", "custom-container-image", "custom-container-payload", "data-disk-uri",
    "dataproc-allow-custom-clusters", "dataproc-cluster-name", "dataproc-configs",
    "dataproc-default-subnet", "dataproc-locations-list", "dataproc-machine-types-list",
    "dataproc-notebooks-url", "dataproc-region", "dataproc-service-account", "disable-check-xsrf",
    "enable-euc", "framework", "generate-diagnostics-bucket", "generate-diagnostics-file",
    "generate-diagnostics-options", "google-logging-enabled", "image-url", "installed-extensions",
    "instance-region", "last_updated_diagnostics", "notebooks-api", "notebooks-api-version",
    "notebooks-examples-location", "notebooks-location", "proxy-backend-id", "proxy-byoid-url",
    "proxy-mode", "proxy-status", "proxy-url", "proxy-user-mail", "report-container-health",
    "report-event-url", "report-system-health", "report-system-status", "resource-url",
    "restriction", "service-account-mode", "shutdown-script", "title", "use-collaborative",
    "user-data", "version", "disable-swap-binaries", "enable-guest-attributes", "enable-oslogin",
    "proxy-registration-url"})
# metadataDefaults, and WorkbenchInstanceSettableUnmodifiableDefaultMetadata at the values a new
# instance shows (the provider suppresses them when the configuration does not set them)
_TF_DEFAULT_METADATA = {"enable-jupyterlab4": "true", "new-proxy-agent-enabled": "true",
                        "install-monitoring-agent": "true", "serial-port-logging-enable": "true"}
_TF_KNOWN = ("name", "location", "gce_setup", "instance_owners", "desired_state", "instance_id",
             "disable_proxy_access", "enable_third_party_identity", "enable_managed_euc",
             "enable_deletion_protection", "proxy_uri", "creator", "state", "upgrade_history",
             "health_state", "health_info", "create_time", "update_time")


def _tf_setup(setup: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    put(fields, "machineType", last_segment(str(setup.get("machine_type") or "")),
        default=DEFAULT_MACHINE)
    gpu = block(setup, "accelerator_configs")
    if gpu.get("type"):
        count = int(gpu.get("core_count") or 1)
        fields["gpu"] = {"type": gpu["type"], **({"coreCount": count} if count != 1 else {})}
    shielded = block(setup, "shielded_instance_config")
    if shielded.get("enable_secure_boot"):
        fields["enableSecureBoot"] = True
    if shielded and (shielded.get("enable_vtpm") is False
                     or shielded.get("enable_integrity_monitoring") is False):
        notes.append("shielded_instance_config: vTPM/integrity monitoring off is not carried over")
    account = block(setup, "service_accounts").get("email")
    if account and not str(account).endswith(DEFAULT_ACCOUNT_SUFFIX):
        fields["serviceAccount"] = account
    for attr, key, names in (("vm_image", "vmImage", ("project", "family", "name")),
                             ("container_image", "containerImage", ("repository", "tag"))):
        image = {n: block(setup, attr)[n] for n in names if block(setup, attr).get(n)}
        put(fields, key, image)
    boot, data = block(setup, "boot_disk"), block(setup, "data_disks")
    fields.update(_tf_disks(boot, data))
    fields.update(_tf_interface(block(setup, "network_interfaces"), notes))
    if setup.get("disable_public_ip") is False:
        fields["disablePublicIp"] = False
    put(fields, "tags", sorted(t for t in setup.get("tags") or [] if t not in PROVIDED_TAGS))
    fields.update(_user_metadata(setup.get("metadata") or {}))
    if setup.get("min_cpu_platform"):
        notes.append(f"gce_setup.min_cpu_platform not carried over: {MIN_CPU_UNSENDABLE}")
    for attr in ("enable_ip_forwarding", "confidential_instance_config"):
        if setup.get(attr):
            notes.append(f"gce_setup.{attr} has no field here: not carried over")
    return fields


DEFAULT_MACHINE = "e2-standard-4"       # the emulator's table: the Workbench console's default
DEFAULT_ACCOUNT_SUFFIX = "-compute@developer.gserviceaccount.com"   # the Compute default account


def _tf_disks(boot: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``bootDisk``/``dataDisk`` without the default sizes (discovery BootDisk 150, DataDisk 100)."""
    out: dict[str, Any] = {}
    keys = {name: str(d["kms_key"]) for name, d in (("bootDisk", boot), ("dataDisk", data))
            if d.get("kms_key") and d.get("disk_encryption") == "CMEK"}
    shared = len(keys) == 2 and len(set(keys.values())) == 1
    for name, disk, size in (("bootDisk", boot, "150"), ("dataDisk", data, "100")):
        item: dict[str, Any] = {}
        if disk.get("disk_size_gb") and str(disk["disk_size_gb"]) != size:
            item["diskSizeGb"] = int(disk["disk_size_gb"])
        put(item, "diskType", disk.get("disk_type"))
        if name in keys and not shared:
            item["kmsKey"] = keys[name]
        if name == "dataDisk":
            put(item, "resourcePolicies", list(disk.get("resource_policies") or []))
        put(out, name, item)
    if shared:
        out["kmsKey"] = keys["bootDisk"]
    return out


def _tf_interface(interface: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    if interface.get("nic_type"):
        notes.append("gce_setup.network_interfaces.nic_type has no field here: not carried over")
    return _network_fields(interface)


def _network_fields(interface: dict[str, Any]) -> dict[str, Any]:
    """The interface's network (unless the default one) and subnet."""
    out: dict[str, Any] = {}
    network = str(interface.get("network") or "")
    if network and not network.endswith("/global/networks/default"):
        out["network"] = network
    put(out, "subnetwork", interface.get("subnet"))
    return out


def _user_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` without the keys Workbench sets or defaults, and ``idleShutdownSeconds``
    taken out of its key."""
    kept = {str(k): str(v) for k, v in metadata.items()
            if k not in _TF_PROVIDED_METADATA and _TF_DEFAULT_METADATA.get(k) != str(v)}
    fields: dict[str, Any] = {}
    idle = kept.pop(IDLE_KEY, None)
    if idle is not None:
        fields["idleShutdownSeconds"] = int(idle)
    put(fields, "metadata", kept)
    return fields


# --- moving in from live: the API's instance, read back (notebooks v2 Instance) -----------------

_INPUT_ONLY_NOTE = ("not returned by the API (input only), so not imported: instanceOwners, "
                    "vmImage, the data disk's diskType, the disks' kmsKey; writing one later "
                    "replaces the instance")
_DEFAULT_BOOT_TYPE = "PD_BALANCED"      # what the API answers for a boot disk created without one


def _live_setup(live: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The flat fields of a live instance's ``gceSetup`` (its defaults and server keys left out)."""
    raw = live.get("gceSetup") or {}
    setup = canonical_live(live).get("gceSetup") or {}
    fields: dict[str, Any] = {}
    put(fields, "machineType", setup.get("machineType"), default=DEFAULT_MACHINE)
    gpu = setup.get("accelerator") or {}
    if gpu.get("type"):
        count = int(gpu.get("coreCount") or 1)
        fields["gpu"] = {"type": gpu["type"], **({"coreCount": count} if count != 1 else {})}
    if (setup.get("gpuDriverConfig") or {}).get("enableGpuDriver"):
        fields["installGpuDriver"] = True
    if (setup.get("shieldedInstanceConfig") or {}).get("enableSecureBoot"):
        fields["enableSecureBoot"] = True
    shielded = raw.get("shieldedInstanceConfig") or {}
    if shielded and not (shielded.get("enableVtpm") and shielded.get("enableIntegrityMonitoring")):
        notes.append("shieldedInstanceConfig: vTPM/integrity monitoring off is not carried over")
    account = str(setup.get("serviceAccount") or "")
    if account and not account.endswith(DEFAULT_ACCOUNT_SUFFIX):
        fields["serviceAccount"] = account
    image = setup.get("containerImage") or {}
    put(fields, "containerImage", {k: image[k] for k in ("repository", "tag") if image.get(k)})
    fields.update(_live_disks(setup))
    fields.update(_live_interface((raw.get("networkInterfaces") or [{}])[0], notes))
    if setup.get("disablePublicIp") is False:
        fields["disablePublicIp"] = False
    put(fields, "tags", sorted(setup.get("tags") or []))
    fields.update(_user_metadata(setup.get("metadata") or {}))
    if setup.get("minCpuPlatform"):
        notes.append(f"gceSetup.minCpuPlatform not carried over: {MIN_CPU_UNSENDABLE}")
    for key in ("enableIpForwarding", "confidentialInstanceConfig", "reservationAffinity"):
        value = setup.get(key)
        if value and not (key == "reservationAffinity"
                          and value.get("consumeReservationType") in (None, "RESERVATION_ANY")):
            notes.append(f"gceSetup.{key} has no field here: not carried over")
    return fields


def _live_disks(setup: dict[str, Any]) -> dict[str, Any]:
    """``bootDisk``/``dataDisk`` without the default sizes (150/100 GB) and boot disk type."""
    out: dict[str, Any] = {}
    for name, size in (("bootDisk", "150"), ("dataDisk", "100")):
        disk = setup.get(name) or {}
        item: dict[str, Any] = {}
        if disk.get("diskSizeGb") and str(disk["diskSizeGb"]) != size:
            item["diskSizeGb"] = int(disk["diskSizeGb"])
        if name == "bootDisk":
            put(item, "diskType", disk.get("diskType"), default=_DEFAULT_BOOT_TYPE)
        else:
            put(item, "resourcePolicies", list(disk.get("resourcePolicies") or []))
        put(out, name, item)
    return out


def _live_interface(interface: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The network (unless the default one) and subnet, as the selfLinks the API answers."""
    if interface.get("nicType") not in (None, "", "NIC_TYPE_UNSPECIFIED"):
        notes.append("gceSetup.networkInterfaces.nicType has no field here: not carried over")
    return _network_fields(interface)

"""``compute.Instance``: a Compute Engine VM with the boot disk it is created with.

| path | notes |
|---|---|
| ``zone`` | e.g. ``us-central1-a``; default the spec's region + ``-a``; part of the identity |
| ``machineType`` | required: ``n1-standard-8`` (a name; compared by name). Changing it needs the VM stopped: a restart |
| ``bootDisk.image`` | an image or an image family: ``projects/debian-cloud/global/images/family/debian-12`` (or the image's name, full or partial URL). A family is compared as a family, never with the image it resolved to, so a newer image in it is no change |
| ``bootDisk.sizeGb`` / ``bootDisk.type`` | GB (at least the image's); ``pd-standard`` (API default), ``pd-balanced``, ``pd-ssd`` ... |
| ``bootDisk.kmsKeyName`` | CMEK (``${key.id}``); a key of the spec implies its grant to the Compute Engine service agent. Every ``bootDisk`` field is create-only (a change replaces the VM, and its disk) |
| ``guestAccelerators[]`` | ``{acceleratorType: nvidia-tesla-t4, acceleratorCount: 1}``; GPUs force ``scheduling.onHostMaintenance: TERMINATE`` (a GPU VM cannot live-migrate). A change is a restart |
| ``spot`` | ``true``: a spot VM (``provisioningModel: SPOT``, stopped when preempted); create-only |
| ``scheduling`` | ``{onHostMaintenance, automaticRestart, provisioningModel, instanceTerminationAction}``; changes are restarts (``setScheduling`` needs it stopped), the provisioning model is create-only |
| ``serviceAccount`` / ``scopes`` | ``${trainer.email}``; scopes default ``[cloud-platform]`` (short names stand for ``https://www.googleapis.com/auth/NAME``). A change is a restart |
| ``network`` / ``subnetwork`` | ``${vpc.selfLink}`` / ``${subnet.selfLink}``; create-only |
| ``externalIp`` | default ``false``: no external address (reach the internet through Cloud NAT). ``true`` is refused by the guardrail ``no-external-ip`` unless waived; create-only |
| ``shieldedInstanceConfig`` | ``{enableSecureBoot, enableVtpm, enableIntegrityMonitoring}``; a change is a restart |
| ``minCpuPlatform`` | e.g. ``Intel Skylake``; a change is a restart |
| ``labels`` | map; ``managed-by``/stack labels are added (ownership) |
| ``metadata`` | map, e.g. ``startup-script``; keys others set are left alone |
| ``tags`` | network tags (a set) |
| ``deletionProtection`` | Compute refuses to delete the VM while true |
| ``status`` | ``RUNNING`` (default) or ``TERMINATED`` (stopped) |
| ``description`` | create-only |

A restart (the VM stopped, changed, started again) is shown in the plan and needs
``allowRestart: true`` on the resource or ``--allow-restart``. Setters that carry a fingerprint
(labels, metadata, tags, ``instances.update``) read it just before the call; a stale one (412)
is re-read and retried. Deleting the VM deletes its boot disk: it is data-bearing (a delete or
replace needs ``allowDataLoss``). Operations are zonal, waited on with ``zoneOperations.wait``;
deadline 20 min each (Terraform's default). Outputs: ``name``, ``selfLink``, ``id``,
``internalIp``, ``zone``.

Moving in: ``google_compute_instance`` (the provider's handwritten
``resource_compute_instance.go`` schema). ``boot_disk.initialize_params.image`` is resolved as
the provider's ``resolveImage`` does (``image.go``: ``P/X`` and ``X`` are an image if one is so
named, else a family), by reading the image; its ``size`` is left out when it is the image's,
``type`` when ``pd-standard``. Left out at their defaults: scopes ``[cloud-platform]``,
scheduling (``automatic_restart`` true, ``on_host_maintenance`` MIGRATE - TERMINATE with GPUs -,
``provisioning_model`` STANDARD), Shielded VM (secure boot off, vTPM and integrity monitoring
on). ``provisioning_model = SPOT`` becomes ``spot: true``; ``metadata_startup_script`` becomes
``metadata.startup-script``; a stopped VM (``desired_status``/``current_status`` TERMINATED) keeps
``status: TERMINATED``. Customer-supplied keys (``disk_encryption_key_raw``/``_rsa``, sensitive)
never reach the spec: such a VM's disk is noted, not carried over; so are extra network
interfaces, alias ranges, attached and scratch disks.

Live VMs (``import live``) are listed with one ``instances.aggregatedList`` and kept in the
zones of the regions asked for; each boot disk is read as ``get`` reads it, and
``bootDisk.image`` is the image the disk was made from (its size left out when it is the
image's). The same defaults are left out. VMs another Google service makes and replaces are
left to it: GKE nodes (label ``goog-gke-node``), members of managed instance groups (metadata
``created-by``) and Vertex AI Workbench VMs (metadata ``notebooks-api``, label
``notebooks-product``, tags ``deeplearning-vm``/``notebook-instance``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import (
    FieldChange,
    Imported,
    ImportedList,
    NotImportable,
    ResourceContext,
    ResourceId,
    Violation,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._agents import COMPUTE_AGENT
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels, int64, translate_errors
from mlops_infra.kinds._clients import (
    COMPUTE_DISKS,
    COMPUTE_IMAGES,
    COMPUTE_INSTANCES,
    COMPUTE_ZONE_OPERATIONS,
)
from mlops_infra.kinds._imports import (
    block,
    blocks,
    leftovers,
    put,
    terraform_labels,
    user_labels,
)
from mlops_infra.kinds._names import CryptoKeyName, NetworkRef
from mlops_infra.kinds.compute import _common as common
from mlops_infra.spec.jsoncopy import copy_json

DEADLINE = 20 * 60.0
SCOPE_ROOT = "https://www.googleapis.com/auth/"
NO_EXTERNAL_IP = {"no-external-ip": "instances have no external IP address (externalIp: false; "
                                    "they reach the internet through Cloud NAT)"}
# Changes that need the VM stopped (TERMINATED): compute v1 discovery setMachineType,
# setMinCpuPlatform, setScheduling; service accounts, GPUs and Shielded VM options
# (https://cloud.google.com/compute/docs/access/create-enable-service-accounts-for-instances,
# .../gpus/add-gpus; Terraform stops the VM for these: resource_compute_instance.go).
RESTARTING = ("machineType", "guestAccelerators", "serviceAccounts", "minCpuPlatform",
              "scheduling", "shieldedInstanceConfig")
_IMAGE_FAMILY = "/family/"
_RUNNING = frozenset({"PROVISIONING", "STAGING", "RUNNING", "REPAIRING"})


# --- spec model -------------------------------------------------------------------------------

class BootDisk(SpecModel):
    image: str
    sizeGb: int | None = Field(default=None, ge=10)
    type: Literal["pd-standard", "pd-balanced", "pd-ssd", "pd-extreme",
                  "hyperdisk-balanced", "hyperdisk-extreme"] | None = None
    kmsKeyName: CryptoKeyName | None = None


class GuestAccelerator(SpecModel):
    acceleratorType: str = Field(pattern=r"^(\$\{.+|[a-z0-9-]+)$")
    acceleratorCount: int = Field(ge=1)


class Scheduling(SpecModel):
    onHostMaintenance: Literal["MIGRATE", "TERMINATE"] | None = None
    automaticRestart: bool | None = None
    provisioningModel: Literal["STANDARD", "SPOT"] | None = None
    instanceTerminationAction: Literal["STOP", "DELETE"] | None = None


class ShieldedInstanceConfig(SpecModel):
    enableSecureBoot: bool | None = None
    enableVtpm: bool | None = None
    enableIntegrityMonitoring: bool | None = None


class InstanceSpec(SpecModel):
    """A Compute Engine instance (REST names, with the documented shorthands)."""

    zone: str | None = Field(default=None, pattern=common.ZONE.pattern)
    machineType: str = Field(pattern=r"^(\$\{.+|[a-z0-9]+-[a-z0-9-]+)$")
    bootDisk: BootDisk
    guestAccelerators: list[GuestAccelerator] | None = None
    spot: bool | None = None
    scheduling: Scheduling | None = None
    serviceAccount: str | None = None
    scopes: list[str] | None = None
    network: NetworkRef | None = None
    subnetwork: str | None = None
    externalIp: bool | None = None
    shieldedInstanceConfig: ShieldedInstanceConfig | None = None
    minCpuPlatform: str | None = None
    labels: dict[str, str] | None = None
    metadata: dict[str, str] | None = None
    tags: list[str] | None = None
    deletionProtection: bool | None = None
    status: Literal["RUNNING", "TERMINATED"] | None = None
    description: str | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @model_validator(mode="after")
    def _gpus_cannot_migrate(self) -> InstanceSpec:
        if self.guestAccelerators and self.scheduling and \
                self.scheduling.onHostMaintenance == "MIGRATE":
            raise ValueError("a VM with guestAccelerators cannot live-migrate: its "
                             "scheduling.onHostMaintenance is TERMINATE (Compute refuses MIGRATE)")
        if self.spot is not None and self.scheduling and self.scheduling.provisioningModel:
            raise ValueError("'spot' is a shorthand for scheduling.provisioningModel: write only one")
        if self.scopes is not None and self.serviceAccount is None:
            raise ValueError("'scopes' are the scopes of 'serviceAccount': write the account too")
        return self


# --- desired and live in one shape ---------------------------------------------------------------

def _scopes(scopes: list[str]) -> list[str]:
    return sorted(s if s.startswith("https://") else SCOPE_ROOT + s for s in scopes)


def _image(value: str, project: str) -> dict[str, str]:
    """``{image: projects/P/global/images/I}`` or ``{imageFamily: projects/P/global/images/family/F}``."""
    if "${" in value:
        return {"image": value}
    path = value.split("/compute/v1/", 1)[-1].lstrip("/")
    if not path.startswith("projects/"):
        path = f"projects/{project}/{path}" if path.startswith("global/") \
            else f"projects/{project}/global/images/{path}"
    return {"imageFamily": path} if _IMAGE_FAMILY in path else {"image": path}


def _scheduling(fields: dict[str, Any]) -> dict[str, Any] | None:
    scheduling = copy_json(fields.get("scheduling") or {})
    if fields.get("spot"):
        scheduling.update(provisioningModel="SPOT", automaticRestart=False,
                          onHostMaintenance="TERMINATE")
        scheduling.setdefault("instanceTerminationAction", "STOP")
    elif fields.get("spot") is False:
        scheduling.setdefault("provisioningModel", "STANDARD")
    if fields.get("guestAccelerators"):
        scheduling["onHostMaintenance"] = "TERMINATE"   # GPUs cannot live-migrate
    return scheduling or None


def desired_body(ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": ctx.name, "machineType": fields["machineType"]}
    disk = fields["bootDisk"]
    boot = _image(disk["image"], ctx.project)
    for key in ("sizeGb", "type", "kmsKeyName"):
        if key in disk:
            boot[key] = int64(disk[key]) if key == "sizeGb" else disk[key]
    body["bootDisk"] = boot
    if fields.get("guestAccelerators"):
        body["guestAccelerators"] = copy_json(fields["guestAccelerators"])
    scheduling = _scheduling(fields)
    if scheduling:
        body["scheduling"] = scheduling
    if fields.get("serviceAccount"):
        body["serviceAccounts"] = [{"email": fields["serviceAccount"],
                                    "scopes": _scopes(fields.get("scopes") or ["cloud-platform"])}]
    body["networkInterfaces"] = [_nic(fields, ctx.project)]
    for key in ("shieldedInstanceConfig", "minCpuPlatform", "labels", "metadata",
                "deletionProtection", "description"):
        if key in fields:
            body[key] = copy_json(fields[key])
    if "tags" in fields:
        body["tags"] = sorted(set(fields["tags"]))
    body["status"] = fields.get("status") or "RUNNING"
    return body


def _nic(fields: dict[str, Any], project: str) -> dict[str, Any]:
    nic: dict[str, Any] = {}
    if fields.get("network"):
        nic["network"] = common.network_url(fields["network"], project=project)
    if fields.get("subnetwork"):
        nic["subnetwork"] = fields["subnetwork"]
    nic["accessConfigs"] = [{"type": "ONE_TO_ONE_NAT"}] if fields.get("externalIp") else []
    return nic


def normalized(live: dict[str, Any]) -> dict[str, Any]:
    """A live instance in the shape ``desired_body`` writes (idempotent)."""
    out = copy_json(live)
    out["machineType"] = _last(out.get("machineType"))
    if out.get("guestAccelerators"):
        out["guestAccelerators"] = [{**a, "acceleratorType": _last(a.get("acceleratorType"))}
                                    for a in out["guestAccelerators"]]
    for nic in out.get("networkInterfaces") or []:
        nic["accessConfigs"] = [{**c, "type": c.get("type", "ONE_TO_ONE_NAT")}
                                for c in nic.get("accessConfigs") or []]
    if isinstance(out.get("metadata"), dict) and out["metadata"].get("kind") == "compute#metadata":
        out["metadata"] = {i["key"]: i.get("value", "") for i in out["metadata"].get("items") or []}
    if isinstance(out.get("tags"), dict):
        out["tags"] = sorted(out["tags"].get("items") or [])
    for account in out.get("serviceAccounts") or []:
        account["scopes"] = sorted(account.get("scopes") or [])
    key = (out.get("bootDisk") or {}).get("kmsKeyName")
    if isinstance(key, str):
        out["bootDisk"]["kmsKeyName"] = key.split("/cryptoKeyVersions/")[0]
    status = out.get("status")
    if status in _RUNNING:
        out["status"] = "RUNNING"
    elif status in ("STOPPING", "STOPPED", "SUSPENDING", "SUSPENDED"):
        out["status"] = "TERMINATED"
    return out


def _last(link: Any) -> Any:
    return link.rstrip("/").rsplit("/", 1)[-1] if isinstance(link, str) else link


def _relative(link: str) -> str:
    return link.split("/compute/v1/", 1)[-1]


# --- the kind --------------------------------------------------------------------------------------

@register
class Instance(common.ComputeKind):
    """A Compute Engine VM instance."""

    name = "compute.Instance"
    name_pattern = "projects/*/zones/*/instances/*"
    model = InstanceSpec
    uses = (COMPUTE_INSTANCES, COMPUTE_DISKS, COMPUTE_IMAGES, COMPUTE_ZONE_OPERATIONS)
    outputs = frozenset({"name", "selfLink", "id", "internalIp", "zone"})
    labels_path: ClassVar[str | None] = "labels"
    layer = "Compute"
    data_bearing = True
    loss = "its boot disk is deleted with it"
    complete_listing = False          # the boot disk is read with the instance
    immutable = frozenset({"bootDisk", "networkInterfaces", "description",
                           "scheduling.provisioningModel"})
    set_paths = frozenset({"tags"})
    list_keys = {"tags": "", "guestAccelerators": "acceleratorType"}
    service_agent = COMPUTE_AGENT
    cmek_fields = ("bootDisk.kmsKeyName",)
    guardrails = NO_EXTERNAL_IP
    terraform_types = ("google_compute_instance",)
    terraform_refs = {"network": "selfLink", "subnetwork": "selfLink", "serviceAccount": "email",
                      "bootDisk.kmsKeyName": "id"}

    # --- identity ---
    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        zone = fields.get("zone") or (f"{ctx.region}-a" if ctx.region else None)
        if not zone:
            raise errors.SpecError("an instance needs a zone (or a spec region)",
                                   field=f"{ctx.address}.zone")
        return common.zonal_id(self.name, ctx.project, zone, "instances", ctx.name)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return desired_body(ctx, fields)

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return normalized(live)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        out = {**super().outputs_of(rid, live), "zone": rid.parts["zone"]}
        nics = (live or {}).get("networkInterfaces") or []
        if nics and nics[0].get("networkIP"):
            out["internalIp"] = nics[0]["networkIP"]
        return out

    def describe(self, rid: ResourceId) -> str:
        return f"instance {rid.parts['zone']}/{rid.parts['name']}"

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        if any(nic.get("accessConfigs") for nic in desired.get("networkInterfaces") or []):
            return [Violation(rule="no-external-ip", path="externalIp",
                              message="the instance would get an external IP address; keep "
                                      "externalIp: false and reach the internet through Cloud NAT")]
        return []

    def restart_reason(self, changes: FieldChanges, live: dict[str, Any]) -> str | None:
        hits = sorted({c.path.split(".")[0] for c in changes} & set(RESTARTING))
        stopping = any(c.path == "status" and c.new == "TERMINATED" for c in changes)
        if not hits or stopping or normalized(live).get("status") != "RUNNING":
            return None
        return f"{', '.join(hits)} change only while it is stopped"

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        project = str(a["project"])
        fields: dict[str, Any] = {"zone": str(a["zone"]), "machineType": _last(a["machine_type"])}
        notes: list[str] = []
        fields["bootDisk"] = self._tf_boot_disk(block(a, "boot_disk"), project, notes)
        gpus = [{"acceleratorType": _last(g["type"]), "acceleratorCount": g["count"]}
                for g in blocks(a, "guest_accelerator") if g.get("count")]
        put(fields, "guestAccelerators", gpus)
        fields.update(_tf_scheduling(block(a, "scheduling"), gpus=bool(gpus)))
        account = block(a, "service_account")
        if account.get("email"):
            fields["serviceAccount"] = account["email"]
            scopes = sorted(s.removeprefix(SCOPE_ROOT) for s in account.get("scopes") or [])
            put(fields, "scopes", scopes, default=["cloud-platform"])
        fields.update(_tf_network(blocks(a, "network_interface"), notes))
        shielded = _tf_shielded(block(a, "shielded_instance_config"))
        put(fields, "shieldedInstanceConfig", shielded)
        put(fields, "minCpuPlatform", a.get("min_cpu_platform"))
        put(fields, "labels", terraform_labels(a))
        metadata = {str(k): str(v) for k, v in (a.get("metadata") or {}).items()}
        if a.get("metadata_startup_script"):
            metadata["startup-script"] = str(a["metadata_startup_script"])
        put(fields, "metadata", metadata)
        put(fields, "tags", sorted(a.get("tags") or []))
        if a.get("deletion_protection"):
            fields["deletionProtection"] = True
        if "TERMINATED" in (a.get("desired_status"), a.get("current_status")):
            fields["status"] = "TERMINATED"
        put(fields, "description", a.get("description"))
        return [Imported(name=str(a["name"]), project=project, fields=fields,
                         notes=(*notes, *leftovers(a, _TF_KNOWN)))]

    def _tf_boot_disk(self, boot: dict[str, Any], project: str, notes: list[str]) -> dict[str, Any]:
        params = block(boot, "initialize_params")
        image, image_size = self._tf_image(str(params.get("image") or ""), project)
        disk: dict[str, Any] = {"image": image}
        size = params.get("size")
        put(disk, "sizeGb", int(size) if size else None, default=image_size)
        put(disk, "type", _last(params.get("type")), default="pd-standard")
        if boot.get("kms_key_self_link"):
            disk["kmsKeyName"] = str(boot["kms_key_self_link"]).split("/cryptoKeyVersions/")[0]
        if boot.get("disk_encryption_key_raw") or boot.get("disk_encryption_key_rsa"):
            notes.append("boot_disk uses a customer-supplied key (sensitive): not carried over, "
                         "the disk stays as it is live")
        return disk

    def _tf_image(self, value: str, project: str) -> tuple[str, Any]:
        """``(image as bootDisk.image writes it, its disk size)``: the provider's resolveImage
        (image.go) - ``P/X`` and ``X`` name an image if one is so named, else a family."""
        match = _TF_IMAGE_SHORT.fullmatch(value)
        if match is None:
            spec = _image(value, project)
            path = spec.get("imageFamily") or spec["image"]
            return path, self._image_size(path)
        where = match.group(1) or project
        name = match.group(2)
        image = f"projects/{where}/global/images/{name}"
        size = self._image_size(image)
        if size is not None:
            return image, size
        family = f"projects/{where}/global/images/family/{name}"
        return family, self._image_size(family)

    def _image_size(self, path: str) -> Any:
        parts = path.split("/")
        client = self.clients.get(COMPUTE_IMAGES)
        if parts[-2] == "family":
            found = common.get_or_none(client.get_from_family, what=f"image {path}",
                                       project=parts[1], family=parts[-1])
        else:
            found = common.get_or_none(client.get, what=f"image {path}", project=parts[1],
                                       image=parts[-1])
        size = (found or {}).get("diskSizeGb")   # int64: a string in REST JSON
        return int(size) if size is not None else None

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """The inverse of ``desired_body`` for a VM as ``get`` reads it (its boot disk too)."""
        rid = self.id_from_name(name)
        out = normalized(live)
        notes: list[str] = []
        fields: dict[str, Any] = {"zone": rid.parts["zone"], "machineType": out["machineType"]}
        fields["bootDisk"] = self._live_boot_disk(out.get("bootDisk") or {}, notes)
        gpus = [{"acceleratorType": g["acceleratorType"], "acceleratorCount": g["acceleratorCount"]}
                for g in out.get("guestAccelerators") or []]
        put(fields, "guestAccelerators", gpus)
        fields.update(_live_scheduling(out.get("scheduling") or {}, gpus=bool(gpus)))
        accounts = out.get("serviceAccounts") or []
        if accounts and accounts[0].get("email"):
            fields["serviceAccount"] = accounts[0]["email"]
            scopes = sorted(s.removeprefix(SCOPE_ROOT) for s in accounts[0].get("scopes") or [])
            put(fields, "scopes", scopes, default=["cloud-platform"])
        fields.update(_live_network(out.get("networkInterfaces") or [], notes))
        shielded = _shielded(out.get("shieldedInstanceConfig") or {})
        put(fields, "shieldedInstanceConfig", shielded)
        put(fields, "minCpuPlatform", out.get("minCpuPlatform"), default="Automatic")
        put(fields, "labels", user_labels(out.get("labels")))
        put(fields, "metadata", dict(out.get("metadata") or {}))
        put(fields, "tags", sorted(out.get("tags") or []))
        if out.get("deletionProtection"):
            fields["deletionProtection"] = True
        if out.get("status") == "TERMINATED":
            fields["status"] = "TERMINATED"
        put(fields, "description", out.get("description"))
        boot: dict[str, Any] = next((d for d in live.get("disks") or [] if d.get("boot")), {})
        # a customer-supplied key: Compute returns only its sha256 (discovery CustomerEncryptionKey)
        if (boot.get("diskEncryptionKey") or {}).get("sha256"):
            notes.append("its boot disk uses a customer-supplied key (Compute returns only its "
                         "hash): not carried over, the disk stays as it is live")
        extra = [d for d in live.get("disks") or [] if not d.get("boot")]
        if extra:
            notes.append(f"{len(extra)} more attached disk(s) not carried over (left as they are)")
        return [Imported(name=str(live["name"]), project=rid.parts["project"], fields=fields,
                         notes=tuple(notes))]

    def _live_boot_disk(self, boot: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        """``bootDisk`` as written: the image the disk was made from (a family says nothing
        of which image a disk holds; the image itself is what a replacement would repeat),
        its size when not the image's, its type when not ``pd-standard``."""
        if not boot.get("image"):
            raise NotImportable("its boot disk was not made from an image (a snapshot or an "
                                "existing disk): bootDisk cannot say so")
        disk: dict[str, Any] = {"image": boot["image"]}
        size = int(boot["sizeGb"]) if boot.get("sizeGb") is not None else None
        put(disk, "sizeGb", size, default=self._image_size(boot["image"]))
        put(disk, "type", boot.get("type"), default="pd-standard")
        put(disk, "kmsKeyName", boot.get("kmsKeyName"))
        return disk

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """VMs of the zones of ``regions`` (every zone when none is given), read with one
        ``instances.aggregatedList`` (compute v1 discovery: every zone's instances in one
        paged call), each completed with its boot disk as ``get`` reads it."""
        wanted = set(regions)
        found: dict[str, dict[str, Any]] = {}
        with translate_errors(f"instances of projects/{project}"):
            pages = self.clients.get(COMPUTE_INSTANCES).aggregated_list(project=project, **CALL)
            scoped = [(scope, common.to_dict(item)) for scope, listed in pages
                      for item in listed.instances]
        for scope, item in scoped:
            zone = scope.removeprefix("zones/")
            if wanted and zone.rsplit("-", 1)[0] not in wanted:
                continue
            name = f"projects/{project}/zones/{zone}/instances/{item['name']}"
            item["bootDisk"] = self._boot_disk(self.id_from_name(name), item)
            found[name] = item
        return found

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        """VMs that another Google service makes and replaces: GKE nodes (labelled
        ``goog-gke-node``, named ``gke-...``: the CIS Google Cloud Foundations Benchmark's
        exception "VMs created by GKE ... are labeled goog-gke-node"; their metadata names the
        cluster, ``cluster-name``/``kube-env``), a managed instance group's members (the
        ``created-by`` metadata key names the group: Compute's predefined metadata keys,
        https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys) and Vertex AI
        Workbench VMs (the ``notebooks-api`` metadata, the ``notebooks-product`` label and the
        ``deeplearning-vm``/``notebook-instance`` tags the Workbench service sets: magic-modules
        ``workbench_instance.go.tmpl`` WorkbenchInstanceProvidedMetadata/Labels/Tags)."""
        out = normalized(live)
        labels = out.get("labels") or {}
        metadata = out.get("metadata") or {}
        if "goog-gke-node" in labels or {"cluster-name", "kube-env"} <= set(metadata):
            cluster = labels.get("goog-k8s-cluster-name") or metadata.get("cluster-name") or "?"
            return f"a node of the GKE cluster {cluster}: its node pool makes and replaces it"
        if "notebooks-api" in metadata or "notebooks-product" in labels or \
                set(_WORKBENCH_TAGS) <= set(out.get("tags") or []):
            return "the VM of a Vertex AI Workbench instance: import it as a workbench.Instance"
        if "/instanceGroupManagers/" in str(metadata.get("created-by", "")):
            return (f"a member of the managed instance group {_last(metadata['created-by'])}: "
                    "the group makes and replaces it")
        return None

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        _, project, _, zone, _ = scope.split("/")
        return common.list_all(self.clients.get(COMPUTE_INSTANCES).list, project=project,
                               zone=zone, scope=scope, what=f"instances in {scope}")

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        live = common.get_or_none(self.clients.get(COMPUTE_INSTANCES).get, what=self.describe(rid),
                                  **_where(rid))
        if live is not None:
            live["bootDisk"] = self._boot_disk(rid, live)
        return live

    def _boot_disk(self, rid: ResourceId, live: dict[str, Any]) -> dict[str, Any]:
        """The boot disk as ``bootDisk`` writes it: its image (and the image's family), size,
        type and key - read from the disk and its image (Terraform reads them so too)."""
        attached = next((d for d in live.get("disks") or [] if d.get("boot")), None)
        if attached is None or not attached.get("source"):
            return {}
        disk = common.get_or_none(self.clients.get(COMPUTE_DISKS).get, what=self.describe(rid),
                                  project=rid.parts["project"], zone=rid.parts["zone"],
                                  disk=_last(attached["source"])) or {}
        boot: dict[str, Any] = {"sizeGb": disk.get("sizeGb", attached.get("diskSizeGb")),
                                "type": _last(disk.get("type"))}
        if disk.get("sourceImage"):
            image = _relative(disk["sourceImage"])
            boot["image"] = image
            family = self._family(image)
            if family:
                boot["imageFamily"] = f"{image.rsplit('/', 1)[0]}/family/{family}"
        key = (attached.get("diskEncryptionKey") or disk.get("diskEncryptionKey") or {}).get("kmsKeyName")
        if key:
            boot["kmsKeyName"] = key.split("/cryptoKeyVersions/")[0]
        return boot

    def _family(self, image: str) -> str | None:
        project, name = image.split("/")[1], image.rsplit("/", 1)[-1]

        def read() -> str | None:
            found = common.get_or_none(self.clients.get(COMPUTE_IMAGES).get, what=f"image {image}",
                                       project=project, image=name)
            return (found or {}).get("family")
        return self.clients.read_once(("compute.image", image), read)  # type: ignore[no-any-return]

    def holds_data(self, rid: ResourceId) -> bool:
        """Its boot disk is deleted with it."""
        return self.get(rid) is not None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import compute_v1

        body = _insert_body(rid, desired)
        common.call(self.clients, self._client().insert_unary, what=self.describe(rid),
                    deadline=DEADLINE, instance_resource=common.to_message(compute_v1.Instance, body),
                    **_zone(rid))
        if desired.get("status") == "TERMINATED":
            self._power(rid, "stop")
        return self.read_after_operation(rid)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        tops = {c.path.split(".")[0] for c in changes}
        restarting = sorted(tops & set(RESTARTING))
        running = normalized(live).get("status") == "RUNNING"
        if restarting and running:
            self._power(rid, "stop")
        for aspect in restarting:
            getattr(self, f"_set_{aspect}")(rid, desired)
        for aspect in ("labels", "metadata", "tags", "deletionProtection"):
            if aspect in tops:
                getattr(self, f"_set_{aspect}")(rid, desired, changes)
        want = desired.get("status", "RUNNING")
        if want == "RUNNING" and (restarting and running or not running):
            self._power(rid, "start")
        elif want == "TERMINATED" and running and not restarting:
            self._power(rid, "stop")
        return self.read_after_operation(rid)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        if not force and self.holds_data(rid):
            raise errors.PermanentError(f"{self.describe(rid)}: deleting it deletes its boot "
                                        "disk; that needs allowDataLoss")
        try:
            common.call(self.clients, self._client().delete_unary, what=self.describe(rid),
                        deadline=DEADLINE, **_where(rid))
        except (errors.NotFound, NotFound):
            return

    # --- helpers ---
    def _client(self) -> Any:
        return self.clients.get(COMPUTE_INSTANCES)

    def _call(self, rid: ResourceId, method: str, **kwargs: Any) -> None:
        common.call(self.clients, getattr(self._client(), method), what=self.describe(rid),
                    deadline=DEADLINE, **_where(rid), **kwargs)

    def _power(self, rid: ResourceId, verb: str) -> None:
        self._call(rid, f"{verb}_unary")

    def _fresh(self, rid: ResourceId) -> dict[str, Any]:
        return self.read_after_operation(rid)

    def _set_machineType(self, rid: ResourceId, desired: dict[str, Any]) -> None:
        from google.cloud import compute_v1

        request = compute_v1.InstancesSetMachineTypeRequest(
            machine_type=f"zones/{rid.parts['zone']}/machineTypes/{desired['machineType']}")
        self._call(rid, "set_machine_type_unary",
                   instances_set_machine_type_request_resource=request)

    def _set_minCpuPlatform(self, rid: ResourceId, desired: dict[str, Any]) -> None:
        from google.cloud import compute_v1

        request = compute_v1.InstancesSetMinCpuPlatformRequest(
            min_cpu_platform=desired.get("minCpuPlatform") or "Automatic")
        self._call(rid, "set_min_cpu_platform_unary",
                   instances_set_min_cpu_platform_request_resource=request)

    def _set_serviceAccounts(self, rid: ResourceId, desired: dict[str, Any]) -> None:
        from google.cloud import compute_v1

        account = (desired.get("serviceAccounts") or [{}])[0]
        request = compute_v1.InstancesSetServiceAccountRequest(
            email=account.get("email", ""), scopes=account.get("scopes") or [])
        self._call(rid, "set_service_account_unary",
                   instances_set_service_account_request_resource=request)

    def _set_scheduling(self, rid: ResourceId, desired: dict[str, Any]) -> None:
        from google.cloud import compute_v1

        current = self._fresh(rid).get("scheduling") or {}
        wanted = {**current, **(desired.get("scheduling") or {})}
        if desired.get("guestAccelerators"):
            wanted["onHostMaintenance"] = "TERMINATE"
        self._call(rid, "set_scheduling_unary",
                   scheduling_resource=common.to_message(compute_v1.Scheduling, wanted))

    def _set_shieldedInstanceConfig(self, rid: ResourceId, desired: dict[str, Any]) -> None:
        from google.cloud import compute_v1

        config = common.to_message(compute_v1.ShieldedInstanceConfig,
                                   desired.get("shieldedInstanceConfig") or {})
        self._call(rid, "update_shielded_instance_config_unary",
                   shielded_instance_config_resource=config)

    def _set_guestAccelerators(self, rid: ResourceId, desired: dict[str, Any]) -> None:
        """``instances.update`` with the instance's current fingerprint (GPUs on a stopped VM)."""
        from google.cloud import compute_v1

        current = self._raw(rid)
        if desired.get("guestAccelerators") and \
                (current.get("scheduling") or {}).get("onHostMaintenance") != "TERMINATE":
            self._set_scheduling(rid, desired)
            current = self._raw(rid)
        current["guestAccelerators"] = [
            {"acceleratorType": f"zones/{rid.parts['zone']}/acceleratorTypes/{a['acceleratorType']}",
             "acceleratorCount": a["acceleratorCount"]} for a in desired.get("guestAccelerators") or []]
        self._call(rid, "update_unary", instance_resource=common.to_message(compute_v1.Instance, current))

    def _raw(self, rid: ResourceId) -> dict[str, Any]:
        live = common.get_or_none(self._client().get, what=self.describe(rid), **_where(rid))
        if live is None:
            raise errors.NotFound(f"{self.describe(rid)} disappeared")
        return live

    def _set_labels(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges) -> None:
        from google.cloud import compute_v1

        current = self._raw(rid)
        labels = _merged(current.get("labels") or {}, desired.get("labels") or {}, changes, "labels")
        request = compute_v1.InstancesSetLabelsRequest(
            labels=labels, label_fingerprint=current.get("labelFingerprint", ""))
        self._call(rid, "set_labels_unary", instances_set_labels_request_resource=request)

    def _set_metadata(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges) -> None:
        from google.cloud import compute_v1

        current = self._raw(rid).get("metadata") or {}
        live = {i["key"]: i.get("value", "") for i in current.get("items") or []}
        items = _merged(live, desired.get("metadata") or {}, changes, "metadata")
        body = {"fingerprint": current.get("fingerprint", ""),
                "items": [{"key": k, "value": v} for k, v in sorted(items.items())]}
        self._call(rid, "set_metadata_unary",
                   metadata_resource=common.to_message(compute_v1.Metadata, body))

    def _set_tags(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges) -> None:
        from google.cloud import compute_v1

        current = self._raw(rid).get("tags") or {}
        tags = compute_v1.Tags(items=desired.get("tags") or [],
                               fingerprint=current.get("fingerprint", ""))
        self._call(rid, "set_tags_unary", tags_resource=tags)

    def _set_deletionProtection(self, rid: ResourceId, desired: dict[str, Any],
                                changes: FieldChanges) -> None:
        request = {"project": rid.parts["project"], "zone": rid.parts["zone"],
                   "resource": rid.parts["name"],
                   "deletion_protection": bool(desired.get("deletionProtection"))}
        with translate_errors(self.describe(rid)):     # the flag is not a flattened argument
            operation = self._client().set_deletion_protection_unary(request=request, **CALL)
        common.wait_for(self.clients, operation, project=rid.parts["project"],
                        zone=rid.parts["zone"], what=self.describe(rid), deadline=DEADLINE)


def _merged(live: dict[str, str], want: dict[str, str], changes: list[FieldChange],
            top: str) -> dict[str, str]:
    """``live`` with ``want`` written over it and the keys this stack removed taken out."""
    removed = {paths.split(c.path)[1] for c in changes
               if c.op == "remove" and paths.split(c.path)[0] == top and len(paths.split(c.path)) > 1}
    if any(c.op == "remove" and c.path == top for c in changes):
        removed |= set(live) - set(want)
    return {k: v for k, v in {**live, **want}.items() if k not in removed}


def _insert_body(rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
    """The ``instances.insert`` body for the desired state."""
    zone = rid.parts["zone"]
    boot = desired["bootDisk"]
    params: dict[str, Any] = {"sourceImage": boot.get("imageFamily") or boot.get("image")}
    if boot.get("sizeGb"):
        params["diskSizeGb"] = str(boot["sizeGb"])
    if boot.get("type"):
        params["diskType"] = f"zones/{zone}/diskTypes/{boot['type']}"
    disk: dict[str, Any] = {"boot": True, "autoDelete": True, "initializeParams": params}
    if boot.get("kmsKeyName"):
        disk["diskEncryptionKey"] = {"kmsKeyName": boot["kmsKeyName"]}
    body: dict[str, Any] = {"name": rid.parts["name"], "disks": [disk],
                            "machineType": f"zones/{zone}/machineTypes/{desired['machineType']}"}
    if desired.get("guestAccelerators"):
        body["guestAccelerators"] = [
            {"acceleratorType": f"zones/{zone}/acceleratorTypes/{a['acceleratorType']}",
             "acceleratorCount": a["acceleratorCount"]} for a in desired["guestAccelerators"]]
    nic = {k: v for k, v in desired["networkInterfaces"][0].items() if k != "accessConfigs"}
    if desired["networkInterfaces"][0].get("accessConfigs"):
        nic["accessConfigs"] = [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}]
    body["networkInterfaces"] = [nic]
    if desired.get("metadata"):
        body["metadata"] = {"items": [{"key": k, "value": v}
                                      for k, v in sorted(desired["metadata"].items())]}
    if desired.get("tags"):
        body["tags"] = {"items": desired["tags"]}
    for key in ("scheduling", "serviceAccounts", "shieldedInstanceConfig", "minCpuPlatform",
                "labels", "deletionProtection", "description"):
        if key in desired:
            body[key] = copy_json(desired[key])
    return body


def _zone(rid: ResourceId) -> dict[str, str]:
    return {"project": rid.parts["project"], "zone": rid.parts["zone"]}


def _where(rid: ResourceId) -> dict[str, str]:
    return {**_zone(rid), "instance": rid.parts["name"]}



# --- moving in: google_compute_instance attributes (resource_compute_instance.go) ------------

_TF_IMAGE_SHORT = re.compile(r"(?:([a-z][-a-z0-9.:]*[a-z0-9])/)?([-_a-zA-Z0-9]+)")   # P/X or X
_TF_KNOWN = ("name", "zone", "machine_type", "boot_disk", "guest_accelerator", "scheduling",
             "service_account", "network_interface", "shielded_instance_config",
             "min_cpu_platform", "metadata", "metadata_startup_script", "tags", "desired_status",
             "description",
             # computed or Terraform-only
             "current_status", "cpu_platform", "instance_id", "label_fingerprint",
             "metadata_fingerprint", "tags_fingerprint", "allow_stopping_for_update", "hostname")


def _tf_scheduling(s: dict[str, Any], *, gpus: bool) -> dict[str, Any]:
    """``spot``/``scheduling`` from the ``scheduling`` block (the API's fields, snake-cased)."""
    return _live_scheduling({_camel(k): v for k, v in s.items()}, gpus=gpus)


def _tf_network(nics: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    return _first_interface(nics, notes, access="access_config", aliases="alias_ip_range",
                            named="network_interface.alias_ip_range")


def _tf_shielded(c: dict[str, Any]) -> dict[str, Any]:
    return _shielded({_camel(k): v for k, v in c.items()})


# --- moving in: live VMs ----------------------------------------------------------------------

_SHIELDED_DEFAULTS = {"enableSecureBoot": False, "enableVtpm": True,
                      "enableIntegrityMonitoring": True}     # ShieldedInstanceConfig defaults
_WORKBENCH_TAGS = ("deeplearning-vm", "notebook-instance")


def _live_scheduling(s: dict[str, Any], *, gpus: bool) -> dict[str, Any]:
    """``spot``/``scheduling`` from a live ``scheduling``, the inverse of ``_scheduling``:
    what a standard VM gets unasked (MIGRATE - TERMINATE with GPUs -, automatic restart) and
    what ``spot: true`` implies are left out."""
    if s.get("provisioningModel") == "SPOT":
        action = s.get("instanceTerminationAction") or "STOP"
        return {"spot": True, **({"scheduling": {"instanceTerminationAction": action}}
                                 if action != "STOP" else {})}
    out: dict[str, Any] = {}
    if s.get("automaticRestart") is False:
        out["automaticRestart"] = False
    if s.get("onHostMaintenance") == "TERMINATE" and not gpus:
        out["onHostMaintenance"] = "TERMINATE"
    put(out, "instanceTerminationAction", s.get("instanceTerminationAction"))
    return {"scheduling": out} if out else {}


def _live_network(nics: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    return _first_interface(nics, notes, access="accessConfigs", aliases="aliasIpRanges",
                            named="networkInterfaces[0].aliasIpRanges")


def _first_interface(nics: list[dict[str, Any]], notes: list[str], *, access: str,
                     aliases: str, named: str) -> dict[str, Any]:
    """``network``/``subnetwork``/``externalIp`` of the first interface (Terraform's and the
    API's keys differ by ``access``/``aliases``); what the kind cannot hold is noted."""
    if not nics:
        return {}
    nic = nics[0]
    out: dict[str, Any] = {}
    put(out, "network", nic.get("network"))
    put(out, "subnetwork", nic.get("subnetwork"))
    if nic.get(access):
        out["externalIp"] = True
    if len(nics) > 1:
        notes.append(f"{len(nics) - 1} more network interface(s) not carried over")
    if nic.get(aliases):
        notes.append(f"{named} not carried over")
    return out


def _shielded(c: dict[str, Any]) -> dict[str, Any]:
    """Shielded VM settings that differ from ``ShieldedInstanceConfig``'s defaults."""
    return {k: c[k] for k, default in _SHIELDED_DEFAULTS.items() if k in c and c[k] != default}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)

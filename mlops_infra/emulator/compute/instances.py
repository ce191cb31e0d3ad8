"""Compute Engine instances and their boot disks: the stored resources as the server completes
them, the lifecycle, fingerprints and which setters need the instance stopped.

Sources (compute v1 discovery unless named):
- Lifecycle: ``Instance.status``; an instance is ``PROVISIONING`` -> ``STAGING`` -> ``RUNNING``
  while its insert (or start) operation runs, ``STOPPING`` -> ``TERMINATED`` while stopped
  (https://cloud.google.com/compute/docs/instances/instance-life-cycle).
- Stopped-only setters: ``setMachineType`` ("for a stopped instance"), ``setMinCpuPlatform``
  ("can only be called on a stopped instance"), ``setScheduling`` ("only ... on a stopped
  instance, that is, a VM instance that is in a TERMINATED state"), ``setServiceAccount`` and a
  change of guest accelerators or Shielded VM options (https://cloud.google.com/compute/docs/
  access/create-enable-service-accounts-for-instances#changeserviceaccountandscopes,
  .../gpus/add-gpus#add-gpus-to-existing-vm; Terraform stops for them:
  terraform-provider-google resource_compute_instance.go). The rule is Google's; the 400's
  wording ("... must be stopped ...") is ours.
- Fingerprints: ``labelFingerprint``, ``metadata.fingerprint``, ``tags.fingerprint`` and the
  instance ``fingerprint`` (``instances.update``) must be the current ones: a stale or missing
  one is 412 - "Labels fingerprint either invalid or resource labels have changed"
  (googleapis/google-cloud-go#7802), "Supplied fingerprint does not match current metadata
  fingerprint.", "Invalid fingerprint." (clients.md e; Terraform retries them).
- GPUs: "Instances with guest accelerators do not support live migration." unless
  ``scheduling.onHostMaintenance`` is ``TERMINATE`` (https://cloud.google.com/compute/docs/gpus/
  create-vm-with-gpus: "GPU VMs ... must be set to terminate on host maintenance").
- Scheduling defaults: ``onHostMaintenance: MIGRATE`` and ``automaticRestart: true`` for standard
  VMs, ``TERMINATE``/``false`` for spot and preemptible ones (``Scheduling`` descriptions);
  ``provisioningModel: STANDARD``; spot VMs stop when preempted (``instanceTerminationAction``
  "STOP ... default action").
- Shielded VM defaults: secure boot off, vTPM and integrity monitoring on
  (``ShieldedInstanceConfig``).
- Boot disk: created from ``initializeParams`` (named after the instance), its size defaulting
  to the image's, its type to ``pd-standard`` (https://cloud.google.com/compute/docs/disks#disk-types);
  ``autoDelete`` (default false in the API) deletes it with the instance; with CMEK, the disk's
  ``diskEncryptionKey.kmsKeyName`` names the key version used (``.../cryptoKeyVersions/1``).
- Network interfaces: ``nic0`` with an address of the subnetwork; an external address only
  when an ``accessConfigs`` entry asks for one (``ONE_TO_ONE_NAT``, "External NAT", PREMIUM).
- Deletion protection: "Resource cannot be deleted if it's protected against deletion."
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
from typing import Any

from mlops_infra.emulator.compute.common import (
    check_name,
    invalid,
    project_url,
    regional_url,
    timestamp,
    zonal_url,
    zone_url,
)
from mlops_infra.emulator.core import HttpError

SCOPE_ROOT = "https://www.googleapis.com/auth/"
_GPU_LIVE_MIGRATION = "Instances with guest accelerators do not support live migration."


def digest(value: Any) -> str:
    raw = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()[:8]
    return base64.b64encode(raw).decode()


def refingerprint(instance: dict[str, Any]) -> dict[str, Any]:
    instance["labelFingerprint"] = digest(instance.get("labels") or {})
    metadata = instance.setdefault("metadata", {"kind": "compute#metadata"})
    metadata["fingerprint"] = digest(metadata.get("items") or [])
    tags = instance.setdefault("tags", {})
    tags["fingerprint"] = digest(tags.get("items") or [])
    instance["fingerprint"] = digest({k: v for k, v in instance.items()
                                      if k not in ("fingerprint", "status", "transition")})
    return instance


def short(link: Any) -> str:
    return str(link or "").rstrip("/").rsplit("/", 1)[-1]


def new_instance(body: dict[str, Any], *, project: str, zone: str, number: int,
                 subnet: dict[str, Any] | None, network_link: str) -> dict[str, Any]:
    """The stored instance (its boot disk is made by the service from ``disks[0]``)."""
    name = check_name(body.get("name"))
    if not body.get("machineType"):
        raise invalid("Invalid value for field 'resource.machineType': ''. Machine type must be "
                      "specified.")
    instance = copy.deepcopy(body)
    instance.update(kind="compute#instance", id=str(8_000_000_000_000 + number),
                    creationTimestamp=timestamp(), zone=zone_url(project, zone),
                    selfLink=zonal_url(project, zone, "instances", name),
                    machineType=zonal_url(project, zone, "machineTypes", short(body["machineType"])),
                    cpuPlatform="Intel Broadwell", startRestricted=False,
                    lastStartTimestamp=timestamp())
    instance.setdefault("deletionProtection", False)
    instance["guestAccelerators"] = [
        {"acceleratorType": zonal_url(project, zone, "acceleratorTypes", short(a.get("acceleratorType"))),
         "acceleratorCount": int(a.get("acceleratorCount") or 1)}
        for a in body.get("guestAccelerators") or []]
    if not instance["guestAccelerators"]:
        del instance["guestAccelerators"]
    instance["scheduling"] = scheduling(body.get("scheduling") or {},
                                        gpus=bool(body.get("guestAccelerators")))
    instance["shieldedInstanceConfig"] = {"enableSecureBoot": False, "enableVtpm": True,
                                          "enableIntegrityMonitoring": True,
                                          **(body.get("shieldedInstanceConfig") or {})}
    instance["networkInterfaces"] = [_nic(nic, i, project=project, subnet=subnet,
                                          network_link=network_link, number=number)
                                     for i, nic in enumerate(body.get("networkInterfaces") or [{}])]
    instance["serviceAccounts"] = [service_account(sa, project) for sa in
                                   body.get("serviceAccounts") or []]
    if not instance["serviceAccounts"]:
        del instance["serviceAccounts"]
    instance["metadata"] = {"kind": "compute#metadata",
                            **({"items": body["metadata"]["items"]}
                               if (body.get("metadata") or {}).get("items") else {})}
    instance["tags"] = {"items": sorted(set((body.get("tags") or {}).get("items") or []))} \
        if (body.get("tags") or {}).get("items") else {}
    return refingerprint(instance)


def scheduling(given: dict[str, Any], *, gpus: bool) -> dict[str, Any]:
    """Scheduling with Compute's defaults; GPUs and spot VMs cannot live-migrate."""
    out = copy.deepcopy(given)
    spot = out.get("provisioningModel") == "SPOT" or bool(out.get("preemptible"))
    out.setdefault("provisioningModel", "SPOT" if out.get("provisioningModel") == "SPOT" else "STANDARD")
    out.setdefault("preemptible", False)
    out.setdefault("onHostMaintenance", "TERMINATE" if spot else "MIGRATE")
    out.setdefault("automaticRestart", not spot)
    if out["provisioningModel"] == "SPOT":
        out.setdefault("instanceTerminationAction", "STOP")
    if spot and (out["onHostMaintenance"] != "TERMINATE" or out["automaticRestart"]):
        raise invalid("Scheduling must have preemptible be false when OnHostMaintenance isn't "
                      "TERMINATE.")
    if gpus and out["onHostMaintenance"] != "TERMINATE":
        raise invalid(_GPU_LIVE_MIGRATION)
    return out


def service_account(given: dict[str, Any], project: str) -> dict[str, Any]:
    from mlops_infra.emulator.projects import project_number

    email = given.get("email") or "default"
    if email == "default":
        email = f"{project_number(project)}-compute@developer.gserviceaccount.com"
    scopes = [s if s.startswith("https://") else SCOPE_ROOT + s for s in given.get("scopes") or []]
    return {"email": email, "scopes": scopes}


def _nic(nic: dict[str, Any], index: int, *, project: str, subnet: dict[str, Any] | None,
         network_link: str, number: int) -> dict[str, Any]:
    out = copy.deepcopy(nic)
    out.update(kind="compute#networkInterface", name=f"nic{index}", network=network_link,
               stackType="IPV4_ONLY")
    if subnet is not None:
        out["subnetwork"] = subnet["selfLink"]
        base = ipaddress.ip_network(subnet["ipCidrRange"]).network_address
        out.setdefault("networkIP", str(base + 2 + number % 200))
    else:
        out.setdefault("networkIP", f"10.128.0.{2 + number % 200}")
    configs = []
    for config in nic.get("accessConfigs") or []:
        configs.append({"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT",
                        "name": config.get("name") or "External NAT",
                        "natIP": config.get("natIP") or f"35.{number % 250}.{index}.{10 + number % 200}",
                        "networkTier": config.get("networkTier") or "PREMIUM"})
    if configs:
        out["accessConfigs"] = configs
    else:
        out.pop("accessConfigs", None)
    out["fingerprint"] = digest(out)
    return out


def new_disk(params: dict[str, Any], *, instance: str, project: str, zone: str, number: int,
             image: dict[str, Any]) -> dict[str, Any]:
    """The boot disk ``initializeParams`` describe (before its image is resolved: ``image``)."""
    name = params.get("diskName") or instance
    disk_type = short(params.get("diskType") or "pd-standard")
    size = int(params.get("diskSizeGb") or image["diskSizeGb"])
    if size < int(image["diskSizeGb"]):
        raise invalid(f"Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb': "
                      f"'{size}'. Requested disk size cannot be smaller than the image size "
                      f"({image['diskSizeGb']} GB).")
    disk: dict[str, Any] = {
        "kind": "compute#disk", "id": str(9_000_000_000_000 + number), "name": name,
        "zone": zone_url(project, zone), "selfLink": zonal_url(project, zone, "disks", name),
        "sizeGb": str(size), "type": zonal_url(project, zone, "diskTypes", disk_type),
        "sourceImage": image["selfLink"], "sourceImageId": image["id"], "status": "READY",
        "creationTimestamp": timestamp(), "physicalBlockSizeBytes": "4096",
        "users": [zonal_url(project, zone, "instances", instance)],
        "labelFingerprint": digest(params.get("labels") or {})}
    if params.get("labels"):
        disk["labels"] = dict(params["labels"])
    return disk


def attached(disk: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """How the instance shows its boot disk."""
    out = {"kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": "READ_WRITE",
           "source": disk["selfLink"], "deviceName": given.get("deviceName") or "persistent-disk-0",
           "index": 0, "boot": True, "autoDelete": bool(given.get("autoDelete", False)),
           "interface": "SCSI", "diskSizeGb": disk["sizeGb"], "architecture": "X86_64"}
    if "diskEncryptionKey" in disk:
        out["diskEncryptionKey"] = copy.deepcopy(disk["diskEncryptionKey"])
    return out


def check_fingerprint(given: Any, current: str, message: str) -> None:
    if not given or given != current:
        raise HttpError(412, message, reason="conditionNotMet")


def require_stopped(instance: dict[str, Any], status: str, what: str) -> None:
    if status != "TERMINATED":
        raise invalid(f"Instance '{instance['name']}' is {status.lower()}: it must be stopped "
                      f"(TERMINATED) before {what}.", reason="resourceNotReady")


def regional_subnet_link(project: str, region: str, name: str) -> str:
    return regional_url(project, region, "subnetworks", name)


def default_network(project: str) -> str:
    return f"{project_url(project)}/global/networks/default"


GPU_LIVE_MIGRATION = _GPU_LIVE_MIGRATION

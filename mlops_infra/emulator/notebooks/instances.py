"""Workbench instances (notebooks v2 ``Instance``): what a create stores, what the server adds,
and what an update may change in which state.

| behaviour | source |
|---|---|
| locations are zones; the instance id is a Compute Engine name (RFC 1035, at most 63) | notebooks v2 discovery (``projects.locations.instances``; Workbench instances are Compute Engine VMs); research/clients.md section d |
| names carry the project **id** (``projects/{project_id}/locations/{zone}/instances/{id}``) | notebooks v2 discovery ``Instance.name`` |
| input-only fields are never returned: ``instanceOwners``, the disks' ``diskEncryption`` and ``kmsKey``, a data disk's ``diskType`` | googleapis google/cloud/notebooks/v2 instance.proto and gce_setup.proto (``field_behavior = INPUT_ONLY``) |
| ``vmImage`` is not read back | magic-modules workbench_instance_vm_image_flatten.go.tmpl (Terraform keeps the configured value) |
| the server writes ``machineType``, ``network`` and ``subnet`` back as full Compute URLs | magic-modules Instance.yaml (``name_from_self_link`` flatten, ``CompareSelfLinkRelativePaths``) |
| defaults: machine ``e2-standard-4``, a 150 GB boot disk, one 100 GB data disk, the Compute default service account with the cloud-platform scope, vTPM and integrity monitoring on, secure boot off | discovery ``BootDisk``/``DataDisk`` ("defaults to 150G" / "100"), magic-modules Instance.yaml (``ShieldedInstanceConfig`` descriptions, ``serviceAccounts.scopes`` "Set by the CLH to .../cloud-platform"); the Workbench console's default machine type |
| the server adds the ``deeplearning-vm`` and ``notebook-instance`` tags and dozens of metadata keys of its own | magic-modules workbench_instance.go.tmpl (``WorkbenchInstanceProvidedTags``, ``WorkbenchInstanceProvidedMetadata``, ``metadataDefaults``); hashicorp/terraform-provider-google#18827, #21585 |
| one data disk, one network interface, one service account, one accelerator configuration | discovery ``GceSetup`` ("Currently supports only one") |
| the update mask names leaves (``gceSetup`` alone is refused); machine type, accelerators, shielded VM settings, the container image and restart-required metadata keys change only while the instance is STOPPED | discovery ``instances.patch`` (the updatable fields); research/clients.md section e; magic-modules pre_update/workbench_instance.go.tmpl (what Terraform stops the instance for) |
| ``disablePublicIp`` and ``disableProxyAccess`` can only be turned on by an update | discovery ``instances.patch`` ("one-way on update ... rejected with INVALID_ARGUMENT") |
| a metadata update replaces the user's keys; a key sent with an empty value is removed; the server's own keys stay | magic-modules post_update (``mergeMaps``: removed keys are sent as "") |
| a CMEK disk needs the Compute Engine service agent ``service-NUMBER@compute-system.iam.gserviceaccount.com`` to be able to use a key of the zone's region (or ``global``) | the Workbench CMEK guide (the boot and data disks are Compute Engine disks); Compute Engine's CMEK error text |
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.projects import project_number

COMPUTE = "https://www.googleapis.com/compute/v1/"
ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
INSTANCE_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
COMPUTE_AGENT = "service-{number}@compute-system.iam.gserviceaccount.com"
DEFAULT_MACHINE = "e2-standard-4"
PROVIDED_TAGS = ("deeplearning-vm", "notebook-instance")
# A sample of WorkbenchInstanceProvidedMetadata with the values a new instance shows, plus
# metadataDefaults (magic-modules workbench_instance.go.tmpl).
PROVIDED_METADATA = {
    "enable-jupyterlab4": "true", "new-proxy-agent-enabled": "true", "framework": "workbench",
    "notebooks-api": "PROD", "notebooks-api-version": "v2", "proxy-mode": "service_account",
    "proxy-registration-url": "https://datalab-us-west1.cloud.google.com/tun/m/4592f092208ecc84946b8f8f8016274df1b36a14",
    "report-system-health": "true", "restriction": "", "shutdown-script": "/opt/deeplearning/bin/shutdown_script.sh",
    "title": "workbench", "version": "158", "disable-swap-binaries": "true",
    "enable-guest-attributes": "TRUE", "enable-oslogin": "TRUE",
    "install-monitoring-agent": "true", "serial-port-logging-enable": "true",
}
RESTART_KEYS = frozenset({"disable-mixer", "notebook-disable-terminal", "notebook-disable-downloads",
                          "notebook-disable-nbconvert", "notebook-disable-root",
                          "enable-jupyterlab4-preview", "enable-jupyterlab4", "geminicli-disabled",
                          "geminicli-tc-accepted"})
UPDATABLE = frozenset({
    "labels", "gceSetup.minCpuPlatform", "gceSetup.metadata", "gceSetup.machineType",
    "gceSetup.acceleratorConfigs", "gceSetup.gpuDriverConfig", "gceSetup.shieldedInstanceConfig",
    "gceSetup.reservationAffinity", "gceSetup.tags", "gceSetup.containerImage",
    "gceSetup.disablePublicIp", "disableProxyAccess", "enableDeletionProtection",
    "gceSetup.dataDisks.resourcePolicies"})
NEEDS_STOPPED = ("gceSetup.machineType", "gceSetup.acceleratorConfigs",
                 "gceSetup.shieldedInstanceConfig", "gceSetup.containerImage")
ONE_WAY = ("gceSetup.disablePublicIp", "disableProxyAccess")
_OUTPUT_ONLY = ("name", "proxyUri", "creator", "state", "upgradeHistory", "id", "healthState",
                "healthInfo", "createTime", "updateTime", "thirdPartyProxyUrl", "satisfiesPzs",
                "satisfiesPzi")
_DISK_TYPES = ("DISK_TYPE_UNSPECIFIED", "PD_STANDARD", "PD_SSD", "PD_BALANCED", "PD_EXTREME",
               "HYPERDISK_BALANCED", "HYPERDISK_EXTREME", "HYPERDISK_THROUGHPUT",
               "HYPERDISK_BALANCED_HIGH_AVAILABILITY", "HYPERDISK_ML")
_ENCRYPTIONS = ("DISK_ENCRYPTION_UNSPECIFIED", "GMEK", "CMEK")
_NIC_TYPES = ("NIC_TYPE_UNSPECIFIED", "VIRTIO_NET", "GVNIC")
_ACCELERATORS = ("ACCELERATOR_TYPE_UNSPECIFIED", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_V100",
                 "NVIDIA_TESLA_P4", "NVIDIA_TESLA_T4", "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB",
                 "NVIDIA_L4", "NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB",
                 "NVIDIA_TESLA_T4_VWS", "NVIDIA_TESLA_P100_VWS", "NVIDIA_TESLA_P4_VWS", "NVIDIA_B200",
                 "NVIDIA_RTX6000")   # the AcceleratorConfig.type enum of the discovery, in order
_KEY = re.compile(r"^projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+$")
_NETWORK = re.compile(r"^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/global/networks/([^/]+)$")
_SUBNET = re.compile(r"^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/regions/([^/]+)/subnetworks/([^/]+)$")


def invalid(message: str) -> HttpError:
    return HttpError(400, message, status="INVALID_ARGUMENT")


def _enum(value: Any, names: tuple[str, ...], field: str) -> Any:
    """The enum's name (the REST client sends numbers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < len(names):
            raise invalid(f"Invalid value for {field}: {value}")
        return names[value]
    if value is not None and value not in names:
        raise invalid(f"Invalid value for {field}: {value!r}")
    return value


def new_instance(body: dict[str, Any], *, name: str, project: str, zone: str, caller: str,
                 now: str, key_error: Any) -> dict[str, Any]:
    """The stored instance for a create ``body`` (input-only fields dropped, defaults added)."""
    instance = {k: v for k, v in body.items() if k not in _OUTPUT_ONLY and k != "instanceOwners"}
    owners = body.get("instanceOwners") or []
    if len(owners) > 1:
        raise invalid("instance_owners currently supports one owner only")
    instance["gceSetup"] = _gce_setup(dict(body.get("gceSetup") or {}), project=project, zone=zone,
                                      key_error=key_error)
    _check_labels(instance.get("labels"))
    return {**instance, "name": name, "id": str(uuid.uuid4()), "creator": caller,
            "state": "PROVISIONING", "createTime": now, "updateTime": now,
            "proxyUri": f"{secrets.token_hex(8)}-dot-{ZONE.match(zone).group(1)}"   # type: ignore[union-attr]
                        ".notebooks.googleusercontent.com"}


def _gce_setup(setup: dict[str, Any], *, project: str, zone: str, key_error: Any) -> dict[str, Any]:
    region = ZONE.match(zone).group(1)   # type: ignore[union-attr]
    for single in ("dataDisks", "networkInterfaces", "serviceAccounts", "acceleratorConfigs"):
        if len(setup.get(single) or []) > 1:
            raise invalid(f"gce_setup.{single}: currently supports only one")
    setup["machineType"] = machine_url(setup.get("machineType") or DEFAULT_MACHINE,
                                       project=project, zone=zone)
    setup["bootDisk"] = _disk(setup.get("bootDisk") or {}, size="150", boot=True, region=region,
                              key_error=key_error)
    setup["dataDisks"] = [_disk((setup.get("dataDisks") or [{}])[0], size="100", boot=False,
                                region=region, key_error=key_error)]
    setup["networkInterfaces"] = [_interface(i, project=project)
                                  for i in (setup.get("networkInterfaces") or [{}])]
    setup["serviceAccounts"] = [{
        "email": ((setup.get("serviceAccounts") or [{}])[0].get("email")
                  or f"{project_number(project)}-compute@developer.gserviceaccount.com"),
        "scopes": ["https://www.googleapis.com/auth/cloud-platform",
                   "https://www.googleapis.com/auth/userinfo.email"]}]
    setup["acceleratorConfigs"] = [_accelerator(a) for a in setup.get("acceleratorConfigs") or []]
    if not setup["acceleratorConfigs"]:
        del setup["acceleratorConfigs"]
    setup["shieldedInstanceConfig"] = {"enableVtpm": True, "enableIntegrityMonitoring": True,
                                       **(setup.get("shieldedInstanceConfig") or {})}
    setup["tags"] = sorted(set(setup.get("tags") or []) | set(PROVIDED_TAGS))
    setup["metadata"] = {**_user_metadata(setup.get("metadata") or {}), **PROVIDED_METADATA}
    setup.pop("vmImage", None)                 # not read back
    setup["instanceId"] = str(10 ** 18 + secrets.randbelow(9 * 10 ** 18))
    return setup


def _disk(disk: dict[str, Any], *, size: str, boot: bool, region: str, key_error: Any
          ) -> dict[str, Any]:
    encryption = _enum(disk.get("diskEncryption"), _ENCRYPTIONS, "disk_encryption")
    key = disk.get("kmsKey")
    if encryption == "CMEK" and not key:
        raise invalid("kms_key is required when disk_encryption is CMEK")
    if key:
        if encryption != "CMEK":
            raise invalid("kms_key is only applicable if disk_encryption is CMEK")
        match = _KEY.match(key)
        if match is None or match.group(1) not in (region, "global"):
            raise invalid(f"Invalid kms_key {key!r}: the key must be in region {region} or global")
        problem = key_error(key)
        if problem is not None:
            raise problem
    out: dict[str, Any] = {"diskSizeGb": str(disk.get("diskSizeGb") or size)}
    if boot:
        out["diskType"] = _enum(disk.get("diskType"), _DISK_TYPES, "disk_type") or "PD_BALANCED"
    if disk.get("resourcePolicies"):
        out["resourcePolicies"] = list(disk["resourcePolicies"])
    return out


def _interface(interface: dict[str, Any], *, project: str) -> dict[str, Any]:
    network = interface.get("network") or f"projects/{project}/global/networks/default"
    match = _NETWORK.match(network)
    if match is None:
        raise invalid(f"Invalid network {network!r}: expected projects/P/global/networks/N")
    out = {"network": f"{COMPUTE}projects/{match.group(1)}/global/networks/{match.group(2)}"}
    if interface.get("subnet"):
        sub = _SUBNET.match(interface["subnet"])
        if sub is None:
            raise invalid(f"Invalid subnet {interface['subnet']!r}: expected "
                          "projects/P/regions/R/subnetworks/S")
        out["subnet"] = f"{COMPUTE}projects/{sub.group(1)}/regions/{sub.group(2)}/subnetworks/{sub.group(3)}"
    if interface.get("nicType"):
        out["nicType"] = _enum(interface["nicType"], _NIC_TYPES, "nic_type")
    if interface.get("accessConfigs"):
        out["accessConfigs"] = interface["accessConfigs"]
    return out


def _accelerator(config: dict[str, Any]) -> dict[str, Any]:
    return {"type": _enum(_accelerator_name(config.get("type")), _ACCELERATORS,
                          "accelerator_configs.type"),
            "coreCount": str(config.get("coreCount") or 1)}


def _accelerator_name(value: Any) -> Any:
    """The name of the number the REST client sends: ``AcceleratorType``'s numbers are sparse
    (``NVIDIA_TESLA_T4 = 5``, ``NVIDIA_TESLA_A100 = 11``: googleapis
    google/cloud/notebooks/v2/gce_setup.proto), not the discovery's order, so they are read
    with the installed client's enum."""
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    from google.cloud.notebooks_v2 import AcceleratorConfig

    try:
        return AcceleratorConfig.AcceleratorType(value).name
    except ValueError:
        raise invalid(f"Invalid value for accelerator_configs.type: {value}") from None


def machine_url(value: str, *, project: str, zone: str) -> str:
    leaf = value.rsplit("/", 1)[-1]
    return f"{COMPUTE}projects/{project}/zones/{zone}/machineTypes/{leaf}"


def _user_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """The caller's keys, without those sent empty (removed) and without the server's own."""
    return {k: str(v) for k, v in metadata.items() if v != "" and k not in PROVIDED_METADATA}


def _check_labels(labels: Any) -> None:
    for key, value in (labels or {}).items():
        if key != key.lower() or not re.fullmatch(r"[a-z][\w-]{0,62}", key) \
                or not re.fullmatch(r"[\w-]{0,63}", str(value)) or str(value) != str(value).lower():
            raise invalid(f"Invalid label {key}={value!r}")


# --- updates ---------------------------------------------------------------------------------

def check_update(stored: dict[str, Any], body: dict[str, Any], paths: list[str]) -> None:
    """400s of an update: a mask that is not a leaf the API updates, a change that needs the
    instance STOPPED while it is not, a one-way field turned back off."""
    if not paths:
        raise invalid("update_mask is required")
    for path in paths:
        if not any(path == u or path.startswith(u + ".") for u in UPDATABLE):
            raise invalid(f"Invalid update_mask path: {path}")
        for one_way in ONE_WAY:
            if path == one_way and not _at(body, path):
                raise invalid(f"{path} can only be set to true by an update")
    needs = [p for p in paths if p.startswith(NEEDS_STOPPED)]
    if "gceSetup.metadata" in paths and _restart_keys_change(stored, body):
        needs.append("gceSetup.metadata (restart-required keys)")
    if needs and stored.get("state") != "STOPPED":
        raise HttpError(400, f"Instance {stored['name']} must be STOPPED to update "
                             f"{', '.join(needs)}; it is {stored.get('state')}",
                        status="FAILED_PRECONDITION")


def _restart_keys_change(stored: dict[str, Any], body: dict[str, Any]) -> bool:
    before = (stored.get("gceSetup") or {}).get("metadata") or {}
    after = ((body.get("gceSetup") or {}).get("metadata") or {})
    return any(before.get(k) != after.get(k) for k in RESTART_KEYS
               if k in after or (k in before and k not in PROVIDED_METADATA))


def apply_update(stored: dict[str, Any], body: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``stored`` with the masked fields of ``body`` (the server's forms and keys kept)."""
    out = dict(stored)
    setup = dict(out.get("gceSetup") or {})
    given = body.get("gceSetup") or {}
    parts = stored["name"].split("/")
    for path in paths:
        if path == "labels":
            _check_labels(body.get("labels"))
            out["labels"] = dict(body.get("labels") or {})
        elif path in ("disableProxyAccess", "enableDeletionProtection"):
            out[path] = bool(body.get(path))
        elif path == "gceSetup.machineType":
            setup["machineType"] = machine_url(given["machineType"], project=parts[1], zone=parts[3])
        elif path == "gceSetup.metadata":
            setup["metadata"] = {**_user_metadata(given.get("metadata") or {}), **PROVIDED_METADATA}
        elif path.startswith("gceSetup.acceleratorConfigs"):
            setup["acceleratorConfigs"] = [_accelerator(a) for a in given.get("acceleratorConfigs") or []]
        elif path == "gceSetup.tags":
            setup["tags"] = sorted(set(given.get("tags") or []) | set(PROVIDED_TAGS))
        elif path == "gceSetup.dataDisks.resourcePolicies":
            disk = dict(setup["dataDisks"][0])
            disk["resourcePolicies"] = list(((given.get("dataDisks") or [{}])[0]).get("resourcePolicies") or [])
            setup["dataDisks"] = [disk]
        else:
            _set_leaf(setup, path.split(".", 1)[1], _at(body, path))
    out["gceSetup"] = {k: v for k, v in setup.items() if v not in (None, [])}
    return out


def _at(body: dict[str, Any], path: str) -> Any:
    node: Any = body
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _set_leaf(target: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        target[key] = dict(target.get(key) or {})
        target = target[key]
    if value is None:
        target.pop(keys[-1], None)
    else:
        target[keys[-1]] = value


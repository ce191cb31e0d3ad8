"""Routes of Compute Engine instances, their boot disks, public images and zone operations
(a mixin of ``ComputeService``; the rules and their sources are in ``instances.py`` and
``images.py``).

An instance's change is visible when its request is served; its ``status`` follows the
operation (``PROVISIONING``/``STAGING`` while an insert or start runs, ``STOPPING`` while a
stop runs). Instance operations last ``Delays.operation_for("compute.instance")``. Deleting an
instance deletes its disks marked ``autoDelete``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator import operations as clock
from mlops_infra.emulator.compute import images, instances
from mlops_infra.emulator.compute.common import (
    already_exists,
    body_object,
    global_url,
    not_found,
    project_url,
    zonal_url,
)
from mlops_infra.emulator.core import Deferred, HttpError, Request
from mlops_infra.emulator.projects import project_number
from mlops_infra.emulator.util import int_param, page

STOPPED_ONLY = {"setMachineType": "its machine type can change",
                "setServiceAccount": "its service account can change",
                "setMinCpuPlatform": "its minimum CPU platform can change",
                "setScheduling": "its scheduling can change",
                "updateShieldedInstanceConfig": "its Shielded VM options can change"}
COMPUTE_AGENT = "service-{number}@compute-system.iam.gserviceaccount.com"


class VmRoutes:
    """Instances, disks, images and zone operations; mixed into ``ComputeService``."""

    state: dict[str, Any]
    emulator: Any
    _project: Callable[[Request], dict[str, Any]]
    _next: Callable[[], int]
    _list: Callable[..., dict[str, Any]]

    # -- state ------------------------------------------------------------------------------
    def _zone(self, request: Request, collection: str) -> dict[str, Any]:
        return self._project(request).setdefault(collection, {}).setdefault(
            request.params["zone"], {})

    def _images(self) -> dict[str, dict[str, Any]]:
        if "images" not in self.state:
            self.state["images"] = images.initial_images()
        return self.state["images"]  # type: ignore[no-any-return]

    def add_image(self, project: str, name: str, *, family: str | None = None,
                  size_gb: int = 10) -> dict[str, Any]:
        """Knob: publish an image (a newer member of a family, as Google does)."""
        image = images.new_image(project, name, family, size_gb, self._next())
        image["creationTimestamp"] = f"9{image['creationTimestamp']}"   # sorts after the others
        self._images().setdefault(project, {})[name] = image
        return image

    def _zone_operation(self, request: Request, *, kind: str, link: str, target_id: str | None,
                        error: HttpError | None = None) -> dict[str, Any]:
        from mlops_infra.emulator.compute import operations

        zone = request.params["zone"]
        store = self._project(request)["operations"].setdefault(f"zone:{zone}", {})
        duration = self.emulator.delays.operation_for("compute.instance") if self.emulator else 0.0
        return operations.start(store, project=request.params["project"], region=None, zone=zone,
                                number=self._next(), operation_type=kind, target_link=link,
                                target_id=target_id, error=error, duration=duration)

    def get_zone_operation(self, request: Request) -> dict[str, Any]:
        from mlops_infra.emulator.compute import operations

        return operations.view(self._zone_operation_record(request))

    def wait_zone_operation(self, request: Request) -> dict[str, Any] | Deferred:
        from mlops_infra.emulator.compute import operations

        record = self._zone_operation_record(request)
        deadline = self.emulator.delays.operation_wait if self.emulator else 0.0
        until = min(operations.done_time(record), time.time() + deadline)
        if until <= time.time():
            return operations.view(record)
        return Deferred(until=until, then=lambda: operations.view(record))

    def _zone_operation_record(self, request: Request) -> dict[str, Any]:
        zone, name = request.params["zone"], request.params["operation"]
        record = self._project(request)["operations"].get(f"zone:{zone}", {}).get(name)
        if record is None:
            raise not_found(zonal_url(request.params["project"], zone, "operations", name))
        return record  # type: ignore[no-any-return]

    # -- images --------------------------------------------------------------------------------
    def get_image(self, request: Request) -> dict[str, Any]:
        project, name = request.params["project"], request.params["image"]
        found = self._images().get(project, {}).get(name)
        if found is None:
            raise not_found(global_url(project, "images", name))
        return dict(found)

    def get_image_from_family(self, request: Request) -> dict[str, Any]:
        project = request.params["project"]
        try:
            return dict(images.resolve(f"projects/{project}/global/images/family/"
                                       f"{request.params['family']}", project=project,
                                       images=self._images(), field="family"))
        except HttpError:
            raise not_found(global_url(project, "images", f"family/{request.params['family']}")) \
                from None

    def list_images(self, request: Request) -> dict[str, Any]:
        return self._list(request, self._images().get(request.params["project"], {}).values(),
                          kind="compute#imageList", collection="global/images")

    # -- disks ---------------------------------------------------------------------------------
    def get_disk(self, request: Request) -> dict[str, Any]:
        found = self._zone(request, "disks").get(request.params["disk"])
        if found is None:
            raise not_found(zonal_url(request.params["project"], request.params["zone"], "disks",
                                      request.params["disk"]))
        return dict(found)

    # -- managed instance groups of GKE node pools ---------------------------------------------
    def get_instance_group_manager(self, request: Request) -> dict[str, Any]:
        """Only the groups GKE makes for node pools exist here (the emulated container service
        owns them; their ``targetSize`` is the pool's size per zone)."""
        project, zone = request.params["project"], request.params["zone"]
        name = request.params["instanceGroupManager"]
        gke = self.emulator.services.get("container") if self.emulator is not None else None
        found = gke.instance_group(project, zone, name) if gke is not None else None  # type: ignore[attr-defined]
        if found is None:
            raise not_found(zonal_url(project, zone, "instanceGroupManagers", name))
        return dict(found)

    def list_disks(self, request: Request) -> dict[str, Any]:
        return self._list(request, self._zone(request, "disks").values(),
                          kind="compute#diskList", collection=f"zones/{request.params['zone']}/disks")

    # -- instances -----------------------------------------------------------------------------
    def _status(self, record: dict[str, Any]) -> str:
        transition = record.get("transition")
        if transition and not clock.is_done(transition["until"]):
            return str(transition["status"])
        return str(record["status"])

    def _instance_view(self, record: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in record.items() if k != "transition"}
        out["status"] = self._status(record)
        return out

    def _instance(self, request: Request) -> dict[str, Any]:
        name = request.params.get("instance") or request.params["resource"]
        found = self._zone(request, "instances").get(name)
        if found is None:
            raise not_found(zonal_url(request.params["project"], request.params["zone"],
                                      "instances", name))
        return found  # type: ignore[no-any-return]

    def list_instances(self, request: Request) -> dict[str, Any]:
        views = [self._instance_view(r) for r in self._zone(request, "instances").values()]
        return self._list(request, views, kind="compute#instanceList",
                          collection=f"zones/{request.params['zone']}/instances")

    def aggregated_instances(self, request: Request) -> dict[str, Any]:
        """``instances.aggregatedList``: every zone's instances in one paged answer, keyed by
        ``zones/ZONE`` (compute v1 discovery ``InstanceAggregatedList``); a zone the project
        used that holds none carries the ``NO_RESULTS_ON_PAGE`` warning, as Google's scopes do
        (https://cloud.google.com/compute/docs/reference/rest/v1/instances/aggregatedList).
        ``filter`` is ignored, like the zonal list's."""
        project = request.params["project"]
        zones = self._project(request).get("instances", {})
        every = [(zone, record["name"], record) for zone, records in zones.items()
                 for record in records.values()]
        chosen, token = page(every, key=lambda item: [item[0], item[1]],
                             max_results=int_param(request.query, "maxResults"),
                             token=request.query.get("pageToken"), default_size=500)
        items: dict[str, Any] = {
            f"zones/{zone}": {"warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": "There are no results for scope 'zones/" + zone + "' on this page.",
                "data": [{"key": "scope", "value": f"zones/{zone}"}]}}
            for zone in sorted(zones)}
        for zone, _, record in chosen:
            items[f"zones/{zone}"].pop("warning", None)
            items[f"zones/{zone}"].setdefault("instances", []).append(self._instance_view(record))
        result: dict[str, Any] = {"kind": "compute#instanceAggregatedList",
                                  "id": f"projects/{project}/aggregated/instances",
                                  "selfLink": f"{project_url(project)}/aggregated/instances",
                                  "items": items}
        if token:
            result["nextPageToken"] = token
        return result

    def get_instance(self, request: Request) -> dict[str, Any]:
        return self._instance_view(self._instance(request))

    def insert_instance(self, request: Request) -> dict[str, Any]:
        project, zone = request.params["project"], request.params["zone"]
        body = body_object(request)
        existing = self._zone(request, "instances")
        link = zonal_url(project, zone, "instances", str(body.get("name")))
        if body.get("name") in existing:
            raise already_exists(link)
        boot = self._boot_spec(body)
        image = images.resolve(boot.get("initializeParams", {}).get("sourceImage"), project=project,
                               images=self._images(),
                               field="resource.disks[0].initializeParams.sourceImage")
        nic = (body.get("networkInterfaces") or [{}])[0]
        network, subnet, missing = self._nic_refs(request, nic)
        number = self._next()
        instance = instances.new_instance(body, project=project, zone=zone, number=number,
                                          subnet=subnet, network_link=network)
        disk = instances.new_disk(boot.get("initializeParams") or {}, instance=instance["name"],
                                  project=project, zone=zone, number=number, image=image)
        if disk["name"] in self._zone(request, "disks"):
            raise already_exists(disk["selfLink"])
        self._encrypt(project, disk, boot)
        if missing:
            return self._zone_operation(request, kind="insert", link=link, target_id=None,
                                        error=not_found(missing))
        instance["disks"] = [instances.attached(disk, boot)]
        instances.refingerprint(instance)
        op = self._zone_operation(request, kind="insert", link=link, target_id=instance["id"])
        instance["status"] = "RUNNING"
        instance["transition"] = {"status": "STAGING", "until": self._done(request, op)}
        existing[instance["name"]] = instance
        self._zone(request, "disks")[disk["name"]] = disk
        return op

    def _done(self, request: Request, op: dict[str, Any]) -> float:
        store = self._project(request)["operations"][f"zone:{request.params['zone']}"]
        return float(store[op["name"]]["doneAt"])

    def _boot_spec(self, body: dict[str, Any]) -> dict[str, Any]:
        disks = body.get("disks") or []
        boots = [d for d in disks if d.get("boot")] or disks[:1]
        if len(disks) != 1 or not boots or not (boots[0].get("initializeParams") or {}).get("sourceImage"):
            raise HttpError(400, "Invalid value for field 'resource.disks': this emulator creates "
                                 "instances with one boot disk made from an image "
                                 "(initializeParams.sourceImage).", reason="invalid")
        return dict(boots[0])

    def _nic_refs(self, request: Request, nic: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
        """The interface's network URL, its subnetwork (if any) and what is missing."""
        project, zone = request.params["project"], request.params["zone"]
        region = zone.rsplit("-", 1)[0]
        sub_name = instances.short(nic.get("subnetwork")) if nic.get("subnetwork") else None
        subnet = self._project(request)["subnetworks"].get(region, {}).get(sub_name) if sub_name else None
        if sub_name and subnet is None:
            return instances.default_network(project), None, instances.regional_subnet_link(
                project, region, sub_name)
        network = subnet["network"] if subnet else (
            nic.get("network") and global_url(project, "networks", instances.short(nic["network"]))
            or instances.default_network(project))
        if instances.short(network) not in self._project(request)["networks"]:
            return network, subnet, network
        return network, subnet, None

    def _encrypt(self, project: str, disk: dict[str, Any], boot: dict[str, Any]) -> None:
        """CMEK: the Compute Engine service agent must be able to use the key (KMS checks)."""
        key = (boot.get("diskEncryptionKey") or {}).get("kmsKeyName")
        if not key:
            return
        kms = self.emulator.services.get("kms") if self.emulator is not None else None
        agent = COMPUTE_AGENT.format(number=project_number(project))
        if kms is not None and kms.key_use_error(key, f"serviceAccount:{agent}"):
            raise HttpError(403, f"Cloud KMS Error: Permission 'cloudkms.cryptoKeyVersions."
                                 f"useToEncrypt' denied on resource '{key}' for the Compute Engine "
                                 f"service agent {agent}.", reason="forbidden")
        disk["diskEncryptionKey"] = {"kmsKeyName": f"{key}/cryptoKeyVersions/1"}

    def delete_instance(self, request: Request) -> dict[str, Any]:
        instance = self._instance(request)
        if instance.get("deletionProtection"):
            raise HttpError(400, "Invalid resource usage: 'Resource cannot be deleted if it's "
                                 "protected against deletion.'.", reason="resourceInUseByAnotherResource")
        del self._zone(request, "instances")[instance["name"]]
        disks = self._zone(request, "disks")
        for attachedDisk in instance.get("disks") or []:
            if attachedDisk.get("autoDelete"):
                disks.pop(instances.short(attachedDisk["source"]), None)
        return self._zone_operation(request, kind="delete", link=instance["selfLink"],
                                    target_id=instance["id"])

    def start_instance(self, request: Request) -> dict[str, Any]:
        return self._power(request, "RUNNING", "STAGING", "start")

    def stop_instance(self, request: Request) -> dict[str, Any]:
        return self._power(request, "TERMINATED", "STOPPING", "stop")

    def _power(self, request: Request, final: str, during: str, kind: str) -> dict[str, Any]:
        instance = self._instance(request)
        op = self._zone_operation(request, kind=kind, link=instance["selfLink"],
                                  target_id=instance["id"])
        if instance["status"] != final:
            instance["status"] = final
            instance["transition"] = {"status": during, "until": self._done(request, op)}
        return op

    def _set(self, request: Request, kind: str,
             change: Callable[[dict[str, Any], dict[str, Any]], None]) -> dict[str, Any]:
        instance = self._instance(request)
        if kind in STOPPED_ONLY:
            instances.require_stopped(instance, self._status(instance), STOPPED_ONLY[kind])
        body = body_object(request)
        changed = copy.deepcopy(instance)
        change(changed, body)
        instances.refingerprint(changed)
        self._zone(request, "instances")[instance["name"]] = changed
        return self._zone_operation(request, kind=kind, link=instance["selfLink"],
                                    target_id=instance["id"])

    def set_labels(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instances.check_fingerprint(body.get("labelFingerprint"), instance["labelFingerprint"],
                                        "Labels fingerprint either invalid or resource labels "
                                        "have changed")
            instance["labels"] = dict(body.get("labels") or {})
            if not instance["labels"]:
                del instance["labels"]
        return self._set(request, "setLabels", change)

    def set_metadata(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instances.check_fingerprint(body.get("fingerprint"), instance["metadata"]["fingerprint"],
                                        "Supplied fingerprint does not match current metadata "
                                        "fingerprint.")
            instance["metadata"] = {"kind": "compute#metadata",
                                    **({"items": body["items"]} if body.get("items") else {})}
        return self._set(request, "setMetadata", change)

    def set_tags(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instances.check_fingerprint(body.get("fingerprint"), instance["tags"]["fingerprint"],
                                        "Invalid fingerprint.")
            items = sorted(set(body.get("items") or []))
            instance["tags"] = {"items": items} if items else {}
        return self._set(request, "setTags", change)

    def set_machine_type(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instance["machineType"] = zonal_url(request.params["project"], request.params["zone"],
                                                "machineTypes", instances.short(body.get("machineType")))
        return self._set(request, "setMachineType", change)

    def set_min_cpu_platform(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instance["minCpuPlatform"] = body.get("minCpuPlatform")
        return self._set(request, "setMinCpuPlatform", change)

    def set_service_account(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instance["serviceAccounts"] = [instances.service_account(body, request.params["project"])]
        return self._set(request, "setServiceAccount", change)

    def set_scheduling(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instance["scheduling"] = instances.scheduling(body, gpus=bool(instance.get("guestAccelerators")))
        return self._set(request, "setScheduling", change)

    def set_deletion_protection(self, request: Request) -> dict[str, Any]:
        flag = request.query.get("deletionProtection", "true").lower() != "false"

        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instance["deletionProtection"] = flag
        return self._set(request, "setDeletionProtection", change)

    def update_shielded_config(self, request: Request) -> dict[str, Any]:
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instance["shieldedInstanceConfig"] = {**instance["shieldedInstanceConfig"], **body}
        return self._set(request, "updateShieldedInstanceConfig", change)

    def update_instance(self, request: Request) -> dict[str, Any]:
        """``instances.update`` (PUT): guest accelerators (stopped only) among the fields it takes."""
        def change(instance: dict[str, Any], body: dict[str, Any]) -> None:
            instances.check_fingerprint(body.get("fingerprint"), instance["fingerprint"],
                                        "Invalid fingerprint.")
            wanted = [{"acceleratorType": zonal_url(request.params["project"], request.params["zone"],
                                                    "acceleratorTypes", instances.short(a.get("acceleratorType"))),
                       "acceleratorCount": int(a.get("acceleratorCount") or 1)}
                      for a in body.get("guestAccelerators") or []]
            if wanted != (instance.get("guestAccelerators") or []):
                instances.require_stopped(instance, self._status(instance),
                                          "its guest accelerators can change")
                if wanted and instance["scheduling"].get("onHostMaintenance") != "TERMINATE":
                    raise HttpError(400, instances.GPU_LIVE_MIGRATION, reason="invalid")
            if wanted:
                instance["guestAccelerators"] = wanted
            else:
                instance.pop("guestAccelerators", None)
        return self._set(request, "update", change)

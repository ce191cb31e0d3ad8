"""The Compute Engine service: networks, subnetworks, firewalls, Cloud Routers with NAT,
instances with their boot disks (also ``aggregated/instances``), public images, the managed instance groups of GKE node pools
(read-only: the emulated container service owns them and holds their sizes), and the global,
regional and zonal operations every mutation answers with (instances: ``vm_routes.py``).

State (JSON): ``projects`` project -> {networks: name -> network, firewalls: name -> firewall,
subnetworks: region -> name -> subnetwork, routers: region -> name -> router, instances: zone ->
name -> instance, disks: zone -> name -> disk, operations: "global"|region|"zone:Z" -> name ->
record}; ``images`` project -> name -> image (the public catalogue, ``images.py``);
``sequence`` numbers ids and operations. Changes are applied when the request is served; the
operation only reports ``DONE`` after the configured duration (``emulator/operations.py``).
A reference to a network that does not exist fails the operation (as Compute does), not the
request. Operations last ``Delays.operation_for("compute")``; ``.../wait`` blocks until the
operation is DONE or ``Delays.operation_wait`` (2 minutes, compute v1 discovery
``globalOperations.wait``) has passed, then answers its current state. The API is
``compute.googleapis.com``, off in a new project. Simplifications: an auto-mode network gets
no subnetworks; list ``filter`` is ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.compute import firewalls, networks, operations, routers, subnetworks
from mlops_infra.emulator.compute.common import (
    already_exists,
    body_object,
    global_url,
    in_use,
    network_link,
    not_found,
    project_url,
    regional_url,
)
from mlops_infra.emulator.compute.images import PUBLIC_PROJECTS
from mlops_infra.emulator.compute.vm_routes import VmRoutes
from mlops_infra.emulator.core import Deferred, HttpError, Request, Route, Service
from mlops_infra.emulator.util import int_param, page

BASE = "/compute/v1/projects/{project}"
NET = BASE + "/global/networks"
FW = BASE + "/global/firewalls"
SUB = BASE + "/regions/{region}/subnetworks"
GOP = BASE + "/global/operations/{operation}"
ROP = BASE + "/regions/{region}/operations/{operation}"
ZOP = BASE + "/zones/{zone}/operations/{operation}"
RT = BASE + "/regions/{region}/routers"
INS = BASE + "/zones/{zone}/instances"
IMG = BASE + "/global/images"


class ComputeService(VmRoutes, Service):
    """Networks, subnetworks, firewalls, routers, instances and operations of Compute v1."""

    name = "compute"
    api = "compute.googleapis.com"
    api_title = "Compute Engine API"

    def project_of(self, request: Request) -> str | None:
        project = request.params.get("project")
        if project in PUBLIC_PROJECTS and "/global/images" in request.path:
            return None            # public images are read from any project
        return project

    def initial_state(self) -> dict[str, Any]:
        return {"projects": {}, "sequence": 0}

    def routes(self) -> list[Route]:
        return [
            Route("GET", NET, self.list_networks),
            Route("POST", NET, self.insert_network),
            Route("GET", NET + "/{network}", self.get_network),
            Route("PATCH", NET + "/{network}", self.patch_network),
            Route("DELETE", NET + "/{network}", self.delete_network),
            Route("POST", NET + "/{network}/switchToCustomMode", self.switch_to_custom_mode),
            Route("GET", SUB, self.list_subnetworks),
            Route("POST", SUB, self.insert_subnetwork),
            Route("GET", SUB + "/{subnetwork}", self.get_subnetwork),
            Route("PATCH", SUB + "/{subnetwork}", self.patch_subnetwork),
            Route("DELETE", SUB + "/{subnetwork}", self.delete_subnetwork),
            Route("POST", SUB + "/{subnetwork}/expandIpCidrRange", self.expand_ip_cidr_range),
            Route("POST", SUB + "/{subnetwork}/setPrivateIpGoogleAccess",
                  self.set_private_ip_google_access),
            Route("GET", FW, self.list_firewalls),
            Route("POST", FW, self.insert_firewall),
            Route("GET", FW + "/{firewall}", self.get_firewall),
            Route("PATCH", FW + "/{firewall}", self.patch_firewall),
            Route("PUT", FW + "/{firewall}", self.update_firewall),
            Route("DELETE", FW + "/{firewall}", self.delete_firewall),
            Route("GET", RT, self.list_routers),
            Route("POST", RT, self.insert_router),
            Route("GET", RT + "/{router}", self.get_router),
            Route("PATCH", RT + "/{router}", self.patch_router),
            Route("DELETE", RT + "/{router}", self.delete_router),
            Route("GET", INS, self.list_instances),
            Route("GET", BASE + "/aggregated/instances", self.aggregated_instances),
            Route("POST", INS, self.insert_instance),
            Route("GET", INS + "/{instance}", self.get_instance),
            Route("PUT", INS + "/{instance}", self.update_instance),
            Route("DELETE", INS + "/{instance}", self.delete_instance),
            Route("POST", INS + "/{instance}/start", self.start_instance),
            Route("POST", INS + "/{instance}/stop", self.stop_instance),
            Route("POST", INS + "/{instance}/setLabels", self.set_labels),
            Route("POST", INS + "/{instance}/setMetadata", self.set_metadata),
            Route("POST", INS + "/{instance}/setTags", self.set_tags),
            Route("POST", INS + "/{instance}/setMachineType", self.set_machine_type),
            Route("POST", INS + "/{instance}/setMinCpuPlatform", self.set_min_cpu_platform),
            Route("POST", INS + "/{instance}/setServiceAccount", self.set_service_account),
            Route("POST", INS + "/{instance}/setScheduling", self.set_scheduling),
            Route("POST", INS + "/{resource}/setDeletionProtection", self.set_deletion_protection),
            Route("PATCH", INS + "/{instance}/updateShieldedInstanceConfig",
                  self.update_shielded_config),
            Route("GET", BASE + "/zones/{zone}/instanceGroupManagers/{instanceGroupManager}",
                  self.get_instance_group_manager),
            Route("GET", BASE + "/zones/{zone}/disks", self.list_disks),
            Route("GET", BASE + "/zones/{zone}/disks/{disk}", self.get_disk),
            Route("GET", IMG, self.list_images),
            Route("GET", IMG + "/{image}", self.get_image),
            Route("GET", IMG + "/family/{family}", self.get_image_from_family),
            Route("GET", ZOP, self.get_zone_operation),
            Route("POST", ZOP + "/wait", self.wait_zone_operation),
            Route("GET", GOP, self.get_operation),
            Route("POST", GOP + "/wait", self.wait_operation),
            Route("GET", ROP, self.get_operation),
            Route("POST", ROP + "/wait", self.wait_operation),
        ]

    # -- state ------------------------------------------------------------------------------
    def _project(self, request: Request) -> dict[str, Any]:
        return self.state["projects"].setdefault(request.params["project"], {
            "networks": {}, "firewalls": {}, "subnetworks": {}, "operations": {}})

    def _next(self) -> int:
        self.state["sequence"] += 1
        return int(self.state["sequence"])

    def _operation(self, request: Request, *, kind: str, link: str, target_id: str | None,
                   regional: bool = False, error: HttpError | None = None) -> dict[str, Any]:
        region = request.params["region"] if regional else None
        store = self._project(request)["operations"].setdefault(region or "global", {})
        return operations.start(store, project=request.params["project"], region=region,
                                number=self._next(), operation_type=kind, target_link=link,
                                target_id=target_id, error=error, duration=self._duration())

    def _duration(self) -> float:
        return self.emulator.delays.operation_for(self.name) if self.emulator else 0.0

    def get_operation(self, request: Request) -> dict[str, Any]:
        return operations.view(self._operation_record(request))

    def wait_operation(self, request: Request) -> dict[str, Any] | Deferred:
        """Block until DONE or the wait deadline, then answer the operation as it is."""
        record = self._operation_record(request)
        deadline = self.emulator.delays.operation_wait if self.emulator else 0.0
        until = min(operations.done_time(record), time.time() + deadline)
        if until <= time.time():
            return operations.view(record)
        return Deferred(until=until, then=lambda: operations.view(record))

    def _operation_record(self, request: Request) -> dict[str, Any]:
        scope = request.params.get("region", "global")
        record = self._project(request)["operations"].get(scope, {}).get(
            request.params["operation"])
        if record is None:
            raise not_found(f"projects/{request.params['project']}/{_scope_path(scope)}"
                            f"operations/{request.params['operation']}")
        return record  # type: ignore[no-any-return]

    def _network_ref(self, request: Request, value: Any, field: str) -> tuple[str, bool]:
        """The network's full URL and whether it exists (in its own project)."""
        link = network_link(value, project=request.params["project"], field=field)
        project = link.split("/projects/", 1)[1].split("/", 1)[0]
        nets = self.state["projects"].get(project, {}).get("networks", {})
        return link, link.rsplit("/", 1)[1] in nets

    # -- networks ---------------------------------------------------------------------------
    def list_networks(self, request: Request) -> dict[str, Any]:
        return self._list(request, self._project(request)["networks"].values(),
                          kind="compute#networkList", collection="global/networks")

    def insert_network(self, request: Request) -> dict[str, Any]:
        nets = self._project(request)["networks"]
        body = body_object(request)
        network = networks.new_network(body, project=request.params["project"],
                                       number=self._next())
        if network["name"] in nets:
            raise already_exists(network["selfLink"])
        nets[network["name"]] = network
        return self._operation(request, kind="insert", link=network["selfLink"],
                               target_id=network["id"])

    def get_network(self, request: Request) -> dict[str, Any]:
        network = dict(self._network(request))
        subs = [s["selfLink"] for region in self._project(request)["subnetworks"].values()
                for s in region.values() if s["network"] == network["selfLink"]]
        if subs:
            network["subnetworks"] = sorted(subs)
        return network

    def patch_network(self, request: Request) -> dict[str, Any]:
        return self._change_network(request, lambda n: networks.patch_network(
            n, body_object(request)), kind="patch")

    def switch_to_custom_mode(self, request: Request) -> dict[str, Any]:
        return self._change_network(request, networks.switch_to_custom, kind="switchToCustomMode")

    def _change_network(self, request: Request, change: Callable[[dict[str, Any]], dict[str, Any]],
                        *, kind: str) -> dict[str, Any]:
        network = change(self._network(request))
        self._project(request)["networks"][network["name"]] = network
        return self._operation(request, kind=kind, link=network["selfLink"],
                               target_id=network["id"])

    def delete_network(self, request: Request) -> dict[str, Any]:
        network = self._network(request)
        project = self._project(request)
        users = [s["selfLink"] for region in project["subnetworks"].values()
                 for s in region.values() if s["network"] == network["selfLink"]]
        users += [f["selfLink"] for f in project["firewalls"].values()
                  if f["network"] == network["selfLink"]]
        users += [r["selfLink"] for region in project.get("routers", {}).values()
                  for r in region.values() if r["network"] == network["selfLink"]]
        if users:
            raise in_use(network["selfLink"], min(users))
        del project["networks"][network["name"]]
        return self._operation(request, kind="delete", link=network["selfLink"],
                               target_id=network["id"])

    def _network(self, request: Request) -> dict[str, Any]:
        name = request.params["network"]
        found = self._project(request)["networks"].get(name)
        if found is None:
            raise not_found(global_url(request.params["project"], "networks", name))
        return found  # type: ignore[no-any-return]

    # -- subnetworks -------------------------------------------------------------------------
    def list_subnetworks(self, request: Request) -> dict[str, Any]:
        region = request.params["region"]
        found = self._project(request)["subnetworks"].get(region, {}).values()
        return self._list(request, found, kind="compute#subnetworkList",
                          collection=f"regions/{region}/subnetworks")

    def insert_subnetwork(self, request: Request) -> dict[str, Any]:
        project, region = request.params["project"], request.params["region"]
        body = body_object(request)
        link, exists = self._network_ref(request, body.get("network"), "resource.network")
        sub = subnetworks.new_subnetwork(body, project=project, region=region, network=link,
                                         number=self._next())
        if not exists:
            return self._operation(request, kind="insert", link=sub["selfLink"], target_id=None,
                                   regional=True, error=not_found(link))
        in_region = self._project(request)["subnetworks"].setdefault(region, {})
        if sub["name"] in in_region:
            raise already_exists(sub["selfLink"])
        subnetworks.check_no_overlap(sub, self._siblings(request, sub))
        in_region[sub["name"]] = sub
        return self._operation(request, kind="insert", link=sub["selfLink"], target_id=sub["id"],
                               regional=True)

    def get_subnetwork(self, request: Request) -> dict[str, Any]:
        return self._subnetwork(request)

    def patch_subnetwork(self, request: Request) -> dict[str, Any]:
        body = body_object(request)
        return self._change_subnetwork(request, lambda s: subnetworks.patch_subnetwork(s, body),
                                       kind="patch")

    def expand_ip_cidr_range(self, request: Request) -> dict[str, Any]:
        wanted = body_object(request).get("ipCidrRange")
        return self._change_subnetwork(request, lambda s: subnetworks.expand(s, wanted),
                                       kind="expandIpCidrRange")

    def set_private_ip_google_access(self, request: Request) -> dict[str, Any]:
        flag = bool(body_object(request).get("privateIpGoogleAccess", False))
        return self._change_subnetwork(
            request, lambda s: subnetworks.refingerprint({**s, "privateIpGoogleAccess": flag}),
            kind="setPrivateIpGoogleAccess")

    def _change_subnetwork(self, request: Request,
                           change: Callable[[dict[str, Any]], dict[str, Any]], *,
                           kind: str) -> dict[str, Any]:
        sub = change(self._subnetwork(request))
        subnetworks.check_no_overlap(sub, self._siblings(request, sub))
        self._project(request)["subnetworks"][request.params["region"]][sub["name"]] = sub
        return self._operation(request, kind=kind, link=sub["selfLink"], target_id=sub["id"],
                               regional=True)

    def delete_subnetwork(self, request: Request) -> dict[str, Any]:
        sub = self._subnetwork(request)
        users = [i["selfLink"] for zone in self._project(request).get("instances", {}).values()
                 for i in zone.values()
                 if any(n.get("subnetwork") == sub["selfLink"] for n in i["networkInterfaces"])]
        if users:
            raise HttpError(400, f"The subnetwork resource '{sub['selfLink'].split('/v1/', 1)[1]}' "
                                 f"is already being used by '{min(users).split('/v1/', 1)[1]}'",
                            reason="resourceInUseByAnotherResource")
        del self._project(request)["subnetworks"][request.params["region"]][sub["name"]]
        return self._operation(request, kind="delete", link=sub["selfLink"], target_id=sub["id"],
                               regional=True)

    def _subnetwork(self, request: Request) -> dict[str, Any]:
        region, name = request.params["region"], request.params["subnetwork"]
        found = self._project(request)["subnetworks"].get(region, {}).get(name)
        if found is None:
            raise not_found(regional_url(request.params["project"], region, "subnetworks", name))
        return found  # type: ignore[no-any-return]

    def _siblings(self, request: Request, sub: dict[str, Any]) -> list[dict[str, Any]]:
        """The other subnetworks of ``sub``'s network (every region: ranges are network-wide)."""
        return [s for region in self._project(request)["subnetworks"].values()
                for s in region.values()
                if s["network"] == sub["network"] and s["selfLink"] != sub["selfLink"]]

    # -- firewalls ---------------------------------------------------------------------------
    def list_firewalls(self, request: Request) -> dict[str, Any]:
        return self._list(request, self._project(request)["firewalls"].values(),
                          kind="compute#firewallList", collection="global/firewalls")

    def insert_firewall(self, request: Request) -> dict[str, Any]:
        rules = self._project(request)["firewalls"]
        body = body_object(request)
        link, exists = self._network_ref(request, body.get("network", "global/networks/default"),
                                         "resource.network")
        rule = firewalls.new_firewall(body, project=request.params["project"], network=link,
                                      number=self._next())
        if not exists:
            return self._operation(request, kind="insert", link=rule["selfLink"], target_id=None,
                                   error=not_found(link))
        if rule["name"] in rules:
            raise already_exists(rule["selfLink"])
        rules[rule["name"]] = rule
        return self._operation(request, kind="insert", link=rule["selfLink"], target_id=rule["id"])

    def get_firewall(self, request: Request) -> dict[str, Any]:
        return self._firewall(request)

    def patch_firewall(self, request: Request) -> dict[str, Any]:
        return self._change_firewall(request, firewalls.patch_firewall, kind="patch")

    def update_firewall(self, request: Request) -> dict[str, Any]:
        return self._change_firewall(request, firewalls.update_firewall, kind="update")

    def _change_firewall(self, request: Request,
                         change: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]], *,
                         kind: str) -> dict[str, Any]:
        rule = change(self._firewall(request), body_object(request))
        self._project(request)["firewalls"][rule["name"]] = rule
        return self._operation(request, kind=kind, link=rule["selfLink"], target_id=rule["id"])

    def delete_firewall(self, request: Request) -> dict[str, Any]:
        rule = self._firewall(request)
        del self._project(request)["firewalls"][rule["name"]]
        return self._operation(request, kind="delete", link=rule["selfLink"], target_id=rule["id"])

    def _firewall(self, request: Request) -> dict[str, Any]:
        name = request.params["firewall"]
        found = self._project(request)["firewalls"].get(name)
        if found is None:
            raise not_found(global_url(request.params["project"], "firewalls", name))
        return found  # type: ignore[no-any-return]

    # -- routers ---------------------------------------------------------------------------------
    def _routers(self, request: Request) -> dict[str, Any]:
        return self._project(request).setdefault("routers", {}).setdefault(
            request.params["region"], {})

    def _router(self, request: Request) -> dict[str, Any]:
        name = request.params["router"]
        found = self._routers(request).get(name)
        if found is None:
            raise not_found(regional_url(request.params["project"], request.params["region"],
                                         "routers", name))
        return found  # type: ignore[no-any-return]

    def list_routers(self, request: Request) -> dict[str, Any]:
        region = request.params["region"]
        return self._list(request, self._routers(request).values(), kind="compute#routerList",
                          collection=f"regions/{region}/routers")

    def get_router(self, request: Request) -> dict[str, Any]:
        return self._router(request)

    def insert_router(self, request: Request) -> dict[str, Any]:
        project, region = request.params["project"], request.params["region"]
        body = body_object(request)
        link, exists = self._network_ref(request, body.get("network"), "resource.network")
        router = routers.new_router(body, project=project, region=region, network=link,
                                    number=self._next())
        if not exists:
            return self._operation(request, kind="insert", link=router["selfLink"], target_id=None,
                                   regional=True, error=not_found(link))
        if router["name"] in self._routers(request):
            raise already_exists(router["selfLink"])
        self._routers(request)[router["name"]] = router
        return self._operation(request, kind="insert", link=router["selfLink"],
                               target_id=router["id"], regional=True)

    def patch_router(self, request: Request) -> dict[str, Any]:
        router = routers.patch_router(self._router(request), body_object(request))
        self._routers(request)[router["name"]] = router
        return self._operation(request, kind="patch", link=router["selfLink"],
                               target_id=router["id"], regional=True)

    def delete_router(self, request: Request) -> dict[str, Any]:
        router = self._router(request)
        del self._routers(request)[router["name"]]
        return self._operation(request, kind="delete", link=router["selfLink"],
                               target_id=router["id"], regional=True)

    # -- lists ---------------------------------------------------------------------------------
    def _list(self, request: Request, items: Any, *, kind: str, collection: str
              ) -> dict[str, Any]:
        chosen, token = page(list(items), key=lambda r: r["name"],
                             max_results=int_param(request.query, "maxResults"),
                             token=request.query.get("pageToken"), default_size=500)
        result: dict[str, Any] = {
            "kind": kind, "id": f"projects/{request.params['project']}/{collection}",
            "selfLink": f"{project_url(request.params['project'])}/{collection}",
            "items": chosen}
        if token:
            result["nextPageToken"] = token
        return result


def _scope_path(scope: str) -> str:
    return "global/" if scope == "global" else f"regions/{scope}/"


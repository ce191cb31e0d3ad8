"""The Kubernetes Engine service (container v1): clusters, node pools and operations.

Routes are the ``projects.locations`` methods of the container v1 discovery document. Bodies
are read through the API's protos (``protos.py``: enums as names or numbers, unknown fields
refused). A mutation answers an ``Operation`` at once and its change is visible at once; the
operation, and the status of what it acts on, follow it over time:

| operation | cluster status while it runs | pool status | duration knob (``Delays.operations``) |
|---|---|---|---|
| ``CREATE_CLUSTER`` | ``PROVISIONING`` (then ``RUNNING``) | its pools ``PROVISIONING`` | ``container.cluster`` (300 s) |
| ``DELETE_CLUSTER`` | ``STOPPING`` (then gone) | ``STOPPING`` | ``container.cluster`` |
| ``CREATE_NODE_POOL`` / ``DELETE_NODE_POOL`` | ``RECONCILING`` | ``PROVISIONING`` / ``STOPPING`` (then gone) | ``container.nodePool`` (180 s) |
| ``UPGRADE_NODES`` recreating nodes (machine type, disks, image, locations) | ``RECONCILING`` | ``RECONCILING`` | ``container.nodePool`` |
| any other (labels, cluster updates, autoscaling, management, size) | ``RECONCILING`` (management: unchanged) | ``RECONCILING`` | ``container`` (else ``operation``) |

Statuses: container v1 discovery ``Cluster.status`` / ``NodePool.status``. Durations: "cluster
create usually 5-10 min" (a basic cluster's Terraform acceptance test: 241 s,
hashicorp/terraform-provider-google PR #1282), node pools 2-5 min (#1643); see
``../shared/research/clients.md`` f. GKE allows one operation at a time per cluster, its own
included (``operations.py``); ``start_system_operation`` is the knob that starts one of GKE's
own (an auto-upgrade) for a test.

A cluster with ``workloadIdentityConfig.workloadPool`` registers that Workload Identity pool in
the emulator's pool registry when its operation is done, so IAM bindings of
``serviceAccount:P.svc.id.goog[ns/ksa]`` stop getting 400 "Identity Pool does not exist"
(terraform-google-modules/terraform-google-kubernetes-engine#916). Application-layer secrets
encryption needs the project's GKE service agent
(``service-NUMBER@container-engine-robot.iam.gserviceaccount.com``) to hold
``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on the key, granted long enough ago to have
propagated (checked with the KMS service when it runs;
https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets requires the grant;
the 403's wording is Cloud KMS's permission error as BigQuery relays it - GKE's own text was
not found in public sources). The API is ``container.googleapis.com``, off in a new project.

A node pool's size lives in its managed instance groups (``instanceGroupUrls``), not in the
NodePool: ``setSize`` changes their ``targetSize``, which the emulated Compute serves at
``instanceGroupManagers.get`` (``instance_group``); ``initialNodeCount`` stays as created.

State (JSON): ``projects`` id -> {clusters: location -> name -> cluster, nodePools: location ->
cluster -> name -> pool, operations: location -> name -> record, groupSizes: group URL ->
nodes}; ``sequence``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.container import clusters, nodepools, operations, protos
from mlops_infra.emulator.core import HttpError, Request, Route, Service
from mlops_infra.emulator.projects import project_number

LOC = "/v1/projects/{project}/locations/{location}"
CL = LOC + "/clusters"
NP = CL + "/{cluster}/nodePools"
OP = LOC + "/operations"
AGENT = "service-{number}@container-engine-robot.iam.gserviceaccount.com"
BOOT_STATUSES = {"CREATE_CLUSTER": "PROVISIONING", "DELETE_CLUSTER": "STOPPING"}
POOL_STATUSES = {"CREATE_NODE_POOL": "PROVISIONING", "DELETE_NODE_POOL": "STOPPING"}


class ContainerService(Service):
    """Clusters, node pools and operations of the Kubernetes Engine API v1."""

    name = "container"
    api = "container.googleapis.com"
    api_title = "Kubernetes Engine API"

    def project_of(self, request: Request) -> str | None:
        return self._project_id(request.params.get("project", "")) or None

    def initial_state(self) -> dict[str, Any]:
        return {"projects": {}, "sequence": 0}

    def routes(self) -> list[Route]:
        return [
            Route("GET", CL, self.list_clusters),
            Route("POST", CL, self.create_cluster),
            Route("GET", CL + "/{cluster}", self.get_cluster),
            Route("PUT", CL + "/{cluster}", self.update_cluster),
            Route("DELETE", CL + "/{cluster}", self.delete_cluster),
            Route("POST", CL + "/{cluster}:setResourceLabels", self.set_resource_labels),
            Route("POST", CL + "/{cluster}:setMaintenancePolicy", self.set_maintenance_policy),
            Route("GET", NP, self.list_node_pools),
            Route("POST", NP, self.create_node_pool),
            Route("GET", NP + "/{pool}", self.get_node_pool),
            Route("PUT", NP + "/{pool}", self.update_node_pool),
            Route("DELETE", NP + "/{pool}", self.delete_node_pool),
            Route("POST", NP + "/{pool}:setAutoscaling", self.set_autoscaling),
            Route("POST", NP + "/{pool}:setManagement", self.set_management),
            Route("POST", NP + "/{pool}:setSize", self.set_size),
            Route("GET", OP, self.list_operations),
            Route("GET", OP + "/{operation}", self.get_operation),
        ]

    # -- state ------------------------------------------------------------------------------
    def _project_id(self, value: str) -> str:
        """The project id a path names (a project number seen before resolves to its id)."""
        if value.isdigit():
            return next((p for p in self.state["projects"] if project_number(p) == value), value)
        return value

    def _project(self, request: Request) -> dict[str, Any]:
        project = self._project_id(request.params["project"])
        return self.state["projects"].setdefault(project, {
            "clusters": {}, "nodePools": {}, "operations": {}})

    def _ops(self, request: Request) -> dict[str, Any]:
        return self._project(request)["operations"].setdefault(request.params["location"], {})

    def _next(self) -> int:
        self.state["sequence"] += 1
        return int(self.state["sequence"])

    def _duration(self, operation_type: str, recreating: bool = False) -> float:
        if self.emulator is None:
            return 0.0
        delays = self.emulator.delays
        if operation_type in ("CREATE_CLUSTER", "DELETE_CLUSTER"):
            key = "container.cluster"
        elif operation_type in ("CREATE_NODE_POOL", "DELETE_NODE_POOL") or recreating:
            key = "container.nodePool"
        else:
            key = "container"
        return float(delays.operation_for(key))

    def _settle(self, request: Request) -> None:
        """Apply what finished operations leave behind (deletions)."""
        project = self._project(request)
        for location, store in project["operations"].items():
            for record in store.values():
                if record["settled"] or operations.running(record):
                    continue
                record["settled"] = True
                self._effect(project, location, record)

    def _effect(self, project: dict[str, Any], location: str, record: dict[str, Any]) -> None:
        if record["effect"] == "delete_cluster":
            project["clusters"].get(location, {}).pop(record["cluster"], None)
            project["nodePools"].get(location, {}).pop(record["cluster"], None)
        elif record["effect"] == "delete_pool":
            project["nodePools"].get(location, {}).get(record["cluster"], {}).pop(
                record["nodePool"], None)

    def _start(self, request: Request, *, cluster: str, operation_type: str,
               node_pool: str | None = None, effect: str | None = None,
               recreating: bool = False) -> dict[str, Any]:
        """Start an operation, refusing it while an incompatible one runs on the cluster."""
        self._refuse_if_busy(request, cluster=cluster, node_pool=node_pool,
                             operation_type=operation_type)
        return operations.start(self._ops(request), number=project_number(self._project_id(
            request.params["project"])), location=request.params["location"], cluster=cluster,
            node_pool=node_pool, operation_type=operation_type, effect=effect,
            duration=self._duration(operation_type, recreating), sequence=self._next())

    def _refuse_if_busy(self, request: Request, *, cluster: str, operation_type: str,
                        node_pool: str | None = None) -> None:
        """The conflict is answered before the request's own checks (the cluster is busy)."""
        busy = operations.conflicting(self._ops(request), cluster=cluster, node_pool=node_pool,
                                      operation_type=operation_type)
        if busy is not None:
            raise operations.conflict_error(busy)

    def start_system_operation(self, project: str, location: str, cluster: str, *,
                               operation_type: str = "UPGRADE_MASTER",
                               seconds: float | None = None) -> str:
        """Knob: GKE starts an operation of its own on ``cluster`` (an auto-upgrade); it counts
        against the one-operation limit like ours. Returns the operation's name."""
        store = self.state["projects"].setdefault(project, {
            "clusters": {}, "nodePools": {}, "operations": {}})["operations"].setdefault(location, {})
        duration = self._duration(operation_type) if seconds is None else seconds
        op = operations.start(store, number=project_number(project), location=location,
                              cluster=cluster, node_pool=None, operation_type=operation_type,
                              duration=duration, sequence=self._next())
        return str(op["name"])

    def _running_type(self, request: Request, cluster: str, node_pool: str | None = None
                      ) -> str | None:
        for record in self._ops(request).values():
            if record["cluster"] == cluster and operations.running(record) \
                    and (node_pool is None or record["nodePool"] == node_pool):
                kind: str = record["operation"]["operationType"]
                if kind not in operations.CONCURRENT:
                    return kind
        return None

    # -- clusters ---------------------------------------------------------------------------
    def _clusters_in(self, request: Request) -> dict[str, Any]:
        return self._project(request)["clusters"].setdefault(request.params["location"], {})

    def _cluster(self, request: Request) -> dict[str, Any]:
        self._settle(request)
        name = request.params["cluster"]
        found = self._clusters_in(request).get(name)
        if found is None:
            raise HttpError(404, f"Not found: projects/{request.params['project']}/locations/"
                                 f"{request.params['location']}/clusters/{name}.",
                            status="NOT_FOUND", reason="notFound")
        return found  # type: ignore[no-any-return]

    def _view(self, request: Request, cluster: dict[str, Any]) -> dict[str, Any]:
        out = dict(cluster)
        running = self._running_type(request, cluster["name"])
        out["status"] = BOOT_STATUSES.get(running or "", "RECONCILING" if running else "RUNNING")
        pools = [self._pool_view(request, cluster["name"], p)
                 for p in self._pools_of(request, cluster["name"]).values()]
        if pools:
            out["nodePools"] = sorted(pools, key=lambda p: p["name"])
            out["nodeConfig"] = out["nodePools"][0]["config"]
            out["currentNodeCount"] = sum(int(p.get("initialNodeCount", 0)) * len(p["locations"])
                                          for p in pools)
            out["instanceGroupUrls"] = [u for p in out["nodePools"] for u in p["instanceGroupUrls"]]
        return out

    def list_clusters(self, request: Request) -> dict[str, Any]:
        self._settle(request)
        project = self._project(request)
        location = request.params["location"]
        found = []
        for loc, by_name in sorted(project["clusters"].items()):
            if location in ("-", loc):
                request.params["location"] = loc
                found += [self._view(request, c) for _, c in sorted(by_name.items())]
        request.params["location"] = location
        return {"clusters": found} if found else {}

    def get_cluster(self, request: Request) -> dict[str, Any]:
        return self._view(request, self._cluster(request))

    def create_cluster(self, request: Request) -> dict[str, Any]:
        self._settle(request)
        body = protos.parse(request.json(), "CreateClusterRequest").get("cluster") or {}
        location = clusters.check_location(request.params["location"])
        project = self._project_id(request.params["project"])
        name = clusters.check_name(body.get("name"))
        existing = self._clusters_in(request)
        if name in existing:
            raise HttpError(409, f"Already exists: projects/{project}/locations/{location}/"
                                 f"clusters/{name}.", status="ALREADY_EXISTS", reason="alreadyExists")
        cluster = clusters.new_cluster(body, project=project, location=location,
                                       number=self._next(), network=self._network_facts(
                                           project, location, body))
        if body.get("maintenancePolicy"):
            cluster = clusters.set_maintenance_policy(cluster, body["maintenancePolicy"])
        self._check_key(project, cluster)
        link = clusters.self_link(project, location, name)
        pools = {p["name"]: nodepools.new_node_pool(p, cluster=cluster,
                                                    self_link=f"{link}/nodePools/{p['name']}")
                 for p in body.get("nodePools") or [{"name": "default-pool",
                                                     "initialNodeCount": body["initialNodeCount"],
                                                     "config": body.get("nodeConfig") or {}}]}
        request.params["cluster"] = name
        op = self._start(request, cluster=name, operation_type="CREATE_CLUSTER")
        existing[name] = cluster
        self._project(request)["nodePools"].setdefault(location, {})[name] = pools
        self._register_pool(cluster, self._ops(request)[op["name"]]["doneAt"])
        return op

    def _network_facts(self, project: str, location: str, body: dict[str, Any]
                       ) -> dict[str, Any] | None:
        """The network and subnetwork a cluster names, as the emulated Compute has them
        (``None`` when Compute is not emulated: nothing to check against)."""
        compute = self.emulator.services.get("compute") if self.emulator is not None else None
        if compute is None:
            return None
        region = location if location.count("-") == 1 else location.rsplit("-", 1)[0]
        net = str(body.get("network") or "default").rstrip("/").rsplit("/", 1)[-1]
        sub = str(body.get("subnetwork") or net).rstrip("/").rsplit("/", 1)[-1]
        state = compute.state["projects"].get(project, {})
        return {"network": state.get("networks", {}).get(net),
                "subnetwork": state.get("subnetworks", {}).get(region, {}).get(sub)}

    def _check_key(self, project: str, cluster: dict[str, Any]) -> None:
        enc = cluster.get("databaseEncryption") or {}
        kms = self.emulator.services.get("kms") if self.emulator is not None else None
        if enc.get("state") != "ENCRYPTED" or kms is None:
            return
        agent = AGENT.format(number=project_number(project))
        problem = kms.key_use_error(enc["keyName"], f"serviceAccount:{agent}")
        if problem == "missing":
            raise clusters.invalid(f"Cloud KMS key \"{enc['keyName']}\" does not exist.")
        if problem:
            raise HttpError(403, "Cloud KMS Error: Permission 'cloudkms.cryptoKeyVersions."
                                 f"useToEncrypt' denied on resource '{enc['keyName']}' for the "
                                 f"Kubernetes Engine service agent {agent}.",
                            status="PERMISSION_DENIED", reason="forbidden")

    def _register_pool(self, cluster: dict[str, Any], at: float) -> None:
        pool = (cluster.get("workloadIdentityConfig") or {}).get("workloadPool")
        if pool and self.emulator is not None:
            if not str(pool).endswith(".svc.id.goog"):
                raise clusters.invalid(f"Invalid workload pool \"{pool}\": expected "
                                       "PROJECT_ID.svc.id.goog.")
            self.emulator.platform.add_workload_pool(pool, at=at)

    def update_cluster(self, request: Request) -> dict[str, Any]:
        body = protos.parse(request.json(), "UpdateClusterRequest")
        cluster = self._cluster(request)
        self._refuse_if_busy(request, cluster=cluster["name"], operation_type="UPDATE_CLUSTER")
        update = body.get("update") or {}
        if update.get("etag") and update["etag"] != cluster["etag"]:
            raise HttpError(409, "The cluster was modified since the etag was read.",
                            status="ABORTED", reason="aborted")
        changed, field = clusters.apply_update(cluster, {k: v for k, v in update.items()
                                                         if k != "etag"})
        project = self._project_id(request.params["project"])
        if field == "desiredDatabaseEncryption":
            self._check_key(project, changed)
        op = self._start(request, cluster=cluster["name"], operation_type="UPDATE_CLUSTER")
        self._clusters_in(request)[cluster["name"]] = changed
        if field == "desiredWorkloadIdentityConfig":
            self._register_pool(changed, self._ops(request)[op["name"]]["doneAt"])
        return op

    def set_resource_labels(self, request: Request) -> dict[str, Any]:
        return self._change_cluster(request, lambda c, b: clusters.set_labels(c, b),
                                    "SetLabelsRequest", "SET_LABELS")

    def set_maintenance_policy(self, request: Request) -> dict[str, Any]:
        return self._change_cluster(
            request, lambda c, b: clusters.set_maintenance_policy(c, b.get("maintenancePolicy") or {}),
            "SetMaintenancePolicyRequest", "SET_MAINTENANCE_POLICY")

    def _change_cluster(self, request: Request,
                        change: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
                        message: str, operation_type: str) -> dict[str, Any]:
        body = protos.parse(request.json(), message)
        cluster = self._cluster(request)
        self._refuse_if_busy(request, cluster=cluster["name"], operation_type=operation_type)
        changed = change(cluster, body)
        op = self._start(request, cluster=cluster["name"], operation_type=operation_type)
        self._clusters_in(request)[cluster["name"]] = changed
        return op

    def delete_cluster(self, request: Request) -> dict[str, Any]:
        cluster = self._cluster(request)
        return self._start(request, cluster=cluster["name"], operation_type="DELETE_CLUSTER",
                           effect="delete_cluster")

    # -- node pools ----------------------------------------------------------------------------
    def _pools_of(self, request: Request, cluster: str) -> dict[str, Any]:
        return self._project(request)["nodePools"].setdefault(
            request.params["location"], {}).setdefault(cluster, {})

    def _pool(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        cluster = self._cluster(request)
        name = request.params["pool"]
        found = self._pools_of(request, cluster["name"]).get(name)
        if found is None:
            raise HttpError(404, f"Not found: projects/{request.params['project']}/locations/"
                                 f"{request.params['location']}/clusters/{cluster['name']}/"
                                 f"nodePools/{name}.", status="NOT_FOUND", reason="notFound")
        return cluster, found

    def _pool_view(self, request: Request, cluster: str, pool: dict[str, Any]) -> dict[str, Any]:
        out = dict(pool)
        own = self._running_type(request, cluster, pool["name"])
        boot = self._running_type(request, cluster)
        if own:
            out["status"] = POOL_STATUSES.get(own, "RECONCILING")
        elif boot in BOOT_STATUSES:
            out["status"] = "PROVISIONING" if boot == "CREATE_CLUSTER" else "STOPPING"
        else:
            out["status"] = "RUNNING"
        return out

    def list_node_pools(self, request: Request) -> dict[str, Any]:
        cluster = self._cluster(request)
        pools = [self._pool_view(request, cluster["name"], p)
                 for _, p in sorted(self._pools_of(request, cluster["name"]).items())]
        return {"nodePools": pools} if pools else {}

    def get_node_pool(self, request: Request) -> dict[str, Any]:
        cluster, pool = self._pool(request)
        return self._pool_view(request, cluster["name"], pool)

    def create_node_pool(self, request: Request) -> dict[str, Any]:
        body = protos.parse(request.json(), "CreateNodePoolRequest").get("nodePool") or {}
        cluster = self._cluster(request)
        name = clusters.check_name(body.get("name"), "Node pool")
        pools = self._pools_of(request, cluster["name"])
        if name in pools:
            raise HttpError(409, f"Already exists: projects/{request.params['project']}/locations/"
                                 f"{request.params['location']}/clusters/{cluster['name']}/"
                                 f"nodePools/{name}.", status="ALREADY_EXISTS",
                            reason="alreadyExists")
        pool = nodepools.new_node_pool(body, cluster=cluster,
                                       self_link=f"{cluster['selfLink']}/nodePools/{name}")
        op = self._start(request, cluster=cluster["name"], node_pool=name,
                         operation_type="CREATE_NODE_POOL")
        sizes = self._project(request).setdefault("groupSizes", {})
        for url in pool.get("instanceGroupUrls") or []:
            sizes.pop(url, None)          # a pool made again under its old name starts afresh
        pools[name] = pool
        return op

    def update_node_pool(self, request: Request) -> dict[str, Any]:
        body = protos.parse(request.json(), "UpdateNodePoolRequest")
        cluster, pool = self._pool(request)
        changed, aspects = nodepools.update(pool, body)
        return self._commit_pool(request, cluster, changed, "UPGRADE_NODES",
                                 recreating=bool(aspects & nodepools.RECREATING))

    def set_autoscaling(self, request: Request) -> dict[str, Any]:
        body = protos.parse(request.json(), "SetNodePoolAutoscalingRequest")
        cluster, pool = self._pool(request)
        return self._commit_pool(request, cluster, nodepools.set_autoscaling(pool, body),
                                 "UPDATE_CLUSTER")

    def set_management(self, request: Request) -> dict[str, Any]:
        body = protos.parse(request.json(), "SetNodePoolManagementRequest")
        cluster, pool = self._pool(request)
        return self._commit_pool(request, cluster, nodepools.set_management(pool, body, cluster),
                                 "SET_NODE_POOL_MANAGEMENT")

    def set_size(self, request: Request) -> dict[str, Any]:
        body = protos.parse(request.json(), "SetNodePoolSizeRequest")
        cluster, pool = self._pool(request)
        changed, count = nodepools.set_size(pool, body)
        sizes = self._project(request).setdefault("groupSizes", {})
        for url in pool.get("instanceGroupUrls") or []:
            sizes[url] = count
        return self._commit_pool(request, cluster, changed, "SET_NODE_POOL_SIZE")

    def instance_group(self, project: str, zone: str, name: str) -> dict[str, Any] | None:
        """The managed instance group ``name`` of a node pool, as Compute serves it (GKE owns
        the groups of its pools; ``instanceGroupManagers.get`` of the emulated Compute reads
        them here), or ``None``. Its ``targetSize`` is the pool's size per zone: its
        ``initialNodeCount`` until a ``setSize``."""
        state = self.state["projects"].get(project, {})
        tail = f"/projects/{project}/zones/{zone}/instanceGroupManagers/{name}"
        for by_cluster in state.get("nodePools", {}).values():
            for pools in by_cluster.values():
                for pool in pools.values():
                    url = next((u for u in pool.get("instanceGroupUrls") or [] if u.endswith(tail)), None)
                    if url is not None:
                        size = state.get("groupSizes", {}).get(url, int(pool.get("initialNodeCount", 0)))
                        return nodepools.group_view(url, int(size))
        return None

    def _commit_pool(self, request: Request, cluster: dict[str, Any], pool: dict[str, Any],
                     operation_type: str, *, recreating: bool = False) -> dict[str, Any]:
        op = self._start(request, cluster=cluster["name"], node_pool=pool["name"],
                         operation_type=operation_type, recreating=recreating)
        self._pools_of(request, cluster["name"])[pool["name"]] = pool
        return op

    def delete_node_pool(self, request: Request) -> dict[str, Any]:
        cluster, pool = self._pool(request)
        return self._start(request, cluster=cluster["name"], node_pool=pool["name"],
                           operation_type="DELETE_NODE_POOL", effect="delete_pool")

    # -- operations ------------------------------------------------------------------------------
    def get_operation(self, request: Request) -> dict[str, Any]:
        self._settle(request)
        record = self._ops(request).get(request.params["operation"])
        if record is None:
            raise HttpError(404, f"Not found: projects/{request.params['project']}/locations/"
                                 f"{request.params['location']}/operations/"
                                 f"{request.params['operation']}.", status="NOT_FOUND",
                            reason="notFound")
        return operations.view(record)

    def list_operations(self, request: Request) -> dict[str, Any]:
        self._settle(request)
        location = request.params["location"]
        stores = self._project(request)["operations"]
        found = [operations.view(r) for loc, store in sorted(stores.items())
                 if location in ("-", loc) for r in store.values()]
        return {"operations": sorted(found, key=lambda o: o["startTime"])} if found else {}

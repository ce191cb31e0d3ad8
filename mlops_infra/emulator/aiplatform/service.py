"""The Vertex AI (aiplatform v1) service: endpoints, Tensorboards, feature online stores and
their feature views, metadata stores, and the long-running operations they answer with.

**Regional endpoints on one port.** Google serves Vertex AI from one host per region
(``https://REGION-aiplatform.googleapis.com``). The emulator serves them all on one port: a
request whose path starts with ``/REGION-aiplatform`` (``http://127.0.0.1:P/us-east1-aiplatform
/v1/...``, which is what a client built with that ``api_endpoint`` sends) is a request to that
region's host; a bare path is the global ``aiplatform.googleapis.com``, which serves
``us-central1``. A location in the path other than the endpoint's gets Google's 400 (see
``common.py``), so a kind that builds one client for every region fails here as it would there.

Semantics (sources in ``common.py`` and ``collections.py``): names carry the project number;
ids the caller does not give are the server's; creates, deletes and most updates answer a
``google.longrunning.Operation`` that is done after ``Delays.operation_for("aiplatform")``;
clients poll it at ``GET /ui/{operation name}`` (measured: every aiplatform_v1 REST client's
operations client lists ``/ui/...`` first) or ``/v1/...``. A resource is readable as soon as
its create is accepted; a delete removes it when its operation is done. A CMEK key must be
in the resource's region and usable by the project's Vertex AI service agent. The API is
``aiplatform.googleapis.com``, off in a new project.

State (JSON): ``resources`` name -> REST resource; ``operations`` name -> stored operation;
``projects`` number -> id (project ids seen, to gate numbered requests on the right project).
"""

from __future__ import annotations

import time
from typing import Any

from mlops_infra.emulator import operations
from mlops_infra.emulator.aiplatform.collections import (
    COLLECTIONS,
    Collection,
    Context,
    canonical_enums,
    stamped,
)
from mlops_infra.emulator.aiplatform.common import (
    GLOBAL_REGION,
    REGIONAL_PREFIX,
    TYPES,
    apply_mask,
    canonical_project,
    check_labels,
    check_mask,
    kms_key_error,
    location_mismatch,
    mask_paths,
    server_id,
)
from mlops_infra.emulator.core import Deferred, HttpError, Request, Response, Route, Service
from mlops_infra.emulator.util import int_param, page, rfc3339

LOC = "/projects/{project}/locations/{location}"
_PLAIN = {"endpoints": "endpoint", "tensorboards": "tensorboard",
          "featureOnlineStores": "featureOnlineStore", "metadataStores": "metadataStore"}
_VIEWS = "/featureOnlineStores/{featureOnlineStore}/featureViews"


class AiPlatformService(Service):
    """The Vertex AI collections mlops_infra manages, on every regional endpoint at once."""

    name = "aiplatform"
    api = "aiplatform.googleapis.com"
    api_title = "Vertex AI API"

    def __init__(self) -> None:
        super().__init__()
        self._endpoint_region = GLOBAL_REGION

    def initial_state(self) -> dict[str, Any]:
        return {"resources": {}, "operations": {}, "projects": {}}

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for plural, param in _PLAIN.items():
            base = "/v1" + LOC + f"/{plural}"
            routes += self._crud(base, "{" + param + "}", COLLECTIONS[plural])
        routes += self._crud("/v1" + LOC + _VIEWS, "{featureView}", COLLECTIONS["featureViews"])
        for prefix in ("/ui", "/v1"):          # /ui/... is where the REST clients poll
            for owner in ("", *(f"/{p}/{{{q}}}" for p, q in _PLAIN.items()),
                          _VIEWS + "/{featureView}"):
                routes.append(Route("GET", prefix + LOC + owner + "/operations/{operation}",
                                    self.get_operation))
        return routes

    def _crud(self, base: str, item: str, collection: Collection) -> list[Route]:
        routes = [Route("GET", base, lambda r: self.list(r, collection)),
                  Route("POST", base, lambda r: self.create(r, collection)),
                  Route("GET", f"{base}/{item}", lambda r: self.get(r, collection)),
                  Route("DELETE", f"{base}/{item}", lambda r: self.delete(r, collection))]
        if collection.updatable is not None:
            routes.append(Route("PATCH", f"{base}/{item}", lambda r: self.patch(r, collection)))
        return routes

    # -- the regional endpoint a request addressed ---------------------------------------------
    def dispatch(self, request: Request) -> Response | Deferred:
        head, _, rest = request.path.lstrip("/").partition("/")
        match = REGIONAL_PREFIX.match(head)
        self._endpoint_region = match.group(1) if match else GLOBAL_REGION
        if match:
            request.path = "/" + rest
        self._settle()
        return super().dispatch(request)

    def gate(self, request: Request) -> None:
        super().gate(request)
        location = request.params.get("location")
        if location is not None and location != self._endpoint_region:
            field = "parent" if request.path.rstrip("/").split("/")[-1] in COLLECTIONS \
                and request.method in ("GET", "POST") else "name"
            raise location_mismatch(field, self._endpoint_region)

    def project_of(self, request: Request) -> str | None:
        value = request.params.get("project")
        if not value:
            return None
        if value.isdigit():
            return self.state["projects"].get(value)
        self.state["projects"].setdefault(canonical_project(value), value)
        return value

    # -- handlers ---------------------------------------------------------------------------------
    def create(self, request: Request, collection: Collection) -> dict[str, Any]:
        parent = self._parent(request, collection)
        name = f"{parent}/{collection.plural}/{self._new_id(request, collection)}"
        if name in self.state["resources"]:
            raise HttpError(409, f"{collection.type_name} {name} already exists.",
                            status="ALREADY_EXISTS", reason="alreadyExists")
        body = {k: v for k, v in _object(request).items() if k not in collection.output_only}
        ctx = Context(project=self.project_of(request) or request.params["project"],
                      number=canonical_project(request.params["project"]),
                      location=request.params["location"], name=name, emulator=self.emulator)
        self._check_key(body, ctx)
        now = rfc3339(time.time())
        record = stamped({**collection.prepare(body, ctx), "name": name, "createTime": now},
                         collection, now)
        if collection.plural == "featureOnlineStores":
            record["state"] = "UPDATING"
        self.state["resources"][name] = record
        return self._operation(name, f"Create{collection.type_name}OperationMetadata",
                               effect={"settle": name})

    def get(self, request: Request, collection: Collection) -> dict[str, Any]:
        return dict(self._record(request, collection))

    def list(self, request: Request, collection: Collection) -> dict[str, Any]:
        prefix = self._parent(request, collection) + f"/{collection.plural}/"
        found = [r for n, r in self.state["resources"].items()
                 if n.startswith(prefix) and "/" not in n[len(prefix):]]
        size = int_param(request.query, "pageSize")
        chosen, token = page(found, key=lambda r: r["name"], max_results=size,
                             token=request.query.get("pageToken"), default_size=100)
        out: dict[str, Any] = {collection.plural: chosen} if chosen else {}
        if token:
            out["nextPageToken"] = token
        return out

    def patch(self, request: Request, collection: Collection) -> dict[str, Any]:
        record = self._record(request, collection)
        paths = mask_paths(request.query)
        check_mask(paths, collection.updatable or frozenset(), collection.type_name)
        body = _object(request)
        check_labels(body.get("labels"))
        changed = canonical_enums(dict(record))
        apply_mask(changed, canonical_enums(body), paths)
        if collection.plural == "featureOnlineStores" and "bigtable" in changed:
            collection.prepare({k: v for k, v in changed.items()
                                if k in ("bigtable", "labels")}, _ctx_of(record))
            kept = (record.get("bigtable") or {}).get("bigtableMetadata")
            if kept:                    # output only: a masked ``bigtable`` does not clear it
                changed["bigtable"]["bigtableMetadata"] = kept
        updated = stamped(changed, collection, rfc3339(time.time()))
        self.state["resources"][record["name"]] = updated
        if not collection.patch_is_operation:
            return dict(updated)
        if collection.plural == "featureOnlineStores":
            updated["state"] = "UPDATING"
        return self._operation(record["name"], f"Update{collection.type_name}OperationMetadata",
                               effect={"settle": record["name"]})

    def delete(self, request: Request, collection: Collection) -> dict[str, Any]:
        record = self._record(request, collection)
        children = [n for n in self.state["resources"] if n.startswith(record["name"] + "/")]
        if children and request.query.get("force", "").lower() != "true":
            raise HttpError(400, f"The FeatureOnlineStore {record['name']} has FeatureViews: "
                                 "delete them first or set force", status="FAILED_PRECONDITION")
        return self._operation(record["name"], collection.delete_metadata,
                               effect={"delete": record["name"]})

    def get_operation(self, request: Request) -> dict[str, Any]:
        name = request.path.split("/", 2)[2]
        name = _numbered(name)
        op = self.state["operations"].get(name)
        if op is None:
            raise HttpError(404, f"Operation {name} is not found.", status="NOT_FOUND")
        return operations.render(op)

    # -- helpers ----------------------------------------------------------------------------------
    def _parent(self, request: Request, collection: Collection) -> str:
        number = canonical_project(request.params["project"])
        parent = f"projects/{number}/locations/{request.params['location']}"
        if collection.parent is None:
            return parent
        store = f"{parent}/{collection.parent}/{request.params['featureOnlineStore']}"
        if store not in self.state["resources"]:
            raise HttpError(404, f"FeatureOnlineStore {store} is not found.", status="NOT_FOUND")
        return store

    def _new_id(self, request: Request, collection: Collection) -> str:
        given = request.query.get(collection.id_param) if collection.id_param else None
        if given:
            collection.check_id(given)
            return given
        if collection.generated_id is None:
            raise HttpError(400, f"{collection.id_param} is required", status="INVALID_ARGUMENT")
        return collection.generated_id()

    def _record(self, request: Request, collection: Collection) -> dict[str, Any]:
        leaf = request.path.rstrip("/").split("/")[-1]
        name = f"{self._parent(request, collection)}/{collection.plural}/{leaf}"
        record = self.state["resources"].get(name)
        if record is None:
            raise HttpError(404, f"{collection.type_name} {name} is not found.", status="NOT_FOUND")
        return record

    def _check_key(self, body: dict[str, Any], ctx: Context) -> None:
        key = (body.get("encryptionSpec") or {}).get("kmsKeyName")
        if key is None:
            return
        problem = kms_key_error(self.emulator, key=key, location=ctx.location, project=ctx.project)
        if problem is not None:
            raise problem

    def _operation(self, resource: str, metadata_type: str, *, effect: dict[str, Any]
                   ) -> dict[str, Any]:
        now = rfc3339(time.time())
        op = operations.start(
            self.state["operations"], name=f"{resource}/operations/{server_id()}",
            duration=self._duration(resource), effect=effect,
            metadata={"@type": TYPES + metadata_type,
                      "genericMetadata": {"createTime": now, "updateTime": now}})
        return operations.render(op)

    def _duration(self, resource: str) -> float:
        if self.emulator is None:
            return 0.0
        collection = resource.split("/")[-2]
        return float(self.emulator.delays.operation_for(f"aiplatform.{collection}"))

    def _settle(self) -> None:
        """Apply the effects of operations that are done, in the order they finished."""
        resources = self.state["resources"]
        for op in operations.due(self.state["operations"]):
            effect = op.get("effect") or {}
            if "delete" in effect:
                gone = effect["delete"]
                for name in [n for n in resources if n == gone or n.startswith(gone + "/")]:
                    del resources[name]
                op["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
            elif effect.get("settle") in resources:
                record = resources[effect["settle"]]
                if record.get("state") == "UPDATING":
                    record["state"] = "STABLE"
                type_name = COLLECTIONS[record["name"].split("/")[-2]].type_name
                op["response"] = {"@type": TYPES + type_name, **record}


def _object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object", status="INVALID_ARGUMENT")
    return body


def _numbered(name: str) -> str:
    """``projects/ID/...`` as the stored ``projects/NUMBER/...``."""
    parts = name.split("/")
    if len(parts) > 1 and parts[0] == "projects":
        parts[1] = canonical_project(parts[1])
    return "/".join(parts)


def _ctx_of(record: dict[str, Any]) -> Context:
    parts = record["name"].split("/")
    return Context(project=parts[1], number=parts[1], location=parts[3], name=record["name"])

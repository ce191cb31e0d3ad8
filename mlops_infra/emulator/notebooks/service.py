"""The Notebooks v2 service: Workbench instances, their start/stop, and operations.

Instances live in zones (``projects/P/locations/ZONE/instances/ID``); the rules of what a
create stores and an update may change are in ``instances.py``. Every mutation answers a
``google.longrunning.Operation`` (``projects/P/locations/ZONE/operations/operation-...``, polled
at ``GET /v2/{name}``, measured): a create takes ``Delays.operation_for("notebooks")`` and the
instance goes PROVISIONING -> ACTIVE when it is done; start, stop, update and delete take
``operation_for("notebooks.lifecycle")`` (stop: ACTIVE -> STOPPING -> STOPPED; start:
STOPPED -> STARTING -> ACTIVE; a delete removes it when done). Stopping a STOPPED instance
or starting an ACTIVE one is a no-op operation. While an operation of an instance runs,
another mutation of it is refused with 409 "unable to queue the operation" (the error
Terraform retries: magic-modules transport ``IsWorkbenchQueueError``). An instance with
``enableDeletionProtection`` cannot be deleted (400). The API is ``notebooks.googleapis.com``,
off in a new project. Listing ``projects/P/locations/-`` answers the instances of every zone
("``projects/{project_id}/locations/-`` to list instances in all locations": notebooks v2
discovery, ``instances.list`` ``parent``); ``-`` is refused anywhere else (400, as a location
that is not a zone). Simplifications: no zone is ever ``unreachable``; ``requestId`` is
accepted and ignored; list ``filter`` and ``orderBy`` are ignored; the network and subnet are
not looked up in Compute Engine.

State (JSON): ``instances`` name -> instance; ``operations`` name -> stored operation.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from mlops_infra.emulator import operations
from mlops_infra.emulator.core import HttpError, Request, Route, Service
from mlops_infra.emulator.notebooks import instances
from mlops_infra.emulator.notebooks.instances import COMPUTE_AGENT, INSTANCE_ID, ZONE, invalid
from mlops_infra.emulator.projects import project_number
from mlops_infra.emulator.util import int_param, page, rfc3339

LOC = "/v2/projects/{project}/locations/{location}"
INS = LOC + "/instances"
_TYPES = "type.googleapis.com/google.cloud.notebooks.v2."
_SETTLED_STATE = {"create": "ACTIVE", "start": "ACTIVE", "stop": "STOPPED", "update": None}
_DURING = {"start": "STARTING", "stop": "STOPPING"}


class NotebooksService(Service):
    """``projects.locations.instances`` and ``projects.locations.operations`` of Notebooks v2."""

    name = "notebooks"
    api = "notebooks.googleapis.com"
    api_title = "Notebooks API"

    def initial_state(self) -> dict[str, Any]:
        return {"instances": {}, "operations": {}}

    def project_of(self, request: Request) -> str | None:
        return request.params.get("project")

    def routes(self) -> list[Route]:
        return [
            Route("POST", INS + "/{instance}:start", lambda r: self.lifecycle(r, "start")),
            Route("POST", INS + "/{instance}:stop", lambda r: self.lifecycle(r, "stop")),
            Route("GET", INS, self.list_instances),
            Route("POST", INS, self.create_instance),
            Route("GET", INS + "/{instance}", self.get_instance),
            Route("PATCH", INS + "/{instance}", self.update_instance),
            Route("DELETE", INS + "/{instance}", self.delete_instance),
            Route("GET", LOC + "/operations/{operation}", self.get_operation),
        ]

    def gate(self, request: Request) -> None:
        super().gate(request)
        location = request.params.get("location", "")
        on_instances = "instance" in request.params or request.path.endswith("/instances")
        every_zone = location == "-" and request.method == "GET" and "instance" not in request.params
        if on_instances and not ZONE.match(location) and not every_zone:
            raise invalid(f"Invalid location {location!r}: Workbench instances live in a zone "
                          "(e.g. us-central1-a)")

    def dispatch(self, request: Request):  # type: ignore[no-untyped-def]
        self._settle()
        return super().dispatch(request)

    # -- instances -------------------------------------------------------------------------------
    def create_instance(self, request: Request) -> dict[str, Any]:
        instance_id = request.query.get("instanceId", "")
        if not INSTANCE_ID.match(instance_id):
            raise invalid(f"Invalid instance_id {instance_id!r}: 1-63 lowercase letters, digits "
                          "or hyphens, starting with a letter and not ending with a hyphen")
        name = f"{self._parent(request)}/instances/{instance_id}"
        if name in self.state["instances"]:
            raise HttpError(409, f"Resource '{name}' already exists", status="ALREADY_EXISTS",
                            reason="alreadyExists")
        project, zone = request.params["project"], request.params["location"]
        caller = self.emulator.platform.caller if self.emulator is not None else "owner@example.com"
        self.state["instances"][name] = instances.new_instance(
            _object(request), name=name, project=project, zone=zone, caller=caller,
            now=rfc3339(time.time()), key_error=lambda key: self._key_error(key, project))
        return self._operation(name, "create")

    def get_instance(self, request: Request) -> dict[str, Any]:
        return dict(self._instance(request))

    def list_instances(self, request: Request) -> dict[str, Any]:
        project, location = request.params["project"], request.params["location"]
        found = [i for n, i in self.state["instances"].items()
                 if n.split("/")[1] == project and location in ("-", n.split("/")[3])]
        chosen, token = page(found, key=lambda i: i["name"], max_results=int_param(
            request.query, "pageSize"), token=request.query.get("pageToken"), default_size=100)
        out: dict[str, Any] = {"instances": chosen} if chosen else {}
        if token:
            out["nextPageToken"] = token
        return out

    def update_instance(self, request: Request) -> dict[str, Any]:
        stored = self._idle_instance(request)
        paths = [p.strip() for p in request.query.get("updateMask", "").split(",") if p.strip()]
        body = _object(request)
        instances.check_update(stored, body, paths)
        updated = instances.apply_update(stored, body, paths)
        updated["updateTime"] = rfc3339(time.time())
        self.state["instances"][stored["name"]] = updated
        return self._operation(stored["name"], "update")

    def lifecycle(self, request: Request, verb: str) -> dict[str, Any]:
        stored = self._idle_instance(request)
        state = stored.get("state")
        if (verb, state) not in (("start", "STOPPED"), ("stop", "ACTIVE"), ("start", "ACTIVE"),
                                 ("stop", "STOPPED")):
            raise HttpError(400, f"Cannot {verb} instance {stored['name']} in state {state}",
                            status="FAILED_PRECONDITION")
        if _SETTLED_STATE[verb] != state:
            stored["state"] = _DURING[verb]
        return self._operation(stored["name"], verb)

    def delete_instance(self, request: Request) -> dict[str, Any]:
        stored = self._idle_instance(request)
        if stored.get("enableDeletionProtection"):
            raise HttpError(400, f"Instance {stored['name']} has deletion protection enabled",
                            status="FAILED_PRECONDITION")
        return self._operation(stored["name"], "delete")

    def get_operation(self, request: Request) -> dict[str, Any]:
        name = f"{request.path.split('/', 2)[2]}"
        op = self.state["operations"].get(name)
        if op is None:
            raise HttpError(404, f"Operation {name} not found", status="NOT_FOUND")
        return operations.render(op)

    # -- helpers ---------------------------------------------------------------------------------
    def _parent(self, request: Request) -> str:
        return f"projects/{request.params['project']}/locations/{request.params['location']}"

    def _instance(self, request: Request) -> dict[str, Any]:
        name = f"{self._parent(request)}/instances/{request.params['instance']}"
        found = self.state["instances"].get(name)
        if found is None:
            raise HttpError(404, f"Resource '{name}' was not found", status="NOT_FOUND")
        return found

    def _idle_instance(self, request: Request) -> dict[str, Any]:
        """The instance, when no operation of it is running (else Google's 409)."""
        found = self._instance(request)
        if any(op.get("effect", {}).get("instance") == found["name"] and not operations.is_done(op)
               for op in self.state["operations"].values()):
            raise HttpError(409, f"unable to queue the operation: instance {found['name']} has an "
                                 "operation in progress", status="ABORTED", reason="aborted")
        return found

    def _key_error(self, key: str, project: str) -> HttpError | None:
        kms = self.emulator.services.get("kms") if self.emulator is not None else None
        agent = COMPUTE_AGENT.format(number=project_number(project))
        if kms is None or kms.key_use_error(key, f"serviceAccount:{agent}") is None:
            return None
        return HttpError(400, f"Cloud KMS error when using key {key}: Permission "
                              "'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource "
                              f"'{key}' (or it may not exist).", status="FAILED_PRECONDITION")

    def _operation(self, instance: str, verb: str) -> dict[str, Any]:
        location = "/".join(instance.split("/")[:4])
        name = f"{location}/operations/operation-{int(time.time() * 1000)}-{secrets.token_hex(12)}"
        key = "notebooks" if verb == "create" else "notebooks.lifecycle"
        duration = self.emulator.delays.operation_for(key) if self.emulator is not None else 0.0
        op = operations.start(self.state["operations"], name=name, duration=duration,
                              effect={"instance": instance, "verb": verb},
                              metadata={"@type": _TYPES + "OperationMetadata",
                                        "createTime": rfc3339(time.time()), "target": instance,
                                        "verb": verb, "apiVersion": "v2",
                                        "requestedCancellation": False})
        return operations.render(op)

    def _settle(self) -> None:
        """Apply the effects of operations that are done, in the order they finished."""
        for op in operations.due(self.state["operations"]):
            effect = op.get("effect") or {}
            name, verb = str(effect.get("instance")), str(effect.get("verb"))
            stored = self.state["instances"].get(name)
            if stored is None:
                continue
            if verb == "delete":
                del self.state["instances"][name]
                op["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
                continue
            target = _SETTLED_STATE.get(verb)
            if target:
                stored["state"] = target
                if target == "ACTIVE":
                    stored["healthState"] = "HEALTHY"
                else:
                    stored.pop("healthState", None)
            op["response"] = {"@type": _TYPES + "Instance", **stored}


def _object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object")
    return body

"""The Resource Manager v3 service: projects get, project getIamPolicy / setIamPolicy.

Every project id "exists" (no create needed): its ``projectNumber`` is derived from the id
(``emulator.projects.project_number``, shared with other services), and a numeric id seen before resolves to its project. A fresh
project's policy has one binding, ``roles/owner`` for ``user:owner@example.com`` (a real
project always has an owner). Policy semantics are in ``policy.py``: the etag changes on
every set, a stale etag is 409 ABORTED, ``auditConfigs`` round-trip (set only when the
``updateMask`` names them; Google's default mask is ``bindings,etag``), members are checked
with ``emulator.member_error`` when the owning emulator offers it (400 "Service account X does
not exist.", 400 "Identity Pool does not exist (P.svc.id.goog)..."), and conditional bindings
follow the policy-version rules of ``policy.py``. The API is ``cloudresourcemanager``, which is
not enabled by default in a new project.

Test knob: ``set_policy_interference(resource, n=1, role=..., member=...)`` makes the next
``n`` setIamPolicy calls on ``resource`` (``projects/P``) first apply someone else's write
(that binding, a new etag), so a read-modify-write that read before it fails with 409.

State (JSON): ``projects`` id -> number; ``policies`` project id -> stored policy.
"""

from __future__ import annotations

import threading
from typing import Any

from mlops_infra.emulator.core import HttpError, Request, Route, Service
from mlops_infra.emulator.projects import project_number
from mlops_infra.emulator.resourcemanager import policy

P = "/v3/projects/{project}"
DEFAULT_OWNER = "user:owner@example.com"


class ResourceManagerService(Service):
    """Projects (read-only, all exist) and their IAM policies."""

    name = "resourcemanager"
    api = "cloudresourcemanager.googleapis.com"
    api_title = "Cloud Resource Manager API"

    def __init__(self) -> None:
        super().__init__()
        self._interference: dict[str, dict[str, Any]] = {}
        self._knob_lock = threading.Lock()

    def initial_state(self) -> dict[str, Any]:
        return {"projects": {}, "policies": {}}

    def routes(self) -> list[Route]:
        return [
            Route("GET", P, self.get_project),
            Route("POST", P + ":getIamPolicy", self.get_iam_policy),
            Route("POST", P + ":setIamPolicy", self.set_iam_policy),
        ]

    def project_of(self, request: Request) -> str | None:
        value = request.params.get("project", "")
        if value.isdigit():
            return next((pid for pid, num in self.state["projects"].items() if num == value), None)
        return value or None

    # -- knobs --------------------------------------------------------------------------
    def set_policy_interference(self, resource: str, *, n: int = 1,
                                role: str = "roles/viewer",
                                member: str = "user:concurrent-writer@example.com") -> None:
        """The next ``n`` sets on ``resource`` ("projects/P") lose a race to another writer."""
        with self._knob_lock:
            self._interference[resource] = {"n": n, "role": role, "member": member}

    # -- handlers -----------------------------------------------------------------------
    def get_project(self, request: Request) -> dict[str, Any]:
        project = self._project_id(request)
        return {"name": f"projects/{self.state['projects'][project]}", "projectId": project,
                "displayName": project, "state": "ACTIVE", "parent": "organizations/0",
                "createTime": "2020-01-01T00:00:00Z", "etag": policy.etag_of(0)}

    def get_iam_policy(self, request: Request) -> dict[str, Any]:
        project = self._project_id(request)
        options = _body(request).get("options") or {}
        version = int(options.get("requestedPolicyVersion") or 0)
        return policy.render(self._stored(project), requested_version=version)

    def set_iam_policy(self, request: Request) -> dict[str, Any]:
        project = self._project_id(request)
        body = _body(request)
        self._interfere(project)
        stored = self._stored(project)
        wanted = body.get("policy")
        if isinstance(wanted, dict) and policy.is_stale(stored, wanted):
            raise HttpError(409, "There were concurrent policy changes. Please retry the whole "
                                 "read-modify-write with exponential backoff.",
                            status="ABORTED", reason="aborted")
        mask = policy.parse_mask(body.get("updateMask"))
        checker = getattr(self.emulator, "member_error", None)
        self.state["policies"][project] = policy.replace(stored, wanted, mask=mask,
                                                         member_error=checker)
        return policy.render(self.state["policies"][project], requested_version=3)

    # -- helpers ------------------------------------------------------------------------
    def _interfere(self, project: str) -> None:
        with self._knob_lock:
            knob = self._interference.get(f"projects/{project}")
            if not knob or knob["n"] <= 0:
                return
            knob["n"] -= 1
        self.state["policies"][project] = policy.add_binding(
            self._stored(project), role=knob["role"], member=knob["member"])

    def _stored(self, project: str) -> dict[str, Any]:
        if project not in self.state["policies"]:
            self.state["policies"][project] = policy.empty(
                [{"role": "roles/owner", "members": [DEFAULT_OWNER]}])
        return self.state["policies"][project]

    def _project_id(self, request: Request) -> str:
        """The project id addressed (a known project number resolves to its id)."""
        value = request.params["project"]
        projects = self.state["projects"]
        if value.isdigit():
            found = next((pid for pid, num in projects.items() if num == value), None)
            if found is None:
                raise HttpError(403, f"Permission denied on resource project {value}, or it "
                                     "may not exist.", status="PERMISSION_DENIED",
                                reason="forbidden")
            return found
        if not _valid_project_id(value):
            raise HttpError(400, f"Invalid project id: {value!r}")
        projects.setdefault(value, project_number(value))
        return value


def _valid_project_id(value: str) -> bool:
    return 4 <= len(value) <= 30 and value[0].isalpha() and \
        all(ch.islower() or ch.isdigit() or ch == "-" for ch in value)


def _body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object")
    return body

"""IAM binding kinds on projects and service accounts: ``iam.ProjectBindings``,
``iam.ServiceAccountBindings``.

Both are additive (see ``kinds/_iam_policy.py``): only the (role, member) pairs a resource
lists are managed; ``authoritative: true`` on a role owns its whole member list; a binding
resource removed from the spec takes back only the members it had applied.

    kind: iam.ProjectBindings          # the project is the envelope's ``project``
    bindings:
      - role: roles/bigquery.jobUser
        members: [serviceAccount:${trainer.email}]

    kind: iam.ServiceAccountBindings   # Workload Identity: a KSA may act as the GSA
    serviceAccount: ${trainer.email}
    bindings:
      - role: roles/iam.workloadIdentityUser
        members: ["serviceAccount:my-project.svc.id.goog[ml/trainer]"]

Project policies are read and written with Resource Manager v3 (``getIamPolicy`` asks for
policy version 3, so conditional bindings round-trip); a stale etag answers 409 ABORTED,
which the base turns into a re-read. Guardrails: ``no-public-members`` (``allUsers``,
``allAuthenticatedUsers``) everywhere, and ``no-primitive-roles`` (``roles/owner``,
``roles/editor``, ``roles/viewer``) on projects. Identities:
``projects/P/iamBindings/ADDRESS`` and ``projects/P/serviceAccounts/EMAIL/iamBindings/ADDRESS``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mlops_infra.engine.kind import ResourceContext, ResourceId, Violation
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, translate_errors
from mlops_infra.kinds._clients import IAM, RESOURCE_MANAGER
from mlops_infra.kinds._iam_policy import BindingsSpec, IamBindingsKind

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
PRIMITIVE_RULE = {"no-primitive-roles": "no roles/owner, roles/editor, roles/viewer on the project"}


# --- protobuf Policy <-> REST JSON ------------------------------------------------------

def policy_to_json(policy: Any) -> dict[str, Any]:
    """A ``google.iam.v1.Policy`` message as REST JSON (base64 etag, camelCase fields)."""
    from google.protobuf import json_format

    return json_format.MessageToDict(policy)


def policy_from_json(policy: dict[str, Any]) -> Any:
    from google.iam.v1 import policy_pb2
    from google.protobuf import json_format

    return json_format.ParseDict(policy, policy_pb2.Policy(), ignore_unknown_fields=True)


def read_project_policy(clients: Any, project: str) -> dict[str, Any] | None:
    """The project's policy (version 3) as REST JSON; ``None`` when the project is not found."""
    from google.api_core.exceptions import NotFound

    def read() -> dict[str, Any] | None:
        with translate_errors(f"IAM policy of projects/{project}"):
            try:
                policy = clients.get(RESOURCE_MANAGER).get_iam_policy(
                    request={"resource": f"projects/{project}",
                             "options": {"requested_policy_version": 3}}, **CALL)
            except NotFound:
                return None
        return policy_to_json(policy)
    # Project bindings and audit configs read the same policy: once per plan.
    return clients.read_once(("crm.policy", project), read)  # type: ignore[no-any-return]


def write_project_policy(clients: Any, project: str, policy: dict[str, Any], *,
                         fields: tuple[str, ...] = ("bindings", "etag")) -> dict[str, Any]:
    """Set the project's policy; ``fields`` is the update mask (proto names)."""
    from google.protobuf import field_mask_pb2

    with translate_errors(f"IAM policy of projects/{project}"):
        result = clients.get(RESOURCE_MANAGER).set_iam_policy(
            request={"resource": f"projects/{project}", "policy": policy_from_json(policy),
                     "update_mask": field_mask_pb2.FieldMask(paths=list(fields))}, **CALL)
    return policy_to_json(result)


# --- iam.ProjectBindings -----------------------------------------------------------------

class ProjectBindingsSpec(BindingsSpec):
    """(role, member) pairs on the resource's project (the envelope's ``project``)."""


@register
class ProjectBindings(IamBindingsKind):
    """IAM bindings on a project's policy (additive)."""

    name = "iam.ProjectBindings"
    layer = "Security"
    model = ProjectBindingsSpec
    api = "cloudresourcemanager.googleapis.com"
    uses = (RESOURCE_MANAGER,)
    guardrails = {**IamBindingsKind.guardrails, **PRIMITIVE_RULE}

    def target(self, ctx: ResourceContext, fields: dict[str, Any]) -> str:
        return f"projects/{ctx.project}"

    def get_policy(self, rid: ResourceId) -> dict[str, Any] | None:
        return read_project_policy(self.clients, rid.parts["projects"])

    def set_policy(self, rid: ResourceId, policy: dict[str, Any]) -> dict[str, Any]:
        return write_project_policy(self.clients, rid.parts["projects"], policy)

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        return super().check_policy(desired, policy) + primitive_role_violations(desired)


def primitive_role_violations(desired: dict[str, Any]) -> list[Violation]:
    """``no-primitive-roles``: owner/editor/viewer grant far more than any workload needs."""
    found = []
    for key, members in desired.get("bindings", {}).items():
        role = key.split(" if ", 1)[0]
        if role in PRIMITIVE_ROLES:
            who = ", ".join(sorted(members))
            found.append(Violation(rule="no-primitive-roles", path="bindings",
                                   message=f"primitive role {role} granted to {who}; "
                                           "use a predefined or custom role"))
    return found


# --- iam.ServiceAccountBindings -----------------------------------------------------------

class ServiceAccountBindingsSpec(BindingsSpec):
    """(role, member) pairs on a service account's own policy (who may act as it)."""

    serviceAccount: str = Field(description="the service account's email, e.g. ${trainer.email}")


@register
class ServiceAccountBindings(IamBindingsKind):
    """IAM bindings on a service account (e.g. Workload Identity users), additive."""

    name = "iam.ServiceAccountBindings"
    layer = "Security"
    model = ServiceAccountBindingsSpec
    api = "iam.googleapis.com"
    uses = (IAM,)

    def target(self, ctx: ResourceContext, fields: dict[str, Any]) -> str:
        return f"projects/{ctx.project}/serviceAccounts/{fields['serviceAccount']}"

    def get_policy(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        resource = self.target_of(rid)

        def read() -> dict[str, Any] | None:
            with translate_errors(f"IAM policy of {resource}"):
                try:
                    policy = self.clients.get(IAM).get_iam_policy(
                        request={"resource": resource,
                                 "options": {"requested_policy_version": 3}}, **CALL)
                except NotFound:
                    return None
            return policy_to_json(policy)
        return self.clients.read_once(("iam.policy", resource), read)  # type: ignore[no-any-return]

    def set_policy(self, rid: ResourceId, policy: dict[str, Any]) -> dict[str, Any]:
        resource = self.target_of(rid)
        with translate_errors(f"IAM policy of {resource}"):
            result = self.clients.get(IAM).set_iam_policy(
                request={"resource": resource, "policy": policy_from_json(policy)}, **CALL)
        return policy_to_json(result)

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

Moving in: ``google_project_iam_member``/``_binding``/``_policy`` and
``google_service_account_iam_member``/``_binding``/``_policy`` (``service_account_id`` is
``projects/P/serviceAccounts/EMAIL``, magic-modules ``iam_service_account.go.tmpl``). A live
project policy imports as one ``project-iam`` resource without Google's own members and
without ``roles/owner`` (so no edit of an imported spec can take the owners away); live
service-account policies one resource per account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from mlops_infra.engine.kind import ResourceContext, ResourceId, Violation
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, translate_errors
from mlops_infra.kinds._clients import IAM, RESOURCE_MANAGER
from mlops_infra.kinds._iam_policy import BindingsSpec, IamBindingsKind, google_managed_member

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
    name_pattern = "projects/*/iamBindings/*"
    layer = "Security"
    model = ProjectBindingsSpec
    api = "cloudresourcemanager.googleapis.com"
    uses = (RESOURCE_MANAGER,)
    guardrails = {**IamBindingsKind.guardrails, **PRIMITIVE_RULE}
    terraform_types = ("google_project_iam_member", "google_project_iam_binding",
                       "google_project_iam_policy")

    def target(self, ctx: ResourceContext, fields: dict[str, Any]) -> str:
        return f"projects/{ctx.project}"

    def terraform_target(self, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        return {}, attributes.get("project")

    def keep_live_member(self, role: str, member: str) -> bool:
        return role != "roles/owner" and not google_managed_member(member)

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        policy = read_project_policy(self.clients, project)
        if policy is None:
            return {}
        return {f"projects/{project}/iamBindings/project-iam": {"policy": policy, "target": {},
                                                                 "project": project}}

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
    name_pattern = "projects/*/serviceAccounts/*/iamBindings/*"
    layer = "Security"
    model = ServiceAccountBindingsSpec
    api = "iam.googleapis.com"
    uses = (IAM,)
    terraform_types = ("google_service_account_iam_member", "google_service_account_iam_binding",
                       "google_service_account_iam_policy")
    terraform_refs = {**IamBindingsKind.terraform_refs, "serviceAccount": "email"}

    def target(self, ctx: ResourceContext, fields: dict[str, Any]) -> str:
        return f"projects/{ctx.project}/serviceAccounts/{fields['serviceAccount']}"

    def terraform_target(self, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        account = str(attributes["service_account_id"])
        parts = account.split("/")
        project = parts[1] if len(parts) == 4 and parts[0] == "projects" else None
        return {"serviceAccount": parts[-1]}, project

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        with translate_errors(f"service accounts in projects/{project}"):
            emails = [a.email for a in self.clients.get(IAM).list_service_accounts(
                request={"name": f"projects/{project}"}, **CALL)]
        found = {}
        for email in emails:
            rid = self.id_from_name(f"projects/{project}/serviceAccounts/{email}/iamBindings/"
                                    f"{email.split('@')[0]}-iam")
            policy = self.get_policy(rid)
            if policy and policy.get("bindings"):
                found[rid.name] = {"policy": policy, "target": {"serviceAccount": email},
                                   "project": project}
        return found

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

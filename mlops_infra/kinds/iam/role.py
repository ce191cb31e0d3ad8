"""``iam.Role``: a project custom role.

| field                 | notes                                                              |
|-----------------------|--------------------------------------------------------------------|
| `roleId`              | 3-64 of letters, digits, `_`, `.`; default: the resource name with `-` -> `_` |
| `title`               | at most 100 characters                                             |
| `description`         | at most 300 characters                                             |
| `includedPermissions` | list of permissions (`service.resource.verb`); order is ignored    |
| `stage`               | `ALPHA` (API default), `BETA`, `GA`, `DEPRECATED`, `DISABLED`, `EAP` |

Identity ``projects/{project}/roles/{roleId}``, listed per ``projects/{project}`` (FULL view,
deleted roles left out). Output: ``name`` (what bindings use as the role), ``roleId``.

IAM deletes custom roles **softly**: a deleted role stays, marked ``deleted``, for 7 days,
during which it can be undeleted and its id cannot be used for a new role; after that it is
purged and the id is free again. So ``delete`` here is a soft delete, a deleted role reads as
absent, and creating a role whose id belongs to a soft-deleted role **undeletes it and
updates it** to the spec (instead of failing until the 7 days are over). Only one this stack
can prove its own is created so (``soft_delete``: its delete keeps this stack's intent);
another's soft-deleted role of that id is a conflict in the plan. Past those 7 days
the role is permanently deleted and purged for 30 more: it can be neither undeleted nor its id
reused until about 37 days after the deletion (IAM custom-roles guide); such a create fails
permanently with a message saying so (choose another ``roleId``).

Moving in: ``google_project_iam_custom_role`` and live roles (the role id is the entry's
``name``). The provider's default stage is ``GA`` while the API's is ``ALPHA``, so a stage
other than ``ALPHA`` is written (left out, the role would be created differently).
A role Terraform shows as ``deleted`` is not imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, with_defaults
from mlops_infra.kinds._clients import IAM
from mlops_infra.kinds._imports import leftovers, put
from mlops_infra.kinds._names import RoleId, role_id_problem
from mlops_infra.kinds.iam._messages import IAM_API, as_rest, iam_errors

_PAGE_SIZE = 100
_FULL_VIEW = 1   # iam_admin_v1.RoleView.FULL (BASIC, the default, omits the permissions)
# spec/REST field -> (proto field, value meaning "unset")
_FIELDS: dict[str, tuple[str, Any]] = {
    "title": ("title", ""), "description": ("description", ""),
    "includedPermissions": ("included_permissions", []), "stage": ("stage", "ALPHA")}
_LIVE_DEFAULTS = {"title": "", "description": "", "includedPermissions": [], "stage": "ALPHA"}

Keys = list[str]   # module-level: inside Role, ``list`` names the method

Stage = Literal["ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"]


class RoleSpec(SpecModel):
    """A project custom role (REST field names of ``Role``)."""

    roleId: RoleId | None = None
    title: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=300)
    includedPermissions: list[str] | None = None
    stage: Stage | None = None


def _default_role_id(ctx: ResourceContext) -> str:
    return ctx.name.replace("-", "_")


def _role_id(ctx: ResourceContext, fields: dict[str, Any]) -> str:
    role_id = fields.get("roleId") or _default_role_id(ctx)
    problem = role_id_problem(role_id)
    if problem:
        raise errors.SpecError(f"{problem} (set 'roleId' or rename the resource)",
                               field=f"{ctx.address}.roleId")
    return role_id


def _canonical(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    if isinstance(out.get("includedPermissions"), list):
        out["includedPermissions"] = sorted(set(out["includedPermissions"]))
    return out


def _imported(role_id: str, project: str | None, title: Any, description: Any,
              permissions: Any, stage: Any) -> Imported:
    fields: dict[str, Any] = {}
    put(fields, "title", title)
    put(fields, "description", description)
    put(fields, "includedPermissions", sorted(set(permissions or [])))
    put(fields, "stage", stage, default="ALPHA")
    return Imported(name=role_id, project=project, fields=fields)


def _role_body(desired: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The proto ``Role`` fields for ``keys``, unset ones at the API's default."""
    return {_FIELDS[k][0]: desired.get(k, _FIELDS[k][1]) for k in keys}


@register
class Role(Kind):
    """A project custom role (soft-deleted; see the module docstring)."""

    name = "iam.Role"
    name_pattern = "projects/*/roles/*"
    layer = "Security"
    model = RoleSpec
    outputs = frozenset({"name", "roleId"})
    labels_path = None
    api = IAM_API
    uses = (IAM,)
    list_keys = {"includedPermissions": ""}
    # "you can undelete a role within 7 days" (IAM custom-roles guide): a create of its id
    # undeletes it, so a plan creates one only when this stack can prove it its own
    soft_delete = "7 days"

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        if fields.get("roleId"):
            return None                     # the model checked it where it is written
        problem = role_id_problem(_default_role_id(ctx))
        return f"{problem} (the role id is the name with '-' as '_' unless 'roleId' is set)" \
            if problem else None

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        role_id = _role_id(ctx, fields)
        return ResourceId(kind=self.name, name=f"projects/{ctx.project}/roles/{role_id}",
                          scope=f"projects/{ctx.project}",
                          parts={"projects": ctx.project, "roles": role_id})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return _canonical({k: v for k, v in fields.items() if k != "roleId"})

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return _canonical(with_defaults(live, _LIVE_DEFAULTS))

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.name, "roleId": rid.parts["roles"]}

    # --- moving in ---
    terraform_types = ("google_project_iam_custom_role",)

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        if a.get("deleted"):
            raise NotImportable("the role is deleted")
        item = _imported(str(a["role_id"]), a.get("project"), a.get("title"), a.get("description"),
                         a.get("permissions"), a.get("stage"))
        notes = leftovers(a, ("role_id", "title", "description", "permissions", "stage", "deleted",
                              "name"))
        return [Imported(name=item.name, project=item.project, fields=item.fields, notes=notes)]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        parts = self.id_from_name(name).parts
        return [_imported(parts["roles"], parts["projects"], live.get("title"),
                          live.get("description"), live.get("includedPermissions"),
                          live.get("stage"))]

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        return {name: role for name, role in self._listing(scope).items() if not role.get("deleted")}

    def list_deleted(self, scope: str) -> dict[str, dict[str, Any]]:
        """Soft-deleted roles of ``scope`` (restorable by ``UndeleteRole`` for 7 days)."""
        return {name: role for name, role in self._listing(scope).items() if role.get("deleted")}

    def _listing(self, scope: str) -> dict[str, dict[str, Any]]:
        """Every role of ``scope``, soft-deleted ones too (``show_deleted``): one call per plan
        for both ``list`` and ``list_deleted``."""
        def read() -> dict[str, dict[str, Any]]:
            with iam_errors(f"roles in {scope}"):
                pager = self.clients.get(IAM).list_roles(
                    request={"parent": scope, "view": _FULL_VIEW, "page_size": _PAGE_SIZE,
                             "show_deleted": True}, **CALL)
                return {role.name: as_rest(role) for role in pager}

        return self.clients.read_once(("iam.roles", scope), read)  # type: ignore[no-any-return]

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        live = self._read(rid)
        return None if live is None or live.get("deleted") else live

    def _read(self, rid: ResourceId) -> dict[str, Any] | None:
        """The role even when soft-deleted, or ``None`` (never created, or purged)."""
        from google.api_core.exceptions import NotFound

        with iam_errors(f"role {rid.name}"):
            try:
                role = self.clients.get(IAM).get_role(request={"name": rid.name}, **CALL)
                return as_rest(role)
            except NotFound:
                return None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition

        with iam_errors(f"role {rid.name}"):
            try:
                role = self.clients.get(IAM).create_role(request={
                    "parent": rid.scope, "role_id": rid.parts["roles"],
                    "role": _role_body(desired, [k for k in _FIELDS if k in desired])}, **CALL)
                return as_rest(role)
            except AlreadyExists as exc:
                raise errors.Conflict(f"409 Conflict: role {rid.name} already exists",
                                      status=409) from exc
            except FailedPrecondition:
                return self._undelete_and_update(rid, desired)

    def _undelete_and_update(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        """Its id belongs to a soft-deleted role: bring that one back, then set the spec."""
        from google.api_core.exceptions import FailedPrecondition, NotFound

        try:
            self.clients.get(IAM).undelete_role(request={"name": rid.name}, **CALL)
        except FailedPrecondition:
            pass   # not deleted (any more): someone undeleted it meanwhile
        except NotFound as exc:
            raise errors.PermanentError(
                f"role {rid.name}: its id belongs to a role deleted more than 7 days ago, which "
                "can no longer be undeleted and is being purged; the id can be used again about "
                "37 days after the deletion: choose another roleId") from exc
        return self._write(rid, desired, list(_FIELDS), etag=b"")

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        keys = sorted({c.path.split(".")[0] for c in changes} & set(_FIELDS))
        if not keys:
            return live
        etag = live.get("etag") or ""
        with iam_errors(f"role {rid.name}"):
            return self._write(rid, desired, keys, etag=_b64(etag))

    def _write(self, rid: ResourceId, desired: dict[str, Any], keys: Keys, *,
               etag: bytes) -> dict[str, Any]:
        role = self.clients.get(IAM).update_role(request={
            "name": rid.name, "role": {**_role_body(desired, keys), "etag": etag},
            "update_mask": {"paths": [_FIELDS[k][0] for k in keys]}}, **CALL)
        return as_rest(role)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        with iam_errors(f"role {rid.name}"):
            try:
                self.clients.get(IAM).delete_role(request={"name": rid.name}, **CALL)
            except (NotFound, FailedPrecondition):
                return   # gone, or already (soft-)deleted


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)

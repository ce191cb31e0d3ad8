"""Custom roles of projects and organizations, with IAM's soft delete.

``DeleteRole`` only marks a role ``deleted``: it stays readable (``GetRole``, and
``ListRoles`` with ``show_deleted``) and ``UndeleteRole`` restores it for 7 days. Then it is
permanently deleted: a 30-day purge during which it can be neither read nor undeleted
(NOT_FOUND) and its id cannot be reused (``CreateRole`` FAILED_PRECONDITION); about 37 days
after the deletion the id is free again. Sources: IAM v1 discovery ``roles.delete`` ("You
have 7 days to undelete the custom role. After 7 days ... permanently deleted and cannot be
recovered") and the IAM custom-roles guide ("After the role has been permanently deleted, 37
days after the initial deletion request, you can create a new role using the same role ID"). ``ListRoles`` defaults to the BASIC view (no ``included_permissions``).
Predefined roles (``roles/...``) are answered by ``GetRole`` with a stub; their list is empty.
"""

from __future__ import annotations

import re
from typing import Any

from google.cloud.iam_admin_v1.types import iam

from mlops_infra.emulator.iam.common import (
    already_exists,
    check_etag,
    etag_bytes,
    invalid,
    mask_aliases,
    mask_fields,
    new_etag,
    not_found,
    page,
    precondition,
)

SOFT_DELETE_SECONDS = 7 * 24 * 3600
PURGE_SECONDS = 30 * 24 * 3600
_PARENT = re.compile(r"^(projects|organizations)/[^/]+$")
_ROLE_ID = re.compile(r"^[a-zA-Z0-9_.]{3,64}$")
_CUSTOM_NAME = re.compile(r"^(projects|organizations)/[^/]+/roles/[^/]+$")
_PERMISSION = re.compile(r"^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+){2,}$")
_UPDATABLE = mask_aliases("title", "description", "included_permissions", "stage")
_STORED = ("name", "title", "description", "included_permissions", "stage", "deleted")


def to_message(record: dict[str, Any], *, full: bool = True) -> iam.Role:
    fields = {k: record[k] for k in _STORED}
    if not full:
        fields.pop("included_permissions")
    return iam.Role(**fields, etag=etag_bytes(record["etag"]))


class Roles:
    """Handlers of the custom-role RPCs over a shared state dict and clock."""

    def __init__(self, service: Any) -> None:
        self._svc = service

    @property
    def _roles(self) -> dict[str, dict[str, Any]]:
        return self._svc.state["roles"]

    def create(self, request: iam.CreateRoleRequest) -> iam.Role:
        if not _PARENT.match(request.parent):
            raise invalid(f"Invalid parent '{request.parent}': projects/P or organizations/O")
        if not _ROLE_ID.match(request.role_id):
            raise invalid(f"Invalid role_id '{request.role_id}': 3-64 letters, digits, '_' or '.'")
        name = f"{request.parent}/roles/{request.role_id}"
        if self._purging(name):
            raise precondition(f"You can't create a role with role_id ({request.role_id}): a role "
                               f"with that role_id in {request.parent} was deleted and is being "
                               "purged; the id can be used again about 37 days after the deletion")
        existing = self._lookup(name)
        if existing is not None and existing["deleted"]:
            raise precondition(f"You can't create a role with role_id ({request.role_id}) where "
                               f"there is an existing role with that role_id in a deleted state "
                               f"in {request.parent}: undelete it, or wait 7 days after deletion")
        if existing is not None:
            raise already_exists(f"A role named {request.role_id} in {request.parent} "
                                 "already exists.")
        _validate(request.role)
        record = {"name": name, "title": request.role.title,
                  "description": request.role.description,
                  "included_permissions": list(request.role.included_permissions),
                  "stage": request.role.stage.name, "deleted": False,
                  "etag": new_etag(self._svc.state), "delete_time": None}
        self._roles[name] = record
        return to_message(record)

    def get(self, request: iam.GetRoleRequest) -> iam.Role:
        if request.name.startswith("roles/"):
            return iam.Role(name=request.name, title=request.name[len("roles/"):],
                            stage=iam.Role.RoleLaunchStage.GA, etag=b"AA==")
        return to_message(self._find(request.name))

    def list(self, request: iam.ListRolesRequest) -> iam.ListRolesResponse:
        if request.parent and not _PARENT.match(request.parent):
            raise invalid(f"Invalid parent '{request.parent}'")
        prefix = f"{request.parent}/roles/" if request.parent else None
        roles = [r for name in list(self._roles) if prefix and name.startswith(prefix)
                 for r in [self._lookup(name)] if r and (request.show_deleted or not r["deleted"])]
        chosen, token = page(roles, key=lambda r: r["name"], size=request.page_size,
                             token=request.page_token)
        full = request.view == iam.RoleView.FULL
        return iam.ListRolesResponse(roles=[to_message(r, full=full) for r in chosen],
                                     next_page_token=token)

    def update(self, request: iam.UpdateRoleRequest) -> iam.Role:
        record = self._find(request.name)
        if record["deleted"]:
            raise precondition(f"You can't update the deleted role {request.name}; undelete it first")
        check_etag(request.role.etag, record["etag"], f"role {request.name}")
        paths = list(request.update_mask.paths) or ["title", "description",
                                                     "included_permissions", "stage"]
        _validate(request.role)
        for field in mask_fields(paths, _UPDATABLE, "a role"):
            value = getattr(request.role, field)
            record[field] = (value.name if field == "stage"
                             else list(value) if field == "included_permissions" else value)
        record["etag"] = new_etag(self._svc.state)
        return to_message(record)

    def delete(self, request: iam.DeleteRoleRequest) -> iam.Role:
        record = self._find(request.name)
        if record["deleted"]:
            raise precondition(f"The role {request.name} is already deleted")
        check_etag(request.etag, record["etag"], f"role {request.name}")
        record.update(deleted=True, delete_time=self._svc.clock(), etag=new_etag(self._svc.state))
        return to_message(record)

    def undelete(self, request: iam.UndeleteRoleRequest) -> iam.Role:
        record = self._find(request.name)
        if not record["deleted"]:
            raise precondition(f"The role {request.name} is not deleted")
        check_etag(request.etag, record["etag"], f"role {request.name}")
        record.update(deleted=False, delete_time=None, etag=new_etag(self._svc.state))
        return to_message(record)

    # -- lookups ------------------------------------------------------------------------
    def _deleted_for(self, record: dict[str, Any] | None) -> float | None:
        if not record or not record["deleted"]:
            return None
        return float(self._svc.clock() - record["delete_time"])

    def _purging(self, name: str) -> bool:
        """Past its 7 undelete days, within its 30-day purge: invisible, id not reusable."""
        age = self._deleted_for(self._roles.get(name))
        return age is not None and SOFT_DELETE_SECONDS <= age < SOFT_DELETE_SECONDS + PURGE_SECONDS

    def _lookup(self, name: str) -> dict[str, Any] | None:
        """The role (deleted or not); ``None`` once past its undelete days (gone for good)."""
        record = self._roles.get(name)
        age = self._deleted_for(record)
        if age is not None and age >= SOFT_DELETE_SECONDS:
            if age >= SOFT_DELETE_SECONDS + PURGE_SECONDS:
                del self._roles[name]
            return None
        return record

    def _find(self, name: str) -> dict[str, Any]:
        if not _CUSTOM_NAME.match(name):
            raise invalid(f"Invalid role name '{name}'")
        record = self._lookup(name)
        if record is None:
            raise not_found(f"The role named {name} was not found.")
        return record


def _validate(role: iam.Role) -> None:
    if len(role.title) > 100:
        raise invalid("title is longer than 100 characters")
    if len(role.description) > 300:
        raise invalid("description is longer than 300 characters")
    bad = [p for p in role.included_permissions if not _PERMISSION.match(p)]
    if bad:
        raise invalid(f"Permission {bad[0]} is not valid.")

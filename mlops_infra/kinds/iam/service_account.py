"""``iam.ServiceAccount``: a user-managed service account of a project.

| field         | notes                                                                   |
|---------------|-------------------------------------------------------------------------|
| `accountId`   | 6-30 of `a-z`, `0-9`, `-`, starting with a letter; default: the resource name |
| `displayName` | at most 100 characters                                                  |
| `description` | at most 256 characters                                                  |
| `disabled`    | `true` disables the account (API default `false`)                       |

Identity ``projects/{project}/serviceAccounts/{email}`` with email
``{accountId}@{project}.iam.gserviceaccount.com``; listed per ``projects/{project}``.
Outputs: ``email``, ``member`` (``serviceAccount:EMAIL``) and ``name`` are known before
creation (so bindings can reference them in the same plan); ``id`` (the numeric
``uniqueId``) after. No labels. Deleting an account breaks every workload and binding using
it, and a recreated account is a different principal, so removal from the spec is
treated like data loss: blocked unless ``--allow-data-loss``.

Moving in: ``google_service_account`` and live accounts (the account id is the entry's
``name``); the default service accounts Google creates in a project (Compute Engine's
``NUM-compute@developer``, App Engine's ``PROJECT@appspot``: any email outside
``PROJECT.iam.gserviceaccount.com``) are left out of live imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Imported, ImportedList, Kind, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.engine.waiting import wait_until_done
from mlops_infra.kinds._base import (
    CALL,
    FieldChanges,
    SpecModel,
    readable_deadline,
    with_defaults,
)
from mlops_infra.kinds._clients import IAM
from mlops_infra.kinds._imports import leftovers, put
from mlops_infra.kinds._names import AccountId, account_id_problem
from mlops_infra.kinds.iam._messages import IAM_API, as_rest, iam_errors

_PAGE_SIZE = 100
_LIVE_DEFAULTS = {"displayName": "", "description": "", "disabled": False}
_PATCHABLE = {"displayName": "display_name", "description": "description"}


class ServiceAccountSpec(SpecModel):
    """A service account (REST field names of ``ServiceAccount``)."""

    accountId: AccountId | None = None
    displayName: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=256)
    disabled: bool | None = None


def account_email(project: str, account_id: str) -> str:
    return f"{account_id}@{project}.iam.gserviceaccount.com"


def _account_id(ctx: ResourceContext, fields: dict[str, Any]) -> str:
    account_id = fields.get("accountId") or ctx.name
    problem = account_id_problem(account_id)
    if problem:
        raise errors.SpecError(f"{problem} (set 'accountId' or rename the resource)",
                               field=f"{ctx.address}.accountId")
    return account_id


def _imported(account_id: str, project: str | None, display: Any, description: Any,
              disabled: Any) -> Imported:
    fields: dict[str, Any] = {}
    put(fields, "displayName", display)
    put(fields, "description", description)
    if disabled:
        fields["disabled"] = True
    return Imported(name=account_id, project=project, fields=fields)


def _parts(rid: ResourceId) -> tuple[str, str]:
    return rid.parts["projects"], rid.parts["serviceAccounts"]


@register
class ServiceAccount(Kind):
    """A user-managed service account."""

    name = "iam.ServiceAccount"
    name_pattern = "projects/*/serviceAccounts/*"
    layer = "Security"
    model = ServiceAccountSpec
    outputs = frozenset({"email", "member", "name", "id"})
    labels_path = None
    data_bearing = True
    loss = "its keys stop working and every binding that names it breaks"
    # "each read is eventually consistent" (google/iam/admin/v1/iam.proto); Terraform polls a
    # new account until three reads succeed, then sleeps 10 s (magic-modules
    # resource_google_service_account.go)
    read_lag = 10.0
    api = IAM_API
    uses = (IAM,)

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        if fields.get("accountId"):
            return None                     # the model checked it where it is written
        problem = account_id_problem(ctx.name)
        return f"{problem} (the name is the account id unless 'accountId' is set)" \
            if problem else None

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        email = account_email(ctx.project, _account_id(ctx, fields))
        return ResourceId(kind=self.name, name=f"projects/{ctx.project}/serviceAccounts/{email}",
                          scope=f"projects/{ctx.project}",
                          parts={"projects": ctx.project, "serviceAccounts": email})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if k != "accountId"}
        return {"email": account_email(ctx.project, _account_id(ctx, fields)), **body}

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return with_defaults(live, _LIVE_DEFAULTS)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        _, email = _parts(rid)
        out: dict[str, Any] = {"email": email, "member": f"serviceAccount:{email}", "name": rid.name}
        if live and live.get("uniqueId"):
            out["id"] = live["uniqueId"]
        return out

    def holds_data(self, rid: ResourceId) -> bool:
        return True   # see the module docstring: deleting needs an explicit allow

    # --- moving in ---
    terraform_types = ("google_service_account",)

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        item = _imported(str(a["account_id"]), a.get("project"), a.get("display_name"),
                         a.get("description"), a.get("disabled"))
        notes = leftovers(a, ("account_id", "display_name", "description", "disabled", "email",
                              "unique_id", "member", "name", "create_ignore_already_exists"))
        return [Imported(name=item.name, project=item.project, fields=item.fields, notes=notes)]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        email = str(live.get("email") or name.rsplit("/", 1)[-1])
        return [_imported(email.split("@")[0], live.get("projectId") or name.split("/")[1],
                          live.get("displayName"), live.get("description"), live.get("disabled"))]

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        project = name.split("/")[1]
        email = str(live.get("email") or name.rsplit("/", 1)[-1])
        if not email.endswith(f"@{project}.iam.gserviceaccount.com"):
            return "a default service account Google created"
        return None

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with iam_errors(f"service accounts in {scope}"):
            pager = self.clients.get(IAM).list_service_accounts(
                request={"name": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {account.name: as_rest(account) for account in pager}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with iam_errors(f"service account {rid.name}"):
            try:
                return as_rest(self.clients.get(IAM).get_service_account(name=rid.name, **CALL))
            except NotFound:
                return None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.api_core.exceptions import AlreadyExists

        project, email = _parts(rid)
        with iam_errors(f"service account {email}"):
            try:
                account = self.clients.get(IAM).create_service_account(
                    request={"name": f"projects/{project}", "account_id": email.split("@")[0],
                             "service_account": {"display_name": desired.get("displayName", ""),
                                                 "description": desired.get("description", "")}},
                    **CALL)
            except AlreadyExists:
                account = None
        if account is None:      # it exists (maybe our own lost create): readable before adoption
            self._await_readable(rid, fallback={})
            raise errors.Conflict(f"409 Conflict: service account {email} already exists",
                                  status=409)
        live = self._await_readable(rid, fallback=as_rest(account))
        if desired.get("disabled"):
            with iam_errors(f"service account {email}"):
                self._set_disabled(rid, True)
            live["disabled"] = True
        return live

    def _await_readable(self, rid: ResourceId, *, fallback: dict[str, Any]) -> dict[str, Any]:
        """IAM reads are eventually consistent (google/iam/admin/v1/iam.proto): poll ``get``
        until the new account is readable, as Terraform does (magic-modules
        resource_google_service_account.go), so what depends on it sees it."""
        def poll() -> dict[str, Any] | None:
            try:
                with iam_errors(rid.name, just_created=f"service account {rid.name}"):
                    return as_rest(self.clients.get(IAM).get_service_account(name=rid.name, **CALL))
            except errors.TransientError:      # not visible yet, or a blip: poll again
                return None

        try:
            return wait_until_done(poll, what=f"service account {rid.name} to become readable",
                                   deadline=readable_deadline(), interval=0.02)
        except errors.TransientError:
            return fallback

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        touched = {c.path.split(".")[0] for c in changes}
        patched = sorted(touched & set(_PATCHABLE))
        with iam_errors(f"service account {rid.name}"):
            if patched:
                body = {_PATCHABLE[k]: desired.get(k, "") for k in patched}
                self.clients.get(IAM).patch_service_account(request={
                    "service_account": {"name": rid.name, **body},
                    "update_mask": {"paths": [_PATCHABLE[k] for k in patched]}}, **CALL)
            if "disabled" in touched:
                self._set_disabled(rid, bool(desired.get("disabled", False)))
        return self.get(rid) or live

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with iam_errors(f"service account {rid.name}"):
            try:
                self.clients.get(IAM).delete_service_account(name=rid.name, **CALL)
            except NotFound:
                return

    def _set_disabled(self, rid: ResourceId, disabled: bool) -> None:
        client = self.clients.get(IAM)
        call = client.disable_service_account if disabled else client.enable_service_account
        call(request={"name": rid.name}, **CALL)

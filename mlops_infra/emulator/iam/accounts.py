"""Service accounts: create (ALREADY_EXISTS if taken), get, list (paged), patch, delete,
enable/disable. Email ``{accountId}@{project}.iam.gserviceaccount.com``; ``uniqueId`` a
21-digit string; names ``projects/{p}/serviceAccounts/{email or uniqueId}`` (``p`` may be
``-``). The state keeps accounts by email, in proto field names, plus ``create_time``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from google.cloud.iam_admin_v1.types import iam
from google.protobuf import empty_pb2

from mlops_infra.emulator.iam.common import (
    already_exists,
    etag_bytes,
    invalid,
    mask_aliases,
    mask_fields,
    new_etag,
    not_found,
    page,
)
from mlops_infra.emulator.iam.members import SA_DOMAIN

_ACCOUNT_ID = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
_PROJECT = re.compile(r"^projects/([^/]+)$")
_ACCOUNT_NAME = re.compile(r"^projects/([^/]+)/serviceAccounts/([^/]+)$")
_PATCHABLE = mask_aliases("display_name", "description")
_UNIQUE_ID_BASE = 10 ** 20


def to_message(record: dict[str, Any]) -> iam.ServiceAccount:
    fields = {k: v for k, v in record.items() if k not in ("create_time", "etag")}
    return iam.ServiceAccount(**fields, etag=etag_bytes(record["etag"]))


def project_of(parent: str) -> str:
    match = _PROJECT.match(parent)
    if not match or match.group(1) == "-":
        raise invalid(f"Invalid project resource name '{parent}': expected projects/PROJECT_ID")
    return match.group(1)


def find(state: dict[str, Any], name: str,
         visible: Callable[[dict[str, Any]], bool] = lambda record: True) -> dict[str, Any]:
    """The account named ``projects/{p|-}/serviceAccounts/{email|uniqueId}``, or NOT_FOUND
    (also while ``visible`` says a new account has not propagated to readers yet)."""
    match = _ACCOUNT_NAME.match(name)
    if not match:
        raise invalid(f"Invalid service account name '{name}'")
    project, key = match.groups()
    accounts = state["accounts"]
    record = accounts.get(key) or next(
        (a for a in accounts.values() if a["unique_id"] == key), None)
    if record is None or project not in ("-", record["project_id"]) or not visible(record):
        raise not_found(f"Service account {name} does not exist.")
    return record


class Accounts:
    """Handlers of the service-account RPCs over a shared state dict and clock."""

    def __init__(self, service: Any) -> None:
        self._svc = service

    @property
    def _state(self) -> dict[str, Any]:
        return self._svc.state

    def create(self, request: iam.CreateServiceAccountRequest) -> iam.ServiceAccount:
        project = project_of(request.name)
        account_id = request.account_id
        if not _ACCOUNT_ID.match(account_id):
            raise invalid(f"Invalid account_id '{account_id}': 6-30 characters, lowercase "
                          "letters, digits and hyphens, starting with a letter")
        email = f"{account_id}@{project}{SA_DOMAIN}"
        if email in self._state["accounts"]:
            raise already_exists(f"Service account {account_id} already exists within "
                                 f"project projects/{project}.")
        _check_lengths(request.service_account)
        self._state["unique_counter"] = self._state.get("unique_counter", 0) + 1
        unique_id = str(_UNIQUE_ID_BASE + self._state["unique_counter"])
        record = {"name": f"projects/{project}/serviceAccounts/{email}", "project_id": project,
                  "unique_id": unique_id, "email": email, "oauth2_client_id": unique_id,
                  "display_name": request.service_account.display_name,
                  "description": request.service_account.description, "disabled": False,
                  "etag": new_etag(self._state), "create_time": self._svc.clock()}
        self._state["accounts"][email] = record
        return to_message(record)

    def _visible(self, name: str) -> dict[str, Any]:
        """A read: the account, NOT_FOUND while it has not propagated."""
        return find(self._state, name, self._svc.visible)

    def get(self, request: iam.GetServiceAccountRequest) -> iam.ServiceAccount:
        return to_message(self._visible(request.name))

    def list(self, request: iam.ListServiceAccountsRequest) -> iam.ListServiceAccountsResponse:
        project = project_of(request.name)
        mine = [a for a in self._state["accounts"].values()
                if a["project_id"] == project and self._svc.visible(a)]
        chosen, token = page(mine, key=lambda a: a["email"], size=request.page_size,
                             token=request.page_token)
        return iam.ListServiceAccountsResponse(accounts=[to_message(a) for a in chosen],
                                               next_page_token=token)

    def patch(self, request: iam.PatchServiceAccountRequest) -> iam.ServiceAccount:
        record = self._visible(request.service_account.name)
        paths = list(request.update_mask.paths)
        if not paths:
            raise invalid("update_mask must name at least one field (display_name, description)")
        _check_lengths(request.service_account)
        for field in mask_fields(paths, _PATCHABLE, "a service account"):
            record[field] = getattr(request.service_account, field)
        record["etag"] = new_etag(self._state)
        return to_message(record)

    def delete(self, request: iam.DeleteServiceAccountRequest) -> empty_pb2.Empty:
        record = find(self._state, request.name)
        del self._state["accounts"][record["email"]]
        self._state["policies"].pop(record["email"], None)
        return empty_pb2.Empty()

    def enable(self, request: iam.EnableServiceAccountRequest) -> empty_pb2.Empty:
        return self._set_disabled(request.name, False)

    def disable(self, request: iam.DisableServiceAccountRequest) -> empty_pb2.Empty:
        return self._set_disabled(request.name, True)

    def _set_disabled(self, name: str, disabled: bool) -> empty_pb2.Empty:
        record = self._visible(name)
        if record["disabled"] != disabled:
            record["disabled"] = disabled
            record["etag"] = new_etag(self._state)
        return empty_pb2.Empty()


def _check_lengths(account: iam.ServiceAccount) -> None:
    if len(account.display_name) > 100:
        raise invalid("display_name is longer than 100 characters")
    if len(account.description) > 256:
        raise invalid("description is longer than 256 characters")

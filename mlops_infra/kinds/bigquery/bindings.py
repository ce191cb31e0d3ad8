"""``bigquery.DatasetBindings``: additive IAM-style grants on a dataset, kept as access entries.

    kind: bigquery.DatasetBindings
    dataset: ${features.name}
    bindings:
      - role: roles/bigquery.dataViewer
        members: [serviceAccount:${trainer.email}, group:analysts@acme.com]

BigQuery v2 has no ``getIamPolicy`` for datasets (the client library offers it for tables
only), so the dataset's ``access`` list is the policy: it is read as bindings, edited with
the shared additive rules (``kinds/_iam_policy.py``), and written back as a PATCH of
``access`` carrying the etag read (``If-Match``: a concurrent change answers 412, which is
re-read and redone). Both use ``accessPolicyVersion=3`` (``_access.py``), so entries with an
IAM ``condition`` are read as they are and kept apart: a conditional binding is its own
entry, ours or someone else's, and survives our edits with its condition. Entries that are
not members (authorized ``view``/``routine``/``dataset``) are kept untouched.

Roles: ``roles/bigquery.dataViewer``/``dataEditor``/``dataOwner`` are stored as the basic
``READER``/``WRITER``/``OWNER`` (as the API reports them); other roles as written.
Members: ``user:``/``serviceAccount:`` -> ``userByEmail`` (an email ending in
``.gserviceaccount.com`` reads back as ``serviceAccount:``), ``group:`` -> ``groupByEmail``,
``domain:``, ``specialGroup:projectReaders`` etc. -> ``specialGroup``,
``allAuthenticatedUsers`` -> ``specialGroup``, anything else (``allUsers``, ``principal://``)
-> ``iamMember``. A binding may carry a ``condition``. Do not also write ``access`` on the
``bigquery.Dataset`` itself (that field is the whole list). Identity
``projects/P/datasets/D/iamBindings/ADDRESS``.

Moving in: ``google_bigquery_dataset_iam_member``/``_binding``/``_policy`` and the member
kinds of ``google_bigquery_dataset_access`` (one access entry: its basic role becomes the
IAM role, its entity the member, as above); authorized views, routines and datasets are not
members and stay with the dataset. No live import: a live dataset's access is imported with
the dataset itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from mlops_infra.engine.kind import Imported, ImportedList, NotImportable, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import translate_errors
from mlops_infra.kinds._clients import BIGQUERY
from mlops_infra.kinds._iam_policy import (
    Binding,
    BindingsSpec,
    IamBindingsKind,
    spec_binding,
    valid_member,
)
from mlops_infra.kinds._imports import block, condition
from mlops_infra.kinds._names import DatasetId
from mlops_infra.kinds.bigquery import _access

BASIC_ROLES = {"READER": "roles/bigquery.dataViewer", "WRITER": "roles/bigquery.dataEditor",
               "OWNER": "roles/bigquery.dataOwner"}
_TO_BASIC = {iam: basic for basic, iam in BASIC_ROLES.items()}
_NOT_MEMBERS = ("view", "routine", "dataset")
_EMAIL_KEYS = {"user": "userByEmail", "serviceAccount": "userByEmail", "group": "groupByEmail",
               "domain": "domain", "specialGroup": "specialGroup"}


class DatasetBinding(Binding):
    @field_validator("members")
    @classmethod
    def _members_look_like_members(cls, members: list[str]) -> list[str]:
        bad = [m for m in members
               if not (valid_member(m) or m.startswith("specialGroup:") or "${" in m)]
        if bad:
            raise ValueError(f"not a dataset member: {bad[0]!r} (expected user:, group:, "
                             "serviceAccount:, domain:, specialGroup:, allAuthenticatedUsers ...)")
        return members


class DatasetBindingsSpec(BindingsSpec):
    """(role, member) pairs on one dataset."""

    dataset: DatasetId = Field(description="the dataset id, e.g. ${features.name}")
    bindings: list[DatasetBinding] = Field(min_length=1)   # type: ignore[assignment]


# --- access entries <-> policy -----------------------------------------------------------

def member_of(entry: dict[str, Any]) -> str | None:
    """The IAM member of one access entry (``None`` for authorized views/routines/datasets)."""
    if "userByEmail" in entry:
        email = entry["userByEmail"]
        return f"{'serviceAccount' if email.endswith('.gserviceaccount.com') else 'user'}:{email}"
    if "groupByEmail" in entry:
        return f"group:{entry['groupByEmail']}"
    if "domain" in entry:
        return f"domain:{entry['domain']}"
    if "specialGroup" in entry:
        group = entry["specialGroup"]
        return group if group == "allAuthenticatedUsers" else f"specialGroup:{group}"
    return entry.get("iamMember")


def entry_of(role: str, member: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """The access entry granting ``role`` to ``member`` (under ``condition``, if any)."""
    entry: dict[str, Any] = {"role": _TO_BASIC.get(role, role)}
    if condition:
        entry["condition"] = dict(condition)
    prefix, _, value = member.partition(":")
    if member == "allAuthenticatedUsers":
        entry["specialGroup"] = member
    elif prefix in _EMAIL_KEYS and value:
        entry[_EMAIL_KEYS[prefix]] = value
    else:
        entry["iamMember"] = member
    return entry


def access_to_policy(resource: dict[str, Any]) -> dict[str, Any]:
    """A dataset's REST resource as a policy: ``bindings``, ``etag`` and the ``otherAccess`` kept."""
    bindings: dict[str, dict[str, Any]] = {}
    others = []
    for entry in resource.get("access") or []:
        member = member_of(entry)
        if member is None or any(k in entry for k in _NOT_MEMBERS):
            others.append(entry)
            continue
        role = BASIC_ROLES.get(entry.get("role", ""), entry.get("role", ""))
        key = json.dumps([role, entry.get("condition")], sort_keys=True)
        binding = bindings.setdefault(key, {"role": role, "members": []})
        if entry.get("condition"):
            binding["condition"] = entry["condition"]
        binding["members"].append(member)
    return {"etag": resource.get("etag"), "otherAccess": others,
            "bindings": list(bindings.values())}


def policy_to_access(policy: dict[str, Any]) -> list[dict[str, Any]]:
    entries = [entry_of(b["role"], m, b.get("condition"))
               for b in policy.get("bindings", []) for m in b["members"]]
    return entries + list(policy.get("otherAccess", []))


_ACCESS_ENTITIES = {"user_by_email": "user", "group_by_email": "group", "domain": "domain",
                    "special_group": "specialGroup"}


def access_member(attributes: Mapping[str, Any]) -> str:
    """The IAM member of a ``google_bigquery_dataset_access`` instance (DatasetAccess.yaml)."""
    for attr, prefix in _ACCESS_ENTITIES.items():
        value = attributes.get(attr)
        if value:
            if prefix == "user" and str(value).endswith(".gserviceaccount.com"):
                prefix = "serviceAccount"
            if value == "allAuthenticatedUsers":
                return str(value)
            return f"{prefix}:{value}"
    if attributes.get("iam_member"):
        return str(attributes["iam_member"])
    raise NotImportable("an authorized view, routine or dataset is not a member: write it in "
                        "the dataset's access list")


@register
class DatasetBindings(IamBindingsKind):
    """Grants on a BigQuery dataset (additive access entries)."""

    name = "bigquery.DatasetBindings"
    name_pattern = "projects/*/datasets/*/iamBindings/*"
    layer = "Security"
    model = DatasetBindingsSpec
    api = "bigquery.googleapis.com"
    uses = (BIGQUERY,)
    terraform_types = ("google_bigquery_dataset_iam_member", "google_bigquery_dataset_iam_binding",
                       "google_bigquery_dataset_iam_policy", "google_bigquery_dataset_access")
    terraform_refs = {**IamBindingsKind.terraform_refs, "dataset": "name"}

    def terraform_target(self, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        return {"dataset": str(attributes["dataset_id"])}, attributes.get("project")

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        if tf_type != "google_bigquery_dataset_access":
            return super().from_terraform(tf_type, attributes)
        target, project = self.terraform_target(attributes)
        role = str(attributes.get("role") or "")
        binding = spec_binding(BASIC_ROLES.get(role, role), [access_member(attributes)],
                               condition(block(attributes, "condition")))
        return [Imported(name="", fields={**target, "bindings": [binding]}, project=project)]

    def target(self, ctx: ResourceContext, fields: dict[str, Any]) -> str:
        return f"projects/{ctx.project}/datasets/{fields['dataset']}"

    def get_policy(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        project, dataset = rid.parts["projects"], rid.parts["datasets"]
        with translate_errors(f"access of dataset {dataset}"):
            try:
                found = _access.get_dataset_once(self.clients, project, dataset)
            except NotFound:
                return None
        return access_to_policy(found)

    def set_policy(self, rid: ResourceId, policy: dict[str, Any]) -> dict[str, Any]:
        project, dataset = rid.parts["projects"], rid.parts["datasets"]
        with translate_errors(f"access of dataset {dataset}"):
            updated = _access.patch_access(self.clients.get(BIGQUERY, project), project, dataset,
                                           access=policy_to_access(policy), etag=policy["etag"])
        return access_to_policy(updated)

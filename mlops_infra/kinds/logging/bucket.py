"""``logging.Bucket``: a log bucket (where routed logs are stored, with their retention).

Fields a spec may write (REST names of ``LogBucket``):

| field | notes |
|---|---|
| ``location`` | ``global`` (default) or a region; immutable |
| ``retentionDays`` | 1 to 3650 (the API's default: 30) |
| ``locked`` | a locked bucket's retention cannot change and it cannot be unlocked |
| ``analyticsEnabled`` | Log Analytics; it **cannot be turned off** once on (logging_config.proto "Once enabled, log analytics features cannot be disabled"): a change to ``false`` replaces the bucket, which needs ``allowDataLoss`` |
| ``description`` | text |
| ``kmsKeyName`` | shorthand ``cmekSettings.kmsKeyName``: a CMEK key (``${key.id}``); it cannot be removed. With a key of the spec, the Logging CMEK service account is granted on it first |

The bucket id is the resource name (``name:``, default the address): at most 100 of
letters, digits, ``_``, ``-`` and ``.`` (not ``_Default``/``_Required``, Google's).
Identity ``projects/P/locations/L/buckets/ID``, listed per ``projects/P/locations/-``.

**Deleting one is slow to undo.** A deleted log bucket goes to ``DELETE_REQUESTED`` and is
purged 7 days later; its log entries are lost, and its id cannot be reused meanwhile
(logging_config.proto ``DeleteBucket``; GoogleCloudPlatform/cloud-foundation-fabric PR
#1898). So a bucket holds data: removing or replacing it needs ``allowDataLoss`` (or
``--allow-data-loss``), and the plan says its id stays blocked. Creating a bucket whose id is
pending deletion undeletes it (``UndeleteBucket``, "within the grace period of 7 days") and
sets it to the spec, but only a bucket this stack can prove its own (``soft_delete``: its
ledger records it, or kept the intent when this stack deleted it); anyone else's pending
bucket is a conflict in the plan (wait for the purge, or pick another id). Log buckets carry
no labels: ownership is the ledger's. Output ``id`` (the full name, what a sink's
``logBucket`` takes).

Moving in: ``google_logging_project_bucket_config`` or a live bucket (``import live``, which
looks in ``global`` and the ``--region``s); Google's ``_Default`` and ``_Required`` buckets
are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    FieldChange,
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    ResourceContext,
    ResourceId,
    ServiceAgent,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, translate_errors
from mlops_infra.kinds._clients import LOGGING_CONFIG
from mlops_infra.kinds._imports import block, leftovers, put
from mlops_infra.kinds._names import CryptoKeyName
from mlops_infra.kinds._proto import as_rest, mask, message, top_fields, with_defaults
from mlops_infra.kinds.logging._common import LOGGING_API, bucket_id_problem

_PAGE_SIZE = 200
_DEFAULTS = {"retentionDays": 30, "locked": False, "analyticsEnabled": False}
_GOOGLE_BUCKETS = ("_Default", "_Required")


class BucketSpec(SpecModel):
    """A log bucket (REST names of ``LogBucket``)."""

    location: str = Field(default="global", pattern=r"^(global|[a-z]+(-[a-z]+\d*)*)$")
    retentionDays: int | None = Field(default=None, ge=1, le=3650)
    locked: bool | None = None
    analyticsEnabled: bool | None = None
    description: str | None = None
    kmsKeyName: CryptoKeyName | None = None


def _cmek_account(clients: Any, project: str) -> str:
    """The project's Logging CMEK service account (logging_config.proto ``CmekSettings``)."""
    with translate_errors(f"CMEK settings of project {project}"):
        settings = clients.get(LOGGING_CONFIG).get_cmek_settings(
            request={"name": f"projects/{project}/cmekSettings"}, **CALL)
    return str(settings.service_account_id)


LOGGING_AGENT = ServiceAgent(name="logging", email=_cmek_account, uses=(LOGGING_CONFIG,))


@register
class LogBucket(Kind):
    """A log bucket (see the module docstring)."""

    name = "logging.Bucket"
    name_pattern = "projects/*/locations/*/buckets/*"
    model = BucketSpec
    layer = "Operations"
    outputs = frozenset({"id", "name"})
    labels_path = None
    data_bearing = True
    loss = "it holds the logs routed to it"
    deletion_note = ("a deleted log bucket stays pending deletion for 7 days: its id cannot be "
                     "reused meanwhile (it can be undeleted) and its logs are purged after")
    immutable = frozenset({"location"})
    # projects.locations.buckets.delete: DELETE_REQUESTED, "After 7 days, the bucket will be
    # purged"; .undelete: "within the grace period of 7 days" (Logging REST reference)
    soft_delete = "about 7 days"
    service_agent = LOGGING_AGENT
    cmek_fields = ("kmsKeyName",)
    api = LOGGING_API
    uses = (LOGGING_CONFIG,)
    terraform_types = ("google_logging_project_bucket_config",)
    terraform_refs = {"kmsKeyName": "id"}

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        """``google_logging_project_bucket_config`` (hand-written
        resource_logging_project_bucket_config.go): ``bucket_id``, ``location``,
        ``retention_days`` (30 when unset, the API's default too), ``locked``,
        ``enable_analytics``, ``description``, ``cmek_settings.kms_key_name``; ``project``
        may be written ``projects/P``. Google's ``_Default``/``_Required`` buckets, which
        the provider "adopts" rather than creates, stay Google's."""
        a = attributes
        if str(a.get("bucket_id")) in ("_Default", "_Required"):
            raise NotImportable(f"{a['bucket_id']} is Google's own log bucket (left as it is live)")
        fields: dict[str, Any] = {}
        put(fields, "location", a.get("location"), default="global")
        put(fields, "retentionDays", a.get("retention_days"), default=30)
        if a.get("locked"):
            fields["locked"] = True
        if a.get("enable_analytics"):
            fields["analyticsEnabled"] = True
        put(fields, "description", a.get("description"))
        put(fields, "kmsKeyName", block(a, "cmek_settings").get("kms_key_name"))
        known = ("bucket_id", "location", "retention_days", "locked", "enable_analytics",
                 "description", "cmek_settings", "name", "lifecycle_state")
        project = str(a.get("project") or "").removeprefix("projects/") or None
        return [Imported(name=str(a["bucket_id"]), project=project, fields=fields,
                         notes=leftovers(a, known))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live bucket: its location (from its name), and what differs from the API's
        defaults (``retentionDays`` 30, not locked, no Log Analytics); ``restrictedFields``
        and ``indexConfigs`` have no field here (noted)."""
        parts = self.id_from_name(name).parts
        fields: dict[str, Any] = {}
        put(fields, "location", parts["locations"], default="global")
        for key, default in _DEFAULTS.items():
            put(fields, key, live.get(key), default=default)
        put(fields, "description", live.get("description"))
        put(fields, "kmsKeyName", (live.get("cmekSettings") or {}).get("kmsKeyName"))
        extra = sorted(k for k in ("restrictedFields", "indexConfigs") if live.get(k))
        notes = (f"not carried over (left as it is live): {', '.join(extra)}",) if extra else ()
        return [Imported(name=parts["buckets"], project=parts["projects"], fields=fields,
                         notes=notes)]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """The buckets of ``global`` and the regions asked for, from one listing of
        ``projects/P/locations/-`` (logging_config.proto ``ListBucketsRequest.parent``:
        "supplying the character - in place of [LOCATION_ID] will return all buckets")."""
        wanted = {"global", *regions}
        return {name: live for name, live in self.list(f"projects/{project}/locations/-").items()
                if name.split("/")[3] in wanted}

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        bucket = name.rsplit("/", 1)[-1]
        if bucket in _GOOGLE_BUCKETS:
            return (f"Google's own {bucket} log bucket, in every project "
                    "(https://cloud.google.com/logging/docs/routing/overview#buckets)")
        return None

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return bucket_id_problem(ctx.name)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        location = fields.get("location", "global")
        name = f"projects/{ctx.project}/locations/{location}/buckets/{ctx.name}"
        return ResourceId(kind=self.name, name=name, scope=f"projects/{ctx.project}/locations/-",
                          parts={"projects": ctx.project, "locations": location,
                                 "buckets": ctx.name})

    def id_from_name(self, name: str) -> ResourceId:
        _, project, _, location, _, bucket = name.split("/")
        return ResourceId(kind=self.name, name=name, scope=f"projects/{project}/locations/-",
                          parts={"projects": project, "locations": location, "buckets": bucket})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if k not in ("kmsKeyName", "location")}
        body["location"] = fields.get("location", "global")
        if fields.get("kmsKeyName"):
            body["cmekSettings"] = {"kmsKeyName": fields["kmsKeyName"]}
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        out = {**_DEFAULTS, **with_defaults(live, "google.cloud.logging_v2.types", "LogBucket")}
        if live.get("name"):
            out["location"] = live["name"].split("/")[3]
        if "cmekSettings" in out:
            out["cmekSettings"] = {"kmsKeyName": out["cmekSettings"].get("kmsKeyName")}
        return out

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"id": rid.name, "name": rid.parts["buckets"]}

    def replace_reason(self, changes: FieldChanges) -> str | None:
        off = [c for c in changes if c.path == "analyticsEnabled" and c.old is True
               and c.new is not True]
        if off:
            return ("analyticsEnabled cannot be turned off once on (a deleted bucket's id stays "
                    "blocked for 7 days: give the replacement another name)")
        return super().replace_reason(changes)

    def holds_data(self, rid: ResourceId) -> bool:
        return True     # log entries cannot be counted through this API; assume there are some

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with translate_errors(f"log buckets of {scope}"):
            pager = self.clients.get(LOGGING_CONFIG).list_buckets(
                request={"parent": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {b.name: as_rest(b) for b in pager if _active(as_rest(b))}

    def list_deleted(self, scope: str) -> dict[str, dict[str, Any]]:
        """Buckets of ``scope`` pending deletion (``DELETE_REQUESTED``, restorable by
        ``UndeleteBucket`` until purged)."""
        with translate_errors(f"log buckets of {scope}"):
            pager = self.clients.get(LOGGING_CONFIG).list_buckets(
                request={"parent": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {b.name: as_rest(b) for b in pager
                    if as_rest(b).get("lifecycleState") == "DELETE_REQUESTED"}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        live = self._read(rid)
        return live if live is not None and _active(live) else None

    def _read(self, rid: ResourceId) -> dict[str, Any] | None:
        """The bucket even when pending deletion, or ``None``."""
        from google.api_core.exceptions import NotFound

        with translate_errors(f"log bucket {rid.name}"):
            try:
                return as_rest(self.clients.get(LOGGING_CONFIG).get_bucket(
                    request={"name": rid.name}, **CALL))
            except NotFound:
                return None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud.logging_v2.types import LogBucket as Message

        body = message(Message, _sendable(desired))
        with translate_errors(f"log bucket {rid.name}"):
            try:
                return as_rest(self.clients.get(LOGGING_CONFIG).create_bucket(request={
                    "parent": rid.name.rsplit("/buckets/", 1)[0],
                    "bucket_id": rid.parts["buckets"], "bucket": body}, **CALL))
            except AlreadyExists as exc:
                pending = self._read(rid)
                if pending is None or _active(pending):
                    raise errors.Conflict(f"409 Conflict: log bucket {rid.name} already exists",
                                          status=409) from exc
        return self._undelete(rid, desired, pending)

    def _undelete(self, rid: ResourceId, desired: dict[str, Any],
                  pending: dict[str, Any]) -> dict[str, Any]:
        """Its id belongs to a bucket pending deletion: bring it back, then set the spec."""
        with translate_errors(f"log bucket {rid.name}"):
            self.clients.get(LOGGING_CONFIG).undelete_bucket(request={"name": rid.name}, **CALL)
        live = self.normalize(pending)
        changes = [FieldChange(path=k, op="change", old=live.get(k), new=v)
                   for k, v in _sendable(desired).items() if live.get(k) != v]
        return self.update(rid, desired, changes, pending) if changes else pending

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.logging_v2.types import LogBucket as Message

        fields = top_fields(changes) - {"location"}
        if not fields:
            return live
        body = {**{k: desired[k] for k in fields if k in desired}, "name": rid.name}
        with translate_errors(f"log bucket {rid.name}"):
            return as_rest(self.clients.get(LOGGING_CONFIG).update_bucket(request={
                "name": rid.name, "bucket": message(Message, body),
                "update_mask": mask(fields)}, **CALL))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        with translate_errors(f"log bucket {rid.name}"):
            try:
                self.clients.get(LOGGING_CONFIG).delete_bucket(request={"name": rid.name}, **CALL)
            except (NotFound, FailedPrecondition):
                return      # gone, or already pending deletion


def _active(live: dict[str, Any]) -> bool:
    return live.get("lifecycleState", "ACTIVE") == "ACTIVE"


def _sendable(desired: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if k != "location"}

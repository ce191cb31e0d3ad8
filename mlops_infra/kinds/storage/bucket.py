"""Cloud Storage kinds: ``storage.Bucket``.

Fields a spec may write (REST names of the JSON API ``Bucket`` resource):

| path                                                  | notes                                      |
|-------------------------------------------------------|--------------------------------------------|
| ``location``                                          | a region, dual-region or multi-region (any case; upper-cased); immutable (a change replaces the bucket); API default ``US`` |
| ``storageClass``                                      | ``STANDARD``, ``NEARLINE``, ``COLDLINE``, ``ARCHIVE`` (or a legacy class), any case |
| ``labels``                                            | map; ``managed-by``/stack labels are added  |
| ``versioning.enabled``                                | shorthand ``versioning: true``              |
| ``lifecycle.rule[]``                                  | list of ``{action: {type, storageClass}, condition: {...}}`` (whole list compared) |
| ``iamConfiguration.uniformBucketLevelAccess.enabled`` | shorthand ``uniformBucketLevelAccess: true`` |
| ``iamConfiguration.publicAccessPrevention``           | ``enforced``/``inherited``; shorthand ``publicAccessPrevention: enforced`` |
| ``encryption.defaultKmsKeyName``                      | shorthand ``defaultKmsKeyName: projects/..`` |
| ``retentionPolicy.retentionPeriod``                   | seconds; shorthand ``retentionPeriod: 3600`` |
| ``softDeletePolicy.retentionDurationSeconds``         | seconds; shorthand ``softDeleteRetentionSeconds: 0`` |

Lifecycle conditions: ``age``, ``createdBefore`` (date), ``customTimeBefore``,
``daysSinceCustomTime``, ``daysSinceNoncurrentTime``, ``noncurrentTimeBefore``, ``isLive``,
``matchesStorageClass``, ``matchesPrefix``, ``matchesSuffix``, ``numNewerVersions``.

Moving in: ``google_storage_bucket`` (Terraform) and live buckets map to these fields; values
equal to what Cloud Storage applies when they are absent (``STANDARD``, versioning off,
``inherited`` public access prevention, the 7-day soft delete) are left out. Google's own
buckets (Cloud Functions sources, Cloud Build, App Engine) are left out of live imports.

The bucket name (the resource ``name``) follows Cloud Storage's naming rules, checked
before any call (``kinds/_names.py``). Outputs: ``name``, ``url`` (``gs://NAME``), ``selfLink``. Identity
``projects/PROJECT/buckets/NAME``, listed per ``projects/PROJECT``. Data-bearing: a bucket
holding any object (any version) is only deleted with ``force``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    Imported,
    ImportedList,
    Kind,
    ResourceContext,
    ResourceId,
    ServiceAgent,
    Violation,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import (
    CALL,
    FieldChanges,
    SpecModel,
    check_labels,
    int64_at,
    patch_body,
    set_path,
    translate_errors,
    with_defaults,
)
from mlops_infra.kinds._clients import STORAGE
from mlops_infra.kinds._imports import (
    block,
    blocks,
    integer,
    leftovers,
    put,
    terraform_labels,
    user_labels,
)
from mlops_infra.kinds._names import (
    UPPER,
    BucketLocation,
    CryptoKeyName,
    bucket_name_problem,
)
from mlops_infra.kinds._policy import BUCKET_RULES, CMEK_SETTINGS, bucket_violations
from mlops_infra.spec.jsoncopy import copy_json

_INT64_PATHS = ("retentionPolicy.retentionPeriod", "softDeletePolicy.retentionDurationSeconds")

# Defaults the server may leave out of a bucket: ``versioning: false`` must not diff forever.
_LIVE_DEFAULTS = {"versioning.enabled": False,
                  "iamConfiguration.uniformBucketLevelAccess.enabled": False,
                  "iamConfiguration.publicAccessPrevention": "inherited"}

# shorthand field -> the REST path it stands for
_SHORTHANDS: dict[str, str] = {
    "uniformBucketLevelAccess": "iamConfiguration.uniformBucketLevelAccess.enabled",
    "publicAccessPrevention": "iamConfiguration.publicAccessPrevention",
    "defaultKmsKeyName": "encryption.defaultKmsKeyName",
    "retentionPeriod": "retentionPolicy.retentionPeriod",
    "softDeleteRetentionSeconds": "softDeletePolicy.retentionDurationSeconds",
}


# --- spec model -----------------------------------------------------------------------

# Storage classes: https://cloud.google.com/storage/docs/storage-classes (STANDARD, NEARLINE,
# COLDLINE, ARCHIVE) and the legacy classes the JSON API still takes for ``storageClass``
# (https://cloud.google.com/storage/docs/json_api/v1/buckets: MULTI_REGIONAL, REGIONAL,
# DURABLE_REDUCED_AVAILABILITY); the API accepts them in any case.
StorageClass = Annotated[Literal["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE", "MULTI_REGIONAL",
                                 "REGIONAL", "DURABLE_REDUCED_AVAILABILITY"], UPPER]


class Versioning(SpecModel):
    enabled: bool


class LifecycleAction(SpecModel):
    type: Literal["Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"]
    storageClass: StorageClass | None = None


class LifecycleCondition(SpecModel):
    age: int | None = Field(default=None, ge=0)
    createdBefore: dt.date | None = None
    customTimeBefore: dt.date | None = None
    daysSinceCustomTime: int | None = Field(default=None, ge=0)
    daysSinceNoncurrentTime: int | None = Field(default=None, ge=0)
    noncurrentTimeBefore: dt.date | None = None
    isLive: bool | None = None
    matchesStorageClass: list[StorageClass] | None = None
    matchesPrefix: list[str] | None = None
    matchesSuffix: list[str] | None = None
    numNewerVersions: int | None = Field(default=None, ge=0)


class LifecycleRule(SpecModel):
    action: LifecycleAction
    condition: LifecycleCondition


class Lifecycle(SpecModel):
    rule: list[LifecycleRule]


class UniformBucketLevelAccess(SpecModel):
    enabled: bool


class IamConfiguration(SpecModel):
    uniformBucketLevelAccess: UniformBucketLevelAccess | None = None
    publicAccessPrevention: Literal["enforced", "inherited"] | None = None


class Encryption(SpecModel):
    defaultKmsKeyName: CryptoKeyName | None = None


class RetentionPolicy(SpecModel):
    retentionPeriod: int = Field(ge=0)


class SoftDeletePolicy(SpecModel):
    retentionDurationSeconds: int = Field(ge=0)


_SOFT_DELETE_MIN, _SOFT_DELETE_MAX = 7 * 86400, 90 * 86400   # cloud.google.com/storage/docs/soft-delete


class BucketSpec(SpecModel):
    """A Cloud Storage bucket (REST field names, plus a few documented shorthands)."""

    location: BucketLocation | None = None
    storageClass: StorageClass | None = None
    labels: dict[str, str] | None = None
    versioning: bool | Versioning | None = None
    lifecycle: Lifecycle | None = None
    iamConfiguration: IamConfiguration | None = None
    encryption: Encryption | None = None
    retentionPolicy: RetentionPolicy | None = None
    softDeletePolicy: SoftDeletePolicy | None = None
    # shorthands
    uniformBucketLevelAccess: bool | None = None
    publicAccessPrevention: Literal["enforced", "inherited"] | None = None
    defaultKmsKeyName: CryptoKeyName | None = None
    retentionPeriod: int | None = Field(default=None, ge=0)
    softDeleteRetentionSeconds: int | None = Field(default=None, ge=0)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @field_validator("publicAccessPrevention", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _googles_conflicts(self) -> BucketSpec:
        """What the API refuses with a 400, refused before any call (sources: emulator/storage)."""
        versioned = self.versioning is True or (isinstance(self.versioning, Versioning)
                                                and bool(self.versioning.enabled))
        if versioned and (self.retentionPeriod is not None or self.retentionPolicy is not None):
            raise ValueError("a bucket cannot have both object versioning and a retention policy "
                             "(GCS refuses it): drop 'versioning' or the retention policy")
        soft = self.softDeleteRetentionSeconds if self.softDeleteRetentionSeconds is not None \
            else (self.softDeletePolicy.retentionDurationSeconds if self.softDeletePolicy else None)
        if isinstance(soft, int) and soft != 0 and not _SOFT_DELETE_MIN <= soft <= _SOFT_DELETE_MAX:
            raise ValueError(f"soft delete retention {soft}s: GCS takes 0 (off) or 7 to 90 days "
                             f"({_SOFT_DELETE_MIN} to {_SOFT_DELETE_MAX} seconds)")
        return self

    @model_validator(mode="after")
    def _no_double_spelling(self) -> BucketSpec:
        for short, path in _SHORTHANDS.items():
            top = path.split(".")[0]
            if short in self.model_fields_set and top in self.model_fields_set:
                raise ValueError(f"'{short}' is a shorthand for '{path}': write only one of "
                                 f"'{short}' and '{top}'")
        return self


# --- canonical form (applied to desired and live alike) ----------------------------------

def canonical(body: dict[str, Any]) -> dict[str, Any]:
    """Values in the form the server returns, so equal settings never show a diff."""
    out = copy_json(body)
    for key in ("location", "storageClass"):
        if isinstance(out.get(key), str):
            out[key] = out[key].upper()
    pap = (out.get("iamConfiguration") or {}).get("publicAccessPrevention")
    if isinstance(pap, str):
        out["iamConfiguration"]["publicAccessPrevention"] = pap.lower()
    int64_at(out, _INT64_PATHS)
    return out


def expand_shorthands(fields: dict[str, Any]) -> dict[str, Any]:
    """The REST body for the user's fields, shorthands replaced by their REST paths."""
    body = {k: copy_json(v) for k, v in fields.items() if k not in _SHORTHANDS}
    if isinstance(body.get("versioning"), bool):
        body["versioning"] = {"enabled": body["versioning"]}
    for short, path in _SHORTHANDS.items():
        if short in fields:
            set_path(body, path, fields[short])
    return body


def _agent_email(clients: Any, project: str) -> str:
    with translate_errors(f"storage service agent of {project}"):
        return str(clients.get(STORAGE, project).get_service_account_email(project=project, **CALL))


# service-PROJECT_NUMBER@gs-project-accounts.iam.gserviceaccount.com:
# https://cloud.google.com/storage/docs/getting-service-agent
STORAGE_AGENT = ServiceAgent(name="storage", email=_agent_email, uses=(STORAGE,),
                             email_pattern=r"service-\d+@gs-project-accounts\.iam\.gserviceaccount\.com")
"""Cloud Storage's service agent: it must be granted a bucket's CMEK key."""


def bucket_parts(rid: ResourceId) -> tuple[str, str]:
    # ``parts`` keys follow ``Kind.id_from_name``: collection -> value.
    return rid.parts["projects"], rid.parts["buckets"]


# --- moving in: Terraform state and live buckets -> spec fields ---------------------------

_SOFT_DELETE_DEFAULT = 604800   # 7 days: "Default value is 604800" (magic-modules resource_storage_bucket)
# Terraform condition attribute -> REST condition key; ints are sent when > 0 or when the
# provider's ``send_*_if_zero`` flag says so (resource_storage_bucket.go.tmpl expand).
_TF_CONDITIONS = {"created_before": "createdBefore", "custom_time_before": "customTimeBefore",
                  "noncurrent_time_before": "noncurrentTimeBefore",
                  "matches_storage_class": "matchesStorageClass", "matches_prefix": "matchesPrefix",
                  "matches_suffix": "matchesSuffix"}
_TF_COUNTS = {"age": ("age", "send_age_if_zero"),
              "days_since_custom_time": ("daysSinceCustomTime", "send_days_since_custom_time_if_zero"),
              "days_since_noncurrent_time": ("daysSinceNoncurrentTime",
                                             "send_days_since_noncurrent_time_if_zero"),
              "num_newer_versions": ("numNewerVersions", "send_num_newer_versions_if_zero")}
_TF_KNOWN = ("name", "location", "storage_class", "labels", "versioning", "lifecycle_rule",
             "uniform_bucket_level_access", "public_access_prevention", "encryption",
             "retention_policy", "soft_delete_policy", "rpo")
_CONDITION_KEYS = frozenset(LifecycleCondition.model_fields)
# Buckets Google's services create in a project: Cloud Functions (gcf-sources-*, gcf-v2-*),
# Cloud Build (PROJECT_cloudbuild), App Engine (PROJECT.appspot.com, staging., artifacts.).
_GOOGLE_BUCKETS = re.compile(r"^(gcf-(v2-)?(sources|uploads)-.*|.*_cloudbuild|"
                             r"((staging|artifacts)\.)?[a-z0-9-]+\.appspot\.com)$")


def _tf_condition(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {key: raw[attr] for attr, key in _TF_CONDITIONS.items() if raw.get(attr)}
    for attr, (key, flag) in _TF_COUNTS.items():
        if isinstance(raw.get(attr), int) and (raw[attr] > 0 or raw.get(flag)):
            out[key] = raw[attr]
    state = raw.get("with_state") or ("LIVE" if raw.get("is_live") else "")
    if state in ("LIVE", "ARCHIVED"):
        out["isLive"] = state == "LIVE"
    return out


def _tf_rule(raw: Mapping[str, Any]) -> dict[str, Any]:
    action = block(raw, "action")
    shaped: dict[str, Any] = {"type": action.get("type")}
    put(shaped, "storageClass", action.get("storage_class"))
    return {"action": shaped, "condition": _tf_condition(block(raw, "condition"))}


def _from_attributes(a: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"location": str(a["location"]).upper()}
    put(fields, "storageClass", a.get("storage_class"), default="STANDARD")
    put(fields, "labels", terraform_labels(a))
    if block(a, "versioning").get("enabled"):
        fields["versioning"] = True
    rules = [_tf_rule(r) for r in blocks(a, "lifecycle_rule")]
    put(fields, "lifecycle", {"rule": rules} if rules else None)
    if a.get("uniform_bucket_level_access"):
        fields["uniformBucketLevelAccess"] = True
    put(fields, "publicAccessPrevention", a.get("public_access_prevention"), default="inherited")
    put(fields, "defaultKmsKeyName", block(a, "encryption").get("default_kms_key_name"))
    retention = block(a, "retention_policy").get("retention_period")
    put(fields, "retentionPeriod", integer(retention, ("retention_policy", 0, "retention_period")))
    soft = block(a, "soft_delete_policy").get("retention_duration_seconds")
    put(fields, "softDeleteRetentionSeconds", soft, default=_SOFT_DELETE_DEFAULT)
    return fields


def _tf_notes(a: Mapping[str, Any]) -> tuple[str, ...]:
    notes = leftovers(a, _TF_KNOWN)
    if block(a, "retention_policy").get("is_locked"):
        notes += ("its retention policy is locked (kept as it is live; the spec cannot lock it)",)
    if a.get("rpo") not in (None, "", "DEFAULT"):
        notes += (f"rpo {a['rpo']} is not carried over (left as it is live)",)
    return notes


def _live_rule(rule: dict[str, Any]) -> dict[str, Any]:
    condition = {k: v for k, v in (rule.get("condition") or {}).items() if k in _CONDITION_KEYS}
    return {"action": dict(rule.get("action") or {}), "condition": condition}


def _from_live(live: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"location": str(live.get("location", "US")).upper()}
    put(fields, "storageClass", live.get("storageClass"), default="STANDARD")
    put(fields, "labels", user_labels(live.get("labels")))
    if (live.get("versioning") or {}).get("enabled"):
        fields["versioning"] = True
    rules = [_live_rule(r) for r in (live.get("lifecycle") or {}).get("rule") or []]
    put(fields, "lifecycle", {"rule": rules} if rules else None)
    iam = live.get("iamConfiguration") or {}
    if (iam.get("uniformBucketLevelAccess") or {}).get("enabled"):
        fields["uniformBucketLevelAccess"] = True
    put(fields, "publicAccessPrevention", iam.get("publicAccessPrevention"), default="inherited")
    put(fields, "defaultKmsKeyName", (live.get("encryption") or {}).get("defaultKmsKeyName"))
    retention = (live.get("retentionPolicy") or {}).get("retentionPeriod")
    put(fields, "retentionPeriod", int(retention) if retention is not None else None)
    soft = (live.get("softDeletePolicy") or {}).get("retentionDurationSeconds")
    put(fields, "softDeleteRetentionSeconds", int(soft) if soft is not None else None,
        default=_SOFT_DELETE_DEFAULT)
    return fields


# --- the kind -----------------------------------------------------------------------------

@register
class Bucket(Kind):
    """A Cloud Storage bucket."""

    name = "storage.Bucket"
    name_pattern = "projects/*/buckets/*"
    layer = "Data"
    model = BucketSpec
    api = "storage.googleapis.com"
    uses = (STORAGE,)
    outputs = frozenset({"name", "url", "selfLink"})
    immutable = frozenset({"location"})
    data_bearing = True
    loss = "it holds objects"
    service_agent = STORAGE_AGENT
    cmek_fields = ("defaultKmsKeyName", "encryption.defaultKmsKeyName")
    guardrails = BUCKET_RULES
    policy_settings = CMEK_SETTINGS
    terraform_types = ("google_storage_bucket",)
    terraform_refs = {"defaultKmsKeyName": "id"}

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return bucket_name_problem(ctx.name)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return ResourceId(kind=self.name, name=f"projects/{ctx.project}/buckets/{ctx.name}",
                          scope=f"projects/{ctx.project}",
                          parts={"projects": ctx.project, "buckets": ctx.name})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return canonical({"name": ctx.name, **expand_shorthands(fields)})

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return canonical(with_defaults(live, _LIVE_DEFAULTS))

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        _, bucket = bucket_parts(rid)
        out: dict[str, Any] = {"name": bucket, "url": f"gs://{bucket}"}
        if live and live.get("selfLink"):
            out["selfLink"] = live["selfLink"]
        return out

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        return bucket_violations(desired, policy)

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        return [Imported(name=str(attributes["name"]), project=attributes.get("project"),
                         fields=_from_attributes(attributes), notes=_tf_notes(attributes))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        return [Imported(name=str(live["name"]), project=self.id_from_name(name).parts["projects"],
                         fields=_from_live(live))]

    def holds_ledger(self, name: str, live: dict[str, Any], ledger: str) -> bool:
        return ledger.removeprefix("gs://").split("/")[0] == live.get("name")

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        if _GOOGLE_BUCKETS.match(str(live.get("name", ""))):
            return "a bucket Google's services keep (Cloud Functions, Cloud Build, App Engine)"
        return None

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        project = scope.split("/")[1]
        with translate_errors(f"buckets in {scope}"):
            client = self.clients.get(STORAGE, project)
            return {f"projects/{project}/buckets/{b.name}": dict(b._properties)
                    for b in client.list_buckets(project=project, projection="noAcl", **CALL)}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        project, name = bucket_parts(rid)
        from google.api_core.exceptions import NotFound

        with translate_errors(f"bucket {name}"):
            try:
                return dict(self.clients.get(STORAGE, project).get_bucket(name, **CALL)._properties)
            except NotFound:
                return None

    def holds_data(self, rid: ResourceId) -> bool:
        project, name = bucket_parts(rid)
        from google.api_core.exceptions import NotFound

        with translate_errors(f"bucket {name}"):
            client = self.clients.get(STORAGE, project)
            try:
                blobs = client.list_blobs(name, max_results=1, versions=True, **CALL)
                return next(iter(blobs), None) is not None
            except NotFound:
                return False

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        project, name = bucket_parts(rid)
        from google.api_core.exceptions import Conflict

        with translate_errors(f"bucket {name}"):
            client = self.clients.get(STORAGE, project)
            bucket = client.bucket(name)
            for key, value in desired.items():
                # create_bucket sends only the keys in ``_changes``: patch each one in.
                if key != "name":
                    bucket._patch_property(key, copy_json(value))
            try:
                client.create_bucket(bucket, project=project, **CALL)
            except Conflict as exc:
                raise errors.Conflict(f"409 Conflict: bucket {name} already exists",
                                      status=409) from exc
            return dict(bucket._properties)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        project, name = bucket_parts(rid)
        body = canonical(patch_body(desired, changes))
        with translate_errors(f"bucket {name}"):
            bucket = self.clients.get(STORAGE, project).bucket(name)
            for key, value in body.items():
                bucket._patch_property(key, value)
            bucket.patch(**CALL)
            return dict(bucket._properties)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        project, name = bucket_parts(rid)
        from google.api_core.exceptions import Conflict, NotFound

        if not force and self.holds_data(rid):
            raise errors.PermanentError(f"bucket {name} is not empty: deleting it needs "
                                        "allowDataLoss")
        with translate_errors(f"bucket {name}"):
            bucket = self.clients.get(STORAGE, project).bucket(name)
            try:
                if force:
                    self._delete_objects(bucket)
                bucket.delete(**CALL)
            except NotFound:
                return
            except Conflict as exc:
                raise errors.PermanentError(f"409 Conflict: bucket {name} is not empty",
                                            status=409) from exc

    def _delete_objects(self, bucket: Any) -> None:
        from google.api_core.exceptions import NotFound

        for blob in bucket.client.list_blobs(bucket, versions=True, **CALL):
            try:
                blob.delete(**CALL)
            except NotFound:
                pass

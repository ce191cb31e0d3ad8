"""Bucket resources: validation, server-set defaults, merge-patch and rendering.

Server-set defaults and their sources:

| field | default | source |
|---|---|---|
| ``location`` | ``US`` (upper-cased) | storage v1 discovery ``Bucket.location``: "Defaults to US" |
| ``storageClass`` | ``STANDARD`` | https://cloud.google.com/storage/docs/storage-classes ("default storage class") |
| ``rpo`` | ``DEFAULT`` | magic-modules resource_storage_bucket ``rpo`` (Computed; "Value 'DEFAULT'") |
| ``softDeletePolicy.retentionDurationSeconds`` | ``604800`` | magic-modules resource_storage_bucket ("Default value is 604800") |
| ``iamConfiguration.uniformBucketLevelAccess.lockedTime`` | enable time + 90 days | discovery ``lockedTime`` ("deadline for changing ... from true to false"); https://cloud.google.com/storage/docs/uniform-bucket-level-access (90 days) |
| ``iamConfiguration.publicAccessPrevention`` | ``inherited`` | discovery ``publicAccessPrevention`` |
| ``id``, ``projectNumber``, ``generation``, ``metageneration``, ``etag``, ``timeCreated``, ``updated``, ``locationType``, ``selfLink`` | output only | discovery ``Bucket`` (server-set fields) |

Conflicts answered with Google's 400 (checked on the bucket as it would become):
* object versioning together with a retention policy ("Object versioning cannot be enabled on
  a bucket with a retention policy", Sonar RSPEC-6412;
  terraform-google-modules/terraform-example-foundation#898);
* a soft-delete retention other than 0 (off) or 7 to 90 days
  (https://cloud.google.com/storage/docs/soft-delete#retention-duration);
* ``rpo: ASYNC_TURBO`` outside a dual-region (storage v1 discovery ``Bucket.rpo``, magic-modules
  resource_storage_bucket: "Turbo Replication is only for buckets in dual-regions");
* a locked retention policy at insertion ("Retention Policy should not set/unset lock at
  insertion time", GoogleCloudPlatform/magic-modules#3181).
"""

from __future__ import annotations

import base64
import copy
import re
import time
import zlib
from typing import Any

from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.util import merge_patch, rfc3339, varint

WRITABLE = frozenset({
    "autoclass", "billing", "cors", "customPlacementConfig", "defaultEventBasedHold",
    "encryption", "hierarchicalNamespace", "iamConfiguration", "ipFilter", "labels", "lifecycle",
    "location", "logging", "objectRetention", "retentionPolicy", "rpo", "softDeletePolicy",
    "storageClass", "versioning", "website",
})
MULTI_REGIONS = frozenset({"US", "EU", "ASIA"})
DUAL_REGIONS = frozenset({"NAM4", "EUR4", "ASIA1", "EUR5", "EUR7", "EUR8", "NAM7"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_UBLA_LOCK_SECONDS = 90 * 24 * 3600
_DEFAULT_SOFT_DELETE = "604800"
_SOFT_DELETE_RANGE = range(7 * 86400, 90 * 86400 + 1)

# Real GCS answers with this canonical selfLink whatever endpoint was called; using our own
# ephemeral address would make outputs differ between emulator runs.
GOOGLE_STORAGE_URL = "https://www.googleapis.com"


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or "goog" in name or (
            "." not in name and len(name) > 63):
        raise HttpError(400, f"Invalid bucket name: '{name}'", reason="invalid")
    return name


def project_number(project: str) -> str:
    """A stable fake project number for a project id."""
    return str(100000000000 + zlib.crc32(project.encode()) % 900000000000)


def new_bucket(body: dict[str, Any], *, project: str, generation: int) -> dict[str, Any]:
    """The stored form of a freshly inserted bucket."""
    name = validate_name(body.get("name"))
    now = time.time()
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    if (user.get("retentionPolicy") or {}).get("isLocked"):
        raise HttpError(400, f"Retention Policy should not set/unset lock at insertion time for "
                             f"bucket '{name}'", reason="invalid")
    bucket = _normalise(user, previous=None, now=now)
    bucket.update({"name": name, "id": name, "projectNumber": project_number(project),
                   "generation": str(generation), "timeCreated": rfc3339(now)})
    return _stamp(bucket, metageneration=1, now=now)


def patch_bucket(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Apply a JSON merge-patch of writable fields; output-only fields are ignored."""
    patch = {k: v for k, v in body.items() if k in WRITABLE}
    user = merge_patch(_user_part(current), patch)
    return _replace_user_part(current, user)


def update_bucket(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """PUT semantics: the writable fields become exactly those in the body."""
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    user.setdefault("location", current["location"])
    return _replace_user_part(current, user)


def render(bucket: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """The JSON a client receives."""
    out = {"kind": "storage#bucket",
           "selfLink": f"{GOOGLE_STORAGE_URL}/storage/v1/b/{bucket['name']}"}
    out.update(copy.deepcopy(bucket))
    return out


def _user_part(bucket: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in bucket.items() if k in WRITABLE}


def _replace_user_part(current: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    if str(user.get("location", current["location"])).upper() != current["location"]:
        raise HttpError(400, "The bucket's location cannot be changed.", reason="invalid")
    now = time.time()
    server = {k: v for k, v in current.items() if k not in WRITABLE}
    bucket = _normalise(user, previous=current, now=now)
    bucket.update({k: v for k, v in server.items() if k not in bucket})
    return _stamp(bucket, metageneration=int(current["metageneration"]) + 1, now=now)


def _stamp(bucket: dict[str, Any], *, metageneration: int, now: float) -> dict[str, Any]:
    bucket["metageneration"] = str(metageneration)
    bucket["etag"] = base64.b64encode(b"\x08" + varint(metageneration)).decode()
    bucket["updated"] = rfc3339(now)
    return bucket


def _normalise(user: dict[str, Any], *, previous: dict[str, Any] | None,
               now: float) -> dict[str, Any]:
    """Fill server defaults and canonical forms, as the real API does."""
    bucket = dict(user)
    location = str(bucket.get("location") or "US").upper()
    bucket["location"] = location
    bucket["locationType"] = _location_type(location)
    bucket["storageClass"] = str(bucket.get("storageClass") or "STANDARD").upper()
    bucket["rpo"] = bucket.get("rpo") or "DEFAULT"
    bucket["iamConfiguration"] = _iam_configuration(bucket.get("iamConfiguration"),
                                                    previous, now)
    bucket["softDeletePolicy"] = _soft_delete(bucket.get("softDeletePolicy"), previous, now)
    _retention(bucket, previous, now)
    _check_labels(bucket.get("labels"))
    for key in ("labels", "lifecycle", "encryption", "versioning"):
        if not _non_empty(bucket.get(key)):
            bucket.pop(key, None)
    _check_conflicts(bucket)
    return bucket


def _check_conflicts(bucket: dict[str, Any]) -> None:
    if (bucket.get("versioning") or {}).get("enabled") and bucket.get("retentionPolicy"):
        raise HttpError(400, "A bucket cannot have both a retention policy and object "
                             "versioning enabled.", reason="invalid")
    if bucket["rpo"] == "ASYNC_TURBO" and bucket["locationType"] != "dual-region":
        raise HttpError(400, "The rpo ASYNC_TURBO (Turbo Replication) is only supported for "
                             "dual-region buckets.", reason="invalid")


def _location_type(location: str) -> str:
    if location in MULTI_REGIONS:
        return "multi-region"
    return "dual-region" if location in DUAL_REGIONS else "region"


def _iam_configuration(value: Any, previous: dict[str, Any] | None, now: float) -> dict[str, Any]:
    config = copy.deepcopy(value) if isinstance(value, dict) else {}
    ubla = config.get("uniformBucketLevelAccess") or config.get("bucketPolicyOnly") or {}
    enabled = bool(ubla.get("enabled", False))
    before = ((previous or {}).get("iamConfiguration") or {}).get("uniformBucketLevelAccess", {})
    access: dict[str, Any] = {"enabled": enabled}
    if enabled:
        access["lockedTime"] = before.get("lockedTime") if before.get("enabled") else rfc3339(
            now + _UBLA_LOCK_SECONDS)
    config["uniformBucketLevelAccess"] = access
    config["bucketPolicyOnly"] = dict(access)
    config["publicAccessPrevention"] = config.get("publicAccessPrevention") or "inherited"
    return config


def _soft_delete(value: Any, previous: dict[str, Any] | None, now: float) -> dict[str, Any]:
    policy = value if isinstance(value, dict) else {}
    seconds = str(int(policy.get("retentionDurationSeconds", _DEFAULT_SOFT_DELETE)))
    if int(seconds) != 0 and int(seconds) not in _SOFT_DELETE_RANGE:
        raise HttpError(400, f"Invalid argument: softDeletePolicy.retentionDurationSeconds "
                             f"{seconds} must be 0 (off) or between 604800 (7 days) and "
                             "7776000 (90 days).", reason="invalid")
    before = (previous or {}).get("softDeletePolicy") or {}
    same = before.get("retentionDurationSeconds") == seconds
    return {"retentionDurationSeconds": seconds,
            "effectiveTime": before["effectiveTime"] if same else rfc3339(now)}


def _retention(bucket: dict[str, Any], previous: dict[str, Any] | None, now: float) -> None:
    policy = bucket.get("retentionPolicy")
    if not isinstance(policy, dict) or policy.get("retentionPeriod") is None:
        bucket.pop("retentionPolicy", None)
        return
    before = (previous or {}).get("retentionPolicy") or {}
    period = str(int(policy["retentionPeriod"]))
    if before.get("isLocked") and int(period) < int(before["retentionPeriod"]):
        raise HttpError(403, "Cannot reduce the retention period of a locked retention policy.",
                        reason="forbidden")
    result: dict[str, Any] = {"retentionPeriod": period,
                              "effectiveTime": before.get("effectiveTime") if before.get(
                                  "retentionPeriod") == period else rfc3339(now)}
    if before.get("isLocked"):
        result["isLocked"] = True
    bucket["retentionPolicy"] = result


def _check_labels(labels: Any) -> None:
    if labels is None:
        return
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise HttpError(400, "Invalid argument: labels must map strings to strings")
    if len(labels) > 64:
        raise HttpError(400, "Invalid argument: at most 64 labels are allowed")


def _non_empty(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"rule"}:
            return bool(value["rule"])
        return bool(value)
    return value is not None

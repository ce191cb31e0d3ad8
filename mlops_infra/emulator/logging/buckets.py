"""Log buckets of ``ConfigServiceV2``, with their lifecycle.

| behaviour | source |
|---|---|
| name ``projects/P/locations/L/buckets/B``; B at most 100 of letters, digits, ``_``, ``-``, ``.``, starting with a letter or digit | logging_config.proto ``CreateBucketRequest.bucket_id`` |
| every project has ``_Default`` (30 days) and ``_Required`` (400 days, locked) in ``global``; they cannot be deleted | https://cloud.google.com/logging/docs/routing/overview#buckets; research/clients.md e. |
| ``retentionDays`` 0 at creation means 30; otherwise 1 to 3650 | logging_config.proto ``LogBucket.retention_days``; https://cloud.google.com/logging/docs/buckets#custom-retention |
| a locked bucket's retention cannot change, and it cannot be unlocked | logging_config.proto ``LogBucket.locked`` |
| ``analyticsEnabled`` cannot be turned off once on | logging_config.proto ``analytics_enabled`` ("Once enabled, log analytics features cannot be disabled") |
| a CMEK key (``cmekSettings.kmsKeyName``) cannot be removed | research/clients.md e. |
| delete: the bucket goes to ``DELETE_REQUESTED`` and is purged 7 days later; meanwhile its id cannot be used for a new bucket (409) and it cannot be modified (400 "Buckets must be in an ACTIVE state to be modified"), but it can be undeleted | logging_config.proto ``DeleteBucket``/``UndeleteBucket``; https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.locations.buckets/delete ("After 7 days, the bucket will be purged") and .../undelete ("within the grace period of 7 days"); GoogleCloudPlatform/cloud-foundation-fabric PR #1898; hashicorp/terraform-provider-google#7587 |
| CMEK: the project's Logging CMEK service account (``GetCmekSettings``:
``cmek-pNUMBER@gcp-sa-logging.iam.gserviceaccount.com``) must be able to use the key, as Cloud
Storage's agent must (403 "Permission denied on Cloud KMS key" while the grant propagates) |
https://cloud.google.com/logging/docs/routing/managed-encryption-storage (grant the
``cloudkms.cryptoKeyEncrypterDecrypter`` role to the service account ``GetCmekSettings`` names) |
| update needs a mask (``retention_days``, ``description``, ``locked``, ``analytics_enabled``, ``cmek_settings``, ``restricted_fields``, ``index_configs``) | logging_config.proto ``UpdateBucketRequest.update_mask`` REQUIRED |

``clock`` is the time source (tests replace it to jump days).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.cloud.logging_v2.types import logging_config
from google.protobuf import empty_pb2

from mlops_infra.emulator.grpc_core import RpcError
from mlops_infra.emulator.logging import common

BUCKET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
PURGE_SECONDS = 7 * 24 * 3600
BUILT_IN = {"_Default": {"retentionDays": 30}, "_Required": {"retentionDays": 400, "locked": True}}
_UPDATABLE = ("description", "retentionDays", "locked", "analyticsEnabled", "cmekSettings",
              "restrictedFields", "indexConfigs")


class Buckets:
    """Log-bucket handlers over ``service.state["buckets"]`` (name -> stored JSON)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.clock: Callable[[], float] = time.time

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("buckets", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        self._built_ins(common.project_of(request.parent))
        bucket_id = common.check_id(request.bucket_id, BUCKET_ID, "bucket id",
                                    "at most 100 of letters, digits, '_', '-' and '.', starting "
                                    "with a letter or digit")
        name = f"{request.parent}/buckets/{bucket_id}"
        existing = self._alive(name)
        if existing is not None:
            state = existing.get("lifecycleState")
            raise common.already_exists(
                f"Bucket {bucket_id} already exists" + (
                    " (it was deleted and stays pending deletion for 7 days; undelete it or "
                    "use another id)" if state == "DELETE_REQUESTED" else ""))
        body = self._checked(common.to_json(request.bucket), previous=None)
        self._check_key(body, common.project_of(request.parent))
        now = common.timestamp(self.clock())
        self.items[name] = {**body, "name": name, "lifecycleState": "ACTIVE",
                            "createTime": now, "updateTime": now}
        return self._message(self.items[name])

    def get(self, request: Any) -> Any:
        self._built_ins(common.project_of(request.name))
        return self._message(self._find(request.name))

    def list(self, request: Any) -> Any:
        self._built_ins(common.project_of(request.parent))
        location = request.parent.rsplit("/", 1)[1]
        prefix = request.parent.rsplit("/", 1)[0] + "/"
        mine = [b for n, b in self.items.items() if n.startswith(prefix) and self._alive(n)
                and (location == "-" or n.split("/")[3] == location)]
        chosen, token = common.page(mine, size=request.page_size, token=request.page_token)
        return logging_config.ListBucketsResponse(
            buckets=[self._message(b) for b in chosen], next_page_token=token)

    def update(self, request: Any) -> Any:
        current = self._find(request.name)
        if current.get("lifecycleState") != "ACTIVE":
            raise common.precondition("Buckets must be in an ACTIVE state to be modified")
        if not request.update_mask.paths:
            raise common.invalid("update_mask is required to update a bucket")
        merged = common.masked(current, common.to_json(request.bucket),
                               list(request.update_mask.paths), _UPDATABLE, "a log bucket")
        body = self._checked(merged, previous=current)
        self.items[request.name] = {**body, "updateTime": common.timestamp(self.clock())}
        return self._message(self.items[request.name])

    def delete(self, request: Any) -> Any:
        current = self._find(request.name)
        if current["name"].rsplit("/", 1)[1] in BUILT_IN:
            raise common.precondition(f"Bucket {current['name']} cannot be deleted")
        if current.get("lifecycleState") == "DELETE_REQUESTED":
            raise common.precondition(f"Bucket {current['name']} is already pending deletion")
        current.update(lifecycleState="DELETE_REQUESTED", _purgeAt=self.clock() + PURGE_SECONDS)
        return empty_pb2.Empty()

    def undelete(self, request: Any) -> Any:
        current = self._find(request.name)
        if current.get("lifecycleState") != "DELETE_REQUESTED":
            raise common.precondition(f"Bucket {request.name} is not pending deletion")
        current["lifecycleState"] = "ACTIVE"
        current.pop("_purgeAt", None)
        return empty_pb2.Empty()

    def cmek_settings(self, request: Any) -> Any:
        project = common.project_of(request.name)
        return logging_config.CmekSettings(name=request.name,
                                           service_account_id=cmek_account(project))

    # --- helpers ---
    def _check_key(self, body: dict[str, Any], project: str) -> None:
        key = body.get("cmekSettings", {}).get("kmsKeyName")
        kms = getattr(self.service.emulator, "services", {}).get("kms")
        if not key or kms is None:
            return
        if kms.key_use_error(key, f"serviceAccount:{cmek_account(project)}"):
            raise RpcError(grpc.StatusCode.PERMISSION_DENIED,
                           f"Permission denied on Cloud KMS key {key} for the Cloud Logging "
                           f"service account {cmek_account(project)}")

    def _alive(self, name: str) -> dict[str, Any] | None:
        """The bucket unless purged (7 days after its deletion: then it is forgotten)."""
        bucket = self.items.get(name)
        if bucket is not None and bucket.get("_purgeAt", float("inf")) <= self.clock():
            del self.items[name]
            return None
        return bucket

    def _find(self, name: str) -> dict[str, Any]:
        bucket = self._alive(name)
        if bucket is None:
            raise common.not_found(f"Bucket {name} does not exist")
        return bucket

    def _built_ins(self, project: str) -> None:
        for bucket_id, settings in BUILT_IN.items():
            name = f"projects/{project}/locations/global/buckets/{bucket_id}"
            self.items.setdefault(name, {"name": name, "lifecycleState": "ACTIVE",
                                         "createTime": common.timestamp(0), **settings})

    def _checked(self, body: dict[str, Any], *, previous: dict[str, Any] | None) -> dict[str, Any]:
        out = {k: v for k, v in body.items() if k not in ("createTime", "updateTime")}
        days = int(out.get("retentionDays", 0) or 0)
        if previous is None and days == 0:
            out["retentionDays"] = days = 30
        if not 1 <= days <= 3650:
            raise common.invalid("retention_days must be between 1 and 3650")
        if previous is not None:
            self._check_change(previous, out)
        return out

    def _check_change(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        if before.get("locked") and not after.get("locked"):
            raise common.invalid("A locked bucket cannot be unlocked")
        if before.get("locked") and after.get("retentionDays") != before.get("retentionDays"):
            raise common.precondition("The retention period of a locked bucket cannot be changed")
        if before.get("analyticsEnabled") and not after.get("analyticsEnabled"):
            raise common.invalid("Log Analytics cannot be disabled once enabled")
        if before.get("cmekSettings", {}).get("kmsKeyName") and \
                not after.get("cmekSettings", {}).get("kmsKeyName"):
            raise common.invalid("CMEK cannot be removed from a bucket")

    def _message(self, stored: dict[str, Any]) -> Any:
        shown = {k: v for k, v in stored.items() if not k.startswith("_")}
        return common.from_json(logging_config.LogBucket, shown)


def cmek_account(project: str) -> str:
    from mlops_infra.emulator.projects import project_number

    return f"cmek-p{project_number(project)}@gcp-sa-logging.iam.gserviceaccount.com"

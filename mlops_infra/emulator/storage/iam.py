"""Bucket IAM policies of the Cloud Storage emulator: GET/PUT ``/storage/v1/b/{bucket}/iam``.

The policy lives with its bucket (``state["buckets"][name]["iam"]``), so it goes when the
bucket goes. A new bucket's policy holds GCS's legacy convenience bindings
(``projectOwner:P``/``projectEditor:P`` -> ``roles/storage.legacyBucketOwner``,
``projectViewer:P`` -> ``roles/storage.legacyBucketReader``). The etag changes on every set;
a PUT whose body carries a stale etag is 412 ``conditionNotMet`` (as GCS answers); members
are checked with ``emulator.member_error`` when offered; conditions and policy versions as in
``resourcemanager/policy.py`` (``optionsRequestedPolicyVersion``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_infra.emulator.core import HttpError, Request, Route
from mlops_infra.emulator.resourcemanager import policy
from mlops_infra.emulator.util import int_param

if TYPE_CHECKING:
    from mlops_infra.emulator.storage.service import StorageService

IAM = "/storage/v1/b/{bucket}/iam"


def routes(service: StorageService) -> list[Route]:
    return [Route("GET", IAM, lambda request: get_policy(service, request)),
            Route("PUT", IAM, lambda request: set_policy(service, request))]


def get_policy(service: StorageService, request: Request) -> dict[str, Any]:
    entry = _entry(service, request)
    version = int_param(request.query, "optionsRequestedPolicyVersion") or 0
    return _render(entry, policy.render(_stored(entry), requested_version=version))


def set_policy(service: StorageService, request: Request) -> dict[str, Any]:
    entry = _entry(service, request)
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object", reason="invalid")
    stored = _stored(entry)
    if policy.is_stale(stored, body):
        raise HttpError(412, "At least one of the pre-conditions you specified did not hold.",
                        reason="conditionNotMet")
    checker = getattr(getattr(service, "emulator", None), "member_error", None)
    entry["iam"] = policy.replace(stored, body, member_error=checker)
    return _render(entry, policy.render(entry["iam"], requested_version=3))


def _entry(service: StorageService, request: Request) -> dict[str, Any]:
    entry = service.state["buckets"].get(request.params["bucket"])
    if entry is None:
        raise HttpError(404, "The specified bucket does not exist.", reason="notFound")
    return entry


def _stored(entry: dict[str, Any]) -> dict[str, Any]:
    if "iam" not in entry:
        project = entry["project"]
        entry["iam"] = policy.empty([
            {"role": "roles/storage.legacyBucketOwner",
             "members": [f"projectEditor:{project}", f"projectOwner:{project}"]},
            {"role": "roles/storage.legacyBucketReader", "members": [f"projectViewer:{project}"]},
        ])
    return entry["iam"]


def _render(entry: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    rendered.pop("auditConfigs", None)
    return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{entry['bucket']['name']}",
            **rendered}

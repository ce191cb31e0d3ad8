"""``storage.BucketBindings``: IAM bindings on a Cloud Storage bucket's policy (additive).

    kind: storage.BucketBindings
    bucket: ${raw.name}
    bindings:
      - role: roles/storage.objectViewer
        members: [serviceAccount:${trainer.email}]

Only the listed (role, member) pairs are managed (see ``kinds/_iam_policy.py``); GCS's own
legacy bindings and anyone else's stay. The policy is read with policy version 3 and written
back with its etag: a concurrent write answers 412, which is re-read and redone. Identity
``projects/P/buckets/B/iamBindings/ADDRESS`` (under the bucket, so its deletion comes after).

Moving in: ``google_storage_bucket_iam_member``/``_binding``/``_policy`` (their ``bucket`` is
``b/NAME``, magic-modules ``iam_storage_bucket.go``), and live bucket policies without the
``projectOwner:``-style members every bucket policy starts with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from mlops_infra.engine.kind import ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, translate_errors
from mlops_infra.kinds._clients import STORAGE
from mlops_infra.kinds._iam_policy import BindingsSpec, IamBindingsKind
from mlops_infra.kinds._imports import last_segment
from mlops_infra.kinds._names import BucketName


class BucketBindingsSpec(BindingsSpec):
    """(role, member) pairs on one bucket."""

    bucket: BucketName = Field(description="the bucket name, e.g. ${raw.name}")


@register
class BucketBindings(IamBindingsKind):
    """IAM bindings on a bucket (additive)."""

    name = "storage.BucketBindings"
    name_pattern = "projects/*/buckets/*/iamBindings/*"
    layer = "Security"
    model = BucketBindingsSpec
    api = "storage.googleapis.com"
    uses = (STORAGE,)
    terraform_types = ("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding",
                       "google_storage_bucket_iam_policy")
    terraform_refs = {**IamBindingsKind.terraform_refs, "bucket": "name"}

    def terraform_target(self, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        return {"bucket": last_segment(str(attributes["bucket"]))}, None

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        with translate_errors(f"buckets in projects/{project}"):
            names = [b.name for b in self.clients.get(STORAGE, project).list_buckets(
                project=project, **CALL)]
        found = {}
        for bucket in names:
            rid = self.id_from_name(f"projects/{project}/buckets/{bucket}/iamBindings/{bucket}-iam")
            policy = self.get_policy(rid)
            if policy is not None:
                found[rid.name] = {"policy": policy, "target": {"bucket": bucket}, "project": project}
        return found

    def target(self, ctx: ResourceContext, fields: dict[str, Any]) -> str:
        return f"projects/{ctx.project}/buckets/{fields['bucket']}"

    def get_policy(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        project, bucket = rid.parts["projects"], rid.parts["buckets"]

        def read() -> dict[str, Any] | None:
            with translate_errors(f"IAM policy of bucket {bucket}"):
                try:
                    policy = self.clients.get(STORAGE, project).bucket(bucket).get_iam_policy(
                        requested_policy_version=3, **CALL)
                except NotFound:
                    return None
            return dict(policy.to_api_repr())
        return self.clients.read_once(("storage.policy", bucket), read)  # type: ignore[no-any-return]

    def set_policy(self, rid: ResourceId, policy: dict[str, Any]) -> dict[str, Any]:
        from google.api_core.iam import Policy

        project, bucket = rid.parts["projects"], rid.parts["buckets"]
        with translate_errors(f"IAM policy of bucket {bucket}"):
            result = self.clients.get(STORAGE, project).bucket(bucket).set_iam_policy(
                Policy.from_api_repr(policy), **CALL)
        return dict(result.to_api_repr())

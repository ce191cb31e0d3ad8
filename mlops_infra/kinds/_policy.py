"""Guardrail rules for data kinds (buckets, datasets), checked on the desired REST state.

The engine applies waivers and reports file:line; here we only say what is wrong and where.
The rule names and the ``policy:`` settings they read are declared here and by the kinds
that check them (``Kind.guardrails`` / ``Kind.policy_settings``).
"""

from __future__ import annotations

from typing import Any

from mlops_infra.engine import paths
from mlops_infra.engine.kind import Violation

PUBLIC = ("allUsers", "allAuthenticatedUsers")

NO_PUBLIC_MEMBERS = {"no-public-members": "no allUsers / allAuthenticatedUsers in any binding or "
                                          "dataset access entry"}
REQUIRE_CMEK = {"require-cmek": "with policy: {require_cmek: true}, every bucket, dataset and "
                                "Vertex AI or Workbench resource that takes a KMS key has one"}
CMEK_SETTINGS = {"require_cmek": bool}
BUCKET_RULES = {
    "bucket-uniform-access": "buckets set uniformBucketLevelAccess: true",
    "bucket-public-access-prevention": "buckets set publicAccessPrevention: enforced",
    **REQUIRE_CMEK,
}
DATASET_RULES = {**NO_PUBLIC_MEMBERS, **REQUIRE_CMEK}


def bucket_violations(desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
    """Uniform bucket-level access on, public access prevention enforced, CMEK when required."""
    found = []
    if paths.get(desired, "iamConfiguration.uniformBucketLevelAccess.enabled", None) is not True:
        found.append(Violation(rule="bucket-uniform-access", path="uniformBucketLevelAccess",
                               message="buckets must enable uniform bucket-level access "
                                       "(uniformBucketLevelAccess: true)"))
    if paths.get(desired, "iamConfiguration.publicAccessPrevention", None) != "enforced":
        found.append(Violation(rule="bucket-public-access-prevention", path="publicAccessPrevention",
                               message="buckets must enforce public access prevention "
                                       "(publicAccessPrevention: enforced)"))
    if policy.get("require_cmek") and not paths.get(desired, "encryption.defaultKmsKeyName", None):
        found.append(Violation(rule="require-cmek", path="defaultKmsKeyName",
                               message="policy.require_cmek: the bucket needs a default KMS key "
                                       "(defaultKmsKeyName)"))
    return found


def dataset_violations(desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
    """No public access entries; CMEK when required."""
    found = [Violation(rule="no-public-members", path="access",
                       message=f"access entry {entry} makes the dataset public")
             for entry in desired.get("access", [])
             if entry.get("specialGroup") in PUBLIC or entry.get("iamMember") in PUBLIC]
    if policy.get("require_cmek") and not paths.get(desired, "defaultEncryptionConfiguration.kmsKeyName", None):
        found.append(Violation(rule="require-cmek", path="defaultKmsKeyName",
                               message="policy.require_cmek: the dataset needs a default KMS key "
                                       "(defaultKmsKeyName)"))
    return found


def cmek_violations(desired: dict[str, Any], policy: dict[str, Any], *, at: tuple[str, ...],
                    field: str, what: str) -> list[Violation]:
    """``require-cmek`` for a kind whose key lives at the REST paths ``at`` (all needed)."""
    if not policy.get("require_cmek") or all(paths.get(desired, p, None) for p in at):
        return []
    return [Violation(rule="require-cmek", path=field,
                      message=f"policy.require_cmek: the {what} needs a KMS key ({field})")]

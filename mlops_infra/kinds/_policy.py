"""Guardrail rules for data kinds (buckets, datasets), checked on the desired REST state.

The engine applies waivers and reports file:line; here we only say what is wrong and where.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.engine.kind import Violation
from mlops_infra.kinds._base import get_path

PUBLIC = ("allUsers", "allAuthenticatedUsers")


def bucket_violations(desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
    """Uniform bucket-level access on, public access prevention enforced, CMEK when required."""
    found = []
    if get_path(desired, "iamConfiguration.uniformBucketLevelAccess.enabled") is not True:
        found.append(Violation(rule="bucket-uniform-access", path="uniformBucketLevelAccess",
                               message="buckets must enable uniform bucket-level access "
                                       "(uniformBucketLevelAccess: true)"))
    if get_path(desired, "iamConfiguration.publicAccessPrevention") != "enforced":
        found.append(Violation(rule="bucket-public-access-prevention", path="publicAccessPrevention",
                               message="buckets must enforce public access prevention "
                                       "(publicAccessPrevention: enforced)"))
    if policy.get("require_cmek") and not get_path(desired, "encryption.defaultKmsKeyName"):
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
    if policy.get("require_cmek") and not get_path(desired, "defaultEncryptionConfiguration.kmsKeyName"):
        found.append(Violation(rule="require-cmek", path="defaultKmsKeyName",
                               message="policy.require_cmek: the dataset needs a default KMS key "
                                       "(defaultKmsKeyName)"))
    return found

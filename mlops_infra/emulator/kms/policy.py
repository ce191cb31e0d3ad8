"""Crypto-key IAM policies: the shared IAM policy semantics (``resourcemanager/policy.py``:
etags, conditions kept separate, policy versions and ``_withcond_`` reads, lower-cased
members, member checks, grant times) with KMS's wire details.

``getIamPolicy`` reads ``options.requestedPolicyVersion`` from the query ("Requests for
policies with any conditional role bindings must specify version 3", cloudkms v1 discovery,
cryptoKeys.getIamPolicy); a ``setIamPolicy`` carrying a stale etag is 409 ABORTED.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.resourcemanager import policy as shared

MemberCheck = shared.MemberCheck


def stored(policies: dict[str, Any], resource: str) -> dict[str, Any]:
    return policies.get(resource) or shared.empty()


def get(policies: dict[str, Any], resource: str, *, requested_version: int = 0) -> dict[str, Any]:
    rendered = shared.render(stored(policies, resource), requested_version=requested_version)
    rendered.pop("auditConfigs", None)
    return rendered


def put(policies: dict[str, Any], resource: str, policy: Any, *,
        member_error: MemberCheck) -> dict[str, Any]:
    """Replace the policy of ``resource`` (etag-checked); return the new policy (version 3 view)."""
    if not isinstance(policy, dict):
        raise HttpError(400, "policy is required")
    current = stored(policies, resource)
    if shared.is_stale(current, policy):
        raise HttpError(409, "There were concurrent policy changes. Please retry the whole "
                             "read-modify-write with exponential backoff.", status="ABORTED",
                        reason="aborted")
    policies[resource] = shared.replace(current, policy, member_error=member_error)
    return get(policies, resource, requested_version=3)


def granted_since(policies: dict[str, Any], resource: str, role: str, member: str) -> float | None:
    return shared.granted_since(stored(policies, resource), role, member)

"""IAM policies on emulated resources: etags that change on every set, stale etags refused.

``get``/``put`` act on a ``policies`` dict (resource name -> stored policy) kept in a
service's JSON state. A set carrying an etag that is not the current one fails with 409
ABORTED, as Google's IAM does; a set without an etag overwrites. Members are checked for
shape, and ``serviceAccount:`` members with ``member_exists`` when the emulator offers it.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.core import HttpError

_PREFIXES = ("user:", "group:", "serviceAccount:", "domain:", "principal:", "principalSet:",
             "deleted:", "projectOwner:", "projectEditor:", "projectViewer:")
_SPECIAL = ("allUsers", "allAuthenticatedUsers")


def etag_of(version: int) -> str:
    """A valid base64 etag (clients decode it as bytes) derived from a counter."""
    return base64.b64encode(b"BwX" + version.to_bytes(6, "big")).decode()


def get(policies: dict[str, Any], resource: str) -> dict[str, Any]:
    stored = policies.get(resource) or {"version": 1, "bindings": [], "serial": 0}
    policy: dict[str, Any] = {"version": stored["version"], "etag": etag_of(stored["serial"])}
    if stored["bindings"]:
        policy["bindings"] = copy.deepcopy(stored["bindings"])
    return policy


def put(policies: dict[str, Any], resource: str, policy: Any, *,
        member_exists: Callable[[str], bool] | None) -> dict[str, Any]:
    """Replace the policy of ``resource`` (etag-checked); return the new policy."""
    if not isinstance(policy, dict):
        raise HttpError(400, "policy is required")
    current = policies.get(resource) or {"version": 1, "bindings": [], "serial": 0}
    etag = policy.get("etag")
    if etag and etag != etag_of(current["serial"]):
        raise HttpError(409, "There were concurrent policy changes. Please retry the whole "
                             "read-modify-write with exponential backoff.", status="ABORTED",
                        reason="aborted")
    bindings = _bindings(policy.get("bindings") or [], member_exists)
    policies[resource] = {"version": int(policy.get("version") or 1), "bindings": bindings,
                          "serial": current["serial"] + 1}
    return get(policies, resource)


def _bindings(raw: Any, member_exists: Callable[[str], bool] | None) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise HttpError(400, "policy.bindings must be a list")
    merged: dict[str, list[str]] = {}
    for binding in raw:
        role = binding.get("role") if isinstance(binding, dict) else None
        if not isinstance(role, str) or not role.startswith(("roles/", "projects/",
                                                             "organizations/")):
            raise HttpError(400, f"Invalid role {role!r}")
        for member in binding.get("members") or []:
            _check_member(member, member_exists)
            if member not in merged.setdefault(role, []):
                merged[role].append(member)
    return [{"role": role, "members": members} for role, members in merged.items() if members]


def _check_member(member: Any, member_exists: Callable[[str], bool] | None) -> None:
    if not isinstance(member, str) or not (member in _SPECIAL or member.startswith(_PREFIXES)):
        raise HttpError(400, f"Invalid member {member!r}: expected e.g. 'user:a@example.com'")
    if member.startswith("serviceAccount:") and member_exists is not None \
            and not member_exists(member):
        raise HttpError(400, f"Service account {member.partition(':')[2]} does not exist.",
                        status="INVALID_ARGUMENT")

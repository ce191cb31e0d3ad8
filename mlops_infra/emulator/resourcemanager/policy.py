"""IAM policy storage with Google's read-modify-write semantics, shared by the emulated
project policies (Resource Manager), bucket policies (Cloud Storage) and crypto-key policies
(Cloud KMS).

A stored policy is ``{version, bindings, auditConfigs, serial, grantedAt}``; its etag is
derived from ``serial`` (valid base64: clients decode etags as bytes) and changes on every
set. A set carrying a stale etag is refused (the caller chooses the status: 409 ABORTED for
Resource Manager and KMS, 412 for Cloud Storage); a set without an etag overwrites. Members
are checked for shape and with ``member_error`` (service accounts that do not exist yet,
Workload Identity pools); emails are stored lower-cased (hashicorp/terraform-provider-google
#3880, GoogleCloudPlatform/magic-modules#1957). ``grantedAt`` records when each unconditional
(role, member) pair was granted, for grants that take time to take effect.

Policy versions (https://cloud.google.com/iam/docs/policies#versions, and the discovery
documents' ``options.requestedPolicyVersion``: "Requests for policies with any conditional role
bindings must specify version 3"): conditional bindings stay separate from unconditional ones
of the same role; a reader asking for a version below 3 gets version 1 with each conditional
binding's role renamed ``ROLE_withcond_HASH`` and its condition hidden
(https://cloud.google.com/iam/docs/troubleshooting-withcond); a write below version 3 that
carries conditions, or that would replace a policy holding conditions, is a 400, and so is a
role named ``..._withcond_...``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.core import HttpError

MemberCheck = Callable[[str], "str | None"] | None   # Google's 400 message, or None if fine

_MEMBER = re.compile(r"^(allUsers|allAuthenticatedUsers|(user|group|serviceAccount|domain|"
                     r"principal|principalSet|deleted:user|deleted:group|deleted:serviceAccount|"
                     r"projectOwner|projectEditor|projectViewer):.+)$")
_ROLE = re.compile(r"^(roles|projects/[^/]+/roles|organizations/[^/]+/roles)/.+$")
_LOG_TYPES = frozenset({"ADMIN_READ", "DATA_READ", "DATA_WRITE"})
# REST clients send ``$alt=json;enum-encoding=int``: log types may arrive as numbers.
_LOG_TYPE_NUMBERS = {1: "ADMIN_READ", 2: "DATA_WRITE", 3: "DATA_READ"}
DEFAULT_MASK = ("bindings", "etag")
_EMAIL_KINDS = ("user", "group", "serviceAccount", "domain", "deleted:user", "deleted:group",
                "deleted:serviceAccount")
_VERSION_MESSAGE = ("The policy has conditional role bindings: its version must be 3 "
                    "(https://cloud.google.com/iam/docs/policies#versions)")


def etag_of(serial: int) -> str:
    return base64.b64encode(b"\x07" + serial.to_bytes(7, "big")).decode()


def empty(bindings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"version": 1, "bindings": bindings or [], "auditConfigs": [], "serial": 0}


def render(stored: dict[str, Any], *, requested_version: int = 1) -> dict[str, Any]:
    """The REST ``Policy`` of a stored policy, as a reader asking for ``requested_version`` sees it."""
    if requested_version not in (0, 1, 3):
        raise HttpError(400, f"Invalid requested policy version {requested_version}: valid "
                             "values are 0, 1 and 3")
    conditional = has_conditions(stored)
    policy: dict[str, Any] = {"version": 3 if conditional and requested_version >= 3 else 1,
                              "etag": etag_of(stored["serial"])}
    bindings = copy.deepcopy(stored["bindings"])
    if conditional and requested_version < 3:
        bindings = [_hidden_condition(b) for b in bindings]
    if bindings:
        policy["bindings"] = bindings
    if stored.get("auditConfigs"):
        policy["auditConfigs"] = copy.deepcopy(stored["auditConfigs"])
    return policy


def has_conditions(stored: dict[str, Any]) -> bool:
    return any("condition" in b for b in stored["bindings"])


def _hidden_condition(binding: dict[str, Any]) -> dict[str, Any]:
    if "condition" not in binding:
        return binding
    digest = hashlib.sha1(json.dumps(binding["condition"], sort_keys=True).encode()).hexdigest()
    return {"role": f"{binding['role']}_withcond_{digest[:20]}", "members": binding["members"]}


def is_stale(stored: dict[str, Any], policy: dict[str, Any]) -> bool:
    etag = policy.get("etag")
    return bool(etag) and etag != etag_of(stored["serial"])


def replace(stored: dict[str, Any], policy: Any, *, mask: tuple[str, ...] = DEFAULT_MASK,
            member_error: MemberCheck = None, now: float | None = None) -> dict[str, Any]:
    """The new stored policy: ``policy``'s masked fields over ``stored`` (etag NOT checked here)."""
    if not isinstance(policy, dict):
        raise HttpError(400, "policy is required")
    new = copy.deepcopy(stored)
    if "bindings" in mask:
        bindings = _bindings(policy.get("bindings") or [], member_error)
        version = int(policy.get("version") or 1)
        if version < 3 and (any("condition" in b for b in bindings) or has_conditions(stored)):
            raise HttpError(400, _VERSION_MESSAGE, status="INVALID_ARGUMENT")
        new["bindings"] = bindings
        new["grantedAt"] = _grant_times(stored, bindings, time.time() if now is None else now)
    if "auditConfigs" in mask:
        new["auditConfigs"] = _audit_configs(policy.get("auditConfigs") or [])
    new["version"] = 3 if has_conditions(new) else 1
    new["serial"] = stored["serial"] + 1
    return new


def granted_since(stored: dict[str, Any], role: str, member: str) -> float | None:
    """When ``member`` got ``role`` unconditionally (epoch seconds), or ``None`` if it has not."""
    if not any(b["role"] == role and "condition" not in b and member in b["members"]
               for b in stored["bindings"]):
        return None
    return float(stored.get("grantedAt", {}).get(_pair(role, member), 0.0))


def _grant_times(stored: dict[str, Any], bindings: list[dict[str, Any]],
                 now: float) -> dict[str, float]:
    before = stored.get("grantedAt", {})
    pairs = {_pair(b["role"], m) for b in bindings if "condition" not in b for m in b["members"]}
    return {pair: before.get(pair, now) for pair in sorted(pairs)}


def _pair(role: str, member: str) -> str:
    return f"{role} {member}"


def normalize_member(member: str) -> str:
    """``user:Ana@Example.com`` -> ``user:ana@example.com`` (IAM stores emails lower-cased)."""
    kind, sep, rest = member.rpartition(":") if member.startswith("deleted:") \
        else member.partition(":")
    if not sep or kind not in _EMAIL_KINDS:
        return member
    email, _, suffix = rest.partition("?")
    return f"{kind}:{email.lower()}" + (f"?{suffix}" if suffix else "")


def add_binding(stored: dict[str, Any], *, role: str, member: str) -> dict[str, Any]:
    """``stored`` with ``member`` added to ``role`` (someone else's write) and a new etag."""
    new = copy.deepcopy(stored)
    found = next((b for b in new["bindings"] if b["role"] == role and "condition" not in b), None)
    if found is None:
        new["bindings"].append({"role": role, "members": [member]})
    elif member not in found["members"]:
        found["members"].append(member)
    new["serial"] = stored["serial"] + 1
    return new


def parse_mask(raw: Any) -> tuple[str, ...]:
    """``updateMask`` ("bindings,etag" or ``{"paths": [...]}``); Google's default when absent."""
    if isinstance(raw, dict):
        raw = ",".join(raw.get("paths") or [])
    if not raw:
        return DEFAULT_MASK
    fields = tuple(p.strip() for p in str(raw).split(",") if p.strip())
    unknown = [f for f in fields if f not in ("bindings", "etag", "auditConfigs")]
    if unknown:
        raise HttpError(400, f"Invalid updateMask path: {unknown[0]}")
    return fields


def _bindings(raw: Any, member_error: MemberCheck) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise HttpError(400, "policy.bindings must be a list")
    merged: dict[str, dict[str, Any]] = {}
    for binding in raw:
        _check_binding(binding, member_error)
        key = repr((binding["role"], binding.get("condition")))
        entry = merged.setdefault(key, {k: copy.deepcopy(v) for k, v in binding.items()
                                        if k in ("role", "condition")} | {"members": []})
        members = [normalize_member(m) for m in binding["members"]]
        entry["members"] += [m for m in members if m not in entry["members"]]
    return [b for b in merged.values() if b["members"]]


def _check_binding(binding: Any, member_error: MemberCheck) -> None:
    if not isinstance(binding, dict) or not _ROLE.match(str(binding.get("role", ""))):
        raise HttpError(400, f"Invalid role in binding: {binding!r}")
    if "_withcond_" in binding["role"]:
        raise HttpError(400, f"Role {binding['role']} is not a valid role: it names a conditional "
                             "binding read with a policy version below 3 "
                             "(https://cloud.google.com/iam/docs/troubleshooting-withcond)")
    members = binding.get("members") or []
    if not isinstance(members, list):
        raise HttpError(400, "binding.members must be a list")
    for member in members:
        check_member(member, member_error)
    condition = binding.get("condition")
    if condition is not None and not (isinstance(condition, dict) and condition.get("expression")):
        raise HttpError(400, "binding.condition needs an expression")


def check_member(member: Any, member_error: MemberCheck) -> None:
    if not isinstance(member, str) or not _MEMBER.match(member):
        raise HttpError(400, f"Invalid member: {member!r}")
    problem = member_error(member) if member_error is not None else None
    if problem:
        raise HttpError(400, problem, status="INVALID_ARGUMENT", reason="badRequest")


def _audit_configs(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise HttpError(400, "policy.auditConfigs must be a list")
    out = []
    for config in raw:
        if not isinstance(config, dict) or not config.get("service"):
            raise HttpError(400, "auditConfigs[].service is required")
        logs = [_log_config(log) for log in config.get("auditLogConfigs") or []]
        out.append({"service": config["service"], "auditLogConfigs": logs})
    return out


def _log_config(log: Any) -> dict[str, Any]:
    log_type = log.get("logType") if isinstance(log, dict) else None
    log_type = _LOG_TYPE_NUMBERS.get(log_type, log_type) if isinstance(log_type, int) else log_type
    if log_type not in _LOG_TYPES:
        raise HttpError(400, f"Invalid logType: {log_type!r}")
    out: dict[str, Any] = {"logType": log_type}
    if log.get("exemptedMembers"):
        out["exemptedMembers"] = list(log["exemptedMembers"])
    return out

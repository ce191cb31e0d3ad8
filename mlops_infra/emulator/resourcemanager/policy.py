"""IAM policy storage with Google's read-modify-write semantics, shared by the emulated
project policies (Resource Manager) and bucket policies (Cloud Storage).

A stored policy is ``{version, bindings, auditConfigs, serial}``; its etag is derived
from ``serial`` (valid base64: clients decode etags as bytes) and changes on every set.
A set carrying a stale etag is refused (the caller chooses the status: 409 ABORTED for
Resource Manager, 412 for Cloud Storage); a set without an etag overwrites. Members are
checked for shape, and ``serviceAccount:`` members with ``member_exists`` when given.
A policy holding conditions is only returned to readers asking for version 3.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.core import HttpError

MemberCheck = Callable[[str], bool] | None

_MEMBER = re.compile(r"^(allUsers|allAuthenticatedUsers|(user|group|serviceAccount|domain|"
                     r"principal|principalSet|deleted:user|deleted:group|deleted:serviceAccount|"
                     r"projectOwner|projectEditor|projectViewer):.+)$")
_ROLE = re.compile(r"^(roles|projects/[^/]+/roles|organizations/[^/]+/roles)/.+$")
_LOG_TYPES = frozenset({"ADMIN_READ", "DATA_READ", "DATA_WRITE"})
# REST clients send ``$alt=json;enum-encoding=int``: log types may arrive as numbers.
_LOG_TYPE_NUMBERS = {1: "ADMIN_READ", 2: "DATA_WRITE", 3: "DATA_READ"}
DEFAULT_MASK = ("bindings", "etag")


def etag_of(serial: int) -> str:
    return base64.b64encode(b"\x07" + serial.to_bytes(7, "big")).decode()


def empty(bindings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"version": 1, "bindings": bindings or [], "auditConfigs": [], "serial": 0}


def render(stored: dict[str, Any], *, requested_version: int = 1) -> dict[str, Any]:
    """The REST ``Policy`` of a stored policy, as a reader asking for ``requested_version`` sees it."""
    conditional = any("condition" in b for b in stored["bindings"])
    if conditional and requested_version < 3:
        raise HttpError(400, "Policy has conditional role bindings; request policy version 3 "
                             "(options.requestedPolicyVersion) to read it.")
    policy: dict[str, Any] = {"version": 3 if conditional else 1, "etag": etag_of(stored["serial"])}
    if stored["bindings"]:
        policy["bindings"] = copy.deepcopy(stored["bindings"])
    if stored.get("auditConfigs"):
        policy["auditConfigs"] = copy.deepcopy(stored["auditConfigs"])
    return policy


def is_stale(stored: dict[str, Any], policy: dict[str, Any]) -> bool:
    etag = policy.get("etag")
    return bool(etag) and etag != etag_of(stored["serial"])


def replace(stored: dict[str, Any], policy: Any, *, mask: tuple[str, ...] = DEFAULT_MASK,
            member_exists: MemberCheck = None) -> dict[str, Any]:
    """The new stored policy: ``policy``'s masked fields over ``stored`` (etag NOT checked here)."""
    if not isinstance(policy, dict):
        raise HttpError(400, "policy is required")
    new = copy.deepcopy(stored)
    if "bindings" in mask:
        new["bindings"] = _bindings(policy.get("bindings") or [], member_exists)
    if "auditConfigs" in mask:
        new["auditConfigs"] = _audit_configs(policy.get("auditConfigs") or [])
    new["serial"] = stored["serial"] + 1
    return new


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


def _bindings(raw: Any, member_exists: MemberCheck) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise HttpError(400, "policy.bindings must be a list")
    merged: dict[str, dict[str, Any]] = {}
    for binding in raw:
        _check_binding(binding, member_exists)
        key = repr((binding["role"], binding.get("condition")))
        entry = merged.setdefault(key, {k: copy.deepcopy(v) for k, v in binding.items()
                                        if k in ("role", "condition")} | {"members": []})
        entry["members"] += [m for m in binding["members"] if m not in entry["members"]]
    return [b for b in merged.values() if b["members"]]


def _check_binding(binding: Any, member_exists: MemberCheck) -> None:
    if not isinstance(binding, dict) or not _ROLE.match(str(binding.get("role", ""))):
        raise HttpError(400, f"Invalid role in binding: {binding!r}")
    members = binding.get("members") or []
    if not isinstance(members, list):
        raise HttpError(400, "binding.members must be a list")
    for member in members:
        check_member(member, member_exists)
    condition = binding.get("condition")
    if condition is not None and not (isinstance(condition, dict) and condition.get("expression")):
        raise HttpError(400, "binding.condition needs an expression")


def check_member(member: Any, member_exists: MemberCheck) -> None:
    if not isinstance(member, str) or not _MEMBER.match(member):
        raise HttpError(400, f"Invalid member: {member!r}")
    if member.startswith("serviceAccount:") and member_exists is not None \
            and not member_exists(member):
        raise HttpError(400, f"Service account {member.split(':', 1)[1]} does not exist.")


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

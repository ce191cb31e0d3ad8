"""Compute Engine firewall rules: the stored resource with the server's defaults (priority
1000 and INGRESS: compute v1 discovery ``Firewall.priority``/``direction``; an ingress rule
with no source gets ``0.0.0.0/0``, an egress rule with no destination ``0.0.0.0/0``: gcloud
``firewall-rules create`` docs), validation, patch and full update.

Sources: compute v1 discovery ``Firewall`` ("sourceServiceAccounts cannot be used at the same
time as sourceTags or targetTags"; "targetServiceAccounts cannot be used at the same time as
targetTags or sourceTags"); magic-modules Firewall.yaml (``conflicts``, ``max_size: 10`` for
both service-account lists, and ``is_set: true`` for allowed, denied, sourceRanges,
destinationRanges, sourceTags, targetTags, sourceServiceAccounts, targetServiceAccounts: the
API treats them as sets, so they come back in the server's order, here sorted).
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from mlops_infra.emulator.compute.common import (
    check_name,
    global_url,
    invalid,
    refuse_immutable,
    timestamp,
)
from mlops_infra.emulator.util import merge_patch

_IMMUTABLE = frozenset({"name", "network", "direction"})
_OUTPUT_ONLY = ("kind", "id", "creationTimestamp", "selfLink")
_PORTED = frozenset({"tcp", "udp", "sctp", "6", "17", "132"})
_SETS = ("sourceRanges", "destinationRanges", "sourceTags", "targetTags",
         "sourceServiceAccounts", "targetServiceAccounts")
_MAX_SERVICE_ACCOUNTS = 10


def new_firewall(body: dict[str, Any], *, project: str, network: str,
                 number: int) -> dict[str, Any]:
    """The stored firewall: the client's fields plus server defaults and output-only fields."""
    name = check_name(body.get("name"))
    rule = copy.deepcopy(body)
    rule.update(kind="compute#firewall", id=str(8_000_000_000_000 + number),
                creationTimestamp=timestamp(), network=network,
                selfLink=global_url(project, "firewalls", name))
    return _completed(rule)


def patch_firewall(rule: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Merge-patch semantics: given fields replace (lists whole), others stay."""
    _keep_immutable(body, rule)
    return _completed(merge_patch(rule, {k: v for k, v in body.items()
                                         if k not in _OUTPUT_ONLY}))


def update_firewall(rule: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Full replacement (PUT): fields the body leaves out go back to their defaults."""
    _keep_immutable(body, rule)
    kept = {k: rule[k] for k in (*_OUTPUT_ONLY, *_IMMUTABLE) if k in rule}
    return _completed({**{k: v for k, v in body.items() if k not in _OUTPUT_ONLY}, **kept})


def _keep_immutable(body: dict[str, Any], rule: dict[str, Any]) -> None:
    given = {k: body[k] for k in _IMMUTABLE if k in body}
    # A network given as a partial URL names the same network as the stored full URL.
    if isinstance(given.get("network"), str) and rule["network"].endswith(given["network"]):
        given["network"] = rule["network"]
    refuse_immutable(given, rule, frozenset(), what="resource")


def _completed(rule: dict[str, Any]) -> dict[str, Any]:
    rule.setdefault("direction", "INGRESS")
    rule.setdefault("priority", 1000)
    rule.setdefault("disabled", False)
    rule.setdefault("logConfig", {"enable": False})
    if rule["logConfig"].get("enable"):
        rule["logConfig"].setdefault("metadata", "INCLUDE_ALL_METADATA")
    _check(rule)
    if rule["direction"] == "INGRESS" and not any(
            rule.get(k) for k in ("sourceRanges", "sourceTags", "sourceServiceAccounts")):
        rule["sourceRanges"] = ["0.0.0.0/0"]
    if rule["direction"] == "EGRESS" and not rule.get("destinationRanges"):
        rule["destinationRanges"] = ["0.0.0.0/0"]
    _as_sets(rule)
    return {k: v for k, v in rule.items() if v != []}


def _as_sets(rule: dict[str, Any]) -> None:
    """Set-valued lists in the server's canonical order (sorted), duplicates dropped."""
    for key in _SETS:
        if isinstance(rule.get(key), list):
            rule[key] = sorted(set(rule[key]))
    for key in ("allowed", "denied"):
        if isinstance(rule.get(key), list):
            rule[key] = sorted(rule[key], key=lambda e: (str(e.get("IPProtocol")),
                                                         [str(p) for p in e.get("ports", [])]))


def _check(rule: dict[str, Any]) -> None:
    if rule["direction"] not in ("INGRESS", "EGRESS"):
        raise invalid(f"Invalid value for field 'resource.direction': '{rule['direction']}'.")
    if not isinstance(rule["priority"], int) or not 0 <= rule["priority"] <= 65535:
        raise invalid(f"Invalid value for field 'resource.priority': '{rule['priority']}'. "
                      "Must be between 0 and 65535.")
    if bool(rule.get("allowed")) == bool(rule.get("denied")):
        raise invalid("Exactly one of 'allowed' or 'denied' must be specified.",
                      reason="invalid")
    for key in ("allowed", "denied"):
        for i, entry in enumerate(rule.get(key) or []):
            _check_entry(entry, f"resource.{key}[{i}]")
    for key in ("sourceRanges", "destinationRanges"):
        for value in rule.get(key) or []:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise invalid(f"Invalid value for field 'resource.{key}': '{value}'. "
                              "Must be a valid CIDR range.") from None
    if rule["direction"] == "EGRESS" and (rule.get("sourceTags") or
                                          rule.get("sourceServiceAccounts")):
        raise invalid("Source tags and service accounts cannot be used in an EGRESS rule.")
    _check_service_accounts(rule)


def _check_service_accounts(rule: dict[str, Any]) -> None:
    tags = [k for k in ("sourceTags", "targetTags") if rule.get(k)]
    accounts = [k for k in ("sourceServiceAccounts", "targetServiceAccounts") if rule.get(k)]
    if tags and accounts:
        raise invalid(f"Invalid value for field 'resource.{accounts[0]}': {accounts[0]} cannot "
                      f"be used at the same time as sourceTags or targetTags (found {tags[0]}).")
    for key in accounts:
        if len(rule[key]) > _MAX_SERVICE_ACCOUNTS:
            raise invalid(f"Invalid value for field 'resource.{key}': at most "
                          f"{_MAX_SERVICE_ACCOUNTS} service accounts are allowed.")


def _check_entry(entry: Any, field: str) -> None:
    if not isinstance(entry, dict) or not entry.get("IPProtocol"):
        raise invalid(f"Required field '{field}.IPProtocol' not specified", reason="required")
    ports = entry.get("ports") or []
    if ports and str(entry["IPProtocol"]).lower() not in _PORTED:
        raise invalid(f"Invalid value for field '{field}.ports': ports are only allowed for "
                      "tcp, udp and sctp.")
    for port in ports:
        low, _, high = str(port).partition("-")
        if not (low.isdigit() and (not high or high.isdigit())
                and 0 <= int(low) <= int(high or low) <= 65535):
            raise invalid(f"Invalid value for field '{field}.ports': '{port}'.")

"""Compute Engine subnetworks: the stored resource, fingerprints, CIDR checks (overlap within
a network, expansion only to a containing range) and the fields a patch may change.

``secondaryIpRanges`` come back in the server's order, not the client's (reordered by the API:
hashicorp/terraform-provider-google#1770, #3477, #16026; magic-modules keeps the list ordered,
so this is the users' finding over MM's model), here sorted by range. A patch may not add and
remove secondary ranges at once, nor change an existing one
(hashicorp/terraform-provider-google#2570, Google's 400 texts quoted there).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from mlops_infra.emulator.compute.common import (
    check_name,
    invalid,
    refuse_immutable,
    region_url,
    regional_url,
    timestamp,
)
from mlops_infra.emulator.core import HttpError

PATCHABLE = frozenset({"secondaryIpRanges", "logConfig", "enableFlowLogs", "privateIpGoogleAccess",
                       "privateIpv6GoogleAccess", "stackType", "ipv6AccessType", "role",
                       "allowSubnetCidrRoutesOverlap"})
_OUTPUT_ONLY = frozenset({"kind", "id", "selfLink", "creationTimestamp", "gatewayAddress",
                          "state", "name"})
_LOG_DEFAULTS = {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5,
                 "metadata": "INCLUDE_ALL_METADATA"}


def new_subnetwork(body: dict[str, Any], *, project: str, region: str, network: str,
                   number: int) -> dict[str, Any]:
    """The stored subnetwork: the client's fields plus server defaults and output-only fields."""
    name = check_name(body.get("name"))
    primary = parse_cidr(body.get("ipCidrRange"), field="resource.ipCidrRange")
    sub = copy.deepcopy(body)
    sub.update(kind="compute#subnetwork", id=str(6_000_000_000_000 + number),
               creationTimestamp=timestamp(), network=network, region=region_url(project, region),
               selfLink=regional_url(project, region, "subnetworks", name),
               ipCidrRange=str(primary), gatewayAddress=str(primary.network_address + 1))
    sub.setdefault("privateIpGoogleAccess", False)
    sub.setdefault("stackType", "IPV4_ONLY")
    sub.setdefault("purpose", "PRIVATE")
    sub["secondaryIpRanges"] = _secondary(sub.get("secondaryIpRanges"))
    _log_config(sub)
    return refingerprint(sub)


def patch_subnetwork(sub: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Apply a patch (its ``fingerprint`` must be the current one; 412 if stale)."""
    check_fingerprint(sub, body.get("fingerprint"))
    # ipCidrRange, network, region and purpose only change through their own methods, or never.
    refuse_immutable({k: v for k, v in body.items() if k != "fingerprint"}, sub,
                     PATCHABLE | _OUTPUT_ONLY, what="resource")
    out = copy.deepcopy(sub)
    for key in PATCHABLE:
        if key in body:
            out[key] = copy.deepcopy(body[key])
    if "secondaryIpRanges" in body:
        out["secondaryIpRanges"] = _secondary(body["secondaryIpRanges"])
        _check_range_change(sub.get("secondaryIpRanges") or [], out["secondaryIpRanges"])
    if "logConfig" in body:
        out["logConfig"] = {**sub.get("logConfig", {}), **(body["logConfig"] or {})}
    _log_config(out)
    return refingerprint(out)


def check_fingerprint(sub: dict[str, Any], given: Any) -> None:
    if not given:
        raise invalid("Required field 'fingerprint' not specified", reason="required")
    if given != sub["fingerprint"]:
        raise HttpError(412, "Supplied fingerprint does not match current metadata fingerprint.",
                        reason="conditionNotMet")


def refingerprint(sub: dict[str, Any]) -> dict[str, Any]:
    content = {k: v for k, v in sub.items() if k != "fingerprint"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).digest()[:8]
    sub["fingerprint"] = base64.b64encode(digest).decode()
    return sub


def expand(sub: dict[str, Any], new_range: Any) -> dict[str, Any]:
    """``expandIpCidrRange``: the new range must strictly contain the current one."""
    old = ipaddress.ip_network(sub["ipCidrRange"])
    new = parse_cidr(new_range, field="ipCidrRange")
    if new.prefixlen >= old.prefixlen or not old.subnet_of(new):   # type: ignore[arg-type]
        raise invalid(f"Invalid IPCidrRange: {new} must contain and be larger than the current "
                      f"range {old}.")
    return refingerprint({**sub, "ipCidrRange": str(new)})


def parse_cidr(value: Any, *, field: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError):
        raise invalid(f"Invalid value for field '{field}': '{value}'. Invalid IPCidrRange: "
                      f"{value}.") from None
    if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen > 29:
        raise invalid(f"Invalid value for field '{field}': '{value}'. The prefix length must be "
                      "at most /29 for IPv4.")
    return net


def ranges_of(sub: dict[str, Any]) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """Every (label, range) a subnetwork occupies: its primary and its secondary ranges."""
    found = [(f"{sub['name']}", ipaddress.ip_network(sub["ipCidrRange"]))]
    for item in sub.get("secondaryIpRanges") or []:
        found.append((f"{sub['name']}/{item['rangeName']}", ipaddress.ip_network(item["ipCidrRange"])))
    return found


def check_no_overlap(candidate: dict[str, Any], others: Iterable[dict[str, Any]]) -> None:
    """400 when any range of ``candidate`` overlaps another of itself or of ``others``."""
    mine = ranges_of(candidate)
    for i, (label, net) in enumerate(mine):
        for other_label, other in mine[i + 1:]:
            _refuse_overlap(net, other, label, other_label)
    for other_sub in others:
        for label, net in mine:
            for other_label, other in ranges_of(other_sub):
                _refuse_overlap(net, other, label, other_label)


def _refuse_overlap(net: Any, other: Any, label: str, other_label: str) -> None:
    if net.overlaps(other):
        raise invalid(f"Invalid IPCidrRange: {net} conflicts with existing subnetwork "
                      f"'{other_label}' ({other}) in region.", reason="invalid")


def _check_range_change(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    old = {r["rangeName"]: r["ipCidrRange"] for r in before}
    new = {r["rangeName"]: r["ipCidrRange"] for r in after}
    changed = sorted(n for n in old.keys() & new.keys() if old[n] != new[n])
    if changed:
        raise invalid("Invalid value for field 'resource.secondaryIpRanges': ''. Existing "
                      f"secondary range cannot be modified: {changed[0]}.")
    added, removed = new.keys() - old.keys(), old.keys() - new.keys()
    if added and removed:
        raise invalid("Invalid value for field 'resource.secondaryIpRanges': ''. Cannot add and "
                      "remove secondary IP ranges in the same request. Added ranges: "
                      f"{sorted(new[n] for n in added)}. Removed ranges: "
                      f"{sorted(old[n] for n in removed)}.")


def _secondary(ranges: Any) -> list[dict[str, Any]]:
    ranges = ranges or []
    if not isinstance(ranges, list):
        raise invalid("Invalid value for field 'resource.secondaryIpRanges'.")
    names = [r.get("rangeName") for r in ranges if isinstance(r, dict)]
    if len(names) != len(ranges) or len(set(names)) != len(names):
        raise invalid("Invalid value for field 'resource.secondaryIpRanges': range names must "
                      "be unique.")
    for i, item in enumerate(ranges):
        check_name(item.get("rangeName"), field=f"resource.secondaryIpRanges[{i}].rangeName")
        parse_cidr(item.get("ipCidrRange"), field=f"resource.secondaryIpRanges[{i}].ipCidrRange")
    return sorted(copy.deepcopy(ranges),
                  key=lambda r: ipaddress.ip_network(r["ipCidrRange"]).network_address)


def _log_config(sub: dict[str, Any]) -> None:
    """Flow logs: ``enableFlowLogs`` and ``logConfig.enable`` mirror each other."""
    log = sub.get("logConfig")
    if log is None and "enableFlowLogs" in sub:
        log = {"enable": bool(sub["enableFlowLogs"])}
    log = dict(log or {"enable": False})
    log.setdefault("enable", bool(sub.get("enableFlowLogs", False)))
    if log["enable"]:
        for key, value in _LOG_DEFAULTS.items():
            log.setdefault(key, value)
    sub["logConfig"] = log
    sub["enableFlowLogs"] = log["enable"]

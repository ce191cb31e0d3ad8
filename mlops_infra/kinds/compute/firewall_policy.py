"""Guardrail ``firewall-open-ports``: an INGRESS rule open to the whole internet (``0.0.0.0/0``
or ``::/0``, which is also what Compute uses when a rule names no source at all) may only allow
the ports listed in ``policy.allowed_public_ports`` (ints or ``"8000-8080"`` ranges; default
none). Pure: works on the desired REST dict.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Violation

RULE = "firewall-open-ports"
_PORTED = frozenset({"tcp", "udp", "sctp", "6", "17", "132"})
Interval = tuple[int, int]


def open_port_violations(desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
    if desired.get("direction", "INGRESS") != "INGRESS" or not _open_to_world(desired):
        return []
    allowed = allowed_intervals(policy.get("allowed_public_ports") or [])
    opened = [label for entry in desired.get("allowed") or [] for label in _uncovered(entry, allowed)]
    if not opened:
        return []
    listed = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in allowed) or "none"
    return [Violation(rule=RULE, path="sourceRanges",
                      message=f"an INGRESS rule open to 0.0.0.0/0 allows {', '.join(opened)}; "
                              f"policy.allowed_public_ports allows only: {listed}")]


def _open_to_world(desired: dict[str, Any]) -> bool:
    ranges = desired.get("sourceRanges")
    if not ranges:
        # Without any source Compute applies the rule to 0.0.0.0/0.
        return not (desired.get("sourceTags") or desired.get("sourceServiceAccounts"))
    return any(_is_everything(r) for r in ranges)


def _is_everything(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _uncovered(entry: dict[str, Any], allowed: list[Interval]) -> list[str]:
    protocol = str(entry.get("IPProtocol", "")).lower()
    if protocol == "all":
        return ["all protocols and ports"]
    if protocol not in _PORTED:
        return []                      # icmp, esp, ah ...: no ports to open
    ports = entry.get("ports") or []
    if not ports:
        return [f"all {protocol} ports"]
    return [f"{protocol}:{port}" for port in ports
            if not _covered(_interval(port, what="port"), allowed)]


def _covered(wanted: Interval, allowed: list[Interval]) -> bool:
    return any(low <= wanted[0] and wanted[1] <= high for low, high in allowed)


def allowed_intervals(values: Any) -> list[Interval]:
    """``policy.allowed_public_ports`` as merged, sorted intervals; a bad value is a UserError."""
    if not isinstance(values, list):
        raise errors.UserError("policy.allowed_public_ports: must be a list of ports or "
                               "'LOW-HIGH' ranges")
    merged: list[Interval] = []
    for low, high in sorted(_interval(v, what="policy.allowed_public_ports") for v in values):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _interval(value: Any, *, what: str) -> Interval:
    text = str(value).strip()
    low, _, high = text.partition("-")
    if isinstance(value, bool) or not low.isdigit() or (high and not high.isdigit()):
        raise errors.UserError(f"{what}: {value!r} is not a port or a 'LOW-HIGH' range")
    interval = (int(low), int(high or low))
    if not 0 <= interval[0] <= interval[1] <= 65535:
        raise errors.UserError(f"{what}: {value!r} is not within 0-65535")
    return interval

"""Compute Engine VPC networks: the resource a client inserts, as the server completes it,
and the fields a patch may change.

Sources: compute v1 discovery ``Network.autoCreateSubnetworks`` ("Must be set to create a VPC
network. If not set, a legacy network is created."; a legacy network takes ``IPv4Range``);
``networks.patch`` ("Only routingConfig can be modified"), with the fields magic-modules
Network.yaml patches in their own requests (``update_id``: ``mtu``, ``enableUlaInternalIpv6``)
and ``networkFirewallPolicyEnforcementOrder`` (patched with routingConfig, no ``update_id``).
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

PATCHABLE = frozenset({"routingConfig", "mtu", "networkFirewallPolicyEnforcementOrder",
                       "enableUlaInternalIpv6", "internalIpv6Range"})
# Fields one PATCH may carry together (anything else in the same request is a 400).
PATCH_GROUPS = (frozenset({"routingConfig", "networkFirewallPolicyEnforcementOrder"}),
                frozenset({"mtu"}), frozenset({"enableUlaInternalIpv6", "internalIpv6Range"}))
_MTU = range(1300, 8897)


def new_network(body: dict[str, Any], *, project: str, number: int) -> dict[str, Any]:
    """The stored network: the client's fields plus server defaults and output-only fields."""
    name = check_name(body.get("name"))
    network = copy.deepcopy(body)
    if "autoCreateSubnetworks" not in body:
        _legacy(network)
    network.setdefault("mtu", 1460)
    _check_mtu(network["mtu"])
    routing = network.setdefault("routingConfig", {})
    routing.setdefault("routingMode", "REGIONAL")
    _check_routing(routing)
    network.setdefault("networkFirewallPolicyEnforcementOrder", "AFTER_CLASSIC_FIREWALL")
    network.update(kind="compute#network", id=str(5_000_000_000_000 + number),
                   creationTimestamp=timestamp(), selfLink=global_url(project, "networks", name),
                   selfLinkWithId=global_url(project, "networks", str(5_000_000_000_000 + number)))
    network.pop("subnetworks", None)
    return network


def _legacy(network: dict[str, Any]) -> None:
    """No ``autoCreateSubnetworks``: a legacy network, which needs its own ``IPv4Range``."""
    if not network.get("IPv4Range"):
        raise invalid("Invalid value for field 'resource.IPv4Range': ''. A network without "
                      "'autoCreateSubnetworks' is a legacy network and needs an IPv4Range; set "
                      "'autoCreateSubnetworks' to create a VPC network.")
    network["gatewayIPv4"] = str(ipaddress.ip_network(network["IPv4Range"]).network_address + 1)


def patch_network(network: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Merge the patchable fields; any other field that differs is refused."""
    refuse_immutable(body, network, PATCHABLE | {"name", "kind", "id", "selfLink"},
                     what="resource")
    _one_group(body, network)
    out = copy.deepcopy(network)
    if "mtu" in body:
        _check_mtu(body["mtu"])
        out["mtu"] = body["mtu"]
    if "routingConfig" in body:
        out["routingConfig"] = {**out.get("routingConfig", {}), **(body["routingConfig"] or {})}
        _check_routing(out["routingConfig"])
    for key in PATCHABLE - {"mtu", "routingConfig"}:
        if key in body:
            out[key] = body[key]
    return out


def _one_group(body: dict[str, Any], network: dict[str, Any]) -> None:
    changed = {k for k in body if k in PATCHABLE and body[k] != network.get(k)}
    if changed and not any(changed <= group for group in PATCH_GROUPS):
        raise invalid(f"Invalid network patch: {', '.join(sorted(changed))} cannot be changed "
                      "in one request (only routingConfig can be modified by networks.patch; "
                      "mtu is changed in a request of its own).")


def switch_to_custom(network: dict[str, Any]) -> dict[str, Any]:
    if not network.get("autoCreateSubnetworks"):
        raise invalid(f"Network '{network['name']}' is not an auto mode network.",
                      reason="invalid")
    return {**network, "autoCreateSubnetworks": False}


def _check_mtu(mtu: Any) -> None:
    if not isinstance(mtu, int) or mtu not in _MTU:
        raise invalid(f"Invalid value for field 'resource.mtu': '{mtu}'. "
                      "MTU must be between 1300 and 8896.")


def _check_routing(routing: dict[str, Any]) -> None:
    if routing.get("routingMode") not in ("REGIONAL", "GLOBAL"):
        raise invalid("Invalid value for field 'resource.routingConfig.routingMode': "
                      f"'{routing.get('routingMode')}'.")

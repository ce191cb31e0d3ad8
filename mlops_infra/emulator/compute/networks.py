"""Compute Engine VPC networks: the resource a client inserts, as the server completes it,
and the fields a patch may change."""

from __future__ import annotations

import copy
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
_MTU = range(1300, 8897)


def new_network(body: dict[str, Any], *, project: str, number: int) -> dict[str, Any]:
    """The stored network: the client's fields plus server defaults and output-only fields."""
    name = check_name(body.get("name"))
    network = copy.deepcopy(body)
    if "IPv4Range" not in body:
        # A VPC network: auto mode unless the client asks for custom mode.
        network.setdefault("autoCreateSubnetworks", True)
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


def patch_network(network: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Merge the patchable fields; any other field that differs is refused."""
    refuse_immutable(body, network, PATCHABLE | {"name", "kind", "id", "selfLink"},
                     what="resource")
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

"""Cloud Routers and their Cloud NAT gateways (``Router.nats[]``).

A NAT is completed with the defaults compute v1 discovery documents for ``RouterNat``:
``icmpIdleTimeoutSec`` 30, ``tcpEstablishedIdleTimeoutSec`` 1200, ``tcpTransitoryIdleTimeoutSec``
30, ``tcpTimeWaitTimeoutSec`` 120, ``udpIdleTimeoutSec`` 30 ("Defaults to ...s if not set"),
``type`` PUBLIC ("If unspecified, it defaults to PUBLIC"), ``endpointTypes``
[ENDPOINT_TYPE_VM] ("If the list is empty, then it will be equivalent to include
ENDPOINT_TYPE_VM"), ``enableDynamicPortAllocation`` false ("disabled by default"),
``logConfig.enable`` false ("false by default"). ``minPortsPerVm`` 64: the default of
https://cloud.google.com/nat/docs/ports-and-addresses#port-reservation-procedure. A NAT needs
``natIpAllocateOption`` and ``sourceSubnetworkIpRangesToNat`` (both required by the API:
hashicorp/terraform-provider-google resource_compute_router_nat.go marks them Required);
``MANUAL_ONLY`` needs ``natIps``, ``LIST_OF_SUBNETWORKS`` needs ``subnetworks``. A PATCH carrying
``nats`` replaces the whole list (``routers.patch`` is a JSON merge patch, where a list is a
value); ``network`` and ``region`` cannot change.
"""

from __future__ import annotations

import copy
from typing import Any

from mlops_infra.emulator.compute.common import (
    check_name,
    invalid,
    refuse_immutable,
    region_url,
    regional_url,
    timestamp,
)

_NAT_DEFAULTS = {"icmpIdleTimeoutSec": 30, "tcpEstablishedIdleTimeoutSec": 1200,
                 "tcpTransitoryIdleTimeoutSec": 30, "tcpTimeWaitTimeoutSec": 120,
                 "udpIdleTimeoutSec": 30, "type": "PUBLIC", "minPortsPerVm": 64,
                 "enableDynamicPortAllocation": False, "endpointTypes": ["ENDPOINT_TYPE_VM"]}
PATCHABLE = frozenset({"nats", "bgp", "bgpPeers", "interfaces", "description",
                       "encryptedInterconnectRouter", "md5AuthenticationKeys"})
_OUTPUT = frozenset({"kind", "id", "selfLink", "creationTimestamp", "name", "region", "network"})


def new_router(body: dict[str, Any], *, project: str, region: str, network: str,
               number: int) -> dict[str, Any]:
    name = check_name(body.get("name"))
    router = copy.deepcopy(body)
    router.update(kind="compute#router", id=str(3_000_000_000_000 + number),
                  creationTimestamp=timestamp(), network=network,
                  region=region_url(project, region),
                  selfLink=regional_url(project, region, "routers", name))
    router["nats"] = nats(body.get("nats"))
    if not router["nats"]:
        del router["nats"]
    return router


def nats(given: Any) -> list[dict[str, Any]]:
    if given is None:
        return []
    if not isinstance(given, list):
        raise invalid("Invalid value for field 'resource.nats'.")
    seen: set[str] = set()
    out = []
    for i, nat in enumerate(given):
        name = check_name(nat.get("name"), field=f"resource.nats[{i}].name")
        if name in seen:
            raise invalid(f"Invalid value for field 'resource.nats[{i}].name': '{name}'. Duplicate "
                          "NAT name.")
        seen.add(name)
        out.append(_nat(nat, i))
    return out


def _nat(nat: dict[str, Any], index: int) -> dict[str, Any]:
    where = f"resource.nats[{index}]"
    for required in ("natIpAllocateOption", "sourceSubnetworkIpRangesToNat"):
        if not nat.get(required):
            raise invalid(f"Required field '{where}.{required}' not specified", reason="required")
    if nat["natIpAllocateOption"] == "MANUAL_ONLY" and not nat.get("natIps"):
        raise invalid(f"Invalid value for field '{where}.natIps': ''. MANUAL_ONLY needs natIps.")
    if nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS" and not nat.get("subnetworks"):
        raise invalid(f"Invalid value for field '{where}.subnetworks': ''. LIST_OF_SUBNETWORKS "
                      "needs subnetworks.")
    out = {**copy.deepcopy(_NAT_DEFAULTS), **copy.deepcopy(nat)}
    out["logConfig"] = {"enable": False, **(nat.get("logConfig") or {})}
    if out["logConfig"]["enable"]:
        out["logConfig"].setdefault("filter", "ALL")
    return out


def patch_router(router: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    refuse_immutable(body, router, PATCHABLE | _OUTPUT - {"network", "region"}, what="resource")
    out = copy.deepcopy(router)
    for key in PATCHABLE:
        if key in body:
            out[key] = copy.deepcopy(body[key])
    if "nats" in body:
        out["nats"] = nats(body["nats"])
        if not out["nats"]:
            del out["nats"]
    return out

"""``compute.Router``: a Cloud Router with its Cloud NAT gateways, so private GKE nodes and VMs
without external addresses still reach the internet (packages, images).

| path | notes |
|---|---|
| ``network`` | required: ``${vpc.selfLink}``, a name or ``projects/P/global/networks/N``; create-only |
| ``region`` | default the spec's region; part of the identity |
| ``description`` | text |
| ``nats[]`` | ``{name (RFC 1035), natIpAllocateOption (AUTO_ONLY default, MANUAL_ONLY with natIps), sourceSubnetworkIpRangesToNat (ALL_SUBNETWORKS_ALL_IP_RANGES default, ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES, LIST_OF_SUBNETWORKS with subnetworks: [{name: ${subnet.selfLink}, sourceIpRangesToNat: [ALL_IP_RANGES]}]), minPortsPerVm, enableEndpointIndependentMapping, enableDynamicPortAllocation, logConfig: {enable, filter: ERRORS_ONLY\\|TRANSLATIONS_ONLY\\|ALL}, icmpIdleTimeoutSec, tcpEstablishedIdleTimeoutSec, tcpTransitoryIdleTimeoutSec, udpIdleTimeoutSec}``; compared by name, the server's defaults never show as changes; any change patches the whole list |

Identity ``projects/P/regions/R/routers/NAME``. No labels (Compute v1 routers have none):
ownership is the ledger's. Outputs: ``name``, ``selfLink``, ``id``, ``region``. Deadline:
20 min per operation (Terraform's default for routers and NATs).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field

from mlops_infra.engine import errors
from mlops_infra.engine.kind import ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import FieldChanges, SpecModel
from mlops_infra.kinds._clients import COMPUTE_REGION_OPERATIONS, COMPUTE_ROUTERS
from mlops_infra.kinds._names import NetworkRef, Region, rfc1035_problem
from mlops_infra.kinds.compute import _common as common

DEADLINE = 20 * 60.0


class NatSubnetwork(SpecModel):
    name: str
    sourceIpRangesToNat: list[Literal["ALL_IP_RANGES", "PRIMARY_IP_RANGE",
                                      "LIST_OF_SECONDARY_IP_RANGES"]]
    secondaryIpRangeNames: list[str] | None = None


class NatLogConfig(SpecModel):
    enable: bool
    filter: Literal["ERRORS_ONLY", "TRANSLATIONS_ONLY", "ALL"] | None = None


class Nat(SpecModel):
    name: str
    natIpAllocateOption: Literal["AUTO_ONLY", "MANUAL_ONLY"] | None = None
    sourceSubnetworkIpRangesToNat: Literal["ALL_SUBNETWORKS_ALL_IP_RANGES",
                                           "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES",
                                           "LIST_OF_SUBNETWORKS"] | None = None
    subnetworks: list[NatSubnetwork] | None = None
    natIps: list[str] | None = None
    minPortsPerVm: int | None = Field(default=None, ge=2, le=65536)
    enableEndpointIndependentMapping: bool | None = None
    enableDynamicPortAllocation: bool | None = None
    logConfig: NatLogConfig | None = None
    icmpIdleTimeoutSec: int | None = Field(default=None, ge=1)
    tcpEstablishedIdleTimeoutSec: int | None = Field(default=None, ge=1)
    tcpTransitoryIdleTimeoutSec: int | None = Field(default=None, ge=1)
    udpIdleTimeoutSec: int | None = Field(default=None, ge=1)


class RouterSpec(SpecModel):
    """A Cloud Router with Cloud NAT."""

    network: NetworkRef
    region: Region | None = None
    description: str | None = None
    nats: list[Nat] | None = None


@register
class Router(common.ComputeKind):
    """A Cloud Router and its NAT gateways."""

    name = "compute.Router"
    model = RouterSpec
    uses = (COMPUTE_ROUTERS, COMPUTE_REGION_OPERATIONS)
    outputs = frozenset({"name", "selfLink", "id", "region"})
    layer = "Compute"
    immutable = frozenset({"network"})
    list_keys = {"nats": "name"}

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        problem = rfc1035_problem(ctx.name, "router")
        if problem:
            return problem
        names = [n.get("name", "") for n in fields.get("nats") or []]
        bad = next((p for p in (rfc1035_problem(n, "NAT") for n in names) if p), None)
        if bad:
            return bad
        return "NAT names must be unique in a router" if len(set(names)) != len(names) else None

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        region = fields.get("region") or ctx.region
        if not region:
            raise errors.SpecError("a router needs a region (or a spec region)",
                                   field=f"{ctx.address}.region")
        return common.regional_id(self.name, ctx.project, region, "routers", ctx.name)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"name": ctx.name, **{k: copy.deepcopy(v) for k, v in fields.items() if k != "region"}}
        body["network"] = common.network_url(body["network"], project=ctx.project)
        body["nats"] = [{"natIpAllocateOption": "AUTO_ONLY",
                         "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES", **nat}
                        for nat in body.get("nats") or []] if "nats" in body else None
        return {k: v for k, v in body.items() if v is not None}

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {**super().outputs_of(rid, live), "region": rid.parts["region"]}

    def describe(self, rid: ResourceId) -> str:
        return f"router {rid.parts['region']}/{rid.parts['name']}"

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        _, project, _, region, _ = scope.split("/")
        return common.list_all(self.clients.get(COMPUTE_ROUTERS).list, project=project,
                               region=region, scope=scope, what=f"routers in {scope}")

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return common.get_or_none(self.clients.get(COMPUTE_ROUTERS).get, what=self.describe(rid),
                                  **_where(rid))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import compute_v1

        where = _where(rid)
        common.call(self.clients, self.clients.get(COMPUTE_ROUTERS).insert_unary,
                    project=where["project"], region=where["region"], what=self.describe(rid),
                    deadline=DEADLINE,
                    router_resource=common.to_message(compute_v1.Router, desired))
        return self.read_after_operation(rid)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        """One PATCH: ``nats`` as a whole (a list in a merge patch replaces the list)."""
        from google.cloud import compute_v1

        tops = {c.path.split(".")[0].split("[")[0] for c in changes}
        body: dict[str, Any] = {}
        if "nats" in tops:
            body["nats"] = desired.get("nats") or []
        if "description" in tops:
            body["description"] = desired.get("description", "")
        if body:
            common.call(self.clients, self.clients.get(COMPUTE_ROUTERS).patch_unary,
                        what=self.describe(rid), deadline=DEADLINE,
                        router_resource=common.to_message(compute_v1.Router, body), **_where(rid))
        return self.read_after_operation(rid)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        try:
            common.call(self.clients, self.clients.get(COMPUTE_ROUTERS).delete_unary,
                        what=self.describe(rid), deadline=DEADLINE, **_where(rid))
        except (errors.NotFound, NotFound):
            return


def _where(rid: ResourceId) -> dict[str, str]:
    return {"project": rid.parts["project"], "region": rid.parts["region"],
            "router": rid.parts["name"]}

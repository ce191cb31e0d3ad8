"""``compute.Router``: a Cloud Router with its Cloud NAT gateways, so private GKE nodes and VMs
without external addresses still reach the internet (packages, images).

| path | notes |
|---|---|
| ``network`` | required: ``${vpc.selfLink}``, a name or ``projects/P/global/networks/N``; create-only |
| ``region`` | default the spec's region; part of the identity |
| ``description`` | text |
| ``nats[]`` | ``{name (RFC 1035), natIpAllocateOption (AUTO_ONLY default, MANUAL_ONLY with natIps), sourceSubnetworkIpRangesToNat (ALL_SUBNETWORKS_ALL_IP_RANGES default, ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES, LIST_OF_SUBNETWORKS with subnetworks: [{name: ${subnet.selfLink}, sourceIpRangesToNat: [ALL_IP_RANGES]}]), minPortsPerVm, enableEndpointIndependentMapping, enableDynamicPortAllocation, logConfig: {enable, filter: ERRORS_ONLY\\|TRANSLATIONS_ONLY\\|ALL}, icmpIdleTimeoutSec, tcpEstablishedIdleTimeoutSec, tcpTransitoryIdleTimeoutSec, udpIdleTimeoutSec}``; compared by name, the server's defaults never show as changes; compared as a set (order-free); any change patches the whole list |

Identity ``projects/P/regions/R/routers/NAME``. No labels (Compute v1 routers have none):
ownership is the ledger's. Outputs: ``name``, ``selfLink``, ``id``, ``region``. Deadline:
20 min per operation (Terraform's default for routers and NATs).

Moving in: ``google_compute_router`` (``bgp`` and ``encrypted_interconnect_router`` have no
field here: noted) and ``google_compute_router_nat``, a resource of its own in Terraform that is
one item of its router's ``nats`` here: each NAT is folded into the entry of the router it names
(same project and region); a NAT whose router the import does not hold is dropped from the spec
(its router is not managed). NAT attributes at the API's defaults (timeouts 30/1200/30/30 s,
``minPortsPerVm`` 64, ``type`` PUBLIC, ``endpoint_types`` [ENDPOINT_TYPE_VM]: magic-modules
``RouterNat.yaml`` ``default_value``; compute v1 discovery ``RouterNat``) are left out. ``nats``
are compared as a set (by name): their order means nothing. Live routers (``import live``,
in the regions asked for) carry their NATs (``routers.get`` returns ``nats``): the same
defaults are left out, and the output-only or defaulted ``type``, ``endpointTypes``,
``tcpTimeWaitTimeoutSec`` and ``autoNetworkTier`` never written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from pydantic import Field

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Imported, ImportedList, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import FieldChanges, SpecModel
from mlops_infra.kinds._clients import COMPUTE_REGION_OPERATIONS, COMPUTE_ROUTERS
from mlops_infra.kinds._imports import block, blocks, last_segment, leftovers, put
from mlops_infra.kinds._names import NetworkRef, Region, rfc1035_problem
from mlops_infra.kinds.compute import _common as common
from mlops_infra.spec.jsoncopy import copy_json

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
    name_pattern = "projects/*/regions/*/routers/*"
    model = RouterSpec
    uses = (COMPUTE_ROUTERS, COMPUTE_REGION_OPERATIONS)
    outputs = frozenset({"name", "selfLink", "id", "region"})
    layer = "Compute"
    immutable = frozenset({"network"})
    list_keys = {"nats": "name"}
    # NATs are named items of a router (unique names): their order means nothing, and an
    # import cannot know the live order (Terraform's google_compute_router_nat resources are
    # appended in whatever order its graph walk created them)
    set_paths = frozenset({"nats"})
    terraform_types = ("google_compute_router", "google_compute_router_nat")
    terraform_refs = {"network": "selfLink", "nats[].subnetworks[].name": "selfLink"}
    region_field = "region"

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
        body = {"name": ctx.name, **{k: copy_json(v) for k, v in fields.items() if k != "region"}}
        body["network"] = common.network_url(body["network"], project=ctx.project)
        body["nats"] = [{"natIpAllocateOption": "AUTO_ONLY",
                         "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES", **nat}
                        for nat in body.get("nats") or []] if "nats" in body else None
        return {k: v for k, v in body.items() if v is not None}

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {**super().outputs_of(rid, live), "region": rid.parts["region"]}

    def describe(self, rid: ResourceId) -> str:
        return f"router {rid.parts['region']}/{rid.parts['name']}"

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        project = str(a["project"]) if a.get("project") else None
        region = last_segment(str(a["region"])) if a.get("region") else None
        if tf_type == "google_compute_router_nat":
            nat, notes = nat_from_terraform(a)
            return [Imported(name=str(a["router"]), project=project, region=region,
                             fields={"nats": [nat]}, notes=notes, key=f"{_NAT_KEY}{a['name']}")]
        fields: dict[str, Any] = {"network": a["network"]}
        put(fields, "description", a.get("description"))
        if region:
            fields["region"] = region
        return [Imported(name=str(a["name"]), project=project, region=region, fields=fields,
                         notes=leftovers(a, ("name", "network", "description", "region")))]

    def adjust_imports(self, own: ImportedList,
                       every: Mapping[str, ImportedList]) -> ImportedList:
        """Each NAT folded into its router's ``nats`` (sorted by name); a NAT whose router the
        import does not hold is listed as skipped."""
        routers = [i for i in own if not i.key.startswith(_NAT_KEY)]
        held = {(r.name, r.project, r.region) for r in routers}
        out = [replace(n, skipped=f"its router {n.name} is not in this import: the NAT lives in "
                                  "its router, so it is left as it is live")
               for n in own if n.key.startswith(_NAT_KEY)
               and (n.name, n.project, n.region) not in held]
        for router in routers:
            mine = [n for n in own if n.key.startswith(_NAT_KEY) and
                    (n.name, n.project, n.region) == (router.name, router.project, router.region)]
            if not mine:
                out.append(router)
                continue
            nats = sorted((nat for n in mine for nat in n.fields["nats"]), key=lambda x: x["name"])
            notes = tuple(f"NAT {n.key.removeprefix(_NAT_KEY)}: {note}"
                          for n in mine for note in n.notes)
            out.append(replace(router, fields={**router.fields, "nats": nats},
                               notes=router.notes + notes))
        return out

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """The router and its NATs (Cloud NAT lives in its router: ``routers.get`` returns
        ``nats``), the NAT settings at the API's defaults left out."""
        rid = self.id_from_name(name)
        region = rid.parts["region"]
        fields: dict[str, Any] = {"network": live["network"], "region": region}
        put(fields, "description", live.get("description"))
        nats = sorted((nat_from_live(n) for n in live.get("nats") or []), key=lambda n: n["name"])
        put(fields, "nats", nats)
        notes = tuple(f"{key} not carried over (left as it is live)"
                      for key in ("bgp", "bgpPeers", "interfaces", "md5AuthenticationKeys")
                      if live.get(key))
        notes += tuple(f"NAT {n['name']}: {note}" for n in live.get("nats") or []
                       for note in _nat_live_notes(n))
        return [Imported(name=str(live["name"]), project=rid.parts["project"], region=region,
                         fields=fields, notes=notes)]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for region in regions:
            found.update(self.list(f"projects/{project}/regions/{region}/routers"))
        return found

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


_NAT_KEY = "nat:"   # an ``Imported.key`` prefix: a NAT waiting to be folded into its router
# RouterNat.yaml ``default_value`` / default_from_api values the API applies when unset
_NAT_DEFAULTS = {"natIpAllocateOption": "AUTO_ONLY",
                 "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
                 "minPortsPerVm": 64, "icmpIdleTimeoutSec": 30, "tcpEstablishedIdleTimeoutSec": 1200,
                 "tcpTransitoryIdleTimeoutSec": 30, "udpIdleTimeoutSec": 30}
_NAT_KNOWN = ("name", "router", "region", "nat_ip_allocate_option", "nat_ips",
              "source_subnetwork_ip_ranges_to_nat", "subnetwork", "min_ports_per_vm",
              "enable_dynamic_port_allocation", "enable_endpoint_independent_mapping",
              "log_config", "icmp_idle_timeout_sec", "tcp_established_idle_timeout_sec",
              "tcp_transitory_idle_timeout_sec", "udp_idle_timeout_sec",
              "auto_network_tier")   # default_from_api (PREMIUM, the project's tier)
_NAT_AT_DEFAULT = {"tcp_time_wait_timeout_sec": 120, "type": "PUBLIC",
                   "endpoint_types": ["ENDPOINT_TYPE_VM"]}


def nat_from_terraform(a: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A ``google_compute_router_nat``'s attributes as one ``nats[]`` item, and its notes."""
    nat: dict[str, Any] = {"name": str(a["name"])}
    for attr, key in (("nat_ip_allocate_option", "natIpAllocateOption"),
                      ("source_subnetwork_ip_ranges_to_nat", "sourceSubnetworkIpRangesToNat"),
                      ("min_ports_per_vm", "minPortsPerVm"),
                      ("icmp_idle_timeout_sec", "icmpIdleTimeoutSec"),
                      ("tcp_established_idle_timeout_sec", "tcpEstablishedIdleTimeoutSec"),
                      ("tcp_transitory_idle_timeout_sec", "tcpTransitoryIdleTimeoutSec"),
                      ("udp_idle_timeout_sec", "udpIdleTimeoutSec")):
        put(nat, key, a.get(attr), default=_NAT_DEFAULTS[key])
    if nat.get("natIpAllocateOption") == "MANUAL_ONLY":
        put(nat, "natIps", sorted(a.get("nat_ips") or []))
    subnets = [{"name": s["name"], "sourceIpRangesToNat": sorted(s.get("source_ip_ranges_to_nat") or []),
                **({"secondaryIpRangeNames": sorted(s["secondary_ip_range_names"])}
                   if s.get("secondary_ip_range_names") else {})}
               for s in blocks(a, "subnetwork")]
    if nat.get("sourceSubnetworkIpRangesToNat") == "LIST_OF_SUBNETWORKS":
        put(nat, "subnetworks", sorted(subnets, key=lambda s: s["name"]))
    for attr, key in (("enable_dynamic_port_allocation", "enableDynamicPortAllocation"),
                      ("enable_endpoint_independent_mapping", "enableEndpointIndependentMapping")):
        if a.get(attr):
            nat[key] = True
    log = block(a, "log_config")
    if log.get("enable"):
        nat["logConfig"] = {"enable": True, **({"filter": log["filter"]} if log.get("filter") else {})}
    rest = {k: v for k, v in a.items() if _NAT_AT_DEFAULT.get(k, object()) != v}
    return nat, leftovers(rest, _NAT_KNOWN)


def nat_from_live(n: Mapping[str, Any]) -> dict[str, Any]:
    """A live ``RouterNat`` as one ``nats[]`` item, the API's defaults left out."""
    nat: dict[str, Any] = {"name": str(n["name"])}
    for key, default in _NAT_DEFAULTS.items():
        put(nat, key, n.get(key), default=default)
    if n.get("natIpAllocateOption") == "MANUAL_ONLY":
        put(nat, "natIps", sorted(n.get("natIps") or []))
    if n.get("sourceSubnetworkIpRangesToNat") == "LIST_OF_SUBNETWORKS":
        subnets = [{"name": s["name"], "sourceIpRangesToNat": sorted(s.get("sourceIpRangesToNat") or []),
                    **({"secondaryIpRangeNames": sorted(s["secondaryIpRangeNames"])}
                       if s.get("secondaryIpRangeNames") else {})}
                   for s in n.get("subnetworks") or []]
        put(nat, "subnetworks", sorted(subnets, key=lambda s: s["name"]))
    for key in ("enableDynamicPortAllocation", "enableEndpointIndependentMapping"):
        if n.get(key):
            nat[key] = True
    log = n.get("logConfig") or {}
    if log.get("enable"):
        nat["logConfig"] = {"enable": True, **({"filter": log["filter"]} if log.get("filter") else {})}
    return nat


# RouterNat fields the API fills in (compute v1 discovery RouterNat; magic-modules
# RouterNat.yaml default_value), and the ones this kind cannot hold.
_NAT_LIVE_AT_DEFAULT = {"tcpTimeWaitTimeoutSec": 120, "type": "PUBLIC",
                        "endpointTypes": ["ENDPOINT_TYPE_VM"], "autoNetworkTier": "PREMIUM"}
_NAT_LIVE_KNOWN = frozenset({*Nat.model_fields, "logConfig", "drainNatIps"})


def _nat_live_notes(n: Mapping[str, Any]) -> tuple[str, ...]:
    extra = sorted(k for k, v in n.items() if k not in _NAT_LIVE_KNOWN and
                   _NAT_LIVE_AT_DEFAULT.get(k, object()) != v and v not in (None, "", [], {}, False))
    return (f"not carried over (left as it is live): {', '.join(extra)}",) if extra else ()


def _where(rid: ResourceId) -> dict[str, str]:
    return {"project": rid.parts["project"], "region": rid.parts["region"],
            "router": rid.parts["name"]}

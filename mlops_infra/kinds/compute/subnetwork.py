"""``compute.Subnetwork``: a regional subnetwork of a VPC network.

| path                      | notes                                                           |
|---------------------------|-----------------------------------------------------------------|
| ``network``               | required: ``${net.selfLink}``, a network name, or ``projects/P/global/networks/N``; immutable |
| ``region``                | default: the spec's region (shaped like ``us-central1``); part of the identity (not compared) |
| ``ipCidrRange``           | primary IPv4 range, written with its network address (``10.10.0.0/20``). Expanding it (a larger range containing the current one) is in place (``expandIpCidrRange``); any other change replaces the subnetwork |
| ``secondaryIpRanges[]``   | ``{rangeName (RFC 1035), ipCidrRange}`` (GKE pods/services); compared as a set (by range name: the API answers in its own order,
hashicorp/terraform-provider-google#3477, #16026). Removing every range replaces the subnetwork (the client library cannot send an empty list) |
| ``privateIpGoogleAccess`` | bool (``setPrivateIpGoogleAccess``)                             |
| ``logConfig``             | flow logs ``{enable (default true when written), aggregationInterval, flowSampling, metadata, metadataFields, filterExpr}`` |
| ``description``           | immutable                                                       |

Outputs: ``name``, ``selfLink``, ``id``, ``region``. Identity
``projects/P/regions/R/subnetworks/NAME``. No labels (Compute v1 has none here): ownership is
the ledger's. Patches carry the current ``fingerprint``; a stale one (412) is re-read and retried.

Moving in: ``google_compute_subnetwork`` and live subnetworks (looked for in the regions a live
import is given). Flow-log settings at Google's defaults (``INTERVAL_5_SEC``, sampling 0.5,
``INCLUDE_ALL_METADATA``, filter ``true``: magic-modules Subnetwork.yaml) are left out; the
subnetworks of the ``default`` network are left out of live imports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Imported, ImportedList, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import FieldChanges, SpecModel
from mlops_infra.kinds._clients import COMPUTE_REGION_OPERATIONS, COMPUTE_SUBNETWORKS
from mlops_infra.kinds._imports import block, blocks, last_segment, leftovers, put
from mlops_infra.kinds._names import Ipv4Network, NetworkRef, RangeName, Region
from mlops_infra.kinds.compute import _common as common
from mlops_infra.spec.jsoncopy import copy_json

_PATCHED = ("secondaryIpRanges", "logConfig")


def _ranges_by_name(body: dict[str, Any]) -> dict[str, Any]:
    """Secondary ranges in one canonical order (by name): the API treats them as a set."""
    ranges = body.get("secondaryIpRanges")
    if not isinstance(ranges, list) or not all(isinstance(r, dict) for r in ranges):
        return body
    return {**body, "secondaryIpRanges": sorted(ranges, key=lambda r: str(r.get("rangeName")))}


class SecondaryRange(SpecModel):
    rangeName: RangeName
    ipCidrRange: Ipv4Network


# Flow logs: https://cloud.google.com/compute/docs/reference/rest/v1/subnetworks#SubnetworkLogConfig
class SubnetworkLogConfig(SpecModel):
    enable: bool | None = None
    aggregationInterval: Literal["INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN",
                                 "INTERVAL_5_MIN", "INTERVAL_10_MIN",
                                 "INTERVAL_15_MIN"] | None = None
    flowSampling: float | None = Field(default=None, ge=0, le=1)
    metadata: Literal["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA",
                      "CUSTOM_METADATA"] | None = None
    metadataFields: list[str] | None = None
    filterExpr: str | None = None


class SubnetworkSpec(SpecModel):
    """A subnetwork (REST field names)."""

    network: NetworkRef
    region: Region | None = None
    ipCidrRange: Ipv4Network
    secondaryIpRanges: list[SecondaryRange] | None = None
    privateIpGoogleAccess: bool | None = None
    logConfig: SubnetworkLogConfig | None = None
    description: str | None = None


@register
class Subnetwork(common.ComputeKind):
    """A Compute Engine subnetwork."""

    name = "compute.Subnetwork"
    name_pattern = "projects/*/regions/*/subnetworks/*"
    layer = "Compute"
    model = SubnetworkSpec
    uses = (COMPUTE_SUBNETWORKS, COMPUTE_REGION_OPERATIONS)
    outputs = frozenset({"name", "selfLink", "id", "region"})
    immutable = frozenset({"network", "description"})
    set_paths = frozenset({"secondaryIpRanges"})   # the API answers in its own order (tf#3477)
    list_keys = {"secondaryIpRanges": "rangeName"}
    terraform_types = ("google_compute_subnetwork",)
    terraform_refs = {"network": "selfLink"}
    region_field = "region"

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        region = fields.get("region") or ctx.region
        if not region:
            raise errors.UserError(f"resources.{ctx.address}.region: required (the spec has no "
                                   "default region)")
        return common.regional_id(self.name, ctx.project, region, "subnetworks", ctx.name)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"name": ctx.name, **{k: copy_json(v) for k, v in fields.items()
                                     if k != "region"}}
        body["network"] = common.network_url(body["network"], project=ctx.project)
        if isinstance(body.get("logConfig"), dict):
            body["logConfig"] = {"enable": True, **body["logConfig"]}
        return _ranges_by_name(body)

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return _ranges_by_name(super().normalize(live))

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {**super().outputs_of(rid, live), "region": rid.parts["region"]}

    def describe(self, rid: ResourceId) -> str:
        return f"subnetwork {rid.parts['region']}/{rid.parts['name']}"

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        project = a.get("project")
        fields: dict[str, Any] = {"network": common.network_url(a["network"], project=str(project)),
                                  "ipCidrRange": a["ip_cidr_range"]}
        ranges = [{"rangeName": r["range_name"], "ipCidrRange": r["ip_cidr_range"]}
                  for r in blocks(a, "secondary_ip_range")]
        put(fields, "secondaryIpRanges", sorted(ranges, key=lambda r: r["rangeName"]))
        if a.get("private_ip_google_access"):
            fields["privateIpGoogleAccess"] = True
        log = block(a, "log_config")
        if log or a.get("log_config"):
            fields["logConfig"] = _log_config(log, "aggregation_interval", "flow_sampling",
                                              "metadata", "metadata_fields", "filter_expr")
        put(fields, "description", a.get("description"))
        region = last_segment(str(a["region"])) if a.get("region") else None
        return [Imported(name=str(a["name"]), project=project, region=region,
                         fields={**fields, **({"region": region} if region else {})},
                         notes=leftovers(a, _TF_KNOWN))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        rid = self.id_from_name(name)
        fields: dict[str, Any] = {"network": live["network"], "ipCidrRange": live["ipCidrRange"]}
        ranges = [{"rangeName": r["rangeName"], "ipCidrRange": r["ipCidrRange"]}
                  for r in live.get("secondaryIpRanges") or []]
        put(fields, "secondaryIpRanges", sorted(ranges, key=lambda r: r["rangeName"]))
        if live.get("privateIpGoogleAccess"):
            fields["privateIpGoogleAccess"] = True
        log = live.get("logConfig") or {}
        if log.get("enable"):
            fields["logConfig"] = _log_config(log, "aggregationInterval", "flowSampling",
                                              "metadata", "metadataFields", "filterExpr")
        put(fields, "description", live.get("description"))
        region = rid.parts["region"]
        return [Imported(name=str(live["name"]), project=rid.parts["project"], region=region,
                         fields={**fields, "region": region})]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for region in regions:
            found.update(self.list(f"projects/{project}/regions/{region}/subnetworks"))
        return found

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        if str(live.get("network", "")).endswith("/networks/default"):
            return "a subnetwork of the default network Google creates in a new project"
        return None

    def replace_reason(self, changes: FieldChanges) -> str | None:
        reason = super().replace_reason(changes)
        if reason:
            return reason
        for change in changes:
            if change.path == "ipCidrRange" and not _expands(change.old, change.new):
                return (f"ipCidrRange {change.old} -> {change.new} is not an expansion "
                        "(only a larger range containing the current one is in place)")
            if change.path == "secondaryIpRanges" and not change.new:
                # The client never sends an empty list, so "no secondary ranges" cannot be patched.
                return "removing every secondary range"
        return None

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        _, project, _, region, _ = scope.split("/")
        return common.list_all(self.clients.get(COMPUTE_SUBNETWORKS).list, project=project,
                               region=region, scope=scope, what=f"subnetworks in {scope}")

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return common.get_or_none(self.clients.get(COMPUTE_SUBNETWORKS).get, what=self.describe(rid),
                                  **_where(rid))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import compute_v1

        client = self.clients.get(COMPUTE_SUBNETWORKS)
        where = _where(rid)
        common.call(self.clients, client.insert_unary, project=where["project"],
                    region=where["region"], what=self.describe(rid),
                    subnetwork_resource=common.to_message(compute_v1.Subnetwork, desired))
        return self.read_after_operation(rid)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        paths = {c.path.split(".")[0] for c in changes}
        if "ipCidrRange" in paths:
            self._expand(rid, desired["ipCidrRange"])
        if "privateIpGoogleAccess" in paths:
            self._private_access(rid, bool(desired.get("privateIpGoogleAccess", False)))
        if paths & set(_PATCHED):
            self._patch(rid, desired, paths)
        return self.read_after_operation(rid)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        client = self.clients.get(COMPUTE_SUBNETWORKS)
        where = _where(rid)
        try:
            common.call(self.clients, client.delete_unary, project=where["project"],
                        region=where["region"], subnetwork=where["subnetwork"], what=self.describe(rid))
        except (errors.NotFound, NotFound):
            return

    # --- helpers ---
    def _expand(self, rid: ResourceId, cidr: str) -> None:
        from google.cloud import compute_v1

        where = _where(rid)
        request = compute_v1.SubnetworksExpandIpCidrRangeRequest(ip_cidr_range=cidr)
        common.call(self.clients, self.clients.get(COMPUTE_SUBNETWORKS).expand_ip_cidr_range_unary,
                    what=self.describe(rid), subnetworks_expand_ip_cidr_range_request_resource=request,
                    **where)

    def _private_access(self, rid: ResourceId, enabled: bool) -> None:
        from google.cloud import compute_v1

        request = compute_v1.SubnetworksSetPrivateIpGoogleAccessRequest(
            private_ip_google_access=enabled)
        common.call(self.clients,
                    self.clients.get(COMPUTE_SUBNETWORKS).set_private_ip_google_access_unary,
                    what=self.describe(rid),
                    subnetworks_set_private_ip_google_access_request_resource=request,
                    **_where(rid))

    def _patch(self, rid: ResourceId, desired: dict[str, Any], paths: set[str]) -> None:
        from google.cloud import compute_v1

        current = self.read_after_operation(rid)     # the fingerprint after any earlier step
        body: dict[str, Any] = {"fingerprint": current["fingerprint"]}
        if "secondaryIpRanges" in paths:
            body["secondaryIpRanges"] = desired["secondaryIpRanges"]
        if "logConfig" in paths:
            body["logConfig"] = desired.get("logConfig", {"enable": False})
        common.call(self.clients, self.clients.get(COMPUTE_SUBNETWORKS).patch_unary,
                    what=self.describe(rid),
                    subnetwork_resource=common.to_message(compute_v1.Subnetwork, body),
                    **_where(rid))



_TF_KNOWN = ("name", "network", "ip_cidr_range", "secondary_ip_range", "private_ip_google_access",
             "log_config", "description", "region", "gateway_address", "subnetwork_id",
             "fingerprint", "stack_type", "purpose", "private_ipv6_google_access",
             "allow_subnet_cidr_routes_overlap", "state", "internal_ipv6_prefix",
             "external_ipv6_prefix", "ipv6_cidr_range", "ipv6_gce_endpoint",
             "send_secondary_ip_range_if_empty")
# Flow-log defaults (magic-modules Subnetwork.yaml ``log_config`` default_value).
_LOG_DEFAULTS = {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5,
                 "metadata": "INCLUDE_ALL_METADATA", "filterExpr": "true"}


def _log_config(raw: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """Flow logs on, with the settings that differ from Google's defaults (keys: the names of
    aggregation interval, flow sampling, metadata, metadata fields and filter in ``raw``)."""
    out: dict[str, Any] = {"enable": True}
    for name, key in zip(("aggregationInterval", "flowSampling", "metadata", "metadataFields",
                          "filterExpr"), keys):
        put(out, name, raw.get(key), default=_LOG_DEFAULTS.get(name))
    return out


def _expands(old: Any, new: Any) -> bool:
    try:
        before, after = ipaddress.ip_network(old), ipaddress.ip_network(new)
    except (TypeError, ValueError):
        return False
    return (isinstance(before, ipaddress.IPv4Network) and isinstance(after, ipaddress.IPv4Network)
            and after.prefixlen < before.prefixlen and before.subnet_of(after))


def _where(rid: ResourceId) -> dict[str, str]:
    return {"project": rid.parts["project"], "region": rid.parts["region"],
            "subnetwork": rid.parts["name"]}


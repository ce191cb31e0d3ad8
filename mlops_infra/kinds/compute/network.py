"""``compute.Network``: a VPC network.

| path                       | notes                                                          |
|----------------------------|----------------------------------------------------------------|
| ``autoCreateSubnetworks``  | default ``false`` (custom mode; always written to the API). Auto -> custom is in place (``switchToCustomMode``); custom -> auto replaces the network |
| ``routingConfig.routingMode`` | ``REGIONAL`` (API default) or ``GLOBAL``; shorthand ``routingMode`` |
| ``mtu``                    | 1300-8896 (API default 1460); updated in place                  |
| ``description``            | immutable (a change replaces the network)                      |

Outputs: ``name``, ``selfLink`` (known before creation), ``id``. Identity
``projects/P/global/networks/NAME``. Networks carry no labels in Compute v1, so ownership is
the ledger's alone: a network of that name that exists but is not in the ledger is adopted.
Deleting a network that still has subnetworks or firewall rules is retried for a while (their
own deletes usually run at the same time), then fails.

Moving in: ``google_compute_network`` and live networks. The provider's
``auto_create_subnetworks`` defaults to ``true`` (magic-modules Network.yaml) and this kind's
to ``false``, so an auto-mode network says so; ``REGIONAL`` routing and the 1460 MTU are
Google's defaults and are left out. The ``default`` auto-mode network Google creates in a new
project is left out of live imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Imported, ImportedList, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, set_path, translate_errors
from mlops_infra.kinds._clients import COMPUTE_GLOBAL_OPERATIONS, COMPUTE_NETWORKS
from mlops_infra.kinds._imports import leftovers, put
from mlops_infra.kinds.compute import _common as common
from mlops_infra.spec.jsoncopy import copy_json

_DEFAULTS = {"routingConfig.routingMode": "REGIONAL", "mtu": 1460}
_IN_USE = "resourceInUseByAnotherResource"


class RoutingConfig(SpecModel):
    routingMode: Literal["REGIONAL", "GLOBAL"]


class NetworkSpec(SpecModel):
    """A VPC network (REST field names; ``routingMode`` is a shorthand)."""

    autoCreateSubnetworks: bool = False
    routingConfig: RoutingConfig | None = None
    routingMode: Literal["REGIONAL", "GLOBAL"] | None = None
    mtu: int | None = Field(default=None, ge=1300, le=8896)
    description: str | None = None

    @model_validator(mode="after")
    def _one_spelling(self) -> NetworkSpec:
        if self.routingMode is not None and self.routingConfig is not None:
            raise ValueError("'routingMode' is a shorthand for 'routingConfig.routingMode': "
                             "write only one of them")
        return self


@register
class Network(common.ComputeKind):
    """A Compute Engine VPC network."""

    name = "compute.Network"
    name_pattern = "projects/*/global/networks/*"
    layer = "Compute"
    model = NetworkSpec
    uses = (COMPUTE_NETWORKS, COMPUTE_GLOBAL_OPERATIONS)
    immutable = frozenset({"description", "autoCreateSubnetworks"})
    terraform_types = ("google_compute_network",)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return common.global_id(self.name, ctx.project, "networks", ctx.name)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"name": ctx.name, **copy_json(fields)}
        body["autoCreateSubnetworks"] = bool(fields.get("autoCreateSubnetworks", False))
        if "routingMode" in body:
            body["routingConfig"] = {"routingMode": body.pop("routingMode")}
        return body

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        fields = _network_fields(a.get("auto_create_subnetworks", True), a.get("routing_mode"),
                                 a.get("mtu"), a.get("description"))
        notes = leftovers(a, _TF_KNOWN)
        return [Imported(name=str(a["name"]), project=a.get("project"), fields=fields, notes=notes)]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        fields = _network_fields(live.get("autoCreateSubnetworks", False),
                                 (live.get("routingConfig") or {}).get("routingMode"),
                                 live.get("mtu"), live.get("description"))
        return [Imported(name=str(live["name"]), project=name.split("/")[1], fields=fields)]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        return self.list(f"projects/{project}/global/networks")

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        if live.get("name") == "default" and live.get("autoCreateSubnetworks"):
            return "the default network Google creates in a new project"
        return None

    def replace_reason(self, changes: FieldChanges) -> str | None:
        # Auto mode can be switched to custom mode in place, never back.
        hard = [c for c in changes if not (c.path == "autoCreateSubnetworks" and c.new is False)]
        return super().replace_reason(hard)

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        project = scope.split("/")[1]
        return common.list_all(self.clients.get(COMPUTE_NETWORKS).list, project=project, scope=scope,
                               what=f"networks in projects/{project}")

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return common.get_or_none(self.clients.get(COMPUTE_NETWORKS).get, what=self.describe(rid),
                                  project=rid.parts["project"], network=rid.parts["name"])

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import compute_v1

        client = self.clients.get(COMPUTE_NETWORKS)
        common.call(self.clients, client.insert_unary, project=rid.parts["project"],
                    what=self.describe(rid), network_resource=common.to_message(compute_v1.Network, desired))
        return self.read_after_operation(rid)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import compute_v1

        client = self.clients.get(COMPUTE_NETWORKS)
        project, network = rid.parts["project"], rid.parts["name"]
        if any(c.path == "autoCreateSubnetworks" for c in changes):
            common.call(self.clients, client.switch_to_custom_mode_unary, project=project,
                        network=network, what=self.describe(rid))
        for body in _patches(changes):
            common.call(self.clients, client.patch_unary, project=project, network=network,
                        what=self.describe(rid),
                        network_resource=common.to_message(compute_v1.Network, body))
        return self.read_after_operation(rid)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import BadRequest, NotFound

        project = rid.parts["project"]
        with translate_errors(self.describe(rid)):
            try:
                op = self.clients.get(COMPUTE_NETWORKS).delete_unary(
                    project=project, network=rid.parts["name"], **CALL)
            except NotFound:
                return
            except BadRequest as exc:
                if _IN_USE in {e.get("reason") for e in exc.errors or () if isinstance(e, dict)}:
                    # Its subnetworks/firewalls are usually being deleted right now: retry.
                    raise errors.TransientError(f"400 {self.describe(rid)}: {exc.message}",
                                                status=400) from exc
                raise
        common.wait_for(self.clients, op, project=project, what=self.describe(rid))



_TF_KNOWN = ("name", "auto_create_subnetworks", "routing_mode", "mtu", "description",
             "gateway_ipv4", "network_id", "numeric_id", "bgp_best_path_selection_mode",
             "bgp_always_compare_med", "bgp_inter_region_cost", "internal_ipv6_range",
             "network_firewall_policy_enforcement_order", "delete_bgp_always_compare_med")


def _network_fields(auto: Any, routing: Any, mtu: Any, description: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if auto:
        fields["autoCreateSubnetworks"] = True
    put(fields, "routingMode", routing, default=_DEFAULTS["routingConfig.routingMode"])
    put(fields, "mtu", mtu or None, default=_DEFAULTS["mtu"])
    put(fields, "description", description)
    return fields


def _patches(changes: FieldChanges) -> list[dict[str, Any]]:
    """One PATCH per group of fields the API changes together: ``networks.patch`` "Only
    routingConfig can be modified" (compute v1 discovery), and ``mtu`` goes in a request of
    its own (magic-modules Network.yaml ``update_id: mtu``)."""
    body = _patch(changes)
    mtu = {"mtu": body.pop("mtu")} if "mtu" in body else None
    return [b for b in (body, mtu) if b]


def _patch(changes: FieldChanges) -> dict[str, Any]:
    """The patch body: changed ``mtu``/``routingConfig``; a removed one goes back to its default."""
    body: dict[str, Any] = {}
    for change in changes:
        if change.path == "autoCreateSubnetworks":
            continue
        value = _DEFAULTS.get(change.path) if change.op == "remove" else change.new
        if value is not None:
            set_path(body, change.path, value)
    return body


"""``compute.Firewall``: a VPC firewall rule.

| path                         | notes                                                        |
|------------------------------|--------------------------------------------------------------|
| ``network``                  | required: ``${net.selfLink}``, a name or ``projects/P/global/networks/N``; immutable |
| ``direction``                | ``INGRESS`` (API default) or ``EGRESS``; immutable           |
| ``priority``                 | 0-65535 (API default 1000)                                   |
| ``allowed[]`` / ``denied[]`` | exactly one: ``{IPProtocol, ports: [22, "8000-8080"]}``     |
| ``sourceRanges``, ``destinationRanges``, ``sourceTags``, ``targetTags``, ``sourceServiceAccounts``, ``targetServiceAccounts`` | lists |
| ``disabled``                 | bool                                                         |
| ``logConfig``                | ``{enable, metadata}``                                       |
| ``description``              |                                                              |

An update sends the whole rule (``PUT``): fields the spec does not write go back to their API
defaults, so a rule never keeps a source or a port the spec no longer names. Outputs:
``name``, ``selfLink``, ``id``. Identity ``projects/P/global/firewalls/NAME``; no labels
(ownership is the ledger's). Guardrail ``firewall-open-ports``: see ``firewall_policy``.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine.kind import ResourceContext, ResourceId, Violation
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, translate_errors
from mlops_infra.kinds._clients import COMPUTE_FIREWALLS, COMPUTE_GLOBAL_OPERATIONS
from mlops_infra.kinds.compute import _common as common
from mlops_infra.kinds.compute.firewall_policy import RULE, open_port_violations


class ProtocolPorts(SpecModel):
    """One ``allowed``/``denied`` entry."""

    IPProtocol: str
    ports: list[str] | None = None

    @field_validator("IPProtocol")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("ports", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                    for v in value]
        return value


class FirewallLogConfig(SpecModel):
    enable: bool
    metadata: Literal["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"] | None = None


class FirewallSpec(SpecModel):
    """A firewall rule (REST field names)."""

    network: str
    description: str | None = None
    direction: Literal["INGRESS", "EGRESS"] | None = None
    priority: int | None = Field(default=None, ge=0, le=65535)
    allowed: list[ProtocolPorts] | None = None
    denied: list[ProtocolPorts] | None = None
    sourceRanges: list[str] | None = None
    destinationRanges: list[str] | None = None
    sourceTags: list[str] | None = None
    targetTags: list[str] | None = None
    sourceServiceAccounts: list[str] | None = None
    targetServiceAccounts: list[str] | None = None
    disabled: bool | None = None
    logConfig: FirewallLogConfig | None = None

    @model_validator(mode="after")
    def _allowed_or_denied(self) -> FirewallSpec:
        if bool(self.allowed) == bool(self.denied):
            raise ValueError("write exactly one of 'allowed' and 'denied' (a non-empty list)")
        return self


@register
class Firewall(common.ComputeKind):
    """A Compute Engine VPC firewall rule."""

    name = "compute.Firewall"
    model = FirewallSpec
    uses = (COMPUTE_FIREWALLS, COMPUTE_GLOBAL_OPERATIONS)
    immutable = frozenset({"network", "direction"})
    guardrails = {RULE: "an ingress rule open to 0.0.0.0/0 allows only policy.allowed_public_ports"}
    policy_settings = {"allowed_public_ports": list[int | str]}

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return common.global_id(self.name, ctx.project, "firewalls", ctx.name)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"name": ctx.name, **copy.deepcopy(fields)}
        body["network"] = common.network_url(body["network"], project=ctx.project)
        return body

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        return open_port_violations(desired, policy)

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        project = scope.split("/")[1]
        return common.list_all(self.clients.get(COMPUTE_FIREWALLS).list, project=project,
                               what=f"firewalls in projects/{project}")

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return common.get_or_none(self.clients.get(COMPUTE_FIREWALLS).get, what=self.describe(rid),
                                  project=rid.parts["project"], firewall=rid.parts["name"])

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import compute_v1

        common.call(self.clients, self.clients.get(COMPUTE_FIREWALLS).insert_unary,
                    project=rid.parts["project"], what=self.describe(rid),
                    firewall_resource=common.to_message(compute_v1.Firewall, desired))
        return self.read_after_operation(rid)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud import compute_v1

        common.call(self.clients, self.clients.get(COMPUTE_FIREWALLS).update_unary,
                    project=rid.parts["project"], firewall=rid.parts["name"], what=self.describe(rid),
                    firewall_resource=common.to_message(compute_v1.Firewall, desired))
        return self.read_after_operation(rid)

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        project = rid.parts["project"]
        with translate_errors(self.describe(rid)):
            try:
                op = self.clients.get(COMPUTE_FIREWALLS).delete_unary(
                    project=project, firewall=rid.parts["name"], **CALL)
            except NotFound:
                return
        common.wait_for(self.clients, op, project=project, what=self.describe(rid))



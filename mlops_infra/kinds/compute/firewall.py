"""``compute.Firewall``: a VPC firewall rule.

| path                         | notes                                                        |
|------------------------------|--------------------------------------------------------------|
| ``network``                  | required: ``${net.selfLink}``, a name or ``projects/P/global/networks/N``; immutable |
| ``direction``                | ``INGRESS`` (API default) or ``EGRESS``; immutable           |
| ``priority``                 | 0-65535 (API default 1000)                                   |
| ``allowed[]`` / ``denied[]`` | exactly one: ``{IPProtocol, ports: [22, "8000-8080"]}``; a protocol name (``tcp``, ``udp``, ``icmp``, ``esp``, ``ah``, ``ipip``, ``sctp``, ``all``) or number; ports only with ``tcp``/``udp``/``sctp`` |
| ``sourceRanges``, ``destinationRanges`` | IPv4/IPv6 ranges in CIDR notation, written with their network address |
| ``sourceTags``, ``targetTags``, ``sourceServiceAccounts``, ``targetServiceAccounts`` | lists |
| ``disabled``                 | bool                                                         |
| ``logConfig``                | ``{enable, metadata}``                                       |
| ``description``              |                                                              |

The list fields (and ``allowed``/``denied``) are sets to the API (magic-modules
Firewall.yaml ``is_set``): they are compared in a canonical order, so the order the server
answers in is never a change. Spec errors, as the API would answer 400: ``sourceTags`` or
``targetTags`` together with ``sourceServiceAccounts`` or ``targetServiceAccounts``, and more
than 10 of either service-account list (compute v1 discovery ``Firewall``; Firewall.yaml
``conflicts``, ``max_size: 10``).

An update sends the whole rule (``PUT``): fields the spec does not write go back to their API
defaults, so a rule never keeps a source or a port the spec no longer names. Outputs:
``name``, ``selfLink``, ``id``. Identity ``projects/P/global/firewalls/NAME``; no labels
(ownership is the ledger's). Guardrail ``firewall-open-ports``: see ``firewall_policy``.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlops_infra.engine.kind import ResourceContext, ResourceId, Violation
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, translate_errors
from mlops_infra.kinds._clients import COMPUTE_FIREWALLS, COMPUTE_GLOBAL_OPERATIONS
from mlops_infra.kinds._names import (
    PORT_PROTOCOLS,
    IpRange,
    NetworkRef,
    Port,
    is_template,
    protocol_problem,
)
from mlops_infra.kinds.compute import _common as common
from mlops_infra.kinds.compute.firewall_policy import RULE, open_port_violations

_SETS = ("sourceRanges", "destinationRanges", "sourceTags", "targetTags", "sourceServiceAccounts",
         "targetServiceAccounts")
_MAX_SERVICE_ACCOUNTS = 10


def as_sets(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its set-valued lists in one canonical order (sorted, no duplicates)."""
    out = copy.deepcopy(body)
    for key in _SETS:
        if isinstance(out.get(key), list) and all(isinstance(v, str) for v in out[key]):
            out[key] = sorted(set(out[key]))
    for key in ("allowed", "denied"):
        if isinstance(out.get(key), list):
            out[key] = sorted(out[key], key=lambda e: (str(e.get("IPProtocol")).lower(),
                                                       [str(p) for p in e.get("ports") or []]))
    return out


class ProtocolPorts(SpecModel):
    """One ``allowed``/``denied`` entry (protocols and ports: ``kinds/_names.py``)."""

    IPProtocol: str
    ports: list[Port] | None = None

    @field_validator("IPProtocol")
    @classmethod
    def _known(cls, value: str) -> str:
        value = value.lower()
        problem = None if is_template(value) else protocol_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("ports", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                    for v in value]
        return value

    @field_validator("ports")
    @classmethod
    def _only_with_port_protocols(cls, value: list[str] | None,
                                  info: ValidationInfo) -> list[str] | None:
        protocol = info.data.get("IPProtocol")
        if value and protocol and not is_template(protocol) and protocol not in PORT_PROTOCOLS:
            raise ValueError(f"ports apply only to {', '.join(PORT_PROTOCOLS)} (not {protocol})")
        return value


# direction and logConfig.metadata are enums of the Firewall resource, case-sensitive:
# https://cloud.google.com/compute/docs/reference/rest/v1/firewalls
class FirewallLogConfig(SpecModel):
    enable: bool
    metadata: Literal["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"] | None = None


class FirewallSpec(SpecModel):
    """A firewall rule (REST field names)."""

    network: NetworkRef
    description: str | None = None
    direction: Literal["INGRESS", "EGRESS"] | None = None
    priority: int | None = Field(default=None, ge=0, le=65535)
    allowed: list[ProtocolPorts] | None = None
    denied: list[ProtocolPorts] | None = None
    sourceRanges: list[IpRange] | None = None
    destinationRanges: list[IpRange] | None = None
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

    @model_validator(mode="after")
    def _tags_or_service_accounts(self) -> FirewallSpec:
        tags = [k for k in ("sourceTags", "targetTags") if getattr(self, k)]
        accounts = [k for k in ("sourceServiceAccounts", "targetServiceAccounts") if getattr(self, k)]
        if tags and accounts:
            raise ValueError(f"'{accounts[0]}' cannot be used together with '{tags[0]}' (the API "
                             "refuses service accounts with source or target tags)")
        for key in accounts:
            if len(getattr(self, key)) > _MAX_SERVICE_ACCOUNTS:
                raise ValueError(f"'{key}' may list at most {_MAX_SERVICE_ACCOUNTS} service accounts")
        return self


@register
class Firewall(common.ComputeKind):
    """A Compute Engine VPC firewall rule."""

    name = "compute.Firewall"
    layer = "Security"
    model = FirewallSpec
    uses = (COMPUTE_FIREWALLS, COMPUTE_GLOBAL_OPERATIONS)
    immutable = frozenset({"network", "direction"})
    set_paths = frozenset({*_SETS, "allowed", "denied"})   # magic-modules Firewall.yaml: is_set
    list_keys = dict.fromkeys(_SETS, "")
    guardrails = {RULE: "an ingress rule open to 0.0.0.0/0 allows only policy.allowed_public_ports"}
    policy_settings = {"allowed_public_ports": list[int | str]}

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return common.global_id(self.name, ctx.project, "firewalls", ctx.name)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"name": ctx.name, **copy.deepcopy(fields)}
        body["network"] = common.network_url(body["network"], project=ctx.project)
        return as_sets(body)

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return as_sets(live)

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        return open_port_violations(desired, policy)

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        project = scope.split("/")[1]
        return common.list_all(self.clients.get(COMPUTE_FIREWALLS).list, project=project, scope=scope,
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



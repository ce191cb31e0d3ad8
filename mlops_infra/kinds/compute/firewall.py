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

Moving in: ``google_compute_firewall`` (``allow``/``deny`` blocks with ``protocol``) and live
rules; ``INGRESS`` and priority 1000 are Google's defaults and are left out. The
``default-allow-*`` rules of the ``default`` network are left out of live imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlops_infra.engine.kind import Imported, ImportedList, ResourceContext, ResourceId, Violation
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, translate_errors
from mlops_infra.kinds._clients import COMPUTE_FIREWALLS, COMPUTE_GLOBAL_OPERATIONS
from mlops_infra.kinds._imports import block, blocks, leftovers, put
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
from mlops_infra.spec.jsoncopy import copy_json

_SETS = ("sourceRanges", "destinationRanges", "sourceTags", "targetTags", "sourceServiceAccounts",
         "targetServiceAccounts")
_MAX_SERVICE_ACCOUNTS = 10


def as_sets(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its set-valued lists in one canonical order (sorted, no duplicates)."""
    out = copy_json(body)
    for key in _SETS:
        if isinstance(out.get(key), list) and all(isinstance(v, str) for v in out[key]):
            out[key] = sorted(set(out[key]))
    for key in ("allowed", "denied"):
        if isinstance(out.get(key), list):
            out[key] = sorted(out[key], key=lambda e: (str(e.get("IPProtocol")).lower(),
                                                       [str(p) for p in e.get("ports") or []]))
    return out


_TF_SETS = {"source_ranges": "sourceRanges", "destination_ranges": "destinationRanges",
            "source_tags": "sourceTags", "target_tags": "targetTags",
            "source_service_accounts": "sourceServiceAccounts",
            "target_service_accounts": "targetServiceAccounts"}


def _entry(protocol: Any, ports: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"IPProtocol": str(protocol).lower()}
    put(entry, "ports", [str(p) for p in ports or []])
    return entry


def _common_fields(fields: dict[str, Any], raw: Mapping[str, Any], *, direction: Any, priority: Any,
                   disabled: Any, description: Any) -> None:
    """Direction and priority unless Google's defaults (INGRESS, 1000), disabled, description."""
    put(fields, "direction", direction, default="INGRESS")
    put(fields, "priority", priority, default=1000)
    if disabled:
        fields["disabled"] = True
    put(fields, "description", description)


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
    name_pattern = "projects/*/global/firewalls/*"
    layer = "Security"
    model = FirewallSpec
    uses = (COMPUTE_FIREWALLS, COMPUTE_GLOBAL_OPERATIONS)
    immutable = frozenset({"network", "direction"})
    set_paths = frozenset({*_SETS, "allowed", "denied"})   # magic-modules Firewall.yaml: is_set
    list_keys = dict.fromkeys(_SETS, "")
    guardrails = {RULE: "an ingress rule open to 0.0.0.0/0 allows only policy.allowed_public_ports"}
    policy_settings = {"allowed_public_ports": list[int | str]}
    terraform_types = ("google_compute_firewall",)
    terraform_refs = {"network": "selfLink", "sourceServiceAccounts[]": "email",
                      "targetServiceAccounts[]": "email"}

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return common.global_id(self.name, ctx.project, "firewalls", ctx.name)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"name": ctx.name, **copy_json(fields)}
        body["network"] = common.network_url(body["network"], project=ctx.project)
        return as_sets(body)

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return as_sets(live)

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        return open_port_violations(desired, policy)

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        project = a.get("project")
        fields: dict[str, Any] = {"network": common.network_url(a["network"], project=str(project))}
        for attr, key in (("allow", "allowed"), ("deny", "denied")):
            put(fields, key, [_entry(e.get("protocol"), e.get("ports")) for e in blocks(a, attr)])
        _common_fields(fields, a, direction=a.get("direction"), priority=a.get("priority"),
                       disabled=a.get("disabled"), description=a.get("description"))
        for attr, key in _TF_SETS.items():
            put(fields, key, sorted(a.get(attr) or []))
        log = block(a, "log_config")
        if log or a.get("enable_logging"):
            fields["logConfig"] = {"enable": True, **({"metadata": log["metadata"]}
                                                      if log.get("metadata") else {})}
        return [Imported(name=str(a["name"]), project=project, fields=fields,
                         notes=leftovers(a, ("name", "network", "allow", "deny", "direction",
                                             "priority", "disabled", "description",
                                             "log_config", "enable_logging", *_TF_SETS)))]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        fields: dict[str, Any] = {"network": live["network"]}
        for key in ("allowed", "denied"):
            put(fields, key, [_entry(e.get("IPProtocol"), e.get("ports")) for e in live.get(key) or []])
        _common_fields(fields, live, direction=live.get("direction"), priority=live.get("priority"),
                       disabled=live.get("disabled"), description=live.get("description"))
        for key in _SETS:
            put(fields, key, sorted(live.get(key) or []))
        log = live.get("logConfig") or {}
        if log.get("enable"):
            fields["logConfig"] = {"enable": True, **({"metadata": log["metadata"]}
                                                      if log.get("metadata") else {})}
        return [Imported(name=str(live["name"]), project=name.split("/")[1], fields=fields)]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        return self.list(f"projects/{project}/global/firewalls")

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        if str(live.get("network", "")).endswith("/networks/default") and \
                str(live.get("name", "")).startswith("default-allow-"):
            return "a rule of the default network Google creates in a new project"
        return None

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



"""``monitoring.AlertPolicy``: when to alert and whom to tell.

Fields a spec may write (REST names of ``AlertPolicy``):

| field | notes |
|---|---|
| ``displayName`` | required; at most 512 characters |
| ``conditions[]`` | 1 to 6, each ``{displayName, <one condition>}``: ``conditionThreshold`` ``{filter, aggregations[], denominatorFilter, denominatorAggregations[], comparison, thresholdValue, duration, trigger {count \\| percent}, evaluationMissingData}``, ``conditionAbsent`` ``{filter, aggregations[], duration, trigger}``, ``conditionMatchedLog`` ``{filter, labelExtractors}`` (the only condition; needs ``alertStrategy.notificationRateLimit``), ``conditionPrometheusQueryLanguage`` ``{query, duration, evaluationInterval, labels, ruleGroup, alertRule}`` |
| ``aggregations[]`` | ``{alignmentPeriod, perSeriesAligner, crossSeriesReducer, groupByFields[]}`` |
| ``combiner`` | ``AND``, ``OR``, ``AND_WITH_MATCHING_RESOURCE`` |
| ``notificationChannels[]`` | channel names, usually ``${slack.name}``; order is ignored |
| ``documentation`` | ``{content, subject, links[]}`` (Markdown; ``mimeType`` is ``text/markdown``), or a string: the content |
| ``severity`` | ``CRITICAL``, ``ERROR``, ``WARNING`` |
| ``alertStrategy`` | ``{autoClose, notificationRateLimit {period}, notificationPrompts[]}`` |
| ``enabled`` | default true |
| ``userLabels`` | map; the ownership labels go here |

Durations (``duration``, ``alignmentPeriod``, ``autoClose``, ...) may be written ``300``,
``"300s"``, ``"5m"`` or ``"1h"``; they are compared as the API returns them (``"300s"``).

**No perpetual diff.** The API rewrites threshold and absence filters (spacing, ``AND``,
``labels`` for ``label``, term order: hashicorp/terraform-provider-google#20507, #11004,
#7425): both the spec's filter and the returned one are brought to one form
(``_filters.canonical``) before comparing, and that form is what is sent. ``REDUCE_NONE``
and ``ALIGN_NONE`` are proto3 defaults the API does not return (magic-modules
``crossSeriesReducerDiffSuppress``): they are left out on both sides.

Identity: named by the server (``projects/P/alertPolicies/ID``), found by its ownership labels
before every create, its name recorded in the ledger. An update sends only the changed
top-level fields (``update_mask``), and conditions keep their IDs (their ``name`` is sent
back). Changes in one project run one at a time, and Google's "too many concurrent edits"
is retried (``_common``). Output ``name``.

Moving in: ``google_monitoring_alert_policy`` (magic-modules AlertPolicy.yaml: the REST fields in
snake_case, each message a one-item block): what the configuration set, without the
conditions' server-made ``name``, ``documentation.mime_type`` (always Markdown here) and the
output-only ``creation_record``; ``notification_channels`` become references to imported
channels; the state's ``name`` goes to the ledger. From live state (``import live``) the same,
from the REST fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine.kind import ImportedList, Kind, NotImportable, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels
from mlops_infra.kinds._clients import MONITORING_ALERTS
from mlops_infra.kinds._imports import block, blocks, shaped, user_labels
from mlops_infra.kinds._proto import with_defaults
from mlops_infra.kinds.monitoring._common import (
    MONITORING_API,
    as_rest,
    imported_server_named,
    known_only,
    live_server_named,
    mask,
    message,
    monitoring_errors,
    read_or_none,
    seconds,
    serial_key,
    server_named_id,
    top_fields,
)
from mlops_infra.kinds.monitoring._filters import canonical

Duration = int | float | str
_PAGE_SIZE = 100
_DEFAULT_ENUMS = {"crossSeriesReducer": "REDUCE_NONE", "perSeriesAligner": "ALIGN_NONE"}
_THRESHOLD_KINDS = ("conditionThreshold", "conditionAbsent")
_CONDITION_KINDS = ("conditionThreshold", "conditionAbsent", "conditionMatchedLog",
                    "conditionPrometheusQueryLanguage")
_DURATIONS = ("duration", "evaluationInterval")
# google_monitoring_alert_policy attributes read (magic-modules AlertPolicy.yaml); ``creation_record``
# is output-only.
_TF_KNOWN = ("display_name", "conditions", "combiner", "notification_channels", "documentation",
             "severity", "alert_strategy", "enabled", "creation_record")
_TF_UNHELD = ("condition_monitoring_query_language", "condition_sql")   # no spec field (yet)


class Aggregation(SpecModel):
    alignmentPeriod: Duration | None = None
    perSeriesAligner: str | None = Field(default=None, pattern=r"^ALIGN_[A-Z0-9_]+$")
    crossSeriesReducer: str | None = Field(default=None, pattern=r"^REDUCE_[A-Z0-9_]+$")
    groupByFields: list[str] | None = None


class Trigger(SpecModel):
    count: int | None = Field(default=None, ge=1)
    percent: float | None = Field(default=None, gt=0, le=100)


class Threshold(SpecModel):
    filter: str
    aggregations: list[Aggregation] | None = None
    denominatorFilter: str | None = None
    denominatorAggregations: list[Aggregation] | None = None
    comparison: Literal["COMPARISON_GT", "COMPARISON_GE", "COMPARISON_LT", "COMPARISON_LE",
                        "COMPARISON_EQ", "COMPARISON_NE"] | None = None
    thresholdValue: float | None = None
    duration: Duration
    trigger: Trigger | None = None
    evaluationMissingData: Literal["EVALUATION_MISSING_DATA_INACTIVE",
                                   "EVALUATION_MISSING_DATA_ACTIVE",
                                   "EVALUATION_MISSING_DATA_NO_OP"] | None = None


class Absence(SpecModel):
    filter: str
    aggregations: list[Aggregation] | None = None
    duration: Duration
    trigger: Trigger | None = None


class LogMatch(SpecModel):
    filter: str
    labelExtractors: dict[str, str] | None = None


class PromQL(SpecModel):
    query: str
    duration: Duration | None = None
    evaluationInterval: Duration | None = None
    labels: dict[str, str] | None = None
    ruleGroup: str | None = None
    alertRule: str | None = None


class Condition(SpecModel):
    displayName: str
    conditionThreshold: Threshold | None = None
    conditionAbsent: Absence | None = None
    conditionMatchedLog: LogMatch | None = None
    conditionPrometheusQueryLanguage: PromQL | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        given = [k for k in _CONDITION_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a condition has exactly one of {', '.join(_CONDITION_KINDS)}")
        return self


class Link(SpecModel):
    displayName: str = Field(min_length=1, max_length=63)
    url: str


class Documentation(SpecModel):
    content: str | None = Field(default=None, max_length=8192)
    subject: str | None = Field(default=None, max_length=255)
    links: list[Link] | None = None


class RateLimit(SpecModel):
    period: Duration


class AlertStrategy(SpecModel):
    autoClose: Duration | None = None
    notificationRateLimit: RateLimit | None = None
    notificationPrompts: list[Literal["OPENED", "CLOSED"]] | None = None


class AlertPolicySpec(SpecModel):
    """An alerting policy (REST names of ``AlertPolicy``)."""

    displayName: str = Field(min_length=1, max_length=512)
    conditions: list[Condition] = Field(min_length=1, max_length=6)
    combiner: Literal["AND", "OR", "AND_WITH_MATCHING_RESOURCE"] | None = None
    notificationChannels: list[str] | None = None
    documentation: Documentation | str | None = None
    severity: Literal["CRITICAL", "ERROR", "WARNING"] | None = None
    alertStrategy: AlertStrategy | None = None
    enabled: bool | None = None
    userLabels: dict[str, str] | None = None

    @field_validator("userLabels")
    @classmethod
    def _user_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @model_validator(mode="after")
    def _log_match_rules(self) -> AlertPolicySpec:
        """alert.proto: a log-match condition "If set, no other conditions can be present";
        ``notification_rate_limit`` is "Required for log-based alerting policies"."""
        logs = [c for c in self.conditions if c.conditionMatchedLog is not None]
        if logs and len(self.conditions) > 1:
            raise ValueError("a conditionMatchedLog must be the only condition of its policy")
        if logs and (self.alertStrategy is None or self.alertStrategy.notificationRateLimit is None):
            raise ValueError("a policy with a conditionMatchedLog needs "
                             "alertStrategy.notificationRateLimit.period")
        if len(self.conditions) > 1 and self.combiner is None:
            raise ValueError("a policy with several conditions needs a combiner (AND, OR, "
                             "AND_WITH_MATCHING_RESOURCE)")
        return self


@register
class AlertPolicy(Kind):
    """An alerting policy (server-named; see the module docstring)."""

    name = "monitoring.AlertPolicy"
    name_pattern = "projects/*/alertPolicies/*"
    model = AlertPolicySpec
    layer = "Operations"
    outputs = frozenset({"name"})
    naming = "server"
    labels_path = "userLabels"
    set_paths = frozenset({"notificationChannels"})
    api = MONITORING_API
    uses = (MONITORING_ALERTS,)
    terraform_types = ("google_monitoring_alert_policy",)
    terraform_refs = {"notificationChannels[]": "name"}

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        for condition in blocks(a, "conditions"):
            unheld = [k for k in _TF_UNHELD if condition.get(k)]
            if unheld:      # dropping a condition would change what the policy alerts on
                raise NotImportable(f"its condition {condition.get('display_name')!r} uses "
                                    f"{unheld[0]}, which the kind cannot hold (left as it is live)")
        fields = shaped(AlertPolicySpec, a, skip=("documentation", "enabled", "userLabels"))
        documentation = shaped(Documentation, block(a, "documentation"))
        if documentation:
            fields["documentation"] = documentation
        if a.get("enabled") is False:       # the provider's default_value: true
            fields["enabled"] = False
        if user_labels(a.get("user_labels")):
            fields["userLabels"] = user_labels(a.get("user_labels"))
        return imported_server_named(a, fields, _TF_KNOWN)

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live policy: what it sets, without the server's ``name`` of each condition,
        ``documentation.mimeType`` (always Markdown here), ``creationRecord``,
        ``mutationRecord`` and ``enabled`` unless false; its ``notificationChannels`` become
        references to the imported channels (``terraform_refs``). A condition the kind cannot
        hold (MQL, SQL) leaves the policy out, as from Terraform."""
        for condition in live.get("conditions") or []:
            unheld = [k for k in condition if k.startswith("condition")
                      and k not in _CONDITION_KINDS]
            if unheld:
                raise NotImportable(f"its condition {condition.get('displayName')!r} uses "
                                    f"{unheld[0]}, which the kind cannot hold (left as it is live)")
        body = {k: v for k, v in live.items() if k not in ("name", "creationRecord",
                                                           "mutationRecord", "enabled")}
        body["conditions"] = [{k: v for k, v in c.items() if k != "name"}
                              for c in body.get("conditions") or []]
        documentation = {k: v for k, v in (body.pop("documentation", None) or {}).items()
                         if k != "mimeType"}
        fields, dropped = known_only(AlertPolicySpec, body)
        if documentation:
            fields["documentation"] = documentation
        if live.get("enabled") is False:
            fields["enabled"] = False
        users = user_labels(live.get("userLabels"))
        fields.pop("userLabels", None)
        if users:
            fields["userLabels"] = users
        fields["conditions"] = [_without_defaults(c) for c in fields["conditions"]]
        notes = (f"not carried over (left as it is live): {', '.join(dropped)}",) \
            if dropped else ()
        return live_server_named(name, live, fields, notes)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return server_named_id(self.name, ctx)

    def serial_key(self, rid: ResourceId) -> str | None:
        return serial_key(rid)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = dict(fields)
        if isinstance(body.get("documentation"), str):
            body["documentation"] = {"content": body["documentation"]}
        if "documentation" in body:
            body["documentation"] = {**body["documentation"], "mimeType": "text/markdown"}
        return comparable(body)

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        live = with_defaults(live, "google.cloud.monitoring_v3", "AlertPolicy")
        return comparable({**live, "enabled": live.get("enabled", True)})

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.name} if rid.name else {}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with monitoring_errors(f"alert policies of {scope}"):
            pager = self.clients.get(MONITORING_ALERTS).list_alert_policies(
                request={"name": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {p.name: as_rest(p) for p in pager}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return read_or_none(f"alert policy {rid.name}", lambda: self.clients.get(MONITORING_ALERTS).get_alert_policy(
            request={"name": rid.name}, **CALL))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.monitoring_v3 import AlertPolicy as Message

        with monitoring_errors(f"alert policy in {rid.scope}"):
            made = self.clients.get(MONITORING_ALERTS).create_alert_policy(
                request={"name": rid.scope, "alert_policy": message(Message, desired)}, **CALL)
            return as_rest(made)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.monitoring_v3 import AlertPolicy as Message

        fields = top_fields(changes)
        if not fields:
            return live
        body = {"name": rid.name, **{k: desired[k] for k in fields if k in desired}}
        if "conditions" in body:
            body["conditions"] = _keep_condition_names(body["conditions"],
                                                       live.get("conditions", []))
        with monitoring_errors(f"alert policy {rid.name}"):
            return as_rest(self.clients.get(MONITORING_ALERTS).update_alert_policy(
                request={"alert_policy": message(Message, body), "update_mask": mask(fields)},
                **CALL))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with monitoring_errors(f"alert policy {rid.name}"):
            try:
                self.clients.get(MONITORING_ALERTS).delete_alert_policy(
                    request={"name": rid.name}, **CALL)
            except NotFound:
                return


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """A policy (desired or live) with filters, aggregations and durations in one form."""
    out = dict(body)
    if "conditions" in out:
        out["conditions"] = [_condition(c) for c in out["conditions"]]
    if isinstance(out.get("notificationChannels"), list):     # a set: the API keeps no order
        out["notificationChannels"] = sorted(out["notificationChannels"])
    if "alertStrategy" in out:
        strategy = dict(out["alertStrategy"])
        if "autoClose" in strategy:
            strategy["autoClose"] = seconds(strategy["autoClose"])
        if "notificationRateLimit" in strategy:
            strategy["notificationRateLimit"] = {
                **strategy["notificationRateLimit"],
                "period": seconds(strategy["notificationRateLimit"].get("period"))}
        out["alertStrategy"] = strategy
    return out


def _condition(condition: dict[str, Any]) -> dict[str, Any]:
    out = dict(condition)
    for kind in _CONDITION_KINDS:
        if kind not in out:
            continue
        body = dict(out[kind])
        if kind in _THRESHOLD_KINDS:
            for key in ("filter", "denominatorFilter"):
                if key in body:
                    body[key] = canonical(body[key])
            for key in ("aggregations", "denominatorAggregations"):
                if key in body:
                    body[key] = [_aggregation(a) for a in body[key]]
        for key in _DURATIONS:
            if key in body:
                body[key] = seconds(body[key])
        out[kind] = body
    return out


def _aggregation(aggregation: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in aggregation.items() if _DEFAULT_ENUMS.get(k) != v}
    if "alignmentPeriod" in out:
        out["alignmentPeriod"] = seconds(out["alignmentPeriod"])
    if "groupByFields" in out:
        out["groupByFields"] = [canonical(f) for f in out["groupByFields"]]
    return out


def _without_defaults(condition: dict[str, Any]) -> dict[str, Any]:
    """A live condition without the proto3 default aggregation enums (``REDUCE_NONE``,
    ``ALIGN_NONE``), which mean nothing was set."""
    out = dict(condition)
    for kind in _THRESHOLD_KINDS:
        if kind in out:
            body = dict(out[kind])
            for key in ("aggregations", "denominatorAggregations"):
                if key in body:
                    body[key] = [{k: v for k, v in a.items() if _DEFAULT_ENUMS.get(k) != v}
                                 for a in body[key]]
            out[kind] = body
    return out


def _keep_condition_names(wanted: list[dict[str, Any]],
                          live: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conditions to send, each with the ``name`` of the live condition at its place (its ID
    is kept: alert_service.proto ``UpdateAlertPolicyRequest``)."""
    return [{**c, "name": live[i]["name"]} if i < len(live) and "name" in live[i] else c
            for i, c in enumerate(wanted)]

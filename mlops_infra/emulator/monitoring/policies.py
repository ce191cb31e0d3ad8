"""``AlertPolicyService``: alerting policies, named by the server, filters rewritten.

| behaviour | source |
|---|---|
| name ``projects/P/alertPolicies/ID`` and each condition's ``.../conditions/CID`` chosen by the server | alert.proto ``AlertPolicy.name``, ``Condition.name`` |
| 1 to 6 conditions; a log-match (``conditionMatchedLog``) or MQL condition must be the only one; a policy with a log-match condition needs ``alertStrategy.notificationRateLimit`` | alert.proto ``conditions``, ``condition_matched_log``, ``AlertStrategy.notification_rate_limit`` ("Required for log-based alerting policies") |
| a threshold or absence filter must restrict ``metric.type`` | alert.proto ``MetricThreshold.filter`` ("The filter must specify the metric type") |
| threshold/absence filters (and denominator filters) are stored in Google's canonical form | ``filters.py`` (hashicorp/terraform-provider-google#20507, #11004, #7425) |
| ``REDUCE_NONE``/``ALIGN_NONE`` and other proto3 defaults are not returned | magic-modules ``crossSeriesReducerDiffSuppress`` ("API does not return a value for REDUCE_NONE"); proto3 JSON mapping |
| ``documentation.mimeType`` is ``text/markdown`` (the only value) | alert.proto ``Documentation.mime_type`` |
| ``enabled`` defaults to true | alert.proto (``BoolValue``); magic-modules AlertPolicy.yaml ``default_value: true`` |
| notification channels must exist | "A notification channel must exist before it can be used in an alerting policy" (https://cloud.google.com/monitoring/alerts/using-channels-api) |
| update: a non-empty mask replaces the named fields; an empty mask replaces the policy, keeping its ID and the IDs of conditions sent with their ``name`` | alert_service.proto ``UpdateAlertPolicyRequest.update_mask`` |
| every create, update and delete takes part in the one-edit-per-project rule | ``common.EditGate`` |
"""

from __future__ import annotations

import copy
from typing import Any

from google.cloud.monitoring_v3.types import alert, alert_service
from google.protobuf import empty_pb2

from mlops_infra.emulator.monitoring import common, filters

_KINDS = ("conditionThreshold", "conditionAbsent", "conditionMatchedLog",
          "conditionMonitoringQueryLanguage", "conditionPrometheusQueryLanguage", "conditionSql")
_ALONE = ("conditionMatchedLog", "conditionMonitoringQueryLanguage")
Names = list[str]            # module level: inside the classes, ``list`` names a method
_MASKABLE = {"display_name": "displayName", "documentation": "documentation",
             "user_labels": "userLabels", "conditions": "conditions", "combiner": "combiner",
             "enabled": "enabled", "notification_channels": "notificationChannels",
             "alert_strategy": "alertStrategy", "severity": "severity"}


class Policies:
    """Alert-policy handlers over ``service.state["policies"]`` (name -> stored JSON)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("policies", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        project = common.project_of(request.name)
        body = self._checked(common.to_json(request.alert_policy))

        def commit() -> Any:
            name = f"projects/{project}/alertPolicies/{common.numeric_id(self.service.state)}"
            stored = self._named(body, name, previous=None)
            stored["creationRecord"] = common.mutate_time()
            self.items[name] = stored
            return self._message(stored)
        return self.service.edits.edit(project, commit)

    def get(self, request: Any) -> Any:
        return self._message(self._find(request.name))

    def list(self, request: Any) -> Any:
        project = common.project_of(request.name)
        keep = common.listing_filter(request.filter)
        mine = [self._shown(p) for n, p in self.items.items() if common.project_of(n) == project]
        chosen, token = common.page([p for p in mine if keep(p)], size=request.page_size,
                                    token=request.page_token)
        return alert_service.ListAlertPoliciesResponse(
            alert_policies=[common.from_json(alert.AlertPolicy, p) for p in chosen],
            next_page_token=token, total_size=len(mine))

    def update(self, request: Any) -> Any:
        body = common.to_json(request.alert_policy)
        name = body.get("name", "")
        current = self._find(name)
        paths = list(request.update_mask.paths)
        if paths:
            merged = copy.deepcopy(current)
            for path in paths:
                field = _MASKABLE.get(path.split(".")[0]) or _refuse(path)
                if field in body:
                    merged[field] = body[field]
                else:
                    merged.pop(field, None)
        else:
            merged = {**body, "creationRecord": current.get("creationRecord", {})}
        checked = self._checked({k: v for k, v in merged.items() if k != "name"})

        def commit() -> Any:
            stored = self._named(checked, name, previous=current)
            stored["mutationRecord"] = common.mutate_time()
            self.items[name] = stored
            return self._message(stored)
        return self.service.edits.edit(common.project_of(name), commit)

    def delete(self, request: Any) -> Any:
        self._find(request.name)

        def commit() -> Any:
            self.items.pop(request.name, None)
            return empty_pb2.Empty()
        return self.service.edits.edit(common.project_of(request.name), commit)

    # --- what channels ask of policies ---
    def naming_channel(self, channel: str) -> Names:
        return sorted(n for n, p in self.items.items() if channel in p.get("notificationChannels", []))

    def forget_channel(self, channel: str) -> None:
        for policy in self.items.values():
            if channel in policy.get("notificationChannels", []):
                policy["notificationChannels"] = [c for c in policy["notificationChannels"]
                                                  if c != channel]

    # --- helpers ---
    def _find(self, name: str) -> dict[str, Any]:
        common.project_of(name)
        if name not in self.items:
            raise common.not_found(f"Requested entity was not found: {name}")
        return self.items[name]

    def _checked(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` validated and rewritten as Google stores it."""
        out = copy.deepcopy(body)
        conditions = out.get("conditions", [])
        if not 1 <= len(conditions) <= 6:
            raise common.invalid("An alerting policy must have from one to six conditions")
        kinds = [next((k for k in _KINDS if k in c), None) for c in conditions]
        if None in kinds:
            raise common.invalid("Every condition needs one of " + ", ".join(_KINDS))
        if len(conditions) > 1 and any(k in _ALONE for k in kinds):
            raise common.invalid("A log-match or MQL condition must be the only condition")
        if "conditionMatchedLog" in kinds and not out.get("alertStrategy", {}).get(
                "notificationRateLimit", {}).get("period"):
            raise common.invalid("alert_strategy.notification_rate_limit is required for "
                                 "log-based alerting policies")
        for condition, kind in zip(conditions, kinds):
            self._rewrite(condition, str(kind))
        self._check_channels(out.get("notificationChannels", []))
        common.check_user_labels(out.get("userLabels", {}), "alert policy")
        if "documentation" in out:
            out["documentation"]["mimeType"] = out["documentation"].get("mimeType") or \
                "text/markdown"
            if out["documentation"]["mimeType"] != "text/markdown":
                raise common.invalid('documentation.mime_type: only "text/markdown" is supported')
        return out

    def _rewrite(self, condition: dict[str, Any], kind: str) -> None:
        body = condition[kind]
        if kind not in ("conditionThreshold", "conditionAbsent"):
            return
        for key in ("filter", "denominatorFilter"):
            if key not in body:
                continue
            try:
                body[key] = filters.canonical(body[key])
            except filters.FilterSyntaxError as exc:
                raise common.invalid(f"Field {key} had an invalid value of {body[key]!r}: "
                                     f"{exc}") from None
        if not filters.restricts(body.get("filter", ""), "metric.type"):
            raise common.invalid(f"Field filter had an invalid value of {body.get('filter')!r}: "
                                 'must specify a restriction on "metric.type"')

    def _check_channels(self, channels: Names) -> None:
        for channel in channels:
            if not self.service.channels.exists(channel):
                raise common.invalid(f"Notification channel {channel} does not exist; a "
                                     "notification channel must exist before a policy uses it")

    def _named(self, body: dict[str, Any], name: str, *,
               previous: dict[str, Any] | None) -> dict[str, Any]:
        """``body`` under ``name``, its conditions named (kept when sent with a known name)."""
        known = {c.get("name") for c in (previous or {}).get("conditions", [])}
        stored = {**body, "name": name}
        for condition in stored["conditions"]:
            if condition.get("name") not in known or not condition.get("name"):
                condition["name"] = f"{name}/conditions/{common.numeric_id(self.service.state)}"
        return stored

    def _shown(self, stored: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(stored)
        out.setdefault("enabled", True)
        return out

    def _message(self, stored: dict[str, Any]) -> Any:
        return common.from_json(alert.AlertPolicy, self._shown(stored))


def _refuse(path: str) -> str:
    raise common.invalid(f"Invalid update_mask path {path!r} for an alert policy")

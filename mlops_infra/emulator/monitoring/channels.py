"""``NotificationChannelService``: notification channels, named by the server.

| behaviour | source |
|---|---|
| name ``projects/P/notificationChannels/ID``, ID chosen by the server | notification.proto ``NotificationChannel.name`` ("The [CHANNEL_ID] is automatically assigned by the server on creation") |
| types and their labels: ``email`` (email_address), ``sms`` (number), ``slack`` (channel_name, auth_token), ``pagerduty`` (service_key), ``webhook_tokenauth`` (url), ``webhook_basicauth`` (url, username, password), ``pubsub`` (topic); a missing required label or an unknown one is a 400 | the channel descriptors (``gcloud alpha monitoring channel-descriptors list``, https://cloud.google.com/monitoring/alerts/using-channels-api; https://cloud.google.com/monitoring/support/notification-options) |
| ``auth_token``, ``service_key`` and ``password`` are returned obfuscated; the emulator keeps only a fingerprint of them (never the value) | REST reference: "Fields containing sensitive information like authentication tokens ... are only partially populated on retrieval"; magic-modules NotificationChannel.yaml ("Labels with sensitive data are obfuscated by the API"; ``sensitiveLabels``) |
| ``enabled`` defaults to true | magic-modules NotificationChannel.yaml (``default_value: true``); notification.proto (``BoolValue``) |
| ``userLabels``: at most 64, lowercase keys and values | notification.proto ``user_labels`` |
| update: the mask names the fields replaced (``labels`` replaces the whole map); an empty mask replaces every field; ``type`` cannot change | notification_service.proto ``UpdateNotificationChannelRequest`` |
| delete: refused (400 FAILED_PRECONDITION) while an alert policy names the channel, unless ``force``, which also removes it from those policies | magic-modules NotificationChannel.yaml ``force_delete``; notification_service.proto ``DeleteNotificationChannelRequest.force`` |
| list: paged, ``filter`` on ``type``/``display_name``/``user_labels.K`` | notification_service.proto ``ListNotificationChannelsRequest`` |
| every create, update and delete takes part in the one-edit-per-project rule | ``common.EditGate`` |
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from google.cloud.monitoring_v3.types import notification, notification_service
from google.protobuf import empty_pb2

from mlops_infra.emulator.monitoring import common

TYPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {   # type -> (required, optional)
    "email": (frozenset({"email_address"}), frozenset()),
    "sms": (frozenset({"number"}), frozenset()),
    "slack": (frozenset({"channel_name"}), frozenset({"auth_token", "team"})),
    "pagerduty": (frozenset({"service_key"}), frozenset()),
    "webhook_tokenauth": (frozenset({"url"}), frozenset()),
    "webhook_basicauth": (frozenset({"url", "username", "password"}), frozenset()),
    "pubsub": (frozenset({"topic"}), frozenset()),
}
SENSITIVE = ("auth_token", "service_key", "password")
_UPDATABLE = {"display_name": "displayName", "displayName": "displayName",
              "description": "description", "labels": "labels", "user_labels": "userLabels",
              "userLabels": "userLabels", "enabled": "enabled"}


def obfuscated(value: str) -> str:
    """What Google returns for a sensitive label: partly masked."""
    return "*" * 10 + (value[-4:] if len(value) > 8 else "")


def fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


class Channels:
    """Channel handlers over ``service.state["channels"]`` (name -> stored JSON)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("channels", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        project = common.project_of(request.name)
        body = common.to_json(request.notification_channel)
        stored = self._checked(body, previous=None)

        def commit() -> Any:
            name = f"projects/{project}/notificationChannels/{common.numeric_id(self.service.state)}"
            stored.update(name=name, creationRecord=common.mutate_time())
            self.items[name] = stored
            return self._message(stored)
        return self.service.edits.edit(project, commit)

    def get(self, request: Any) -> Any:
        return self._message(self._find(request.name))

    def list(self, request: Any) -> Any:
        project = common.project_of(request.name)
        keep = common.listing_filter(request.filter)
        mine = [self._shown(c) for n, c in self.items.items()
                if common.project_of(n) == project]
        chosen, token = common.page([c for c in mine if keep(c)], size=request.page_size,
                                    token=request.page_token)
        return notification_service.ListNotificationChannelsResponse(
            notification_channels=[common.from_json(notification.NotificationChannel, c)
                                   for c in chosen],
            next_page_token=token, total_size=len(mine))

    def update(self, request: Any) -> Any:
        body = common.to_json(request.notification_channel)
        name = body.get("name", "")
        current = self._find(name)
        fields = [_UPDATABLE.get(p) or _refuse(p) for p in request.update_mask.paths] \
            or sorted(set(_UPDATABLE.values()))
        if "type" in body and body["type"] != current["type"]:
            raise common.invalid("The type of a notification channel cannot be changed")
        merged = copy.deepcopy(current)
        for field in fields:
            if field in body:
                merged[field] = body[field]
            else:
                merged.pop(field, None)
        stored = self._checked(merged, previous=current)

        def commit() -> Any:
            stored.setdefault("mutationRecords", []).append(common.mutate_time())
            self.items[name] = stored
            return self._message(stored)
        return self.service.edits.edit(common.project_of(name), commit)

    def delete(self, request: Any) -> Any:
        self._find(request.name)
        users = self.service.policies.naming_channel(request.name)
        if users and not request.force:
            raise common.precondition(
                f"Notification channel {request.name} is used by alert policies "
                f"({', '.join(users)}); remove it from them first or delete with force")

        def commit() -> Any:
            self.items.pop(request.name, None)
            self.service.policies.forget_channel(request.name)
            return empty_pb2.Empty()
        return self.service.edits.edit(common.project_of(request.name), commit)

    # --- helpers ---
    def exists(self, name: str) -> bool:
        return name in self.items

    def _find(self, name: str) -> dict[str, Any]:
        common.project_of(name)
        if name not in self.items:
            raise common.not_found(f"Requested entity was not found: {name}")
        return self.items[name]

    def _checked(self, body: dict[str, Any], *, previous: dict[str, Any] | None) -> dict[str, Any]:
        kind = body.get("type", "")
        if kind not in TYPES:
            raise common.invalid(f"Unknown notification channel type {kind!r}; known: "
                                 f"{', '.join(sorted(TYPES))}")
        required, optional = TYPES[kind]
        labels = dict(body.get("labels", {}))
        missing = sorted(required - set(labels))
        unknown = sorted(set(labels) - required - optional)
        if missing or unknown:
            raise common.invalid(f"Invalid labels for notification channel type {kind!r}: "
                                 f"missing {missing or 'none'}, unsupported {unknown or 'none'}")
        common.check_user_labels(body.get("userLabels", {}), "notification channel")
        stored = {k: v for k, v in body.items() if k not in ("verificationStatus",)}
        stored["_secrets"] = self._fingerprints(labels, previous)
        stored["labels"] = {k: (obfuscated(v) if k in SENSITIVE else v) for k, v in labels.items()}
        if previous is not None:
            stored["name"] = previous["name"]
            stored["creationRecord"] = previous.get("creationRecord", {})
            stored["mutationRecords"] = list(previous.get("mutationRecords", []))
        return stored

    def _fingerprints(self, labels: dict[str, str],
                      previous: dict[str, Any] | None) -> dict[str, str]:
        """Sensitive labels by fingerprint; a value sent back as its mask keeps the old one."""
        before = (previous or {}).get("_secrets", {})
        shown = (previous or {}).get("labels", {})
        return {k: before[k] if k in before and v == shown.get(k) else fingerprint(v)
                for k, v in labels.items() if k in SENSITIVE}

    def _shown(self, stored: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in stored.items() if not k.startswith("_")}
        out.setdefault("enabled", True)
        return out

    def _message(self, stored: dict[str, Any]) -> Any:
        return common.from_json(notification.NotificationChannel, self._shown(stored))


def _refuse(path: str) -> str:
    raise common.invalid(f"Invalid update_mask path {path!r} for a notification channel; "
                         f"updatable: {', '.join(sorted(set(_UPDATABLE)))}")

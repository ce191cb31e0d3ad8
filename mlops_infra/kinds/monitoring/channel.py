"""``monitoring.NotificationChannel``: where alerts go (email, Slack, PagerDuty, Pub/Sub, webhook).

Fields a spec may write (REST names of ``NotificationChannel``):

| field | notes |
|---|---|
| ``type`` | ``email``, ``slack``, ``pagerduty``, ``pubsub``, ``webhook_tokenauth``, ``webhook_basicauth``, ``sms``; immutable (a change replaces the channel) |
| ``displayName``, ``description`` | text (at most 512 and 1024 characters) |
| ``labels`` | the channel's configuration: ``email_address`` (email), ``channel_name`` (slack), ``topic`` (pubsub: ``projects/P/topics/T``), ``url`` (webhooks), ``username`` (webhook_basicauth), ``number`` (sms) |
| ``sensitiveLabels`` | ``authToken`` (slack), ``serviceKey`` (pagerduty), ``password`` (webhook_basicauth): each a ``${secrets.NAME}`` reference, never a value; sent as the labels ``auth_token``/``service_key``/``password`` |
| ``enabled`` | default true |
| ``userLabels`` | map; the ownership labels go here |

Identity: the server names a channel (``projects/P/notificationChannels/ID``): it is found by
its ownership labels before every create, and its name is recorded in the ledger. Output
``name`` (what alert policies reference: ``notificationChannels: ["${slack.name}"]``), known
once it exists.

The API returns sensitive labels obfuscated (REST reference: "only partially populated on
retrieval"; magic-modules NotificationChannel.yaml), so they are never compared with live
state: the ledger's keyed hash says whether the secret changed (``engine.sensitive``).
Moving in: ``google_monitoring_notification_channel`` (magic-modules NotificationChannel.yaml):
``sensitive_labels`` (and a secret label written in ``labels``) become ``sensitiveLabels``
entries the importer turns into ``secrets:`` to fill in, never the value; the state's
``name`` (server-chosen) goes to the ledger; ``enabled`` is written only when false.
From live state (``import live``) the same: each sensitive label the API shows (obfuscated)
becomes a secret to fill in, which the first apply sends once (nothing can tell it is the
one live); the channel's API name goes to the ledger.

Required labels per type are the channel descriptors' (``gcloud alpha monitoring
channel-descriptors list``; https://cloud.google.com/monitoring/support/notification-options).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine.kind import ImportedList, Kind, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels
from mlops_infra.kinds._clients import MONITORING_CHANNELS
from mlops_infra.kinds._imports import block, put, user_labels
from mlops_infra.kinds._proto import with_defaults
from mlops_infra.kinds.monitoring._common import (
    MONITORING_API,
    as_rest,
    imported_server_named,
    live_server_named,
    mask,
    message,
    monitoring_errors,
    read_or_none,
    serial_key,
    server_named_id,
    top_fields,
)

ChannelType = Literal["email", "slack", "pagerduty", "pubsub", "webhook_tokenauth",
                      "webhook_basicauth", "sms"]
REQUIRED: dict[str, tuple[str, ...]] = {
    "email": ("email_address",), "slack": ("channel_name",), "pagerduty": ("service_key",),
    "pubsub": ("topic",), "webhook_tokenauth": ("url",),
    "webhook_basicauth": ("url", "username", "password"), "sms": ("number",)}
SENSITIVE = {"authToken": "auth_token", "serviceKey": "service_key", "password": "password"}
_PAGE_SIZE = 100
# google_monitoring_notification_channel attributes read (magic-modules
# NotificationChannel.yaml); ``verification_status`` is output-only, ``force_delete`` the
# provider's own.
_TF_KNOWN = ("type", "display_name", "description", "labels", "sensitive_labels", "enabled",
             "verification_status", "force_delete")


def _fields(kind: str, display_name: Any, description: Any, labels: dict[str, str],
            secret: set[str], enabled: Any, users: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A channel's spec fields (Terraform or live alike) and its secrets to fill in: each
    sensitive label (``secret``: ``SENSITIVE`` keys) becomes a ``sensitiveLabels`` entry the
    importer turns into a ``secrets:`` reference, never the value; ``enabled`` is written only
    when false (the API's and the provider's default is true)."""
    fields: dict[str, Any] = {"type": kind}
    put(fields, "displayName", display_name)
    put(fields, "description", description)
    put(fields, "labels", {k: v for k, v in labels.items() if k not in SENSITIVE.values()})
    if secret:      # never the value: the importer writes a secret to fill in
        fields["sensitiveLabels"] = dict.fromkeys(sorted(secret), "(sensitive)")
    if enabled is False:
        fields["enabled"] = False
    put(fields, "userLabels", user_labels(users))
    what = {f"sensitiveLabels.{key}": f"the {kind} channel's {SENSITIVE[key]} (Google returns "
            "it obfuscated)" for key in sorted(secret)}
    return fields, what


class SensitiveLabels(SpecModel):
    """Secret channel labels: each a ``${secrets.NAME}`` reference."""

    authToken: str | None = None
    serviceKey: str | None = None
    password: str | None = None


class ChannelSpec(SpecModel):
    """A notification channel (REST names of ``NotificationChannel``)."""

    type: ChannelType
    displayName: str | None = Field(default=None, max_length=512)
    description: str | None = Field(default=None, max_length=1024)
    labels: dict[str, str] | None = None
    sensitiveLabels: SensitiveLabels | None = None
    enabled: bool | None = None
    userLabels: dict[str, str] | None = None

    @field_validator("userLabels")
    @classmethod
    def _user_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @field_validator("labels")
    @classmethod
    def _no_secrets_in_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        clear = sorted(set(value or {}) & set(SENSITIVE.values()))
        if clear:
            raise ValueError(f"{clear[0]} is secret: write it under sensitiveLabels as a "
                             "${secrets.NAME} reference")
        return value

    @model_validator(mode="after")
    def _required_labels(self) -> ChannelSpec:
        given = set(self.labels or {}) | {SENSITIVE[k] for k, v in
                                          (self.sensitiveLabels.model_dump() if
                                           self.sensitiveLabels else {}).items() if v}
        missing = [label for label in REQUIRED[self.type] if label not in given]
        if missing:
            raise ValueError(f"a {self.type} channel needs the label(s) {', '.join(missing)} "
                             "(the channel descriptor's required labels)")
        return self


@register
class NotificationChannel(Kind):
    """A notification channel (server-named; see the module docstring)."""

    name = "monitoring.NotificationChannel"
    name_pattern = "projects/*/notificationChannels/*"
    model = ChannelSpec
    layer = "Operations"
    outputs = frozenset({"name"})
    naming = "server"
    labels_path = "userLabels"
    immutable = frozenset({"type"})
    secret_fields: ClassVar[frozenset[str]] = frozenset(
        f"labels.{label}" for label in SENSITIVE.values())
    api = MONITORING_API
    uses = (MONITORING_CHANNELS,)
    terraform_types = ("google_monitoring_notification_channel",)

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        labels = {str(k): str(v) for k, v in (a.get("labels") or {}).items()}
        secret = {key for key, label in SENSITIVE.items()
                  if block(a, "sensitive_labels").get(label) or labels.get(label)}
        fields, what = _fields(a["type"], a.get("display_name"), a.get("description"), labels,
                               secret, a.get("enabled"), a.get("user_labels"))
        return imported_server_named(a, fields, _TF_KNOWN, secrets=what)

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """A live channel: its sensitive labels come back obfuscated (module docstring), so each
        one it has becomes a secret to fill in, as from Terraform; ``verificationStatus``,
        ``creationRecord`` and ``mutationRecords`` are the server's."""
        labels = {str(k): str(v) for k, v in (live.get("labels") or {}).items()}
        secret = {key for key, label in SENSITIVE.items() if labels.get(label)}
        fields, what = _fields(live["type"], live.get("displayName"), live.get("description"),
                               labels, secret, live.get("enabled", True), live.get("userLabels"))
        return live_server_named(name, live, fields, secrets=what)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return server_named_id(self.name, ctx)

    def serial_key(self, rid: ResourceId) -> str | None:
        return serial_key(rid)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if k != "sensitiveLabels"}
        secrets = {SENSITIVE[k]: v for k, v in (fields.get("sensitiveLabels") or {}).items()
                   if v is not None}
        if secrets:
            body["labels"] = {**(fields.get("labels") or {}), **secrets}
        return body

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        live = with_defaults(live, "google.cloud.monitoring_v3", "NotificationChannel")
        return {**live, "enabled": live.get("enabled", True)}

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.name} if rid.name else {}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with monitoring_errors(f"notification channels of {scope}"):
            pager = self.clients.get(MONITORING_CHANNELS).list_notification_channels(
                request={"name": scope, "page_size": _PAGE_SIZE}, **CALL)
            return {c.name: as_rest(c) for c in pager}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return read_or_none(f"notification channel {rid.name}", lambda: self.clients.get(MONITORING_CHANNELS).get_notification_channel(
            request={"name": rid.name}, **CALL))

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.monitoring_v3 import NotificationChannel as Message

        with monitoring_errors(f"notification channel in {rid.scope}"):
            made = self.clients.get(MONITORING_CHANNELS).create_notification_channel(
                request={"name": rid.scope, "notification_channel": message(Message, desired)},
                **CALL)
            return as_rest(made)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        from google.cloud.monitoring_v3 import NotificationChannel as Message

        fields = top_fields(changes) - {"type"}
        if not fields:
            return live
        body = {"name": rid.name, "type": desired["type"],
                **{k: desired[k] for k in fields if k in desired}}
        with monitoring_errors(f"notification channel {rid.name}"):
            return as_rest(self.clients.get(MONITORING_CHANNELS).update_notification_channel(
                request={"notification_channel": message(Message, body),
                         "update_mask": mask(fields)}, **CALL))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        with monitoring_errors(f"notification channel {rid.name}"):
            try:
                self.clients.get(MONITORING_CHANNELS).delete_notification_channel(
                    request={"name": rid.name, "force": False}, **CALL)
            except NotFound:
                return

"""How slow the emulator is, like Google: one ``Delays`` per emulator, realistic by default.

Every delay is a knob (``Emulator.set_delays``, ``PUT /delays`` on the control API) whose
default is what Google documents or what users measured; tests shorten the delays, they never
switch a behaviour off. ``MLOPS_INFRA_EMULATOR_DELAY_SCALE`` (a float, default 1) multiplies
every default, for a person who wants a quick ``--local`` run (``0.05`` makes a minute 3 s).

| knob (``Delays`` field / JSON key) | default | source |
|---|---|---|
| ``operation`` / ``operation`` (any long-running operation without an override) | 5 s | Compute and Service Usage below are the operations the emulated APIs have |
| ``operations["serviceusage"]`` / ``operations`` | 10 s | Terraform logs show ``google_project_service`` completing after 4-22 s (hashicorp/terraform-provider-google#7814) |
| ``operations["compute"]`` | 7 s | a network insert operation in a Terraform debug log: insertTime 14:51:38.272, endTime 14:51:45.165 (GoogleCloudPlatform/magic-modules#5031) |
| ``operations["compute.instance"]`` (insert, delete, start, stop, setMachineType... of a VM) | 30 s | Terraform's acceptance test creating, checking and deleting one instance: 53.7 s (hashicorp/terraform PR #10081) |
| ``operations["container.cluster"]`` (create/delete a GKE cluster) | 300 s | "usually 5-10 min"; a basic cluster's Terraform acceptance test 241 s (hashicorp/terraform-provider-google PR #1282), issues show 8 min and more (``../shared/research/clients.md`` f) |
| ``operations["container.nodePool"]`` (create/delete a node pool, recreate its nodes) | 180 s | "about 2-5 min, with outliers of 19 min" (hashicorp/terraform-provider-google#1643) |
| other GKE operations (labels, cluster updates, autoscaling) | ``operation`` | no figure published; the generic default |
| ``operations["aiplatform"]`` | 20 s | Vertex AI endpoint, Tensorboard, feature store and metadata store operations take "seconds to about a minute" (research/clients.md section f); Terraform gives them 20 minutes (metadata stores 40) (magic-modules mmv1/products/vertexai/*.yaml ``timeouts``) |
| ``operations["notebooks"]`` | 180 s | a Workbench instance create takes several minutes: a failing Terraform test ran 288 s and the create timeout was raised from 20 to 40 minutes (GoogleCloudPlatform/magic-modules PRs #11769, #13248); ``operations["notebooks.lifecycle"]`` (start, stop, update) 60 s: a Compute Engine VM stops or starts in about a minute (an estimate: no measured figure found) |
| ``operation_wait`` / ``operationWait`` | 120 s | compute v1 discovery, ``globalOperations.wait``: "waits for no more than the default deadline (2 minutes)" |
| ``api_enablement`` / ``apiEnablement`` (403 SERVICE_DISABLED after the enable operation is done) | 60 s | Google's 403 text "If you enabled this API recently, wait a few minutes for the action to propagate"; the Terraform provider guide's ``time_sleep`` of 60 s after enabling (googleapis/google-cloud-rust#5444, hashicorp/terraform-provider-google#2129) |
| ``iam_policy`` / ``iamPolicy`` (a KMS key grant takes effect) | 120 s | "Changes to allow policies typically propagate in 2 minutes, but could potentially take 7 minutes" (https://cloud.google.com/iam/docs/access-change-propagation) |
| ``service_account`` / ``serviceAccount`` (a new account is readable and bindable) | 10 s | "each read is eventually consistent" (googleapis google/iam/admin/v1/iam.proto); Terraform polls get until three successes and sleeps 10 s more (magic-modules resource_google_service_account.go) |
| ``monitoring_edit`` / ``monitoringEdit`` (a Monitoring configuration edit holds its project: another edit meanwhile gets 409 "Too many concurrent edits to the project configuration") | 0.5 s | Monitoring calls are synchronous and sub-second (research/clients.md f.); the API asks callers to "single-thread API calls that modify the state of notification channels in a single project" (googleapis google/monitoring/v3/notification_service.proto) and Terraform serialises alert policies, channels and uptime checks per project and retries that 409 (magic-modules AlertPolicy.yaml ``mutex``, transport_tpg.IsMonitoringConcurrentEditError) |

An ``operations`` key ``SERVICE.WHAT`` falls back to ``SERVICE``, then to ``operation``: shortening
``operations["compute"]`` shortens instance operations too unless ``compute.instance`` is set.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

SCALE_ENV = "MLOPS_INFRA_EMULATOR_DELAY_SCALE"
_JSON_KEYS = {"operation": "operation", "operations": "operations",
              "operationWait": "operation_wait", "apiEnablement": "api_enablement",
              "iamPolicy": "iam_policy", "serviceAccount": "service_account",
              "monitoringEdit": "monitoring_edit"}


@dataclass
class Delays:
    """Seconds each emulated behaviour takes (see the module table for the sources)."""

    operation: float = 5.0
    operations: dict[str, float] = field(default_factory=lambda: {
        "serviceusage": 10.0, "compute": 7.0, "compute.instance": 30.0,
        "container.cluster": 300.0, "container.nodePool": 180.0,
        "aiplatform": 20.0, "notebooks": 180.0, "notebooks.lifecycle": 60.0})
    operation_wait: float = 120.0
    api_enablement: float = 60.0
    iam_policy: float = 120.0
    service_account: float = 10.0
    monitoring_edit: float = 0.5

    @classmethod
    def realistic(cls, scale: float | None = None) -> Delays:
        """The documented defaults, multiplied by ``scale`` (default: the environment's)."""
        return cls().scaled(scale_from_env() if scale is None else scale)

    def scaled(self, factor: float) -> Delays:
        return Delays(operation=self.operation * factor,
                      operations={k: v * factor for k, v in self.operations.items()},
                      operation_wait=self.operation_wait * factor,
                      api_enablement=self.api_enablement * factor,
                      iam_policy=self.iam_policy * factor,
                      service_account=self.service_account * factor,
                      monitoring_edit=self.monitoring_edit * factor)

    def operation_for(self, service: str) -> float:
        """How long a new long-running operation of ``service`` takes; ``SERVICE.WHAT`` (an
        operation kind with its own default) falls back to ``SERVICE``'s, then ``operation``."""
        if service in self.operations:
            return self.operations[service]
        return self.operations.get(service.split(".", 1)[0], self.operation)

    def updated(self, changes: dict[str, Any]) -> Delays:
        """A copy with ``changes`` (JSON keys or field names) applied; bad values are ``ValueError``."""
        kwargs: dict[str, Any] = {}
        for key, value in changes.items():
            name = _JSON_KEYS.get(key, key)
            if name not in _JSON_KEYS.values():
                raise ValueError(f"unknown delay {key!r}; known: {', '.join(_JSON_KEYS)}")
            kwargs[name] = _operations(value) if name == "operations" else _seconds(key, value)
        if "operations" in kwargs:
            kwargs["operations"] = {**self.operations, **kwargs["operations"]}
        return dataclasses.replace(self, **kwargs)

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, name) for key, name in _JSON_KEYS.items()}


def scale_from_env() -> float:
    raw = os.environ.get(SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_ENV}={raw!r}: expected a number such as 0.05") from None
    return _seconds(SCALE_ENV, value)


def _seconds(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{key} must be a non-negative number of seconds, not {value!r}")
    return float(value)


def _operations(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise TypeError("operations must map a service name to seconds")
    return {str(k): _seconds(f"operations.{k}", v) for k, v in value.items()}

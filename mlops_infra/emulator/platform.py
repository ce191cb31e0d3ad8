"""Facts about emulated projects that several services share, kept in the persisted state.

* **API enablement.** A fresh project has only Google's default-enabled APIs on
  (``DEFAULT_ENABLED``, from https://cloud.google.com/service-usage/docs/enabled-service#default);
  Service Usage operations change an API's state when they finish (``doneAt``), and an enabled
  API still answers 403 SERVICE_DISABLED for ``Delays.api_enablement`` seconds after that
  (eventual consistency: hashicorp/terraform-provider-google#2129, #3151). ``preenable`` is the
  "this project already has these APIs" knob (enabled long ago, no delay).
* **Workload Identity pools** (``PROJECT.svc.id.goog``): a pool exists once a GKE cluster with
  ``workloadPool`` exists in the project; the container service registers a cluster's pool here
  with the time its create (or update) operation is done (``at``), the ``PUT /workload-pools``
  knob does so by hand. IAM policies naming
  ``serviceAccount:PROJECT.svc.id.goog[ns/ksa]`` get Google's 400 until then
  (terraform-google-modules/terraform-google-kubernetes-engine#916).
* **The caller**: the principal the emulator takes every request to come from (anonymous
  credentials carry none); BigQuery makes it a new dataset's OWNER.

State (JSON): ``apis`` project -> api -> {state, at, before}; ``workloadPools`` [pool];
``workloadPoolsAt`` pool -> when it comes to exist (pools registered by an operation).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.core import HttpError

# https://cloud.google.com/service-usage/docs/enabled-service#default ("Services enabled by
# default" when a project is created with the console or gcloud).
DEFAULT_ENABLED = frozenset({
    "analyticshub.googleapis.com", "apptopology.googleapis.com", "bigquery.googleapis.com",
    "bigqueryconnection.googleapis.com", "bigquerydatapolicy.googleapis.com",
    "bigquerydatatransfer.googleapis.com", "bigquerymigration.googleapis.com",
    "bigqueryreservation.googleapis.com", "bigquerystorage.googleapis.com",
    "cloudapis.googleapis.com", "cloudtrace.googleapis.com", "datastore.googleapis.com",
    "dataform.googleapis.com", "dataplex.googleapis.com", "logging.googleapis.com",
    "monitoring.googleapis.com", "servicemanagement.googleapis.com",
    "serviceusage.googleapis.com", "sql-component.googleapis.com",
    "storage-api.googleapis.com", "storage-component.googleapis.com", "storage.googleapis.com",
})
DEFAULT_CALLER = "owner@example.com"
WORKLOAD_MEMBER = re.compile(r"^serviceAccount:([a-z0-9.:-]+\.svc\.id\.goog)\[[^\]]+\]$")
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


class Platform:
    """Project-level facts (enabled APIs, workload pools) with a JSON state."""

    def __init__(self, *, api_delay: Callable[[], float],
                 clock: Callable[[], float] = time.time) -> None:
        self.state: dict[str, Any] = {"apis": {}, "workloadPools": [], "workloadPoolsAt": {}}
        self.caller = DEFAULT_CALLER
        self._api_delay = api_delay
        self.clock = clock

    def load_state(self, state: dict[str, Any]) -> None:
        self.state = {"apis": dict(state.get("apis", {})),
                      "workloadPools": list(state.get("workloadPools", [])),
                      "workloadPoolsAt": dict(state.get("workloadPoolsAt", {}))}

    # -- API enablement -------------------------------------------------------------------
    def api_state(self, project: str, api: str) -> str:
        """``ENABLED`` or ``DISABLED`` as Service Usage reports it now."""
        entry = self.state["apis"].get(project, {}).get(api)
        if entry is None:
            return "ENABLED" if api in DEFAULT_ENABLED else "DISABLED"
        return str(entry["state"] if self.clock() >= entry["at"] else entry["before"])

    def known_apis(self, project: str) -> list[str]:
        """Every API this project has a state for (the default ones included)."""
        return sorted(DEFAULT_ENABLED | set(self.state["apis"].get(project, {})))

    def change_api(self, project: str, api: str, target: str, *, at: float) -> None:
        """``api`` becomes ``target`` at ``at`` (when its operation finishes)."""
        before = self.api_state(project, api)
        self.state["apis"].setdefault(project, {})[api] = {"state": target, "at": at,
                                                           "before": before}

    def preenable(self, project: str, apis: list[str]) -> None:
        """The project has had ``apis`` enabled for long: usable at once."""
        for api in apis:
            self.state["apis"].setdefault(project, {})[api] = {"state": "ENABLED", "at": 0.0,
                                                               "before": "ENABLED"}

    def api_usable(self, project: str, api: str) -> bool:
        """Enabled, and long enough ago for the enablement to have propagated."""
        if self.api_state(project, api) != "ENABLED":
            return False
        entry = self.state["apis"].get(project, {}).get(api)
        return entry is None or entry["at"] <= 0 or self.clock() >= entry["at"] + self._api_delay()

    # -- workload identity pools ----------------------------------------------------------
    def add_workload_pool(self, pool: str, *, at: float | None = None) -> None:
        """``pool`` exists from now on, or from ``at`` (epoch seconds: when the operation of
        the cluster bringing it is done)."""
        if not pool.endswith(".svc.id.goog"):
            raise ValueError(f"{pool!r} is not a workload pool (expected PROJECT.svc.id.goog)")
        if at is not None and at > self.clock():
            if pool not in self.state["workloadPools"]:
                pending = self.state.setdefault("workloadPoolsAt", {})
                pending[pool] = min(at, pending.get(pool, at))
            return
        if pool not in self.state["workloadPools"]:
            self.state["workloadPools"].append(pool)

    def workload_pools(self) -> list[str]:
        """The pools that exist now."""
        pending = [p for p in self.state.get("workloadPoolsAt", {}) if self.workload_pool_exists(p)]
        return sorted(set(self.state["workloadPools"]) | set(pending))

    def workload_pool_exists(self, pool: str) -> bool:
        if pool in self.state["workloadPools"]:
            return True
        at = self.state.get("workloadPoolsAt", {}).get(pool)
        return at is not None and self.clock() >= at

    def member_error(self, member: str) -> str | None:
        """Google's 400 message for a Workload Identity member whose pool does not exist."""
        match = WORKLOAD_MEMBER.match(member)
        if match is None or self.workload_pool_exists(match.group(1)):
            return None
        return (f"Identity Pool does not exist ({match.group(1)}). Please check that you "
                "specified a valid resource name as returned in the `name` attribute in the "
                "configuration API.")


def service_disabled(*, project: str, api: str, title: str) -> HttpError:
    """The 403 a call to a disabled API gets, in Google's shape (google-gemini/gemini-cli#1343
    shows the ErrorInfo details; GoogleCloudPlatform/community#884 the accessNotConfigured reason)."""
    url = f"https://console.developers.google.com/apis/api/{api}/overview?project={project}"
    message = (f"{title} has not been used in project {project} before or it is disabled. "
               f"Enable it by visiting {url} then retry. If you enabled this API recently, "
               "wait a few minutes for the action to propagate to our systems and retry.")
    details: list[dict[str, Any]] = [
        {"@type": _ERROR_INFO, "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
         "metadata": {"service": api, "consumer": f"projects/{project}",
                      "containerInfo": project, "serviceTitle": title, "activationUrl": url}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
         "message": message},
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Google developers console API activation", "url": url}]},
    ]
    return HttpError(403, message, reason="accessNotConfigured", status="PERMISSION_DENIED",
                     domain="usageLimits", details=details,
                     extended_help="https://console.developers.google.com")

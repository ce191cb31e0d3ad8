"""Kubernetes Engine operations: records, what a client sees of them over time, and GKE's
limit of one operation at a time per cluster.

An operation reads ``PENDING`` in the response that starts it, ``RUNNING`` until its duration
has passed, then ``DONE`` (``google.container.v1.Operation.Status``; GKE operations carry no
``done`` flag and are polled with ``operations.get``). Names look like Google's
(``operation-1643720649194-d10efeb9``), and ``selfLink``/``targetLink`` name the project by
number, as in the operation a Terraform debug log shows (GoogleCloudPlatform/magic-modules
PR #5671).

**One operation per cluster.** "GKE only allows one cluster-level operation at a time, or one
operation per node pool. GKE also runs its own automatic operations (such as control plane
upgrades), which count towards this limit"
(https://cloud.google.com/kubernetes-engine/docs/troubleshooting/concurrent-operations).
Creating or deleting a node pool conflicts with any other operation of the cluster (users hit
"Operation ... is currently creating a node pool for cluster C" creating a second pool:
prometheus/test-infra PR #84; hashicorp/terraform-provider-google#10366, #3650); updates of
different node pools may overlap; ``SET_NODE_POOL_MANAGEMENT`` and ``AUTO_REPAIR_NODES`` "may
be concurrent with most other operations" (container v1 discovery, ``Operation.operationType``).
A conflict is Google's 400 FAILED_PRECONDITION (reason ``failedPrecondition``): "Operation
operation-... is currently upgrading cluster C. Please wait and try again once it is done."
"""

from __future__ import annotations

import copy
import time
from typing import Any

from mlops_infra.emulator import operations as clock
from mlops_infra.emulator.core import HttpError

API_ROOT = "https://container.googleapis.com/v1/"
# Operation types that may run alongside anything (container v1 discovery, operationType).
CONCURRENT = frozenset({"SET_NODE_POOL_MANAGEMENT", "AUTO_REPAIR_NODES"})
# Updates of one node pool: they overlap with updates of other pools, not of the same one.
POOL_UPDATES = frozenset({"UPGRADE_NODES", "SET_NODE_POOL_SIZE"})
_VERBS = {"CREATE_CLUSTER": "creating cluster", "DELETE_CLUSTER": "deleting cluster",
          "UPDATE_CLUSTER": "updating cluster", "UPGRADE_MASTER": "upgrading cluster",
          "UPGRADE_NODES": "upgrading cluster", "REPAIR_CLUSTER": "repairing cluster",
          "CREATE_NODE_POOL": "creating a node pool for cluster",
          "DELETE_NODE_POOL": "deleting a node pool for cluster",
          "SET_NODE_POOL_SIZE": "resizing a node pool for cluster",
          "SET_LABELS": "updating cluster", "SET_MAINTENANCE_POLICY": "updating cluster",
          "RESIZE_CLUSTER": "resizing cluster"}


def timestamp(epoch: float | None = None) -> str:
    """GKE's RFC 3339 timestamps (nanoseconds, ``Z``)."""
    moment = time.gmtime(epoch if epoch is not None else time.time())
    fraction = int(((epoch if epoch is not None else time.time()) % 1) * 1e9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{fraction:09d}Z"


def start(store: dict[str, Any], *, number: str, location: str, cluster: str,
          node_pool: str | None, operation_type: str, duration: float, sequence: int,
          effect: str | None = None, detail: str | None = None) -> dict[str, Any]:
    """Record a new operation in ``store`` (short name -> record); return its first view."""
    name = f"operation-{int(time.time() * 1000)}-{sequence:08x}"
    target = f"{API_ROOT}projects/{number}/locations/{location}/clusters/{cluster}"
    if node_pool:
        target += f"/nodePools/{node_pool}"
    op: dict[str, Any] = {
        "name": name, "zone": location, "location": location, "operationType": operation_type,
        "selfLink": f"{API_ROOT}projects/{number}/locations/{location}/operations/{name}",
        "targetLink": target, "startTime": timestamp()}
    if detail:
        op["detail"] = detail
    store[name] = {"operation": op, "doneAt": clock.done_at(duration), "cluster": cluster,
                   "nodePool": node_pool, "effect": effect, "settled": False}
    return view(store[name], first=True)


def running(record: dict[str, Any]) -> bool:
    return not clock.is_done(record["doneAt"])


def view(record: dict[str, Any], *, first: bool = False) -> dict[str, Any]:
    """The operation as a client sees it now."""
    op = copy.deepcopy(record["operation"])
    if running(record):
        op["status"] = "PENDING" if first else "RUNNING"
        return op
    op["status"] = "DONE"
    op["endTime"] = timestamp(record["doneAt"])
    if "error" in record:
        op["error"] = record["error"]
        op["statusMessage"] = record["error"]["message"]
    return op


def conflicting(store: dict[str, Any], *, cluster: str, node_pool: str | None,
                operation_type: str) -> dict[str, Any] | None:
    """A running operation of ``cluster`` that a new ``operation_type`` may not overlap."""
    if operation_type in CONCURRENT:
        return None
    for record in sorted(store.values(), key=lambda r: r["doneAt"]):
        if record["cluster"] != cluster or not running(record):
            continue
        kind = record["operation"]["operationType"]
        if kind in CONCURRENT:
            continue
        if kind in POOL_UPDATES and operation_type in POOL_UPDATES \
                and record["nodePool"] != node_pool:
            continue
        return record
    return None


def conflict_error(record: dict[str, Any]) -> HttpError:
    op = record["operation"]
    verb = _VERBS.get(op["operationType"], "updating cluster")
    return HttpError(400, f"Operation {op['name']} is currently {verb} {record['cluster']}. "
                          "Please wait and try again once it is done.",
                     status="FAILED_PRECONDITION", reason="failedPrecondition")

"""Compute Engine ``Operation`` records: every mutation answers one, which reads ``DONE`` once
its duration (the emulator's ``Delays.operation_for("compute")``) has passed.

The change itself is applied when the request is served; an operation may also carry an
error (a reference that does not exist), in which case nothing was changed.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from mlops_infra.emulator import operations as clock
from mlops_infra.emulator.compute.common import (
    global_url,
    region_url,
    regional_url,
    timestamp,
    zonal_url,
    zone_url,
)
from mlops_infra.emulator.core import HttpError

_ERROR_CODES = {400: "INVALID_ARGUMENT", 404: "RESOURCE_NOT_FOUND", 409: "ALREADY_EXISTS"}


def start(store: dict[str, Any], *, project: str, region: str | None, number: int,
          operation_type: str, target_link: str, target_id: str | None,
          duration: float, error: HttpError | None = None,
          zone: str | None = None) -> dict[str, Any]:
    """Record a new operation in ``store`` (name -> record) and return its REST view
    (zonal when ``zone`` is given, else regional or global)."""
    name = f"operation-{int(time.time() * 1000)}-{number:012x}"
    op: dict[str, Any] = {
        "kind": "compute#operation", "id": str(7_000_000_000_000 + number), "name": name,
        "operationType": operation_type, "targetLink": target_link,
        "user": "emulator@mlops-infra.local", "progress": 0, "insertTime": timestamp(),
        "startTime": timestamp(),
        "selfLink": (zonal_url(project, zone, "operations", name) if zone
                     else regional_url(project, region, "operations", name) if region
                     else global_url(project, "operations", name)),
    }
    if zone:
        op["zone"] = zone_url(project, zone)
    if target_id:
        op["targetId"] = target_id
    if region:
        op["region"] = region_url(project, region)
    if error is not None:
        op["error"] = {"errors": [{"code": _ERROR_CODES.get(error.code, "INVALID_ARGUMENT"),
                                   "message": error.message}]}
        op["httpErrorStatusCode"] = error.code
        op["httpErrorMessage"] = error.status.replace("_", " ")
    store[name] = {"operation": op, "doneAt": clock.done_at(duration)}
    return view(store[name], first=True)


def done_time(record: dict[str, Any]) -> float:
    return float(record["doneAt"])


def view(record: dict[str, Any], *, first: bool = False) -> dict[str, Any]:
    """The operation as a client sees it now: PENDING/RUNNING until its time, then DONE."""
    op = copy.deepcopy(record["operation"])
    if clock.is_done(record["doneAt"]):
        op.update(status="DONE", progress=100, endTime=op.get("endTime") or timestamp())
        record["operation"]["endTime"] = op["endTime"]
    else:
        op["status"] = "PENDING" if first else "RUNNING"
        op.pop("error", None)
        op.pop("httpErrorStatusCode", None)
        op.pop("httpErrorMessage", None)
    return op

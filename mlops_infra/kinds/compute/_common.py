"""What the compute kinds share: canonical resource URLs, proto <-> REST dict conversion, and
waiting on Compute ``Operation``s (with their errors raised as ``engine.errors``).

Compute's own ``ExtendedOperation.result()`` polls with a client that ignores
``api_endpoint``, so operations are waited on here with ``GlobalOperationsClient`` /
``RegionOperationsClient`` / ``ZoneOperationsClient`` built with the same options, using the
API's blocking ``operations.wait`` (DONE, or the state after about 2 minutes: then wait again);
each wait reports the operation's status to the progress display.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Kind, ResourceContext, ResourceId
from mlops_infra.engine.waiting import report_progress, wait_until_done
from mlops_infra.kinds._base import CALL, translate_errors
from mlops_infra.kinds._clients import (
    COMPUTE_GLOBAL_OPERATIONS,
    COMPUTE_REGION_OPERATIONS,
    COMPUTE_ZONE_OPERATIONS,
)
from mlops_infra.kinds._names import NETWORK_URL, rfc1035_problem

API = "compute.googleapis.com"
API_ROOT = "https://www.googleapis.com/compute/v1/"
OPERATION_DEADLINE = 300.0
WAIT_TIMEOUT = 150.0        # operations.wait answers within about 2 minutes
_POLL_INTERVAL = 0.25
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_CODES = frozenset({"RESOURCE_NOT_READY", "RESOURCE_OPERATION_RATE_EXCEEDED",
                              "INTERNAL_ERROR", "RATE_LIMIT_EXCEEDED"})


# --- names and URLs ---------------------------------------------------------------------

def global_id(kind: str, project: str, collection: str, name: str) -> ResourceId:
    """Identity of a global resource: ``projects/P/global/COLLECTION/NAME``."""
    scope = f"projects/{project}/global/{collection}"
    return ResourceId(kind=kind, name=f"{scope}/{name}", scope=scope,
                      parts={"project": project, "name": name})


def regional_id(kind: str, project: str, region: str, collection: str, name: str) -> ResourceId:
    """Identity of a regional resource: ``projects/P/regions/R/COLLECTION/NAME``."""
    scope = f"projects/{project}/regions/{region}/{collection}"
    return ResourceId(kind=kind, name=f"{scope}/{name}", scope=scope,
                      parts={"project": project, "region": region, "name": name})


# A zone: its region and a letter (https://cloud.google.com/compute/docs/regions-zones).
ZONE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")


def zonal_id(kind: str, project: str, zone: str, collection: str, name: str) -> ResourceId:
    """Identity of a zonal resource: ``projects/P/zones/Z/COLLECTION/NAME``."""
    scope = f"projects/{project}/zones/{zone}/{collection}"
    return ResourceId(kind=kind, name=f"{scope}/{name}", scope=scope,
                      parts={"project": project, "zone": zone, "name": name})


def id_from_full_name(kind: str, name: str) -> ResourceId:
    """Rebuild a global, regional or zonal identity from its full name."""
    segments = name.split("/")
    if segments[2] == "global":
        return global_id(kind, segments[1], segments[3], segments[4])
    if segments[2] == "zones":
        return zonal_id(kind, segments[1], segments[3], segments[4], segments[5])
    return regional_id(kind, segments[1], segments[3], segments[4], segments[5])


def self_link(rid: ResourceId) -> str:
    return API_ROOT + rid.name


def network_url(value: Any, *, project: str) -> Any:
    """A network given as a name, a partial or a full URL, as Compute's canonical selfLink.

    Unresolved references (``${net.selfLink}``) are left alone until they resolve.
    """
    if not isinstance(value, str) or "${" in value:
        return value
    if "/" not in value:
        return f"{API_ROOT}projects/{project}/global/networks/{value}"
    match = NETWORK_URL.fullmatch(value)
    if not match:
        raise errors.UserError(f"network {value!r}: use a network name, "
                               "'projects/P/global/networks/N' or its selfLink")
    return f"{API_ROOT}projects/{match.group(1) or project}/global/networks/{match.group(2)}"


# --- protos ---------------------------------------------------------------------------------

def to_dict(message: Any) -> dict[str, Any]:
    """A compute_v1 proto-plus message as its REST JSON dict (camelCase, unset fields absent)."""
    from google.protobuf import json_format

    return json_format.MessageToDict(type(message).pb(message))


def to_message(cls: Any, body: dict[str, Any]) -> Any:
    """A compute_v1 message class built from a REST JSON dict."""
    return cls.from_json(json.dumps(body))


# --- operations -------------------------------------------------------------------------------

def wait_for(clients: Any, operation: Any, *, project: str, region: str | None = None,
             what: str, zone: str | None = None,
             deadline: float = OPERATION_DEADLINE) -> dict[str, Any]:
    """Wait until ``operation`` is ``DONE``; raise its error as an ``engine.errors`` class."""
    op = to_dict(operation)
    if op.get("status") != "DONE":
        report_progress(f"{op.get('operationType', 'operation')} {op.get('status', 'PENDING')}")
        op = wait_until_done(lambda: _poll(clients, op["name"], project=project, region=region,
                                           zone=zone, what=what),
                             what=f"{what}: operation {op['name']}", deadline=deadline,
                             interval=_POLL_INTERVAL)
    failure = operation_error(op, what=what)
    if failure is not None:
        raise failure
    return op


def _poll(clients: Any, name: str, *, project: str, region: str | None,
          what: str, zone: str | None = None) -> dict[str, Any] | None:
    """One ``operations.wait``: the server blocks until DONE or about 2 minutes (compute v1
    discovery, ``globalOperations.wait``), so the client's timeout is a little longer."""
    call = {"retry": None, "timeout": WAIT_TIMEOUT}
    try:
        with translate_errors(f"{what}: operation {name}"):
            if zone:
                found = clients.get(COMPUTE_ZONE_OPERATIONS).wait(
                    project=project, zone=zone, operation=name, **call)
            elif region:
                found = clients.get(COMPUTE_REGION_OPERATIONS).wait(
                    project=project, region=region, operation=name, **call)
            else:
                found = clients.get(COMPUTE_GLOBAL_OPERATIONS).wait(
                    project=project, operation=name, **call)
    except errors.TransientError:
        return None            # a blip while polling: poll again until the deadline
    op = to_dict(found)
    report_progress(f"{op.get('operationType', 'operation')} {op.get('status')}")
    return op if op.get("status") == "DONE" else None


def operation_error(op: dict[str, Any], *, what: str) -> errors.ApiError | None:
    """The error a finished operation carries, classified like an HTTP error, or ``None``."""
    items = (op.get("error") or {}).get("errors") or []
    if not items:
        return None
    status = op.get("httpErrorStatusCode")
    codes = {item.get("code") for item in items}
    message = "; ".join(str(item.get("message", item.get("code"))) for item in items)
    text = f"{status or ''} {what}: operation {op.get('operationType', '')} failed: {message}"
    return _error_class(status, codes)(text.strip(), status=status)


def _error_class(status: int | None, codes: set[Any]) -> type[errors.ApiError]:
    if status == 409:
        return errors.Conflict
    if status == 412:
        return errors.PreconditionFailed
    if status in _TRANSIENT or codes & _TRANSIENT_CODES:
        return errors.TransientError
    # A 404 here names a missing reference (the network of a subnetwork), not this resource.
    return errors.PermanentError


def call(clients: Any, fn: Any, *, project: str, region: str | None = None, what: str,
         zone: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Start a mutation (``fn`` is a client's ``*_unary`` method) and wait for its operation
    (``deadline=`` seconds, default ``OPERATION_DEADLINE``; the other keywords go to ``fn``)."""
    deadline = float(kwargs.pop("deadline", OPERATION_DEADLINE))
    where = {"zone": zone} if zone else ({"region": region} if region else {})
    with translate_errors(what):
        operation = fn(project=project, **where, **kwargs, **CALL)
    return wait_for(clients, operation, project=project, region=region, zone=zone, what=what,
                    deadline=deadline)


def get_or_none(fn: Any, *, what: str, **kwargs: Any) -> dict[str, Any] | None:
    """A ``get`` as a REST dict, ``None`` on 404."""
    from google.api_core.exceptions import NotFound

    with translate_errors(what):
        try:
            return to_dict(fn(**kwargs, **CALL))
        except NotFound:
            return None


def list_all(fn: Any, *, scope: str, what: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """Every item of a paged ``list`` in ``scope``, keyed by ``SCOPE/NAME`` (its identity).

    Keyed by name, never by cutting a host off ``selfLink``: an implementation that puts its
    own host in selfLinks (an independent fake) must not make every resource look new.
    """
    with translate_errors(what):
        return {f"{scope}/{item['name']}": item for item in (to_dict(m) for m in fn(**kwargs, **CALL))}


class ComputeKind(Kind):
    """What every Compute networking kind shares: no labels (ownership is the ledger's), the
    API, RFC 1035 names, ids rebuilt from full resource URLs, outputs, and a read after each
    operation."""

    labels_path: ClassVar[str | None] = None
    api: ClassVar[str | None] = API
    outputs: ClassVar[frozenset[str]] = frozenset({"name", "selfLink", "id"})

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return rfc1035_problem(ctx.name, self.name.split(".")[-1].lower())

    def id_from_name(self, name: str) -> ResourceId:
        return id_from_full_name(self.name, name)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": rid.parts["name"], "selfLink": self_link(rid)}
        if live and live.get("id"):
            out["id"] = live["id"]
        return out

    def describe(self, rid: ResourceId) -> str:
        """How errors name it, e.g. ``network ml-vpc``."""
        return f"{self.name.split('.')[-1].lower()} {rid.parts['name']}"

    def read_after_operation(self, rid: ResourceId) -> dict[str, Any]:
        live = self.get(rid)
        if live is None:
            raise errors.TransientError(f"{self.describe(rid)}: not readable after its operation")
        return live

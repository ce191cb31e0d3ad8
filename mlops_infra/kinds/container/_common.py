"""What the GKE kinds share: identities, proto <-> REST dict conversion, error classes, and
waiting on GKE operations - also on the ones already running on a cluster.

**Operations.** A container v1 mutation returns an ``Operation`` (``PENDING``/``RUNNING``/
``DONE``) that the client never polls by itself (clients.md c): it is polled here with
``get_operation`` on a schedule shaped by its age (``engine.waiting``), its status reported
to the progress display, up to the kind's deadline. A ``DONE`` operation with an ``error``
(or, as Terraform reads it, a ``statusMessage``) failed.

**One operation per cluster.** GKE refuses a second operation on a cluster with 400
FAILED_PRECONDITION "Operation operation-... is currently upgrading cluster C. Please wait and
try again once it is done." (its own auto-upgrades and repairs count) and answers 429 when
the cluster's concurrent-operation quota is hit (hashicorp/terraform-provider-google#3650,
#10366, #15205; GKE docs "Troubleshoot concurrent operations"). Before each mutation the
kinds wait for the operations running on the cluster (found with ``list_operations``, by
``targetLink``: Terraform waits for a "resting" state the same way, resource_container_cluster.go
``containerClusterAwaitRestingState``); a conflict that still happens is
``EventuallyConsistent`` (retried by the engine for up to its consistency budget, saying
which operation it waits for) and a 429 is transient. Our own changes to one cluster are
serialised by the engine (``Kind.serial_key``).

**An interrupted create.** A cluster or node pool created by a run that was stopped (Ctrl-C,
a crash) is still being created by GKE: its ``status`` is ``PROVISIONING``. The kinds put
``status: RUNNING`` in their desired state, so the next plan shows that difference (the
resource is adopted by its ownership labels) and applying it waits on the operation still
running - it never creates it a second time nor fails with 409.

Deadlines (generous, as Terraform's; an operation still running past them is a transient
failure the next run picks up): clusters 90 min, node pools 2 h
(terraform-provider-google ``resource_container_cluster.go``/``resource_container_node_pool.go``
``Timeouts``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlops_infra.engine import errors
from mlops_infra.engine.kind import ResourceId
from mlops_infra.engine.waiting import report_progress, wait_until_done
from mlops_infra.kinds._base import CALL, translate_errors
from mlops_infra.kinds._clients import CONTAINER

API = "container.googleapis.com"
API_ROOT = "https://container.googleapis.com/v1/"
COMPUTE_ROOT = "https://www.googleapis.com/compute/v1/"
CLUSTER_DEADLINE = 90 * 60.0
NODE_POOL_DEADLINE = 2 * 3600.0
_RUNNING = frozenset({"PENDING", "RUNNING"})
_BUSY = re.compile(r"Operation (operation-[\w-]+) is currently ([^.]+?) (\S+)\. Please wait|"
                   r"Cluster is (?:currently being|running incompatible operation)")
_LABELS_STALE = re.compile(r"fingerprint mismatch", re.IGNORECASE)
# GKE names: "must start with a lowercase letter followed by up to 39 lowercase letters,
# numbers, or hyphens, and can't end with a hyphen"
# (https://cloud.google.com/kubernetes-engine/docs/how-to/creating-a-zonal-cluster).
_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
NAME_RULE = ("1-40 lowercase letters, digits or '-', starting with a letter and not ending with "
             "'-' (GKE names)")
LOCATION = re.compile(r"^[a-z]+-[a-z]+[0-9]+(?:-[a-z])?$")


def name_problem(name: str, what: str) -> str | None:
    return None if _NAME.match(name) else f"{what} name {name!r}: {NAME_RULE}"


# --- identities ---------------------------------------------------------------------------

def cluster_id(kind: str, project: str, location: str, name: str) -> ResourceId:
    scope = f"projects/{project}/locations/{location}"
    return ResourceId(kind=kind, name=f"{scope}/clusters/{name}", scope=scope,
                      parts={"project": project, "location": location, "cluster": name})


def cluster_of(name: str) -> dict[str, str]:
    """``projects/P/locations/L/clusters/C[/...]`` -> its project, location and cluster."""
    segments = name.split("/")
    return {"project": segments[1], "location": segments[3], "cluster": segments[5]}


def cluster_name(parts: dict[str, str]) -> str:
    return f"projects/{parts['project']}/locations/{parts['location']}/clusters/{parts['cluster']}"


def self_link(parts: dict[str, str]) -> str:
    scope = "zones" if parts["location"].count("-") == 2 else "locations"
    return (f"{API_ROOT}projects/{parts['project']}/{scope}/{parts['location']}/clusters/"
            f"{parts['cluster']}")


# The node pool a cluster is created with and that is removed once it runs (a Standard cluster
# cannot be created without one: proto ``Cluster.node_pools``/``initial_node_count``).
BOOTSTRAP_POOL = "mlops-infra-bootstrap"


def in_regions(location: str, regions: tuple[str, ...]) -> bool:
    """Whether a cluster's location (a region or a zone) is one of ``regions`` (all if none)."""
    region = location if location.count("-") == 1 else location.rsplit("-", 1)[0]
    return not regions or region in regions


def live_clusters(clients: Any, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The project's clusters in ``regions``, keyed by id, from one ``ListClusters`` of
    ``projects/P/locations/-`` (proto ``ListClustersRequest.parent``: "-" matches all zones and
    regions)."""
    scope = f"projects/{project}/locations/-"
    with gke_errors(f"clusters in {scope}"):
        found = clients.get(CONTAINER).list_clusters(parent=scope, **CALL)
    clusters = (to_dict(c) for c in found.clusters)
    return {f"projects/{project}/locations/{c['location']}/clusters/{c['name']}": c
            for c in clusters if in_regions(str(c.get("location", "")), regions)}


# --- protos -------------------------------------------------------------------------------------

def to_dict(message: Any) -> dict[str, Any]:
    """A container_v1 message as REST JSON (camelCase, enum names), proto3 zero values shown.

    GKE's JSON leaves out ``false``, ``0`` and ``""`` (proto3), so a spec writing
    ``autoRepair: false`` or ``initialNodeCount: 0`` would differ forever from what it reads
    back - the empty-vs-unset perpetual diffs of terraform-google-kubernetes-engine#2014 and
    crossplane-contrib/provider-upjet-gcp#1019. Read through the proto, they are what they are.
    """
    from google.protobuf import json_format

    return json_format.MessageToDict(type(message).pb(message),
                                     always_print_fields_with_no_presence=True)


def to_message(cls: Any, body: dict[str, Any]) -> Any:
    return cls.from_json(json.dumps(body))


def canonical(message: str, live: dict[str, Any]) -> dict[str, Any]:
    """``live`` (GKE's JSON of a ``message``) with the zero values proto3 JSON leaves out
    filled in (see ``to_dict``); keys the message does not define are dropped."""
    from google.cloud import container_v1
    from google.protobuf import json_format

    pb = getattr(container_v1, message).pb()()
    json_format.ParseDict(live, pb, ignore_unknown_fields=True)
    return json_format.MessageToDict(pb, always_print_fields_with_no_presence=True)


# --- errors -------------------------------------------------------------------------------------

@contextmanager
def gke_errors(what: str) -> Iterator[None]:
    """``translate_errors`` plus GKE's own classes: an operation in progress is "not yet"
    (``EventuallyConsistent``), a stale label fingerprint is a 412 to re-read."""
    try:
        with translate_errors(what):
            yield
    except errors.PermanentError as exc:
        text = str(exc)
        busy = _BUSY.search(text)
        if exc.status == 400 and busy:
            operation = busy.group(1) or "another operation"
            raise errors.EventuallyConsistent(
                text, status=400, waiting_for=f"{operation} on the cluster to finish (GKE runs "
                "one operation at a time per cluster)") from exc
        if exc.status == 400 and _LABELS_STALE.search(text):
            raise errors.PreconditionFailed(text, status=400) from exc
        raise


def get_or_none(fn: Any, *, what: str, name: str) -> dict[str, Any] | None:
    from google.api_core.exceptions import NotFound

    with gke_errors(what):
        try:
            return to_dict(fn(name=name, **CALL))
        except NotFound:
            return None


# --- operations ---------------------------------------------------------------------------------

def wait_for(clients: Any, operation: Any, *, parts: dict[str, str], what: str,
             deadline: float) -> dict[str, Any]:
    """Wait until ``operation`` (a container_v1 ``Operation`` or its dict) is ``DONE``."""
    op = operation if isinstance(operation, dict) else to_dict(operation)
    name = f"projects/{parts['project']}/locations/{parts['location']}/operations/{op['name']}"
    _report(op)

    def poll() -> dict[str, Any] | None:
        try:
            with gke_errors(f"{what}: operation {op['name']}"):
                found = to_dict(clients.get(CONTAINER).get_operation(name=name, **CALL))
        except errors.TransientError:
            return None                 # a blip while polling: poll again until the deadline
        _report(found)
        return found if found.get("status") == "DONE" else None

    done = op if op.get("status") == "DONE" else wait_until_done(
        poll, what=f"{what}: operation {op['name']}", deadline=deadline, interval=0.05,
        max_interval=30.0)
    failure = operation_error(done, what=what)
    if failure is not None:
        raise failure
    return done


def _report(op: dict[str, Any]) -> None:
    report_progress(f"{op.get('operationType', 'operation')} {op.get('status', 'PENDING')} "
                    f"({op['name']})")


def operation_error(op: dict[str, Any], *, what: str) -> errors.ApiError | None:
    error = op.get("error") or {}
    message = error.get("message") or op.get("statusMessage")
    if not message:
        return None
    text = f"{what}: operation {op['name']} ({op.get('operationType')}) failed: {message}"
    transient = error.get("code") in (4, 8, 10, 13, 14)   # DEADLINE, EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE
    return (errors.TransientError if transient else errors.PermanentError)(text)


def running_on(clients: Any, parts: dict[str, str], *, what: str,
               node_pool: str | None = None) -> list[dict[str, Any]]:
    """Operations still running on the cluster (or on one of its node pools), oldest first.

    Found by ``targetLink``, which names the project by number: matched from ``/locations/``
    (or ``/zones/``) on, never by the project part."""
    parent = f"projects/{parts['project']}/locations/{parts['location']}"
    with gke_errors(f"operations of {what}"):
        listed = clients.get(CONTAINER).list_operations(parent=parent, **CALL)
    target = f"/{parts['location']}/clusters/{parts['cluster']}"
    found = []
    for op in (to_dict(o) for o in listed.operations):
        link = op.get("targetLink", "")
        on_cluster = link.endswith(target) or f"{target}/" in link
        if op.get("status") in _RUNNING and on_cluster and (
                node_pool is None or link.endswith(f"{target}/nodePools/{node_pool}")):
            found.append(op)
    return sorted(found, key=lambda o: o.get("startTime", ""))


def await_idle(clients: Any, parts: dict[str, str], *, what: str, deadline: float,
               node_pool: str | None = None) -> None:
    """Wait for every operation running on the cluster (GKE's own included) to finish."""
    for _ in range(20):                    # GKE may start another while we wait: look again
        busy = running_on(clients, parts, what=what, node_pool=node_pool)
        if not busy:
            return
        for op in busy:
            try:
                wait_for(clients, op, parts=parts, what=what, deadline=deadline)
            except errors.PermanentError:
                pass                   # someone else's failed operation: not ours to report


def call(clients: Any, method: str, message: str, body: dict[str, Any], *,
         parts: dict[str, str], what: str, deadline: float) -> dict[str, Any]:
    """Start a mutation once the cluster is idle and wait for its operation: ``method`` of the
    client with the request ``message`` (``UpdateClusterRequest`` ...) built from ``body``, its
    REST JSON (camelCase, as the API documents it)."""
    from google.cloud import container_v1

    await_idle(clients, parts, what=what, deadline=deadline)
    request = to_message(getattr(container_v1, message), body)
    with gke_errors(what):
        operation = getattr(clients.get(CONTAINER), method)(request=request, **CALL)
    return wait_for(clients, operation, parts=parts, what=what, deadline=deadline)


def resting(status: Any) -> Any:
    """A status as the desired state compares it: an operation of GKE's own (an upgrade, a
    repair) does not make the resource differ; provisioning, stopping or an error does
    (container v1 discovery ``Cluster.status``/``NodePool.status``)."""
    if status in ("RECONCILING", "DEGRADED", "RUNNING_WITH_ERROR"):
        return "RUNNING"
    return status

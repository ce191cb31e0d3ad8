"""Kubernetes Engine clusters: the stored resource as the server completes it, checks Google
makes at creation, and the one-field updates of ``UpdateCluster``.

Server-set defaults and their sources (googleapis ``google/container/v1/cluster_service.proto``
at f8291d2, unless named otherwise):

| field | default | source |
|---|---|---|
| ``releaseChannel.channel`` | ``REGULAR`` | proto ``Cluster.release_channel``: "if no release channel configuration and no version is specified, the cluster is enrolled in the REGULAR channel" |
| ``shieldedNodes.enabled`` | ``true`` | gcloud: "Starting with version 1.18, clusters will have shielded GKE nodes by default" (quoted in gitpod-io/gitpod-gke-guide#21) |
| ``loggingConfig`` / ``loggingService`` | system and workload logs, ``logging.googleapis.com/kubernetes`` | https://cloud.google.com/kubernetes-engine/docs/concepts/about-logs ("By default, GKE collects system and workload logs") |
| ``monitoringConfig`` / ``monitoringService`` | system metrics, Managed Service for Prometheus on, ``monitoring.googleapis.com/kubernetes`` | https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed ("enabled by default" on new clusters from GKE 1.27) |
| ``databaseEncryption`` | ``DECRYPTED``; ``currentState`` follows ``state`` | proto ``DatabaseEncryption.State`` / ``CurrentState`` |
| ``locations`` | a regional cluster's nodes in three zones of the region | https://cloud.google.com/kubernetes-engine/docs/concepts/regional-clusters |
| ``addonsConfig.gcePersistentDiskCsiDriverConfig.enabled`` | ``true`` | Terraform: "GcePersistentDiskCsiDriver cannot be disabled at cluster create" (terraform-provider-google resource_container_cluster.go) |
| ``network`` / ``subnetwork`` | names; ``networkConfig`` holds the relative paths | proto ``Cluster.network``/``network_config`` |
| ``labelFingerprint`` | 8 hex digits, new after each label change | proto ``SetLabelsRequest.label_fingerprint``; the digits as Google's 400 shows them (crossplane-contrib/provider-gcp#477) |

Checks (400 INVALID_ARGUMENT unless said): a cluster needs node pools or an initial node count
and not both (proto ``Cluster.initial_node_count``/``node_pools``); names are 1-40 lowercase
letters, digits and hyphens, starting with a letter and not ending with a hyphen
(https://cloud.google.com/kubernetes-engine/docs/how-to/creating-a-zonal-cluster); the
network must exist ("Network "N" does not exist.", gitpod-io/gitpod-gke-guide#21), the
subnetwork must belong to it ('Subnetwork "projects/..." is not valid for Network "N".',
hashicorp/terraform-provider-google#7895) and hold the named secondary ranges ('Pod secondary
range "pods" not found in network "...", subnetwork "s".', fabianlee/gcp-gke-clusters-ingress#2),
the pod and service ranges must differ (gruntwork-io/terraform-google-network PR #60) - all
checked against the emulated Compute service when it runs; private nodes need a VPC-native
cluster and the control plane range is a /28
(https://cloud.google.com/kubernetes-engine/docs/how-to/legacy/network-isolation).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
import re
from typing import Any

from mlops_infra.emulator.container.operations import API_ROOT, timestamp
from mlops_infra.emulator.core import HttpError

MASTER_VERSION = "1.33.5-gke.1080000"       # a REGULAR-channel version (any fixed one will do)
_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_ZONE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")
_LOGGING = {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]}}
_MONITORING = {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS"]},
               "managedPrometheusConfig": {"enabled": True}}
_CURRENT = {"ENCRYPTED": "CURRENT_STATE_ENCRYPTED", "DECRYPTED": "CURRENT_STATE_DECRYPTED"}
# UpdateCluster fields this emulator applies (each an aspect of its own: "Exactly one update
# can be applied to a cluster with each request", proto ``ClusterUpdate``).
UPDATABLE = {
    "desiredReleaseChannel": "releaseChannel",
    "desiredMasterAuthorizedNetworksConfig": "masterAuthorizedNetworksConfig",
    "desiredWorkloadIdentityConfig": "workloadIdentityConfig",
    "desiredShieldedNodes": "shieldedNodes",
    "desiredDatabaseEncryption": "databaseEncryption",
    "desiredLoggingConfig": "loggingConfig",
    "desiredMonitoringConfig": "monitoringConfig",
    "desiredVerticalPodAutoscaling": "verticalPodAutoscaling",
}


def invalid(message: str) -> HttpError:
    return HttpError(400, message, status="INVALID_ARGUMENT", reason="badRequest")


def check_name(name: Any, what: str = "Cluster") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid(f"Invalid value for field \"{what.lower()}.name\": \"{name}\". {what} "
                      "names must start with a lowercase letter followed by up to 39 lowercase "
                      "letters, numbers, or hyphens, and can't end with a hyphen.")
    return name


def check_location(location: str) -> str:
    if location != "-" and not (_REGION.match(location) or _ZONE.match(location)):
        raise invalid(f"Location \"{location}\" is not a valid region or zone.")
    return location


def zones_of(location: str) -> list[str]:
    return [location] if _ZONE.match(location) else [f"{location}-{z}" for z in "abc"]


def fingerprint(labels: dict[str, str] | None) -> str:
    return hashlib.sha256(json.dumps(labels or {}, sort_keys=True).encode()).hexdigest()[:8]


def self_link(project: str, location: str, name: str) -> str:
    scope = "zones" if _ZONE.match(location) else "locations"
    return f"{API_ROOT}projects/{project}/{scope}/{location}/clusters/{name}"


def new_cluster(body: dict[str, Any], *, project: str, location: str, number: int,
                network: dict[str, Any] | None) -> dict[str, Any]:
    """The stored cluster (without its node pools, kept apart) for a CreateCluster body."""
    name = check_name(body.get("name"))
    if bool(body.get("nodePools")) == bool(body.get("initialNodeCount")):
        raise invalid("Cluster.initial_node_count must be greater than zero."
                      if not body.get("nodePools") else
                      "Cannot specify both node_pools and initial_node_count/node_config.")
    cluster = copy.deepcopy(body)
    for key in ("nodePools", "initialNodeCount", "nodeConfig"):
        cluster.pop(key, None)
    cluster.update(
        selfLink=self_link(project, location, name), zone=location, location=location,
        locations=cluster.get("locations") or zones_of(location),
        id=hashlib.sha256(f"{project}/{location}/{name}/{number}".encode()).hexdigest(),
        createTime=timestamp(), initialClusterVersion=MASTER_VERSION,
        currentMasterVersion=MASTER_VERSION, currentNodeVersion=MASTER_VERSION,
        labelFingerprint=fingerprint(cluster.get("resourceLabels")))
    cluster.setdefault("releaseChannel", {"channel": "REGULAR"})
    cluster.setdefault("shieldedNodes", {"enabled": True})
    cluster.setdefault("loggingConfig", copy.deepcopy(_LOGGING))
    cluster.setdefault("monitoringConfig", copy.deepcopy(_MONITORING))
    cluster.setdefault("loggingService", "logging.googleapis.com/kubernetes")
    cluster.setdefault("monitoringService", "monitoring.googleapis.com/kubernetes")
    cluster.setdefault("addonsConfig", {"gcePersistentDiskCsiDriverConfig": {"enabled": True}})
    _network_fields(cluster, project=project, location=location, network=network)
    _private(cluster, number)
    _encryption(cluster)
    cluster["masterAuth"] = {"clusterCaCertificate": base64.b64encode(
        f"emulated CA of {name}".encode()).decode()}
    cluster["etag"] = fingerprint({"etag": cluster["id"], "n": "0"})
    return cluster


def _network_fields(cluster: dict[str, Any], *, project: str, location: str,
                    network: dict[str, Any] | None) -> None:
    """Names in ``network``/``subnetwork``, relative paths in ``networkConfig``; ranges checked
    against ``network`` (the Compute facts: ``{"network": .., "subnetwork": ..}``) when known."""
    region = location if not _ZONE.match(location) else location.rsplit("-", 1)[0]
    net = _last(cluster.get("network") or "default")
    sub = _last(cluster.get("subnetwork") or net)
    cluster["network"], cluster["subnetwork"] = net, sub
    cluster["networkConfig"] = {**cluster.get("networkConfig", {}),
                                "network": f"projects/{project}/global/networks/{net}",
                                "subnetwork": f"projects/{project}/regions/{region}/subnetworks/{sub}"}
    policy = cluster.get("ipAllocationPolicy")
    if network is not None:
        _check_network(cluster, network, policy or {})
    if policy and policy.get("useIpAliases"):
        _ranges(policy, (network or {}).get("subnetwork"))


def _last(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1]


def _check_network(cluster: dict[str, Any], facts: dict[str, Any], policy: dict[str, Any]) -> None:
    if facts.get("network") is None:
        raise invalid(f"Network \"{cluster['network']}\" does not exist.")
    sub = facts.get("subnetwork")
    if sub is None or not str(sub.get("network", "")).endswith(f"/networks/{cluster['network']}"):
        raise invalid(f"Subnetwork \"{cluster['networkConfig']['subnetwork']}\" is not valid for "
                      f"Network \"{cluster['network']}\".")
    pods, services = policy.get("clusterSecondaryRangeName"), policy.get("servicesSecondaryRangeName")
    if pods and pods == services:
        raise invalid(f"Pod secondary range name ({pods}) should not be the same as service "
                      "secondary range name.")
    names = {r.get("rangeName") for r in sub.get("secondaryIpRanges") or []}
    for label, wanted in (("Pod", pods), ("Service", services)):
        if wanted and wanted not in names:
            raise invalid(f"{label} secondary range \"{wanted}\" not found in network "
                          f"\"{facts['network']['selfLink']}\", subnetwork \"{cluster['subnetwork']}\".")


def _ranges(policy: dict[str, Any], sub: dict[str, Any] | None) -> None:
    """A VPC-native cluster reports the CIDR blocks of the secondary ranges it uses."""
    by_name = {r.get("rangeName"): r.get("ipCidrRange") for r in (sub or {}).get("secondaryIpRanges") or []}
    pods = by_name.get(policy.get("clusterSecondaryRangeName")) or "10.4.0.0/14"
    services = by_name.get(policy.get("servicesSecondaryRangeName")) or "10.8.0.0/20"
    policy.setdefault("clusterIpv4Cidr", pods)
    policy.setdefault("clusterIpv4CidrBlock", pods)
    policy.setdefault("servicesIpv4Cidr", services)
    policy.setdefault("servicesIpv4CidrBlock", services)
    policy.setdefault("stackType", "IPV4")


def _private(cluster: dict[str, Any], number: int) -> None:
    public = f"34.{number % 250}.{(number // 250) % 250}.{10 + number % 200}"
    config = cluster.get("privateClusterConfig")
    cluster["endpoint"] = public
    if not config or not config.get("enablePrivateNodes"):
        return
    if not (cluster.get("ipAllocationPolicy") or {}).get("useIpAliases"):
        raise invalid("Private clusters must be VPC-native: set ipAllocationPolicy.useIpAliases.")
    block = config.get("masterIpv4CidrBlock")
    try:
        master = ipaddress.IPv4Network(block)
    except (ValueError, TypeError):
        raise invalid(f"Invalid master_ipv4_cidr_block \"{block}\": a private cluster needs a "
                      "/28 range for its control plane.") from None
    if master.prefixlen != 28:
        raise invalid(f"master_ipv4_cidr_block \"{block}\" must be a /28.")
    private = str(master.network_address + 2)
    config.update(privateEndpoint=private, publicEndpoint=public,
                  peeringName=f"gke-n{cluster['id'][:16]}-{cluster['id'][16:20]}-peer")
    if config.get("enablePrivateEndpoint"):
        cluster["endpoint"] = private


def _encryption(cluster: dict[str, Any]) -> None:
    enc = cluster.setdefault("databaseEncryption", {"state": "DECRYPTED"})
    enc.setdefault("state", "ENCRYPTED" if enc.get("keyName") else "DECRYPTED")
    if enc["state"] == "ENCRYPTED" and not enc.get("keyName"):
        raise invalid("DatabaseEncryption.key_name is required when state is ENCRYPTED.")
    enc["currentState"] = _CURRENT.get(enc["state"], "CURRENT_STATE_UNSPECIFIED")


def apply_update(cluster: dict[str, Any], update: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The cluster after one ``ClusterUpdate`` aspect, and the aspect's name."""
    fields = [k for k in update if k.startswith("desired") or k in ("additionalPodRangesConfig",)]
    if len(fields) != 1:
        raise invalid("Exactly one update can be applied to a cluster with each request; "
                      f"got {len(fields)} ({', '.join(sorted(fields)) or 'none'}).")
    (field,) = fields
    out = copy.deepcopy(cluster)
    if field == "desiredEnablePrivateEndpoint":
        out.setdefault("privateClusterConfig", {})["enablePrivateEndpoint"] = bool(update[field])
        return out, field
    if field not in UPDATABLE:
        raise HttpError(501, f"ClusterUpdate.{field} is not implemented by this emulator.")
    target = UPDATABLE[field]
    out[target] = copy.deepcopy(update[field])
    if target == "databaseEncryption":
        _encryption(out)
    out["etag"] = fingerprint({"etag": out["etag"]})
    return out, field


def set_labels(cluster: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``setResourceLabels``: the fingerprint must be the current one (Google's 400 otherwise)."""
    given = body.get("labelFingerprint", "")
    if given != cluster["labelFingerprint"]:
        raise HttpError(400, "Labels could not be set due to fingerprint mismatch; try again with "
                             f"the proper fingerprint: incorrect fingerprint supplied was \"{given}\", "
                             f"the expected one is \"{cluster['labelFingerprint']}\".",
                        status="FAILED_PRECONDITION", reason="failedPrecondition")
    out = copy.deepcopy(cluster)
    labels = dict(body.get("resourceLabels") or {})
    if labels:
        out["resourceLabels"] = labels
    else:
        out.pop("resourceLabels", None)
    out["labelFingerprint"] = fingerprint(labels)
    return out


def set_maintenance_policy(cluster: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    """``setMaintenancePolicy``: a daily window gets its server-computed ``duration`` (4 h,
    https://cloud.google.com/kubernetes-engine/docs/concepts/maintenance-windows-and-exclusions),
    and the policy a new ``resourceVersion``."""
    out = copy.deepcopy(cluster)
    policy = copy.deepcopy(policy)
    daily = (policy.get("window") or {}).get("dailyMaintenanceWindow")
    if daily is not None:
        daily["duration"] = "PT4H0M0S"
    policy["resourceVersion"] = fingerprint({"p": json.dumps(policy.get("window"), sort_keys=True),
                                             "was": str((cluster.get("maintenancePolicy") or {})
                                                        .get("resourceVersion"))})
    out["maintenancePolicy"] = policy
    return out

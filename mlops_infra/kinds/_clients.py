"""The Google API clients the kinds call, declared once (``engine.kind.ClientDecl``).

Each builder imports its client library lazily, and gets the emulator's URL (``None`` for
Google's own endpoint). REST is used wherever the library has it; IAM admin has no REST
transport, so it is gRPC: TLS and ADC against Google, an insecure channel to the emulator.
Compute's own operation polling ignores ``api_endpoint``, so operations are waited on with
the operations clients declared here (same options).
"""

from __future__ import annotations

from typing import Any

from mlops_infra.clients import STORAGE, http_options, insecure_channel
from mlops_infra.engine.kind import ClientDecl

__all__ = ["BIGQUERY", "COMPUTE_DISKS", "COMPUTE_FIREWALLS", "COMPUTE_GLOBAL_OPERATIONS",
           "COMPUTE_GROUP_MANAGERS", "COMPUTE_IMAGES", "COMPUTE_INSTANCES", "COMPUTE_NETWORKS",
           "COMPUTE_REGION_OPERATIONS", "COMPUTE_ROUTERS", "COMPUTE_SUBNETWORKS",
           "COMPUTE_ZONE_OPERATIONS", "CONTAINER", "DASHBOARDS", "IAM", "KMS", "LOGGING_CONFIG",
           "LOGGING_METRICS", "MONITORING_ALERTS", "MONITORING_CHANNELS", "MONITORING_METRICS",
           "MONITORING_UPTIME", "RESOURCE_MANAGER", "SECRET_MANAGER", "SERVICE_USAGE", "STORAGE"]


def _bigquery(url: str | None, project: str | None) -> Any:
    from google.cloud import bigquery

    return bigquery.Client(project=project, **http_options(url))


def _iam(url: str | None, project: str | None) -> Any:
    from google.cloud import iam_admin_v1

    if url is None:
        return iam_admin_v1.IAMClient()
    from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport

    return iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=insecure_channel(url)))


def _service_usage(url: str | None, project: str | None) -> Any:
    from google.cloud import service_usage_v1

    return service_usage_v1.ServiceUsageClient(transport="rest", **http_options(url))


def _kms(url: str | None, project: str | None) -> Any:
    from google.cloud import kms_v1

    return kms_v1.KeyManagementServiceClient(transport="rest", **http_options(url))


def _resource_manager(url: str | None, project: str | None) -> Any:
    from google.cloud import resourcemanager_v3

    return resourcemanager_v3.ProjectsClient(transport="rest", **http_options(url))


def _compute(client: str) -> Any:
    def build(url: str | None, project: str | None) -> Any:
        from google.cloud import compute_v1

        return getattr(compute_v1, client)(transport="rest", **http_options(url))
    return build


BIGQUERY = ClientDecl(endpoint="bigquery", build=_bigquery, per_project=True)
IAM = ClientDecl(endpoint="iam", build=_iam)
SERVICE_USAGE = ClientDecl(endpoint="serviceusage", build=_service_usage)
KMS = ClientDecl(endpoint="kms", build=_kms)
RESOURCE_MANAGER = ClientDecl(endpoint="resourcemanager", build=_resource_manager)
COMPUTE_NETWORKS = ClientDecl(endpoint="compute", build=_compute("NetworksClient"))
COMPUTE_SUBNETWORKS = ClientDecl(endpoint="compute", build=_compute("SubnetworksClient"))
COMPUTE_FIREWALLS = ClientDecl(endpoint="compute", build=_compute("FirewallsClient"))
COMPUTE_GLOBAL_OPERATIONS = ClientDecl(endpoint="compute", build=_compute("GlobalOperationsClient"))
COMPUTE_REGION_OPERATIONS = ClientDecl(endpoint="compute", build=_compute("RegionOperationsClient"))


# --- compute layer (issue 9): GKE clusters and node pools, Compute instances, routers -----------
# container_v1 has a REST transport (measured, ../shared/research/clients.md a); its operations
# are polled with the same client's get_operation. Compute instances' operations are zonal.

def _container(url: str | None, project: str | None) -> Any:
    from google.cloud import container_v1

    return container_v1.ClusterManagerClient(transport="rest", **http_options(url))


CONTAINER = ClientDecl(endpoint="container", build=_container)
COMPUTE_INSTANCES = ClientDecl(endpoint="compute", build=_compute("InstancesClient"))
COMPUTE_DISKS = ClientDecl(endpoint="compute", build=_compute("DisksClient"))
COMPUTE_IMAGES = ClientDecl(endpoint="compute", build=_compute("ImagesClient"))
COMPUTE_ROUTERS = ClientDecl(endpoint="compute", build=_compute("RoutersClient"))
COMPUTE_ZONE_OPERATIONS = ClientDecl(endpoint="compute", build=_compute("ZoneOperationsClient"))
COMPUTE_GROUP_MANAGERS = ClientDecl(endpoint="compute",
                                    build=_compute("InstanceGroupManagersClient"))
# --- operations layer: Monitoring, Logging, Secret Manager (issue 11) ------------------------
# monitoring_v3 and the logging_v2 GAPIC clients have no REST transport (research/clients.md
# a.): gRPC with TLS and ADC to Google, an insecure channel to the emulator. Dashboards and
# Secret Manager have REST. The hand-written google.cloud.logging client speaks HTTP only for
# sinks, metrics and entries, and its Sink and Metric objects carry only name, filter,
# destination and description (no exclusions, descriptors, extractors or bucket options), so
# the kinds use the full GAPIC ConfigServiceV2 / MetricsServiceV2 messages over gRPC.

def _grpc(module: str, client: str, transport: str) -> Any:
    """A builder of ``module.services.<client>``'s client: TLS to Google, insecure to ``url``."""
    def build(url: str | None, project: str | None) -> Any:
        import importlib

        service = importlib.import_module(f"{module}.services.{_snake(client)}")
        if url is None:
            return getattr(service, client)()
        grpc_transport = getattr(service.transports, transport)
        return getattr(service, client)(transport=grpc_transport(channel=insecure_channel(url)))
    return build


def _snake(client: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", client.removesuffix("Client")).lower()


def _dashboards(url: str | None, project: str | None) -> Any:
    from google.cloud import monitoring_dashboard_v1

    return monitoring_dashboard_v1.DashboardsServiceClient(transport="rest", **http_options(url))


def _secret_manager(url: str | None, project: str | None) -> Any:
    from google.cloud import secretmanager_v1

    return secretmanager_v1.SecretManagerServiceClient(transport="rest", **http_options(url))


MONITORING_CHANNELS = ClientDecl(endpoint="monitoring", build=_grpc(
    "google.cloud.monitoring_v3", "NotificationChannelServiceClient",
    "NotificationChannelServiceGrpcTransport"))
MONITORING_ALERTS = ClientDecl(endpoint="monitoring", build=_grpc(
    "google.cloud.monitoring_v3", "AlertPolicyServiceClient", "AlertPolicyServiceGrpcTransport"))
MONITORING_UPTIME = ClientDecl(endpoint="monitoring", build=_grpc(
    "google.cloud.monitoring_v3", "UptimeCheckServiceClient", "UptimeCheckServiceGrpcTransport"))
MONITORING_METRICS = ClientDecl(endpoint="monitoring", build=_grpc(
    "google.cloud.monitoring_v3", "MetricServiceClient", "MetricServiceGrpcTransport"))
DASHBOARDS = ClientDecl(endpoint="dashboards", build=_dashboards)
LOGGING_CONFIG = ClientDecl(endpoint="logging", build=_grpc(
    "google.cloud.logging_v2", "ConfigServiceV2Client", "ConfigServiceV2GrpcTransport"))
LOGGING_METRICS = ClientDecl(endpoint="logging", build=_grpc(
    "google.cloud.logging_v2", "MetricsServiceV2Client", "MetricsServiceV2GrpcTransport"))
SECRET_MANAGER = ClientDecl(endpoint="secretmanager", build=_secret_manager)
# --- ML platform: Vertex AI (aiplatform_v1, REST) and Workbench (notebooks_v2, REST) ----------
# Vertex AI is regional: every region has its own host (``REGION-aiplatform.googleapis.com``)
# and a client answers only for its region (400 "The provided location ID doesn't match the
# endpoint", python-aiplatform#1684). ``aiplatform(service, region)`` gives one declaration
# per (client class, region), made once, so ``Clients`` caches one client per region with no
# change to it. The emulator serves every region on one port under ``/REGION-aiplatform``
# (emulator/aiplatform/service.py). ``AIPLATFORM`` names the endpoint in ``uses``.

def _aiplatform(service: str, region: str) -> Any:
    def build(url: str | None, project: str | None) -> Any:
        from google.cloud import aiplatform_v1

        host = f"{url}/{region}-aiplatform" if url else f"{region}-aiplatform.googleapis.com"
        options = http_options(url)
        options["client_options"] = {"api_endpoint": host}
        return getattr(aiplatform_v1, service)(transport="rest", **options)
    return build


_REGIONAL: dict[tuple[str, str], ClientDecl] = {}


def aiplatform(service: str, region: str) -> ClientDecl:
    """The ``aiplatform_v1`` client ``service`` (e.g. ``"EndpointServiceClient"``) for ``region``
    (one declaration per pair: ``Clients`` caches clients by declaration)."""
    key = (service, region)
    if key not in _REGIONAL:
        _REGIONAL.setdefault(key, ClientDecl(endpoint="aiplatform", build=_aiplatform(service, region)))
    return _REGIONAL[key]


def _unregioned(url: str | None, project: str | None) -> Any:
    raise TypeError("Vertex AI clients are regional: use aiplatform(service, region)")


def _notebooks(url: str | None, project: str | None) -> Any:
    from google.cloud import notebooks_v2

    return notebooks_v2.NotebookServiceClient(transport="rest", **http_options(url))


AIPLATFORM = ClientDecl(endpoint="aiplatform", build=_unregioned)
NOTEBOOKS = ClientDecl(endpoint="notebooks", build=_notebooks)

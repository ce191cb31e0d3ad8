"""``MonitoringService``: Cloud Monitoring v3's configuration API, as the monitoring_v3 client
calls it over gRPC (it has no REST transport: research/clients.md a.).

Four gRPC services on one server: ``AlertPolicyService``, ``NotificationChannelService``,
``UptimeCheckService`` and the descriptor methods of ``MetricService``; their method tables
(request and response classes) are read from the installed google-cloud-monitoring
(``grpc_core.client_methods``). The behaviours and their sources are in ``channels.py``,
``policies.py``, ``uptime.py`` and ``filters.py``. Every create, update and delete of a
project's configuration holds the project for ``Delays.monitoring_edit`` seconds; another
edit meanwhile gets Google's 409 ABORTED "Too many concurrent edits to the project
configuration" (``common.EditGate``).

State (JSON): ``channels``, ``policies``, ``uptime``, ``descriptors`` (name -> REST JSON;
sensitive channel labels only as fingerprints), ``editing`` (project -> until), ``counter``.
The API is ``monitoring.googleapis.com``, on by default in a new project.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.emulator.grpc_core import GrpcService, Rpc, client_methods, table_rpcs
from mlops_infra.emulator.monitoring.channels import Channels
from mlops_infra.emulator.monitoring.common import EditGate, project_of
from mlops_infra.emulator.monitoring.policies import Policies
from mlops_infra.emulator.monitoring.uptime import MetricDescriptors, UptimeChecks

_STANDALONE_EDIT_SECONDS = 0.0


def transports() -> list[type]:
    """The gRPC transports of the monitoring_v3 clients the kinds use."""
    from google.cloud.monitoring_v3.services.alert_policy_service.transports import (
        AlertPolicyServiceGrpcTransport,
    )
    from google.cloud.monitoring_v3.services.metric_service.transports import (
        MetricServiceGrpcTransport,
    )
    from google.cloud.monitoring_v3.services.notification_channel_service.transports import (
        NotificationChannelServiceGrpcTransport,
    )
    from google.cloud.monitoring_v3.services.uptime_check_service.transports import (
        UptimeCheckServiceGrpcTransport,
    )

    return [AlertPolicyServiceGrpcTransport, NotificationChannelServiceGrpcTransport,
            UptimeCheckServiceGrpcTransport, MetricServiceGrpcTransport]


class MonitoringService(GrpcService):
    """Alert policies, notification channels, uptime checks and metric descriptors."""

    name = "monitoring"
    full_name = "google.monitoring.v3.AlertPolicyService"
    api = "monitoring.googleapis.com"
    api_title = "Cloud Monitoring API"

    def __init__(self) -> None:
        super().__init__()
        self.edits = EditGate(lambda: self.state, self._edit_seconds)
        self.channels, self.policies = Channels(self), Policies(self)
        self.uptime, self.descriptors = UptimeChecks(self), MetricDescriptors(self)

    def initial_state(self) -> dict[str, Any]:
        return {"channels": {}, "policies": {}, "uptime": {}, "descriptors": {}, "editing": {}}

    def _edit_seconds(self) -> float:
        if self.emulator is not None:
            return float(self.emulator.delays.monitoring_edit)
        return _STANDALONE_EDIT_SECONDS

    def project_of_rpc(self, rpc: str, request: Any) -> str | None:
        for attr in ("name", "parent"):
            value = str(getattr(request, attr, "") or "")
            if value.startswith("projects/"):
                return project_of(value)
        for attr in ("alert_policy", "notification_channel", "uptime_check_config"):
            value = str(getattr(getattr(request, attr, None), "name", "") or "")
            if value.startswith("projects/"):
                return project_of(value)
        return None

    def rpcs(self) -> list[Rpc]:
        c, p, u, d = self.channels, self.policies, self.uptime, self.descriptors
        return table_rpcs([client_methods(t) for t in transports()], {
            "CreateNotificationChannel": c.create, "GetNotificationChannel": c.get,
            "ListNotificationChannels": c.list, "UpdateNotificationChannel": c.update,
            "DeleteNotificationChannel": c.delete,
            "CreateAlertPolicy": p.create, "GetAlertPolicy": p.get,
            "ListAlertPolicies": p.list, "UpdateAlertPolicy": p.update,
            "DeleteAlertPolicy": p.delete,
            "CreateUptimeCheckConfig": u.create, "GetUptimeCheckConfig": u.get,
            "ListUptimeCheckConfigs": u.list, "UpdateUptimeCheckConfig": u.update,
            "DeleteUptimeCheckConfig": u.delete,
            "CreateMetricDescriptor": d.create, "GetMetricDescriptor": d.get,
            "ListMetricDescriptors": d.list, "DeleteMetricDescriptor": d.delete,
        })

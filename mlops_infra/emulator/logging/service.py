"""``LoggingService``: Cloud Logging v2's configuration, as the logging_v2 GAPIC clients call
it over gRPC (they have no REST transport: research/clients.md a.).

Two gRPC services on one server: ``google.logging.v2.ConfigServiceV2`` (sinks, log buckets,
exclusions) and ``google.logging.v2.MetricsServiceV2`` (log-based metrics); their method
tables are read from the installed google-cloud-logging (``grpc_core.client_methods``).
Behaviours and sources: ``sinks.py``, ``buckets.py``, ``metrics.py``.

State (JSON): ``sinks``, ``buckets``, ``exclusions``, ``metrics`` (name -> REST JSON).
The API is ``logging.googleapis.com``, on by default in a new project.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.emulator.grpc_core import GrpcService, Rpc, client_methods, table_rpcs
from mlops_infra.emulator.logging.buckets import Buckets
from mlops_infra.emulator.logging.common import project_of
from mlops_infra.emulator.logging.metrics import LogMetrics
from mlops_infra.emulator.logging.sinks import Exclusions, Sinks


def transports() -> list[type]:
    from google.cloud.logging_v2.services.config_service_v2.transports import (
        ConfigServiceV2GrpcTransport,
    )
    from google.cloud.logging_v2.services.metrics_service_v2.transports import (
        MetricsServiceV2GrpcTransport,
    )

    return [ConfigServiceV2GrpcTransport, MetricsServiceV2GrpcTransport]


class LoggingService(GrpcService):
    """Sinks, log buckets, exclusions and log-based metrics."""

    name = "logging"
    full_name = "google.logging.v2.ConfigServiceV2"
    api = "logging.googleapis.com"
    api_title = "Cloud Logging API"

    def __init__(self) -> None:
        super().__init__()
        self.sinks, self.buckets = Sinks(self), Buckets(self)
        self.exclusions, self.metrics = Exclusions(self), LogMetrics(self)

    def initial_state(self) -> dict[str, Any]:
        return {"sinks": {}, "buckets": {}, "exclusions": {}, "metrics": {}}

    def project_of_rpc(self, rpc: str, request: Any) -> str | None:
        for attr in ("parent", "name", "sink_name", "metric_name"):
            value = str(getattr(request, attr, "") or "")
            if value.startswith("projects/"):
                return project_of(value)
        return None

    def rpcs(self) -> list[Rpc]:
        s, b, e, m = self.sinks, self.buckets, self.exclusions, self.metrics
        return table_rpcs([client_methods(t) for t in transports()], {
            "CreateSink": s.create, "GetSink": s.get, "ListSinks": s.list,
            "UpdateSink": s.update, "DeleteSink": s.delete,
            "CreateBucket": b.create, "GetBucket": b.get, "ListBuckets": b.list,
            "UpdateBucket": b.update, "DeleteBucket": b.delete, "UndeleteBucket": b.undelete,
            "CreateExclusion": e.create, "GetExclusion": e.get, "ListExclusions": e.list,
            "UpdateExclusion": e.update, "DeleteExclusion": e.delete,
            "CreateLogMetric": m.create, "GetLogMetric": m.get, "ListLogMetrics": m.list,
            "UpdateLogMetric": m.update, "DeleteLogMetric": m.delete,
            "GetCmekSettings": b.cmek_settings,
        })

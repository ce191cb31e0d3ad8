"""Cloud Monitoring v3 over gRPC: notification channels, alert policies, uptime checks and
metric descriptors (``service.MonitoringService``)."""

from mlops_infra.emulator.monitoring.service import MonitoringService

SERVICE = MonitoringService

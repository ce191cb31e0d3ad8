"""Cloud Monitoring kinds: ``monitoring.NotificationChannel``, ``monitoring.AlertPolicy``,
``monitoring.UptimeCheck``, ``monitoring.MetricDescriptor`` (monitoring_v3, gRPC) and
``monitoring.Dashboard`` (monitoring_dashboard_v1, REST); importing this package registers
them."""

from mlops_infra.kinds.monitoring import (  # noqa: F401  (registers the kinds)
    alert_policy,
    channel,
    dashboard,
    descriptor,
    uptime,
)

"""Cloud Monitoring dashboards v1 over REST (``service.DashboardsService``)."""

from mlops_infra.emulator.dashboards.service import DashboardsService

SERVICE = DashboardsService

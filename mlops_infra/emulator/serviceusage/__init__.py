"""Service Usage API v1 (API enablement), as google-cloud-service-usage calls it over REST."""

from mlops_infra.emulator.serviceusage.service import ServiceUsageService

SERVICE = ServiceUsageService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "ServiceUsageService"]

"""Cloud Resource Manager v3 (projects and their IAM policies), as resourcemanager_v3 REST calls it."""

from mlops_infra.emulator.resourcemanager.service import ResourceManagerService

SERVICE = ResourceManagerService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "ResourceManagerService"]

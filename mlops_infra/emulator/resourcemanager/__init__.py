"""Cloud Resource Manager v3 (projects and their IAM policies), as resourcemanager_v3 REST calls it."""

from mlops_infra.emulator.resourcemanager.service import ResourceManagerService

__all__ = ["ResourceManagerService"]

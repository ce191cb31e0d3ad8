"""Vertex AI API v1 (aiplatform), as the google-cloud-aiplatform ``aiplatform_v1`` GAPIC clients
call it over REST, on every regional endpoint at once."""

from mlops_infra.emulator.aiplatform.service import AiPlatformService

SERVICE = AiPlatformService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "AiPlatformService"]

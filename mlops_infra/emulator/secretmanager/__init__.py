"""Secret Manager v1 over REST (``service.SecretManagerService``)."""

from mlops_infra.emulator.secretmanager.service import SecretManagerService

SERVICE = SecretManagerService

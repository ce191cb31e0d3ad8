"""Cloud Storage JSON API v1, as google-cloud-storage 3.x calls it."""

from mlops_infra.emulator.storage.service import StorageService

SERVICE = StorageService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "StorageService"]

"""The emulated services by name. A new API plugs in by adding its factory here."""

from __future__ import annotations

from collections.abc import Callable

from mlops_infra.emulator.core import Service


def _storage() -> Service:
    from mlops_infra.emulator.storage import StorageService

    return StorageService()


def _bigquery() -> Service:
    from mlops_infra.emulator.bigquery import BigQueryService

    return BigQueryService()


def _service(package: str, cls: str) -> Service:
    """Import ``mlops_infra.emulator.<package>`` lazily and build its ``cls``."""
    import importlib

    return getattr(importlib.import_module(f"mlops_infra.emulator.{package}"), cls)()


SERVICE_FACTORIES: dict[str, Callable[[], Service]] = {
    "storage": _storage,
    "bigquery": _bigquery,
    "serviceusage": lambda: _service("serviceusage", "ServiceUsageService"),
    "kms": lambda: _service("kms", "KmsService"),
    "compute": lambda: _service("compute", "ComputeService"),
    "resourcemanager": lambda: _service("resourcemanager", "ResourceManagerService"),
    "iam": lambda: _service("iam", "IamService"),
}

DEFAULT_SERVICES = ("storage", "bigquery", "serviceusage", "kms", "compute", "resourcemanager",
                    "iam")


def build_service(name: str) -> Service:
    """A fresh service with empty state; ``KeyError`` names the known ones."""
    try:
        return SERVICE_FACTORIES[name]()
    except KeyError:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(SERVICE_FACTORIES)}") from None

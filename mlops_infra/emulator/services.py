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


SERVICE_FACTORIES: dict[str, Callable[[], Service]] = {
    "storage": _storage,
    "bigquery": _bigquery,
}

DEFAULT_SERVICES = ("storage", "bigquery")


def build_service(name: str) -> Service:
    """A fresh service with empty state; ``KeyError`` names the known ones."""
    try:
        return SERVICE_FACTORIES[name]()
    except KeyError:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(SERVICE_FACTORIES)}") from None

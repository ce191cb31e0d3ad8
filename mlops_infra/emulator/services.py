"""The emulated services by name: every subpackage of ``mlops_infra.emulator`` that exports a
``SERVICE`` class is one, named after its package (``storage``, ``bigquery``, ``iam`` ...).

A new API plugs in by adding its package; nothing here changes. Kinds name the service
they need by that name (``ClientDecl.endpoint``), so ``--local`` starts only what a spec's
kinds call. Discovery lists packages without importing them; a service's modules (and
gRPC) are imported only when it is built.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from mlops_infra.emulator.core import Service


@cache
def service_names() -> tuple[str, ...]:
    """Every service the emulator can serve, sorted."""
    import mlops_infra.emulator as package

    return tuple(sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg))


def build_service(name: str) -> Service:
    """A fresh service with empty state; ``KeyError`` names the known ones."""
    if name not in service_names():
        raise KeyError(f"unknown service {name!r}; known: {', '.join(service_names())}")
    module = importlib.import_module(f"mlops_infra.emulator.{name}")
    service: Service = module.SERVICE()
    return service


DEFAULT_SERVICES = service_names()

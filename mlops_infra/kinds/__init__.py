"""Resource kinds, one module or package per GCP service, loaded on demand.

A kind ``SERVICE.Name`` lives in ``mlops_infra.kinds.SERVICE`` (a module, or a package whose
``__init__`` imports its modules); nothing else lists it. Importing this package only tells
the registry how to import them: looking a kind up imports its service's module, asking for
every kind (``engine.registry.all_kinds``) imports them all. Modules starting with ``_`` hold
what kinds share. Each kind module's docstring holds the table of REST paths a spec may
write for it.
"""

import importlib
import pkgutil
from functools import cache

from mlops_infra.engine.registry import set_loader


@cache
def _services() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(service: str | None) -> None:
    """Import one service's kinds (``None``: every service's); unknown services are ignored."""
    names = _services() if service is None else [service]
    for name in names:
        if name in _services():
            importlib.import_module(f"{__name__}.{name}")


set_loader(load)

"""Resource kinds, one module (or package) per GCP service; importing this package registers them.

Every public module and subpackage here is imported, so a new kind is one new module:
nothing else lists it. Modules starting with ``_`` hold what kinds share. Each kind
module's docstring holds the table of REST paths a spec may write for it.
"""

import importlib
import pkgutil

for _module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
    if not _module.name.rsplit(".", 1)[-1].startswith("_"):
        importlib.import_module(_module.name)

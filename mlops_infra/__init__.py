"""mlops_infra: provision and keep MLOps infrastructure on Google Cloud, without Terraform.

Library use (the CLI is a thin layer over the same objects)::

    import mlops_infra
    stack = mlops_infra.Stack.load("examples/quickstart.yaml", local=True)
    plan = stack.plan()
    plan                      # an HTML table in Jupyter
    stack.apply(plan)
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApplyResult", "MlopsInfraError", "Plan", "Stack", "__version__", "load"]
__version__ = "0.1.0"


def __dir__() -> list[str]:
    """The public API (for tab completion in notebooks), though it is imported lazily."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})


def __getattr__(name: str) -> Any:
    # Lazy: `python -m mlops_infra schema` or `--help` should not import every client library.
    if name in ("Stack", "load"):
        from mlops_infra import api

        return getattr(api, name)
    if name == "Plan":
        from mlops_infra.engine.plan import Plan

        return Plan
    if name == "ApplyResult":
        from mlops_infra.engine.result import ApplyResult

        return ApplyResult
    if name == "MlopsInfraError":
        from mlops_infra.engine.errors import MlopsInfraError

        return MlopsInfraError
    raise AttributeError(name)

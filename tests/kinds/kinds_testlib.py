"""Helpers shared by the kind tests: contexts, validated spec fields, managed labels, matching."""

from __future__ import annotations

from typing import Any

from mlops_infra.engine.kind import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    STACK_LABEL,
    Kind,
    ResourceContext,
)

PROJECT = "test-project"
STACK = "kinds-test"


def ctx(name: str, *, project: str = PROJECT, region: str | None = "europe-west1") -> ResourceContext:
    return ResourceContext(address=name.replace("-", "_"), name=name, project=project,
                           region=region, stack=STACK)


def fields(kind: type[Kind], raw: dict[str, Any]) -> dict[str, Any]:
    """What the spec loader hands a kind: the validated model, only what the user wrote."""
    return kind.model.model_validate(raw).model_dump(exclude_unset=True, by_alias=True,
                                                     mode="json")


def managed(desired: dict[str, Any]) -> dict[str, Any]:
    """``desired`` with the labels the engine adds to every resource."""
    labels = {**desired.get("labels", {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE, STACK_LABEL: STACK}
    return {**desired, "labels": labels}


def mismatches(desired: Any, live: Any, path: str = "") -> list[str]:
    """Paths of ``desired`` whose value differs in ``live`` (maps walked, lists exact)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [path or "<root>"]
        return [p for key, value in desired.items()
                for p in mismatches(value, live.get(key), f"{path}.{key}" if path else key)]
    return [] if desired == live else [f"{path}: want {desired!r}, have {live!r}"]

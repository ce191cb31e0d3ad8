"""Ownership labels: stamping ours on desired state, and recognising someone else's resource."""

from __future__ import annotations

import copy
from typing import Any

from mlops_infra.engine import paths
from mlops_infra.engine.diff import get_path
from mlops_infra.engine.kind import MANAGED_BY_LABEL, MANAGED_BY_VALUE, STACK_LABEL, Kind


def managed_labels(stack: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, STACK_LABEL: stack}


def with_managed_labels(kind: Kind, desired: dict[str, Any], stack: str) -> dict[str, Any]:
    """``desired`` plus our labels at the kind's labels path (ours override a user label of the same key)."""
    if kind.labels_path is None:
        return desired
    out = copy.deepcopy(desired)
    node = out
    *parents, leaf = paths.split(kind.labels_path)
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = {**(node.get(leaf) or {}), **managed_labels(stack)}
    return out


def is_ours(kind: Kind, live: dict[str, Any], stack: str) -> bool:
    """Whether a live resource carries this stack's labels (label-less kinds cannot tell: yes)."""
    return foreign_owner(kind, live, stack) is None


def foreign_owner(kind: Kind, live: dict[str, Any], stack: str) -> str | None:
    """Why a live resource we have no ledger entry for is not ours to adopt, or ``None`` if it is."""
    if kind.labels_path is None:
        return None
    labels = get_path(live, kind.labels_path)
    labels = labels if isinstance(labels, dict) else {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        return ("it already exists and is not managed by mlops-infra; choose another name, or label it "
                f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{STACK_LABEL}={stack} to adopt it")
    if labels.get(STACK_LABEL) != stack:
        return f"it already exists and belongs to stack '{labels.get(STACK_LABEL)}'"
    return None

"""Dependency ordering: topological sort with cycle reporting. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter

from mlops_infra.engine.errors import UserError


def topo_order(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Nodes so that every node comes after what it depends on; edges to unknown nodes are ignored."""
    nodes = set(edges)
    sorter = TopologicalSorter({n: [d for d in deps if d in nodes] for n, deps in edges.items()})
    try:
        return list(sorter.static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise UserError(f"dependency cycle: {cycle}") from None


def is_ancestor_id(parent: str, child: str) -> bool:
    """Whether resource name ``child`` lives under ``parent`` (``projects/p/datasets/d`` ⊃ ``.../tables/t``)."""
    return child.startswith(parent.rstrip("/") + "/")

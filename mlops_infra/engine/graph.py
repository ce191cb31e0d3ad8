"""Dependency ordering: topological sort with cycle reporting, and a plan's dependency keys. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from typing import Protocol

from mlops_infra.engine.errors import UserError


class Planned(Protocol):
    """What ordering needs of a planned change."""

    @property
    def key(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def depends_on(self) -> tuple[str, ...]: ...

    @property
    def removing(self) -> bool: ...


def topo_order(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Nodes so that every node comes after what it depends on; edges to unknown nodes are ignored."""
    nodes = set(edges)
    sorter = TopologicalSorter({n: [d for d in deps if d in nodes] for n, deps in edges.items()})
    try:
        return list(sorter.static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise UserError(f"dependency cycle: {cycle}") from None


def dependency_keys(changes: Sequence[Planned]) -> dict[str, set[str]]:
    """Map each change key to the keys it must wait for.

    Addresses in ``depends_on`` name live resources for creates/updates, and the deletes
    of dependents for deletes (which run dependents first).
    """
    live_keys = {c.address: c.key for c in changes if not c.removing}
    delete_keys = {c.address: c.key for c in changes if c.removing}
    deps: dict[str, set[str]] = {}
    for c in changes:
        pool = delete_keys if c.removing else live_keys
        deps[c.key] = {pool[a] for a in c.depends_on if a in pool and pool[a] != c.key}
    return deps


def is_ancestor_id(parent: str, child: str) -> bool:
    """Whether resource name ``child`` lives under ``parent`` (``projects/p/datasets/d`` ⊃ ``.../tables/t``)."""
    return bool(parent) and child.startswith(parent.rstrip("/") + "/")

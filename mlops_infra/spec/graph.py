"""The dependency graph between resources: cycle detection and a stable topological order."""

from __future__ import annotations

from collections.abc import Iterable

from mlops_infra.spec.errors import SpecError
from mlops_infra.spec.resources import Edge
from mlops_infra.spec.source import LineMap


def topological_order(addresses: list[str], edges: Iterable[Edge], lines: LineMap) -> list[str]:
    """Dependencies first; ties keep file order. A cycle is a ``SpecError`` naming it."""
    deps: dict[str, list[Edge]] = {a: [] for a in addresses}
    for edge in edges:
        deps[edge.source].append(edge)
    finished: set[str] = set()
    order: list[str] = []
    for address in addresses:
        if address not in finished:
            _visit(address, deps, finished, order, lines)
    return order


def _visit(root: str, deps: dict[str, list[Edge]], finished: set[str], order: list[str],
           lines: LineMap) -> None:
    """Iterative depth-first search (deep chains must not hit the recursion limit)."""
    path: list[Edge] = []                      # edges from root to the current node
    on_path = {root}
    stack = [(root, iter(deps[root]))]
    while stack:
        node, pending = stack[-1]
        edge = next((e for e in pending if e.target not in finished), None)
        if edge is None:
            stack.pop()
            on_path.discard(node)
            finished.add(node)
            order.append(node)
            if path:
                path.pop()
            continue
        if edge.target in on_path:
            raise _cycle_error(edge, path, lines)
        path.append(edge)
        on_path.add(edge.target)
        stack.append((edge.target, iter(deps[edge.target])))


def _cycle_error(closing: Edge, path: list[Edge], lines: LineMap) -> SpecError:
    start = next((i for i, e in enumerate(path) if e.source == closing.target), len(path))
    loop = path[start:] + [closing]
    names = " -> ".join([e.source for e in loop] + [closing.target])
    return lines.error(loop[0].path, f"dependency cycle: {names}")

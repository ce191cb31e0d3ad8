"""The order an apply runs in: a dependency graph walked as its nodes become ready. Pure.

Each node counts the dependencies it still waits for; finishing one releases its
dependents in O(their number), so an apply of thousands of resources schedules in linear
time. Ready nodes are handed out longest-remaining-chain first, which keeps the critical
path busy when concurrency is bounded. A failure skips everything that depends on it,
directly or not; nodes left waiting when nothing can run form a cycle.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping


class Schedule:
    """Hands out ready keys of a ``key -> keys it waits for`` graph."""

    def __init__(self, deps: Mapping[str, set[str]]) -> None:
        self._waiting = {key: len(needs & deps.keys()) for key, needs in deps.items()}
        self._dependents: dict[str, list[str]] = defaultdict(list)
        for key, needs in deps.items():
            for need in needs & deps.keys():
                self._dependents[need].append(key)
        self._height = _heights(deps.keys(), self._dependents)
        self._ready: list[tuple[int, str]] = []
        for key, count in self._waiting.items():
            if count == 0:
                heapq.heappush(self._ready, (-self._height[key], key))
        self._open = set(deps)              # neither finished nor skipped

    def take(self, limit: int) -> list[str]:
        """Up to ``limit`` ready keys, longest chain first."""
        taken: list[str] = []
        while self._ready and len(taken) < limit:
            taken.append(heapq.heappop(self._ready)[1])
        return taken

    def finished(self, key: str) -> None:
        """``key`` succeeded: its dependents wait for one thing less."""
        self._open.discard(key)
        for dependent in self._dependents.get(key, ()):
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0 and dependent in self._open:
                heapq.heappush(self._ready, (-self._height[dependent], dependent))

    def failed(self, key: str) -> list[str]:
        """``key`` failed: every open key that depends on it, directly or not (now skipped)."""
        self._open.discard(key)
        skipped: list[str] = []
        stack = list(self._dependents.get(key, ()))
        while stack:
            dependent = stack.pop()
            if dependent in self._open:
                self._open.discard(dependent)
                skipped.append(dependent)
                stack.extend(self._dependents.get(dependent, ()))
        return skipped

    def stuck(self) -> list[str]:
        """Keys that can never start (they wait on each other), once nothing else can run."""
        left = sorted(self._open)
        self._open.clear()
        return left

    @property
    def has_ready(self) -> bool:
        return bool(self._ready)


def _heights(keys: object, dependents: Mapping[str, list[str]]) -> dict[str, int]:
    """Length of the longest chain of dependents below each key (iterative; cycles cut)."""
    height: dict[str, int] = {}
    for root in keys:  # type: ignore[attr-defined]
        if root in height:
            continue
        stack: list[tuple[str, bool]] = [(root, False)]
        on_path: set[str] = set()
        while stack:
            key, expanded = stack.pop()
            if expanded:
                on_path.discard(key)
                height[key] = 1 + max((height.get(d, 0) for d in dependents.get(key, ())),
                                      default=0)
                continue
            if key in height or key in on_path:
                continue
            on_path.add(key)
            stack.append((key, True))
            stack.extend((d, False) for d in dependents.get(key, ()) if d not in height)
    return height

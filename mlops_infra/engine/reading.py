"""Reading live state for a plan: one paged list per (kind, scope), gets only where needed, concurrently."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_infra.engine.errors import NotFound
from mlops_infra.engine.kind import Kind, ResourceId
from mlops_infra.engine.retry import RetryPolicy, call_with_retries

LiveState = dict[str, dict[str, Any] | None]   # ResourceId.key -> live REST dict or None


def read_live(rids: Iterable[ResourceId], *, kinds: dict[str, Kind], policy: RetryPolicy,
              workers: int = 8) -> LiveState:
    """Live state for every id: listed per (kind, scope) where the kind can list, else fetched."""
    groups: dict[tuple[str, str], list[ResourceId]] = defaultdict(list)
    for rid in {r.key: r for r in rids}.values():
        groups[(rid.kind, rid.scope)].append(rid)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        listed = dict(zip(groups, pool.map(
            lambda g: _list_group(kinds[g[0]], g[1], policy), groups)))
        todo = [rid for group, members in groups.items() for rid in members
                if _needs_get(kinds[rid.kind], listed[group], rid)]
        fetched = dict(zip((r.key for r in todo), pool.map(
            lambda r: call_with_retries(lambda: kinds[r.kind].get(r), policy=policy), todo)))
    live: LiveState = {}
    for group, members in groups.items():
        for rid in members:
            live[rid.key] = fetched[rid.key] if rid.key in fetched else (listed[group] or {}).get(rid.name)
    return live


def _list_group(kind: Kind, scope: str, policy: RetryPolicy) -> dict[str, dict[str, Any]] | None:
    if not kind.listable:
        return None
    try:
        return call_with_retries(lambda: kind.list(scope), policy=policy)
    except NotFound:        # the parent (e.g. a dataset) does not exist yet: nothing in it
        return {}


def _needs_get(kind: Kind, listed: dict[str, dict[str, Any]] | None, rid: ResourceId) -> bool:
    if listed is None:
        return True
    return rid.name in listed and not kind.complete_listing

"""Reading live state for a plan: one paged list per (kind, scope), gets only where needed, concurrently.

Resources whose API name is not known yet (server-named, not in the ledger) are found
in their scope's listing by ownership labels (``LiveState.owned``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mlops_infra.engine.errors import NotFound
from mlops_infra.engine.kind import Kind, ResourceId
from mlops_infra.engine.ownership import owned_matches
from mlops_infra.engine.retry import RetryPolicy, call_with_retries

Listing = dict[str, dict[str, Any]]
Group = tuple[str, str]          # (kind, scope)


@dataclass
class LiveState:
    """What a plan read: live resources by (kind, API name), and each scope's listing."""

    resources: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    listings: dict[Group, Listing | None] = field(default_factory=dict)

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        """The live resource named ``rid.name`` (``None``: absent, or no name yet)."""
        return self.resources.get((rid.kind, rid.name)) if rid.name else None

    def owned(self, kind: Kind, rid: ResourceId, stack: str) -> list[str]:
        """API names in ``rid``'s scope whose labels name ``stack`` and ``rid.address``."""
        listing = self.listings.get((rid.kind, rid.scope)) or {}
        return owned_matches(kind, listing, stack=stack, address=rid.address)

    def add(self, rid: ResourceId, live: dict[str, Any] | None) -> None:
        self.resources[(rid.kind, rid.name)] = live


def read_live(rids: Iterable[ResourceId], *, kinds: dict[str, Kind], policy: RetryPolicy,
              workers: int = 8) -> LiveState:
    """Live state for every id: listed per (kind, scope) where the kind can list, else fetched."""
    groups: dict[Group, list[ResourceId]] = defaultdict(list)
    for rid in {(r.kind, r.name, r.scope): r for r in rids}.values():
        groups[(rid.kind, rid.scope)].append(rid)
    state = LiveState()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        state.listings = dict(zip(groups, pool.map(
            lambda g: _list_group(kinds[g[0]], g[1], policy), groups)))
        named = [rid for members in groups.values() for rid in members if rid.name]
        todo = [rid for rid in named
                if _needs_get(kinds[rid.kind], state.listings[(rid.kind, rid.scope)], rid)]
        fetched = dict(zip((id(r) for r in todo), pool.map(
            lambda r: call_with_retries(lambda: kinds[r.kind].get(r), policy=policy), todo)))
    for rid in named:
        listing = state.listings[(rid.kind, rid.scope)] or {}
        state.add(rid, fetched[id(rid)] if id(rid) in fetched else listing.get(rid.name))
    return state


def _list_group(kind: Kind, scope: str, policy: RetryPolicy) -> Listing | None:
    if not kind.listable:
        return None
    try:
        return call_with_retries(lambda: kind.list(scope), policy=policy)
    except NotFound:        # the parent (e.g. a dataset) does not exist yet: nothing in it
        return {}


def _needs_get(kind: Kind, listed: Listing | None, rid: ResourceId) -> bool:
    if listed is None:
        return True
    return rid.name in listed and not kind.complete_listing

"""Reading live state for a plan: one paged list per (kind, scope), gets only where needed,
concurrently and pipelined.

Each (kind, scope) group is listed once; the GETs a group still needs (kinds whose listing
lacks fields, kinds that cannot list) start as soon as that group's listing returns, not
after every list. All calls share one bounded pool and one ``Throttle``, so a 429 slows the
whole read phase. The planner does not wait for the whole phase: ``Reads.wait`` hands it a
resource as soon as that resource's group is back. An API that is off (or still enabling) holds nothing to read yet: its
reads answer "absent" at once, and the plan enables it before creating anything in it.
Resources whose API name is not known yet (server-named, not in the
ledger) are found in their scope's listing by ownership labels (``LiveState.owned``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from mlops_infra.engine.concurrency import READ_CONCURRENCY
from mlops_infra.engine.errors import NotFound, ServiceDisabled
from mlops_infra.engine.kind import Kind, ResourceId
from mlops_infra.engine.ownership import owned_matches
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.engine.throttle import Throttle

Listing = dict[str, dict[str, Any]]
Group = tuple[str, str]          # (kind, scope)
DEFAULT_READ_CONCURRENCY = READ_CONCURRENCY


@dataclass
class LiveState:
    """What a plan read: live resources by (kind, API name), and each scope's listing."""

    resources: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    listings: dict[Group, Listing | None] = field(default_factory=dict)
    deleted: dict[Group, Listing] = field(default_factory=dict)   # ``Kind.list_deleted``

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        """The live resource named ``rid.name`` (``None``: absent, or no name yet)."""
        if not rid.name:
            return None
        if (rid.kind, rid.name) in self.resources:
            return self.resources[(rid.kind, rid.name)]
        return (self.listings.get((rid.kind, rid.scope)) or {}).get(rid.name)

    def owned(self, kind: Kind, rid: ResourceId, stack: str) -> list[str]:
        """API names in ``rid``'s scope whose labels name ``stack`` and ``rid.address``."""
        listing = self.listings.get((rid.kind, rid.scope)) or {}
        return owned_matches(kind, listing, stack=stack, address=rid.address)

    def pending_deletion(self, rid: ResourceId) -> dict[str, Any] | None:
        """The deleted but restorable resource named ``rid.name`` (``soft_delete`` kinds)."""
        return (self.deleted.get((rid.kind, rid.scope)) or {}).get(rid.name) if rid.name else None

    def add(self, rid: ResourceId, live: dict[str, Any] | None) -> None:
        self.resources[(rid.kind, rid.name)] = live

    def merge(self, other: LiveState) -> None:
        self.resources.update(other.resources)
        self.listings.update(other.listings)
        self.deleted.update(other.deleted)


@dataclass(frozen=True)
class ReadSettings:
    """How the read phase runs: the retry policy, the pool size and the shared throttle."""

    policy: RetryPolicy
    concurrency: int = DEFAULT_READ_CONCURRENCY
    throttle: Throttle = field(default_factory=Throttle)


def read_live(rids: Iterable[ResourceId], *, kinds: Mapping[str, Kind],
              settings: ReadSettings) -> LiveState:
    """Live state for every id: listed per (kind, scope) where the kind can list, else fetched."""
    with Reads(kinds, settings) as reads:
        reads.add(rids)
        return reads.finish()


class Reads:
    """Reads under way: ``state`` fills up as they return.

    ``add`` starts reading ids (it does not wait). ``wait(rid)`` blocks until every read of
    ``rid``'s (kind, scope) group is back, so a plan can decide a resource while the reads of
    others are still coming in. ``finish`` waits for all and raises the first error; leaving
    the ``with`` block drops the reads not yet started (reads only: nothing to undo).
    """

    def __init__(self, kinds: Mapping[str, Kind], settings: ReadSettings) -> None:
        self.kinds, self.settings = kinds, settings
        self.state = LiveState()
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency)
        self._lock = threading.Lock()
        self._futures: list[Future[None]] = []
        self._pending: dict[Group, int] = {}
        self._done: dict[Group, threading.Event] = {}
        self._failed: dict[Group, BaseException] = {}

    def __enter__(self) -> Reads:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, rids: Iterable[ResourceId]) -> None:
        """Start reading ``rids``: one list per group where worth it, GETs where needed."""
        groups: dict[Group, list[ResourceId]] = defaultdict(list)
        for rid in {(r.kind, r.name, r.scope): r for r in rids}.values():
            groups[(rid.kind, rid.scope)].append(rid)
        listed = {g: m for g, m in groups.items() if _worth_listing(self.kinds[g[0]], m)}
        for group in groups:
            self._begin(group)      # held until its reads are queued: not "done" before
        failed: BaseException | None = None
        try:
            # This call's lists are queued before its GETs: a list unlocks the gets of its
            # group, and queued behind a few hundred GETs it would hold them back (FIFO pool).
            for group, members in listed.items():
                self._submit(group, self._group, group, members)
            for group, members in groups.items():
                if group not in listed:     # no list to wait for: its gets are queued now
                    self._queue_gets(group, members, None)
        except BaseException as exc:
            failed = exc                # a group left unread must not look read and empty
            raise
        finally:
            for group in groups:
                self._end(group, failed)

    def wait(self, *rids: ResourceId) -> None:
        """Until the reads of these ids' groups are back (raising a read's error, if one failed)."""
        for rid in rids:
            group = (rid.kind, rid.scope)
            done = self._done.get(group)
            if done is None:
                continue            # never read: nothing to wait for
            done.wait()
            if group in self._failed:
                raise self._failed[group]

    def finish(self) -> LiveState:
        """Every read back (the first error raised); the state they filled."""
        waited = 0
        while waited < len(self._futures):   # a list queues its gets before it is done
            batch = self._futures[waited:]
            wait(batch)
            waited += len(batch)
        for future in self._futures:
            future.result()
        return self.state

    # --- tasks --------------------------------------------------------------------------
    def _begin(self, group: Group) -> None:
        with self._lock:
            self._pending[group] = self._pending.get(group, 0) + 1
            self._done.setdefault(group, threading.Event()).clear()

    def _end(self, group: Group, error: BaseException | None = None) -> None:
        with self._lock:
            if error is not None:
                self._failed.setdefault(group, error)
            self._pending[group] -= 1
            if not self._pending[group]:
                self._done[group].set()

    def _submit(self, group: Group, fn: Any, *args: Any) -> None:
        self._begin(group)

        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:
                self._end(group, exc)
                raise
            self._end(group)
        try:
            self._futures.append(self._pool.submit(run))
        except BaseException:
            self._end(group)
            raise

    def _group(self, group: Group, members: list[ResourceId]) -> None:
        kind = self.kinds[group[0]]
        listing = self._list(kind, group[1])
        if kind.soft_delete:            # read with the listing: the group is not done before
            deleted = self._list(kind, group[1], deleted=True) or {}
            with self._lock:
                self.state.deleted[group] = deleted
        self._queue_gets(group, members, listing)

    def _queue_gets(self, group: Group, members: list[ResourceId], listing: Listing | None) -> None:
        kind = self.kinds[group[0]]
        with self._lock:
            self.state.listings[group] = listing
        for rid in members:
            if rid.name and _needs_get(kind, listing, rid):
                self._submit(group, self._get, kind, rid)

    def _list(self, kind: Kind, scope: str, *, deleted: bool = False) -> Listing | None:
        try:
            return self._call(lambda: kind.list_deleted(scope) if deleted else kind.list(scope))
        except NotFound:        # the parent (e.g. a dataset) does not exist yet: nothing in it
            return {}
        except ServiceDisabled:   # its API is off (or still enabling): nothing to read yet
            return {}

    def _get(self, kind: Kind, rid: ResourceId) -> None:
        try:
            live = self._call(lambda: kind.get(rid))
        except ServiceDisabled:
            live = None
        with self._lock:
            self.state.add(rid, live)

    def _call(self, fn: Any) -> Any:
        """One read through the throttle and the retry layer; a disabled API is not waited for
        (the plan enables it first), so ``ServiceDisabled`` is raised at once."""
        throttle = self.settings.throttle

        def attempt() -> Any:
            try:
                return throttle.call(fn)
            except ServiceDisabled as exc:
                raise _Disabled(exc) from exc
        try:
            return call_with_retries(attempt, policy=self.settings.policy)
        except _Disabled as wrapped:
            raise wrapped.error from None


class _Disabled(Exception):
    """Carries ``ServiceDisabled`` past the retry layer (which would wait for it)."""

    def __init__(self, error: ServiceDisabled) -> None:
        super().__init__(str(error))
        self.error = error


def _worth_listing(kind: Kind, members: list[ResourceId]) -> bool:
    """A listing that lacks fields is only worth it to find server-named resources: the named
    ones need their GET anyway, and one GET of an absent one costs what a list does."""
    return kind.listable and (kind.complete_listing or not all(r.name for r in members))


def _needs_get(kind: Kind, listed: Listing | None, rid: ResourceId) -> bool:
    if listed is None:
        return True
    return rid.name in listed and not kind.complete_listing

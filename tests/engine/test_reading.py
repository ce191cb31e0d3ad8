"""The read phase on in-memory kinds: a resource is handed over as soon as its own reads are
back (the planner decides it while others are still being read), an error reaches whoever
waits for it, and nothing is left running.

The kinds stand in for no Google client (kinds are tested against the emulator elsewhere):
``Gated`` blocks each GET until the test opens its gate; ``Listed`` is listed, then fetched.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mlops_infra.engine.errors import NotFound, PermanentError
from mlops_infra.engine.kind import FieldChange, Kind, ResourceContext, ResourceId
from mlops_infra.engine.reading import Reads, ReadSettings
from mlops_infra.engine.retry import RetryPolicy

SETTINGS = ReadSettings(policy=RetryPolicy(attempts=2, initial=0.001, maximum=0.002, deadline=2),
                        concurrency=4)


class _Memory(Kind):
    def __init__(self, store: dict[str, dict[str, Any]]) -> None:
        super().__init__(clients=None)
        self.store = store

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        raise NotImplementedError

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(fields)

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return self.store.get(rid.name)

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: list[FieldChange],
               live: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        raise NotImplementedError


class Gated(_Memory):
    name = "test.Gated"
    listable = False

    def __init__(self, store: dict[str, dict[str, Any]]) -> None:
        super().__init__(store)
        self.gate = threading.Event()

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        assert self.gate.wait(10), "the gate was never opened"
        return super().get(rid)


class Listed(_Memory):
    name = "test.Listed"
    complete_listing = False          # listed, then each one fetched

    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        return {name: {"name": name} for name in self.store if name.startswith(scope)}


class Refused(_Memory):
    name = "test.Refused"
    listable = False

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        raise PermanentError(f"{rid.name}: the caller may not read it")


def _rid(kind: str, name: str, scope: str) -> ResourceId:
    return ResourceId(kind=kind, name=name, scope=scope)


def test_a_resource_is_handed_over_while_other_reads_are_still_out() -> None:
    gated = Gated({"slow/a": {"v": 1}})
    listed = Listed({"fast/x": {"v": 2}, "fast/y": {"v": 3}})
    slow, x, y = _rid(gated.name, "slow/a", "slow"), _rid(listed.name, "fast/x", "fast"), \
        _rid(listed.name, "fast/y", "fast")
    with Reads({gated.name: gated, listed.name: listed}, SETTINGS) as reads:
        reads.add([slow, x, y])
        reads.wait(x, y)                           # returns although "slow" is still blocked
        assert reads.state.get(x) == {"v": 2} and reads.state.get(y) == {"v": 3}
        assert reads.state.get(slow) is None and not gated.gate.is_set()
        gated.gate.set()
        reads.wait(slow)
        assert reads.state.get(slow) == {"v": 1}
        assert reads.finish() is reads.state


def test_reads_added_later_are_waited_for_too() -> None:
    gated = Gated({"g/a": {"v": 1}, "g/b": {"v": 2}})
    a, b = _rid(gated.name, "g/a", "g"), _rid(gated.name, "g/b", "g")
    with Reads({gated.name: gated}, SETTINGS) as reads:
        reads.add([a])
        reads.add([b])                             # same group, a second batch
        done = threading.Event()
        waiter = threading.Thread(target=lambda: (reads.wait(b), done.set()))
        waiter.start()
        assert not done.wait(0.1)                  # b's read is still out
        gated.gate.set()
        waiter.join(5)
        assert done.is_set() and reads.state.get(b) == {"v": 2}


def test_a_failed_read_reaches_its_waiter_and_finish_and_others_are_unaffected() -> None:
    refused, listed = Refused({}), Listed({"ok/x": {"v": 1}})
    bad, good = _rid(refused.name, "no/a", "no"), _rid(listed.name, "ok/x", "ok")
    with Reads({refused.name: refused, listed.name: listed}, SETTINGS) as reads:
        reads.add([bad, good])
        reads.wait(good)
        assert reads.state.get(good) == {"v": 1}
        with pytest.raises(PermanentError, match="may not read"):
            reads.wait(bad)
        with pytest.raises(PermanentError):
            reads.finish()


def test_finish_waits_for_the_gets_a_listing_queued() -> None:
    names = {f"s/{i}": {"v": i} for i in range(40)}
    listed = Listed(names)
    rids = [_rid(listed.name, name, "s") for name in names]
    unnamed = _rid(listed.name, "", "s")       # a server-named one: the group is listed first
    with Reads({listed.name: listed}, SETTINGS) as reads:
        reads.add([*rids, unnamed])
        state = reads.finish()
    assert state.listings[(listed.name, "s")] == {name: {"name": name} for name in names}
    assert [state.get(r) for r in rids] == [{"v": i} for i in range(40)]
    assert state.resources.keys() == {(listed.name, name) for name in names}


def test_a_group_whose_parent_is_missing_reads_as_empty() -> None:
    class Orphans(Listed):
        name = "test.Orphans"
        complete_listing = True

        def list(self, scope: str) -> dict[str, dict[str, Any]]:
            raise NotFound(f"{scope} does not exist")

    orphans = Orphans({})
    rid = _rid(orphans.name, "gone/a", "gone")
    with Reads({orphans.name: orphans}, SETTINGS) as reads:
        reads.add([rid])
        reads.wait(rid)
        assert reads.state.listings[(orphans.name, "gone")] == {} and reads.state.get(rid) is None


def test_every_list_is_queued_before_any_get() -> None:
    """A list unlocks its group's gets: queued behind another group's GETs on a full pool, it
    would hold them back (seen at 500 resources: the bucket list waited for 70 GETs)."""
    calls: list[tuple[str, str]] = []

    class Fetched(_Memory):
        name = "test.Fetched"
        listable = False

        def get(self, rid: ResourceId) -> dict[str, Any] | None:
            calls.append(("get", rid.name))
            return super().get(rid)

    class Complete(_Memory):
        name = "test.Complete"
        complete_listing = True

        def list(self, scope: str) -> dict[str, dict[str, Any]]:
            calls.append(("list", scope))
            return {}

    fetched, complete = Fetched({}), Complete({})
    rids = [_rid(fetched.name, f"g/{i}", "g") for i in range(5)]   # first in the spec's order
    rids += [_rid(complete.name, "l/a", "l"), _rid(complete.name, "m/a", "m")]
    one_at_a_time = ReadSettings(policy=SETTINGS.policy, concurrency=1)
    with Reads({fetched.name: fetched, complete.name: complete}, one_at_a_time) as reads:
        reads.add(rids)
        reads.finish()
    assert calls[:2] == [("list", "l"), ("list", "m")]
    assert sorted(calls[2:]) == [("get", f"g/{i}") for i in range(5)]


def test_reads_that_could_not_be_queued_fail_their_waiters() -> None:
    """An ``add`` that fails part-way (the pool shut down) leaves no group looking read and
    empty: waiting for one raises, rather than planning an existing resource as absent."""
    listed = Listed({"s/a": {"v": 1}})
    rid = _rid(listed.name, "s/a", "s")
    reads = Reads({listed.name: listed}, SETTINGS)
    reads.__exit__(None, None, None)               # the pool is shut down
    with pytest.raises(RuntimeError):
        reads.add([rid])
    with pytest.raises(RuntimeError):
        reads.wait(rid)

"""The stack lock on every backend: acquire, LockHeld, expiry takeover (one winner),
renewal, safe release, break_lock."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from ledger_helpers import BackendFactory, RendezvousBackend

from mlops_infra.engine.errors import LockHeld
from mlops_infra.ledger import Lease, Ledger
from mlops_infra.ledger.document import parse_time

AN_HOUR_AGO = lambda: time.time() - 3600


def test_acquire_writes_holder_info_and_release_removes_it(ledger: Ledger) -> None:
    with ledger.lock(owner="alice", ttl=60, run_id="run-1") as lease:
        holder = ledger.lock_holder()
        assert holder is not None
        assert holder["owner"] == "alice" and holder["runId"] == "run-1"
        assert holder["pid"] == os.getpid() and holder["host"]
        assert holder["acquiredAt"].endswith("Z")
        assert parse_time(holder["expires"]) > time.time()
        assert lease.holder == holder and not lease.lost
    assert ledger.lock_holder() is None


def test_lock_held_by_another_run_raises_with_holder(make_backend: BackendFactory) -> None:
    alice, bob = Ledger(make_backend()), Ledger(make_backend())
    with alice.lock(owner="alice", ttl=60):
        with pytest.raises(LockHeld) as info:
            bob.lock(owner="bob", ttl=60)
        assert info.value.holder["owner"] == "alice"
        assert "owner=alice" in str(info.value)
    with bob.lock(owner="bob", ttl=60):   # free again after alice released
        assert bob.lock_holder()["owner"] == "bob"  # type: ignore[index]


def test_expired_lease_is_taken_over(make_backend: BackendFactory) -> None:
    dead, alive = Ledger(make_backend()), Ledger(make_backend())
    stale = dead.lock(owner="dead", ttl=60, clock=AN_HOUR_AGO)
    lease = alive.lock(owner="alive", ttl=60)
    assert alive.lock_holder()["owner"] == "alive"  # type: ignore[index]
    stale.release()             # the old holder wakes up: it must not delete the new lock
    assert stale.lost
    assert alive.lock_holder()["owner"] == "alive"  # type: ignore[index]
    lease.release()
    assert alive.lock_holder() is None


def test_two_takers_of_an_expired_lease_exactly_one_wins(make_backend: BackendFactory) -> None:
    Ledger(make_backend()).lock(owner="dead", ttl=60, clock=AN_HOUR_AGO)
    barrier = threading.Barrier(2)
    outcomes: dict[str, Lease | LockHeld] = {}

    def take(owner: str) -> None:
        ledger = Ledger(RendezvousBackend(make_backend(), barrier))
        try:
            outcomes[owner] = ledger.lock(owner=owner, ttl=60)
        except LockHeld as exc:
            outcomes[owner] = exc

    threads = [threading.Thread(target=take, args=(name,)) for name in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [got for got in outcomes.values() if isinstance(got, Lease)]
    losers = [got for got in outcomes.values() if isinstance(got, LockHeld)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].holder["owner"] == winners[0].owner
    assert Ledger(make_backend()).lock_holder()["owner"] == winners[0].owner  # type: ignore[index]
    winners[0].release()


def test_renew_extends_the_lease(ledger: Ledger) -> None:
    now = [1_000_000.0]
    lease = ledger.lock(owner="alice", ttl=3600, clock=lambda: now[0])
    first = ledger.lock_holder()
    now[0] += 100
    assert lease.renew()
    second = ledger.lock_holder()
    assert parse_time(second["expires"]) - parse_time(first["expires"]) == 100  # type: ignore[index]
    assert second["acquiredAt"] == first["acquiredAt"]  # type: ignore[index]
    lease.release()
    assert ledger.lock_holder() is None


def test_background_renewal_rewrites_the_lock(ledger: Ledger) -> None:
    with ledger.lock(owner="alice", ttl=0.3) as lease:
        first = lease.generation
        changed = threading.Event()
        for _ in range(200):          # renewal every ttl/3; give up after ~20 s
            if lease.generation != first:
                changed.set()
                break
            changed.wait(0.1)
        assert changed.is_set()
        assert not lease.lost
    assert ledger.lock_holder() is None


def test_renewal_notices_a_stolen_lock(make_backend: BackendFactory) -> None:
    mine, theirs = Ledger(make_backend()), Ledger(make_backend())
    lease = mine.lock(owner="alice", ttl=3600)
    assert theirs.break_lock()["owner"] == "alice"  # type: ignore[index]
    other = theirs.lock(owner="bob", ttl=3600)
    assert not lease.renew()
    assert lease.lost
    lease.release()
    assert theirs.lock_holder()["owner"] == "bob"  # type: ignore[index]
    other.release()


def test_break_lock_returns_the_holder_and_frees_the_stack(ledger: Ledger) -> None:
    assert ledger.break_lock() is None
    ledger.lock(owner="crashed", ttl=3600)
    holder = ledger.break_lock()
    assert holder is not None and holder["owner"] == "crashed"
    assert ledger.lock_holder() is None
    ledger.lock(owner="next", ttl=60).release()


def test_unreadable_lock_counts_as_held(ledger: Ledger) -> None:
    ledger.backend.write("lock", b"garbage", if_generation_match=0)
    with pytest.raises(LockHeld) as info:
        ledger.lock(owner="alice", ttl=60)
    assert "garbage" in json.dumps(info.value.holder)
    assert ledger.break_lock() is not None
    ledger.lock(owner="alice", ttl=60).release()

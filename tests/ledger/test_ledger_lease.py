"""The stack lock on every backend: acquire, LockHeld, expiry takeover (one winner),
renewal, safe release, break_lock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from ledger_helpers import BackendFactory, RendezvousBackend

from mlops_infra.engine.errors import LockHeld, LockLost, UserError
from mlops_infra.ledger import Lease, Ledger, LedgerEntry
from mlops_infra.ledger.document import parse_time
from mlops_infra.ledger.process import process_identity


def _entry(name: str, **applied: object) -> LedgerEntry:
    return LedgerEntry(kind="storage.Bucket", id=f"projects/p/buckets/{name}", address=name,
                       applied=dict(applied) or {"location": "US"}, outputs={})


def AN_HOUR_AGO() -> float:  # noqa: N802  (reads as a constant at the call sites)
    return time.time() - 3600


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
    assert theirs.break_lock(force=True)["owner"] == "alice"  # type: ignore[index]
    other = theirs.lock(owner="bob", ttl=3600)
    assert not lease.renew()
    assert lease.lost
    lease.release()
    assert theirs.lock_holder()["owner"] == "bob"  # type: ignore[index]
    other.release()


def test_break_lock_refuses_a_live_lease_without_force(ledger: Ledger) -> None:
    assert ledger.break_lock() is None
    ledger.lock(owner="busy", ttl=3600)                 # held by this (live) process
    with pytest.raises(UserError, match=r"busy.*s left.*--force"):
        ledger.break_lock()
    holder = ledger.break_lock(force=True)
    assert holder is not None and holder["owner"] == "busy"
    assert ledger.lock_holder() is None
    ledger.lock(owner="next", ttl=60).release()


def _dead_holder_lock(ledger: Ledger) -> dict[str, object]:
    """A lease written by a process of this machine that has exited since."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    holder = {"owner": "crashed", "host": socket.gethostname(), "pid": int(child.stdout),
              "expires": "2999-01-01T00:00:00.000Z",
              **{k: v for k, v in process_identity().items() if k != "processStart"},
              "processStart": 1}
    ledger.backend.write("lock", json.dumps(holder).encode(), if_generation_match=0)
    return holder


def test_a_lease_whose_process_is_gone_is_taken_over_at_once(ledger: Ledger) -> None:
    if not process_identity():
        pytest.skip("no /proc: cannot tell a dead local holder")
    _dead_holder_lock(ledger)
    ledger.lock(owner="next", ttl=60).release()         # no wait for the expiry in 2999
    _dead_holder_lock(ledger)
    assert ledger.break_lock()["owner"] == "crashed"    # type: ignore[index]


def test_a_lease_of_another_machine_is_never_judged_dead(ledger: Ledger) -> None:
    holder = {"owner": "elsewhere", "host": "another-host", "pid": 1, "bootId": "x",
              "pidNamespace": "pid:[1]", "processStart": 1, "expires": "2999-01-01T00:00:00.000Z"}
    ledger.backend.write("lock", json.dumps(holder).encode(), if_generation_match=0)
    with pytest.raises(LockHeld):
        ledger.lock(owner="alice", ttl=60)
    with pytest.raises(UserError):
        ledger.break_lock()


@pytest.mark.parametrize("data, why", [
    (b"[" * 100_000 + b"]" * 100_000, "nested more than 200 levels deep"),
    (b'{"owner": "a",\n "expires": ' + b"9" * 5000 + b"}", "line 2: an integer of more than"),
    (b'{"owner": "a",\n "owner": "b"}', "line 2: the key 'owner' appears twice"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_a_hostile_lock_is_held_and_named_with_what_is_wrong(ledger: Ledger, data: bytes,
                                                             why: str) -> None:
    ledger.backend.write("lock", data, if_generation_match=0)
    with pytest.raises(LockHeld) as info:
        ledger.lock(owner="alice", ttl=60)
    message = str(info.value)
    assert ledger.backend.location("lock") in message and why in message, message
    assert "\n" not in message


def test_unreadable_lock_counts_as_held(ledger: Ledger) -> None:
    ledger.backend.write("lock", b"garbage", if_generation_match=0)
    with pytest.raises(LockHeld) as info:
        ledger.lock(owner="alice", ttl=60)
    assert "garbage" in json.dumps(info.value.holder)
    assert ledger.break_lock(force=True) is not None
    ledger.lock(owner="alice", ttl=60).release()


def test_a_lease_past_its_ttl_without_renewal_is_not_held_and_its_writer_writes_nothing(
        ledger: Ledger) -> None:
    now = [1000.0]                  # the lease's monotonic clock: the process "stalls" below
    lease = ledger.lock(owner="alice", ttl=60, monotonic=lambda: now[0])
    writer = ledger.writer(lease=lease)
    writer.put(_entry("before"))
    writer.flush()
    assert lease.held() and lease.lost_reason() is None
    now[0] += 61                    # stopped past its lease: nobody renewed it
    assert not lease.held() and lease.lost
    with pytest.raises(LockLost, match=r"lost the stack's lock: its lease ran out \(61s"):
        lease.check()
    writer.put(_entry("after"))
    with pytest.raises(LockLost, match="nothing more was changed; plan again"):
        writer.flush()
    with pytest.raises(LockLost):   # stopped for good, close included
        writer.close()
    assert set(ledger.read().entries) == {"storage.Bucket:before"}
    now[0] -= 61                    # seen lost once, never trusted again
    assert not lease.renew() and not lease.held()
    lease.release()                 # nobody took it: still ours to delete
    assert ledger.lock_holder() is None


def test_a_taken_over_lease_refuses_to_replay_over_the_new_holders_ledger(
        make_backend: BackendFactory) -> None:
    mine, theirs = Ledger(make_backend()), Ledger(make_backend())
    lease = mine.lock(owner="alice", ttl=3600)
    writer = mine.writer(lease=lease)
    assert theirs.break_lock(force=True)["owner"] == "alice"  # type: ignore[index]
    with theirs.lock(owner="bob", ttl=3600) as other:
        bobs = theirs.writer(lease=other)
        bobs.put(_entry("shared", location="EU"))
        bobs.close()
        assert not lease.renew()
        writer.put(_entry("shared", location="US"))
        with pytest.raises(LockLost, match="another run took it over"):
            writer.close()
        assert theirs.read().entries["storage.Bucket:shared"].applied == {"location": "EU"}
    lease.release()

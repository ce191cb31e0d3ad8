"""The ledger and lock under transient errors: retried, and a write whose response
was lost (it landed, the retry then hits a 412) is recognised, not duplicated."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_helpers import FAST_RETRY, BackendFactory, LosesResponses

from mlops_infra.engine.errors import TransientError
from mlops_infra.engine.retry import RetryPolicy
from mlops_infra.ledger import GcsBackend, Ledger, LedgerEntry


def _entry(name: str) -> LedgerEntry:
    return LedgerEntry(kind="storage.Bucket", id=f"projects/p/buckets/{name}", address=name)


def test_lost_write_response_does_not_duplicate_the_run(make_backend: BackendFactory) -> None:
    lossy = LosesResponses(make_backend(), what="json", count=1)
    ledger = Ledger(lossy, retry=FAST_RETRY)
    with ledger.writer(min_interval=3600) as writer:
        writer.put(_entry("raw"))
        writer.record_run({"id": "run-1", "result": "ok"})
    state = ledger.read()
    assert list(state.entries) == [_entry("raw").key]
    assert state.runs == [{"id": "run-1", "result": "ok"}]


def test_lost_lock_response_is_recognised_as_our_own_lock(make_backend: BackendFactory) -> None:
    lossy = LosesResponses(make_backend(), what="lock", count=2)
    ledger = Ledger(lossy, retry=FAST_RETRY)
    lease = ledger.lock(owner="alice", ttl=3600)     # create: response lost once
    assert lease.renew() and not lease.lost           # renewal: response lost once
    assert ledger.lock_holder() == lease.holder
    lease.release()
    assert ledger.lock_holder() is None and not lease.lost


def test_without_retries_a_transient_error_surfaces(make_backend: BackendFactory) -> None:
    lossy = LosesResponses(make_backend(), what="json", count=1)
    ledger = Ledger(lossy, retry=RetryPolicy(attempts=1))
    writer = ledger.writer(min_interval=3600)
    writer.put(_entry("raw"))
    with pytest.raises(TransientError):
        writer.flush()


def test_ledger_and_lock_converge_under_emulated_faults(emulator: Any) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="test", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": emulator.endpoints["storage"]})
    client.create_bucket("ledger-faults", retry=None)
    ledger = Ledger(GcsBackend(client, bucket="ledger-faults", stack="s"), retry=FAST_RETRY)
    emulator.set_faults(rate=0.3, statuses=(503, 429), seed=11, services=("storage",))
    try:
        with ledger.lock(owner="alice", ttl=3600) as lease:
            with ledger.writer(min_interval=0) as writer:
                for index in range(10):
                    writer.put(_entry(f"b{index}"))
                    writer.flush()
                writer.record_run({"id": "run-1"})
            assert lease.renew()
        state = ledger.read()
        holder = ledger.lock_holder()
    finally:
        emulator.clear_faults()
    assert len(state.entries) == 10 and state.runs == [{"id": "run-1"}]
    assert holder is None and not lease.lost
    faults = [entry.fault for entry in emulator.journal if entry.fault]
    assert "after" in faults and "before" in faults      # both kinds of fault did happen

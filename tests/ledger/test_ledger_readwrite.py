"""Reading and writing the ledger on every backend: round trip, CAS merge,
coalescing, refusal of corrupt/newer ledgers (which are never overwritten)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from ledger_helpers import BackendFactory, CountingBackend

from mlops_infra.engine.errors import LedgerConflict, LedgerError
from mlops_infra.ledger import Intent, Ledger, LedgerEntry, LedgerRolledBack, LedgerState


def _entry(name: str, **applied: object) -> LedgerEntry:
    return LedgerEntry(kind="storage.Bucket", id=f"projects/p/buckets/{name}", address=name,
                       applied=dict(applied) or {"location": "US"},
                       outputs={"url": f"gs://{name}"})


def test_reading_a_missing_ledger_gives_empty_state_at_generation_zero(ledger: Ledger) -> None:
    state = ledger.read()
    assert state.generation == 0
    assert state.entries == {} and state.runs == []
    assert state.location == ledger.location
    assert ledger.location.endswith("ml-platform.json")


def test_write_then_read_round_trips(ledger: Ledger) -> None:
    writer = ledger.writer(base=ledger.read(), min_interval=0)
    writer.put(_entry("raw"))
    writer.put(_entry("models"))
    writer.remove(_entry("models").key)
    writer.record_run({"id": "r1", "result": "ok", "changes": {"create": 1}})
    writer.close()
    state = ledger.read()
    assert state.generation == writer.generation > 0
    assert list(state.entries) == [_entry("raw").key]
    got = state.entries[_entry("raw").key]
    assert (got.address, got.applied, got.outputs) == ("raw", {"location": "US"},
                                                       {"url": "gs://raw"})
    assert got.created_at.endswith("Z") and got.updated_at.endswith("Z")
    assert state.runs == [{"id": "r1", "result": "ok", "changes": {"create": 1}}]


def test_update_keeps_created_at(ledger: Ledger) -> None:
    with ledger.writer(min_interval=0) as writer:
        writer.put(_entry("raw"))
    created = ledger.read().entries[_entry("raw").key].created_at
    with ledger.writer(min_interval=0) as writer:
        writer.put(_entry("raw", location="EU"))
    entry = ledger.read().entries[_entry("raw").key]
    assert entry.created_at == created and entry.applied == {"location": "EU"}


def test_a_ledger_deleted_mid_run_is_not_recreated_with_fewer_entries(
        ledger: Ledger, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)               # the rescue copy goes under .mlops_infra/rescue
    with ledger.writer(min_interval=0) as writer:
        writer.put(_entry("raw"))
        writer.put(_entry("models"))
    writer = ledger.writer(base=ledger.read(), min_interval=0)
    writer.put(_entry("new"))
    writer.flush()
    current = ledger.backend.read("json")
    assert current is not None
    ledger.backend.delete("json", if_generation_match=current.generation)
    writer.put(_entry("another"))
    with pytest.raises(LedgerRolledBack, match="was deleted.*rescue") as info:
        writer.flush()
    assert ledger.backend.read("json") is None              # nothing was recreated
    rescue = str(info.value).split("saved in ")[1].split(":")[0]
    saved = json.loads(Path(rescue).read_text())
    assert set(saved["resources"]) == {_entry(n).key for n in ("raw", "models", "new", "another")}
    with pytest.raises(LedgerRolledBack):
        writer.close()


def test_intents_are_written_at_once_and_cleared_by_the_entry(ledger: Ledger) -> None:
    writer = ledger.writer(base=ledger.read(), min_interval=3600)
    intent = Intent(kind="storage.Bucket", id="projects/p/buckets/raw", address="raw")
    writer.intend([intent])                   # returns once durable, whatever the interval
    assert ledger.read().intents == {intent.key: intent}
    writer.put(_entry("raw"))
    writer.close()
    state = ledger.read()
    assert state.intents == {} and _entry("raw").key in state.entries


def test_cas_conflict_merges_both_writers_entries(make_backend: BackendFactory) -> None:
    alice, bob = Ledger(make_backend()), Ledger(make_backend())
    with alice.writer(min_interval=0) as writer:
        writer.put(_entry("shared"))
    a_writer = alice.writer(base=alice.read(), min_interval=3600)
    b_writer = bob.writer(base=bob.read(), min_interval=3600)
    b_writer.put(_entry("from-bob"))
    b_writer.remove(_entry("shared").key)
    b_writer.flush()
    a_writer.put(_entry("from-alice"))    # alice's base is now stale: her write must merge
    a_writer.record_run({"id": "alice-run"})
    a_writer.close()
    b_writer.close()
    state = alice.read()
    assert set(state.entries) == {_entry("from-bob").key, _entry("from-alice").key}
    assert state.runs == [{"id": "alice-run"}]
    assert state.generation == a_writer.generation


def test_concurrent_writers_lose_nothing(make_backend: BackendFactory) -> None:
    ledgers = [Ledger(make_backend()) for _ in range(3)]
    writers = [lg.writer(base=lg.read(), min_interval=0, max_attempts=50) for lg in ledgers]

    def work(index: int) -> None:
        for item in range(4):
            writers[index].put(_entry(f"w{index}-{item}"))
            writers[index].flush()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        writer.close()
    keys = set(ledgers[0].read().entries)
    assert keys == {_entry(f"w{i}-{j}").key for i in range(3) for j in range(4)}


def test_bounded_retries_then_a_clear_conflict_error(make_backend: BackendFactory) -> None:
    class AlwaysRacing(CountingBackend):
        """Someone else writes between every one of our reads and writes."""

        def write(self, what, data, *, if_generation_match):  # type: ignore[no-untyped-def]
            if what == "json":
                current = self.inner.read("json")
                self.inner.write("json", current.data if current else data,
                                 if_generation_match=current.generation if current else 0)
            return super().write(what, data, if_generation_match=if_generation_match)

    racing = AlwaysRacing(make_backend())
    writer = Ledger(racing).writer(min_interval=3600, max_attempts=3)
    writer.put(_entry("raw"))
    with pytest.raises(LedgerConflict, match="lost the write race 3 times"):
        writer.flush()
    assert racing.writes["json"] == 3


def test_puts_in_quick_succession_are_coalesced(make_backend: BackendFactory) -> None:
    counting = CountingBackend(make_backend())
    ledger = Ledger(counting)
    writer = ledger.writer(base=ledger.read(), min_interval=3600)
    for index in range(50):
        writer.put(_entry(f"b{index}"))
    writer.close()
    # At most one background write (then it must wait an hour) plus the final one.
    assert 1 <= counting.writes["json"] <= 2
    assert len(ledger.read().entries) == 50


def test_background_thread_writes_without_flush(make_backend: BackendFactory) -> None:
    counting = CountingBackend(make_backend())
    ledger = Ledger(counting)
    writer = ledger.writer(min_interval=0.05)
    writer.put(_entry("raw"))
    done = threading.Event()
    for _ in range(400):               # wait for the background write, at most ~20 s
        if ledger.read().entries:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set()
    writes_before_close = counting.writes["json"]
    writer.close()
    assert writes_before_close >= 1
    assert counting.writes["json"] == writes_before_close   # nothing left to write


def test_close_without_changes_writes_nothing(make_backend: BackendFactory) -> None:
    counting = CountingBackend(make_backend())
    Ledger(counting).writer(min_interval=0).close()
    assert counting.writes["json"] == 0


def test_runs_are_trimmed_to_the_last_20(ledger: Ledger) -> None:
    with ledger.writer(min_interval=3600) as writer:
        for index in range(25):
            writer.record_run({"id": str(index)})
    assert [r["id"] for r in ledger.read().runs] == [str(i) for i in range(5, 25)]


@pytest.mark.parametrize("payload, fragment", [
    (b"{\"schemaVersion\": 1, \"stack\": \"ml-pl", "not valid JSON"),
    (json.dumps({"schemaVersion": 99, "stack": "ml-platform", "resources": {}}).encode(),
     "schemaVersion 99"),
])
def test_corrupt_or_newer_ledger_is_refused_and_left_untouched(
        ledger: Ledger, payload: bytes, fragment: str) -> None:
    ledger.backend.write("json", payload, if_generation_match=0)
    with pytest.raises(LedgerError, match=fragment) as info:
        ledger.read()
    assert ledger.location in str(info.value)
    # A writer that never managed to read it (base generation 0) must not overwrite it.
    writer = ledger.writer(base=_empty_state(ledger), min_interval=3600)
    writer.put(_entry("raw"))
    with pytest.raises(LedgerError, match=fragment):
        writer.close()
    stored = ledger.backend.read("json")
    assert stored is not None and stored.data == payload


def _empty_state(ledger: Ledger) -> LedgerState:
    return LedgerState.empty(stack=ledger.stack, location=ledger.location)


def test_stacks_are_separate_objects(make_backend: BackendFactory) -> None:
    first, second = Ledger(make_backend("first")), Ledger(make_backend("second"))
    with first.writer(min_interval=0) as writer:
        writer.put(_entry("raw"))
    assert second.read().entries == {}
    assert first.location != second.location


def test_invalid_stack_name_is_refused(make_backend: BackendFactory) -> None:
    with pytest.raises(LedgerError, match="invalid stack name"):
        make_backend("../escape")


class _SlowTimedBackend(CountingBackend):
    """Records when each ledger write starts; each takes ``seconds`` (a slow network)."""

    def __init__(self, inner: object, seconds: float) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.seconds = seconds
        self.started: list[float] = []

    def write(self, what, data, *, if_generation_match):  # type: ignore[no-untyped-def]
        if what == "json":
            self.started.append(time.monotonic())
            time.sleep(self.seconds)
        return super().write(what, data, if_generation_match=if_generation_match)


def test_an_intent_written_now_does_not_let_the_next_write_come_sooner(
        make_backend: BackendFactory) -> None:
    # An intent is written at once (a create waits for it); what queues up meanwhile still
    # waits out the interval after it, instead of being written straight behind it.
    backend = _SlowTimedBackend(make_backend(), seconds=0.2)
    writer = Ledger(backend).writer(min_interval=0.5)
    intending = threading.Thread(target=writer.intend, args=([Intent(
        kind="storage.Bucket", id="projects/p/buckets/raw", address="raw", run_id="r1",
        at="2026-01-01T00:00:00Z")],))
    intending.start()
    time.sleep(0.05)
    writer.put(_entry("models"))            # arrives while the intent is being written
    intending.join()
    writer.close()
    gaps = [b - a for a, b in zip(backend.started, backend.started[1:])]
    assert len(backend.started) == 2 and min(gaps) >= 0.5, gaps
    assert _entry("models").key in Ledger(backend).read().entries

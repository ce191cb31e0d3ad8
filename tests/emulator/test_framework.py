"""The emulator's knobs: journal, fault injection, latency, persistence, control API."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests
from google.api_core import exceptions as gexc

from mlops_infra.emulator import Emulator
from mlops_infra.emulator.services import DEFAULT_SERVICES
from tests.conftest import start_emulator
from tests.emulator.support import gcs, raw


def _statuses(emu: Emulator, count: int) -> list[int]:
    """Status of ``count`` bucket GETs; 0 stands for a connection reset."""
    session = requests.Session()
    seen = []
    for _ in range(count):
        try:
            seen.append(session.get(emu.endpoints["storage"] + "/storage/v1/b/x", timeout=5)
                        .status_code)
        except requests.ConnectionError:
            session = requests.Session()
            seen.append(0)
    return seen


def test_journal_records_requests_and_mutations(emulator: Emulator) -> None:
    client = gcs(emulator)
    client.create_bucket("journal-bucket", retry=None)
    client.get_bucket("journal-bucket", retry=None)
    with pytest.raises(gexc.NotFound):
        client.get_bucket("absent-bucket", retry=None)
    entries = emulator.journal
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", "/storage/v1/b", 200),
        ("GET", "/storage/v1/b/journal-bucket", 200),
        ("GET", "/storage/v1/b/absent-bucket", 404)]
    assert entries[0].query["project"] == "test-project" and entries[0].service == "storage"
    assert [e.method for e in emulator.mutating_requests()] == ["POST"]
    assert emulator.mutating_requests("bigquery") == []
    emulator.clear_journal()
    assert emulator.journal == []


def test_same_seed_gives_same_faults(emulator: Emulator) -> None:
    emulator.set_faults(rate=0.5, statuses=(503, 429), seed=42, phase="before")
    first = _statuses(emulator, 40)
    emulator.set_faults(rate=0.5, statuses=(503, 429), seed=42, phase="before")
    second = _statuses(emulator, 40)
    emulator.set_faults(rate=0.5, statuses=(503, 429), seed=7, phase="before")
    other = _statuses(emulator, 40)
    assert first == second
    assert first != other
    assert {503, 429, 0, 404} == set(first)    # some of each; 404 = processed normally
    emulator.clear_faults()
    assert set(_statuses(emulator, 10)) == {404}


def test_before_faults_do_not_process_after_faults_do(emulator: Emulator) -> None:
    client = gcs(emulator)
    emulator.set_faults(rate=1.0, statuses=(503,), phase="before", resets=False)
    with pytest.raises(gexc.ServiceUnavailable):
        client.create_bucket("never-made", retry=None)
    emulator.set_faults(rate=1.0, statuses=(503,), phase="after", resets=False)
    with pytest.raises(gexc.ServiceUnavailable):
        client.create_bucket("made-anyway", retry=None)
    emulator.clear_faults()
    with pytest.raises(gexc.NotFound):
        client.get_bucket("never-made", retry=None)
    assert client.get_bucket("made-anyway", retry=None).name == "made-anyway"
    faults = [e.fault for e in emulator.journal]
    assert faults == ["before", "after", None, None]


def test_reset_after_processing_loses_the_response(emulator: Emulator) -> None:
    emulator.set_faults(rate=1.0, statuses=(), resets=True, phase="after", methods=["POST"])
    with pytest.raises(requests.ConnectionError):
        raw(emulator, "storage", "POST", "/storage/v1/b", params={"project": "p"},
            json={"name": "lost-answer"})
    assert raw(emulator, "storage", "GET", "/storage/v1/b/lost-answer").status_code == 200
    assert emulator.journal[0].status == 0


def test_faults_filter_by_service_and_method(emulator: Emulator) -> None:
    emulator.set_faults(rate=1.0, statuses=(500,), services=["bigquery"], resets=False)
    assert _statuses(emulator, 3) == [404, 404, 404]
    assert raw(emulator, "bigquery", "GET",
               "/bigquery/v2/projects/p/datasets").status_code == 500
    emulator.set_faults(rate=1.0, statuses=(500,), methods=["DELETE"], resets=False)
    assert _statuses(emulator, 2) == [404, 404]


def test_latency_is_settable(emulator: Emulator) -> None:
    emulator.set_latency(0.01)
    assert _statuses(emulator, 2) == [404, 404]
    emulator.set_latency(0.0)


def test_state_persists_between_runs(tmp_path: Path) -> None:
    state = tmp_path / "state" / "emulator.json"
    with start_emulator(DEFAULT_SERVICES, state_path=state) as emu:
        bucket = gcs(emu).create_bucket("persisted", retry=None)
        bucket.blob("k").upload_from_string(b"v", retry=None)
        raw(emu, "bigquery", "POST", "/bigquery/v2/projects/p/datasets",
            json={"datasetReference": {"projectId": "p", "datasetId": "kept"}})
    assert json.loads(state.read_text())["version"] == 1
    # no temp files left; the lock file processes sharing the state take stays
    assert sorted(p.name for p in state.parent.iterdir()) == [".emulator.json.lock", "emulator.json"]
    with start_emulator(DEFAULT_SERVICES, state_path=state) as emu:
        assert gcs(emu).bucket("persisted").blob("k").download_as_bytes(retry=None) == b"v"
        assert raw(emu, "bigquery", "GET",
                   "/bigquery/v2/projects/p/datasets/kept").status_code == 200
        generation = gcs(emu).bucket("persisted").get_blob("k").generation
        blob = gcs(emu).bucket("persisted").blob("k2")
        blob.upload_from_string(b"w", retry=None)
        assert blob.generation > generation


def _sections(state: Path) -> dict:
    return json.loads(state.read_text())["services"]


def test_a_save_keeps_the_sections_of_services_it_did_not_start(tmp_path: Path) -> None:
    """An emulator with fewer services (``--local`` starts only a spec's) never drops or
    rewrites the others' saved state, nor a section it does not know (another version's)."""
    state = tmp_path / "emulator.json"
    with start_emulator(("storage", "bigquery"), state_path=state) as emu:
        gcs(emu).create_bucket("first", retry=None)
        raw(emu, "bigquery", "POST", "/bigquery/v2/projects/test-project/datasets",
            json={"datasetReference": {"projectId": "test-project", "datasetId": "kept"}})
    document = json.loads(state.read_text())
    document["services"]["later-service"] = {"x": [1, {"y": 2.5}], "s": "\u00e9"}
    state.write_text(json.dumps(document))
    before = _sections(state)
    with start_emulator(("storage",), state_path=state) as emu:
        gcs(emu).create_bucket("second", retry=None)
    after = _sections(state)
    assert after["bigquery"] == before["bigquery"]
    assert after["later-service"] == before["later-service"]
    with start_emulator(("storage", "bigquery"), state_path=state) as emu:
        assert raw(emu, "bigquery", "GET",
                   "/bigquery/v2/projects/test-project/datasets/kept").status_code == 200
        assert sorted(b.name for b in gcs(emu).list_buckets(retry=None)) == ["first", "second"]


def test_emulators_sharing_a_state_file_see_and_keep_each_others_changes(tmp_path: Path) -> None:
    """Two emulators on one file at once (two ``--local`` runs in one folder): each request
    sees the other's saved changes, and no save loses them, in a service both run or not."""
    state = tmp_path / "emulator.json"
    with start_emulator(("storage",), state_path=state) as one, \
            start_emulator(("storage", "bigquery"), state_path=state) as two:
        gcs(one).create_bucket("from-one", retry=None)
        assert gcs(two).get_bucket("from-one", retry=None).name == "from-one"
        gcs(two).create_bucket("from-two", retry=None)
        raw(two, "bigquery", "POST", "/bigquery/v2/projects/test-project/datasets",
            json={"datasetReference": {"projectId": "test-project", "datasetId": "by_two"}})
        gcs(one).create_bucket("from-one-again", retry=None)
        assert sorted(b.name for b in gcs(one).list_buckets(retry=None)) == [
            "from-one", "from-one-again", "from-two"]
    with start_emulator(("storage", "bigquery"), state_path=state) as emu:
        assert sorted(b.name for b in gcs(emu).list_buckets(retry=None)) == [
            "from-one", "from-one-again", "from-two"]
        assert raw(emu, "bigquery", "GET",
                   "/bigquery/v2/projects/test-project/datasets/by_two").status_code == 200


def test_emulators_writing_one_state_file_at_the_same_time_lose_nothing(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    with start_emulator(("storage",), state_path=state) as one, \
            start_emulator(("storage",), state_path=state) as two:
        def create(emu: Emulator, prefix: str) -> None:
            for i in range(15):
                response = raw(emu, "storage", "POST", "/storage/v1/b",
                               params={"project": "test-project"}, json={"name": f"{prefix}-{i}"})
                assert response.status_code == 200, response.text

        writers = [threading.Thread(target=create, args=(emu, name))
                   for emu, name in ((one, "one"), (two, "two"))]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
    with start_emulator(("storage",), state_path=state) as emu:
        assert len(list(gcs(emu).list_buckets(retry=None))) == 30


@pytest.mark.parametrize("text", ['{"version": 2, "services": {"storage": {}}}', "[[[",
                                  '{"version": 1, "services": []}'])
def test_a_state_file_it_cannot_read_is_refused_and_left_as_it_is(tmp_path: Path,
                                                                   text: str) -> None:
    from mlops_infra.emulator import StateFileError

    state = tmp_path / "emulator.json"
    state.write_text(text)
    with pytest.raises(StateFileError, match="emulator.json"):
        Emulator.start(services=("storage",), state_path=state)
    assert state.read_text() == text


def test_control_server(emulator: Emulator) -> None:
    control = emulator.endpoints["control"]
    _statuses(emulator, 1)
    journal = requests.get(control + "/journal", timeout=5).json()
    assert [(e["method"], e["status"], e["service"]) for e in journal] == [("GET", 404, "storage")]
    assert requests.delete(control + "/journal", timeout=5).status_code == 204
    assert emulator.journal == []
    settings = {"rate": 1.0, "statuses": [429], "seed": 3, "phase": "before", "resets": False}
    assert requests.put(control + "/faults", json=settings, timeout=5).status_code == 204
    assert _statuses(emulator, 2) == [429, 429]
    assert requests.delete(control + "/faults", timeout=5).status_code == 204
    assert _statuses(emulator, 1) == [404]
    assert requests.put(control + "/latency", json={"seconds": 0.0}, timeout=5).status_code == 204
    assert requests.put(control + "/latency", json={"seconds": -1}, timeout=5).status_code == 400
    assert requests.put(control + "/faults", json={"rat": 1}, timeout=5).status_code == 400
    assert requests.put(control + "/faults", json={"phase": "later"},
                        timeout=5).status_code == 400
    assert len(emulator.journal) == 3          # control requests are not journaled


def test_concurrent_writers_get_distinct_generations(emulator: Emulator) -> None:
    bucket = gcs(emulator).create_bucket("busy", retry=None)
    generations: list[int] = []
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            blob = bucket.blob(f"obj-{i}")
            blob.upload_from_string(b"x" * i, retry=None)
            generations.append(blob.generation)
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(generations)) == 16
    assert len(list(bucket.list_blobs(retry=None))) == 16


def test_only_one_create_wins_a_race(emulator: Emulator) -> None:
    bucket = gcs(emulator).create_bucket("race", retry=None)
    outcomes: list[str] = []

    def create() -> None:
        try:
            bucket.blob("lock").upload_from_string(b"me", if_generation_match=0, retry=None)
            outcomes.append("won")
        except gexc.PreconditionFailed:
            outcomes.append("lost")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]

"""End to end: API enablement, a key ring and key, and CMEK buckets/datasets in one reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_infra.emulator import Emulator
from mlops_infra.engine.plan import Action
from tests.conftest import start_emulator

PROJECT = "test-project"
KEY = f"projects/{PROJECT}/locations/us-central1/keyRings/ml-ring/cryptoKeys/data-key"
ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
APIS = """\
  storage-api: {kind: serviceusage.Service, name: storage.googleapis.com}
  bigquery-api: {kind: serviceusage.Service, name: bigquery.googleapis.com}
  kms-api: {kind: serviceusage.Service, name: cloudkms.googleapis.com, disableOnRemoval: true}
"""
SPEC = """\
apiVersion: mlops-infra/v1
stack: cmek
project: test-project
region: us-central1
resources:
""" + APIS + """\
  ring: {kind: kms.KeyRing, name: ml-ring}
  key:
    kind: kms.CryptoKey
    name: data-key
    keyRing: ${ring.id}
    rotationPeriod: 7776000
    labels: {team: ml}
  raw:
    kind: storage.Bucket
    name: cmek-raw
    location: US
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
    defaultKmsKeyName: ${key.id}
  features:
    kind: bigquery.Dataset
    name: features
    location: US
    defaultKmsKeyName: ${key.id}
"""
WITHOUT_KEY = """\
apiVersion: mlops-infra/v1
stack: cmek
project: test-project
region: us-central1
resources:
""" + APIS + """\
  raw: {kind: storage.Bucket, name: cmek-raw, location: US, uniformBucketLevelAccess: true,
        publicAccessPrevention: enforced}
  features: {kind: bigquery.Dataset, name: features, location: US}
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = start_emulator(("storage", "bigquery", "serviceusage", "kms"), enable_in=None)  # fresh
    emu.set_operation_duration(0.2)
    try:
        yield emu
    finally:
        emu.set_operation_duration(0)
        emu.stop()


def _first(emu: Emulator, service: str, method: str, needle: str) -> int:
    return next(i for i, e in enumerate(emu.journal)
                if e.service == service and e.method == method and needle in e.path
                and e.status < 300)


def _last(emu: Emulator, service: str, method: str, needle: str) -> int:
    return max(i for i, e in enumerate(emu.journal)
               if e.service == service and e.method == method and needle in e.path
               and e.status < 300)


def test_one_reconcile_enables_apis_creates_keys_and_grants_agents(
        emulator: Emulator, open_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    stack = open_stack(path)
    plan = stack.plan()
    actions = {c.address: c.action for c in plan.resources}
    assert actions["key-storage-grant-test-project"] is Action.CREATE
    assert actions["key-bigquery-grant-test-project"] is Action.CREATE
    assert "key" in next(c for c in plan.resources if c.address == "key-storage-grant-test-project").depends_on
    emulator.clear_journal()
    result = stack.apply(plan)
    assert all(o.status == "done" for o in result.outcomes), result.outcomes

    # order: APIs enabled before anything uses them; the grants before the bucket/dataset
    assert _last(emulator, "serviceusage", "POST", "cloudkms.googleapis.com:enable") < \
        _first(emulator, "kms", "POST", "/keyRings")
    bucket_inserts = [i for i, e in enumerate(emulator.journal)
                      if e.method == "POST" and e.path == "/storage/v1/b" and e.status < 300]
    assert len(bucket_inserts) == 2                        # the ledger's bucket, then ours
    waited = [e.status for e in emulator.journal if e.path == "/storage/v1/b" and e.status >= 300]
    assert set(waited) <= {403}              # only "the key grant has not propagated yet"
    enables = [e.path for e in emulator.journal if e.path.endswith(":enable")]
    assert not [p for p in enables if "storage" in p or "bigquery" in p]   # on by default
    assert _first(emulator, "kms", "POST", ":setIamPolicy") < \
        min(bucket_inserts[-1], _first(emulator, "bigquery", "POST", "/datasets"))
    finished = [o.address for o in result.outcomes]        # in order of completion
    assert finished.index("key-storage-grant-test-project") < finished.index("raw")
    assert finished.index("key-bigquery-grant-test-project") < finished.index("features")

    policy = emulator.state("kms")["policies"][KEY]
    members = {m for b in policy["bindings"] if b["role"] == ROLE for m in b["members"]}
    assert {m.split("@")[1] for m in members} == {
        "gs-project-accounts.iam.gserviceaccount.com", "bigquery-encryption.iam.gserviceaccount.com"}
    assert {api: emulator.platform.api_state(PROJECT, api) for api in (
        "storage.googleapis.com", "bigquery.googleapis.com", "cloudkms.googleapis.com")} == dict.fromkeys(
        ("storage.googleapis.com", "bigquery.googleapis.com", "cloudkms.googleapis.com"), "ENABLED")

    emulator.clear_journal()
    again = open_stack(path).plan()
    assert [c.address for c in again.resources if c.action is not Action.NOOP] == []
    assert not again.ledger_sync
    assert emulator.mutating_requests() == []


def test_removing_the_key_abandons_it_without_allow_data_loss(
        emulator: Emulator, open_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    stack = open_stack(path)
    assert all(o.status == "done" for o in stack.apply(stack.plan()).outcomes)
    path.write_text(WITHOUT_KEY)
    plan = open_stack(path).plan()
    actions = {c.address: c.action for c in plan.resources}
    assert actions["key"] is Action.ABANDON
    assert actions["ring"] is Action.ABANDON
    assert actions["key-storage-grant-test-project"] is Action.DELETE       # only our member is taken back
    assert not any(c.blocked for c in plan.resources)

    emulator.clear_journal()
    result = open_stack(path).apply(plan)
    assert all(o.status == "done" for o in result.outcomes), result.outcomes
    assert not [e for e in emulator.mutating_requests("kms") if ":destroy" in e.path]
    versions = emulator.state("kms")["versions"][KEY]
    assert [v["state"] for v in versions] == ["ENABLED"]

    with_loss = open_stack(path).plan(allow_data_loss=True)
    assert [c.address for c in with_loss.resources if c.action is not Action.NOOP] == []


def test_a_destroyed_stack_is_applied_again_without_adopting_its_key_ring_by_hand(
        emulator: Emulator, open_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """KMS never deletes a key ring and a ring has no labels: destroy keeps its intent as the
    proof it is this stack's, silently, so the spec applies again (review 3, finding 3)."""
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace(", disableOnRemoval: true", ""))   # KMS stays readable
    stack = open_stack(path)
    assert stack.apply(stack.plan()).ok
    destroy = open_stack(path).plan(destroy=True, allow_data_loss=True)
    assert {c.address: c.action for c in destroy.resources}["ring"] is Action.ABANDON
    assert open_stack(path).apply(destroy).ok
    again = open_stack(path).plan(destroy=True, allow_data_loss=True)
    assert not again.has_changes and not again.ledger_sync, \
        [(c.address, c.action) for c in again.resources]
    plan = open_stack(path).plan()
    ring = next(c for c in plan.resources if c.address == "ring")
    assert not ring.blocked and ring.adopt, ring
    assert open_stack(path).apply(plan).ok
    assert not open_stack(path).plan().has_changes

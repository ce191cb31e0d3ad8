"""``iam.ServiceAccount`` against the emulated IAM admin API (real ``iam_admin_v1`` over gRPC)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.kinds.iam.service_account import ServiceAccount
from tests.kinds.kinds_testlib import PROJECT, ctx, fields

EMAIL = f"trainer@{PROJECT}.iam.gserviceaccount.com"


pytestmark = pytest.mark.emulator_services("iam")


@pytest.fixture
def kind(clients: Clients) -> ServiceAccount:
    return ServiceAccount(clients)


def _place(kind: ServiceAccount, name: str = "trainer", **raw: object):  # type: ignore[no-untyped-def]
    values = fields(ServiceAccount, raw)
    return kind.identify(ctx(name), values), kind.desired(ctx(name), values)


def test_identity_and_outputs_are_known_before_creation(kind: ServiceAccount) -> None:
    rid, desired = _place(kind, displayName="Trainer")
    assert rid.name == f"projects/{PROJECT}/serviceAccounts/{EMAIL}"
    assert rid.scope == f"projects/{PROJECT}"
    assert desired == {"email": EMAIL, "displayName": "Trainer"}
    assert kind.outputs_of(rid, None) == {"email": EMAIL, "member": f"serviceAccount:{EMAIL}",
                                          "name": rid.name}
    assert kind.id_from_name(rid.name) == rid
    assert kind.api == "iam.googleapis.com" and kind.labels_path is None


def test_account_id_overrides_the_name_and_is_validated(kind: ServiceAccount) -> None:
    rid, _ = _place(kind, "whatever", accountId="etl-runner")
    assert rid.parts["serviceAccounts"] == f"etl-runner@{PROJECT}.iam.gserviceaccount.com"
    with pytest.raises(errors.SpecError, match="accountId"):
        _place(kind, "Not_Valid")
    with pytest.raises(ValueError):
        fields(ServiceAccount, {"accountId": "x"})


def test_create_get_list_and_outputs(kind: ServiceAccount) -> None:
    rid, desired = _place(kind, displayName="Trainer", description="trains models",
                          disabled=True)
    created = kind.create(rid, desired)
    assert created["email"] == EMAIL and created["disabled"] is True
    live = kind.get(rid)
    assert live is not None
    normalized = kind.normalize(live)
    assert {k: normalized[k] for k in desired} == desired
    assert kind.outputs_of(rid, live)["id"] == live["uniqueId"]
    assert list(kind.list(rid.scope)) == [rid.name]
    with pytest.raises(errors.Conflict):
        kind.create(rid, desired)


def test_list_reads_every_page(emulator: Any, kind: ServiceAccount) -> None:
    emulator.set_delays(service_account=0.005)     # 105 accounts, each awaited until readable
    names = set()
    for i in range(105):
        rid, desired = _place(kind, f"account-{i:03d}")
        kind.create(rid, desired)
        names.add(rid.name)
    assert set(kind.list(f"projects/{PROJECT}")) == names


def test_update_patches_and_disables(kind: ServiceAccount) -> None:
    rid, desired = _place(kind, displayName="old", description="keep")
    live = kind.create(rid, desired)
    _, wanted = _place(kind, displayName="new", disabled=True)
    changes = [FieldChange(path="displayName", op="change", old="old", new="new"),
               FieldChange(path="description", op="remove", old="keep"),
               FieldChange(path="disabled", op="add", new=True)]
    updated = kind.update(rid, wanted, changes, live)
    assert (updated["displayName"], updated.get("description", ""), updated["disabled"]) == \
        ("new", "", True)


def test_delete_is_idempotent_and_always_needs_an_allow(kind: ServiceAccount) -> None:
    rid, desired = _place(kind)
    kind.create(rid, desired)
    assert kind.data_bearing and kind.holds_data(rid)
    kind.delete(rid, force=True)
    assert kind.get(rid) is None
    kind.delete(rid, force=True)


def test_grpc_faults_are_transient_and_retried(emulator: Emulator, kind: ServiceAccount) -> None:
    rid, desired = _place(kind)
    emulator.set_faults(rate=1.0, statuses=[503], phase="before", resets=False)
    with pytest.raises(errors.TransientError, match="503"):
        kind.get(rid)
    emulator.set_faults(rate=1.0, statuses=[429], phase="before", resets=False)
    with pytest.raises(errors.TransientError, match="429"):
        kind.create(rid, desired)
    emulator.set_faults(rate=0.5, statuses=[503, 429], seed=3, phase="random")
    policy = RetryPolicy(attempts=30, initial=0.001, maximum=0.01)
    try:
        call_with_retries(lambda: kind.create(rid, desired), policy=policy)
    except errors.Conflict:
        pass   # an "after" fault created it and lost the answer: the executor adopts it
    emulator.clear_faults()
    assert kind.get(rid) is not None
    assert any(e.fault for e in emulator.journal)

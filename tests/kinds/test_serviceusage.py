"""serviceusage.Service against the emulator, through the real Service Usage client."""

from __future__ import annotations

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.kinds.serviceusage import Service
from tests.kinds.kinds_testlib import PROJECT, ctx, fields

NAME = f"projects/{PROJECT}/services/compute.googleapis.com"


pytestmark = pytest.mark.emulator_services("serviceusage")


@pytest.fixture
def kind(clients: Clients) -> Service:
    return Service(clients)


def _rid(kind: Service, raw: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    c = ctx("compute.googleapis.com")
    f = fields(Service, raw or {})
    return kind.identify(c, f), kind.desired(c, f)


def test_identity_outputs_and_provided_api(kind: Service) -> None:
    rid, desired = _rid(kind)
    assert rid.name == NAME and rid.scope == f"projects/{PROJECT}"
    assert desired == {"state": "ENABLED"}
    assert kind.provides(ctx("compute.googleapis.com"), {}) == {
        f"api:{PROJECT}/compute.googleapis.com"}
    assert kind.outputs_of(rid, None) == {"name": "compute.googleapis.com", "id": NAME}
    with pytest.raises(errors.SpecError):
        kind.identify(ctx("compute"), {})


def test_create_enables_and_waits_for_the_operation(emulator: Emulator, kind: Service) -> None:
    rid, desired = _rid(kind)
    assert kind.get(rid) is None                 # disabled reads as absent
    emulator.set_operation_duration(0.3)
    live = kind.create(rid, desired)
    assert live["state"] == "ENABLED"
    polls = [e for e in emulator.journal if e.path.startswith("/v1/operations/")]
    assert polls                                 # it waited on the operation
    after = emulator.journal[emulator.journal.index(polls[-1]) + 1:]
    assert [e for e in after if e.path == f"/v1/{NAME}"] == []   # the response was enough
    listed = set(kind.list(rid.scope))
    assert NAME in listed and f"projects/{PROJECT}/services/storage.googleapis.com" in listed


def test_disable_on_removal_flag_is_local_and_decides_removal(kind: Service) -> None:
    from mlops_infra.engine.diff import compare

    rid, desired = _rid(kind, {"disableOnRemoval": True})
    assert desired == {"state": "ENABLED", "disableOnRemoval": True}
    kind.create(rid, desired)
    live = kind.list(rid.scope)[rid.name]          # the listing is enough: nothing to GET
    assert "disableOnRemoval" not in live and kind.complete_listing
    assert compare(kind, desired, kind.normalize(live)) == []
    assert kind.removal(desired, allow_data_loss=False) == "delete"
    assert kind.removal({"state": "ENABLED"}, allow_data_loss=True) == "abandon"
    kind.delete(rid, force=False)
    assert kind.get(rid) is None
    assert NAME not in kind.list(rid.scope)       # the default-enabled APIs stay listed

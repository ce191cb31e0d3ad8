"""``iam.Role`` (project custom roles, soft delete) against the emulated IAM admin API."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.kind import FieldChange
from mlops_infra.kinds.iam.role import Role
from tests.kinds.kinds_testlib import PROJECT, ctx, fields

NAME = f"projects/{PROJECT}/roles/model_reader"
PERMS = ["storage.objects.list", "storage.objects.get"]


pytestmark = pytest.mark.emulator_services("iam")


@pytest.fixture
def kind(clients: Clients) -> Role:
    return Role(clients)


def _place(kind: Role, name: str = "model-reader", **raw: object):  # type: ignore[no-untyped-def]
    values = fields(Role, raw)
    return kind.identify(ctx(name), values), kind.desired(ctx(name), values)


def test_identity_defaults_from_the_name(kind: Role) -> None:
    rid, desired = _place(kind, title="Model reader", includedPermissions=PERMS, stage="GA")
    assert rid.name == NAME and rid.scope == f"projects/{PROJECT}"
    assert desired == {"title": "Model reader", "includedPermissions": sorted(PERMS),
                       "stage": "GA"}
    assert kind.outputs_of(rid, None) == {"name": NAME, "roleId": "model_reader"}
    assert kind.id_from_name(NAME) == rid
    assert _place(kind, "x", roleId="custom.role")[0].name == f"projects/{PROJECT}/roles/custom.role"
    with pytest.raises(errors.SpecError, match="roleId"):
        _place(kind, "ab")
    with pytest.raises(ValueError):
        fields(Role, {"stage": "SOON"})


def test_create_get_list_compare_clean(kind: Role) -> None:
    rid, desired = _place(kind, title="Model reader", includedPermissions=PERMS, stage="BETA")
    kind.create(rid, desired)
    live = kind.get(rid)
    assert live is not None
    normalized = kind.normalize(live)
    assert {k: normalized[k] for k in desired} == desired
    listed = kind.list(rid.scope)
    assert list(listed) == [NAME]
    assert kind.normalize(listed[NAME])["includedPermissions"] == sorted(PERMS)
    with pytest.raises(errors.Conflict):
        kind.create(rid, desired)


def test_update_only_the_changed_fields(kind: Role) -> None:
    rid, desired = _place(kind, title="t", description="d", includedPermissions=PERMS)
    live = kind.create(rid, desired)
    _, wanted = _place(kind, title="t", includedPermissions=PERMS[:1], stage="GA")
    changes = [FieldChange(path="includedPermissions", op="change", old=PERMS, new=PERMS[:1]),
               FieldChange(path="description", op="remove", old="d"),
               FieldChange(path="stage", op="add", new="GA")]
    updated = kind.normalize(kind.update(rid, wanted, changes, live))
    assert (updated["title"], updated["description"], updated["includedPermissions"],
            updated["stage"]) == ("t", "", PERMS[:1], "GA")


def test_stale_etag_is_a_precondition_failure(kind: Role) -> None:
    rid, desired = _place(kind, title="t")
    stale = kind.create(rid, desired)
    kind.update(rid, {"title": "u"}, [FieldChange(path="title", op="change", new="u")], stale)
    with pytest.raises(errors.PreconditionFailed):
        kind.update(rid, {"title": "v"}, [FieldChange(path="title", op="change", new="v")], stale)


def test_delete_is_soft_and_recreate_undeletes(emulator: Emulator, kind: Role) -> None:
    rid, desired = _place(kind, title="first", includedPermissions=PERMS)
    kind.create(rid, desired)
    kind.delete(rid, force=False)
    assert kind.get(rid) is None
    assert kind.list(rid.scope) == {}
    kind.delete(rid, force=False)                     # already deleted: nothing to do
    _, again = _place(kind, title="second", includedPermissions=PERMS[:1])
    emulator.clear_journal()
    created = kind.normalize(kind.create(rid, again))
    assert (created["deleted"], created["title"], created["includedPermissions"]) == \
        (False, "second", PERMS[:1])
    assert [e.path.rsplit("/", 1)[1] for e in emulator.mutating_requests("iam")] == [
        "CreateRole", "UndeleteRole", "UpdateRole"]
    assert kind.get(rid) is not None


def test_delete_of_a_missing_role_is_not_an_error(kind: Role) -> None:
    rid, _ = _place(kind)
    kind.delete(rid, force=False)
    assert kind.get(rid) is None


def test_a_role_deleted_over_seven_days_ago_blocks_its_id_until_day_37(emulator: Emulator,
                                                                     kind: Role) -> None:
    service: Any = emulator.services["iam"]
    now = [2_000_000.0]
    service.clock = lambda: now[0]
    rid, desired = _place(kind, title="first", includedPermissions=PERMS)
    kind.create(rid, desired)
    kind.delete(rid, force=False)
    now[0] += 8 * 24 * 3600                    # past the undelete window, inside the purge
    with pytest.raises(errors.PermanentError, match="37 days after the deletion"):
        kind.create(rid, desired)
    now[0] += 30 * 24 * 3600                   # purged: the id is free
    assert kind.normalize(kind.create(rid, desired))["title"] == "first"

"""The emulated IAM admin API over insecure gRPC, driven by the real ``iam_admin_v1`` client:
service accounts, custom roles with soft delete, service-account policies with etags,
propagation delay, journal, faults and persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import iam_admin_v1
from google.iam.v1 import policy_pb2

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import IAM
from tests.conftest import start_emulator
from tests.emulator.support import eventually

PROJECT = "test-project"
CALL: dict[str, Any] = {"retry": None, "timeout": 10}
EMAIL = f"trainer@{PROJECT}.iam.gserviceaccount.com"
SA_NAME = f"projects/{PROJECT}/serviceAccounts/{EMAIL}"
ROLE = f"projects/{PROJECT}/roles/reader"


pytestmark = pytest.mark.emulator_services("iam")


@pytest.fixture
def client(emulator: Emulator) -> iam_admin_v1.IAMClient:
    return Clients(project=PROJECT, endpoints=emulator.endpoints).get(IAM)


def _create_sa(client: iam_admin_v1.IAMClient, account_id: str = "trainer",
               project: str = PROJECT, wait: bool = True,
               **fields: Any) -> iam_admin_v1.ServiceAccount:
    """Create an account and (``wait``) poll until reads see it (IAM reads are eventually
    consistent)."""
    created = client.create_service_account(request={
        "name": f"projects/{project}", "account_id": account_id, "service_account": fields},
        **CALL)
    if wait:
        eventually(lambda: client.get_service_account(name=created.name, **CALL))
    return created


def _create_role(client: iam_admin_v1.IAMClient, role_id: str = "reader",
                 **fields: Any) -> iam_admin_v1.Role:
    return client.create_role(request={"parent": f"projects/{PROJECT}", "role_id": role_id,
                                       "role": fields}, **CALL)


# --- service accounts -------------------------------------------------------------------

def test_endpoint_is_a_plain_grpc_target(emulator: Emulator) -> None:
    host, _, port = emulator.endpoints["iam"].partition(":")
    assert host == "127.0.0.1" and port.isdigit()


def test_create_get_and_duplicate(client: iam_admin_v1.IAMClient) -> None:
    created = _create_sa(client, display_name="Trainer", description="trains")
    assert created.name == SA_NAME and created.email == EMAIL
    assert created.project_id == PROJECT and created.unique_id.isdigit()
    assert len(created.unique_id) == 21 and created.etag
    assert client.get_service_account(name=SA_NAME, **CALL).display_name == "Trainer"
    by_id = client.get_service_account(name=f"projects/-/serviceAccounts/{created.unique_id}",
                                       **CALL)
    assert by_id.email == EMAIL
    with pytest.raises(gexc.AlreadyExists):
        _create_sa(client)


def test_invalid_account_id_and_unknown_account(client: iam_admin_v1.IAMClient) -> None:
    with pytest.raises(gexc.InvalidArgument):
        _create_sa(client, account_id="Bad_Id")
    with pytest.raises(gexc.NotFound):
        client.get_service_account(name=SA_NAME, **CALL)
    with pytest.raises(gexc.NotFound):
        client.delete_service_account(name=SA_NAME, **CALL)


def test_list_is_paged_and_per_project(emulator: Emulator,
                                       client: iam_admin_v1.IAMClient) -> None:
    for i in range(5):
        _create_sa(client, account_id=f"account-{i}")
    emulator.enable_apis("other-project", ["iam.googleapis.com"])
    _create_sa(client, account_id="elsewhere", project="other-project")
    first = client.list_service_accounts(request={"name": f"projects/{PROJECT}", "page_size": 2},
                                         **CALL)
    pages = list(first.pages)
    assert [len(p.accounts) for p in pages] == [2, 2, 1]
    emails = [a.email for p in pages for a in p.accounts]
    assert emails == sorted(f"account-{i}@{PROJECT}.iam.gserviceaccount.com" for i in range(5))


def test_patch_with_mask_and_enable_disable(client: iam_admin_v1.IAMClient) -> None:
    before = _create_sa(client, display_name="old", description="keep")
    patched = client.patch_service_account(request={
        "service_account": {"name": SA_NAME, "display_name": "new", "description": "ignored"},
        "update_mask": {"paths": ["display_name"]}}, **CALL)
    assert (patched.display_name, patched.description) == ("new", "keep")
    assert patched.etag != before.etag
    with pytest.raises(gexc.InvalidArgument):
        client.patch_service_account(request={"service_account": {"name": SA_NAME},
                                              "update_mask": {"paths": ["email"]}}, **CALL)
    client.disable_service_account(request={"name": SA_NAME}, **CALL)
    assert client.get_service_account(name=SA_NAME, **CALL).disabled is True
    client.enable_service_account(request={"name": SA_NAME}, **CALL)
    assert client.get_service_account(name=SA_NAME, **CALL).disabled is False


def test_delete_frees_the_id(client: iam_admin_v1.IAMClient) -> None:
    first = _create_sa(client)
    client.delete_service_account(name=SA_NAME, **CALL)
    with pytest.raises(gexc.NotFound):
        client.get_service_account(name=SA_NAME, **CALL)
    assert _create_sa(client).unique_id != first.unique_id


# --- custom roles -------------------------------------------------------------------------

def test_role_create_get_list_views(client: iam_admin_v1.IAMClient) -> None:
    role = _create_role(client, title="Reader", included_permissions=["storage.objects.get"],
                        stage="GA")
    assert role.name == ROLE and role.stage == iam_admin_v1.Role.RoleLaunchStage.GA
    with pytest.raises(gexc.AlreadyExists):
        _create_role(client)
    basic = client.list_roles(request={"parent": f"projects/{PROJECT}"}, **CALL)
    assert [(r.name, list(r.included_permissions)) for r in basic] == [(ROLE, [])]
    full = client.list_roles(request={"parent": f"projects/{PROJECT}", "view": "FULL"}, **CALL)
    assert [list(r.included_permissions) for r in full] == [["storage.objects.get"]]
    with pytest.raises(gexc.InvalidArgument):
        _create_role(client, role_id="bad", included_permissions=["not-a-permission"])


def test_role_update_mask_and_stale_etag(client: iam_admin_v1.IAMClient) -> None:
    role = _create_role(client, title="Reader", description="d")
    updated = client.update_role(request={
        "name": ROLE, "role": {"title": "New", "description": "ignored", "etag": role.etag},
        "update_mask": {"paths": ["title"]}}, **CALL)
    assert (updated.title, updated.description) == ("New", "d")
    with pytest.raises(gexc.Aborted):
        client.update_role(request={"name": ROLE, "role": {"title": "x", "etag": role.etag},
                                    "update_mask": {"paths": ["title"]}}, **CALL)


def test_role_soft_delete_blocks_reuse_until_undeleted(client: iam_admin_v1.IAMClient) -> None:
    _create_role(client, title="Reader")
    deleted = client.delete_role(request={"name": ROLE}, **CALL)
    assert deleted.deleted is True
    assert client.get_role(request={"name": ROLE}, **CALL).deleted is True
    assert list(client.list_roles(request={"parent": f"projects/{PROJECT}"}, **CALL)) == []
    listed = client.list_roles(request={"parent": f"projects/{PROJECT}", "show_deleted": True},
                               **CALL)
    assert [r.name for r in listed] == [ROLE]
    with pytest.raises(gexc.FailedPrecondition):
        _create_role(client, title="again")
    with pytest.raises(gexc.FailedPrecondition):
        client.update_role(request={"name": ROLE, "role": {"title": "x"},
                                    "update_mask": {"paths": ["title"]}}, **CALL)
    restored = client.undelete_role(request={"name": ROLE}, **CALL)
    assert (restored.deleted, restored.title) == (False, "Reader")
    with pytest.raises(gexc.FailedPrecondition):
        client.undelete_role(request={"name": ROLE}, **CALL)


def test_role_id_is_blocked_for_37_days_then_free(emulator: Emulator,
                                                  client: iam_admin_v1.IAMClient) -> None:
    service: Any = emulator.services["iam"]
    now = [1_000_000.0]
    service.clock = lambda: now[0]
    day = 24 * 3600
    _create_role(client, title="first")
    client.delete_role(request={"name": ROLE}, **CALL)
    now[0] += 7 * day - 1
    with pytest.raises(gexc.FailedPrecondition):
        _create_role(client, title="second")
    assert client.get_role(request={"name": ROLE}, **CALL).deleted is True
    now[0] += 1                                   # permanently deleted: a 30-day purge begins
    with pytest.raises(gexc.NotFound):
        client.undelete_role(request={"name": ROLE}, **CALL)
    with pytest.raises(gexc.NotFound):
        client.get_role(request={"name": ROLE}, **CALL)
    with pytest.raises(gexc.FailedPrecondition, match="37 days"):
        _create_role(client, title="second")
    now[0] += 30 * day - 1
    with pytest.raises(gexc.FailedPrecondition):
        _create_role(client, title="second")
    now[0] += 1
    assert _create_role(client, title="second").deleted is False


# --- service-account IAM policy --------------------------------------------------------------

def _binding_policy(member: str, etag: bytes = b"") -> policy_pb2.Policy:
    return policy_pb2.Policy(etag=etag, bindings=[
        policy_pb2.Binding(role="roles/iam.serviceAccountUser", members=[member])])


def test_policy_etags_change_and_stale_sets_abort(client: iam_admin_v1.IAMClient) -> None:
    _create_sa(client)
    empty = client.get_iam_policy(request={"resource": SA_NAME}, **CALL)
    assert list(empty.bindings) == [] and empty.etag
    first = client.set_iam_policy(request={
        "resource": SA_NAME, "policy": _binding_policy("user:a@example.com", empty.etag)}, **CALL)
    assert first.etag != empty.etag
    again = client.set_iam_policy(request={
        "resource": SA_NAME, "policy": _binding_policy("user:a@example.com", first.etag)}, **CALL)
    assert again.etag != first.etag
    with pytest.raises(gexc.Aborted):
        client.set_iam_policy(request={
            "resource": SA_NAME, "policy": _binding_policy("user:b@example.com", first.etag)},
            **CALL)
    got = client.get_iam_policy(request={"resource": SA_NAME}, **CALL)
    assert [list(b.members) for b in got.bindings] == [["user:a@example.com"]]
    assert got.etag == again.etag


def test_policy_rejects_unknown_service_accounts(client: iam_admin_v1.IAMClient) -> None:
    _create_sa(client)
    ghost = f"serviceAccount:ghost-account@{PROJECT}.iam.gserviceaccount.com"
    with pytest.raises(gexc.InvalidArgument, match="does not exist"):
        client.set_iam_policy(request={"resource": SA_NAME, "policy": _binding_policy(ghost)},
                              **CALL)
    agent = "serviceAccount:service-1@gcp-sa-aiplatform.iam.gserviceaccount.com"
    client.set_iam_policy(request={"resource": SA_NAME, "policy": _binding_policy(agent)}, **CALL)
    with pytest.raises(gexc.NotFound):
        client.get_iam_policy(request={"resource": SA_NAME.replace("trainer", "nobody1")},
                              **CALL)


# --- member_exists and propagation delay ----------------------------------------------------

@pytest.mark.parametrize("member", [
    "user:a@example.com", "group:g@example.com", "domain:example.com", "allUsers",
    "serviceAccount:service-12@gs-project-accounts.iam.gserviceaccount.com",
    "serviceAccount:bq-12@bigquery-encryption.iam.gserviceaccount.com",
    "serviceAccount:12@cloudservices.gserviceaccount.com",
    "deleted:serviceAccount:gone-account@test-project.iam.gserviceaccount.com?uid=1",
    "serviceAccount:service-12@gcp-sa-aiplatform.iam.gserviceaccount.com",
    "serviceAccount:12-compute@developer.gserviceaccount.com",
])
def test_members_that_are_not_user_managed_accounts_exist(emulator: Emulator,
                                                          member: str) -> None:
    assert emulator.member_exists(member)


def test_member_exists_honours_the_propagation_delay(emulator: Emulator,
                                                     client: iam_admin_v1.IAMClient) -> None:
    service: Any = emulator.services["iam"]
    now = [5_000.0]
    service.clock = lambda: now[0]
    member = f"serviceAccount:{EMAIL}"
    assert not emulator.member_exists(member)
    response = requests.put(emulator.endpoints["control"] + "/iam-propagation",
                            json={"seconds": 30}, timeout=10)
    assert response.status_code == 204
    _create_sa(client, wait=False)
    assert not emulator.member_exists(member)
    with pytest.raises(gexc.NotFound):            # reads do not see it yet either
        client.get_service_account(name=SA_NAME, **CALL)
    now[0] += 30
    assert emulator.member_exists(member)
    client.set_iam_policy(request={"resource": SA_NAME, "policy": _binding_policy(member)},
                          **CALL)
    emulator.set_iam_propagation_delay(0)
    assert emulator.member_exists(member)


def test_bad_propagation_body_is_refused(emulator: Emulator) -> None:
    response = requests.put(emulator.endpoints["control"] + "/iam-propagation",
                            json={"seconds": -1}, timeout=10)
    assert response.status_code == 400


# --- journal, faults, persistence -------------------------------------------------------------

def test_journal_records_rpcs_and_classifies_reads(emulator: Emulator,
                                                   client: iam_admin_v1.IAMClient) -> None:
    _create_sa(client, wait=False)
    eventually(lambda: client.get_service_account(name=SA_NAME, **CALL))
    list(client.list_roles(request={"parent": f"projects/{PROJECT}"}, **CALL))
    with pytest.raises(gexc.AlreadyExists):
        _create_sa(client)
    entries = [(e.method, e.path.rsplit("/", 1)[1], e.status) for e in emulator.journal]
    not_yet = [e for e in entries if e[2] == 404]
    assert not_yet and set(not_yet) == {("RPC", "GetServiceAccount", 404)}   # propagating
    assert [e for e in entries if e[2] != 404] == [
        ("RPC", "CreateServiceAccount", 200), ("RPC", "GetServiceAccount", 200),
        ("RPC", "ListRoles", 200), ("RPC", "CreateServiceAccount", 409)]
    assert all(e.path.startswith("/google.iam.admin.v1.IAM/") for e in emulator.journal)
    assert [e.path.rsplit("/", 1)[1] for e in emulator.mutating_requests("iam")] == [
        "CreateServiceAccount", "CreateServiceAccount"]


@pytest.mark.parametrize(("status", "error"), [(503, gexc.ServiceUnavailable),
                                               (429, gexc.TooManyRequests),
                                               (500, gexc.InternalServerError)])
def test_injected_faults_are_grpc_status_codes(emulator: Emulator, client: iam_admin_v1.IAMClient,
                                               status: int, error: type[Exception]) -> None:
    emulator.set_faults(rate=1.0, statuses=[status], phase="before", resets=False)
    with pytest.raises(error):
        _create_sa(client)
    emulator.clear_faults()
    with pytest.raises(gexc.NotFound):   # "before": never processed
        client.get_service_account(name=SA_NAME, **CALL)
    assert emulator.journal[0].status == status and emulator.journal[0].fault == "before"


def test_after_fault_processes_then_loses_the_answer(emulator: Emulator,
                                                     client: iam_admin_v1.IAMClient) -> None:
    emulator.set_faults(rate=1.0, statuses=[], phase="after", resets=True)
    with pytest.raises(gexc.ServiceUnavailable):
        _create_sa(client)
    emulator.clear_faults()
    assert eventually(lambda: client.get_service_account(name=SA_NAME, **CALL)).email == EMAIL
    assert emulator.journal[0].status == 0


def test_state_persists_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with start_emulator(("iam",), state_path=state) as emu:
        client = Clients(project=PROJECT, endpoints=emu.endpoints).get(IAM)
        _create_sa(client, display_name="kept")
        _create_role(client, title="kept")
        client.delete_role(request={"name": ROLE}, **CALL)
        client.set_iam_policy(request={"resource": SA_NAME,
                                       "policy": _binding_policy("user:a@example.com")}, **CALL)
    with start_emulator(("iam",), state_path=state) as emu:
        client = Clients(project=PROJECT, endpoints=emu.endpoints).get(IAM)
        assert client.get_service_account(name=SA_NAME, **CALL).display_name == "kept"
        assert client.get_role(request={"name": ROLE}, **CALL).deleted is True
        policy = client.get_iam_policy(request={"resource": SA_NAME}, **CALL)
        assert [list(b.members) for b in policy.bindings] == [["user:a@example.com"]]

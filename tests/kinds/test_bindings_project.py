"""iam.ProjectBindings and iam.ServiceAccountBindings over the wire (resourcemanager_v3 REST,
iam_admin_v1 gRPC) against the emulator: additive edits, three-way removal, authoritative
roles, concurrent writers, guardrails."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.kinds._base import WorkloadPoolMissing
from mlops_infra.kinds._clients import IAM
from mlops_infra.kinds.iam.bindings import (
    ProjectBindings,
    ServiceAccountBindings,
    read_project_policy,
    write_project_policy,
)
from tests.emulator.support import eventually
from tests.kinds.bindings_testlib import iam_emulator, pending, reconcile  # noqa: F401  (fixture)
from tests.kinds.kinds_testlib import PROJECT, ctx, fields

VIEWER = "roles/storage.objectViewer"


def _members(clients: Clients, role: str) -> list[str]:
    policy = read_project_policy(clients, PROJECT) or {}
    return sorted(m for b in policy.get("bindings", []) if b["role"] == role
                  for m in b["members"])


def _someone_else_grants(clients: Clients, role: str, member: str) -> None:
    policy = read_project_policy(clients, PROJECT) or {}
    policy.setdefault("bindings", []).append({"role": role, "members": [member]})
    write_project_policy(clients, PROJECT, policy)


def _spec(*bindings: dict[str, Any]) -> dict[str, Any]:
    return {"bindings": list(bindings)}


def test_others_bindings_survive_and_a_second_reconcile_is_a_no_op(clients: Clients) -> None:
    kind, c = ProjectBindings(clients), ctx("grants")
    spec = _spec({"role": VIEWER, "members": ["group:data@acme.com"]})
    last = reconcile(kind, c, spec)
    _someone_else_grants(clients, VIEWER, "user:outsider@acme.com")
    _someone_else_grants(clients, "roles/bigquery.user", "user:outsider@acme.com")
    assert pending(kind, c, spec, last) == []
    reconcile(kind, c, spec, last)
    assert _members(clients, VIEWER) == ["group:data@acme.com", "user:outsider@acme.com"]
    assert _members(clients, "roles/bigquery.user") == ["user:outsider@acme.com"]
    assert _members(clients, "roles/owner") == ["user:owner@example.com"]


def test_removing_a_binding_from_the_spec_removes_only_that_binding(clients: Clients) -> None:
    kind, c = ProjectBindings(clients), ctx("grants")
    both = _spec({"role": VIEWER, "members": ["group:data@acme.com", "user:x@acme.com"]},
                 {"role": "roles/bigquery.user", "members": ["user:x@acme.com"]})
    last = reconcile(kind, c, both)
    _someone_else_grants(clients, VIEWER, "user:outsider@acme.com")
    one = _spec({"role": VIEWER, "members": ["group:data@acme.com"]})
    assert sorted(pending(kind, c, one, last)) == [
        'bindings["roles/bigquery.user"]["user:x@acme.com"]',
        'bindings["roles/storage.objectViewer"]["user:x@acme.com"]']
    reconcile(kind, c, one, last)
    assert _members(clients, VIEWER) == ["group:data@acme.com", "user:outsider@acme.com"]
    assert _members(clients, "roles/bigquery.user") == []


def test_an_authoritative_role_removes_members_it_does_not_list(clients: Clients) -> None:
    kind, c = ProjectBindings(clients), ctx("grants")
    _someone_else_grants(clients, VIEWER, "user:outsider@acme.com")
    _someone_else_grants(clients, "roles/bigquery.user", "user:outsider@acme.com")
    reconcile(kind, c, _spec({"role": VIEWER, "members": ["group:data@acme.com"],
                              "authoritative": True}))
    assert _members(clients, VIEWER) == ["group:data@acme.com"]
    assert _members(clients, "roles/bigquery.user") == ["user:outsider@acme.com"]


def test_a_concurrent_writer_loses_nothing_and_the_apply_converges(emulator: Emulator,
                                                                   clients: Clients) -> None:
    kind, c = ProjectBindings(clients), ctx("grants")
    spec = _spec({"role": VIEWER, "members": ["group:data@acme.com"]})
    knob = emulator.services["resourcemanager"].set_policy_interference  # type: ignore[attr-defined]
    knob(f"projects/{PROJECT}", n=1, role=VIEWER, member="user:racer@acme.com")
    with pytest.raises(errors.PreconditionFailed, match="concurrently"):
        reconcile(kind, c, spec)
    knob(f"projects/{PROJECT}", n=3, role="roles/browser", member="user:racer@acme.com")
    last = reconcile(kind, c, spec, retry=True)
    assert _members(clients, VIEWER) == ["group:data@acme.com", "user:racer@acme.com"]
    assert _members(clients, "roles/browser") == ["user:racer@acme.com"]
    assert pending(kind, c, spec, last) == []


def test_conditional_bindings_round_trip(clients: Clients) -> None:
    kind, c = ProjectBindings(clients), ctx("grants")
    cond = {"title": "until-2030", "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")'}
    spec = _spec({"role": VIEWER, "members": ["user:temp@acme.com"], "condition": cond})
    last = reconcile(kind, c, spec)
    policy = read_project_policy(clients, PROJECT) or {}
    assert policy["version"] == 3
    assert {"role": VIEWER, "members": ["user:temp@acme.com"], "condition": cond} in policy["bindings"]
    assert pending(kind, c, spec, last) == []


def test_kind_remove_takes_back_only_what_was_applied(clients: Clients) -> None:
    kind, c = ProjectBindings(clients), ctx("grants")
    spec = _spec({"role": VIEWER, "members": ["group:data@acme.com"]})
    last = reconcile(kind, c, spec)
    _someone_else_grants(clients, VIEWER, "user:outsider@acme.com")
    kind.remove(kind.identify(c, fields(ProjectBindings, spec)), applied=last, force=False)
    assert _members(clients, VIEWER) == ["user:outsider@acme.com"]


def test_guardrails_flag_primitive_roles_and_public_members(clients: Clients) -> None:
    kind, c = ProjectBindings(clients), ctx("grants")
    desired = kind.desired(c, fields(ProjectBindings, _spec(
        {"role": "roles/owner", "members": ["user:boss@acme.com"]},
        {"role": VIEWER, "members": ["allUsers"]},
        {"role": "roles/bigquery.user", "members": ["group:ok@acme.com"]})))
    found = sorted((v.rule, v.path) for v in kind.check_policy(desired, {}))
    assert found == [("no-primitive-roles", "bindings"), ("no-public-members", "bindings")]
    fine = kind.desired(c, fields(ProjectBindings, _spec({"role": VIEWER, "members": ["user:a@acme.com"]})))
    assert kind.check_policy(fine, {}) == []


def test_service_account_bindings_for_workload_identity(emulator: Emulator,
                                                        clients: Clients) -> None:
    from google.cloud import iam_admin_v1

    account = clients.get(IAM).create_service_account(
        request=iam_admin_v1.CreateServiceAccountRequest(name=f"projects/{PROJECT}",
                                                         account_id="trainer"),
        retry=None, timeout=10)
    eventually(lambda: clients.get(IAM).get_service_account(name=account.name, retry=None,
                                                            timeout=10))   # IAM propagation
    kind, c = ServiceAccountBindings(clients), ctx("wi")
    ksa = f"serviceAccount:{PROJECT}.svc.id.goog[ml/trainer]"
    spec = {"serviceAccount": account.email,
            "bindings": [{"role": "roles/iam.workloadIdentityUser", "members": [ksa]}]}
    with pytest.raises(WorkloadPoolMissing, match="GKE cluster with Workload Identity"):
        reconcile(kind, c, spec, retry=True)       # no cluster yet: permanent, not "propagation"
    emulator.add_workload_pool(PROJECT)            # what a cluster with workloadPool brings
    last = reconcile(kind, c, spec, retry=True)
    rid = kind.identify(c, fields(ServiceAccountBindings, spec))
    assert rid.name == f"projects/{PROJECT}/serviceAccounts/{account.email}/iamBindings/wi"
    policy = kind.get_policy(rid) or {}
    assert policy["bindings"] == [{"role": "roles/iam.workloadIdentityUser", "members": [ksa]}]
    assert pending(kind, c, spec, last) == []
    kind.remove(rid, applied=last, force=False)
    assert "bindings" not in (kind.get_policy(rid) or {})

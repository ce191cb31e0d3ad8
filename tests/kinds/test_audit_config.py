"""iam.AuditConfig against the Resource Manager emulator: merged per service, other services'
configs and the project's bindings untouched, removal takes out only our services."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.kinds.iam.audit import AuditConfig
from mlops_infra.kinds.iam.bindings import read_project_policy, write_project_policy
from tests.kinds.bindings_testlib import iam_emulator, pending, reconcile  # noqa: F401  (fixture)
from tests.kinds.kinds_testlib import PROJECT, ctx, fields

THEIRS = {"service": "bigquery.googleapis.com", "auditLogConfigs": [{"logType": "DATA_WRITE"}]}


def _audit(clients: Clients) -> dict[str, Any]:
    policy = read_project_policy(clients, PROJECT) or {}
    return {c["service"]: c["auditLogConfigs"] for c in policy.get("auditConfigs", [])}


def _someone_else_audits(clients: Clients, config: dict[str, Any]) -> None:
    policy = read_project_policy(clients, PROJECT) or {}
    policy["auditConfigs"] = [*policy.get("auditConfigs", []), config]
    write_project_policy(clients, PROJECT, policy, fields=("audit_configs", "etag"))


def _spec(*configs: dict[str, Any]) -> dict[str, Any]:
    return {"auditConfigs": list(configs)}


ALL = {"service": "allServices", "auditLogConfigs": [
    {"logType": "DATA_READ", "exemptedMembers": ["user:bot@acme.com"]}, {"logType": "ADMIN_READ"}]}
GCS = {"service": "storage.googleapis.com", "auditLogConfigs": [{"logType": "DATA_WRITE"}]}


def test_merge_keeps_other_services_and_the_bindings(clients: Clients) -> None:
    _someone_else_audits(clients, THEIRS)
    kind, c = AuditConfig(clients), ctx("audit")
    last = reconcile(kind, c, _spec(ALL, GCS))
    assert _audit(clients) == {
        "bigquery.googleapis.com": [{"logType": "DATA_WRITE"}],
        "allServices": [{"logType": "ADMIN_READ"},
                        {"logType": "DATA_READ", "exemptedMembers": ["user:bot@acme.com"]}],
        "storage.googleapis.com": [{"logType": "DATA_WRITE"}]}
    assert (read_project_policy(clients, PROJECT) or {})["bindings"] == [
        {"role": "roles/owner", "members": ["user:owner@example.com"]}]
    assert pending(kind, c, _spec(ALL, GCS), last) == []


def test_removal_from_the_spec_removes_only_our_service(clients: Clients) -> None:
    kind, c = AuditConfig(clients), ctx("audit")
    last = reconcile(kind, c, _spec(ALL, GCS))
    _someone_else_audits(clients, THEIRS)
    last = reconcile(kind, c, _spec(ALL), last)
    assert set(_audit(clients)) == {"allServices", "bigquery.googleapis.com"}
    kind.remove(kind.identify(c, fields(AuditConfig, _spec(ALL))), applied=last, force=False)
    assert _audit(clients) == {"bigquery.googleapis.com": [{"logType": "DATA_WRITE"}]}


def test_a_listed_service_is_managed_whole(clients: Clients) -> None:
    kind, c = AuditConfig(clients), ctx("audit")
    last = reconcile(kind, c, _spec(ALL))
    policy = read_project_policy(clients, PROJECT) or {}
    policy["auditConfigs"][0]["auditLogConfigs"].append(
        {"logType": "DATA_WRITE", "exemptedMembers": ["user:sneaky@acme.com"]})
    policy["auditConfigs"][0]["auditLogConfigs"][1]["exemptedMembers"] = ["user:bot@acme.com",
                                                                          "user:x@acme.com"]
    write_project_policy(clients, PROJECT, policy, fields=("audit_configs", "etag"))
    assert sorted(pending(kind, c, _spec(ALL), last)) == [
        'auditConfigs.allServices.DATA_READ.exemptedMembers["user:x@acme.com"]',
        "auditConfigs.allServices.DATA_WRITE"]
    reconcile(kind, c, _spec(ALL), last)
    assert _audit(clients)["allServices"] == ALL["auditLogConfigs"][::-1]


def test_a_concurrent_change_is_retried_without_losing_it(emulator: Emulator,
                                                          clients: Clients) -> None:
    kind, c = AuditConfig(clients), ctx("audit")
    knob = emulator.services["resourcemanager"].set_policy_interference  # type: ignore[attr-defined]
    knob(f"projects/{PROJECT}", n=1, role="roles/browser", member="user:racer@acme.com")
    with pytest.raises(errors.PreconditionFailed):
        reconcile(kind, c, _spec(GCS))
    knob(f"projects/{PROJECT}", n=2, role="roles/browser", member="user:racer@acme.com")
    reconcile(kind, c, _spec(GCS), retry=True)
    assert set(_audit(clients)) == {"storage.googleapis.com"}
    assert {"role": "roles/browser", "members": ["user:racer@acme.com"]} in \
        (read_project_policy(clients, PROJECT) or {})["bindings"]


def test_spec_validation() -> None:
    with pytest.raises(ValueError):
        fields(AuditConfig, _spec({"service": "allServices", "auditLogConfigs": [{"logType": "ALL"}]}))
    with pytest.raises(ValueError):
        fields(AuditConfig, _spec({"service": "storage", "auditLogConfigs": [{"logType": "DATA_READ"}]}))

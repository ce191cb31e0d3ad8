"""End to end: IAM bindings and audit config through Stack plan/apply against the emulator
(Resource Manager, Cloud Storage, BigQuery, IAM): create-and-bind in one run with IAM
propagation delay, no-op second plan, racing writers, guardrails with waivers, removal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.api import Stack
from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine.errors import PolicyViolation
from mlops_infra.kinds._clients import BIGQUERY
from mlops_infra.kinds.iam.bindings import read_project_policy, write_project_policy
from mlops_infra.report.text import render_text
from tests.conftest import start_emulator

PROJECT = "test-project"
SA_EMAIL = f"trainer-sa@{PROJECT}.iam.gserviceaccount.com"

SPEC = """\
apiVersion: mlops-infra/v1
stack: iam-scn
project: test-project
region: us-central1
resources:
  trainer:
    kind: iam.ServiceAccount
    accountId: trainer-sa
    displayName: Trainer
  raw:
    kind: storage.Bucket
    name: iam-scn-raw
    location: US
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  features:
    kind: bigquery.Dataset
    name: features
  project-grants:
    kind: iam.ProjectBindings
    bindings:
      - role: roles/bigquery.jobUser
        members: ["serviceAccount:${trainer.email}"]
      - role: roles/logging.logWriter
        members: ["serviceAccount:${trainer.email}", group:ml@acme.com]
  raw-readers:
    kind: storage.BucketBindings
    bucket: ${raw.name}
    bindings:
      - role: roles/storage.objectViewer
        members: ["serviceAccount:${trainer.email}"]
  features-readers:
    kind: bigquery.DatasetBindings
    dataset: ${features.name}
    bindings:
      - role: roles/bigquery.dataViewer
        members: ["serviceAccount:${trainer.email}"]
  trainer-users:
    kind: iam.ServiceAccountBindings
    serviceAccount: ${trainer.email}
    bindings:
      - role: roles/iam.serviceAccountUser
        members: ["group:ML-Schedulers@acme.com"]
  audit:
    kind: iam.AuditConfig
    auditConfigs:
      - service: storage.googleapis.com
        auditLogConfigs: [{logType: DATA_READ}, {logType: DATA_WRITE}]
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """Overrides the storage+bigquery emulator: these scenarios need IAM and Resource Manager."""
    with start_emulator(("storage", "bigquery", "resourcemanager", "iam")) as emu:
        yield emu


@pytest.fixture
def clients(emulator: Emulator) -> Clients:
    return Clients(project=PROJECT, endpoints=emulator.endpoints)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "iam.yaml"
    path.write_text(text)
    return path


def _members(clients: Clients, role: str) -> list[str]:
    policy = read_project_policy(clients, PROJECT) or {}
    return sorted(m for b in policy.get("bindings", []) if b["role"] == role for m in b["members"])


def _apply(stack: Stack) -> Any:
    result = stack.apply(stack.plan())
    assert result.ok, result.failures
    return result


def test_create_and_bind_in_one_run_with_propagation_delay_then_no_op(
        emulator: Emulator, open_stack: Callable[[Path], Stack], clients: Clients,
        tmp_path: Path) -> None:
    emulator.set_iam_propagation_delay(0.1)
    spec = _write(tmp_path, SPEC)
    _apply(open_stack(spec))
    waited = [e for e in emulator.journal
              if e.path.endswith("/GetServiceAccount") and e.status == 404]
    assert waited, "the new service account should not have been readable at first"
    sa = f"serviceAccount:{SA_EMAIL}"
    assert _members(clients, "roles/bigquery.jobUser") == [sa]
    assert _members(clients, "roles/logging.logWriter") == ["group:ml@acme.com", sa]
    bucket_policy = clients.storage().bucket("iam-scn-raw").get_iam_policy(retry=None)
    assert sa in bucket_policy["roles/storage.objectViewer"]
    access = clients.get(BIGQUERY).get_dataset(f"{PROJECT}.features", retry=None).access_entries
    assert any(e.role == "READER" and e.entity_id == SA_EMAIL for e in access)
    audit = (read_project_policy(clients, PROJECT) or {})["auditConfigs"]
    assert audit == [{"service": "storage.googleapis.com", "auditLogConfigs": [
        {"logType": "DATA_READ"}, {"logType": "DATA_WRITE"}]}]

    emulator.clear_journal()
    plan = open_stack(spec).plan()
    assert not plan.has_changes, [(r.address, r.action.value, r.changes) for r in plan.resources]
    assert emulator.mutating_requests() == []


def test_others_bindings_survive_and_removal_takes_back_only_ours(
        emulator: Emulator, open_stack: Callable[[Path], Stack], clients: Clients,
        tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    _apply(open_stack(spec))
    policy = read_project_policy(clients, PROJECT) or {}
    policy["bindings"].append({"role": "roles/logging.logWriter", "members": ["user:ops@acme.com"]})
    write_project_policy(clients, PROJECT, policy)
    assert not open_stack(spec).plan().has_changes

    smaller = SPEC.replace('        members: ["serviceAccount:${trainer.email}", group:ml@acme.com]\n',
                           "        members: [group:ml@acme.com]\n")
    smaller = smaller[:smaller.index("  raw-readers:")] + smaller[smaller.index("  features-readers:"):]
    _apply(open_stack(_write(tmp_path, smaller)))
    assert _members(clients, "roles/logging.logWriter") == ["group:ml@acme.com", "user:ops@acme.com"]
    assert _members(clients, "roles/bigquery.jobUser") == [f"serviceAccount:{SA_EMAIL}"]
    bucket_policy = clients.storage().bucket("iam-scn-raw").get_iam_policy(retry=None)
    assert not bucket_policy["roles/storage.objectViewer"]
    emulator.clear_journal()
    assert not open_stack(_write(tmp_path, smaller)).plan().has_changes
    assert emulator.mutating_requests() == []


def test_racing_writers_lose_no_binding_and_the_apply_converges(
        emulator: Emulator, open_stack: Callable[[Path], Stack], clients: Clients,
        tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    stack = open_stack(spec)
    plan = stack.plan()
    knob = emulator.services["resourcemanager"].set_policy_interference  # type: ignore[attr-defined]
    knob(f"projects/{PROJECT}", n=3, role="roles/browser", member="user:racer@acme.com")
    result = stack.apply(plan)
    assert result.ok, result.failures
    assert _members(clients, "roles/browser") == ["user:racer@acme.com"]
    assert _members(clients, "roles/bigquery.jobUser") == [f"serviceAccount:{SA_EMAIL}"]
    assert [c["service"] for c in (read_project_policy(clients, PROJECT) or {})["auditConfigs"]] \
        == ["storage.googleapis.com"]
    assert not open_stack(spec).plan().has_changes


GUARDED = """\
apiVersion: mlops-infra/v1
stack: iam-guard
project: test-project
resources:
  admins:
    kind: iam.ProjectBindings
WAIVER
    bindings:
      - role: roles/bigquery.user
        members: [group:ml@acme.com]
      - role: ROLE
        members: [MEMBER]
"""


@pytest.mark.parametrize(("role", "member", "rule"), [
    ("roles/owner", "user:breakglass@acme.com", "no-primitive-roles"),
    ("roles/bigquery.dataViewer", "allUsers", "no-public-members"),
])
def test_guardrails_stop_the_plan_with_file_line_and_rule(
        emulator: Emulator, open_stack: Callable[[Path], Stack], tmp_path: Path,
        role: str, member: str, rule: str) -> None:
    text = GUARDED.replace("WAIVER\n", "").replace("ROLE", role).replace("MEMBER", member)
    spec = _write(tmp_path, text)
    emulator.clear_journal()
    with pytest.raises(PolicyViolation) as caught:
        open_stack(spec).plan()
    message = str(caught.value)
    assert f"guardrail '{rule}'" in message
    assert message.startswith(f"{spec}:7: resources.admins.bindings: ")   # the `bindings:` line
    assert emulator.mutating_requests() == []


def test_a_written_waiver_lets_the_plan_through_and_shows(
        open_stack: Callable[[Path], Stack], clients: Clients, tmp_path: Path) -> None:
    text = (GUARDED.replace("WAIVER", '    waivers: {no-primitive-roles: "break-glass account, SEC-1"}')
            .replace("ROLE", "roles/owner").replace("MEMBER", "user:breakglass@acme.com"))
    stack = open_stack(_write(tmp_path, text))
    plan = stack.plan()
    change = next(r for r in plan.resources if r.address == "admins")
    assert change.waivers == {"no-primitive-roles": "break-glass account, SEC-1"}
    assert "break-glass account, SEC-1" in render_text(plan, color=False)
    assert stack.apply(plan).ok
    assert _members(clients, "roles/owner") == ["user:breakglass@acme.com", "user:owner@example.com"]


SHARED_GRANT = """\
apiVersion: mlops-infra/v1
stack: STACK
project: test-project
resources:
  access:
    kind: iam.ProjectBindings
    bindings: [{role: roles/bigquery.jobUser, members: ["user:alice@example.com"]}]
  readers:
    kind: storage.BucketBindings
    bucket: shared-grant-data
    bindings: [{role: roles/storage.objectViewer, members: ["user:alice@example.com"]}]
"""


@pytest.mark.parametrize("second_first_share", [True, False])
def test_a_pair_another_stack_added_after_the_plan_is_theirs_and_survives_this_destroy(
        second_first_share: bool, emulator: Emulator, open_stack: Callable[[Path], Stack],
        clients: Clients, tmp_path: Path) -> None:
    """Two stacks grant one pair at once: both plan to add it, the first writes it, so the
    second's write finds it there: it is recorded as someone else's (pre-existing), and the
    second stack's destroy leaves it to the first (review 3, finding 1)."""
    clients.storage().create_bucket("shared-grant-data", retry=None)
    first, second = (tmp_path / "first.yaml", tmp_path / "second.yaml")
    first.write_text(SHARED_GRANT.replace("STACK", "team-a"))
    text = SHARED_GRANT.replace("STACK", "team-b")
    if not second_first_share:       # team-b already holds other pairs: its changes are updates
        second.write_text(text.replace("user:alice@example.com", "user:bob@example.com"))
        _apply(open_stack(second))
        text = text.replace('members: ["user:alice@example.com"]',
                            'members: ["user:alice@example.com", "user:bob@example.com"]')
    second.write_text(text)
    late = open_stack(second)
    stale = late.plan()                                   # made before team-a's write
    assert all("user:alice@example.com" in str(c.changes) for c in stale.resources
               if c.address in ("access", "readers")), stale
    _apply(open_stack(first))
    result = late.apply(stale)
    assert result.ok, result.failures
    entries = late.ledger.read().entries
    for key in ("iam.ProjectBindings:access", "storage.BucketBindings:readers"):
        assert any("alice" in p for p in entries[key].preexisting), entries[key]
    assert late.apply(late.plan(destroy=True)).ok
    assert _members(clients, "roles/bigquery.jobUser") == ["user:alice@example.com"]
    bucket = clients.storage().bucket("shared-grant-data").get_iam_policy(retry=None)
    assert "user:alice@example.com" in bucket["roles/storage.objectViewer"]

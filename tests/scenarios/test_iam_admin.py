"""End to end: a stack with service accounts and a custom role, against the emulator
(storage for the ledger, IAM admin over gRPC). Converges, then a second plan is a no-op with
no mutating request; removing a service account is blocked without --allow-data-loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import IAM

PROJECT = "test-project"
SPEC = """\
apiVersion: mlops-infra/v1
stack: iam-scn
project: test-project
region: us-central1
resources:
  trainer:
    kind: iam.ServiceAccount
    displayName: Model trainer
    description: runs training jobs
  batch-runner:
    kind: iam.ServiceAccount
    accountId: batch-runner-01
    disabled: true
  model-reader:
    kind: iam.Role
    title: Model reader
    stage: GA
    includedPermissions: [storage.objects.list, storage.objects.get]
outputs:
  trainer_email: ${trainer.email}
  trainer_member: ${trainer.member}
  role: ${model-reader.name}
"""
EMAIL = f"trainer@{PROJECT}.iam.gserviceaccount.com"


pytestmark = pytest.mark.emulator_services("storage", "iam")


@pytest.fixture
def iam_spec(tmp_path: Path) -> Path:
    path = tmp_path / "iam.yaml"
    path.write_text(SPEC)
    return path


def _actions(plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.address: r.action.value for r in plan.resources}


def test_apply_converges_and_second_plan_is_a_noop(emulator: Emulator, open_stack,  # type: ignore[no-untyped-def]
                                                   iam_spec: Path) -> None:
    stack = open_stack(iam_spec)
    plan = stack.plan()
    assert _actions(plan) == {"trainer": "create", "batch-runner": "create",
                              "model-reader": "create"}
    assert plan.outputs == {"trainer_email": EMAIL, "trainer_member": f"serviceAccount:{EMAIL}",
                            "role": f"projects/{PROJECT}/roles/model_reader"}
    result = stack.apply(plan)
    assert result.ok, result.failures
    client = Clients(project=PROJECT, endpoints=emulator.endpoints).get(IAM)
    runner = client.get_service_account(
        name=f"projects/{PROJECT}/serviceAccounts/batch-runner-01@{PROJECT}.iam.gserviceaccount.com",
        retry=None, timeout=10)
    assert runner.disabled is True
    emulator.clear_journal()
    again = open_stack(iam_spec).plan()
    assert not again.has_changes, _actions(again)
    assert emulator.mutating_requests() == []


def test_edits_update_in_place_and_role_removal_soft_deletes(emulator: Emulator, open_stack,  # type: ignore[no-untyped-def]
                                                             iam_spec: Path) -> None:
    assert open_stack(iam_spec).apply(open_stack(iam_spec).plan()).ok
    iam_spec.write_text(SPEC.replace("displayName: Model trainer", "displayName: Trainer v2")
                        .replace("    disabled: true\n", ""))
    stack = open_stack(iam_spec)
    plan = stack.plan()
    assert _actions(plan) == {"trainer": "update", "batch-runner": "update",
                              "model-reader": "noop"}
    assert stack.apply(plan).ok
    assert not open_stack(iam_spec).plan().has_changes

    without_role = SPEC.split("  model-reader:")[0] + "outputs:\n  trainer_email: ${trainer.email}\n"
    iam_spec.write_text(without_role.replace("displayName: Model trainer", "displayName: Trainer v2")
                        .replace("    disabled: true\n", ""))
    stack = open_stack(iam_spec)
    plan = stack.plan()
    assert _actions(plan)["model-reader"] == "delete"
    assert stack.apply(plan).ok
    client = Clients(project=PROJECT, endpoints=emulator.endpoints).get(IAM)
    role = client.get_role(request={"name": f"projects/{PROJECT}/roles/model_reader"},
                           retry=None, timeout=10)
    assert role.deleted is True

    iam_spec.write_text(SPEC)          # the role comes back: undeleted, not a 7-day wait
    stack = open_stack(iam_spec)
    plan = stack.plan()
    assert _actions(plan)["model-reader"] == "create"
    assert stack.apply(plan).ok
    assert not open_stack(iam_spec).plan().has_changes


def test_another_stacks_soft_deleted_role_is_a_conflict_never_undeleted(  # type: ignore[no-untyped-def]
        emulator: Emulator, open_stack, tmp_path: Path) -> None:
    """Creating a role whose id belongs to a soft-deleted role undeletes it: only one this
    stack can prove its own (the intent its delete kept); anyone else's is a conflict."""
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text(SPEC.replace("stack: iam-scn", "stack: team-b").replace("Model reader", "B"))
    stack = open_stack(theirs)
    assert stack.apply(stack.plan()).ok
    assert stack.apply(stack.plan(destroy=True, allow_data_loss=True)).ok
    ours = tmp_path / "ours.yaml"
    ours.write_text(SPEC)
    emulator.clear_journal()
    change = next(c for c in open_stack(ours).plan().resources if c.address == "model-reader")
    assert change.blocked and "pending deletion" in change.blocked, change
    assert emulator.mutating_requests("iam") == []
    client = Clients(project=PROJECT, endpoints=emulator.endpoints).get(IAM)
    role = client.get_role(request={"name": f"projects/{PROJECT}/roles/model_reader"},
                           retry=None, timeout=10)
    assert role.deleted is True and role.title == "B"
    roles = [r for r in emulator.journal if r.service == "iam" and "ListRoles" in r.path]
    assert len(roles) == 1          # one listing, deleted roles in it, per plan


def test_removing_a_service_account_needs_allow_data_loss(emulator: Emulator, open_stack,  # type: ignore[no-untyped-def]
                                                          iam_spec: Path) -> None:
    assert open_stack(iam_spec).apply(open_stack(iam_spec).plan()).ok
    iam_spec.write_text(SPEC.replace("  trainer:\n    kind: iam.ServiceAccount\n"
                                     "    displayName: Model trainer\n"
                                     "    description: runs training jobs\n", "")
                        .split("outputs:")[0])
    stack = open_stack(iam_spec)
    blocked = {r.address: r.blocked for r in stack.plan().resources}
    assert blocked["trainer"]
    plan = stack.plan(allow_data_loss=True)
    assert {r.address: r.blocked for r in plan.resources}["trainer"] is None
    assert stack.apply(plan).ok
    client = Clients(project=PROJECT, endpoints=emulator.endpoints).get(IAM)
    emails = [a.email for a in client.list_service_accounts(name=f"projects/{PROJECT}",
                                                            retry=None, timeout=10)]
    assert emails == [f"batch-runner-01@{PROJECT}.iam.gserviceaccount.com"]


def test_faults_over_grpc_are_retried_by_the_engine(emulator: Emulator, open_stack,  # type: ignore[no-untyped-def]
                                                    iam_spec: Path) -> None:
    emulator.set_faults(rate=0.3, statuses=[503, 429], seed=7, services=["iam"])
    stack = open_stack(iam_spec)
    result = stack.apply(stack.plan())
    assert result.ok, result.failures
    emulator.clear_faults()
    assert any(e.fault for e in emulator.journal if e.service == "iam")
    emulator.clear_journal()
    assert not open_stack(iam_spec).plan().has_changes
    assert emulator.mutating_requests() == []

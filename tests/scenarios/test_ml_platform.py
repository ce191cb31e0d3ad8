"""The ML platform layer end to end (real clients, the emulator): server-named Vertex AI
resources whose create response is lost are made once; Workbench data disks are never
deleted without the allow; changes that need an instance stopped wait for allowRestart; one
Workbench instance per data scientist, with stable addresses as the list changes; the
platform spec's ML resources converge in one run and then are a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator
from mlops_infra.engine.errors import UserError
from mlops_infra.engine.plan import Action
from mlops_infra.kinds._clients import NOTEBOOKS, aiplatform

pytestmark = pytest.mark.emulator_services("storage", "aiplatform", "notebooks", "resourcemanager")
REGION = "projects/test-project/locations/us-central1"

SERVER_NAMED = """\
apiVersion: mlops-infra/v1
stack: ml
project: test-project
region: us-central1
resources:
  experiments:
    kind: vertex.Tensorboard
    description: Training runs
    labels: {team: ml}
  scoring:
    kind: vertex.Endpoint
    displayName: Scoring
"""

WORKBENCH = """\
apiVersion: mlops-infra/v1
stack: ml
project: test-project
region: us-central1
vars:
  scientists: {people}
resources:
  workbench:
    kind: workbench.Instance
    forEach: ${{vars.scientists}}
    zone: us-central1-a
    machineType: {machine}
    instanceOwners: ["${{each.value}}"]
    dataDisk: {{diskSizeGb: {disk}}}
    labels: {{owner: "${{each.key}}"}}
"""


def _workbench(tmp_path: Path, *, people: str = "{alice: alice@acme.com, bob: bob@acme.com}",
               machine: str = "e2-standard-4", disk: int = 100) -> Path:
    path = tmp_path / "workbench.yaml"
    path.write_text(WORKBENCH.format(people=people, machine=machine, disk=disk))
    return path


def _instances(stack: Stack) -> dict[str, str]:
    found = stack.clients.get(NOTEBOOKS).list_instances(
        request={"parent": "projects/test-project/locations/us-central1-a"}, retry=None)
    return {i.name.rsplit("/", 1)[1]: i.state.name for i in found}


def _apply(stack: Stack, **flags: bool) -> None:
    result = stack.apply(stack.plan(**flags))
    assert result.ok, result.failures


def test_a_lost_create_response_of_a_server_named_resource_leaves_exactly_one(
        tmp_path: Path, emulator: Emulator) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SERVER_NAMED)
    emulator.set_faults(rate=1.0, statuses=(503,), phase="after", methods=["POST"],
                        services=["aiplatform"], resets=True)
    with Stack.load(spec, endpoints=emulator.endpoints) as stack:
        _apply(stack)
        lost = [e for e in emulator.journal if e.fault == "after" and e.method == "POST"]
        assert {e.path.rsplit("/", 1)[1] for e in lost} == {"tensorboards", "endpoints"}
        emulator.clear_faults()
        boards = stack.clients.get(aiplatform("TensorboardServiceClient", "us-central1"))
        endpoints = stack.clients.get(aiplatform("EndpointServiceClient", "us-central1"))
        assert len(list(boards.list_tensorboards(request={"parent": REGION}, retry=None))) == 1
        assert len(list(endpoints.list_endpoints(request={"parent": REGION}, retry=None))) == 1
        assert not stack.plan().has_changes


def test_one_instance_per_scientist_with_stable_addresses(tmp_path: Path, emulator: Emulator) -> None:
    with Stack.load(_workbench(tmp_path), endpoints=emulator.endpoints) as stack:
        _apply(stack)
        assert _instances(stack) == {"workbench-alice": "ACTIVE", "workbench-bob": "ACTIVE"}
    more = _workbench(tmp_path, people="{alice: alice@acme.com, bob: bob@acme.com, carol: carol@acme.com}")
    with Stack.load(more, endpoints=emulator.endpoints) as stack:
        plan = stack.plan()
        actions = {r.address: r.action for r in plan.resources}
        assert actions == {"workbench-alice": Action.NOOP, "workbench-bob": Action.NOOP,
                           "workbench-carol": Action.CREATE}
        _apply(stack)
        assert not stack.plan().has_changes


def test_a_workbench_data_disk_is_never_deleted_without_the_allow(tmp_path: Path,
                                                                   emulator: Emulator) -> None:
    with Stack.load(_workbench(tmp_path), endpoints=emulator.endpoints) as stack:
        _apply(stack)
    alone = _workbench(tmp_path, people="{alice: alice@acme.com}")
    with Stack.load(alone, endpoints=emulator.endpoints) as stack:          # bob leaves
        removal = {r.address: r for r in stack.plan().resources}["workbench-bob"]
        assert removal.action is Action.DELETE and "data disk" in (removal.blocked or "")
        with pytest.raises(UserError, match="blocked"):
            stack.apply(stack.plan())
        assert "workbench-bob" in _instances(stack)
    bigger = _workbench(tmp_path, people="{alice: alice@acme.com}", disk=200)
    with Stack.load(bigger, endpoints=emulator.endpoints) as stack:          # a replace
        change = {r.address: r for r in stack.plan().resources}["workbench-alice"]
        assert change.action is Action.REPLACE and "data disk" in (change.blocked or "")
        destroy = {r.address: r for r in stack.plan(destroy=True).resources}
        assert all(r.blocked for r in destroy.values())
        with pytest.raises(UserError, match="blocked"):
            stack.apply(stack.plan(destroy=True))
        assert set(_instances(stack)) == {"workbench-alice", "workbench-bob"}
        _apply(stack, destroy=True, allow_data_loss=True)
        assert _instances(stack) == {}


def test_a_machine_type_change_waits_for_allow_restart_and_leaves_it_running(
        tmp_path: Path, emulator: Emulator) -> None:
    with Stack.load(_workbench(tmp_path, people="{alice: alice@acme.com}"), endpoints=emulator.endpoints) as stack:
        _apply(stack)
    bigger = _workbench(tmp_path, people="{alice: alice@acme.com}", machine="n1-standard-8")
    with Stack.load(bigger, endpoints=emulator.endpoints) as stack:
        change = stack.plan().resources[0]
        assert change.action is Action.UPDATE and change.restart and "allowRestart" in change.blocked
        emulator.clear_journal()
        with pytest.raises(UserError, match="allowRestart"):
            stack.apply(stack.plan())
        assert emulator.mutating_requests("notebooks") == []
        _apply(stack, allow_restart=True)
        assert _instances(stack) == {"workbench-alice": "ACTIVE"}
        assert not stack.plan().has_changes


def test_the_platform_specs_ml_layer_converges_in_one_run_then_is_a_no_op(emulator: Emulator) -> None:
    from mlops_infra.emulator.services import DEFAULT_SERVICES
    from tests.conftest import ledger_drift, start_emulator

    spec = Path(__file__).resolve().parents[2] / "specs" / "platform.yaml"
    with start_emulator(DEFAULT_SERVICES, enable_in=None) as emu:        # a fresh project
        with Stack.load(spec, env="dev", endpoints=emu.endpoints) as stack:
            result = stack.apply(stack.plan())
            assert result.ok, result.failures
            ml = {o.address for o in result.outcomes if o.kind.startswith(("vertex.", "workbench."))}
            assert {"prediction-endpoint", "experiments", "feature-store", "customer-features-view",
                    "ml-metadata", "workbench-alice", "workbench-bob"} <= ml
        emu.clear_journal()
        with Stack.load(spec, env="dev", endpoints=emu.endpoints) as stack:
            drift = ledger_drift(stack, stack.plan())
            again, applied = stack.reconcile()
        still = [(r.address, r.action.value, [(c.path, c.old, c.new) for c in r.changes])
                 for r in again.resources if r.mutates]
        assert not again.has_changes and applied is None, (still, drift)
        assert emu.mutating_requests() == []

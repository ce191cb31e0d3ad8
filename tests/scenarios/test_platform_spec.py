"""The shipped platform spec, security layer included, end to end on every emulated service."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_infra.api import Stack
from mlops_infra.emulator.services import DEFAULT_SERVICES
from mlops_infra.engine.plan import Action
from mlops_infra.engine.registry import kind_class
from mlops_infra.kinds._clients import IAM, KMS
from tests.conftest import ledger_drift, start_emulator

SPEC = Path(__file__).resolve().parents[2] / "specs" / "platform.yaml"


@pytest.fixture
def full_emulator():  # type: ignore[no-untyped-def]
    with start_emulator(DEFAULT_SERVICES) as emu:
        emu.set_iam_propagation_delay(0.3)       # new service accounts "do not exist" for a while
        yield emu


def test_platform_reconciles_in_dependency_order_then_is_a_noop(full_emulator) -> None:
    with Stack.load(SPEC, env="dev", endpoints=full_emulator.endpoints) as stack:
        plan = stack.plan()
        actions = {r.address: r.action for r in plan.resources}
        default_apis = ("storage-api", "bigquery-api", "monitoring-api", "logging-api")  # default-on
        assert all(actions[a] in (Action.NOOP, Action.UPDATE) for a in default_apis)
        assert {a for a, act in actions.items() if act is not Action.CREATE} <= set(default_apis)
        result = stack.apply(plan)
        assert result.ok, result.failures

        finished = [o.address for o in result.outcomes]
        for change in plan.resources:
            for dep in change.depends_on:
                assert finished.index(dep) < finished.index(change.address), (dep, change.address)
        binding = next(r for r in plan.resources if r.address == "trainer-workload-identity")
        assert "gke" in binding.depends_on      # its Workload Identity pool is the cluster's
        enabling = {r.id.rsplit("/", 1)[-1]: r.address for r in plan.resources
                    if r.kind == "serviceusage.Service"}
        for change in plan.resources:                 # every API is enabled before its users
            api = kind_class(change.kind).api
            if api in enabling:
                assert enabling[api] in change.depends_on, change.address

    full_emulator.clear_journal()
    with Stack.load(SPEC, env="dev", endpoints=full_emulator.endpoints) as stack:
        drift = ledger_drift(stack, stack.plan())
        again, applied = stack.reconcile()
    assert not again.has_changes and applied is None, drift
    assert full_emulator.mutating_requests() == []


def test_platform_grants_service_agents_on_the_key_and_binds_least_privilege(full_emulator) -> None:
    with Stack.load(SPEC, env="dev", endpoints=full_emulator.endpoints) as stack:
        result = stack.apply(stack.plan())
        assert result.ok, result.failures
        clients = stack.clients
        key = "projects/acme-ml-dev/locations/us/keyRings/ml-platform/cryptoKeys/data"
        policy = clients.get(KMS).get_iam_policy(request={"resource": key}, retry=None)
        members = {m for b in policy.bindings if b.role == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
                   for m in b.members}
        assert any("gs-project-accounts" in m for m in members)
        assert any("bigquery-encryption" in m for m in members)
        bucket = clients.storage("acme-ml-dev").get_bucket("acme-ml-dev-raw-data", retry=None)
        assert bucket.default_kms_key_name == key
        viewers = bucket.get_iam_policy(requested_policy_version=3, retry=None)["roles/storage.objectViewer"]
        assert "serviceAccount:ml-trainer@acme-ml-dev.iam.gserviceaccount.com" in viewers


@pytest.mark.parametrize("seed", [1, 2])
def test_platform_converges_under_30_percent_faults_without_duplicates(seed: int) -> None:
    with start_emulator(DEFAULT_SERVICES) as emu:
        emu.set_faults(rate=0.3, statuses=(503, 429), seed=seed, phase="random")
        with Stack.load(SPEC, env="dev", endpoints=emu.endpoints) as stack:
            result = stack.apply(stack.plan())
        assert result.ok, result.failures
        assert sum(1 for e in emu.journal if e.fault) > 20      # the faults really happened
        emu.clear_faults()
        with Stack.load(SPEC, env="dev", endpoints=emu.endpoints) as stack:
            assert not stack.plan().has_changes
            accounts = stack.clients.get(IAM).list_service_accounts(
                request={"name": "projects/acme-ml-dev"}, retry=None)
            buckets = stack.clients.storage("acme-ml-dev").list_buckets(retry=None)
            assert sorted(a.email.split("@")[0] for a in accounts) == ["ml-pipeline", "ml-trainer"]
            assert sorted(b.name for b in buckets if b.name.startswith("acme-ml-dev-")) == [
                "acme-ml-dev-model-artifacts", "acme-ml-dev-pipeline-staging", "acme-ml-dev-raw-data"]

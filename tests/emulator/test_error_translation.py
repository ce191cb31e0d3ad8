"""``kinds._base`` turns Google's eventual-consistency errors, as the real client libraries
raise them from the emulator's wire answers, into ``EventuallyConsistent`` errors saying what
they wait for; the Workload Identity pool 400 stays permanent with a message naming the fix."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import bigquery

from mlops_infra.clients import Clients
from mlops_infra.engine import errors
from mlops_infra.kinds._base import WorkloadPoolMissing, translate_errors
from mlops_infra.kinds._clients import BIGQUERY, COMPUTE_NETWORKS, IAM, KMS, RESOURCE_MANAGER
from tests.conftest import start_emulator

FRESH = "fresh-project"
CALL: dict[str, Any] = {"retry": None, "timeout": 10}


@pytest.fixture
def emu() -> Any:
    with start_emulator(("storage", "bigquery", "kms", "compute", "iam", "resourcemanager"),
                        enable_in=None) as emulator:
        yield emulator


def _raised(fn: Any, **kwargs: Any) -> BaseException:
    with pytest.raises(errors.MlopsInfraError) as caught, translate_errors("the thing", **kwargs):
        fn()
    return caught.value


def test_service_disabled_over_rest_names_the_api_and_project(emu: Any) -> None:
    kms = Clients(project=FRESH, endpoints=emu.endpoints).get(KMS)
    error = _raised(lambda: kms.list_key_rings(
        request={"parent": f"projects/{FRESH}/locations/us"}, **CALL))
    assert isinstance(error, errors.ServiceDisabled)
    assert (error.api, error.project) == ("cloudkms.googleapis.com", FRESH)
    assert "cloudkms.googleapis.com API to finish enabling in project fresh-project" in \
        error.waiting_for


def test_service_disabled_over_grpc_too(emu: Any) -> None:
    iam = Clients(project=FRESH, endpoints=emu.endpoints).get(IAM)
    error = _raised(lambda: iam.list_service_accounts(request={"name": f"projects/{FRESH}"},
                                                      **CALL))
    assert isinstance(error, errors.ServiceDisabled) and error.api == "iam.googleapis.com"


def test_compute_legacy_errors_array_is_recognised(emu: Any) -> None:
    nets = Clients(project=FRESH, endpoints=emu.endpoints).get(COMPUTE_NETWORKS)
    error = _raised(lambda: list(nets.list(project=FRESH, **CALL)))
    assert isinstance(error, errors.ServiceDisabled) and error.api == "compute.googleapis.com"


def test_plan_reads_of_a_disabled_api_are_absent_at_once(emu: Any) -> None:
    from mlops_infra.engine.reading import ReadSettings, read_live
    from mlops_infra.engine.retry import RetryPolicy
    from mlops_infra.kinds.kms import KeyRing

    ring = KeyRing(Clients(project=FRESH, endpoints=emu.endpoints))
    rid = ring.id_from_name(f"projects/{FRESH}/locations/us/keyRings/r")
    patient = RetryPolicy(attempts=50, initial=1.0, maximum=1.0, deadline=60)   # would wait long
    state = read_live([rid], kinds={ring.name: ring}, settings=ReadSettings(policy=patient))
    assert state.get(rid) is None and state.listings[(ring.name, rid.scope)] == {}
    assert [e.path for e in emu.journal].count(f"/v1/{rid.scope}/keyRings") == 1   # not retried
    kms = Clients(project=FRESH, endpoints=emu.endpoints).get(KMS)
    with pytest.raises(errors.ServiceDisabled), translate_errors("key ring"):   # writes name it
        kms.create_key_ring(request={"parent": rid.scope, "key_ring_id": "r", "key_ring": {}},
                            **CALL)


def test_a_cmek_grant_still_propagating_is_eventually_consistent(emu: Any) -> None:
    bq = Clients(project=FRESH, endpoints=emu.endpoints).get(BIGQUERY)
    dataset = bigquery.Dataset(f"{FRESH}.secret")
    dataset.default_encryption_configuration = bigquery.EncryptionConfiguration(
        f"projects/{FRESH}/locations/us/keyRings/r/cryptoKeys/k")
    error = _raised(lambda: bq.create_dataset(dataset, retry=None))
    assert isinstance(error, errors.EventuallyConsistent)
    assert "Cloud KMS key grant" in error.waiting_for


def test_a_missing_workload_identity_pool_is_permanent_and_says_why(emu: Any) -> None:
    emu.enable_apis(FRESH, ["cloudresourcemanager.googleapis.com"])
    rm = Clients(project=FRESH, endpoints=emu.endpoints).get(RESOURCE_MANAGER)
    resource = f"projects/{FRESH}"
    policy = rm.get_iam_policy(request={"resource": resource}, **CALL)
    policy.bindings.add(role="roles/viewer",
                        members=[f"serviceAccount:{FRESH}.svc.id.goog[ml/trainer]"])
    error = _raised(lambda: rm.set_iam_policy(request={"resource": resource, "policy": policy},
                                              **CALL))
    assert isinstance(error, WorkloadPoolMissing)
    assert not isinstance(error, errors.TransientError)
    assert "GKE cluster with Workload Identity" in str(error)


def test_a_binding_to_a_propagating_service_account_is_eventually_consistent(emu: Any) -> None:
    emu.enable_apis(FRESH, ["cloudresourcemanager.googleapis.com"])
    rm = Clients(project=FRESH, endpoints=emu.endpoints).get(RESOURCE_MANAGER)
    resource = f"projects/{FRESH}"
    policy = rm.get_iam_policy(request={"resource": resource}, **CALL)
    policy.bindings.add(role="roles/viewer",
                        members=[f"serviceAccount:new-sa@{FRESH}.iam.gserviceaccount.com"])
    error = _raised(lambda: rm.set_iam_policy(request={"resource": resource, "policy": policy},
                                              **CALL))
    assert isinstance(error, errors.EventuallyConsistent)
    assert f"new-sa@{FRESH}.iam.gserviceaccount.com to propagate" in error.waiting_for


def test_a_404_right_after_create_is_eventually_consistent_only_when_said_so(emu: Any) -> None:
    emu.enable_apis(FRESH, ["iam.googleapis.com"])
    iam = Clients(project=FRESH, endpoints=emu.endpoints).get(IAM)
    name = f"projects/{FRESH}/serviceAccounts/ghost@{FRESH}.iam.gserviceaccount.com"
    plain = _raised(lambda: iam.get_service_account(name=name, **CALL))
    assert type(plain) is errors.NotFound
    fresh = _raised(lambda: iam.get_service_account(name=name, **CALL),
                    just_created="service account ghost")
    assert isinstance(fresh, errors.EventuallyConsistent)
    assert "service account ghost to become readable" in fresh.waiting_for

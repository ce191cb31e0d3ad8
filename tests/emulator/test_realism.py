"""The emulator behaves like Google by default: APIs off in a new project and eventually
consistent after enabling, IAM grants and new service accounts that take time, Workload
Identity pools, Google's error shapes (REST and gRPC details) and the control knobs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import bigquery, storage

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.realism import SCALE_ENV, Delays
from mlops_infra.kinds._clients import BIGQUERY, IAM, KMS, SERVICE_USAGE
from tests.conftest import TEST_DELAYS, start_emulator
from tests.emulator.support import eventually, raw

FRESH = "fresh-project"
CALL: dict[str, Any] = {"retry": None, "timeout": 10}
KEY_RING = f"projects/{FRESH}/locations/us"


@pytest.fixture
def emu() -> Any:
    with start_emulator(("storage", "bigquery", "serviceusage", "kms", "compute", "iam",
                         "resourcemanager"), enable_in=None) as emulator:
        yield emulator


def _clients(emu: Emulator, project: str = FRESH) -> Clients:
    return Clients(project=project, endpoints=emu.endpoints)


def _enable(emu: Emulator, api: str, project: str = FRESH) -> None:
    """Enable ``api`` and return as soon as Service Usage reports it enabled."""
    su = _clients(emu, project).get(SERVICE_USAGE)
    name = f"projects/{project}/services/{api}"
    su.enable_service(request={"name": name}, **CALL)

    def enabled() -> None:
        if su.get_service(request={"name": name}, **CALL).state.name != "ENABLED":
            raise LookupError(name)

    eventually(enabled, errors=(LookupError,))


# --- API enablement ----------------------------------------------------------------------

def test_default_apis_work_in_a_fresh_project(emu: Emulator) -> None:
    _clients(emu).storage().create_bucket("fresh-bucket", retry=None)
    _clients(emu).get(BIGQUERY).create_dataset("fresh_ds", retry=None)


def test_a_disabled_api_answers_403_service_disabled_in_googles_shape(emu: Emulator) -> None:
    response = raw(emu, "compute", "GET", f"/compute/v1/projects/{FRESH}/global/networks")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["errors"][0]["reason"] == "accessNotConfigured"
    assert error["errors"][0]["domain"] == "usageLimits"
    assert "Compute Engine API has not been used in project fresh-project" in error["message"]
    info = next(d for d in error["details"] if d["@type"].endswith("google.rpc.ErrorInfo"))
    assert (info["reason"], info["domain"]) == ("SERVICE_DISABLED", "googleapis.com")
    assert info["metadata"]["service"] == "compute.googleapis.com"
    assert info["metadata"]["consumer"] == f"projects/{FRESH}"
    with pytest.raises(gexc.Forbidden) as caught:                # the client library sees it
        _clients(emu).get(KMS).list_key_rings(request={"parent": KEY_RING}, **CALL)
    assert caught.value.reason == "SERVICE_DISABLED"
    assert caught.value.metadata["service"] == "cloudkms.googleapis.com"


def test_grpc_apis_send_the_error_info_detail(emu: Emulator) -> None:
    iam = _clients(emu).get(IAM)
    with pytest.raises(gexc.PermissionDenied) as caught:
        iam.create_service_account(request={"name": f"projects/{FRESH}", "account_id": "runner"},
                                   **CALL)
    assert caught.value.reason == "SERVICE_DISABLED"
    assert caught.value.domain == "googleapis.com"
    assert caught.value.metadata["service"] == "iam.googleapis.com"


def test_an_enabled_api_still_answers_403_until_it_has_propagated(emu: Emulator) -> None:
    emu.set_delays(api_enablement=0.5)
    _enable(emu, "cloudkms.googleapis.com")
    kms = _clients(emu).get(KMS)
    with pytest.raises(gexc.Forbidden, match="has not been used"):
        kms.list_key_rings(request={"parent": KEY_RING}, **CALL)
    assert list(eventually(lambda: kms.list_key_rings(request={"parent": KEY_RING}, **CALL),
                           errors=(gexc.Forbidden,))) == []
    statuses = [e.status for e in emu.journal if e.service == "kms"]
    assert statuses[0] == 403 and statuses[-1] == 200


def test_disabling_turns_the_api_off_again(emu: Emulator) -> None:
    emu.enable_apis(FRESH, ["compute.googleapis.com"])
    assert raw(emu, "compute", "GET",
               f"/compute/v1/projects/{FRESH}/global/networks").status_code == 200
    su = _clients(emu).get(SERVICE_USAGE)
    su.disable_service(request={"name": f"projects/{FRESH}/services/compute.googleapis.com"},
                       **CALL).result(timeout=10)
    assert raw(emu, "compute", "GET",
               f"/compute/v1/projects/{FRESH}/global/networks").status_code == 403


def test_the_enabled_apis_knob_and_its_control_route(emu: Emulator) -> None:
    response = requests.put(emu.endpoints["control"] + "/enabled-apis", timeout=10,
                            json={"project": FRESH, "apis": ["compute.googleapis.com"]})
    assert response.status_code == 204
    assert raw(emu, "compute", "GET",
               f"/compute/v1/projects/{FRESH}/global/networks").status_code == 200
    assert requests.put(emu.endpoints["control"] + "/enabled-apis", json={"project": FRESH},
                        timeout=10).status_code == 400


def test_enablement_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with start_emulator(("serviceusage", "kms"), enable_in=None, state_path=state) as first:
        first.set_delays(api_enablement=0)
        _enable(first, "cloudkms.googleapis.com")
    with start_emulator(("serviceusage", "kms"), enable_in=None, state_path=state) as second:
        kms = _clients(second).get(KMS)
        eventually(lambda: kms.list_key_rings(request={"parent": KEY_RING}, **CALL),
                   errors=(gexc.Forbidden,))
        su = _clients(second).get(SERVICE_USAGE)
        assert su.get_service(request={"name": f"projects/{FRESH}/services/cloudkms.googleapis.com"},
                              **CALL).state.name == "ENABLED"
    assert "_platform" in json.loads(state.read_text())["services"]


# --- IAM propagation ----------------------------------------------------------------------

def _key_with_grant(emu: Emulator, agent: str) -> str:
    emu.enable_apis(FRESH, ["cloudkms.googleapis.com"])
    kms = _clients(emu).get(KMS)
    kms.create_key_ring(request={"parent": KEY_RING, "key_ring_id": "ring", "key_ring": {}},
                        **CALL)
    key = kms.create_crypto_key(request={"parent": f"{KEY_RING}/keyRings/ring",
                                         "crypto_key_id": "k",
                                         "crypto_key": {"purpose": "ENCRYPT_DECRYPT"}}, **CALL)
    policy = kms.get_iam_policy(request={"resource": key.name}, **CALL)
    policy.bindings.add(role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                        members=[f"serviceAccount:{agent}"])
    kms.set_iam_policy(request={"resource": key.name, "policy": policy}, **CALL)
    return str(key.name)


def test_a_cmek_bucket_needs_the_key_grant_to_have_propagated(emu: Emulator) -> None:
    emu.set_delays(iam_policy=0.5)
    gcs = _clients(emu).storage()
    agent = gcs.get_service_account_email(project=FRESH, retry=None)
    bucket = gcs.bucket("cmek-bucket")
    bucket.default_kms_key_name = f"{KEY_RING}/keyRings/ring/cryptoKeys/k"
    with pytest.raises(gexc.Forbidden, match="Permission denied on Cloud KMS key"):
        gcs.create_bucket(bucket, retry=None)             # no such key, no grant
    bucket.default_kms_key_name = _key_with_grant(emu, agent)
    with pytest.raises(gexc.Forbidden, match="Permission denied on Cloud KMS key"):
        gcs.create_bucket(bucket, retry=None)             # granted, not propagated yet
    eventually(lambda: gcs.create_bucket(bucket, retry=None), errors=(gexc.Forbidden,))


def test_a_cmek_dataset_needs_the_key_grant_to_have_propagated(emu: Emulator) -> None:
    emu.set_delays(iam_policy=0.5)
    bq = _clients(emu).get(BIGQUERY)
    key = _key_with_grant(emu, bq.get_service_account_email(project=FRESH, retry=None))
    dataset = bigquery.Dataset(f"{FRESH}.secret")
    dataset.default_encryption_configuration = bigquery.EncryptionConfiguration(key)
    with pytest.raises(gexc.Forbidden, match="cloudkms.cryptoKeyVersions.useToEncrypt"):
        bq.create_dataset(dataset, retry=None)
    eventually(lambda: bq.create_dataset(dataset, retry=None), errors=(gexc.Forbidden,))


def test_a_new_service_account_is_invisible_for_a_while(emu: Emulator) -> None:
    emu.enable_apis(FRESH, ["iam.googleapis.com", "cloudresourcemanager.googleapis.com"])
    emu.set_delays(service_account=0.5)
    iam = _clients(emu).get(IAM)
    created = iam.create_service_account(request={"name": f"projects/{FRESH}",
                                                  "account_id": "trainer"}, **CALL)
    with pytest.raises(gexc.NotFound):
        iam.get_service_account(name=created.name, **CALL)
    with pytest.raises(gexc.NotFound):
        iam.get_iam_policy(request={"resource": created.name}, **CALL)
    with pytest.raises(gexc.NotFound):
        iam.disable_service_account(request={"name": created.name}, **CALL)
    assert list(iam.list_service_accounts(request={"name": f"projects/{FRESH}"}, **CALL)) == []
    with pytest.raises(gexc.AlreadyExists):                     # writes are consistent
        iam.create_service_account(request={"name": f"projects/{FRESH}",
                                            "account_id": "trainer"}, **CALL)
    assert eventually(lambda: iam.get_service_account(name=created.name, **CALL)).email


# --- Workload Identity pools ------------------------------------------------------------------

def test_workload_identity_members_need_the_pool(emu: Emulator) -> None:
    emu.enable_apis(FRESH, ["iam.googleapis.com"])
    iam = _clients(emu).get(IAM)
    sa = iam.create_service_account(request={"name": f"projects/{FRESH}", "account_id": "gsa-01"},
                                    **CALL)
    member = f"serviceAccount:{FRESH}.svc.id.goog[ml/trainer]"

    def bind() -> Any:
        policy = iam.get_iam_policy(request={"resource": sa.name}, **CALL)
        policy.bindings.add(role="roles/iam.workloadIdentityUser", members=[member])
        return iam.set_iam_policy(request={"resource": sa.name, "policy": policy}, **CALL)

    with pytest.raises(gexc.InvalidArgument) as caught:
        eventually(bind)
    assert f"Identity Pool does not exist ({FRESH}.svc.id.goog)" in caught.value.message
    response = requests.put(emu.endpoints["control"] + "/workload-pools", json={"pool": FRESH},
                            timeout=10)
    assert response.json() == {"pool": f"{FRESH}.svc.id.goog"}
    assert member in bind().bindings[0].members
    assert requests.get(emu.endpoints["control"] + "/workload-pools", timeout=10).json() == {
        "pools": [f"{FRESH}.svc.id.goog"]}


def test_a_project_policy_naming_a_missing_pool_is_a_400(emu: Emulator) -> None:
    emu.enable_apis(FRESH, ["cloudresourcemanager.googleapis.com"])
    base = f"/v3/projects/{FRESH}"
    policy = raw(emu, "resourcemanager", "POST", base + ":getIamPolicy", json={}).json()
    policy["bindings"].append({"role": "roles/viewer",
                               "members": [f"serviceAccount:{FRESH}.svc.id.goog[a/b]"]})
    answer = raw(emu, "resourcemanager", "POST", base + ":setIamPolicy", json={"policy": policy})
    assert answer.status_code == 400 and "Identity Pool does not exist" in answer.text


# --- delays: defaults, knobs, scale -----------------------------------------------------------

def test_the_defaults_are_the_documented_ones() -> None:
    delays = Delays()
    assert delays.operation_for("serviceusage") == 10 and delays.operation_for("compute") == 7
    assert (delays.api_enablement, delays.iam_policy, delays.service_account,
            delays.operation_wait) == (60, 120, 10, 120)


def test_the_scale_environment_variable_multiplies_every_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCALE_ENV, "0.5")
    delays = Delays.realistic()
    assert (delays.api_enablement, delays.operation_for("compute")) == (30, 3.5)
    monkeypatch.setenv(SCALE_ENV, "fast")
    with pytest.raises(ValueError, match=SCALE_ENV):
        Delays.realistic()


def test_an_emulator_is_realistic_unless_told_otherwise() -> None:
    with Emulator.start(services=("storage",)) as emulator:
        assert emulator.delays == Delays.realistic()


def test_the_delays_control_route(emu: Emulator) -> None:
    control = emu.endpoints["control"]
    answer = requests.put(control + "/delays", timeout=10,
                          json={"apiEnablement": 2, "operations": {"compute": 0.5}})
    assert answer.status_code == 200
    assert answer.json()["apiEnablement"] == 2 and emu.delays.operation_for("compute") == 0.5
    assert emu.delays.operation_for("serviceusage") == TEST_DELAYS.operation_for("serviceusage")
    assert requests.get(control + "/delays", timeout=10).json()["operationWait"] == \
        TEST_DELAYS.operation_wait
    assert requests.put(control + "/delays", json={"nope": 1}, timeout=10).status_code == 400
    assert requests.put(control + "/delays", json={"iamPolicy": -1}, timeout=10).status_code == 400


def test_set_operation_duration_is_per_emulator(emu: Emulator) -> None:
    with start_emulator(("serviceusage",), enable_in=None) as other:
        emu.set_operation_duration(30)
        assert emu.delays.operation_for("serviceusage") == 30
        assert other.delays.operation_for("serviceusage") == TEST_DELAYS.operation_for(
            "serviceusage")


def test_the_journal_records_bodies_only_when_asked(emu: Emulator) -> None:
    emu.enable_apis(FRESH, ["iam.googleapis.com"])
    raw(emu, "storage", "POST", "/storage/v1/b", params={"project": FRESH}, json={"name": "b-1"})
    assert emu.journal[-1].request is None and emu.journal[-1].response is None
    requests.put(emu.endpoints["control"] + "/journal/bodies", json={"on": True}, timeout=10)
    raw(emu, "storage", "POST", "/storage/v1/b", params={"project": FRESH}, json={"name": "b-2"})
    entry = emu.journal[-1]
    assert entry.request == {"name": "b-2"} and entry.response["name"] == "b-2"
    with pytest.raises(gexc.NotFound):
        _clients(emu).get(IAM).get_service_account(
            name=f"projects/{FRESH}/serviceAccounts/x@{FRESH}.iam.gserviceaccount.com", **CALL)
    failed = emu.journal[-1]
    assert failed.method == "RPC" and failed.response["code"] == "NOT_FOUND"
    assert failed.request == {"name": f"projects/{FRESH}/serviceAccounts/"
                                      f"x@{FRESH}.iam.gserviceaccount.com"}


def test_storage_objects_are_unaffected_by_gating(emu: Emulator) -> None:
    client: storage.Client = _clients(emu).storage()
    bucket = client.create_bucket("plain-fresh", retry=None)
    bucket.blob("o").upload_from_string(b"x", retry=None)
    started = time.monotonic()
    assert bucket.blob("o").download_as_bytes(retry=None) == b"x"
    assert time.monotonic() - started >= 0             # reads go through the same gate

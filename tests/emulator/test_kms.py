"""The Cloud KMS emulator through the real google-cloud-kms REST client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.api_core import exceptions as gexc
from google.cloud import kms_v1

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import BIGQUERY, KMS
from tests.conftest import start_emulator
from tests.emulator.support import PROJECT, raw

LOC = f"projects/{PROJECT}/locations/europe-west1"
RING = f"{LOC}/keyRings/ring"
KEY = f"{RING}/cryptoKeys/key"
CALL = {"retry": None, "timeout": 10}
ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = start_emulator(("kms",))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def kms(emu: Emulator) -> kms_v1.KeyManagementServiceClient:
    client = Clients(project=PROJECT, endpoints=emu.endpoints).get(KMS)
    client.create_key_ring(request={"parent": LOC, "key_ring_id": "ring", "key_ring": {}}, **CALL)
    return client


def _key(kms: kms_v1.KeyManagementServiceClient, **fields: object) -> kms_v1.CryptoKey:
    body = {"purpose": kms_v1.CryptoKey.CryptoKeyPurpose.ENCRYPT_DECRYPT, **fields}
    return kms.create_crypto_key(request={"parent": RING, "crypto_key_id": "key",
                                          "crypto_key": body}, **CALL)


def test_key_rings_are_created_once_and_listed(kms: kms_v1.KeyManagementServiceClient) -> None:
    with pytest.raises(gexc.Conflict):
        kms.create_key_ring(request={"parent": LOC, "key_ring_id": "ring", "key_ring": {}},
                            **CALL)
    assert kms.get_key_ring(request={"name": RING}, **CALL).create_time
    assert [r.name for r in kms.list_key_rings(request={"parent": LOC}, **CALL)] == [RING]
    with pytest.raises(gexc.NotFound):
        kms.get_key_ring(request={"name": f"{LOC}/keyRings/other"}, **CALL)


def test_key_rings_and_keys_cannot_be_deleted(emu: Emulator, kms: object) -> None:
    assert raw(emu, "kms", "DELETE", f"/v1/{RING}").status_code == 404


def test_a_new_key_has_server_set_fields(kms: kms_v1.KeyManagementServiceClient) -> None:
    with pytest.raises(gexc.BadRequest, match="next_rotation_time must be set"):
        _key(kms, rotation_period={"seconds": 86400 * 90})
    key = _key(kms, rotation_period={"seconds": 86400 * 90}, labels={"team": "ml"},
               next_rotation_time={"seconds": 2_000_000_000})
    assert key.name == KEY
    assert key.primary.name == f"{KEY}/cryptoKeyVersions/1"
    assert key.primary.state == kms_v1.CryptoKeyVersion.CryptoKeyVersionState.ENABLED
    assert key.version_template.protection_level == kms_v1.ProtectionLevel.SOFTWARE
    assert key.version_template.algorithm.name == "GOOGLE_SYMMETRIC_ENCRYPTION"
    assert key.next_rotation_time and key.create_time
    with pytest.raises(gexc.Conflict):
        _key(kms)


def test_key_validation(kms: kms_v1.KeyManagementServiceClient) -> None:
    with pytest.raises(gexc.BadRequest):
        _key(kms, rotation_period={"seconds": 3600})
    with pytest.raises(gexc.BadRequest):
        kms.create_crypto_key(request={"parent": RING, "crypto_key_id": "nopurpose",
                                       "crypto_key": {}}, **CALL)
    with pytest.raises(gexc.NotFound):
        kms.create_crypto_key(request={"parent": f"{LOC}/keyRings/missing", "crypto_key_id": "k",
                                       "crypto_key": {"purpose": 1}}, **CALL)


def test_patch_follows_the_update_mask(kms: kms_v1.KeyManagementServiceClient) -> None:
    _key(kms, labels={"a": "1"})
    updated = kms.update_crypto_key(request={
        "crypto_key": {"name": KEY, "labels": {"b": "2"}, "rotation_period": {"seconds": 86400}},
        "update_mask": {"paths": ["labels"]}}, **CALL)
    assert dict(updated.labels) == {"b": "2"}
    assert not updated.rotation_period
    for immutable in ("purpose", "version_template.protection_level"):
        with pytest.raises(gexc.BadRequest):
            kms.update_crypto_key(request={"crypto_key": {"name": KEY},
                                           "update_mask": {"paths": [immutable]}}, **CALL)


def test_destroy_schedules_versions(kms: kms_v1.KeyManagementServiceClient) -> None:
    _key(kms)
    version = kms.destroy_crypto_key_version(request={"name": f"{KEY}/cryptoKeyVersions/1"},
                                             **CALL)
    assert version.state == kms_v1.CryptoKeyVersion.CryptoKeyVersionState.DESTROY_SCHEDULED
    assert version.destroy_time
    with pytest.raises(gexc.BadRequest):
        kms.destroy_crypto_key_version(request={"name": f"{KEY}/cryptoKeyVersions/1"}, **CALL)
    listed = list(kms.list_crypto_key_versions(request={"parent": KEY}, **CALL))
    assert [v.state.name for v in listed] == ["DESTROY_SCHEDULED"]


def test_iam_policy_etags(kms: kms_v1.KeyManagementServiceClient) -> None:
    _key(kms)
    first = kms.get_iam_policy(request={"resource": KEY}, **CALL)
    first.bindings.add(role=ROLE, members=["user:a@example.com"])
    stored = kms.set_iam_policy(request={"resource": KEY, "policy": first}, **CALL)
    assert stored.etag != first.etag
    assert [list(b.members) for b in stored.bindings] == [["user:a@example.com"]]
    with pytest.raises(gexc.Conflict):       # the first read's etag is stale now
        kms.set_iam_policy(request={"resource": KEY, "policy": first}, **CALL)
    assert kms.get_iam_policy(request={"resource": KEY}, **CALL).etag == stored.etag


def test_iam_members_are_checked(emu: Emulator, kms: kms_v1.KeyManagementServiceClient) -> None:
    _key(kms)
    policy = kms.get_iam_policy(request={"resource": KEY}, **CALL)
    policy.bindings.add(role=ROLE, members=["nobody"])
    with pytest.raises(gexc.BadRequest):
        kms.set_iam_policy(request={"resource": KEY, "policy": policy}, **CALL)


def test_service_agents_of_storage_and_bigquery() -> None:
    emulator = start_emulator(("storage", "bigquery"))
    try:
        clients = Clients(project=PROJECT, endpoints=emulator.endpoints)
        gcs = clients.storage().get_service_account_email(project=PROJECT, retry=None)
        bq = clients.get(BIGQUERY).get_service_account_email(project=PROJECT, retry=None)
    finally:
        emulator.stop()
    number = gcs.split("@")[0].removeprefix("service-")
    assert number.isdigit() and len(number) == 12
    assert gcs == f"service-{number}@gs-project-accounts.iam.gserviceaccount.com"
    assert bq == f"bq-{number}@bigquery-encryption.iam.gserviceaccount.com"



@pytest.fixture
def kms_with_iam() -> Iterator[kms_v1.KeyManagementServiceClient]:
    emulator = start_emulator(("kms", "iam"))
    try:
        kms = Clients(project=PROJECT, endpoints=emulator.endpoints).get(KMS)
        kms.create_key_ring(request={"parent": LOC, "key_ring_id": "ring", "key_ring": {}}, **CALL)
        _key(kms)
        yield kms
    finally:
        emulator.stop()


def _grant(kms: kms_v1.KeyManagementServiceClient, member: str) -> None:
    policy = kms.get_iam_policy(request={"resource": KEY}, **CALL)
    policy.bindings.add(role=ROLE, members=[member])
    kms.set_iam_policy(request={"resource": KEY, "policy": policy}, **CALL)


def test_unknown_service_accounts_are_refused_when_iam_is_emulated(
        kms_with_iam: kms_v1.KeyManagementServiceClient) -> None:
    with pytest.raises(gexc.BadRequest, match="does not exist"):
        _grant(kms_with_iam, f"serviceAccount:ghost@{PROJECT}.iam.gserviceaccount.com")


def test_service_agents_are_accepted_when_iam_is_emulated(
        kms_with_iam: kms_v1.KeyManagementServiceClient) -> None:
    _grant(kms_with_iam, "serviceAccount:service-1@gs-project-accounts.iam.gserviceaccount.com")
    _grant(kms_with_iam, "serviceAccount:bq-1@bigquery-encryption.iam.gserviceaccount.com")

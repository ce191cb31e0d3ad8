"""Google's semantics the kinds must live with: IAM conditions and policy versions on KMS keys,
lower-cased members, BigQuery access normalisation and conditional entries, set-valued compute
lists, documented conflicts and clearing a dataset's default table expiration."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import bigquery, compute_v1
from google.iam.v1 import policy_pb2

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import BIGQUERY, COMPUTE_NETWORKS, KMS
from tests.emulator.support import PROJECT, raw

CALL: dict[str, Any] = {"retry": None, "timeout": 10}
LOC = f"projects/{PROJECT}/locations/us"
KEY = f"{LOC}/keyRings/ring/cryptoKeys/k"
ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
COND = {"title": "until-2030", "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")'}
ROOT = "https://www.googleapis.com/compute/v1/"

pytestmark = pytest.mark.emulator_services("kms", "bigquery", "compute", "resourcemanager")


def _clients(emu: Emulator) -> Clients:
    return Clients(project=PROJECT, endpoints=emu.endpoints)


@pytest.fixture
def key(emulator: Emulator) -> str:
    kms = _clients(emulator).get(KMS)
    kms.create_key_ring(request={"parent": LOC, "key_ring_id": "ring", "key_ring": {}}, **CALL)
    kms.create_crypto_key(request={"parent": f"{LOC}/keyRings/ring", "crypto_key_id": "k",
                                   "crypto_key": {"purpose": "ENCRYPT_DECRYPT"}}, **CALL)
    return KEY


def _kms_policy(emu: Emulator, version: int | None) -> dict[str, Any]:
    params = {} if version is None else {"options.requestedPolicyVersion": version}
    answer = raw(emu, "kms", "GET", f"/v1/{KEY}:getIamPolicy", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _set_kms(emu: Emulator, policy: dict[str, Any]) -> Any:
    return raw(emu, "kms", "POST", f"/v1/{KEY}:setIamPolicy", json={"policy": policy})


# --- IAM conditions --------------------------------------------------------------------------

def test_kms_keeps_conditional_bindings_apart_and_hides_them_below_version_3(
        emulator: Emulator, key: str) -> None:
    written = _set_kms(emulator, {"version": 3, "bindings": [
        {"role": ROLE, "members": ["user:a@example.com"]},
        {"role": ROLE, "members": ["user:b@example.com"], "condition": COND}]})
    assert written.status_code == 200, written.text
    full = _kms_policy(emulator, 3)
    assert full["version"] == 3
    assert {"role": ROLE, "members": ["user:b@example.com"], "condition": COND} in full["bindings"]
    assert {"role": ROLE, "members": ["user:a@example.com"]} in full["bindings"]
    old = _kms_policy(emulator, None)
    assert old["version"] == 1 and all("condition" not in b for b in old["bindings"])
    assert sorted(b["role"].split("_withcond_")[0] for b in old["bindings"]) == [ROLE, ROLE]
    assert any("_withcond_" in b["role"] for b in old["bindings"])


def test_kms_writes_touching_conditions_need_version_3(emulator: Emulator, key: str) -> None:
    refused = _set_kms(emulator, {"bindings": [
        {"role": ROLE, "members": ["user:b@example.com"], "condition": COND}]})
    assert refused.status_code == 400 and "version must be 3" in refused.text
    assert _set_kms(emulator, {"version": 3, "bindings": [
        {"role": ROLE, "members": ["user:b@example.com"], "condition": COND}]}).status_code == 200
    flattened = _kms_policy(emulator, 1)                  # a v1 reader writing back is refused
    assert _set_kms(emulator, flattened).status_code == 400
    assert _set_kms(emulator, {**_kms_policy(emulator, 3), "version": 1}).status_code == 400


def test_members_come_back_lower_cased(emulator: Emulator, key: str) -> None:
    kms = _clients(emulator).get(KMS)
    policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(
        role=ROLE, members=["user:Ana.Smith@Example.COM", "group:ML-Admins@Example.com"])])
    written = kms.set_iam_policy(request={"resource": key, "policy": policy}, **CALL)
    assert sorted(written.bindings[0].members) == ["group:ml-admins@example.com",
                                                    "user:ana.smith@example.com"]


# --- BigQuery access ---------------------------------------------------------------------------

def test_a_new_dataset_gets_the_special_groups_and_its_creator_as_owner(emulator: Emulator) -> None:
    emulator.platform.caller = "Deployer@Example.com"
    got = _clients(emulator).get(BIGQUERY).create_dataset("owned", retry=None)
    entries = [e.to_api_repr() for e in got.access_entries]
    assert {"role": "OWNER", "userByEmail": "deployer@example.com"} in entries
    assert {"role": "OWNER", "specialGroup": "projectOwners"} in entries
    assert len(entries) == 4


def test_access_entries_are_normalised_as_bigquery_does(emulator: Emulator) -> None:
    bq = _clients(emulator).get(BIGQUERY)
    dataset = bigquery.Dataset(f"{PROJECT}.norm")
    dataset.access_entries = [
        bigquery.AccessEntry("roles/bigquery.dataViewer", "iamMember", "user:Ana@Example.com"),
        bigquery.AccessEntry("WRITER", "groupByEmail", "Team@Example.com"),
        bigquery.AccessEntry("OWNER", "specialGroup", "projectOwners")]
    got = [e.to_api_repr() for e in bq.create_dataset(dataset, retry=None).access_entries]
    assert {"role": "READER", "userByEmail": "ana@example.com"} in got
    assert {"role": "WRITER", "groupByEmail": "team@example.com"} in got


def test_conditional_access_entries_need_access_policy_version_3(emulator: Emulator) -> None:
    base = f"/bigquery/v2/projects/{PROJECT}/datasets"
    entry = {"role": "READER", "userByEmail": "b@example.com", "condition": COND}
    body = {"datasetReference": {"datasetId": "cond"},
            "access": [{"role": "OWNER", "specialGroup": "projectOwners"}, entry]}
    assert raw(emulator, "bigquery", "POST", base, json=body).status_code == 400
    made = raw(emulator, "bigquery", "POST", base, params={"accessPolicyVersion": 3}, json=body)
    assert made.status_code == 200 and entry in made.json()["access"]
    hidden = raw(emulator, "bigquery", "GET", base + "/cond").json()["access"]
    assert [e["role"].split("_with_conditionalbinding_")[0] for e in hidden
            if "_with_conditionalbinding_" in e["role"]] == ["roles/bigquery.dataViewer"]
    assert all("condition" not in e for e in hidden)
    patch = {"access": [{"role": "OWNER", "specialGroup": "projectOwners"}]}
    assert raw(emulator, "bigquery", "PATCH", base + "/cond", json=patch).status_code == 400
    assert raw(emulator, "bigquery", "PATCH", base + "/cond", json=patch,
               params={"accessPolicyVersion": 3}).status_code == 200


def test_a_default_table_expiration_is_cleared_with_zero_not_null(emulator: Emulator) -> None:
    base = f"/bigquery/v2/projects/{PROJECT}/datasets"
    raw(emulator, "bigquery", "POST", base, json={"datasetReference": {"datasetId": "exp"},
                                                  "defaultTableExpirationMs": "7200000"})
    kept = raw(emulator, "bigquery", "PATCH", base + "/exp",
               json={"defaultTableExpirationMs": None}).json()
    assert kept["defaultTableExpirationMs"] == "7200000"
    cleared = raw(emulator, "bigquery", "PATCH", base + "/exp",
                  json={"defaultTableExpirationMs": "0"}).json()
    assert "defaultTableExpirationMs" not in cleared
    too_short = raw(emulator, "bigquery", "PATCH", base + "/exp",
                    json={"defaultTableExpirationMs": "60000"})
    assert too_short.status_code == 400


# --- compute ---------------------------------------------------------------------------------

def _network(emu: Emulator) -> None:
    nets = _clients(emu).get(COMPUTE_NETWORKS)
    nets.insert_unary(project=PROJECT, network_resource=compute_v1.Network(
        name="vpc", auto_create_subnetworks=False), **CALL)


def _firewall(emu: Emulator, **fields: Any) -> Any:
    body = {"name": "fw", "network": f"{ROOT}projects/{PROJECT}/global/networks/vpc",
            "allowed": [{"IPProtocol": "udp"}, {"IPProtocol": "tcp", "ports": ["22"]}], **fields}
    return raw(emu, "compute", "POST", f"/compute/v1/projects/{PROJECT}/global/firewalls",
               json=body)


def test_firewall_sets_come_back_in_the_servers_order(emulator: Emulator) -> None:
    _network(emulator)
    assert _firewall(emulator, sourceRanges=["10.9.0.0/16", "10.1.0.0/16"],
                     targetTags=["web", "api"]).status_code == 200
    got = raw(emulator, "compute", "GET",
              f"/compute/v1/projects/{PROJECT}/global/firewalls/fw").json()
    assert got["sourceRanges"] == ["10.1.0.0/16", "10.9.0.0/16"]
    assert got["targetTags"] == ["api", "web"]
    assert [a["IPProtocol"] for a in got["allowed"]] == ["tcp", "udp"]


@pytest.mark.parametrize("fields", [
    {"sourceTags": ["a"], "sourceServiceAccounts": ["x@p.iam.gserviceaccount.com"]},
    {"targetTags": ["a"], "targetServiceAccounts": ["x@p.iam.gserviceaccount.com"]},
    {"sourceServiceAccounts": [f"sa{i}@p.iam.gserviceaccount.com" for i in range(11)]},
])
def test_firewall_tag_and_service_account_conflicts_are_400(emulator: Emulator,
                                                            fields: dict[str, Any]) -> None:
    _network(emulator)
    answer = _firewall(emulator, **fields)
    assert answer.status_code == 400


def test_secondary_ranges_come_back_in_the_servers_order_and_change_one_way(
        emulator: Emulator) -> None:
    _network(emulator)
    subs = f"/compute/v1/projects/{PROJECT}/regions/us-central1/subnetworks"
    body = {"name": "s", "ipCidrRange": "10.0.0.0/24",
            "network": f"projects/{PROJECT}/global/networks/vpc",
            "secondaryIpRanges": [{"rangeName": "services", "ipCidrRange": "10.24.0.0/20"},
                                  {"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"}]}
    assert raw(emulator, "compute", "POST", subs, json=body).status_code == 200
    got = raw(emulator, "compute", "GET", subs + "/s").json()
    assert [r["rangeName"] for r in got["secondaryIpRanges"]] == ["pods", "services"]
    swap = {"fingerprint": got["fingerprint"], "secondaryIpRanges": [
        {"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"},
        {"rangeName": "batch", "ipCidrRange": "10.30.0.0/20"}]}
    answer = raw(emulator, "compute", "PATCH", subs + "/s", json=swap)
    assert answer.status_code == 400 and "Cannot add and remove" in answer.text

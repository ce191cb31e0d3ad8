"""The naming and value rules of ``kinds/_names.py``: edge cases that pass, and each way to fail.

Pure functions: no emulator, no client. Valid edge cases are as important as invalid ones:
a rule stricter than Google's blocks specs the API would take.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from mlops_infra.kinds import _names as names


def _fails(problem: str | None, *words: str) -> None:
    assert problem is not None
    for word in words:
        assert word in problem, problem


# --- Cloud Storage ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "abc",                                    # 3: the shortest
    "a" * 63,                                 # 63 without dots: the longest
    "my_bucket-01", "0-starts-with-a-digit",
    "data.example.com",                       # dotted (domain-named)
    ".".join(["a" * 63] * 3) + ".b" * 14,     # 219 characters, each part <= 63
    "a" * 63 + "." + "b" * 63,                # dotted: parts of 63
    "1.2.3",                                  # dotted digits, but no IP address
    "999.1.1.1",                              # not an IP address (999 > 255)
    "gogle-data", "og-data",                  # neither 'goog' nor 'google'
])
def test_valid_bucket_names_pass(name: str) -> None:
    assert names.bucket_name_problem(name) is None


@pytest.mark.parametrize("name, words", [
    ("ab", ["3-63 characters (not 2)"]),
    ("a" * 64, ["3-63 characters (not 64)"]),
    ("a" * 64 + ".b", ["63 characters (64)"]),
    (".".join(["a" * 60] * 4), ["3-222 characters when the name has dots (not 243)"]),
    ("My-Bucket", ["lowercase letters", "did you mean 'my-bucket'?"]),
    ("my bucket", ["lowercase letters"]),
    ("-data", ["start and end with a letter or a digit"]),
    ("data_", ["start and end with a letter or a digit"]),
    ("192.168.5.4", ["IP address in dotted-decimal notation"]),
    ("goog-data", ["must not begin with 'goog'"]),
    ("my-google-data", ["'google' or a close misspelling"]),
    ("my-g00gle-data", ["'google' or a close misspelling"]),
    ("goog1e-data", ["'goog'"]),
    ("data-9oogle", ["'google' or a close misspelling"]),
])
def test_invalid_bucket_names_name_the_rule(name: str, words: list[str]) -> None:
    _fails(names.bucket_name_problem(name), f"bucket name '{name[:40]}", *words)


@pytest.mark.parametrize("value", ["US", "eu", "ASIA", "us-central1", "EUROPE-WEST4", "NAM4",
                                   "eur4", "asia1", "northamerica-northeast1"])
def test_bucket_locations_by_shape(value: str) -> None:
    assert names.bucket_location_problem(value) is None


@pytest.mark.parametrize("value, hint", [
    ("USA", "did you mean 'US'?"), ("us-east-1", "did you mean 'us-east1'?"),
    ("moon", "a multi-region ('US', 'EU', 'ASIA')"), ("us central1", "a region ('us-central1')"),
])
def test_bad_bucket_locations_are_explained(value: str, hint: str) -> None:
    _fails(names.bucket_location_problem(value), "is not a Cloud Storage location", hint)


# --- BigQuery ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["features", "Features_2024", "_hidden", "a", "a" * 1024])
def test_valid_dataset_ids_pass(name: str) -> None:
    assert names.dataset_id_problem(name) is None


@pytest.mark.parametrize("name, hint", [
    ("my-features", "did you mean 'my_features'?"), ("a" * 1025, "at most 1024"),
    ("features.v2", "letters, digits and underscores"), ("", "at most 1024"),
])
def test_invalid_dataset_ids_name_the_rule(name: str, hint: str) -> None:
    _fails(names.dataset_id_problem(name), "is not a valid BigQuery dataset id", hint)


@pytest.mark.parametrize("name", [
    "events", "table 01", "ग्राहक", "00_お客様", "étudiant-01",   # the examples of Google's doc
    "x" * 1024, "é" * 512,                                         # 1024 UTF-8 bytes
])
def test_valid_table_ids_pass(name: str) -> None:
    assert names.table_id_problem(name) is None


@pytest.mark.parametrize("name, words", [
    ("events.v2", ["'.' is not allowed"]), ("a/b", ["'/' is not allowed"]),
    ("tab\tle", ["'\\t' is not allowed"]), ("x" * 1025, ["1-1024 UTF-8 bytes (not 1025)"]),
    ("é" * 513, ["(not 1026)"]), ("", ["(not 0)"]),
])
def test_invalid_table_ids_name_the_rule(name: str, words: list[str]) -> None:
    _fails(names.table_id_problem(name), "is not a valid BigQuery table id", *words)


@pytest.mark.parametrize("value", ["US", "eu", "us-central1", "EUROPE-WEST2", "aws-us-east-1",
                                   "azure-eastus2"])
def test_dataset_locations_by_shape(value: str) -> None:
    assert names.dataset_location_problem(value) is None


@pytest.mark.parametrize("value, hint", [("ASIA", "multi-region ('US', 'EU')"),
                                         ("us-west-1", "did you mean 'us-west1'?")])
def test_bad_dataset_locations_are_explained(value: str, hint: str) -> None:
    _fails(names.dataset_location_problem(value), "is not a BigQuery location", hint)


# --- Compute Engine ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "ml-vpc", "a" + "-" * 61 + "z", "a" * 63, "vpc-2"])
def test_rfc1035_names_pass(name: str) -> None:
    assert names.rfc1035_problem(name) is None


@pytest.mark.parametrize("name, hint", [
    ("a" * 64, "1-63"), ("1vpc", "starting with a letter"), ("vpc-", "not ending with '-'"),
    ("ML_VPC", "did you mean 'ml-vpc'?"), ("", "1-63"),
])
def test_invalid_rfc1035_names_name_the_rule(name: str, hint: str) -> None:
    _fails(names.rfc1035_problem(name, "network"), "network name", "(RFC 1035)", hint)


@pytest.mark.parametrize("value", [
    "ml-vpc", "projects/acme-ml/global/networks/ml-vpc", "global/networks/ml-vpc",
    "https://www.googleapis.com/compute/v1/projects/acme-ml/global/networks/ml-vpc",
    "projects/123456789/global/networks/ml-vpc",            # a project number is fine here
])
def test_network_references_pass(value: str) -> None:
    assert names.network_ref_problem(value) is None


@pytest.mark.parametrize("value, words", [
    ("ML_VPC", ["network name 'ML_VPC'"]),
    ("projects/acme-ml/networks/ml-vpc", ["use a network name"]),
    ("projects/Acme/global/networks/ml-vpc", ["'Acme' is not a valid project id"]),
])
def test_bad_network_references(value: str, words: list[str]) -> None:
    _fails(names.network_ref_problem(value), *words)


@pytest.mark.parametrize("value", ["10.0.0.0/8", "10.10.0.0/20", "192.168.1.0/29",
                                   "2001:db8::/32", "35.235.240.0/20", "0.0.0.0/0",
                                   "203.0.113.7", "203.0.113.7/32", "::/0"])
def test_ip_ranges_pass(value: str) -> None:
    assert names.ip_range_problem(value) is None


@pytest.mark.parametrize("value, words", [
    ("10.0.0.1/8", ["host bits set", "did you mean '10.0.0.0/8'?"]),
    ("2001:db8::1/32", ["did you mean '2001:db8::/32'?"]),
    ("10.0.0.0/33", ["not an IP range in CIDR notation"]),
    ("300.0.0.0/8", ["not an IP range"]), ("ten/8", ["not an IP range"]),
])
def test_bad_ip_ranges_are_explained(value: str, words: list[str]) -> None:
    _fails(names.ip_range_problem(value), *words)


def test_subnetwork_ranges_are_ipv4_networks() -> None:
    assert names.ipv4_network("10.10.0.0/20") == "10.10.0.0/20"
    with pytest.raises(ValueError, match="must be an IPv4 range"):
        names.ipv4_network("2001:db8::/64")
    with pytest.raises(ValueError, match="did you mean '10.10.0.0/20'"):
        names.ipv4_network("10.10.0.5/20")


@pytest.mark.parametrize("value", ["tcp", "udp", "icmp", "esp", "ah", "ipip", "sctp", "all",
                                   "6", "255"])
def test_protocols_pass(value: str) -> None:
    assert names.protocol_problem(value) is None


def test_unknown_protocol_gets_a_hint() -> None:
    _fails(names.protocol_problem("tpc"), "unknown protocol 'tpc'", "did you mean 'tcp'?")
    _fails(names.protocol_problem("256"), "IP protocol number (0-255)")


@pytest.mark.parametrize("value", ["22", "0", "65535", "8000-8080", "0-65535", "443-443"])
def test_ports_pass(value: str) -> None:
    assert names.port_problem(value) is None


@pytest.mark.parametrize("value", ["65536", "80-70", "http", "22,80", "-1", "1-2-3"])
def test_bad_ports(value: str) -> None:
    assert names.port_problem(value) is not None


# --- IAM --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["abcdef", "a" * 30, "ml-trainer", "etl-2024-x"])
def test_valid_account_ids(value: str) -> None:
    assert names.account_id_problem(value) is None


@pytest.mark.parametrize("value, hint", [
    ("abcde", "6-30"), ("a" * 31, "6-30"), ("1trainer", "starting with a letter"),
    ("trainer-", "not ending with '-'"), ("ML_Trainer", "did you mean 'ml-trainer'?"),
])
def test_invalid_account_ids(value: str, hint: str) -> None:
    _fails(names.account_id_problem(value), "service account id", hint)


@pytest.mark.parametrize("value", ["abc", "a" * 64, "feature.reader", "Feature_Reader_2"])
def test_valid_role_ids(value: str) -> None:
    assert names.role_id_problem(value) is None


@pytest.mark.parametrize("value, hint", [("ab", "3-64"), ("a" * 65, "3-64"),
                                         ("feature-reader", "did you mean 'feature_reader'?")])
def test_invalid_role_ids(value: str, hint: str) -> None:
    _fails(names.role_id_problem(value), "role id", hint)


# --- KMS ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["a", "ml-platform", "Data_Key-1", "k" * 63])
def test_valid_kms_ids(value: str) -> None:
    assert names.kms_id_problem(value) is None


@pytest.mark.parametrize("value", ["", "k" * 64, "data.key", "data key"])
def test_invalid_kms_ids(value: str) -> None:
    _fails(names.kms_id_problem(value, "crypto key"), "crypto key name", "1-63 letters")


@pytest.mark.parametrize("value", ["global", "us", "europe", "asia", "nam4", "eur4",
                                   "nam-eur-asia1", "us-central1", "northamerica-northeast2"])
def test_kms_locations_by_shape(value: str) -> None:
    assert names.kms_location_problem(value) is None


@pytest.mark.parametrize("value, hint", [("US", "did you mean 'us'?"),
                                         ("us-east-1", "did you mean 'us-east1'?"),
                                         ("us_central1", "in lowercase")])
def test_bad_kms_locations(value: str, hint: str) -> None:
    _fails(names.kms_location_problem(value), "is not a Cloud KMS location", hint)


def test_key_ring_and_crypto_key_names() -> None:
    ring = "projects/acme-ml/locations/us/keyRings/ml-platform"
    assert names.key_ring_name_problem(ring) is None
    assert names.crypto_key_name_problem(ring + "/cryptoKeys/data") is None
    assert names.crypto_key_name_problem(
        "projects/123456/locations/europe-west1/keyRings/r/cryptoKeys/k") is None
    _fails(names.crypto_key_name_problem(ring), "is not a crypto key", "/cryptoKeys/K")
    _fails(names.key_ring_name_problem(ring + "/cryptoKeys/data"), "is not a key ring")
    _fails(names.crypto_key_name_problem("projects/acme-ml/locations/US/keyRings/r/cryptoKeys/k"),
           "is not a Cloud KMS location")
    _fails(names.key_ring_name_problem("projects/acme-ml/locations/us/keyRings/a.b"),
           "key ring name 'a.b'")


# --- Service Usage -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["compute.googleapis.com", "iam.googleapis.com",
                                   "my-api.endpoints.my-project.cloud.goog"])
def test_api_names_pass(value: str) -> None:
    assert names.api_name_problem(value) is None


@pytest.mark.parametrize("value, hint", [
    ("compute", "did you mean 'compute.googleapis.com'?"),
    ("compute.googleapi.com", "did you mean 'compute.googleapis.com'?"),
    ("Compute.googleapis.com", "did you mean 'compute.googleapis.com'?"),
    ("storage-api", "set 'name:'"),
])
def test_bad_api_names(value: str, hint: str) -> None:
    _fails(names.api_name_problem(value), "is not an API name", hint)


def test_no_guess_for_an_address_used_as_the_name() -> None:
    assert "did you mean" not in (names.api_name_problem("storage-api") or "")


# --- as pydantic types ----------------------------------------------------------------------------

class _Model(BaseModel):
    bucket: names.BucketName | None = None
    ranges: list[names.IpRange] = []
    subnet: names.Ipv4Network | None = None


def test_types_refuse_with_the_rule_and_let_templates_through() -> None:
    with pytest.raises(ValidationError, match="must not begin with 'goog'"):
        _Model(bucket="goog-x")
    with pytest.raises(ValidationError, match="host bits set") as caught:
        _Model(ranges=["10.0.0.0/8", "10.0.0.1/8"])
    assert caught.value.errors()[0]["loc"] == ("ranges", 1)
    assert _Model(bucket="${raw.name}", ranges=["${vars.cidr}"], subnet="${x.y}").bucket == \
        "${raw.name}"
    assert _Model(subnet="10.0.0.0/8").subnet == "10.0.0.0/8"

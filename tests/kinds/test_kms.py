"""kms.KeyRing, kms.CryptoKey and kms.CryptoKeyGrant against the emulator (real KMS client)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.diff import diff
from mlops_infra.engine.errors import SourceLocation
from mlops_infra.engine.registry import all_kinds
from mlops_infra.engine.resolve import expand_implied
from mlops_infra.kinds._clients import KMS
from mlops_infra.kinds.kms import CryptoKey, CryptoKeyGrant, KeyRing
from mlops_infra.spec import ResourceSpec
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, managed, mismatches

RING = f"projects/{PROJECT}/locations/europe-west1/keyRings/ring"
KEY = f"{RING}/cryptoKeys/key"
ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


pytestmark = pytest.mark.emulator_services("kms", "storage", "bigquery")


@pytest.fixture
def ring(clients: Clients) -> KeyRing:
    kind = KeyRing(clients)
    c = ctx("ring")
    kind.create(kind.identify(c, {}), kind.desired(c, {}))
    return kind


def _key(clients: Clients, raw: dict[str, Any], name: str = "key") -> tuple[CryptoKey, Any, dict]:
    kind = CryptoKey(clients)
    c = ctx(name)
    f = fields(CryptoKey, {"keyRing": RING, **raw})
    return kind, kind.identify(c, f), managed(kind.desired(c, f))


def test_key_ring_identity_location_and_abandon(clients: Clients, ring: KeyRing) -> None:
    rid = ring.identify(ctx("ring"), {})
    assert rid.name == RING                                 # location defaults to the region
    assert ring.outputs_of(rid, None) == {"id": RING, "name": "ring"}
    assert ring.get(rid)["name"] == RING
    assert set(ring.list(rid.scope)) == {RING}
    other = ring.identify(ctx("ring"), {"location": "us"})
    assert other.name.endswith("/locations/us/keyRings/ring") and ring.get(other) is None
    assert ring.removal({}, allow_data_loss=True) == "abandon"
    with pytest.raises(errors.PermanentError):
        ring.delete(rid, force=True)
    with pytest.raises(errors.Conflict):                   # the executor then adopts it
        ring.create(rid, {})


def test_key_create_read_back_matches_desired(clients: Clients, ring: KeyRing) -> None:
    kind, rid, desired = _key(clients, {"rotationPeriod": 86400 * 90, "protectionLevel": "HSM",
                                        "labels": {"team": "ml"}})
    assert desired["rotationPeriod"] == "7776000s"
    assert desired["versionTemplate"] == {"protectionLevel": "HSM"}
    assert kind.get(rid) is None
    kind.create(rid, desired)
    live = kind.normalize(kind.get(rid))
    assert mismatches(desired, live) == []
    assert live["nextRotationTime"]                         # filled in at create
    assert set(kind.list(RING)) == {KEY}
    assert diff(desired, live) == []


def test_key_update_labels_and_rotation(clients: Clients, ring: KeyRing) -> None:
    kind, rid, desired = _key(clients, {"labels": {"team": "ml", "old": "x"}})
    kind.create(rid, desired)
    _, _, wanted = _key(clients, {"labels": {"team": "ai"}, "rotationPeriod": "86400s"})
    live = kind.normalize(kind.get(rid))
    changes = diff(wanted, live, desired)
    assert {c.path for c in changes} == {"labels.team", "labels.old", "rotationPeriod"}
    kind.update(rid, wanted, changes, live)
    after = kind.normalize(kind.get(rid))
    assert mismatches(wanted, after) == [] and "old" not in after["labels"]
    assert after["nextRotationTime"]


def test_key_immutable_fields_replace_and_removal(clients: Clients, ring: KeyRing) -> None:
    kind, rid, desired = _key(clients, {})
    kind.create(rid, desired)
    _, _, hsm = _key(clients, {"protectionLevel": "HSM"})
    changes = diff(hsm, kind.normalize(kind.get(rid)))
    assert kind.replace_reason(changes)
    assert kind.removal({}, allow_data_loss=False) == "abandon"
    assert kind.removal({}, allow_data_loss=True) == "delete"


def test_key_delete_destroys_versions(clients: Clients, ring: KeyRing) -> None:
    kind, rid, desired = _key(clients, {})
    kind.create(rid, desired)
    assert kind.holds_data(rid)
    with pytest.raises(errors.PermanentError):
        kind.delete(rid, force=False)
    kind.delete(rid, force=True)
    assert not kind.holds_data(rid)
    assert kind.get(rid) is not None                        # KMS keeps the key itself


def _grant(clients: Clients, raw: dict[str, Any], project: str = PROJECT):  # type: ignore[no-untyped-def]
    kind = CryptoKeyGrant(clients)
    c = ctx("grant", project=project)
    f = fields(CryptoKeyGrant, {"cryptoKey": KEY, **raw})
    return kind, kind.identify(c, f), kind.desired(c, f)


def _members(clients: Clients) -> dict[str, list[str]]:
    policy = clients.get(KMS).get_iam_policy(request={"resource": KEY}, retry=None, timeout=10)
    return {b.role: sorted(b.members) for b in policy.bindings}


def test_grant_for_a_service_agent_is_additive(clients: Clients, ring: KeyRing) -> None:
    key, key_rid, key_desired = _key(clients, {})
    key.create(key_rid, key_desired)
    other = "user:someone@example.com"
    kind, rid, desired = _grant(clients, {"member": other})
    kind.create(rid, desired)
    agent, agent_rid, agent_desired = _grant(clients, {"serviceAgent": "storage"})
    assert agent_desired == {"cryptoKey": KEY, "role": ROLE, "serviceAgent": "storage"}
    assert agent.get(agent_rid) is None
    live = agent.create(agent_rid, agent_desired)
    email = clients.storage().get_service_account_email(project=PROJECT, retry=None)
    assert live["resolvedMember"] == f"serviceAccount:{email}"
    assert diff(agent_desired, agent.get(agent_rid)) == []
    assert _members(clients) == {ROLE: sorted([other, f"serviceAccount:{email}"])}
    rebuilt = agent.id_from_name(agent_rid.name)
    assert rebuilt.parts == agent_rid.parts and rebuilt.scope == KEY
    agent.delete(rebuilt, force=False)
    assert _members(clients) == {ROLE: [other]}             # only our member went


COND = {"title": "until-2030", "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")'}


def test_someone_elses_conditional_binding_survives_our_grant_and_its_removal(
        clients: Clients, ring: KeyRing) -> None:
    from google.iam.v1 import policy_pb2

    key, key_rid, key_desired = _key(clients, {})
    key.create(key_rid, key_desired)
    kms = clients.get(KMS)
    timed = policy_pb2.Binding(role=ROLE, members=["user:temp@example.com"],
                               condition={"title": COND["title"], "expression": COND["expression"]})
    kms.set_iam_policy(request={"resource": KEY, "policy": policy_pb2.Policy(
        version=3, bindings=[timed])}, retry=None, timeout=10)
    kind, rid, desired = _grant(clients, {"member": "user:Ana@Example.com"})
    assert kind.get(rid) is None               # the conditional grant is not an unconditional one
    kind.create(rid, desired)
    assert kind.get(rid) is not None           # a mixed-case member reads back as ours
    after = kms.get_iam_policy(request={"resource": KEY, "options": {"requested_policy_version": 3}},
                               retry=None, timeout=10)
    assert after.version == 3
    assert timed in list(after.bindings)       # still conditional: not merged into ours
    assert [list(b.members) for b in after.bindings if not b.HasField("condition")] == [
        ["user:ana@example.com"]]
    kind.delete(rid, force=False)
    final = kms.get_iam_policy(request={"resource": KEY, "options": {"requested_policy_version": 3}},
                               retry=None, timeout=10)
    assert list(final.bindings) == [timed]


def test_grant_retries_on_a_concurrent_policy_change(emulator: Emulator, clients: Clients,
                                                     ring: KeyRing) -> None:
    key, key_rid, key_desired = _key(clients, {})
    key.create(key_rid, key_desired)
    kind, rid, desired = _grant(clients, {"serviceAgent": "bigquery"})
    emulator.set_faults(rate=1.0, statuses=[409], methods=["POST"], services=["kms"],
                        phase="before", resets=False)
    with pytest.raises(errors.TransientError):
        kind.create(rid, desired)
    emulator.clear_faults()
    kind.create(rid, desired)
    assert list(_members(clients)) == [ROLE]


def test_grant_needs_exactly_one_member_spelling() -> None:
    with pytest.raises(ValueError):
        CryptoKeyGrant.model.model_validate({"cryptoKey": KEY})
    with pytest.raises(ValueError):
        CryptoKeyGrant.model.model_validate({"cryptoKey": KEY, "member": "user:a@b.c",
                                             "serviceAgent": "storage"})


def _spec(kind: str, fields: dict[str, Any]) -> ResourceSpec:
    return ResourceSpec(address="data", kind=kind, name="data", project=PROJECT, region=None,
                        fields=fields, depends_on=frozenset(), allow_data_loss=True,
                        location=SourceLocation("spec.yaml", 3))


@pytest.mark.parametrize("kind, fields, agent", [
    ("storage.Bucket", {"defaultKmsKeyName": "${key.id}"}, "storage"),
    ("storage.Bucket", {"encryption": {"defaultKmsKeyName": "${key.id}"}}, "storage"),
    ("bigquery.Dataset", {"defaultKmsKeyName": "${key.id}"}, "bigquery"),
    ("bigquery.Dataset", {"defaultEncryptionConfiguration": {"kmsKeyName": "${key.id}"}},
     "bigquery"),
])
def test_cmek_references_imply_a_grant(clients: Clients, kind: str, fields: dict[str, Any],
                                       agent: str) -> None:
    kinds = {name: cls(clients) for name, cls in all_kinds().items()}
    key = ResourceSpec(address="key", kind="kms.CryptoKey", name="key", project=PROJECT,
                       region=None, fields={"keyRing": RING}, depends_on=frozenset(),
                       allow_data_loss=False, location=SourceLocation("spec.yaml", 1))
    resources = expand_implied({"key": key, "data": _spec(kind, fields)}, kinds=kinds)
    implied = [r for a, r in resources.items() if a not in ("key", "data")]
    assert [(r.address, r.kind, r.fields, r.depends_on, r.allow_data_loss) for r in implied] == [
        (f"key-{agent}-grant-test-project", "kms.CryptoKeyGrant",
         {"cryptoKey": "${key.id}", "serviceAgent": agent}, frozenset({"key"}), False)]
    assert f"key-{agent}-grant-test-project" in resources["data"].depends_on


def test_a_literal_key_name_implies_nothing(clients: Clients) -> None:

    kinds = {name: cls(clients) for name, cls in all_kinds().items()}
    literal = {"data": _spec("storage.Bucket", {"defaultKmsKeyName": KEY})}
    assert list(expand_implied(literal, kinds=kinds)) == ["data"]

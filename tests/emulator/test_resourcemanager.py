"""The Resource Manager emulator through the real resourcemanager_v3 REST client: projects,
policy etags, stale writes (409 ABORTED), audit configs, update masks, member validation,
conditional bindings and the concurrent-writer knob; bucket IAM through google-cloud-storage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.api_core.iam import Policy
from google.iam.v1 import policy_pb2
from google.protobuf import field_mask_pb2, json_format

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.projects import project_number
from mlops_infra.kinds._clients import IAM, RESOURCE_MANAGER
from tests.conftest import start_emulator
from tests.emulator.support import eventually

PROJECT = "test-project"
RESOURCE = f"projects/{PROJECT}"
CALL: dict[str, Any] = {"retry": None, "timeout": 10}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with start_emulator(("resourcemanager", "storage", "iam")) as emulator:
        yield emulator


@pytest.fixture
def rm(emu: Emulator) -> Any:
    return Clients(project=PROJECT, endpoints=emu.endpoints).get(RESOURCE_MANAGER)


def _get(rm: Any, version: int = 3) -> dict[str, Any]:
    policy = rm.get_iam_policy(request={"resource": RESOURCE,
                                        "options": {"requested_policy_version": version}}, **CALL)
    return json_format.MessageToDict(policy)


def _set(rm: Any, policy: dict[str, Any], mask: list[str] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"resource": RESOURCE,
                               "policy": json_format.ParseDict(policy, policy_pb2.Policy())}
    if mask:
        request["update_mask"] = field_mask_pb2.FieldMask(paths=mask)
    return json_format.MessageToDict(rm.set_iam_policy(request=request, **CALL))


def test_any_project_exists_with_a_stable_number(rm: Any) -> None:
    project = rm.get_project(name=RESOURCE, **CALL)
    assert project.project_id == PROJECT
    assert project.name == f"projects/{project_number(PROJECT)}"
    assert rm.get_project(name=project.name, **CALL).project_id == PROJECT
    with pytest.raises(gexc.Forbidden):
        rm.get_project(name="projects/123456789012", **CALL)


def test_fresh_policy_has_an_owner_and_etag_changes_on_every_set(rm: Any) -> None:
    policy = _get(rm)
    assert policy["bindings"] == [{"role": "roles/owner", "members": ["user:owner@example.com"]}]
    policy["bindings"].append({"role": "roles/storage.admin", "members": ["group:g@acme.com"]})
    written = _set(rm, policy)
    assert written["etag"] != policy["etag"]
    assert _get(rm) == written
    again = _set(rm, written)
    assert again["etag"] != written["etag"]


def test_a_stale_etag_is_409_aborted_and_changes_nothing(rm: Any) -> None:
    stale = _get(rm)
    _set(rm, {**stale, "bindings": [*stale["bindings"],
                                    {"role": "roles/viewer", "members": ["user:first@acme.com"]}]})
    with pytest.raises(gexc.Conflict, match="concurrent policy changes"):
        _set(rm, {**stale, "bindings": [{"role": "roles/viewer", "members": ["user:late@acme.com"]}]})
    assert "user:first@acme.com" in str(_get(rm)["bindings"])
    assert "user:late@acme.com" not in str(_get(rm)["bindings"])


def test_audit_configs_round_trip_only_when_the_mask_names_them(rm: Any) -> None:
    audit = [{"service": "allServices", "auditLogConfigs": [
        {"logType": "DATA_READ", "exemptedMembers": ["user:x@acme.com"]}, {"logType": "ADMIN_READ"}]}]
    ignored = _set(rm, {**_get(rm), "auditConfigs": audit})     # default mask: bindings, etag
    assert "auditConfigs" not in ignored
    written = _set(rm, {**_get(rm), "auditConfigs": audit}, mask=["audit_configs", "etag"])
    assert written["auditConfigs"] == audit
    assert written["bindings"] == [{"role": "roles/owner", "members": ["user:owner@example.com"]}]
    # a bindings-only write keeps the audit configs
    after = _set(rm, {**written, "auditConfigs": []})
    assert after["auditConfigs"] == audit


def test_unknown_service_account_members_are_invalid(emu: Emulator, rm: Any) -> None:
    from google.cloud import iam_admin_v1

    iam = Clients(project=PROJECT, endpoints=emu.endpoints).get(IAM)
    sa = f"serviceAccount:ghostly@{PROJECT}.iam.gserviceaccount.com"
    with pytest.raises(gexc.BadRequest, match=r"Service account ghostly@.* does not exist"):
        _set(rm, {**_get(rm), "bindings": [{"role": "roles/viewer", "members": [sa]}]})
    iam.create_service_account(request=iam_admin_v1.CreateServiceAccountRequest(
        name=RESOURCE, account_id="ghostly"), **CALL)
    written = eventually(lambda: _set(rm, {**_get(rm), "bindings": [
        {"role": "roles/viewer", "members": [sa]}]}), errors=(gexc.BadRequest,))
    assert written["bindings"] == [{"role": "roles/viewer", "members": [sa]}]
    with pytest.raises(gexc.BadRequest, match="Invalid member"):
        _set(rm, {**_get(rm), "bindings": [{"role": "roles/viewer", "members": ["bob"]}]})


def test_conditional_policies_need_version_3(rm: Any) -> None:
    cond = {"title": "soon", "expression": "request.time < timestamp('2030-01-01T00:00:00Z')"}
    policy = _get(rm)
    _set(rm, {**policy, "version": 3, "bindings": [
        *policy["bindings"], {"role": "roles/viewer", "members": ["user:a@acme.com"], "condition": cond}]})
    assert _get(rm)["version"] == 3
    assert {"role": "roles/viewer", "members": ["user:a@acme.com"], "condition": cond} in _get(rm)["bindings"]
    hidden = _get(rm, version=1)                 # conditions hidden behind _withcond_ roles
    assert hidden["version"] == 1
    assert [b["role"].split("_withcond_")[0] for b in hidden["bindings"]
            if "_withcond_" in b["role"]] == ["roles/viewer"]
    assert all("condition" not in b for b in hidden["bindings"])
    with pytest.raises(gexc.BadRequest, match="version must be 3"):
        _set(rm, {**_get(rm, version=3), "version": 1})
    with pytest.raises(gexc.BadRequest, match="not a valid role"):
        _set(rm, {**hidden, "version": 3})


def test_interference_knob_makes_the_next_sets_lose_a_race(emu: Emulator, rm: Any) -> None:
    emu.services["resourcemanager"].set_policy_interference(  # type: ignore[attr-defined]
        RESOURCE, n=2, role="roles/browser", member="user:other@acme.com")
    for _ in range(2):
        read = _get(rm)
        with pytest.raises(gexc.Conflict):
            _set(rm, read)
    read = _get(rm)
    assert {"role": "roles/browser", "members": ["user:other@acme.com"]} in read["bindings"]
    assert _set(rm, read)["etag"] != read["etag"]          # the knob is used up


def test_bucket_iam_etags_and_412_on_a_stale_write(emu: Emulator) -> None:
    gcs = Clients(project=PROJECT, endpoints=emu.endpoints).storage()
    gcs.create_bucket("iam-bucket", **CALL)
    bucket = gcs.bucket("iam-bucket")
    policy = bucket.get_iam_policy(requested_policy_version=3, **CALL).to_api_repr()
    assert {"role": "roles/storage.legacyBucketOwner",
            "members": [f"projectEditor:{PROJECT}", f"projectOwner:{PROJECT}"]} in policy["bindings"]
    policy["bindings"].append({"role": "roles/storage.objectViewer", "members": ["user:a@acme.com"]})
    written = bucket.set_iam_policy(Policy.from_api_repr(policy), **CALL).to_api_repr()
    assert written["etag"] != policy["etag"]
    with pytest.raises(gexc.PreconditionFailed):
        bucket.set_iam_policy(Policy.from_api_repr(policy), **CALL)
    got = bucket.get_iam_policy(requested_policy_version=3, **CALL).to_api_repr()
    assert got == written
    with pytest.raises(gexc.NotFound):
        gcs.bucket("no-such-bucket").get_iam_policy(**CALL)
    with pytest.raises(gexc.BadRequest, match="does not exist"):
        bucket.set_iam_policy(Policy.from_api_repr({**got, "bindings": [{
            "role": "roles/storage.objectViewer",
            "members": [f"serviceAccount:nobody@{PROJECT}.iam.gserviceaccount.com"]}]}), **CALL)


def test_policy_reads_are_not_journaled_as_mutations(emu: Emulator, rm: Any) -> None:
    _get(rm)
    assert emu.mutating_requests("resourcemanager") == []
    _set(rm, _get(rm))
    assert [e.path for e in emu.mutating_requests("resourcemanager")] == [
        f"/v3/{RESOURCE}:setIamPolicy"]

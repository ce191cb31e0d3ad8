"""compute.Subnetwork: desired shape, in-place expansion vs replace, and every operation over
the real compute client against the emulator (operations waited on, errors translated)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.diff import diff
from mlops_infra.kinds.compute import _common as common
from mlops_infra.kinds.compute.network import Network
from mlops_infra.kinds.compute.subnetwork import Subnetwork
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, mismatches

ROOT = "https://www.googleapis.com/compute/v1/"
NET = f"{ROOT}projects/{PROJECT}/global/networks/vpc"
FULL: dict[str, Any] = {"network": "vpc", "ipCidrRange": "10.10.0.0/20", "privateIpGoogleAccess": True,
        "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.20.0.0/16"},
                              {"rangeName": "services", "ipCidrRange": "10.30.0.0/20"}],
        "logConfig": {"aggregationInterval": "INTERVAL_30_SEC", "flowSampling": 0.25,
                      "metadata": "EXCLUDE_ALL_METADATA"}}


pytestmark = pytest.mark.emulator_services("compute")


@pytest.fixture
def kind(clients: Clients) -> Subnetwork:
    network = Network(clients)
    rid = network.identify(ctx("vpc"), {})
    network.create(rid, network.desired(ctx("vpc"), {}))
    return Subnetwork(clients)


def build(name: str, raw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    kind = Subnetwork(None)
    f = fields(Subnetwork, raw)
    return kind.identify(ctx(name), f), kind.desired(ctx(name), f)


# --- pure shape -------------------------------------------------------------------------------

@pytest.mark.parametrize("network", ["vpc", f"projects/{PROJECT}/global/networks/vpc",
                                     "global/networks/vpc", NET,
                                     NET.replace("www.googleapis.com", "compute.googleapis.com")])
def test_network_is_canonicalised(network: str) -> None:
    _, desired = build("s", {**FULL, "network": network})
    assert desired["network"] == NET


def test_desired_keeps_region_out_and_turns_flow_logs_on() -> None:
    rid, desired = build("s", {**FULL, "region": "us-east1"})
    assert rid.name == f"projects/{PROJECT}/regions/us-east1/subnetworks/s"
    assert rid.scope == f"projects/{PROJECT}/regions/us-east1/subnetworks"
    assert "region" not in desired and desired["logConfig"]["enable"] is True
    assert Subnetwork(None).id_from_name(rid.name).parts == rid.parts


def test_region_defaults_to_the_spec_region_and_is_required() -> None:
    f = fields(Subnetwork, {"network": "vpc", "ipCidrRange": "10.0.0.0/24"})
    assert Subnetwork(None).identify(ctx("s"), f).parts["region"] == "europe-west1"
    with pytest.raises(errors.UserError, match="region"):
        Subnetwork(None).identify(ctx("s", region=None), f)


def test_unresolved_reference_is_left_for_later() -> None:
    _, desired = build("s", {**FULL, "network": "${vpc.selfLink}"})
    assert desired["network"] == "${vpc.selfLink}"


@pytest.mark.parametrize("raw", [
    {"network": "vpc", "ipCidrRange": "10.0.0.1/24"},
    {"network": "vpc", "ipCidrRange": "fd00::/64"},
    {"network": "vpc"},
    {"network": "vpc", "ipCidrRange": "10.0.0.0/24",
     "secondaryIpRanges": [{"rangeName": "Pods", "ipCidrRange": "10.1.0.0/16"}]},
    {"network": "vpc", "ipCidrRange": "10.0.0.0/24", "logConfig": {"flowSampling": 2}},
])
def test_invalid_specs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Subnetwork.model.model_validate(raw)


@pytest.mark.parametrize(("new", "in_place"), [("10.0.0.0/22", True), ("10.0.0.0/25", False),
                                               ("10.9.0.0/24", False), ("10.0.2.0/23", False)])
def test_only_expanding_the_primary_range_is_in_place(new: str, in_place: bool) -> None:
    changes = diff({"ipCidrRange": new}, {"ipCidrRange": "10.0.0.0/24"})
    assert (Subnetwork(None).replace_reason(changes) is None) is in_place


def test_a_different_network_replaces() -> None:
    changes = diff({"network": NET}, {"network": NET.replace("vpc", "other")})
    assert "network" in (Subnetwork(None).replace_reason(changes) or "")


def test_operation_errors_are_classified() -> None:
    def op(status: int, code: str = "X") -> dict[str, Any]:
        return {"httpErrorStatusCode": status, "operationType": "insert",
                "error": {"errors": [{"code": code, "message": "boom"}]}}

    assert isinstance(common.operation_error(op(409), what="w"), errors.Conflict)
    assert isinstance(common.operation_error(op(503), what="w"), errors.TransientError)
    assert isinstance(common.operation_error(op(400, "RESOURCE_NOT_READY"), what="w"),
                      errors.TransientError)
    assert isinstance(common.operation_error(op(404), what="w"), errors.PermanentError)
    assert common.operation_error({"status": "DONE"}, what="w") is None


# --- over the wire ------------------------------------------------------------------------

def test_create_waits_and_matches_the_spec(emulator: Emulator, kind: Subnetwork) -> None:
    emulator.set_operation_duration(0.3)
    rid, desired = build("nodes", FULL)
    live = kind.create(rid, desired)
    assert mismatches(desired, kind.normalize(live)) == []
    assert diff(desired, kind.normalize(live)) == []
    assert any("/regions/europe-west1/operations/" in e.path for e in emulator.journal)
    assert kind.list(rid.scope)[rid.name]["gatewayAddress"] == "10.10.0.1"
    assert kind.outputs_of(rid, live) == {"name": "nodes", "selfLink": ROOT + rid.name,
                                          "region": "europe-west1", "id": live["id"]}


def test_a_missing_network_surfaces_as_the_operation_error(kind: Subnetwork) -> None:
    rid, desired = build("s", {"network": "nowhere", "ipCidrRange": "10.0.0.0/24"})
    with pytest.raises(errors.PermanentError, match="networks/nowhere"):
        kind.create(rid, desired)
    assert kind.get(rid) is None


def test_overlap_is_a_permanent_error(kind: Subnetwork) -> None:
    kind.create(*build("a", {"network": "vpc", "ipCidrRange": "10.0.0.0/16"}))
    with pytest.raises(errors.PermanentError, match="400"):
        kind.create(*build("b", {"network": "vpc", "ipCidrRange": "10.0.1.0/24"}))


def test_update_expands_toggles_access_and_patches_ranges_and_logs(kind: Subnetwork) -> None:
    rid, first = build("nodes", {"network": "vpc", "ipCidrRange": "10.10.0.0/22"})
    live = kind.create(rid, first)
    _, desired = build("nodes", FULL)
    changes = diff(desired, kind.normalize(live), first)
    assert kind.replace_reason(changes) is None
    after = kind.update(rid, desired, changes, live)
    assert diff(desired, kind.normalize(after), desired) == []


def test_removed_range_and_flow_logs_are_taken_back(kind: Subnetwork) -> None:
    rid, applied = build("nodes", FULL)
    live = kind.create(rid, applied)
    _, desired = build("nodes", {"network": "vpc", "ipCidrRange": "10.10.0.0/20",
                                 "secondaryIpRanges": FULL["secondaryIpRanges"][:1]})
    changes = diff(desired, kind.normalize(live), applied)
    assert kind.replace_reason(changes) is None
    after = kind.update(rid, desired, changes, live)
    assert [r["rangeName"] for r in after["secondaryIpRanges"]] == ["pods"]
    assert after["logConfig"]["enable"] is False and after["privateIpGoogleAccess"] is False


def test_removing_every_secondary_range_replaces() -> None:
    live = {"secondaryIpRanges": FULL["secondaryIpRanges"], "ipCidrRange": "10.0.0.0/24"}
    changes = diff({"ipCidrRange": "10.0.0.0/24"}, live, live)
    assert Subnetwork(None).replace_reason(changes) == "removing every secondary range"


def test_delete_waits_and_missing_is_not_an_error(kind: Subnetwork) -> None:
    rid, desired = build("s", {"network": "vpc", "ipCidrRange": "10.0.0.0/24"})
    kind.create(rid, desired)
    kind.delete(rid, force=False)
    assert kind.get(rid) is None
    kind.delete(rid, force=False)

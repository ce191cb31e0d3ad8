"""compute.Network: desired shape, identity, and create/update/delete over the real compute
client against the emulator, waiting on every operation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.diff import diff
from mlops_infra.kinds.compute.network import Network
from mlops_infra.kinds.compute.subnetwork import Subnetwork
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, mismatches

ROOT = "https://www.googleapis.com/compute/v1/"


pytestmark = pytest.mark.emulator_services("compute")


@pytest.fixture
def kind(clients: Clients) -> Network:
    return Network(clients)


def build(name: str, raw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    kind = Network(None)
    return kind.identify(ctx(name), fields(Network, raw)), kind.desired(ctx(name),
                                                                        fields(Network, raw))


def test_desired_writes_custom_mode_explicitly_and_expands_routing_mode() -> None:
    _, desired = build("vpc", {"routingMode": "GLOBAL", "mtu": 1500})
    assert desired == {"name": "vpc", "autoCreateSubnetworks": False, "mtu": 1500,
                       "routingConfig": {"routingMode": "GLOBAL"}}


def test_identity_outputs_and_no_labels() -> None:
    kind = Network(None)
    rid = kind.identify(ctx("vpc"), {})
    assert (rid.name, rid.scope) == (f"projects/{PROJECT}/global/networks/vpc",
                                     f"projects/{PROJECT}/global/networks")
    assert kind.id_from_name(rid.name) == rid and kind.id_from_name(rid.name).parts == rid.parts
    assert kind.outputs_of(rid, None) == {
        "name": "vpc", "selfLink": f"{ROOT}projects/{PROJECT}/global/networks/vpc"}
    assert kind.labels_path is None and kind.api == "compute.googleapis.com"


@pytest.mark.parametrize("raw", [{"mtu": 9000}, {"routingMode": "WORLD"}, {"labels": {"a": "b"}},
                                 {"routingMode": "GLOBAL",
                                  "routingConfig": {"routingMode": "GLOBAL"}}])
def test_invalid_specs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Network.model.model_validate(raw)


def test_switching_to_custom_mode_is_in_place_but_back_to_auto_replaces() -> None:
    kind = Network(None)
    live = {"name": "vpc", "autoCreateSubnetworks": True}
    to_custom = diff({"autoCreateSubnetworks": False}, live)
    assert kind.replace_reason(to_custom) is None
    to_auto = diff({"autoCreateSubnetworks": True}, {**live, "autoCreateSubnetworks": False})
    assert "autoCreateSubnetworks" in (kind.replace_reason(to_auto) or "")
    assert kind.replace_reason(diff({"description": "x"}, {"description": "y"}))


def test_create_waits_for_its_operation(emulator: Emulator, kind: Network) -> None:
    emulator.set_operation_duration(0.3)
    rid, desired = build("vpc", {"routingMode": "GLOBAL", "mtu": 1500, "description": "ml"})
    live = kind.create(rid, desired)
    assert mismatches(desired, kind.normalize(live)) == []
    polls = [e for e in emulator.journal if "/global/operations/" in e.path]
    assert polls and all(e.method == "POST" and e.path.endswith("/wait") for e in polls)
    assert len(polls) == 1                  # the blocking wait answered once it was DONE
    assert kind.outputs_of(rid, live)["id"] == live["id"]
    assert kind.list(rid.scope)[rid.name]["mtu"] == 1500


def test_a_second_create_is_a_conflict(kind: Network) -> None:
    rid, desired = build("vpc", {})
    kind.create(rid, desired)
    with pytest.raises(errors.Conflict):
        kind.create(rid, desired)


def test_update_patches_mtu_routing_and_switches_to_custom_mode(kind: Network) -> None:
    rid, _ = build("vpc", {})
    kind.create(rid, {"name": "vpc", "autoCreateSubnetworks": True})
    _, desired = build("vpc", {"mtu": 8896, "routingMode": "GLOBAL"})
    live = kind.get(rid)
    assert live is not None
    changes = diff(desired, kind.normalize(live))
    assert kind.replace_reason(changes) is None
    after = kind.update(rid, desired, changes, live)
    assert mismatches(desired, after) == []
    assert diff(desired, kind.normalize(after)) == []


def test_a_field_removed_from_the_spec_goes_back_to_its_default(kind: Network) -> None:
    rid, applied = build("vpc", {"mtu": 1500, "routingMode": "GLOBAL"})
    live = kind.create(rid, applied)
    _, desired = build("vpc", {})
    changes = diff(desired, kind.normalize(live), applied)
    assert {c.path for c in changes} == {"mtu", "routingConfig.routingMode"}
    after = kind.update(rid, desired, changes, live)
    assert (after["mtu"], after["routingConfig"]["routingMode"]) == (1460, "REGIONAL")


def test_delete_waits_and_missing_is_not_an_error(kind: Network) -> None:
    rid, desired = build("vpc", {})
    kind.create(rid, desired)
    kind.delete(rid, force=False)
    assert kind.get(rid) is None
    kind.delete(rid, force=False)


def test_deleting_a_network_in_use_is_retryable(clients: Clients, kind: Network) -> None:
    rid, desired = build("vpc", {})
    kind.create(rid, desired)
    subnets = Subnetwork(clients)
    sub_fields = fields(Subnetwork, {"network": "vpc", "ipCidrRange": "10.0.0.0/24"})
    sub_rid = subnets.identify(ctx("s"), sub_fields)
    subnets.create(sub_rid, subnets.desired(ctx("s"), sub_fields))
    with pytest.raises(errors.TransientError, match="resourceInUseByAnotherResource|used by"):
        kind.delete(rid, force=False)
    subnets.delete(sub_rid, force=False)
    kind.delete(rid, force=False)
    assert kind.get(rid) is None


def test_listings_are_keyed_by_name_whatever_host_a_self_link_names() -> None:
    from google.cloud import compute_v1

    from mlops_infra.kinds.compute import _common as common

    scope = f"projects/{PROJECT}/global/networks"
    item = compute_v1.Network(name="vpc",
                              self_link=f"http://127.0.0.1:9999/compute/v1/{scope}/vpc")
    listed = common.list_all(lambda **_: [item], scope=scope, what="networks")
    assert list(listed) == [f"{scope}/vpc"]           # an independent fake's own host is fine
